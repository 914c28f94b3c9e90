/* The window classifier (aether/window.h): classify equals the model's
 * window forward over the last min(W, pushed) frames bit for bit, through
 * wrap-around and for both poolings; caller memory at any alignment; a
 * rejected frame changes nothing; an external workspace; sizing before the
 * model exists; parameters from the blob's metadata. */
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/window.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

#define IN 16u
#define NC 4u
#define W 7u
#define N_FRAMES 40u

static aether_blob_view g_view;
static unsigned char *g_blob;
static aether_model *g_model;
static float g_frames[N_FRAMES * IN];

static void setup(void)
{
    size_t len = 0, i;
    uint32_t s = 12345u;
    g_blob = test_demo_blob(&len);
    CHECK(g_blob != NULL);
    CHECK_STATUS(aether_blob_parse(g_blob, len, &g_view), AETHER_OK);
    CHECK_STATUS(aether_model_create(&g_view, NULL, AETHER_MODEL_COPY, &g_model), AETHER_OK);
    for (i = 0; i < N_FRAMES * IN; ++i) {
        s = s * 1664525u + 1013904223u;
        g_frames[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
    aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
}

/* classify after every push equals the forward over the frames held */
static void check_against_forward(aether_pool pool)
{
    aether_window_params p = {W, pool, 0};
    aether_window *w = NULL;
    size_t t, k;
    CHECK_STATUS(aether_window_create(g_model, &p, &w), AETHER_OK);
    for (t = 0; t < N_FRAMES && w; ++t) {
        float got[NC], want[NC], pooled_got[IN], pooled_want[IN];
        size_t n = t + 1 < W ? t + 1 : W;
        CHECK_STATUS(aether_window_push(w, g_frames + t * IN), AETHER_OK);
        CHECK_EQ_INT(aether_window_held(w), n);
        CHECK_EQ_INT(aether_window_pushed(w), t + 1);
        /* classify only at some steps, so the ring is read in every phase */
        if (t % 3 != 0 && t != N_FRAMES - 1)
            continue;
        CHECK_STATUS(aether_window_classify(w, got, pooled_got), AETHER_OK);
        CHECK_STATUS(ws_model_forward(g_model, g_frames + (t + 1 - n) * IN, n, pool, want,
                                      pooled_want),
                     AETHER_OK);
        CHECK(memcmp(got, want, sizeof got) == 0);
        CHECK(memcmp(pooled_got, pooled_want, sizeof pooled_got) == 0);
        /* a second classify without a push gives the same bits */
        CHECK_STATUS(aether_window_classify(w, got, NULL), AETHER_OK);
        CHECK(memcmp(got, want, sizeof got) == 0);
        for (k = 0; k < NC; ++k)
            CHECK(aether_isfinite(got[k]));
    }
    aether_window_destroy(w);
}

static void test_equals_forward(void)
{
    check_against_forward(AETHER_POOL_MEAN);
    check_against_forward(AETHER_POOL_LAST);
}

static void test_caller_memory_and_errors(void)
{
    aether_window_params p = {W, AETHER_POOL_MEAN, 0}, bad = p;
    aether_window *w = NULL;
    size_t need = 0, need_for = 0;
    unsigned char *buf;
    float lg[NC], nan_frame[IN];
    CHECK_STATUS(aether_window_size(g_model, &p, &need), AETHER_OK);
    CHECK_STATUS(aether_window_size_for(&g_view, NULL, &p, &need_for), AETHER_OK);
    CHECK_EQ_INT(need_for, need);
    bad.frames = 0;
    CHECK_STATUS(aether_window_size(g_model, &bad, &need_for), AETHER_ERR_INVALID_ARG);
    bad = p;
    bad.pool = (aether_pool)7;
    CHECK_STATUS(aether_window_size(g_model, &bad, &need_for), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_window_size(NULL, &p, &need_for), AETHER_ERR_NULL_ARG);
    buf = (unsigned char *)malloc(need + 1);
    CHECK(buf != NULL);
    if (!buf)
        return;
    CHECK_STATUS(aether_window_init(buf + 1, need - 1, g_model, &p, &w),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_window_init(buf + 1, need, g_model, &p, &w), AETHER_OK);
    CHECK_STATUS(aether_window_classify(w, lg, NULL), AETHER_ERR_CACHE_EMPTY);
    /* a rejected frame changes nothing */
    CHECK_STATUS(aether_window_push(w, g_frames), AETHER_OK);
    memcpy(nan_frame, g_frames + IN, sizeof nan_frame);
    nan_frame[5] = NAN;
    {
        unsigned char *snap = (unsigned char *)malloc(need);
        if (snap) {
            memcpy(snap, buf + 1, need);
            CHECK_STATUS(aether_window_push(w, nan_frame), AETHER_ERR_NONFINITE);
            nan_frame[5] = INFINITY;
            CHECK_STATUS(aether_window_push(w, nan_frame), AETHER_ERR_NONFINITE);
            CHECK(memcmp(snap, buf + 1, need) == 0);
            free(snap);
        }
    }
    CHECK_EQ_INT(aether_window_held(w), 1);
    CHECK_STATUS(aether_window_push(NULL, g_frames), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_window_push(w, NULL), AETHER_ERR_NULL_ARG);
    /* reset forgets and zero-fills the frames */
    CHECK_STATUS(aether_window_reset(w), AETHER_OK);
    CHECK_EQ_INT(aether_window_held(w), 0);
    CHECK_EQ_INT(aether_window_pushed(w), 0);
    CHECK_STATUS(aether_window_classify(w, lg, NULL), AETHER_ERR_CACHE_EMPTY);
    {
        size_t i, hits = 0;
        const unsigned char *a = (const unsigned char *)g_frames;
        /* the first frame's bytes are gone from the whole block */
        for (i = 0; i + sizeof(float) * IN <= need; ++i)
            hits += memcmp(buf + 1 + i, a, sizeof(float) * IN) == 0;
        CHECK_EQ_INT(hits, 0);
    }
    {
        aether_window_params got;
        CHECK_STATUS(aether_window_get_params(w, &got), AETHER_OK);
        CHECK(got.frames == W && got.pool == AETHER_POOL_MEAN && !got.external_workspace);
    }
    free(buf);
    /* an uninitialised object */
    {
        unsigned char junk[256];
        memset(junk, 0, sizeof junk);
        CHECK_STATUS(aether_window_push((aether_window *)(void *)junk, g_frames),
                     AETHER_ERR_NOT_INITIALIZED);
    }
}

static void test_external_workspace(void)
{
    aether_window_params own = {W, AETHER_POOL_MEAN, 0}, ext = {W, AETHER_POOL_MEAN, 1};
    aether_window *a = NULL, *b = NULL;
    size_t s_own = 0, s_ext = 0, ws_len = 0, t;
    void *ws;
    float la[NC], lb[NC];
    CHECK_STATUS(aether_window_size(g_model, &own, &s_own), AETHER_OK);
    CHECK_STATUS(aether_window_size(g_model, &ext, &s_ext), AETHER_OK);
    CHECK_STATUS(aether_window_workspace_size(g_model, &ext, &ws_len), AETHER_OK);
    CHECK(s_ext < s_own && ws_len > 0);
    CHECK_STATUS(aether_window_create(g_model, &own, &a), AETHER_OK);
    CHECK_STATUS(aether_window_create(g_model, &ext, &b), AETHER_OK);
    ws = malloc(ws_len);
    CHECK(ws != NULL);
    if (!a || !b || !ws)
        return;
    for (t = 0; t < 3 * W; ++t) {
        CHECK_STATUS(aether_window_push(a, g_frames + t * IN), AETHER_OK);
        CHECK_STATUS(aether_window_push(b, g_frames + t * IN), AETHER_OK);
    }
    CHECK_STATUS(aether_window_classify(b, lb, NULL), AETHER_ERR_STATE);
    CHECK_STATUS(aether_window_classify_ws(b, ws, ws_len - 1, lb, NULL),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_window_classify_ws(b, NULL, ws_len, lb, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_window_classify(a, la, NULL), AETHER_OK);
    CHECK_STATUS(aether_window_classify_ws(b, ws, ws_len, lb, NULL), AETHER_OK);
    CHECK(memcmp(la, lb, sizeof la) == 0);
    free(ws);
    aether_window_destroy(a);
    aether_window_destroy(b);
}

static void test_params_from_meta(void)
{
    aether_blob_model_meta m;
    aether_window_params p;
    memset(&m, 0, sizeof m);
    CHECK_STATUS(aether_window_params_from_meta(&m, &p), AETHER_OK);
    CHECK(p.frames == 0 && p.pool == AETHER_POOL_LAST && !p.external_workspace);
    m.have_window_frames = 1;
    m.window_frames = 64;
    m.pool = AETHER_META_POOL_MEAN;
    CHECK_STATUS(aether_window_params_from_meta(&m, &p), AETHER_OK);
    CHECK(p.frames == 64 && p.pool == AETHER_POOL_MEAN);
    CHECK_STATUS(aether_window_params_from_meta(NULL, &p), AETHER_ERR_NULL_ARG);
    {
        /* the shipped gesture model names its window in its metadata */
        size_t len = 0;
        unsigned char *b = test_read_file(AETHER_SOURCE_DIR "/models/gesture.rvne", &len);
        aether_blob_view v;
        CHECK(b != NULL);
        if (!b)
            return;
        CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
        CHECK_STATUS(aether_window_params_from_meta(&m, &p), AETHER_OK);
        CHECK(p.frames == 64 && p.pool == AETHER_POOL_MEAN);
        CHECK_EQ_INT(m.n_labels, 3);
        CHECK(!strcmp(aether_blob_model_meta_label(&m, 0), "wave"));
        CHECK(!strcmp(aether_blob_model_meta_label(&m, 2), "no_gesture"));
        CHECK(aether_blob_model_meta_label(&m, 3) == NULL);
        CHECK(!strcmp(m.features, "csi-v4") && !strcmp(m.backend, "sparse_gqa"));
        free(b);
    }
}

static void teardown(void)
{
    aether_model_destroy(g_model);
    free(g_blob);
}

static void test_all(void)
{
    setup();
    test_equals_forward();
    test_caller_memory_and_errors();
    test_external_workspace();
    test_params_from_meta();
    teardown();
}

TEST_MAIN(test_all)
