/* Shared basics: error messages, memory, atomic files, random numbers, progress. */
#include "veil/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------- errors ---------------- */
/* long enough for two PATH_MAX paths and their reason */
static _Thread_local char error_buf[16384];

void veil_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
}

void veil_error_prefix(const char *fmt, ...)
{
    char prefix[8192], old[sizeof error_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_buf, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof error_buf - 3) n = sizeof error_buf - 3;
    memcpy(error_buf, prefix, n);
    memcpy(error_buf + n, ": ", 2);
    size_t rest = sizeof error_buf - n - 3;
    size_t m = strlen(old);
    if (m > rest) m = rest;
    memcpy(error_buf + n + 2, old, m);
    error_buf[n + 2 + m] = 0;
}

const char *veil_last_error(void) { return error_buf[0] ? error_buf : "unknown error"; }
void veil_error_clear(void) { error_buf[0] = 0; }

/* ---------------- memory ---------------- */
static void out_of_memory(size_t n)
{
    fprintf(stderr, "veil: out of memory (asked for %zu bytes)\n", n);
    abort();
}

void *veil_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *veil_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *veil_realloc(void *q, size_t n)
{
    void *p = realloc(q, n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

char *veil_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = veil_malloc(n);
    memcpy(p, s, n);
    return p;
}

void *veil_aligned_alloc(size_t n)
{
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) out_of_memory(n);
    return p;
}

/* ---------------- files ---------------- */
/* What a path names after following symbolic links (at most 40, like the kernel): the
 * file an output to PATH must end up in. A dangling link names the file it would create. */
