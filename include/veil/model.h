/* veil model files: .safetensors with the architecture, MFCC settings, class names,
 * method and precision in the metadata; tensors in PyTorch's standard layouts.
 * Loading validates everything; files are written to a temporary name and renamed. */
#ifndef VEIL_MODEL_H
#define VEIL_MODEL_H

#include "veil/mfcc.h"
#include "veil/nn.h"
#include "veil/export.h"

VEIL_API_BEGIN

typedef struct veil_model {
    veil_extractor_config arch;
    veil_mfcc_config mfcc;
    char method[32];            /* "siamese", "reference", ... */
    veil_precision trained_precision;
    veil_extractor *f;          /* always present */
    veil_head *g;               /* optional head (gender recognizer), NULL if none */
    int n_classes;              /* class names of g */
    char **class_names;
    char task[32];              /* what g recognises (metadata "task"; absent: "gender") */
    /* the speakers whose patches trained f and g (metadata "train_speakers", optional):
     * an audit of the model leaves them out (they are not unseen speakers) */
    int n_train_speakers;
    char **train_speakers;
} veil_model;

int veil_model_save(const char *path, const veil_model *m);
/* Loads and builds f (and g) for inference at the given precision with max_batch. */
int veil_model_load(const char *path, veil_precision precision, int max_batch, veil_model **out);
/* The same from bytes in memory; name is used in messages. */
int veil_model_parse(const char *name, const void *bytes, size_t size, veil_precision precision, int max_batch,
                     veil_model **out);
/* Frees f, g and class names too. */
void veil_model_free(veil_model *m);

VEIL_API_END

#endif
