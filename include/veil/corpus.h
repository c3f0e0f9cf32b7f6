/* veil corpus: one index of speakers and utterances, filled by a loader for the
 * TIMIT layout, LibriSpeech, VCTK or a manifest CSV; and the synthetic corpus. */
#ifndef VEIL_CORPUS_H
#define VEIL_CORPUS_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    VEIL_LAYOUT_TIMIT = 0,
    VEIL_LAYOUT_LIBRISPEECH = 1,
    VEIL_LAYOUT_VCTK = 2,
    VEIL_LAYOUT_MANIFEST = 3
} veil_layout;
const char *veil_layout_name(veil_layout l);

typedef struct veil_utterance {
    char *path;     /* absolute or relative to the working directory */
    int speaker;    /* index into corpus->speakers */
    double seconds; /* duration from the file header (0 if unknown) */
} veil_utterance;

typedef struct veil_speaker {
    char *id;        /* e.g. "FAKS0" (TIMIT), "103" (LibriSpeech), "p225" (VCTK) */
    char gender;     /* 'F' or 'M' */
    char **labels;   /* n_label_names values (e.g. dialect region, subset); "" if absent */
    int first_utt;   /* utterances of this speaker: utts[first_utt .. first_utt+n_utts) */
    int n_utts;
    double seconds;  /* total duration */
} veil_speaker;

typedef struct veil_corpus {
    veil_layout layout;
    char *root;             /* the directory or manifest path given */
    int n_label_names;
    char **label_names;     /* e.g. {"dialect", "subset"} for TIMIT */
    int n_speakers;
    veil_speaker *speakers; /* sorted by id */
    int n_utts;
    veil_utterance *utts;   /* grouped by speaker, sorted by path within a speaker */
} veil_corpus;

/* Recognise the layout of PATH (a directory, or a .csv manifest) and load its index.
 * Reads file headers (libsndfile) for durations. Errors name what and where: no
 * speakers found, a speaker without gender, a gender with no speakers, unreadable files. */
int veil_corpus_load(const char *path, veil_corpus **out);
void veil_corpus_free(veil_corpus *c);
int veil_corpus_count_gender(const veil_corpus *c, char gender);
/* The classes of a task (the label a service recognises, `--task`) per speaker: "gender"
 * (classes F and M, in that order) or any label name of the corpus ("dialect", "accent", a
 * manifest column), its classes the label's values in id order (DR1 < DR2 < DR10).
 * Refuses (message naming the corpus, the task and what is wrong) an unknown task (the
 * message lists the corpus's labels), a speaker without a value, fewer than 2 classes. */
typedef struct veil_task_classes {
    char name[32];      /* the task: "gender", "accent", ... */
    int k;              /* classes */
    char **names;       /* k class names ("F", "M" for gender) */
    int *speakers;      /* k: speakers per class */
    int n_speakers;
    int *class_of;      /* per corpus speaker: 0..k-1 */
} veil_task_classes;
int veil_corpus_task(const veil_corpus *c, const char *task, veil_task_classes *out);
void veil_task_classes_free(veil_task_classes *t);
/* 1 if NAME can be a task of C (gender, or one of its label names). */
int veil_corpus_has_task(const veil_corpus *c, const char *name);
/* Human-readable or JSON summary (layout, speakers per gender, durations). malloc'd. */
char *veil_corpus_summary_text(const veil_corpus *c);
char *veil_corpus_summary_json(const veil_corpus *c);

/* ---- the synthetic corpus (libespeak-ng), written in the TIMIT layout ---- */
typedef struct veil_synth_config {
    int speakers;      /* 420 */
    int female;        /* 130 */
    double seconds;    /* target seconds of speech per speaker, ~31 */
    uint64_t seed;     /* same seed -> byte-identical files */
    int threads;       /* worker processes/threads; 0 = all cores */
} veil_synth_config;
void veil_synth_config_default(veil_synth_config *c);
/* Make the corpus under out_dir (TRAIN/DRn/<F|M><id>/<utt>.WAV). Writes a marker file
 * (synth.json) last, so an interrupted build is detected and redone. */
int veil_synth_corpus(const veil_synth_config *c, const char *out_dir);

#endif
