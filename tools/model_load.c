/* The model-loading steps `aether run` and `aether serve` share (model_load.h). */
#include "model_load.h"

#include <stdio.h>
#include <string.h>

#include "aether/features.h"
#include "commands.h"

int model_load_prepare(const char *cmd, const char *path, const unsigned char *bytes, size_t len,
                       const model_choices *c, model_loaded *out)
{
    static const model_choices none;
    model_meta *mm = &out->meta;
    char err[256];
    aether_status st;
    if (!c)
        c = &none;
    memset(out, 0, sizeof *out);
    st = aether_blob_parse(bytes, len, &out->blob);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether %s: %s: invalid blob: %s (%s)\n", cmd, path,
                aether_blob_reference_message(st), aether_status_name(st));
        return CLI_EXIT_MALFORMED;
    }
    aether_model_default_head_config(&out->blob, &out->hc);
    out->hc.checkpoint_dense_mha = c->dense_checkpoint;
    mm->decision = aether_decision_params_default();
    /* An invalid model is left to the model loader's diagnostics. */
    if (aether_blob_validate_model(&out->blob, NULL) == AETHER_OK &&
        model_meta_read(&out->blob, mm, err, sizeof err) != 0) {
        fprintf(stderr, "aether %s: %s: %s\n", cmd, path, err);
        return CLI_EXIT_MALFORMED;
    }
    out->hc.backend = c->have_backend    ? c->backend
                      : mm->have_backend ? mm->backend
                                         : AETHER_HEAD_SPARSE_GQA;
    if (c->have_window)
        out->hc.window = c->window;
    else if (mm->have_attn_window)
        out->hc.window = mm->attn_window;
    if (c->have_block)
        out->hc.block_size = c->block;
    else if (mm->have_attn_block)
        out->hc.block_size = mm->attn_block;
    out->window_mode = (c->have_pool    ? c->pool
                        : mm->have_pool ? mm->pool
                                        : AETHER_POOL_LAST) == AETHER_POOL_MEAN;
    out->window_frames = c->window_frames         ? c->window_frames
                         : mm->have_window_frames ? mm->window_frames
                                                  : 0;
    out->recipe = c->have_recipe ? c->recipe : mm->have_recipe ? mm->recipe : AETHER_FEATURES_V1;
    return 0;
}

int model_load_config_blame(const aether_blob_view *blob, const model_meta *mm)
{
    aether_head_config hc;
    const char *msg = NULL;
    if (aether_model_default_head_config(blob, &hc) != AETHER_OK)
        return CLI_EXIT_MALFORMED;
    if (mm->have_backend)
        hc.backend = mm->backend;
    if (mm->have_attn_window)
        hc.window = mm->attn_window;
    if (mm->have_attn_block)
        hc.block_size = mm->attn_block;
    return aether_head_config_validate(&hc, &msg) != AETHER_OK ? CLI_EXIT_MALFORMED
                                                                : CLI_EXIT_USAGE;
}

int model_load_config_error(const char *who, const char *path, const aether_blob_view *blob,
                            const model_meta *mm, const aether_head_config *hc)
{
    const char *msg = NULL;
    int rc;
    if (aether_head_config_validate(hc, &msg) == AETHER_OK || !msg)
        return 0;
    rc = model_load_config_blame(blob, mm);
    if (rc == CLI_EXIT_USAGE)
        fprintf(stderr, "%s: %s%s\n", who, AETHER_HEAD_ERR_PREFIX, msg);
    else
        fprintf(stderr, "%s: %s: its metadata's attention configuration: %s%s\n", who, path,
                AETHER_HEAD_ERR_PREFIX, msg);
    return rc;
}

int model_load_check_csi(const char *cmd, const char *path, const aether_model_info *info)
{
    if (aether_features_groups(info->input_dim) != 0)
        return 0;
    fprintf(stderr,
            "aether %s: %s: the model takes %lu inputs per frame, but CSI feature vectors have "
            "%u..%u values: this model was not made for CSI features\n",
            cmd, path, (unsigned long)info->input_dim, AETHER_FEATURES_MIN_DIM,
            AETHER_FEATURES_MAX_DIM);
    return CLI_EXIT_MISFIT;
}
