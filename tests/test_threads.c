/*
 * Concurrency: several threads each own their contexts (firmware ABI
 * contexts in both modes, model sessions over one shared read-only model,
 * KV caches) and run at the same time; then the library's own threaded
 * kernels run with several worker threads, also from several callers at
 * once. Every result must be bit-identical to the same work done on one
 * thread. Meant to run under ThreadSanitizer (scripts/sanitize.sh tsan) but
 * checks real values in any build.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/model.h"
#include "check.h"
#include "test_ws.h"
#include "ruv_temporal.h"

#define N_THREADS 4
#define N_FRAMES 300
#define IN_DIM 16
#define N_CLS 4

static unsigned char *g_blob;
static size_t g_blob_len;
static aether_blob_view g_view;
static aether_model *g_model; /* shared, read-only */
static float g_frames[N_FRAMES * IN_DIM];

typedef struct work {
    int id;
    /* outputs: final logits of each kind of work */
    float ruv_window[N_CLS], ruv_stream[N_CLS], session[N_CLS];
    float cache_out[2 * 8];
    uint64_t ruv_frames;
    int errors;
} work;

static void make_frames(void)
{
    uint32_t s = 12345u;
    size_t i;
    for (i = 0; i < N_FRAMES * IN_DIM; ++i) {
        s = s * 1664525u + 1013904223u;
        g_frames[i] = (float)((s >> 9) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

static void run_work(work *w)
{
    ruv_temporal_ctx_t *cw = NULL, *cs = NULL;
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_info_t info;
    aether_model_session *s = NULL;
    aether_session_params sp = aether_model_session_params_default();
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config ac;
    aether_kvcache_params kp;
    aether_kvcache *kc = NULL;
    float logits[N_CLS];
    size_t i;

    if (ruv_temporal_init(g_blob, g_blob_len, IN_DIM, 64, N_CLS, &cw) != ESP_OK)
        w->errors++;
    cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
    if (ruv_temporal_init_ex(g_blob, g_blob_len, IN_DIM, 64, N_CLS, &cfg, &cs) != ESP_OK)
        w->errors++;
    sp.capacity = 48;
    if (aether_model_session_create(g_model, &sp, &s) != AETHER_OK)
        w->errors++;
    ap.window = 4;
    ap.block_size = 4;
    aether_attn_config_init(&ac, &ap);
    kp = aether_kvcache_params_default(&ac, 32, 1, 8);
    kp.evict = AETHER_KV_EVICT_SCORED;
    kp.protect_recent = 4;
    if (aether_kvcache_create(&kp, &kc) != AETHER_OK)
        w->errors++;
    if (w->errors)
        goto done;

    for (i = 0; i < N_FRAMES; ++i) {
        const float *f = g_frames + i * IN_DIM;
        aether_tensor q1, o1;
        if (ruv_temporal_push(cw, f) != ESP_OK || ruv_temporal_push(cs, f) != ESP_OK)
            w->errors++;
        if (i % 50 == 49 && ruv_temporal_classify(cw, logits, N_CLS) != ESP_OK)
            w->errors++;
        if (aether_model_session_step(s, f, w->session, NULL) != AETHER_OK)
            w->errors++;
        /* KV cache: K and V rows from the frame, query = the second half. */
        if (aether_kvcache_append_rows(kc, f, f + 8) != AETHER_OK)
            w->errors++;
        aether_tensor_view(&q1, (float *)f, 2 * 8, 1, 2, 8); /* IN_DIM = 16 floats */
        aether_tensor_view(&o1, w->cache_out, 2 * 8, 1, 2, 8);
        if (aether_kvcache_decode_step(&ac, &q1, kc, &o1) != AETHER_OK)
            w->errors++;
    }
    if (ruv_temporal_classify(cw, w->ruv_window, N_CLS) != ESP_OK ||
        ruv_temporal_classify(cs, w->ruv_stream, N_CLS) != ESP_OK)
        w->errors++;
    if (ruv_temporal_get_info(cs, &info) != ESP_OK)
        w->errors++;
    w->ruv_frames = info.frames_total;
done:
    ruv_temporal_destroy(cw);
    ruv_temporal_destroy(cs);
    aether_model_session_destroy(s);
    aether_kvcache_destroy(kc);
}

static void *thread_main(void *arg)
{
    run_work((work *)arg);
    /* The self test shares nothing and may run from any thread. */
    if (ruv_temporal_kernel_self_test() != ESP_OK)
        ((work *)arg)->errors++;
    return NULL;
}

static int setup(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t n = 0;
    make_frames();
    if (aether_blob_demo_size(&p, &n) != AETHER_OK)
        return 0;
    g_blob = (unsigned char *)malloc(n);
    if (!g_blob || aether_blob_demo_write(&p, g_blob, n, &g_blob_len) != AETHER_OK)
        return 0;
    if (aether_blob_parse(g_blob, g_blob_len, &g_view) != AETHER_OK)
        return 0;
    return aether_model_create(&g_view, NULL, AETHER_MODEL_COPY, &g_model) == AETHER_OK;
}

static void test_independent_contexts(void)
{
    work ref, w[N_THREADS];
    pthread_t th[N_THREADS];
    int i, started = 0;

    CHECK(setup());
    memset(&ref, 0, sizeof ref);
    run_work(&ref);
    CHECK_EQ_INT(ref.errors, 0);
    CHECK_EQ_INT(ref.ruv_frames, N_FRAMES);
    for (i = 0; i < N_CLS; ++i)
        CHECK(aether_isfinite(ref.ruv_window[i]) && aether_isfinite(ref.ruv_stream[i]));

    memset(w, 0, sizeof w);
    for (i = 0; i < N_THREADS; ++i) {
        w[i].id = i;
        if (pthread_create(&th[i], NULL, thread_main, &w[i]) == 0)
            started++;
        else
            break;
    }
    CHECK_EQ_INT(started, N_THREADS);
    for (i = 0; i < started; ++i)
        pthread_join(th[i], NULL);
    for (i = 0; i < started; ++i) {
        CHECK_EQ_INT(w[i].errors, 0);
        CHECK_EQ_INT(w[i].ruv_frames, N_FRAMES);
        CHECK(memcmp(w[i].ruv_window, ref.ruv_window, sizeof ref.ruv_window) == 0);
        CHECK(memcmp(w[i].ruv_stream, ref.ruv_stream, sizeof ref.ruv_stream) == 0);
        CHECK(memcmp(w[i].session, ref.session, sizeof ref.session) == 0);
        CHECK(memcmp(w[i].cache_out, ref.cache_out, sizeof ref.cache_out) == 0);
    }
}

/* ---- the library's worker threads ---- */

#define K_SEQ 300
#define K_QH 4
#define K_KVH 2
#define K_DIM 16

static float g_q[K_SEQ * K_QH * K_DIM], g_k[K_SEQ * K_KVH * K_DIM], g_v[K_SEQ * K_KVH * K_DIM];

typedef struct kwork {
    float out[K_SEQ * K_QH * K_DIM];
    float dense[K_SEQ * K_QH * K_DIM];
    int errors;
} kwork;

static void run_kernels(kwork *w)
{
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config ac;
    aether_tensor q, k, v, o, od;
    ap.window = 16;
    ap.block_size = 8;
    aether_attn_config_init(&ac, &ap);
    aether_tensor_view(&q, g_q, K_SEQ * K_QH * K_DIM, K_SEQ, K_QH, K_DIM);
    aether_tensor_view(&k, g_k, K_SEQ * K_KVH * K_DIM, K_SEQ, K_KVH, K_DIM);
    aether_tensor_view(&v, g_v, K_SEQ * K_KVH * K_DIM, K_SEQ, K_KVH, K_DIM);
    aether_tensor_view(&o, w->out, K_SEQ * K_QH * K_DIM, K_SEQ, K_QH, K_DIM);
    aether_tensor_view(&od, w->dense, K_SEQ * K_QH * K_DIM, K_SEQ, K_QH, K_DIM);
    if (ws_attn_forward_gqa(&ac, &q, &k, &v, &o) != AETHER_OK)
        w->errors++;
    if (aether_attn_dense(&q, &k, &v, 1, &od) != AETHER_OK)
        w->errors++;
}

static void *kernel_thread(void *arg)
{
    run_kernels((kwork *)arg);
    return NULL;
}

static void test_threaded_kernels(void)
{
    static kwork ref, w[3];
    pthread_t th[3];
    size_t i;
    int started = 0;
    uint32_t s = 777u;
    for (i = 0; i < sizeof g_q / sizeof g_q[0]; ++i) {
        s = s * 1664525u + 1013904223u;
        g_q[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    for (i = 0; i < sizeof g_k / sizeof g_k[0]; ++i) {
        s = s * 1664525u + 1013904223u;
        g_k[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        g_v[i] = (float)(i % 13) * 0.1f - 0.6f;
    }
    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    run_kernels(&ref);
    CHECK_EQ_INT(ref.errors, 0);

    CHECK_STATUS(aether_set_num_threads(4), AETHER_OK);
    CHECK_EQ_INT(aether_get_num_threads(), 4);
    /* Three callers at once, each fanning out to worker threads. */
    for (i = 0; i < 3; ++i)
        if (pthread_create(&th[i], NULL, kernel_thread, &w[i]) == 0)
            started++;
    CHECK_EQ_INT(started, 3);
    for (i = 0; i < (size_t)started; ++i)
        pthread_join(th[i], NULL);
    for (i = 0; i < (size_t)started; ++i) {
        CHECK_EQ_INT(w[i].errors, 0);
        /* "results are bit-identical for any n" (dispatch.h) */
        CHECK(memcmp(w[i].out, ref.out, sizeof ref.out) == 0);
        CHECK(memcmp(w[i].dense, ref.dense, sizeof ref.dense) == 0);
    }
    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    aether_model_destroy(g_model);
    free(g_blob);
}

TEST_MAIN(test_independent_contexts, test_threaded_kernels)
