/*
 * Allocation-failure injection. Linked with -Wl,--wrap=malloc,calloc,realloc,
 * free (tests/CMakeLists.txt), so every allocation the library makes goes
 * through the wrappers below, which count outstanding blocks and can make the
 * k-th allocation fail.
 *
 * For every constructor (and every call documented to allocate), the call
 * is repeated with allocation k failing for
 * k = 1, 2, ... until a run reaches no k-th allocation. Every failing run must
 * return AETHER_ERR_NO_MEM (ESP_ERR_NO_MEM for the firmware ABI), leave the
 * outstanding-block count where it was (no leak), and leave the out pointer
 * NULL / the output untouched (no half-built object). The successful run is
 * then torn down and must also balance.
 *
 * Test code itself calls the wrapped allocator too, so every buffer the
 * cases need is prepared before injection is armed.
 *
 * The forwards below the *_create layer make no allocation at all: on the
 * caller's workspace they succeed with the first allocation armed to fail
 * and no allocation call made (NO_ALLOC), and a NULL workspace is
 * AETHER_ERR_NULL_ARG, not an allocation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/features.h"
#include "aether/gate.h"
#include "aether/head.h"
#include "aether/kvcache.h"
#include "aether/model.h"
#include "aether/npy.h"
#include "aether/tensor.h"
#include "check.h"
#include "ruv_temporal.h"
#ifdef AETHER_ALLOC_HOST
#include "aether/csi.h"
#include "aether/recording.h"
#endif

#ifdef AETHER_ALLOC_WRAP
/* ---------------- wrapped allocator ---------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static long g_outstanding; /* live blocks handed out through the wrappers */
static long g_calls;       /* allocation calls since arming */
static long g_fail_at;     /* 1-based call to fail; 0 = never */
static int g_failed;       /* the armed failure happened */

