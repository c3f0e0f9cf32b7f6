/* Shared by the corpus loaders (corpus_*.c): each loader walks its layout and adds one
 * entry per audio file; corpus_build() groups, sorts, checks and reads durations. */
#ifndef VEIL_CORPUS_INTERNAL_H
#define VEIL_CORPUS_INTERNAL_H

#include "veil/corpus.h"

typedef struct corpus_entry {
    char *path;    /* the file to open */
    char *speaker;
    char gender;   /* 'F' or 'M' */
    char **labels; /* n_label_names values */
    char *where;   /* where the entry was declared (folder, or file:line), for messages */
} corpus_entry;

typedef struct corpus_builder {
    int n_label_names;
    char **label_names;
    corpus_entry *e;
    size_t n, cap;
} corpus_builder;

void corpus_builder_init(corpus_builder *b, int n_label_names, const char *const *label_names);
void corpus_builder_add(corpus_builder *b, const char *path, const char *speaker, char gender,
                        const char *const *labels, const char *where);
void corpus_builder_free(corpus_builder *b);
/* Turn the entries into a corpus: checks that each speaker has one gender and one set of
 * labels and that no file is listed twice, sorts, reads durations, and refuses a corpus
 * without speakers or without one of the genders. Frees the builder either way. */
int corpus_build(corpus_builder *b, veil_layout layout, const char *root, veil_corpus **out);

/* 'F'/'M' from F, M, female, male in any case; 0 when it is none of these. */
char corpus_parse_gender(const char *s);
/* Speaker ids: numeric ids in numeric order, others by strcmp. */
int corpus_id_cmp(const char *a, const char *b);
/* The classes of n values (each non-empty): *names (malloc'd, *k of them) the distinct
 * values in id order, class_of[i] each value's class. Shared by --task on a corpus and on
 * an audit's labels. */
void corpus_classes_of(const char *const *values, int n, char ***names, int *k, int *class_of);
/* a + "/" + b, malloc'd */
char *corpus_path_join(const char *a, const char *b);
int corpus_has_suffix_ci(const char *s, const char *suffix);
int corpus_all_digits(const char *s);

/* Folder walking (corpus_dirs.c). */
typedef struct corpus_names {
    char **v;
    int n;
} corpus_names;
/* Names in DIR, sorted, without hidden entries (the .veil-cache folder among them). */
int corpus_list_dir(const char *dir, corpus_names *out);
void corpus_names_free(corpus_names *l);
/* Calls fn(ctx, path, name) for each folder in DIR (in name order) until one returns nonzero,
 * and returns that (0 when all succeed, -1 when DIR cannot be read). */
typedef int (*corpus_folder_fn)(void *ctx, const char *path, const char *name);
int corpus_each_folder(const char *dir, corpus_folder_fn fn, void *ctx);
/* Add every audio file of one speaker folder (and its sub-folders down to `depth` more
 * levels); a folder without audio is an error ("empty speaker"). */
int corpus_add_speaker_folder(corpus_builder *b, const char *dir, int depth, const char *id, char gender,
                              const char *const *labels);

/* The loaders (corpus_dirs.c, corpus_tables.c, corpus_manifest.c). */
int corpus_load_timit(const char *root, veil_corpus **out);
/* txt_in_root: SPEAKERS.TXT sits in ROOT (children are subsets or speakers), else in its
 * parent (ROOT is one subset: children are speakers). */
int corpus_load_librispeech(const char *root, const char *speakers_txt, int txt_in_root, veil_corpus **out);
int corpus_load_vctk(const char *root, const char *speaker_info, veil_corpus **out);
int corpus_load_manifest(const char *csv, veil_corpus **out);
/* Layout probes used by veil_corpus_load (corpus_dirs.c). */
int corpus_looks_like_timit(const char *root);
/* Path of a file named NAME (any letter case) directly in DIR, malloc'd; NULL if absent. */
char *corpus_find_file_ci(const char *dir, const char *name);

/* Each record of a CSV file (RFC 4180 as the manifest: quotes, CRLF, BOM, blank lines
 * skipped): fn(ctx, fields, n, line) until it returns nonzero (then -1). Reader errors
 * name PATH:LINE. */
typedef int (*corpus_csv_fn)(void *ctx, const char *const *fields, int n, int line);
int corpus_csv_each(const char *path, corpus_csv_fn fn, void *ctx);

#endif
