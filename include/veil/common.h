/* veil: shared basics used by every module (errors, files, random numbers, progress).
 *
 * Errors: functions that can fail return 0 (or a valid pointer) on success and
 * -1 (or NULL) on failure, after calling veil_error() with a message that names
 * the file or object and the problem. The message is thread-local.            */
#ifndef VEIL_COMMON_H
#define VEIL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "veil/export.h"

VEIL_API_BEGIN

#ifndef VEIL_VERSION
#define VEIL_VERSION "0.1.0"
#endif

/* ---- errors ---- */
void veil_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the current error message, e.g. veil_error_prefix("%s", path). */
void veil_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *veil_last_error(void);
void veil_error_clear(void);

/* ---- memory: abort with a message when the machine is out of memory ---- */
void *veil_malloc(size_t n);
void *veil_calloc(size_t count, size_t size);
void *veil_realloc(void *p, size_t n);
char *veil_strdup(const char *s);
/* 64-byte aligned, for SIMD and oneDNN buffers; free with free(). */
void *veil_aligned_alloc(size_t n);

/* ---- files ---- */
/* Write an output file. The callback writes to f and returns 0 on success.
 * - "-": standard output (not closed).
 * - a symbolic link: its target is written (the link stays).
 * - an existing directory: refused. An existing device or FIFO: written through (opened
 *   for writing, never replaced, never renamed over).
 * - otherwise (a regular file or a new name): written to PATH.veil-tmp.PID beside it,
 *   fsynced and renamed over PATH, so a failure never leaves a half-written file. */
typedef int (*veil_write_fn)(FILE *f, void *ctx);
int veil_write_atomic(const char *path, veil_write_fn fn, void *ctx);
/* A set of outputs, all or nothing: every file is written to its temporary name first,
 * and renamed only when all are, so a failure (a full disk) leaves none of them. */
typedef struct veil_write_item {
    const char *path;
    veil_write_fn fn;
    void *ctx;
} veil_write_item;
int veil_write_atomic_set(const veil_write_item *items, int n);
/* What marks veil's temporaries: NAME.veil-tmp.PID. */
#define VEIL_TMP_MARK ".veil-tmp."
/* 1 when name (a file name, no folder) is a temporary of veil_write_atomic whose process
 * is gone (a run that was killed): never a user's file, never a live run's. */
int veil_is_stale_temporary(const char *name);
/* Remove such files from dir (not below); with who, -v names each one on stderr. */
void veil_remove_stale_temporaries(const char *dir, const char *who);
/* Check an output path before long work: not empty, not a directory, writable or
 * creatable in an existing directory. "-" (standard output) passes. */
int veil_output_check(const char *path);
/* The same for an output directory (created later): not empty, not too long, not a
 * dangling link, a writable directory or creatable under one. */
int veil_output_dir_check(const char *dir);
/* Which file a path names, links followed: device and inode, or for a name not there yet
 * its folder's device and inode and the name; so two spellings of one file compare equal
 * (an output must not be an input). -1 for "-" or a path in no existing folder. */
typedef struct veil_file_id {
    uint64_t dev, ino;
    char name[256];  /* "" for an existing file */
    int regular;     /* a regular file or a new name (not a device or FIFO written through) */
} veil_file_id;
int veil_file_id_of(const char *path, veil_file_id *id);
int veil_file_id_cmp(const veil_file_id *a, const veil_file_id *b); /* 0: the same file */
/* Open a file to read as data: only a regular file, or "-" for standard input. A
 * directory, FIFO, device or socket is refused without blocking. Close with
 * veil_close_input (which leaves stdin open). */
FILE *veil_open_input(const char *path);
void veil_close_input(FILE *f);
/* Read a whole file into memory (NUL-terminated); the file as veil_open_input takes it. */
int veil_read_file(const char *path, char **data, size_t *size);
/* The same for a text file (a manifest, a speaker table): a NUL byte is refused with its
 * line and offset, so the text cannot end early where C strings would. */
int veil_read_text_file(const char *path, char **data, size_t *size);
/* mkdir -p */
int veil_mkdirs(const char *path);
int veil_path_exists(const char *path);
int veil_is_dir(const char *path);

/* ---- a growing string: start from {0}, append with veil_strbuf_printf, free(s) ---- */
typedef struct veil_strbuf {
    char *s; /* NULL until something is appended */
    size_t len, cap;
} veil_strbuf;
void veil_strbuf_printf(veil_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- random numbers: xoshiro256** seeded by splitmix64; same seed, same stream ---- */
typedef struct veil_rng {
    uint64_t s[4];
} veil_rng;
void veil_rng_seed(veil_rng *r, uint64_t seed);
uint64_t veil_rng_u64(veil_rng *r);
double veil_rng_uniform(veil_rng *r);           /* [0, 1) */
double veil_rng_normal(veil_rng *r);            /* N(0, 1) */
uint64_t veil_rng_below(veil_rng *r, uint64_t n); /* uniform in [0, n) */
void veil_rng_shuffle_int(veil_rng *r, int *a, size_t n);
/* Derive an independent seed from a base seed and a tag/index (for jobs, iterations). */
uint64_t veil_seed_mix(uint64_t seed, uint64_t a, uint64_t b);

/* ---- time and progress ---- */
double veil_now(void); /* monotonic seconds */
/* Progress lines: on a terminal, one line rewritten in place with rate and time
 * left; in a log (not a tty), nothing until veil_progress_end prints one line. */
typedef struct veil_progress {
    const char *label;
    double start, last_draw;
    long total;
    int tty;
    const char *unit; /* what the counter counts: "steps" (batches) unless set after begin */
} veil_progress;
void veil_progress_begin(veil_progress *p, const char *label, long total);
/* done: units finished so far; extra: free text (e.g. "loss 0.123 acc 91.0%") */
void veil_progress_update(veil_progress *p, long done, const char *extra);
void veil_progress_end(veil_progress *p, const char *summary);
/* "42s", "3m05s", "2h10m"; "?" for a negative or non-finite time. */
void veil_format_duration(double seconds, char *buf, size_t n);
/* Global verbosity: 0 quiet, 1 normal (default), 2 verbose. */
extern int veil_verbosity;
void veil_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- threads ---- */
/* Number of worker threads veil uses (default: online CPUs); oneDNN follows it. */
int veil_threads(void);
void veil_set_threads(int n);

VEIL_API_END

#endif
