/*
 * A firmware-like program over the ruv_temporal ABI, run bare metal under
 * qemu-system by scripts/baremetal.sh (one build per target):
 *
 *   1. ruv_temporal_kernel_self_test() must return ESP_OK;
 *   2. every model of bm_models[] (embedded in models.S) runs through every
 *      variant of bm_variants[] in WINDOW and STREAMING mode on a recorded
 *      feature sequence; the logits must match the host `aether classify`
 *      (window) and `aether stream` (streaming) within the variant's
 *      contract;
 *   3. the golden temporal-head cases listed in golden.txt (those that fit
 *      the stage's memory budget) must match the recorded outputs within the
 *      kernel contract;
 *   4. it prints instructions per push / classify, stack high-water marks
 *      and context sizes as "BM ..." lines that the script collects.
 *
 * Test data (feature frames, host logits, goldens) is read from the working
 * directory through semihosting: see scripts/baremetal.sh for the formats.
 * Exit status 0 when everything matched, 1 otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/head.h"
#include "aether/kvcache.h"
#include "aether/npy.h"
#include "bm_port.h"
#include "bm_profile.h"
#include "edge/edge_internal.h" /* the self test's parts: its deviation */
#include "ruv_temporal.h"

/* ---------------------------------------------------------- embedded models */

extern const unsigned char bm_blob_gesture[], bm_blob_gesture_end[];
extern const unsigned char bm_blob_motion[], bm_blob_motion_end[];
extern const unsigned char bm_blob_default[], bm_blob_default_end[];
extern const unsigned char bm_qblob_gesture[], bm_qblob_gesture_end[];
extern const unsigned char bm_qblob_motion[], bm_qblob_motion_end[];
extern const unsigned char bm_qblob_default[], bm_qblob_default_end[];

typedef struct bm_model {
    const char *name; /* file prefix of its test data */
    const unsigned char *blob, *blob_end;
    const unsigned char *qblob, *qblob_end; /* the same model quantized (RVNQ) */
} bm_model;

static const bm_model bm_models[] = {
    {"gesture", bm_blob_gesture, bm_blob_gesture_end, bm_qblob_gesture, bm_qblob_gesture_end},
    {"motion", bm_blob_motion, bm_blob_motion_end, bm_qblob_motion, bm_qblob_motion_end},
    {"default", bm_blob_default, bm_blob_default_end, bm_qblob_default, bm_qblob_default_end},
};
#define BM_N_MODELS (sizeof bm_models / sizeof bm_models[0])

/* ---------------------------------------------------------- model variants */

/* One inference path: how to open a context on a model, push, classify,
 * close, and the numeric contract its logits keep against the host's
 * reference logits. Another path (a quantized blob and its calls) is one
 * more row with its own four functions. */
typedef struct bm_variant {
    const char *name;
    int (*open)(const bm_model *m, int streaming, uint32_t window_len, int pool_mean,
                void **ctx, size_t *ctx_bytes);
    int (*push)(void *ctx, const float *frame);
    int (*classify)(void *ctx, float *logits, uint32_t n_classes);
    void (*close)(void *ctx);
    /* |got - ref| <= rel * max_i |ref_i| + abs, per frame's logit vector */
    float rel, abs;
    int streaming_only; /* a cache option: WINDOW mode has no cache */
} bm_variant;

static int open_blob(const bm_model *m, const unsigned char *blob, size_t blob_len,
                     int streaming, uint32_t window_len, int pool_mean, int cache, void **ctx,
                     size_t *ctx_bytes)
{
    ruv_temporal_config_t c = ruv_temporal_config_default();
    ruv_temporal_info_t info;
    ruv_temporal_ctx_t *t = NULL;
    esp_err_t e;
    c.mode = streaming ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
    c.pooling = pool_mean ? RUV_TEMPORAL_POOL_MEAN : RUV_TEMPORAL_POOL_LAST;
    c.cache_storage = cache;
    /* input_dim / n_classes RUV_TEMPORAL_DEFAULT: taken from the blob */
    e = ruv_temporal_init_ex(blob, blob_len, RUV_TEMPORAL_DEFAULT, window_len,
                             RUV_TEMPORAL_DEFAULT, &c, &t);
    if (e != ESP_OK) {
        printf("BM FAIL %s: ruv_temporal_init_ex -> 0x%x\n", m->name, (unsigned)e);
        return 0;
    }
    if (ruv_temporal_get_info(t, &info) != ESP_OK) {
        ruv_temporal_destroy(t);
        return 0;
    }
    *ctx_bytes = info.ctx_bytes;
    *ctx = t;
    return 1;
}