static char *resolve_links(const char *path)
{
    char *p = veil_strdup(path);
    for (int hops = 0; hops < 40; hops++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        size_t cap = (size_t)(st.st_size > 0 ? st.st_size : 255) + 1;
        char *target = veil_malloc(cap + 1);
        ssize_t n = readlink(p, target, cap);
        if (n < 0 || (size_t)n > cap) {
            free(target);
            return p;
        }
        target[n] = 0;
        char *next;
        const char *slash = strrchr(p, '/');
        if (target[0] == '/' || !slash) next = target;
        else {
            size_t dir = (size_t)(slash - p) + 1;
            next = veil_malloc(dir + (size_t)n + 1);
            memcpy(next, p, dir);
            memcpy(next + dir, target, (size_t)n + 1);
            free(target);
        }
        free(p);
        p = next;
    }
    return p;
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

static int finish_stream(const char *path, FILE *f, int rc, int do_sync)
{
    if (rc == 0 && fflush(f) != 0) {
        veil_error("%s: write failed: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && do_sync && fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
        veil_error("%s: fsync failed: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* fn's output into f, flushed (and synced), and f closed: 0, or -1 with the message. */
static int write_and_close(const char *path, FILE *f, veil_write_fn fn, void *ctx, int do_sync)
{
    int rc = finish_stream(path, f, fn(f, ctx), do_sync);
    if (fclose(f) != 0 && rc == 0) {
        veil_error("%s: close failed: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* One output written as far as it can be before the rename: to its temporary name (*tmp,
 * *real set; renamed by commit), or, for "-", a device or a FIFO, through (nothing to
 * rename: *tmp NULL). */
static int stage(const char *path, veil_write_fn fn, void *ctx, char **tmp, char **real_out)
{
    *tmp = *real_out = NULL;
    if (!path || !*path) {
        veil_error("output path is empty");
        return -1;
    }
    if (!strcmp(path, "-")) return finish_stream("standard output", stdout, fn(stdout, ctx), 0);
    char *real = resolve_links(path);
    struct stat st;
    if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            veil_error("%s: is a directory; give a file name", path);
            free(real);
            return -1;
        }
        /* a device or FIFO the user named: write through it, never replace it */
        int fd = open(real, O_WRONLY | O_CLOEXEC);
        FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f) {
            veil_error("%s: cannot open %s for writing: %s", path, file_kind(st.st_mode), strerror(errno));
            if (fd >= 0) close(fd);
            free(real);
            return -1;
        }
        int rc = write_and_close(path, f, fn, ctx, 0);
        free(real);
        return rc;
    }
    size_t n = strlen(real) + sizeof VEIL_TMP_MARK + 24;
    char *t = veil_malloc(n);
    snprintf(t, n, "%s" VEIL_TMP_MARK "%ld", real, (long)getpid());
    FILE *f = fopen(t, "wb");
    if (!f) {
        veil_error("%s: cannot create: %s", path, strerror(errno));
        free(t);
        free(real);
        return -1;
    }
    if (write_and_close(path, f, fn, ctx, 1) != 0) {
        unlink(t);
        free(t);
        free(real);
        return -1;
    }
    *tmp = t;
    *real_out = real;
    return 0;
}

int veil_write_atomic(const char *path, veil_write_fn fn, void *ctx)
{
    veil_write_item one = {path, fn, ctx};
    return veil_write_atomic_set(&one, 1);
}

int veil_write_atomic_set(const veil_write_item *items, int n)
{
    char **tmp = veil_calloc((size_t)n, sizeof *tmp), **real = veil_calloc((size_t)n, sizeof *real);
    int rc = 0, i;
    for (i = 0; i < n && rc == 0; i++) rc = stage(items[i].path, items[i].fn, items[i].ctx, &tmp[i], &real[i]);
    /* every file is complete on disk before the first rename: a full disk or a failing
     * writer leaves none of the set, and the files of an earlier run stay whole */
    for (i = 0; i < n && rc == 0; i++)
        if (tmp[i] && rename(tmp[i], real[i]) != 0) {
            veil_error("%s: cannot rename from temporary file: %s", items[i].path, strerror(errno));
            rc = -1;
        } else if (tmp[i]) {
            free(tmp[i]);
            tmp[i] = NULL;
        }
    for (i = 0; i < n; i++) {
        if (tmp[i]) unlink(tmp[i]);
        free(tmp[i]);
        free(real[i]);
    }
    free(tmp);
    free(real);
    return rc;
}

int veil_is_stale_temporary(const char *name)
{
    const char *m = strstr(name, VEIL_TMP_MARK);
    if (!m || m == name) return 0;
    const char *digits = m + strlen(VEIL_TMP_MARK);
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9) return 0;
    long pid = strtol(digits, NULL, 10);
    if (pid <= 0 || pid == (long)getpid()) return 0;
    /* alive (or another user's): kept; only the temporary of a process that is gone */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void veil_remove_stale_temporaries(const char *dir, const char *who)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!veil_is_stale_temporary(e->d_name)) continue;
        veil_strbuf p = {0};
        veil_strbuf_printf(&p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p.s, &st) == 0 && S_ISREG(st.st_mode) && unlink(p.s) == 0 && veil_verbosity >= 2 && who)
            fprintf(stderr, "%s: removed %s, left by a run that was killed\n", who, p.s);
        free(p.s);
    }
    closedir(d);
}

int veil_output_check(const char *path)
{
    if (!path || !*path) {
        veil_error("output path is empty");
        return -1;
    }
    if (!strcmp(path, "-")) return 0;
    char *real = resolve_links(path);
    struct stat st;
    int rc = 0;
    if (stat(real, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            veil_error("%s: is a directory; give a file name", path);
            rc = -1;
        } else if (access(real, W_OK) != 0) {
            veil_error("%s: not writable: %s", path, strerror(errno));
            rc = -1;
        }
    } else {
        char *slash = strrchr(real, '/');
        const char *dir = ".";
        if (slash == real) dir = "/";
        else if (slash) {
            *slash = 0;
            dir = real;
        }
        if (!veil_is_dir(dir)) {
            veil_error("%s: cannot create: directory %s does not exist", path, dir);
            rc = -1;
        } else if (access(dir, W_OK | X_OK) != 0) {
            veil_error("%s: cannot create in %s: %s", path, dir, strerror(errno));
            rc = -1;
        }
    }
    free(real);
    return rc;
}

