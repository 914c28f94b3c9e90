/*
 * The steps `aether run` and `aether serve` share from a model file's bytes
 * to a model: the blob parsed, its metadata read, the choices the metadata
 * makes where the command line makes none (attention backend, window and
 * block; pooling, window length, feature recipe), and the check that the
 * model takes CSI feature vectors. Messages go to stderr as
 * "aether CMD: PATH: ...", so the commands word them the same way.
 */
#ifndef AETHER_TOOLS_MODEL_LOAD_H
#define AETHER_TOOLS_MODEL_LOAD_H

#include <stddef.h>

#include "aether/blob.h"
#include "aether/head.h"
#include "aether/model.h"
#include "model_meta.h"

/* The command line's choices; a have_ flag 0 leaves that one to the
 * metadata, and without metadata to the default. */
typedef struct model_choices {
    int have_backend, have_window, have_block, have_pool, have_recipe;
    aether_head_backend backend; /* default: sparse */
    size_t window, block;        /* default: the blob's (aether_model_default_head_config) */
    aether_pool pool;            /* default: last */
    size_t window_frames;        /* 0: the metadata's, else 0 */
    unsigned recipe;             /* default: csi-v1 */
    int dense_checkpoint;
} model_choices;

typedef struct model_loaded {
    aether_blob_view blob; /* views the bytes given: they must outlive it */
    model_meta meta;       /* the defaults when the blob has none */
    aether_head_config hc;
    int window_mode; /* pooling mean: window tracks instead of sessions */
    size_t window_frames;
    unsigned recipe;
} model_loaded;

/* Parse the blob bytes, read their metadata (a blob that is not a valid
 * model is left to the model's creation to explain) and make the choices
 * under c (NULL: none). 0, or the exit status after a message. */
int model_load_prepare(const char *cmd, const char *path, const unsigned char *bytes, size_t len,
                       const model_choices *c, model_loaded *out);

/* An attention configuration that does not validate: CLI_EXIT_MALFORMED
 * when the blob's own one (its defaults under its metadata's backend,
 * attn_window and attn_block) does not, so the blob is at fault; else
 * CLI_EXIT_USAGE: the command line's options made it invalid. */
int model_load_config_blame(const aether_blob_view *blob, const model_meta *mm);

/* After a model's creation failed: when the head configuration hc does not
 * validate, says so on stderr as `who: ...` (naming path and the blob's
 * metadata when the blob is at fault, see model_load_config_blame) and
 * returns that exit status; 0 when hc validates (the failure is another). */
int model_load_config_error(const char *who, const char *path, const aether_blob_view *blob,
                            const model_meta *mm, const aether_head_config *hc);

/* 0 when a model of this info takes CSI feature vectors, else the exit
 * status (CLI_EXIT_MISFIT) after a message. */
int model_load_check_csi(const char *cmd, const char *path, const aether_model_info *info);

#endif