static int f32_open(const bm_model *m, int streaming, uint32_t window_len, int pool_mean,
                    void **ctx, size_t *ctx_bytes)
{
    return open_blob(m, m->blob, (size_t)(m->blob_end - m->blob), streaming, window_len,
                     pool_mean, RUV_TEMPORAL_CACHE_F32, ctx, ctx_bytes);
}

/* The f32 model with int8 K/V caches (a quarter of the cache memory) */
static int i8_open(const bm_model *m, int streaming, uint32_t window_len, int pool_mean,
                   void **ctx, size_t *ctx_bytes)
{
    return open_blob(m, m->blob, (size_t)(m->blob_end - m->blob), streaming, window_len,
                     pool_mean, RUV_TEMPORAL_CACHE_INT8, ctx, ctx_bytes);
}

/* The integer path: the firmware ABI recognises the RVNQ blob */
static int q8_open(const bm_model *m, int streaming, uint32_t window_len, int pool_mean,
                   void **ctx, size_t *ctx_bytes)
{
    return open_blob(m, m->qblob, (size_t)(m->qblob_end - m->qblob), streaming, window_len,
                     pool_mean, RUV_TEMPORAL_CACHE_F32, ctx, ctx_bytes);
}

static int f32_push(void *ctx, const float *frame)
{
    return ruv_temporal_push((ruv_temporal_ctx_t *)ctx, frame) == ESP_OK;
}

static int f32_classify(void *ctx, float *logits, uint32_t n_classes)
{
    return ruv_temporal_classify((ruv_temporal_ctx_t *)ctx, logits, n_classes) == ESP_OK;
}

static void f32_close(void *ctx)
{
    ruv_temporal_destroy((ruv_temporal_ctx_t *)ctx);
}

/* The f32 contract of ruv_temporal.h (logits against `aether classify` /
 * `aether stream` on a host with another C library). */
static const bm_variant bm_variants[] = {
    {"f32", f32_open, f32_push, f32_classify, f32_close, RUV_TEMPORAL_LOGIT_RTOL,
     RUV_TEMPORAL_LOGIT_ATOL, 0},
    /* integer arithmetic: the same bits as the host on every target */
    {"q8", q8_open, f32_push, f32_classify, f32_close, 0.0f, 0.0f, 0},
    /* against `aether stream --kv int8`: the rows' int8 rounding is exact
     * arithmetic, so the f32 contract holds */
    {"i8", i8_open, f32_push, f32_classify, f32_close, RUV_TEMPORAL_LOGIT_RTOL,
     RUV_TEMPORAL_LOGIT_ATOL, 1},
};
#define BM_N_VARIANTS (sizeof bm_variants / sizeof bm_variants[0])

/* ---------------------------------------------------------- stack painting */

#define BM_PAINT_BYTES 12288u
#define BM_PAINT_WORD 0xA5C3E1F7u

/* An address in the caller's frame, close to its stack pointer. */
static __attribute__((noinline)) uintptr_t bm_stack_here(void)
{
    volatile uint32_t mark = 0;
    volatile uintptr_t at = (uintptr_t)&mark; /* the address, not the object */
    return at;
}

static __attribute__((noinline)) void bm_paint(uintptr_t lo, uintptr_t hi)
{
    volatile uint32_t *p;
    for (p = (volatile uint32_t *)lo; (uintptr_t)p < hi; ++p)
        *p = BM_PAINT_WORD;
}

typedef struct bm_stack {
    uintptr_t top, lo;
} bm_stack;

/* Paint BM_PAINT_BYTES below the current frame (leaving 256 bytes for the
 * painter itself); bm_stack_used then finds the deepest word a call wrote. */
