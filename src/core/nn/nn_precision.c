/* Precision: fp32, or bf16 compute (bf16 activations and conv/linear weights,
 * fp32 master weights, gradients and optimizer state); auto picks bf16 where the
 * CPU computes it natively. */
#include <cpuid.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "veil/common.h"
#include "veil/nn.h"

int veil_precision_parse(const char *s, veil_precision *out)
{
    static const char *names[3] = {"fp32", "bf16", "auto"};
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (veil_precision)i;
            return 0;
        }
    veil_error("precision '%s': expected fp32, bf16 or auto", s ? s : "(null)");
    return -1;
}

const char *veil_precision_name(veil_precision p)
{
    switch (p) {
    case VEIL_PREC_FP32: return "fp32";
    case VEIL_PREC_BF16: return "bf16";
    case VEIL_PREC_AUTO: return "auto";
    }
    return "?";
}

static unsigned long long xgetbv0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* CPUID: AVX512-BF16 (leaf 7 subleaf 1 EAX bit 5) with the OS saving the AVX-512
 * state (XCR0 bits 1,2,5,6,7), or AMX-BF16 (leaf 7 EDX bit 22) with the tile state
 * (XCR0 bits 17,18). Also honours DNNL_MAX_CPU_ISA: oneDNN's effective ISA must
 * include avx512_core_bf16, so a capped ISA tests the fp32 fallback. */
int veil_cpu_has_bf16(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned long long xcr0 = xgetbv0();
    int avx512_os = (xcr0 & 0xe6) == 0xe6, amx_os = (xcr0 & 0x60000) == 0x60000;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int amx_bf16 = (d >> 22) & 1;
    int max_sub = (int)a;
    int avx512_bf16 = 0;
    if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) avx512_bf16 = (a >> 5) & 1;
    int cpu = (avx512_bf16 && avx512_os) || (amx_bf16 && amx_os && avx512_os);
    if (!cpu) return 0;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

int veil_precision_resolve(veil_precision requested, veil_precision *resolved)
{
    int has = veil_cpu_has_bf16();
    veil_precision p = requested;
    if (requested == VEIL_PREC_AUTO) p = has ? VEIL_PREC_BF16 : VEIL_PREC_FP32;
    if (p == VEIL_PREC_BF16 && !has) {
        veil_error("precision bf16: this CPU (or DNNL_MAX_CPU_ISA) has no native bf16 "
                   "(needs AVX512-BF16 or AMX-BF16); use fp32 or auto");
        return -1;
    }
    if (requested == VEIL_PREC_AUTO && veil_verbosity >= 2)
        veil_log("precision auto -> %s", veil_precision_name(p));
    *resolved = p;
    return 0;
}