static int inject(void)
{
    g_calls++;
    if (g_fail_at > 0 && g_calls == g_fail_at) {
        g_failed = 1;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    void *p;
    if (inject())
        return NULL;
    p = __real_malloc(n);
    if (p)
        g_outstanding++;
    return p;
}

void *__wrap_calloc(size_t n, size_t m)
{
    void *p;
    if (inject())
        return NULL;
    p = __real_calloc(n, m);
    if (p)
        g_outstanding++;
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    void *q;
    if (inject())
        return NULL; /* the old block stays valid, as with a real failure */
    q = __real_realloc(p, n);
    if (q && !p)
        g_outstanding++;
    if (!q && p && n == 0)
        g_outstanding--;
    return q;
}

void __wrap_free(void *p)
{
    if (p)
        g_outstanding--;
    __real_free(p);
}

/* ---------------- the sweep ---------------- */

/* One case: run() performs the call under test and, on success, tears the
 * result down. It returns the call's status (as int, so esp_err_t fits) and
 * sets *half_built when an output was written despite the failure. */
typedef int (*case_fn)(void *ctx, int *half_built);

typedef struct sweep_result {
    const char *name;
    long allocations; /* allocations of the successful run */
} sweep_result;

static sweep_result g_results[64];
static size_t g_n_results;

/* fallback_ok: the call may absorb the failure by taking an allocation-free
 * path (the dense kernel falls back from its SIMD scratch to the scalar
 * reference), so success is also acceptable on a failing run. */
static void sweep(const char *name, case_fn run, void *ctx, int ok_code, int nomem_code,
                  int fallback_ok)
{
    long k, allocs = -1;
    int bad = 0;
    for (k = 1; k < 100000; ++k) {
        long before = g_outstanding;
        int half = 0, st;
        g_calls = 0;
        g_failed = 0;
        g_fail_at = k;
        st = run(ctx, &half);
        g_fail_at = 0;
        if (!g_failed) {
            /* k exceeds the call's allocations: it must have succeeded. */
            CHECK_MSG(st == ok_code, "%s: unfailed run returned %d", name, st);
            CHECK_MSG(g_outstanding == before, "%s: success path leaked %ld blocks", name,
                      g_outstanding - before);
            allocs = g_calls;
            break;
        }
        if (fallback_ok && st == ok_code && g_outstanding == before)
            continue;
        if (st != nomem_code || g_outstanding != before || half) {
            if (bad++ < 3)
                fprintf(stderr, "%s: allocation %ld failed -> status %d, leaked %ld, half %d\n",
                        name, k, st, g_outstanding - before, half);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d bad failure runs", name, bad);
    /* A fallback-capable call may have nothing to allocate at all (the dense
     * scalar path on builds without SIMD kernels); it must still succeed. */
    CHECK_MSG(allocs >= 1 || (fallback_ok && allocs == 0 && g_calls == 0),
              "%s: never allocated (or never succeeded)", name);
    if (g_n_results < sizeof g_results / sizeof g_results[0]) {
        g_results[g_n_results].name = name;
        g_results[g_n_results].allocations = allocs;
        g_n_results++;
    }
}

#define SWEEP(name, fn, ctx) sweep(name, fn, ctx, AETHER_OK, AETHER_ERR_NO_MEM, 0)
#define SWEEP_FALLBACK(name, fn, ctx) sweep(name, fn, ctx, AETHER_OK, AETHER_ERR_NO_MEM, 1)
#define SWEEP_ESP(name, fn, ctx) sweep(name, fn, ctx, ESP_OK, ESP_ERR_NO_MEM, 0)

/* A call on caller memory: with the first allocation armed to fail it
 * succeeds and makes no allocation call; with a NULL workspace (the case
 * reads g_fx.mode) it is AETHER_ERR_NULL_ARG with the output untouched
 * ("half" stays 0) and again no allocation call. */
static void no_alloc(const char *name, case_fn run, void *ctx, int *mode)
{
    long before = g_outstanding;
    int half = 0, st;
    g_calls = 0;
    g_failed = 0;
    g_fail_at = 1;
    st = run(ctx, &half);
    CHECK_MSG(st == AETHER_OK && g_calls == 0 && !g_failed,
              "%s: status %d, %ld allocation call(s) on caller memory", name, st, g_calls);
    *mode = 1;
    g_calls = 0;
    st = run(ctx, &half);
    *mode = 0;
    g_fail_at = 0;
    CHECK_MSG(st == AETHER_ERR_NULL_ARG && g_calls == 0 && !half,
              "%s, ws NULL: status %d, %ld allocation call(s), half %d", name, st, g_calls, half);
    CHECK_EQ_INT(g_outstanding, before);
}

/* ---------------- shared fixtures (built before arming) ---------------- */

typedef struct fixture {
    unsigned char *blob;
    size_t blob_len;
    aether_blob_view view;
    aether_model *model;
    unsigned char *npy;
    size_t npy_len;
    char npy_path[256];
    float frames[8 * 16];
    aether_attn_config attn;
    aether_head head_sparse, head_dense;
    aether_fastgrnn *gate;
    void *ws; /* one workspace for every forward case (largest query) */
    size_t ws_len;
    unsigned char *npz;
    size_t npz_len;
    int mode; /* case-specific selector */
} fixture;

static fixture g_fx;

static int setup(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_attn_params ap = aether_attn_params_default();
    aether_head_config hc = aether_head_config_default_aether();
    size_t n = 0, i;
    float data[24];
    size_t shape[3] = {2, 3, 4};
    FILE *f;

    p.n_layers = 1; /* keep the shape small; I = 16, 4 classes */
    if (aether_blob_demo_size(&p, &n) != AETHER_OK)
        return 0;
    g_fx.blob = (unsigned char *)malloc(n);
    if (!g_fx.blob || aether_blob_demo_write(&p, g_fx.blob, n, &g_fx.blob_len) != AETHER_OK)
        return 0;
    if (aether_blob_parse(g_fx.blob, g_fx.blob_len, &g_fx.view) != AETHER_OK)
        return 0;
    if (aether_model_create(&g_fx.view, NULL, AETHER_MODEL_COPY, &g_fx.model) != AETHER_OK)
        return 0;
    for (i = 0; i < 24; ++i)
        data[i] = (float)i * 0.5f;
    if (aether_npy_encode(AETHER_DTYPE_F32, 3, shape, data, &g_fx.npy, &g_fx.npy_len) !=
        AETHER_OK)
        return 0;
    snprintf(g_fx.npy_path, sizeof g_fx.npy_path, "alloc_failure_%ld.npy", (long)sizeof(void *));
    f = fopen(g_fx.npy_path, "wb");
    if (!f)
        return 0;
    fwrite(g_fx.npy, 1, g_fx.npy_len, f);
    fclose(f);
    for (i = 0; i < 8 * 16; ++i)
        g_fx.frames[i] = (float)((int)(i % 9) - 4) * 0.125f;
    ap.window = 4;
    ap.block_size = 4;
    if (aether_attn_config_init(&g_fx.attn, &ap) != AETHER_OK)
        return 0;
    if (aether_head_init(&g_fx.head_sparse, &hc) != AETHER_OK)
        return 0;
    hc.backend = AETHER_HEAD_DENSE;
    if (aether_head_init(&g_fx.head_dense, &hc) != AETHER_OK)
        return 0;
    if (aether_fastgrnn_create(4, 8, AETHER_FASTGRNN_SEED_REFERENCE, &g_fx.gate) != AETHER_OK)
        return 0;
    {
        size_t sizes[5] = {0, 0, 0, 0, 0};
        if (aether_model_forward_workspace_size(g_fx.model, 8, &sizes[0]) != AETHER_OK ||
            aether_head_forward_workspace_size(&g_fx.head_sparse, 6, &sizes[1]) != AETHER_OK ||
            aether_head_forward_workspace_size(&g_fx.head_dense, 6, &sizes[2]) != AETHER_OK ||
            aether_attn_forward_workspace_size(&g_fx.attn, 40, 2, 2, 8, &sizes[3]) != AETHER_OK ||
            aether_attn_forward_workspace_size(&g_fx.attn, 40, 2, 1, 8, &sizes[4]) != AETHER_OK)
            return 0;
        for (i = 0; i < 5; ++i)
            if (sizes[i] > g_fx.ws_len)
                g_fx.ws_len = sizes[i];
        if (!(g_fx.ws = malloc(g_fx.ws_len)))
            return 0;
    }
#ifdef AETHER_ALLOC_HOST
    /* A small synthetic .npz from the fuzz seed corpus. */
    f = fopen(AETHER_SOURCE_DIR "/fuzz/corpus/npz/full.npz", "rb");
    if (f) {
        long n2;
        fseek(f, 0, SEEK_END);
        n2 = ftell(f);
        fseek(f, 0, SEEK_SET);
        g_fx.npz = (unsigned char *)malloc(n2 > 0 ? (size_t)n2 : 1);
        if (g_fx.npz)
            g_fx.npz_len = fread(g_fx.npz, 1, (size_t)n2, f);
        fclose(f);
    }
#endif
    return 1;
}

static void teardown(void)
{
    aether_fastgrnn_destroy(g_fx.gate);
    aether_model_destroy(g_fx.model);
    free(g_fx.ws);
    free(g_fx.npz);
    free(g_fx.npy);
    free(g_fx.blob);
    remove(g_fx.npy_path);
}

/* ---------------- cases ---------------- */

static int case_tensor_zeros(void *ctx, int *half)
{
    aether_tensor t;
    aether_status st;
    (void)ctx;
    memset(&t, 0, sizeof t);
    st = aether_tensor_zeros(&t, 3, 2, 5);
    if (st != AETHER_OK) {
        *half = t.data != NULL || t.owned_ != NULL;
        return st;
    }
    aether_tensor_free(&t);
    return st;
}

static int case_npy_parse(void *ctx, int *half)
{
    aether_npy a;
    aether_status st;
    (void)ctx;
    st = aether_npy_parse(g_fx.npy, g_fx.npy_len, &a);
    if (st != AETHER_OK) {
        *half = a.data != NULL;
        return st;
    }
    aether_npy_free(&a);
    return st;
}

static int case_npy_load(void *ctx, int *half)
{
    aether_npy a;
    aether_status st;
    (void)ctx;
    st = aether_npy_load(g_fx.npy_path, &a);
    if (st != AETHER_OK) {
        *half = a.data != NULL;
        return st;
    }
    aether_npy_free(&a);
    return st;
}

static int case_npy_load_tensor(void *ctx, int *half)
{
    aether_tensor t;
    aether_status st;
    (void)ctx;
    memset(&t, 0, sizeof t);
    st = aether_npy_load_tensor(g_fx.npy_path, &t);
    if (st != AETHER_OK) {
        *half = t.data != NULL || t.owned_ != NULL;
        return st;
    }
    aether_tensor_free(&t);
    return st;
}

static int case_npy_encode(void *ctx, int *half)
{
    unsigned char *out = NULL;
    size_t len = 0;
    size_t shape[2] = {3, 4};
    aether_status st;
    (void)ctx;
    st = aether_npy_encode(AETHER_DTYPE_F32, 2, shape, g_fx.frames, &out, &len);
    if (st != AETHER_OK) {
        *half = out != NULL;
        return st;
    }
    free(out);
    return st;
}

static int case_kvcache_create(void *ctx, int *half)
{
    aether_kvcache_params p = aether_kvcache_params_default(&g_fx.attn, 16, 2, 4);
    aether_kvcache *c = NULL;
    aether_status st;
    p.evict = (aether_kv_evict)(*(int *)ctx);
    if (p.evict == AETHER_KV_EVICT_SCORED)
        p.protect_recent = 2;
    st = aether_kvcache_create(&p, &c);
    if (st != AETHER_OK) {
        *half = c != NULL;
        return st;
    }
    aether_kvcache_destroy(c);
    return st;
}

static int case_model_create(void *ctx, int *half)
{
    aether_model *m = NULL;
    aether_status st = aether_model_create(&g_fx.view, NULL, (aether_model_weights)(*(int *)ctx),
                                           &m);
    if (st != AETHER_OK) {
        *half = m != NULL;
        return st;
    }
    aether_model_destroy(m);
    return st;
}

static int case_session_create(void *ctx, int *half)
{
    aether_model_session *s = NULL;
    aether_session_params p = aether_model_session_params_default();
    aether_status st;
    p.capacity = 64; /* SCORED needs more than globals + window (1 + 32) */
    p.evict = (aether_kv_evict)(*(int *)ctx);
    st = aether_model_session_create(g_fx.model, &p, &s);
    if (st != AETHER_OK) {
        *half = s != NULL;
        return st;
    }
    aether_model_session_destroy(s);
    return st;
}

/* The forward cases' workspace: the fixture's, or NULL when g_fx.mode is 1. */
#define FX_WS (g_fx.mode ? NULL : g_fx.ws), (g_fx.mode ? 0 : g_fx.ws_len)

static int case_model_forward(void *ctx, int *half)
{
    float logits[4] = {7, 7, 7, 7};
    aether_status st = aether_model_forward(g_fx.model, g_fx.frames, 8,
                                            (aether_pool)(*(int *)ctx), logits, NULL, FX_WS);
    if (st != AETHER_OK)
        *half = logits[0] != 7 || logits[1] != 7 || logits[2] != 7 || logits[3] != 7;
    return st;
}

static int case_head_forward(void *ctx, int *half)
{
    /* q [6, 4, 32], k/v [6, 1, 32]: fixtures sized in the case itself would
     * allocate under injection, so static storage is used. */
    static float q[6 * 4 * 32], k[6 * 32], v[6 * 32], o[6 * 4 * 32];
    aether_tensor qt, kt, vt, ot;
    const aether_head *h = *(int *)ctx ? &g_fx.head_dense : &g_fx.head_sparse;
    size_t i;
    aether_status st;
    for (i = 0; i < sizeof q / sizeof q[0]; ++i) {
        q[i] = (float)(i % 5) * 0.1f;
        o[i] = 9.0f;
    }
    for (i = 0; i < sizeof k / sizeof k[0]; ++i) {
        k[i] = (float)(i % 3) * 0.2f;
        v[i] = (float)(i % 7) * 0.3f;
    }
    aether_tensor_view(&qt, q, 6 * 4 * 32, 6, 4, 32);
    aether_tensor_view(&kt, k, 6 * 32, 6, 1, 32);
    aether_tensor_view(&vt, v, 6 * 32, 6, 1, 32);
    aether_tensor_view(&ot, o, 6 * 4 * 32, 6, 4, 32);
    st = aether_head_forward(h, &qt, &kt, &vt, &ot, FX_WS);
    if (st != AETHER_OK)
        *half = o[0] != 9.0f;
    return st;
}

static int case_attn_forward(void *ctx, int *half)
{
    static float q[40 * 2 * 8], k[40 * 2 * 8], v[40 * 2 * 8], o[40 * 2 * 8];
    aether_tensor qt, kt, vt, ot;
    size_t i, kvh = *(int *)ctx ? 1 : 2;
    aether_status st;
    for (i = 0; i < sizeof q / sizeof q[0]; ++i) {
        q[i] = (float)(i % 11) * 0.05f;
        k[i] = (float)(i % 7) * 0.1f;
        v[i] = (float)(i % 5) * 0.2f;
        o[i] = 9.0f;
    }
    aether_tensor_view(&qt, q, 40 * 2 * 8, 40, 2, 8);
    aether_tensor_view(&kt, k, 40 * kvh * 8, 40, kvh, 8);
    aether_tensor_view(&vt, v, 40 * kvh * 8, 40, kvh, 8);
    aether_tensor_view(&ot, o, 40 * 2 * 8, 40, 2, 8);
    st = kvh == 2 ? aether_attn_forward(&g_fx.attn, &qt, &kt, &vt, &ot, FX_WS)
                  : aether_attn_forward_gqa(&g_fx.attn, &qt, &kt, &vt, &ot, FX_WS);
    if (st != AETHER_OK)
        *half = o[0] != 9.0f;
    return st;
}

static int case_npy_save(void *ctx, int *half)
{
    size_t shape[2] = {4, 4};
    (void)ctx;
    (void)half;
    return aether_npy_save(g_fx.npy_path, AETHER_DTYPE_F32, 2, shape, g_fx.frames);
}

static int case_head_make_cache(void *ctx, int *half)
{
    aether_kvcache *c = NULL;
    aether_status st;
    (void)ctx;
    st = aether_head_make_cache(&g_fx.head_sparse, 40, &c);
    if (st != AETHER_OK) {
        *half = c != NULL;
        return st;
    }
    aether_kvcache_destroy(c);
    return st;
}

static int case_fastgrnn_create(void *ctx, int *half)
{
    aether_fastgrnn *g = NULL;
    aether_status st;
    (void)ctx;
    st = aether_fastgrnn_create(6, 10, AETHER_FASTGRNN_SEED_DISJOINT, &g);
    if (st != AETHER_OK) {
        *half = g != NULL;
        return st;
    }
    aether_fastgrnn_destroy(g);
    return st;
}

static int case_causal_gate_create(void *ctx, int *half)
{
    aether_causal_gate *cg = NULL;
    aether_causal_params p;
    aether_status st;
    (void)ctx;
    memset(&p, 0, sizeof p);
    p.rule = (aether_causal_rule)0;
    p.top_k = 4;
    p.threshold = 0.5f;
    st = aether_causal_gate_create(g_fx.gate, &p, 2, &cg);
    if (st != AETHER_OK) {
        *half = cg != NULL;
        return st;
    }
    aether_causal_gate_destroy(cg);
    return st;
}

static int case_features_create(void *ctx, int *half)
{
    aether_features_config cfg = aether_features_config_default();
    aether_features *f = NULL;
    aether_status st;
    (void)ctx;
    st = aether_features_create(&cfg, &f);
    if (st != AETHER_OK) {
        *half = f != NULL;
        return st;
    }
    aether_features_destroy(f);
    return st;
}

static int case_norm_create(void *ctx, int *half)
{
    aether_norm_config cfg = aether_norm_config_default(16);
    aether_feature_norm *n = NULL;
    aether_status st;
    (void)ctx;
    st = aether_norm_create(&cfg, &n);
    if (st != AETHER_OK) {
        *half = n != NULL;
        return st;
    }
    aether_norm_destroy(n);
    return st;
}

static int case_ruv_init(void *ctx, int *half)
{
    ruv_temporal_ctx_t *c = NULL;
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    esp_err_t st;
    int mode = *(int *)ctx;
    if (mode == 0) {
        st = ruv_temporal_init(g_fx.blob, g_fx.blob_len, 16, 32, 4, &c);
    } else {
        cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
        cfg.weights = mode == 2 ? RUV_TEMPORAL_WEIGHTS_COPY
                                : RUV_TEMPORAL_WEIGHTS_BORROW_IF_POSSIBLE;
        st = ruv_temporal_init_ex(g_fx.blob, g_fx.blob_len, 16, 32, 4, &cfg, &c);
    }
    if (st != ESP_OK) {
        *half = c != NULL;
        return st;
    }
    /* The hot path must not allocate at all. */
    {
        long calls0 = g_calls;
        float logits[4];
        int i;
        for (i = 0; i < 40; ++i)
            if (ruv_temporal_push(c, g_fx.frames + (i % 8) * 16) != ESP_OK)
                *half = 1;
        if (ruv_temporal_classify(c, logits, 4) != ESP_OK)
            *half = 1;
        if (g_calls != calls0)
            *half = 1;
    }
    ruv_temporal_destroy(c);
    return st;
}

#ifdef AETHER_ALLOC_HOST
static const char g_jsonl[] =
    "{\"timestamp\":1.5,\"subcarriers\":[0.0,1.0,2.0,3.0,4.0,5.0,6.0,7.0]}\n"
    "{\"timestamp\":1.6,\"subcarriers\":[1.0,1.0,2.0,3.0,4.0,5.0,6.0,7.0]}\n";

static int case_recording_jsonl(void *ctx, int *half)
{
    aether_recording *rec = NULL;
    aether_csi_frame f;
    aether_status st;
    int n = 0;
    (void)ctx;
    st = aether_recording_open_memory(g_jsonl, sizeof g_jsonl - 1, NULL, &rec);
    if (st != AETHER_OK) {
        *half = rec != NULL;
        return st;
    }
    while ((st = aether_recording_next(rec, &f)) == AETHER_OK)
        n++;
    aether_recording_close(rec);
    if (st != AETHER_ERR_END)
        return st;
    return n == 2 ? AETHER_OK : AETHER_ERR_STATE;
}

static int case_recording_npz(void *ctx, int *half)
{
    aether_recording *rec = NULL;
    aether_csi_frame f;
    aether_status st;
    int n = 0;
    (void)ctx;
    st = aether_recording_open_memory(g_fx.npz, g_fx.npz_len, NULL, &rec);
    if (st != AETHER_OK) {
        *half = rec != NULL;
        return st;
    }
    while ((st = aether_recording_next(rec, &f)) == AETHER_OK)
        n++;
    /* The reader treats a scalar member it cannot load (metadata such as
     * label) as a damaged record: it carries on and lists the error. An
     * allocation failure there counts as reported when it is listed with
     * status NO_MEM. */
    {
        const aether_recording_stats *stats = aether_recording_get_stats(rec);
        size_t i;
        int reported = 0;
        for (i = 0; stats && i < stats->n_errors; ++i)
            if (stats->errors[i].status == AETHER_ERR_NO_MEM)
                reported = 1;
        aether_recording_close(rec);
        if (st == AETHER_ERR_END && reported)
            return AETHER_ERR_NO_MEM;
    }
    if (st != AETHER_ERR_END)
        return st;
    return n == 6 ? AETHER_OK : AETHER_ERR_STATE;
}
#endif

static void test_constructors(void)
{
    static int policies[4] = {0, 1, 2, 3};
    static int weights[2] = {AETHER_MODEL_COPY, AETHER_MODEL_BORROW_IF_POSSIBLE};
    static int session_policies[3] = {AETHER_KV_EVICT_NONE, AETHER_KV_EVICT_SLIDING,
                                      AETHER_KV_EVICT_SCORED};
    static int pools[2] = {AETHER_POOL_LAST, AETHER_POOL_MEAN};
    static int backends[2] = {0, 1};
    static int ruv_modes[3] = {0, 1, 2};
    static const char *const kv_names[4] = {"kvcache_create(none)", "kvcache_create(sliding)",
                                            "kvcache_create(scored)", "kvcache_create(h2o)"};
    static const char *const ruv_names[3] = {"ruv_temporal_init",
                                             "ruv_temporal_init_ex(stream,borrow)",
                                             "ruv_temporal_init_ex(stream,copy)"};
    size_t i;
    int zero = 0;
    long base;

    CHECK(setup());
    base = g_outstanding;
    SWEEP("tensor_zeros", case_tensor_zeros, &zero);
    SWEEP("npy_parse", case_npy_parse, &zero);
    SWEEP("npy_load", case_npy_load, &zero);
    SWEEP("npy_load_tensor", case_npy_load_tensor, &zero);
    SWEEP("npy_encode", case_npy_encode, &zero);
    for (i = 0; i < 4; ++i)
        SWEEP(kv_names[i], case_kvcache_create, &policies[i]);
    SWEEP("model_create(copy)", case_model_create, &weights[0]);
    SWEEP("model_create(borrow_if_possible)", case_model_create, &weights[1]);
    SWEEP("session_create(none)", case_session_create, &session_policies[0]);
    SWEEP("session_create(sliding)", case_session_create, &session_policies[1]);
    SWEEP("session_create(scored)", case_session_create, &session_policies[2]);
    no_alloc("model_forward(last)", case_model_forward, &pools[0], &g_fx.mode);
    no_alloc("model_forward(mean)", case_model_forward, &pools[1], &g_fx.mode);
    no_alloc("head_forward(sparse)", case_head_forward, &backends[0], &g_fx.mode);
    no_alloc("head_forward(dense)", case_head_forward, &backends[1], &g_fx.mode);
    SWEEP("head_make_cache", case_head_make_cache, &zero);
    no_alloc("attn_forward", case_attn_forward, &backends[0], &g_fx.mode);
    no_alloc("attn_forward_gqa", case_attn_forward, &backends[1], &g_fx.mode);
    SWEEP("npy_save", case_npy_save, &zero);
    SWEEP("fastgrnn_create", case_fastgrnn_create, &zero);
    SWEEP("causal_gate_create", case_causal_gate_create, &zero);
    SWEEP("features_create", case_features_create, &zero);
    SWEEP("norm_create", case_norm_create, &zero);
    for (i = 0; i < 3; ++i)
        SWEEP_ESP(ruv_names[i], case_ruv_init, &ruv_modes[i]);
#ifdef AETHER_ALLOC_HOST
    SWEEP("recording_open_memory(jsonl)+next", case_recording_jsonl, &zero);
    CHECK(g_fx.npz != NULL);
    if (g_fx.npz)
        SWEEP("recording_open_memory(npz)+next", case_recording_npz, &zero);
#endif
    CHECK_EQ_INT(g_outstanding, base);
    teardown();
    for (i = 0; i < g_n_results; ++i)
        printf("  %-40s %ld allocation(s), each failed once\n", g_results[i].name,
               g_results[i].allocations);
}

/* The wrappers themselves: a failed allocation is not counted, frees are. */
static void test_wrappers(void)
{
    /* Through volatile pointers: the compiler may not elide the pairs. */
    void *(*volatile do_malloc)(size_t) = malloc;
    void *(*volatile do_realloc)(void *, size_t) = realloc;
    void (*volatile do_free)(void *) = free;
    long before = g_outstanding;
    void *p;
    g_calls = 0;
    g_fail_at = 1;
    g_failed = 0;
    p = do_malloc(16);
    g_fail_at = 0;
    CHECK(p == NULL && g_failed);
    CHECK_EQ_INT(g_outstanding, before);
    p = do_malloc(16);
    CHECK(p != NULL);
    CHECK_EQ_INT(g_outstanding, before + 1);
    p = do_realloc(p, 64);
    CHECK_EQ_INT(g_outstanding, before + 1);
    do_free(p);
    CHECK_EQ_INT(g_outstanding, before);
}

TEST_MAIN(test_wrappers, test_constructors)
#else
/* The linker cannot wrap malloc here (tests/CMakeLists.txt sets
 * AETHER_ALLOC_WRAP where it can): nothing to inject into. */
int main(void)
{
    printf("test_alloc_failure: allocator wrapping unavailable; skipped\n");
    return 0;
}
#endif