static void bm_stack_arm(bm_stack *s)
{
    s->top = bm_stack_here();
    s->lo = (s->top - BM_PAINT_BYTES) & ~(uintptr_t)3;
    bm_paint(s->lo, s->top - 256u);
}

static size_t bm_stack_used(const bm_stack *s)
{
    const volatile uint32_t *p = (const volatile uint32_t *)s->lo;
    while ((uintptr_t)p < s->top - 256u && *p == BM_PAINT_WORD)
        ++p;
    return (size_t)(s->top - (uintptr_t)p);
}

/* ---------------------------------------------------------- test data */

static int failures;

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t got;
        if (n == cap) {
            unsigned char *nb;
            cap = cap ? cap * 2 : 4096;
            nb = (unsigned char *)realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return b;
}

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rd_f32(const unsigned char *p)
{
    uint32_t u = rd_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Distance in units in the last place (same-sign ordering of the bits). */
static uint32_t ulp_diff(float a, float b)
{
    int64_t ia = (int32_t)f32_bits(a), ib = (int32_t)f32_bits(b);
    if (ia < 0)
        ia = (int64_t)INT32_MIN - ia;
    if (ib < 0)
        ib = (int64_t)INT32_MIN - ib;
    return (uint32_t)(ia > ib ? ia - ib : ib - ia);
}

typedef struct bm_err {
    double max_abs, max_rel; /* |d| and |d| / max|ref| of its vector */
    uint32_t max_ulp;
    size_t n_diff, n; /* values not bit-identical, values compared */
    uint32_t digest;  /* FNV-1a over the bits of every value computed */
} bm_err;

/* Compare one vector; 1 when within |d| <= rel * max|ref| + abs. */
static int compare_vec(const float *got, const float *ref, size_t n, float rel, float abs_tol,
                       bm_err *e)
{
    float scale = 0.0f;
    size_t i;
    int ok = 1;
    for (i = 0; i < n; ++i)
        if (fabsf(ref[i]) > scale)
            scale = fabsf(ref[i]);
    for (i = 0; i < n; ++i) {
        float d = fabsf(got[i] - ref[i]);
        double r = scale > 0.0f ? (double)d / scale : (double)d;
        uint32_t u = ulp_diff(got[i], ref[i]);
        if (!(d <= rel * scale + abs_tol))
            ok = 0;
        if (d > e->max_abs)
            e->max_abs = d;
        if (r > e->max_rel)
            e->max_rel = r;
        if (u > e->max_ulp)
            e->max_ulp = u;
        if (f32_bits(got[i]) != f32_bits(ref[i]))
            ++e->n_diff;
        {
            uint32_t b = f32_bits(got[i]), k;
            if (e->n == 0)
                e->digest = 2166136261u;
            for (k = 0; k < 4; ++k)
                e->digest = (e->digest ^ ((b >> (8 * k)) & 0xFFu)) * 16777619u;
        }
        ++e->n;
    }
    return ok;
}

/* ---------------------------------------------------------- model runs */

typedef struct bm_params {
    uint32_t window_len, pool_mean, n_frames;
} bm_params;

static int read_params(const char *name, bm_params *p)
{
    char path[96];
    FILE *f;
    int ok;
    snprintf(path, sizeof path, "%s.params", name);
    f = fopen(path, "r");
    if (!f)
        return 0;
    ok = fscanf(f, "%lu %lu %lu", (unsigned long *)&p->window_len,
                (unsigned long *)&p->pool_mean, (unsigned long *)&p->n_frames) == 3;
    fclose(f);
    return ok;
}

static void report_err(const char *model, const char *variant, const char *mode,
                       const bm_err *e, int ok)
{
    printf("BM CMP model=%s variant=%s mode=%s values=%lu not_identical=%lu max_abs=%.3e "
           "max_rel=%.3e max_ulp=%lu digest=%08lx %s\n",
           model, variant, mode, (unsigned long)e->n, (unsigned long)e->n_diff, e->max_abs,
           e->max_rel, (unsigned long)e->max_ulp, (unsigned long)e->digest,
           ok ? "ok" : "MISMATCH");
}

/* One model through one variant in one mode. */
static void run_model(const bm_model *m, const bm_variant *var, int streaming,
                      const bm_params *prm, const aether_npy *frames, const unsigned char *exp,
                      size_t exp_len)
{
    void *ctx = NULL;
    size_t ctx_bytes = 0, input_dim = frames->shape[1];
    uint32_t n_frames = prm->n_frames, n_classes, n_ck, ck = 0, t;
    uint64_t push_sum = 0, push_max = 0, push_full_sum = 0, cls_max = 0, cls_last = 0;
    uint32_t push_full_n = 0;
    size_t push_stack = 0, cls_stack = 0, rec;
    float logits[16], ref[16];
    bm_err err;
    int ok = 1;
    long first_diff = -1; /* first frame whose logits are not bit-identical */
    const char *mode = streaming ? "streaming" : "window";
    /* the profile build profiles the default model's streaming pushes */
    int profile = streaming && !strcmp(m->name, "default");

    memset(&err, 0, sizeof err);
    if (exp_len < 8) {
        printf("BM FAIL %s: expected logits file too short\n", m->name);
        ++failures;
        return;
    }
    n_ck = rd_u32(exp);
    n_classes = rd_u32(exp + 4);
    rec = (streaming ? 0 : 4) + 4u * n_classes;
    if (n_classes > 16 || exp_len < 8 + (size_t)n_ck * rec || n_frames > frames->shape[0]) {
        printf("BM FAIL %s: expected logits file malformed\n", m->name);
        ++failures;
        return;
    }
    if (!var->open(m, streaming, prm->window_len, streaming ? 0 : (int)prm->pool_mean, &ctx,
                   &ctx_bytes)) {
        ++failures;
        return;
    }
    for (t = 0; t < n_frames && ok; ++t) {
        const float *frame = (const float *)frames->data + (size_t)t * input_dim;
        const unsigned char *e = NULL;
        bm_stack st;
        uint64_t c0, c1;
        int r;
        bm_stack_arm(&st);
        if (profile)
            bm_profile_start();
        c0 = bm_count();
        r = var->push(ctx, frame);
        c1 = bm_count();
        bm_profile_stop();
        if (bm_stack_used(&st) > push_stack)
            push_stack = bm_stack_used(&st);
        if (!r) {
            printf("BM FAIL %s %s: push %lu failed\n", m->name, mode, (unsigned long)t);
            ok = 0;
            break;
        }
        push_sum += c1 - c0;
        if (c1 - c0 > push_max)
            push_max = c1 - c0;
        if (t >= prm->window_len) {
            push_full_sum += c1 - c0;
            ++push_full_n;
        }
        if (streaming) {
            if (t < n_ck)
                e = exp + 8 + (size_t)t * rec;
        } else if (ck < n_ck && rd_u32(exp + 8 + (size_t)ck * rec) == t) {
            e = exp + 8 + (size_t)ck * rec + 4;
            ++ck;
        }
        if (!e)
            continue;
        {
            uint32_t i;
            bm_stack_arm(&st);
            c0 = bm_count();
            r = var->classify(ctx, logits, n_classes);
            c1 = bm_count();
            if (bm_stack_used(&st) > cls_stack)
                cls_stack = bm_stack_used(&st);
            if (!r) {
                printf("BM FAIL %s %s: classify at %lu failed\n", m->name, mode,
                       (unsigned long)t);
                ok = 0;
                break;
            }
            cls_last = c1 - c0;
            if (cls_last > cls_max)
                cls_max = cls_last;
            for (i = 0; i < n_classes; ++i)
                ref[i] = rd_f32(e + 4u * i);
            if (first_diff < 0 && memcmp(logits, ref, n_classes * sizeof *ref) != 0)
                first_diff = (long)t;
            if (!compare_vec(logits, ref, n_classes, var->rel, var->abs, &err)) {
                if (ok)
                    printf("BM first mismatch %s %s at frame %lu: got %.9g want %.9g\n",
                           m->name, mode, (unsigned long)t, (double)logits[0],
                           (double)ref[0]);
                ok = 0;
            }
        }
    }
#if defined(BM_EXPECT_IDENTICAL)
    /* the host build: the same C library as the CLI, so the same bits */
    if (ok && err.n_diff != 0) {
        printf("BM FAIL %s %s: %lu logits differ from the host CLI's bits\n", m->name, mode,
               (unsigned long)err.n_diff);
        ok = 0;
    }
#endif
    if (ok && (streaming ? err.n != (size_t)n_ck * n_classes : ck != n_ck)) {
        printf("BM FAIL %s %s: compared %lu of the expected values\n", m->name, mode,
               (unsigned long)err.n);
        ok = 0;
    }
    var->close(ctx);
    report_err(m->name, var->name, mode, &err, ok);
    if (first_diff >= 0)
        printf("BM NOTE model=%s variant=%s mode=%s first_difference_at_frame=%ld\n", m->name,
               var->name, mode, first_diff);
    if (!ok)
        ++failures;
    printf("BM PERF model=%s variant=%s mode=%s window=%lu frames=%lu ctx_bytes=%lu "
           "push_mean=%lu push_max=%lu push_full_mean=%lu classify_max=%lu classify_last=%lu "
           "stack_push=%lu stack_classify=%lu\n",
           m->name, var->name, mode, (unsigned long)prm->window_len, (unsigned long)n_frames,
           (unsigned long)ctx_bytes, (unsigned long)(n_frames ? push_sum / n_frames : 0),
           (unsigned long)push_max,
           (unsigned long)(push_full_n ? push_full_sum / push_full_n : 0),
           (unsigned long)cls_max, (unsigned long)cls_last, (unsigned long)push_stack,
           (unsigned long)cls_stack);
}

/* Context bytes of each model at a few window lengths, both modes. */
static void report_memory(const bm_model *m)
{
    static const uint32_t lens[] = {64, 128, 256, RUV_TEMPORAL_DEFAULT};
    size_t i;
    int streaming;
    for (streaming = 0; streaming <= 1; ++streaming)
        for (i = 0; i < sizeof lens / sizeof lens[0]; ++i) {
            ruv_temporal_config_t c = ruv_temporal_config_default();
            size_t bytes = 0;
            esp_err_t e;
            c.mode = streaming ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
            e = ruv_temporal_ctx_size_ex(m->blob, (size_t)(m->blob_end - m->blob),
                                         RUV_TEMPORAL_DEFAULT, lens[i], RUV_TEMPORAL_DEFAULT, &c,
                                         &bytes);
            if (e != ESP_OK) {
                printf("BM FAIL %s: ruv_temporal_ctx_size_ex -> 0x%x\n", m->name, (unsigned)e);
                ++failures;
                continue;
            }
            if (lens[i] == RUV_TEMPORAL_DEFAULT)
                printf("BM MEM model=%s mode=%s window=default bytes=%lu\n", m->name,
                       streaming ? "streaming" : "window", (unsigned long)bytes);
            else
                printf("BM MEM model=%s mode=%s window=%lu bytes=%lu\n", m->name,
                       streaming ? "streaming" : "window", (unsigned long)lens[i],
                       (unsigned long)bytes);
        }
}

static void run_models(void)
{
    size_t mi, vi;
    for (mi = 0; mi < BM_N_MODELS; ++mi) {
        const bm_model *m = &bm_models[mi];
        report_memory(m);
        bm_params prm;
        aether_npy frames;
        char path[96];
        int streaming;
        if (!read_params(m->name, &prm)) {
            printf("BM FAIL %s: no %s.params\n", m->name, m->name);
            ++failures;
            continue;
        }
        snprintf(path, sizeof path, "%s.features.npy", m->name);
        if (aether_npy_load(path, &frames) != AETHER_OK || frames.dtype != AETHER_DTYPE_F32 ||
            frames.ndim != 2) {
            printf("BM FAIL %s: cannot read %s\n", m->name, path);
            ++failures;
            continue;
        }
        for (vi = 0; vi < BM_N_VARIANTS; ++vi)
            for (streaming = bm_variants[vi].streaming_only; streaming <= 1; ++streaming) {
                size_t len = 0;
                unsigned char *exp;
                snprintf(path, sizeof path, "%s.%s.%s.bin", m->name, bm_variants[vi].name,
                         streaming ? "stream" : "window");
                exp = (unsigned char *)read_file(path, &len);
                if (!exp) {
                    printf("BM FAIL %s: cannot read %s\n", m->name, path);
                    ++failures;
                    continue;
                }
                run_model(m, &bm_variants[vi], streaming, &prm, &frames, exp, len);
                free(exp);
            }
        aether_npy_free(&frames);
    }
}

/* ---------------------------------------------------------- golden cases */

/* The kernel accuracy contract of aether/dispatch.h for unit-scale inputs,
 * |d| <= 1e-6 + 2e-6 * |ref|, which the goldens (recorded with glibc's expf)
 * must meet on every target. */
#define BM_KERNEL_REL 2e-6f
#define BM_KERNEL_ABS 1e-6f

static int load_f32(const char *dir, const char *name, aether_npy *a, size_t want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    if (aether_npy_load(path, a) != AETHER_OK)
        return 0;
    if (a->dtype != AETHER_DTYPE_F32) {
        aether_npy_free(a);
        return 0;
    }
    if (want) {
        size_t n = 1, i;
        for (i = 0; i < a->ndim; ++i)
            n *= a->shape[i];
        if (n != want) {
            aether_npy_free(a);
            return 0;
        }
    }
    return 1;
}

/* golden.txt: one case per line,
 *   DIR q_heads kv_heads head_dim window block causal dense seq capacity steps */
static void run_golden(void)
{
    FILE *f = fopen("golden.txt", "r");
    char dir[384];
    unsigned long qh, kvh, hd, win, blk, causal, dense, seq, cap, steps;
    if (!f) {
        printf("BM FAIL golden: no golden.txt\n");
        ++failures;
        return;
    }
    while (fscanf(f, "%383s %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", dir, &qh, &kvh, &hd, &win,
                  &blk, &causal, &dense, &seq, &cap, &steps) == 11) {
        aether_head_config hc = aether_head_config_default_aether();
        aether_head h;
        aether_npy q, k, v, want;
        aether_tensor tq, tk, tv, to;
        float *out = NULL;
        void *ws = NULL;
        size_t need = 0, nq = seq * qh * hd, nk = seq * kvh * hd, t;
        const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        bm_err ef, es;
        int ok = 1, have = 0;
        uint64_t c0, c1;

        memset(&ef, 0, sizeof ef);
        memset(&es, 0, sizeof es);
        hc.q_heads = qh;
        hc.kv_heads = kvh;
        hc.head_dim = hd;
        hc.window = win;
        hc.block_size = blk;
        hc.causal = (int)causal;
        hc.backend = dense ? AETHER_HEAD_DENSE : AETHER_HEAD_SPARSE_GQA;
        if (aether_head_init(&h, &hc) != AETHER_OK || !load_f32(dir, "q", &q, nq) ||
            (have = 1, 0) || !load_f32(dir, "k", &k, nk) || (have = 2, 0) ||
            !load_f32(dir, "v", &v, nk) || (have = 3, 0) || !load_f32(dir, "out", &want, nq) ||
            (have = 4, 0)) {
            printf("BM FAIL golden %s: cannot set up\n", name);
            ok = 0;
            goto done;
        }
        out = (float *)malloc(nq * sizeof *out);
        if (!out || aether_head_forward_workspace_size(&h, seq, &need) != AETHER_OK ||
            !(ws = malloc(need ? need : 1))) {
            printf("BM FAIL golden %s: out of memory\n", name);
            ok = 0;
            goto done;
        }
        aether_tensor_view(&tq, (float *)q.data, nq, seq, qh, hd);
        aether_tensor_view(&tk, (float *)k.data, nk, seq, kvh, hd);
        aether_tensor_view(&tv, (float *)v.data, nk, seq, kvh, hd);
        aether_tensor_view(&to, out, nq, seq, qh, hd);
        c0 = bm_count();
        if (aether_head_forward(&h, &tq, &tk, &tv, &to, ws, need) != AETHER_OK) {
            printf("BM FAIL golden %s: forward failed\n", name);
            ok = 0;
            goto done;
        }
        c1 = bm_count();
        /* the kernel contract, per value: |d| <= abs + rel * |ref| */
        for (t = 0; t < nq; ++t) {
            float r = ((const float *)want.data)[t];
            if (!compare_vec(out + t, &r, 1, BM_KERNEL_REL, BM_KERNEL_ABS, &ef))
                ok = 0;
        }
        report_err(name, "head", "forward", &ef, ok);
        printf("BM PERF golden=%s seq=%lu forward=%lu\n", name, seq,
               (unsigned long)(c1 - c0));
        if (steps) {
            aether_npy ws_want;
            aether_kvcache *cache = NULL;
            int sok = 1;
            if (!load_f32(dir, "out_steps", &ws_want, nq)) {
                printf("BM FAIL golden %s: no out_steps\n", name);
                ok = 0;
                goto done;
            }
            if (aether_head_make_cache(&h, cap, &cache) != AETHER_OK)
                sok = 0;
            for (t = 0; sok && t < seq; ++t) {
                aether_tensor q1, k1, v1, o1;
                size_t qw = qh * hd, kw = kvh * hd, i;
                float step_ws[256];
                size_t step_need = 0;
                aether_tensor_view(&q1, (float *)q.data + t * qw, qw, 1, qh, hd);
                aether_tensor_view(&k1, (float *)k.data + t * kw, kw, 1, kvh, hd);
                aether_tensor_view(&v1, (float *)v.data + t * kw, kw, 1, kvh, hd);
                aether_tensor_view(&o1, out + t * qw, qw, 1, qh, hd);
                if (aether_head_step_workspace_size(&h, &step_need) != AETHER_OK ||
                    step_need > sizeof step_ws ||
                    aether_head_step(&h, &q1, &k1, &v1, cache, &o1, step_ws, sizeof step_ws) !=
                        AETHER_OK) {
                    sok = 0;
                    break;
                }
                /* LM_SUM steps against the reference's Welford steps
                 * (conformance: within 1e-6 on the host) */
                for (i = 0; i < qw; ++i) {
                    float r = ((const float *)ws_want.data)[t * qw + i];
                    if (!compare_vec(out + t * qw + i, &r, 1, BM_KERNEL_REL, BM_KERNEL_ABS,
                                     &es))
                        sok = 0;
                }
            }
            aether_kvcache_destroy(cache);
            aether_npy_free(&ws_want);
            report_err(name, "head", "steps", &es, sok);
            if (!sok)
                ok = 0;
        }
    done:
        if (have >= 4)
            aether_npy_free(&want);
        if (have >= 3)
            aether_npy_free(&v);
        if (have >= 2)
            aether_npy_free(&k);
        if (have >= 1)
            aether_npy_free(&q);
        free(out);
        free(ws);
        if (!ok)
            ++failures;
    }
    fclose(f);
}

/* ---------------------------------------------------------- main */

static esp_err_t self_test_result;
static uint64_t self_test_count;

static void self_test_call(void)
{
    uint64_t c0 = bm_count();
    self_test_result = ruv_temporal_kernel_self_test();
    self_test_count = bm_count() - c0;
}

int main(void)
{
    bm_stack st;
    size_t used;
    bm_counter_start();
    printf("BM TARGET counter=%s\n", BM_COUNTER_NAME);
    bm_stack_arm(&st);
    self_test_call();
    used = bm_stack_used(&st);
    printf("BM SELFTEST result=%d instructions=%lu stack=%lu %s\n", (int)self_test_result,
           (unsigned long)self_test_count, (unsigned long)used,
           self_test_result == ESP_OK ? "ok" : "MISMATCH");
    if (self_test_result != ESP_OK)
        ++failures;
    {
        /* how far this C library's expf moves the self test's outputs */
        float q[64], k[64], v[64], out[64];
        size_t g[1];
        aether_attn_params ap = ruv_temporal_self_test_params_(g);
        ruv_temporal_self_test_inputs_(q, k, v);
        if (ruv_temporal_self_test_forward_(&ap, q, k, v, out) == ESP_OK)
            printf("BM SELFTEST deviation=%.3e tolerance=%.3e\n",
                   (double)ruv_temporal_self_test_deviation_(out),
                   (double)ruv_temporal_self_test_tolerance_());
    }
    run_models();
    run_golden();
    bm_profile_print();
    printf("BM RESULT %s (%d failures)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