int veil_output_dir_check(const char *dir)
{
    if (!dir || !*dir) {
        veil_error("output directory is empty");
        return -1;
    }
    /* room for the longest name veil writes inside, with its temporary suffix */
    if (strlen(dir) + 64 > 4095) {
        veil_error("%.80s...: output directory path too long (%zu bytes)", dir, strlen(dir));
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) && stat(dir, &st) != 0) {
        char *to = resolve_links(dir);
        veil_error("%s: a symbolic link to %s, which does not exist (%s)", dir, to, strerror(errno));
        free(to);
        return -1;
    }
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            veil_error("%s: exists and is not a directory", dir);
            return -1;
        }
        if (access(dir, W_OK | X_OK) != 0) {
            veil_error("%s: not writable: %s", dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        veil_error("%s: %s", dir, strerror(errno)); /* ENAMETOOLONG, ELOOP, EACCES, ENOTDIR */
        return -1;
    }
    /* it will be created: its nearest existing ancestor must be a writable directory */
    char *p = veil_strdup(dir);
    int rc = 0;
    for (;;) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') p[--n] = 0;
        char *slash = strrchr(p, '/');
        if (!slash) strcpy(p, ".");
        else if (slash == p) p[1] = 0;
        else *slash = 0;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                veil_error("%s: cannot create: %s is not a directory", dir, p);
                rc = -1;
            } else if (access(p, W_OK | X_OK) != 0) {
                veil_error("%s: cannot create in %s: %s", dir, p, strerror(errno));
                rc = -1;
            }
            break;
        }
        if (errno != ENOENT) {
            veil_error("%s: cannot create: %s: %s", dir, p, strerror(errno));
            rc = -1;
            break;
        }
        if (!strcmp(p, ".") || !strcmp(p, "/")) break;
    }
    free(p);
    return rc;
}

int veil_file_id_of(const char *path, veil_file_id *id)
{
    memset(id, 0, sizeof *id);
    if (!path || !*path || !strcmp(path, "-")) return -1;
    char *real = resolve_links(path);
    struct stat st;
    int rc = 0;
    if (stat(real, &st) == 0) {
        id->dev = (uint64_t)st.st_dev;
        id->ino = (uint64_t)st.st_ino;
        id->regular = S_ISREG(st.st_mode);
    } else {
        /* not there yet: the folder it would be created in, and its name there */
        char *slash = strrchr(real, '/');
        const char *dir = slash == real ? "/" : slash ? real : ".", *base = slash ? slash + 1 : real;
        if (slash && slash != real) *slash = 0;
        if (stat(dir, &st) != 0 || strlen(base) >= sizeof id->name) rc = -1;
        else {
            id->dev = (uint64_t)st.st_dev;
            id->ino = (uint64_t)st.st_ino;
            id->regular = 1;
            memcpy(id->name, base, strlen(base) + 1);
        }
    }
    free(real);
    return rc;
}

int veil_file_id_cmp(const veil_file_id *a, const veil_file_id *b)
{
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->ino != b->ino) return a->ino < b->ino ? -1 : 1;
    return strcmp(a->name, b->name);
}

