/* veil export: what libveil.so exports. The library is compiled with hidden visibility;
 * each public header puts its declarations between VEIL_API_BEGIN and VEIL_API_END, so
 * exactly the functions and variables of the public headers are exported (and C++ sees
 * them as C). */
#ifndef VEIL_EXPORT_H
#define VEIL_EXPORT_H

#ifdef __cplusplus
#define VEIL_EXTERN_C_BEGIN extern "C" {
#define VEIL_EXTERN_C_END }
#else
#define VEIL_EXTERN_C_BEGIN
#define VEIL_EXTERN_C_END
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VEIL_API_BEGIN _Pragma("GCC visibility push(default)") VEIL_EXTERN_C_BEGIN
#define VEIL_API_END VEIL_EXTERN_C_END _Pragma("GCC visibility pop")
#else
#define VEIL_API_BEGIN VEIL_EXTERN_C_BEGIN
#define VEIL_API_END VEIL_EXTERN_C_END
#endif

#endif
