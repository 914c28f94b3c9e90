/*
 * aether_model_step_batch: bit for bit the one-session step, in the
 * reference mode and in every optimised mode the machine runs, over model
 * shapes that reach every column region of the batched products (whole
 * vector blocks, narrow vectors, scalar tails), both backends, sessions at
 * different frame counts and evicting caches, batches of 1, 3 and 64, and
 * caches of every reduced row storage; then the per-session errors (NaN
 * frame, full non-evicting cache, another model's session, a session
 * listed twice, NULL entries, a broken session) and the call's own
 * argument errors, which change nothing.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/model.h"
#include "check.h"
#include "test_util.h"

static aether_blob_demo_params shape(uint16_t in, uint16_t qh, uint16_t kvh, uint16_t d,
                                     uint16_t classes, int norm, uint64_t seed)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    p.input_dim = in;
    p.n_q_heads = qh;
    p.n_kv_heads = kvh;
    p.head_dim = d;
    p.n_layers = 2;
    p.n_classes = classes;
    p.input_norm = norm;
    p.seed = seed;
    return p;
}

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((float)(uint32_t)(g_rng >> 32) / 4294967296.0f - 0.5f) * 2.0f;
}

static void fill(float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        x[i] = frand();
}

#define NMAX 64

typedef struct fixture {
    test_demo_buf b;
    aether_model *m;
    aether_model_info info;
    aether_model_session *one[NMAX], *bat[NMAX];
    void *ws;
    size_t ws_len;
} fixture;

static int fixture_open(fixture *f, const aether_blob_demo_params *p, aether_head_backend be,
                        const aether_session_params *sp, size_t n)
{
    aether_head_config cfg;
    size_t i;
    memset(f, 0, sizeof *f);
    if (!test_demo_view(&f->b, p) || aether_model_default_head_config(&f->b.view, &cfg) != AETHER_OK)
        return 0;
    cfg.backend = be;
    if (aether_model_create(&f->b.view, &cfg, AETHER_MODEL_COPY, &f->m) != AETHER_OK ||
        aether_model_get_info(f->m, &f->info) != AETHER_OK)
        return 0;
    for (i = 0; i < n; ++i)
        if (aether_model_session_create(f->m, sp, &f->one[i]) != AETHER_OK ||
            aether_model_session_create(f->m, sp, &f->bat[i]) != AETHER_OK)
            return 0;
    if (aether_model_step_batch_workspace_size(f->m, n, &f->ws_len) != AETHER_OK)
        return 0;
    /* One spare byte: the call is given a misaligned workspace. */
    f->ws = malloc(f->ws_len + 1);
    return f->ws != NULL;
}

static void fixture_close(fixture *f)
{
    size_t i;
    for (i = 0; i < NMAX; ++i) {
        aether_model_session_destroy(f->one[i]);
        aether_model_session_destroy(f->bat[i]);
    }
    aether_model_destroy(f->m);
    free(f->ws);
    free(f->b.bytes);
}

/* Steps sessions[0..n) one by one (into lo, po, so) and by the batch (lb,
 * pb, sb) with the same frames; returns 1 when every output and status
 * agrees bit for bit. */
static int step_both(fixture *f, size_t n, const float *frames, aether_status *so,
                     aether_status *sb)
{
    size_t in = f->info.input_dim, nc = f->info.n_classes, i;
    float lo[NMAX * 64], lb[NMAX * 64], po[NMAX * 64], pb[NMAX * 64];
    aether_status st;
    int same = 1;
    /* Rows of failed sessions must stay as they were: equal sentinels. */
    memset(lo, 0x5A, sizeof lo);
    memset(lb, 0x5A, sizeof lb);
    memset(po, 0x5A, sizeof po);
    memset(pb, 0x5A, sizeof pb);
    for (i = 0; i < n; ++i)
        so[i] = aether_model_session_step(f->one[i], frames + i * in, lo + i * nc, po + i * in);
    st = aether_model_step_batch(f->m, f->bat, n, frames, lb, pb, sb,
                                 (unsigned char *)f->ws + 1, f->ws_len);
    if (st != AETHER_OK)
        return 0;
    for (i = 0; i < n; ++i) {
        same &= so[i] == sb[i];
        same &= aether_model_session_frames(f->one[i]) == aether_model_session_frames(f->bat[i]);
        same &= aether_model_session_evicted(f->one[i]) == aether_model_session_evicted(f->bat[i]);
        same &= aether_model_session_broken(f->one[i]) == aether_model_session_broken(f->bat[i]);
    }
    same &= memcmp(lo, lb, n * nc * sizeof(float)) == 0;
    same &= memcmp(po, pb, n * in * sizeof(float)) == 0;
    return same;
}