FILE *veil_open_input(const char *path)
{
    if (!path || !*path) {
        veil_error("input path is empty");
        return NULL;
    }
    if (!strcmp(path, "-")) return stdin;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        veil_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        veil_error("%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) veil_error("%s: is a directory, not a file", path);
        else veil_error("%s: %s, not a regular file; veil reads data only from regular files (or - for standard input)",
                        path, file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        veil_error("%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

void veil_close_input(FILE *f)
{
    if (f && f != stdin) fclose(f);
}

int veil_read_file(const char *path, char **data, size_t *size)
{
    FILE *f = veil_open_input(path);
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = veil_malloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        cap *= 2;
        buf = veil_realloc(buf, cap + 1);
    }
    int err = ferror(f);
    veil_close_input(f);
    if (err) {
        free(buf);
        veil_error("%s: read error: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = 0;
    *data = buf;
    if (size) *size = n;
    return 0;
}

int veil_read_text_file(const char *path, char **data, size_t *size)
{
    size_t n;
    if (veil_read_file(path, data, &n) != 0) return -1;
    const char *nul = memchr(*data, 0, n);
    if (nul) {
        size_t line = 1;
        for (const char *p = *data; p < nul; p++) line += *p == '\n';
        veil_error("%s:%zu: a NUL byte at offset %zu: not a text file", path, line, (size_t)(nul - *data));
        free(*data);
        *data = NULL;
        return -1;
    }
    if (size) *size = n;
    return 0;
}

int veil_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        veil_error("%s: bad directory path", path);
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                veil_error("%s: cannot create directory: %s", buf, strerror(errno));
                return -1;
            }
            buf[i] = c;
        }
    }
    if (!veil_is_dir(path)) {
        veil_error("%s: exists and is not a directory", path);
        return -1;
    }
    return 0;
}

int veil_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int veil_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------- growing strings ---------------- */
void veil_strbuf_printf(veil_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = (b->len + (size_t)need + 1) * 2;
        b->s = veil_realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

/* ---------------- random numbers ---------------- */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void veil_rng_seed(veil_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t veil_rng_u64(veil_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double veil_rng_uniform(veil_rng *r) { return (double)(veil_rng_u64(r) >> 11) * 0x1.0p-53; }

double veil_rng_normal(veil_rng *r)
{
    /* Box-Muller; one value per call keeps the stream simple to reason about. */
    double u1 = veil_rng_uniform(r), u2 = veil_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t veil_rng_below(veil_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    /* rejection sampling removes modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = veil_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void veil_rng_shuffle_int(veil_rng *r, int *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)veil_rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

uint64_t veil_seed_mix(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed ^ (a * 0xd1b54a32d192ed03ULL);
    uint64_t h = splitmix64(&x);
    x = h ^ (b * 0x8cb92ba72f3d8dd7ULL);
    return splitmix64(&x);
}

/* ---------------- time and progress ---------------- */
double veil_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int veil_verbosity = 1;

void veil_log(const char *fmt, ...)
{
    if (veil_verbosity < 1) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void veil_format_duration(double s, char *buf, size_t n)
{
    if (s < 0 || !isfinite(s)) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void veil_progress_begin(veil_progress *p, const char *label, long total)
{
    p->label = label;
    p->start = veil_now();
    p->last_draw = 0;
    p->total = total;
    p->unit = "steps"; /* the trainers count batches; other callers name their unit */
    p->tty = isatty(fileno(stderr)) && veil_verbosity >= 1;
}

void veil_progress_update(veil_progress *p, long done, const char *extra)
{
    if (!p->tty) return;
    double now = veil_now();
    if (now - p->last_draw < 0.2 && done < p->total) return;
    p->last_draw = now;
    double el = now - p->start;
    double rate = el > 0 ? done / el : 0;
    char left[32];
    veil_format_duration(rate > 0 && p->total > 0 ? (p->total - done) / rate : -1, left, sizeof left);
    fprintf(stderr, "\r\033[K%s %ld/%ld%s%s  %.1f/s  left %s  %s", p->label, done, p->total,
            p->unit ? " " : "", p->unit ? p->unit : "", rate, left,
            extra ? extra : "");
    fflush(stderr);
}

void veil_progress_end(veil_progress *p, const char *summary)
{
    char el[32];
    veil_format_duration(veil_now() - p->start, el, sizeof el);
    if (p->tty) fprintf(stderr, "\r\033[K");
    if (veil_verbosity >= 1) fprintf(stderr, "%s: %s (%s)\n", p->label, summary ? summary : "done", el);
}

/* ---------------- threads ---------------- */
static int thread_count = 0;

int veil_threads(void)
{
    if (thread_count > 0) return thread_count;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void veil_set_threads(int n)
{
    thread_count = n > 0 ? n : 0;
    omp_set_num_threads(veil_threads());
}
