/* veil extract: privacy-preserving features of audio files: the model's MFCC patches of
 * each file, through its extractor in evaluation mode, into one P x dim .npy with an
 * index (row -> file, patch) beside it, or one .npy per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/model/extract_index.h"
#include "veil/common.h"
#include "veil/mfcc.h"
#include "veil/model.h"
#include "veil/npy.h"

typedef struct {
    const cli_files *files;
    const size_t *first_row, *n_rows; /* per file */
    const veil_mfcc_config *mc;
    const veil_index_labels *labels;  /* --corpus: per file; NULL: none */
} index_ctx;

static int write_index(FILE *f, void *p)
{
    const index_ctx *x = p;
    double hop_s = (double)x->mc->patch_frames * x->mc->hop_length / x->mc->sample_rate;
    return veil_extract_index_write_labelled(f, (const char *const *)x->files->path, x->first_row, x->n_rows,
                                             x->files->n, hop_s, x->labels);
}

/* Length of the folder part all paths share ("a/b/" of a/b/x.wav and a/b/c/y.wav). */
static size_t common_folder(const cli_files *l)
{
    size_t n = 0;
    const char *first = l->path[0], *slash = strrchr(first, '/');
    if (slash) n = (size_t)(slash - first) + 1;
    for (size_t i = 1; i < l->n; i++) {
        size_t k = 0;
        while (k < n && l->path[i][k] == first[k]) k++;
        while (k > 0 && first[k - 1] != '/') k--;
        n = k;
    }
    return n;
}

/* DIR/NAME.npy for a file: NAME is its path after the folder all inputs share, without
 * the extension, '/' made '_' (corpus/TRAIN/DR1/FAKS0/SA1.WAV among others of TRAIN/ ->
 * DR1_FAKS0_SA1.npy); "-" is "stdin". */
static char *per_file_path(const char *dir, const char *file, size_t skip)
{
    const char *rel = !strcmp(file, "-") ? "stdin" : strlen(file) > skip ? file + skip : file;
    const char *base = strrchr(rel, '/'), *dot = strrchr(rel, '.');
    size_t n = dot && dot > (base ? base + 1 : rel) ? (size_t)(dot - rel) : strlen(rel);
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%s/", dir);
    size_t start = b.len;
    veil_strbuf_printf(&b, "%.*s.npy", (int)n, rel);
    for (size_t i = start; i < b.len; i++)
        if (b.s[i] == '/') b.s[i] = '_';
    return b.s;
}

typedef struct extract_args {
    const char *model, *out, *index, *per_file, *corpus;
    cli_audio_args audio; /* the rows extract shares with classify */
} extract_args;

static const cli_option extract_rows[] = {
    CLI_TEXT_ROW("--model", "FILE", extract_args, model, "the trained model (veil train, veil experiment)"),
#ifdef VEIL_HAVE_TRAINING
    CLI_TEXT_ROW("--corpus", "DIR", extract_args, corpus,
                 "every file of a corpus instead (any layout veil corpus info reads),\n"
                 "in corpus order; the index then also has speaker, gender, utterance\n"
                 "and the corpus's labels: veil audit --labels reads it as is"),
#endif
    {"--out", "-o", CLI_TEXT, "OUT.npy", offsetof(extract_args, out), 0, 0, NULL,
     "all patches in one array; - writes it to standard output"},
    CLI_TEXT_ROW("--index", "FILE", extract_args, index,
                 "where the index goes (default OUT.index.csv: OUT without .npy);\n"
                 "columns row,file,patch,start_seconds: row of the array, the file,\n"
                 "the patch's number within the file and its start in seconds"),
    CLI_TEXT_ROW("--per-file", "DIR", extract_args, per_file,
                 "instead: DIR/NAME.npy per file (NAME: the file's path after the\n"
                 "folder all inputs share, without extension, / made _; e.g.\n"
                 "DR1_FAKS0_SA1.npy; two files of one NAME are refused)"),
};

static const char extract_synopsis[] =
    "usage: veil extract --model MODEL.safetensors [AUDIO...] [--list FILE] -o OUT.npy [options]\n"
    "       veil extract --model MODEL.safetensors [AUDIO...] [--list FILE] --per-file DIR [options]\n\n"
    "Features z of every whole patch of every file, in the order given (P x dim float32).\n"
    "Audio is resampled to the model's rate; the MFCC settings come from the model.\n\n";