/* Both sets of n sessions warmed one by one with the same frames to
 * different frame counts, with runs of equal ones (the batch shares
 * candidate lists between sessions in the same state): sessions 0-3, 8-11,
 * ... to 45 frames, the others to i * 7 % 53 (some already evicting); then
 * 50 rounds of step_both. 1 when every step succeeded and every round gave
 * the same results. */
static int warm_then_step_both(fixture *f, size_t n, float *frames, aether_status *so,
                               aether_status *sb)
{
    size_t i, k, round;
    int ok = 1;
    for (i = 0; i < n && ok; ++i) {
        size_t warm = (i / 4) % 2 == 0 ? 45 : i * 7 % 53;
        float x[64], lg[64];
        for (k = 0; k < warm; ++k) {
            fill(x, f->info.input_dim);
            ok &= aether_model_session_step(f->one[i], x, lg, NULL) == AETHER_OK;
            ok &= aether_model_session_step(f->bat[i], x, lg, NULL) == AETHER_OK;
        }
    }
    for (round = 0; round < 50 && ok; ++round) {
        fill(frames, n * f->info.input_dim);
        ok &= step_both(f, n, frames, so, sb);
        for (i = 0; i < n; ++i)
            ok &= sb[i] == AETHER_OK;
    }
    return ok;
}

/* The shapes: the default model (I 16, q4 kv1 x32, 4 classes), and odd
 * ones whose widths reach the narrow vector blocks and the scalar tails
 * of every path (q_width 72, kv_width 24, 11 and 37 classes, input 21 and
 * 13 with input normalisation). */
