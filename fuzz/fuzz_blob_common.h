/*
 * Blob fuzzing body shared by fuzz_blob (raw bytes: exercises the format
 * checks) and fuzz_blob_crc (length and CRC patched so mutations reach the
 * model level). A blob that parses is validated at the model level; one that
 * validates is loaded (copy and borrow), run through a window forward with
 * both poolings and a short streaming session, and the results are checked.
 */
#ifndef AETHER_FUZZ_BLOB_COMMON_H
#define AETHER_FUZZ_BLOB_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/model.h"
#include "fuzz_common.h"

#define FUZZ_MAX_FRAMES 3u

static void fuzz_model_run(const aether_blob_view *view, aether_model_weights mode)
{
    aether_model *m = NULL;
    aether_model_info info;
    aether_model_session *s = NULL;
    aether_session_params sp;
    aether_status st;
    float *frames, *logits, *pooled;
    size_t i, n, in_dim, ncls, ws_len = 0;
    void *ws;

    st = aether_model_create(view, NULL, mode, &m);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(m == NULL);
        return;
    }
    FUZZ_ASSERT(aether_model_get_info(m, &info) == AETHER_OK);
    FUZZ_ASSERT(info.input_dim == view->header.input_dim);
    FUZZ_ASSERT(info.n_classes == view->header.n_classes);
    in_dim = info.input_dim;
    ncls = info.n_classes;
    frames = malloc(FUZZ_MAX_FRAMES * in_dim * sizeof *frames);
    logits = malloc(ncls * sizeof *logits);
    pooled = malloc(in_dim * sizeof *pooled);
    /* One workspace for the longest window serves every shorter one. */
    ws = NULL;
    if (aether_model_forward_workspace_size(m, FUZZ_MAX_FRAMES, &ws_len) == AETHER_OK)
        ws = malloc(ws_len ? ws_len : 1);
    if (frames && logits && pooled && ws) {
        for (i = 0; i < FUZZ_MAX_FRAMES * in_dim; ++i)
            frames[i] = (float)((int)(i % 7) - 3) * 0.25f;
        for (n = 1; n <= FUZZ_MAX_FRAMES; ++n) {
            st = aether_model_forward(m, frames, n, AETHER_POOL_LAST, logits, pooled, ws, ws_len);
            FUZZ_VALID_STATUS(st);
            st = aether_model_forward(m, frames, n, AETHER_POOL_MEAN, logits, NULL, ws, ws_len);
            FUZZ_VALID_STATUS(st);
        }
        /* No workspace is an error, never an allocation. */
        FUZZ_ASSERT(aether_model_forward(m, frames, 1, AETHER_POOL_LAST, logits, NULL, NULL, 0) ==
                    AETHER_ERR_NULL_ARG);
        /* Bad inputs must be rejected, not computed on. */
        frames[0] = aether_f32_from_bits(0x7FC00000u);
        FUZZ_ASSERT(aether_model_forward(m, frames, 1, AETHER_POOL_LAST, logits, NULL, ws,
                                         ws_len) == AETHER_ERR_NONFINITE);
        frames[0] = 0.0f;
        FUZZ_ASSERT(aether_model_forward(m, frames, 0, AETHER_POOL_LAST, logits, NULL, ws,
                                         ws_len) == AETHER_ERR_INVALID_ARG);

        sp = aether_model_session_params_default();
        sp.capacity = 4;
        sp.evict = AETHER_KV_EVICT_SLIDING;
        st = aether_model_session_create(m, &sp, &s);
        FUZZ_VALID_STATUS(st);
        if (st == AETHER_OK) {
            for (i = 0; i < 6; ++i) {
                st = aether_model_session_step(s, frames + (i % FUZZ_MAX_FRAMES) * in_dim, logits,
                                               pooled);
                FUZZ_VALID_STATUS(st);
            }
            FUZZ_ASSERT(aether_model_session_frames(s) <= 6);
            FUZZ_ASSERT(aether_model_session_reset(s) == AETHER_OK);
            FUZZ_ASSERT(aether_model_session_frames(s) == 0);
            aether_model_session_destroy(s);
        }
    }
    free(frames);
    free(logits);
    free(pooled);
    free(ws);
    aether_model_destroy(m);
}

static void fuzz_blob_run(const uint8_t *data, size_t size)
{
    aether_blob_view view, before;
    aether_blob_header hdr;
    aether_blob_layout layout;
    aether_status st;
    size_t i, count;

    memset(&view, 0xA5, sizeof view);
    before = view;
    st = aether_blob_parse(data, size, &view);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        /* An error leaves the output untouched. */
        FUZZ_ASSERT(memcmp(&view, &before, sizeof view) == 0);
        FUZZ_ASSERT(st >= AETHER_ERR_BLOB_TOO_SHORT && st <= AETHER_ERR_BLOB_DEGENERATE);
        FUZZ_ASSERT(aether_blob_reference_message(st) != NULL);
        if (size >= AETHER_BLOB_HEADER_LEN)
            FUZZ_ASSERT(aether_blob_peek_header(data, size, &hdr) == AETHER_OK);
        return;
    }
    FUZZ_ASSERT((size_t)view.header.weights_len + AETHER_BLOB_OVERHEAD == size);
    FUZZ_ASSERT(aether_blob_check_header(&view.header) == AETHER_OK);

    st = aether_blob_validate_model(&view, &layout);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(st >= AETHER_ERR_BLOB_ELEM_SIZE && st <= AETHER_ERR_BLOB_EXTENSION);
        /* Whatever the model loader says must agree with the validator. */
        {
            aether_model *m = NULL;
            aether_status ms = aether_model_create(&view, NULL, AETHER_MODEL_COPY, &m);
            FUZZ_ASSERT(ms == st);
            FUZZ_ASSERT(m == NULL);
        }
        return;
    }
    FUZZ_ASSERT(layout.total_bytes == view.header.weights_len);
    FUZZ_ASSERT(aether_blob_param_count(&view.header, &count) == AETHER_OK);
    FUZZ_ASSERT(count == layout.total_elems);
    for (i = 0; i < count; i += 97)
        FUZZ_ASSERT(aether_isfinite(aether_blob_weight(&view, i)));

    /* Serialising the parsed blob reproduces the input byte for byte, except
     * for the version/reserved bytes which the writer normalises. */
    {
        unsigned char *out = malloc(size);
        size_t written = 0;
        if (out) {
            st = aether_blob_serialize(&view.header, view.weights, out, size, &written);
            FUZZ_VALID_STATUS(st);
            if (st == AETHER_OK && view.header.reserved == 0) {
                FUZZ_ASSERT(written == size);
                FUZZ_ASSERT(memcmp(out, data, size) == 0);
            }
            free(out);
        }
    }

    fuzz_model_run(&view, AETHER_MODEL_COPY);
    fuzz_model_run(&view, AETHER_MODEL_BORROW_IF_POSSIBLE);
}

#endif /* AETHER_FUZZ_BLOB_COMMON_H */