int cmd_extract(int argc, char **argv)
{
    extract_args e = {.audio = CLI_AUDIO_DEFAULTS};
    cli_table tables[] = {CLI_TABLE(extract_rows, &e), CLI_TABLE_N(cli_audio_rows, cli_audio_n_rows, &e.audio)};
    cli_command cmd = {"extract", extract_synopsis, NULL, tables, 2, 0};
    int parsed = cli_audio_parse(&cmd, argc, argv, &e.audio);
    if (parsed != CLI_PARSED) return parsed;
    cli_files files = e.audio.files; /* this function's from here on */
    const char *model_path = e.model, *out = e.out, *prec_s = e.audio.precision, *index_arg = e.index;
    const char *per_file = e.per_file, *corpus_dir = e.corpus;
    veil_index_labels labels = {0, NULL, NULL};
    long threads = e.audio.threads, batch = e.audio.batch;
    int strict = e.audio.strict, rc = 1;
    const char *const *lists = e.audio.lists;
    size_t n_lists = e.audio.n_lists;
    const char *missing = !model_path            ? "--model MODEL is required"
                          : !out && !per_file    ? "-o OUT.npy (or --per-file DIR) is required"
                          : out && per_file      ? "-o and --per-file exclude each other"
                          : corpus_dir && files.n ? "--corpus and audio files exclude each other"
                          : corpus_dir && per_file ? "--corpus goes with -o (its index carries the labels)"
                          : !files.n && !corpus_dir ? "no audio files given"
                          : index_arg && per_file ? "--index goes with -o, not --per-file"
                                                 : NULL;
    if (missing) {
        cli_files_free(&files);
        return cli_command_error(&cmd, "%s", missing);
    }
#ifdef VEIL_HAVE_TRAINING
    if (corpus_dir) {
        veil_corpus *c;
        if (veil_corpus_load(corpus_dir, &c)) {
            cli_files_free(&files);
            return cli_fail();
        }
        for (int u = 0; u < c->n_utts; u++) cli_files_add(&files, c->utts[u].path);
        cli_corpus_index_labels(c, &labels);
        veil_corpus_free(c);
    }
#endif
    size_t stdin_uses = 0;
    for (size_t i = 0; i < files.n; i++) stdin_uses += !strcmp(files.path[i], "-");
    if (stdin_uses > 1) {
        cli_files_free(&files);
        return cli_command_error(&cmd, "%s", "- (audio on standard input) can be given once");
    }
    /* outputs that cannot be written are refused before any work */
    if ((out && veil_output_check(out)) || (index_arg && veil_output_check(index_arg))) {
        cli_files_free(&files);
        return cli_fail();
    }
    char **outs = NULL; /* --per-file: each file's output, checked for clashes first */
    char *index_path = NULL;
    if (per_file) {
        outs = veil_calloc(files.n, sizeof *outs);
        size_t skip = common_folder(&files);
        for (size_t i = 0; i < files.n; i++) {
            outs[i] = per_file_path(per_file, files.path[i], skip);
            for (size_t j = 0; j < i; j++)
                if (!strcmp(outs[i], outs[j])) {
                    veil_error("--per-file: %s and %s would both be written to %s", files.path[j],
                               files.path[i], outs[i]);
                    goto early_fail;
                }
        }
    } else {
        index_path = index_arg ? veil_strdup(index_arg) : strcmp(out, "-") ? cli_default_index_path(out) : NULL;
    }
    {
        /* no output may be an input, the model, a list or another output: `-o X.wav` once
         * replaced the audio it was reading, `--index` equal to -o one of the two files */
        size_t n_io = 0;
        cli_io *io = veil_malloc((2 * files.n + n_lists + 3) * sizeof *io);
        io[n_io++] = (cli_io){model_path, "model (--model)", 0};
        for (size_t i = 0; i < n_lists; i++) io[n_io++] = (cli_io){lists[i], "file list (--list)", 0};
        for (size_t i = 0; i < files.n; i++) io[n_io++] = (cli_io){files.path[i], "audio file", 0};
        if (out) io[n_io++] = (cli_io){out, "-o", 1};
        if (index_path) io[n_io++] = (cli_io){index_path, index_arg ? "--index" : "the index", 1};
        for (size_t i = 0; per_file && i < files.n; i++) io[n_io++] = (cli_io){outs[i], "--per-file output", 1};
        int clash = cli_check_outputs(io, n_io);
        free(io);
        if (clash) goto early_fail;
    }
    if (per_file && veil_mkdirs(per_file)) goto early_fail;
    veil_precision prec;
    if (veil_precision_parse(prec_s, &prec)) goto early_fail;
    veil_set_threads((int)threads);
    veil_model *m = NULL;
    if (cli_model_load(model_path, prec, (int)batch, &m)) goto early_fail;

    const veil_mfcc_config *mc = &m->mfcc;
    const veil_extractor_config *ac = veil_extractor_config_of(m->f);
    size_t dim = (size_t)veil_extractor_dim(m->f), total = 0, skipped = 0;
    size_t *first_row = veil_calloc(files.n, sizeof(size_t)), *n_rows = veil_calloc(files.n, sizeof(size_t));
    float *all = NULL;
    veil_mfcc *mf = NULL;
    if (ac->in_h != mc->patch_frames || ac->in_w != mc->n_mfcc) {
        veil_error("%s: extractor input %dx%d does not match its MFCC patches %dx%d", model_path,
                   ac->in_h, ac->in_w, mc->patch_frames, mc->n_mfcc);
        goto done;
    }
    mf = veil_mfcc_new(mc);
    if (!mf) goto done;
    for (size_t i = 0; i < files.n; i++) {
        float *z;
        size_t np;
        double seconds;
        if (cli_file_features(m, mf, files.path[i], (int)batch, &z, &np, &seconds)) goto done;
        if (np == 0) {
            if (strict) {
                veil_error("%s: audio of %.3f s is shorter than one patch (%d frames, %.3f s)",
                           files.path[i], seconds, mc->patch_frames, cli_patch_seconds(mc));
                goto done;
            }
            if (veil_verbosity >= 1)
                fprintf(stderr, "veil extract: warning: %s: skipped: audio of %.3f s is shorter than one patch (%.3f s)\n",
                        files.path[i], seconds, cli_patch_seconds(mc));
            skipped++;
            continue;
        }
        if (per_file) {
            size_t shape[2] = {np, dim};
            int w = veil_npy_write_f32(outs[i], z, 2, shape);
            free(z);
            if (w) goto done;
        } else {
            all = veil_realloc(all, (total + np) * dim * sizeof(float));
            memcpy(all + total * dim, z, np * dim * sizeof(float));
            free(z);
        }
        first_row[i] = total;
        n_rows[i] = np;
        total += np;
    }
    if (total == 0) {
        veil_error("no file gave a whole patch (%.3f s of audio each is needed)", cli_patch_seconds(mc));
        goto done;
    }
    if (!per_file) {
        size_t shape[2] = {total, dim};
        index_ctx ix = {&files, first_row, n_rows, mc, labels.n_cols ? &labels : NULL};
        veil_npy_array arr = {out, all, 2, shape};
        /* both or neither (a failed array must not leave a new index beside an old array),
         * the index renamed first: a reader that finds OUT finds its index */
        veil_write_item set[2] = {{index_path, write_index, &ix}, {out, veil_npy_write_fn, &arr}};
        if (index_path ? veil_write_atomic_set(set, 2) : veil_write_atomic_set(set + 1, 1)) goto done;
    }
    if (veil_verbosity >= 1) {
        fprintf(stderr, "veil extract: %zu patch%s x %zu features from %zu file%s", total, total == 1 ? "" : "es", dim,
                files.n - skipped, files.n - skipped == 1 ? "" : "s");
        if (skipped) fprintf(stderr, " (%zu skipped: shorter than one patch)", skipped);
        if (per_file) fprintf(stderr, " -> %s/\n", per_file);
        else fprintf(stderr, " -> %s%s%s\n", strcmp(out, "-") ? out : "standard output",
                     index_path ? ", index " : "", index_path ? index_path : "");
    }
    rc = 0;
done:
    veil_mfcc_free(mf);
    free(all);
    free(first_row);
    free(n_rows);
    veil_model_free(m);
early_fail:
    veil_index_labels_free(&labels, files.n);
    free(index_path);
    if (outs)
        for (size_t i = 0; i < files.n; i++) free(outs[i]);
    free(outs);
    cli_files_free(&files);
    return rc ? cli_fail() : 0;
}