static void test_equal_modes(void)
{
    static const aether_kernel_mode modes[] = {AETHER_KERNELS_REFERENCE, AETHER_KERNELS_AUTO,
                                               AETHER_KERNELS_AVX2, AETHER_KERNELS_AVX512,
                                               AETHER_KERNELS_NEON};
    static const size_t sizes[] = {1, 3, 64};
    aether_blob_demo_params shapes[3];
    size_t mi, si, bi, be;
    shapes[0] = aether_blob_demo_default();
    shapes[1] = shape(21, 6, 2, 12, 11, 0, 991);
    shapes[2] = shape(13, 4, 4, 9, 37, 1, 4242);
    for (mi = 0; mi < sizeof modes / sizeof modes[0]; ++mi) {
        if (aether_set_kernel_mode(modes[mi]) != AETHER_OK)
            continue; /* a path this machine does not run */
        for (si = 0; si < 3; ++si)
            for (be = 0; be < 2; ++be)
                for (bi = 0; bi < 3; ++bi) {
                    size_t n = sizes[bi];
                    aether_session_params sp = aether_model_session_params_default();
                    fixture f;
                    float frames[NMAX * 64];
                    aether_status so[NMAX], sb[NMAX];
                    int ok = 1;
                    sp.capacity = 40; /* SLIDING: evicts after 40 frames */
                    CHECK(fixture_open(&f, &shapes[si],
                                       be ? AETHER_HEAD_SPARSE_GQA : AETHER_HEAD_DENSE, &sp, n));
                    ok = warm_then_step_both(&f, n, frames, so, sb);
                    CHECK_MSG(ok, "mode %d shape %lu backend %lu batch %lu", (int)modes[mi],
                              (unsigned long)si, (unsigned long)be, (unsigned long)n);
                    if (n == 64)
                        CHECK(aether_model_session_evicted(f.bat[63]) == 1);
                    fixture_close(&f);
                }
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

/* Caches of every reduced row storage: the batch prefetches the next
 * sessions' token rows in the cache's own storage, and gives the bits of
 * the one-session step (default model, sparse backend, 64 sessions in runs
 * of equal frame counts, evicting), in the mode this machine picks. */
static void test_storages(void)
{
    static const aether_kv_storage stor[] = {AETHER_KV_F16, AETHER_KV_BF16, AETHER_KV_I8};
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t s, n = NMAX;
    for (s = 0; s < sizeof stor / sizeof stor[0]; ++s) {
        aether_session_params sp = aether_model_session_params_default();
        fixture f;
        float frames[NMAX * 64];
        aether_status so[NMAX], sb[NMAX];
        int ok = 1;
        sp.capacity = 40;
        sp.storage = stor[s];
        CHECK(fixture_open(&f, &p, AETHER_HEAD_SPARSE_GQA, &sp, n));
        ok = warm_then_step_both(&f, n, frames, so, sb);
        CHECK_MSG(ok, "storage %d", (int)stor[s]);
        CHECK(aether_model_session_evicted(f.bat[n - 1]) == 1);
        fixture_close(&f);
    }
}

/* Per-session failures leave that session alone and step the others. */
static void test_session_errors(void)
{
    aether_session_params sp = aether_model_session_params_default();
    aether_blob_demo_params p2 = shape(16, 4, 1, 32, 4, 0, 77);
    aether_model_session *list[8], *other = NULL;
    aether_model *m2 = NULL;
    aether_status so[8], sb[8];
    test_demo_buf b2;
    fixture f;
    float frames[8 * 16], lg[8 * 4], lgo[4];
    size_t i, in = 16, k;
    aether_blob_demo_params p = aether_blob_demo_default();
    sp.capacity = 6;
    sp.evict = AETHER_KV_EVICT_NONE;
    CHECK(fixture_open(&f, &p, AETHER_HEAD_SPARSE_GQA, &sp, 6));
    /* Session 4: full (6 frames) in both sets. */
    for (k = 0; k < 6; ++k) {
        fill(frames, in);
        CHECK(aether_model_session_step(f.one[4], frames, lg, NULL) == AETHER_OK);
        CHECK(aether_model_session_step(f.bat[4], frames, lg, NULL) == AETHER_OK);
    }
    fill(frames, 6 * in);
    frames[2 * in + 5] = NAN; /* session 2: a NaN in the middle of the batch */
    CHECK(step_both(&f, 6, frames, so, sb));
    CHECK(sb[0] == AETHER_OK && sb[1] == AETHER_OK && sb[3] == AETHER_OK && sb[5] == AETHER_OK);
    CHECK(sb[2] == AETHER_ERR_NONFINITE);
    CHECK(sb[4] == AETHER_ERR_CACHE_FULL);
    CHECK(aether_model_session_frames(f.bat[2]) == 0);
    CHECK(aether_model_session_frames(f.bat[4]) == 6);
    CHECK(aether_model_session_frames(f.bat[5]) == 1);

    /* Another model's session, a session listed twice, a NULL entry. */
    CHECK(test_demo_view(&b2, &p2));
    CHECK(aether_model_create(&b2.view, NULL, AETHER_MODEL_COPY, &m2) == AETHER_OK);
    CHECK(aether_model_session_create(m2, &sp, &other) == AETHER_OK);
    list[0] = f.bat[0];
    list[1] = other;
    list[2] = f.bat[1];
    list[3] = f.bat[0];
    list[4] = NULL;
    list[5] = f.bat[3];
    fill(frames, 6 * in);
    memset(lg, 0, sizeof lg);
    CHECK(aether_model_step_batch(f.m, list, 6, frames, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_OK);
    CHECK(sb[0] == AETHER_OK && sb[2] == AETHER_OK && sb[5] == AETHER_OK);
    CHECK(sb[1] == AETHER_ERR_INVALID_ARG);
    CHECK(sb[3] == AETHER_ERR_INVALID_ARG);
    CHECK(sb[4] == AETHER_ERR_NULL_ARG);
    CHECK(aether_model_session_frames(other) == 0);
    CHECK(aether_model_session_frames(f.bat[0]) == 2);
    CHECK(lg[4] == 0.0f && lg[12] == 0.0f && lg[16] == 0.0f);
    /* The same frames one by one give the same logits. */
    CHECK(aether_model_session_step(f.one[0], frames, lgo, NULL) == AETHER_OK);
    CHECK(memcmp(lgo, lg, sizeof lgo) == 0);
    CHECK(aether_model_session_step(f.one[1], frames + 2 * in, lgo, NULL) == AETHER_OK);
    CHECK(memcmp(lgo, lg + 8, sizeof lgo) == 0);
    /* The listed-twice flag does not outlive the call. */
    CHECK(aether_model_step_batch(f.m, list, 1, frames, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_OK);
    CHECK(sb[0] == AETHER_OK);
    CHECK(aether_model_session_frames(f.bat[0]) == 3);

    /* A session broken half-way (a projection past the first layer
     * overflows): the same status and the same broken state as one by one.
     * Found by raising the frame's scale until a one-session step breaks. */
    {
        float scale = 1e30f, x[16];
        int found = 0;
        aether_session_params se = aether_model_session_params_default();
        aether_model_session *probe = NULL, *pair[2];
        CHECK(aether_model_session_create(f.m, &se, &probe) == AETHER_OK);
        for (k = 0; k < 200 && !found; ++k, scale *= 1.5f) {
            aether_status st;
            for (i = 0; i < in; ++i)
                x[i] = (i % 3 == 0 ? -scale : scale) * (float)(i + 1) / 16.0f;
            if (!aether_isfinite(scale))
                break;
            aether_model_session_reset(probe);
            st = aether_model_session_step(probe, x, lgo, NULL);
            found = st != AETHER_OK && aether_model_session_broken(probe);
        }
        CHECK(found);
        if (found) {
            aether_model_session *a = NULL, *b = NULL;
            float fr[2 * 16];
            CHECK(aether_model_session_create(f.m, &se, &a) == AETHER_OK);
            CHECK(aether_model_session_create(f.m, &se, &b) == AETHER_OK);
            pair[0] = probe;
            pair[1] = a;
            aether_model_session_reset(probe);
            memcpy(fr, x, sizeof x);
            fill(fr + in, in);
            CHECK(aether_model_step_batch(f.m, pair, 2, fr, lg, NULL, sb, f.ws, f.ws_len) ==
                  AETHER_OK);
            CHECK(sb[0] != AETHER_OK && aether_model_session_broken(probe));
            CHECK(sb[1] == AETHER_OK);
            CHECK(aether_model_session_step(b, fr + in, lgo, NULL) == AETHER_OK);
            CHECK(memcmp(lgo, lg + 4, sizeof lgo) == 0);
            /* Broken: STATE from then on, as the one-session step. */
            CHECK(aether_model_step_batch(f.m, pair, 1, fr + in, lg, NULL, sb, f.ws,
                                          f.ws_len) == AETHER_OK);
            CHECK(sb[0] == AETHER_ERR_STATE);
            aether_model_session_destroy(a);
            aether_model_session_destroy(b);
        }
        aether_model_session_destroy(probe);
    }
    aether_model_session_destroy(other);
    aether_model_destroy(m2);
    free(b2.bytes);
    fixture_close(&f);
}

/* The call's own errors: nothing is written, no session changes. */
static void test_argument_errors(void)
{
    aether_session_params sp = aether_model_session_params_default();
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_status sb[4] = {(aether_status)99, (aether_status)99, (aether_status)99,
                           (aether_status)99};
    float frames[4 * 16], lg[4 * 4];
    size_t bytes = 0, bytes3 = 0, i;
    fixture f;
    CHECK(fixture_open(&f, &p, AETHER_HEAD_SPARSE_GQA, &sp, 4));
    fill(frames, sizeof frames / sizeof frames[0]);
    CHECK(aether_model_step_batch_workspace_size(NULL, 4, &bytes) == AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch_workspace_size(f.m, 4, NULL) == AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch_workspace_size(f.m, (size_t)-1, &bytes) ==
          AETHER_ERR_OVERFLOW);
    CHECK(aether_model_step_batch_workspace_size(f.m, (size_t)-1 / 64, &bytes) ==
          AETHER_ERR_OVERFLOW);
    CHECK(aether_model_step_batch_workspace_size(f.m, 3, &bytes3) == AETHER_OK);
    CHECK(aether_model_step_batch_workspace_size(f.m, 4, &bytes) == AETHER_OK);
    CHECK(bytes > bytes3 && bytes3 > 0);
    CHECK(aether_model_step_batch(NULL, f.bat, 4, frames, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch(f.m, NULL, 4, frames, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch(f.m, f.bat, 4, NULL, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch(f.m, f.bat, 4, frames, NULL, NULL, sb, f.ws, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch(f.m, f.bat, 4, frames, lg, NULL, NULL, f.ws, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    CHECK(aether_model_step_batch(f.m, f.bat, 4, frames, lg, NULL, sb, NULL, f.ws_len) ==
          AETHER_ERR_NULL_ARG);
    /* n larger than the workspace's batch. */
    CHECK(aether_model_step_batch(f.m, f.bat, 4, frames, lg, NULL, sb, f.ws, bytes3) ==
          AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(aether_model_step_batch(f.m, f.bat, (size_t)-1, frames, lg, NULL, sb, f.ws,
                                  f.ws_len) == AETHER_ERR_OVERFLOW);
    for (i = 0; i < 4; ++i) {
        CHECK(sb[i] == (aether_status)99);
        CHECK(aether_model_session_frames(f.bat[i]) == 0);
    }
    /* n == 0 does nothing, whatever the pointers. */
    CHECK(aether_model_step_batch(f.m, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0) == AETHER_OK);
    /* A smaller batch fits a larger workspace. */
    CHECK(aether_model_step_batch(f.m, f.bat, 3, frames, lg, NULL, sb, f.ws, f.ws_len) ==
          AETHER_OK);
    CHECK(sb[0] == AETHER_OK && sb[2] == AETHER_OK && sb[3] == (aether_status)99);
    fixture_close(&f);
}

TEST_MAIN(test_equal_modes, test_storages, test_session_errors, test_argument_errors)
