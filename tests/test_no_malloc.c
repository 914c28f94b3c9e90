/* Zero-allocation contract of the firmware ABI: with the context in caller
 * memory (ruv_temporal_ctx_size + ruv_temporal_init_static), neither the
 * size query, the init, nor 100,000 push / classify calls in either mode
 * touch the heap, and nothing is written outside the caller's buffer.
 *
 * The build links this program with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc,--wrap=free (GNU ld / lld; tests/CMakeLists.txt) and
 * defines AETHER_WRAP_MALLOC: since libaether is a static archive, every
 * heap call the library makes lands in the counters below. Without the wrap
 * (other linkers, shared builds) the allocation counts are not observable
 * and only the canaries and results are checked.
 *
 * It also prints the working-set bytes of the default shape and the per-call
 * cost of push and classify (informational). Both modes run once with the
 * f32 demo blob and once with its RVNQ form (the integer path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/quant.h"
#include "check.h"
#include "test_util.h"
#include "ruv_temporal.h"

static int g_counting;
static int g_fail;    /* make every allocation fail (failure injection) */
static long g_allocs; /* malloc / calloc / realloc while counting */
static long g_frees;  /* free of a non-NULL pointer while counting */

#if defined(AETHER_WRAP_MALLOC)
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    if (g_counting)
        g_allocs++;
    return g_fail ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    if (g_counting)
        g_allocs++;
    return g_fail ? NULL : __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (g_counting)
        g_allocs++;
    return g_fail ? NULL : __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (g_counting && p)
        g_frees++;
    __real_free(p);
}
#define WRAPPED 1
#else
#define WRAPPED 0
#endif

#define IN 16u
#define NC 4u
#define WINDOW 256u
#define GUARD 64u
#define CALLS 100000L

static int guards_intact(const unsigned char *mem, size_t bytes)
{
    size_t i;
    for (i = 0; i < GUARD; ++i)
        if (mem[i] != 0xA5u || mem[GUARD + bytes + i] != 0x5Au)
            return 0;
    return 1;
}

static void frame_at(float *f, long t)
{
    uint32_t s = (uint32_t)t * 2654435761u + 1u;
    uint32_t i;
    for (i = 0; i < IN; ++i) {
        s = s * 1664525u + 1013904223u;
        f[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

/* The demo blob, or its RVNQ form (the integer path, aether/quant.h). */
static unsigned char *model_blob(int quant, size_t *len)
{
    unsigned char *f = test_demo_blob(len), *q;
    aether_blob_view v;
    size_t n = 0;
    if (!f || !quant)
        return f;
    q = NULL;
    if (aether_blob_parse(f, *len, &v) == AETHER_OK &&
        aether_qblob_quantize_size(&v, &n) == AETHER_OK && (q = (unsigned char *)malloc(n)) &&
        aether_qblob_quantize(&v, q, n, len) != AETHER_OK) {
        free(q);
        q = NULL;
    }
    free(f);
    return q;
}

/* One mode: static init, then rounds of `per_push` pushes and `per_cls`
 * classifies until CALLS calls were made, all counted. Timing is taken per
 * batch (clock() is a system call under emulation). */
static void run_mode_of(ruv_temporal_mode_t mode, long per_push, long per_cls, const char *name,
                        int quant)
{
    size_t len = 0, bytes = 0;
    unsigned char *blob = model_blob(quant, &len), *mem;
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_info_t info;
    float frame[IN], logits[NC];
    long t = 0, i, calls = 0, pushes = 0, classifies = 0, bad = 0;
    clock_t c0, c_push = 0, c_cls = 0;

    CHECK(blob != NULL);
    if (!blob)
        return;
    cfg.mode = mode;
    g_allocs = g_frees = 0;
    g_counting = 1;
    CHECK_EQ_INT(ruv_temporal_ctx_size_ex(blob, len, IN, WINDOW, NC, &cfg, &bytes), ESP_OK);
    g_counting = 0;
    mem = (unsigned char *)malloc(bytes + 2 * GUARD);
    CHECK(mem != NULL);
    if (!mem) {
        free(blob);
        return;
    }
    memset(mem, 0xA5, GUARD);
    memset(mem + GUARD, 0x00, bytes);
    memset(mem + GUARD + bytes, 0x5A, GUARD);

    g_counting = 1;
    CHECK_EQ_INT(ruv_temporal_init_static_ex(mem + GUARD, bytes, blob, len, IN, WINDOW, NC, &cfg,
                                             &ctx),
                 ESP_OK);
    CHECK_EQ_INT(g_allocs, 0);
    if (!ctx) {
        g_counting = 0;
        free(mem);
        free(blob);
        return;
    }
    /* Fill the window first so every classify sees a full ring / cache. */
    for (; t < (long)WINDOW; ++t) {
        frame_at(frame, t);
        if (ruv_temporal_push(ctx, frame) != ESP_OK)
            bad++;
        calls++;
        pushes++;
    }
    while (calls < CALLS) {
        c0 = clock();
        for (i = 0; i < per_push; ++i, ++t) {
            frame_at(frame, t);
            if (ruv_temporal_push(ctx, frame) != ESP_OK)
                bad++;
        }
        c_push += clock() - c0;
        calls += per_push;
        pushes += per_push;
        c0 = clock();
        for (i = 0; i < per_cls; ++i)
            if (ruv_temporal_classify(ctx, logits, NC) != ESP_OK)
                bad++;
        c_cls += clock() - c0;
        calls += per_cls;
        classifies += per_cls;
    }
    g_counting = 0;
    CHECK_EQ_INT(bad, 0);
    CHECK_MSG(g_allocs == 0 && g_frees == 0, "%s: %ld allocations, %ld frees", name, g_allocs,
              g_frees);
    CHECK(guards_intact(mem, bytes));
    CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
    CHECK(info.ctx_bytes <= bytes);
    CHECK_EQ_INT(info.frames_total, pushes);
    CHECK_EQ_INT(info.frames_held, WINDOW);
    CHECK(aether_isfinite(logits[0]) && aether_isfinite(logits[NC - 1]));
    printf("%s: ctx_size %lu bytes (weights %s), %ld calls (%ld push, %ld classify), "
           "%ld heap calls%s; push %.2f us, classify %.2f us (CPU time per call, %s kernels)\n",
           name, (unsigned long)bytes, info.weights_borrowed ? "borrowed" : "copied", calls,
           pushes, classifies, g_allocs + g_frees, WRAPPED ? "" : " (not observable: no wrap)",
           1e6 * (double)c_push / CLOCKS_PER_SEC / (double)(pushes - (long)WINDOW),
           1e6 * (double)c_cls / CLOCKS_PER_SEC / (double)classifies, aether_kernel_name());
    ruv_temporal_destroy(ctx);
    CHECK(guards_intact(mem, bytes));
    free(mem);
    free(blob);
}

static void run_mode(ruv_temporal_mode_t mode, long per_push, long per_cls, const char *name)
{
    run_mode_of(mode, per_push, per_cls, name, 0);
}

static void test_window_mode(void)
{
    run_mode(RUV_TEMPORAL_MODE_WINDOW, 5000, 1, "window");
}

static void test_streaming_mode(void)
{
    run_mode(RUV_TEMPORAL_MODE_STREAMING, 1, 19, "streaming");
}

/* The same contract on the integer path (an RVNQ blob). */
static void test_window_mode_quant(void)
{
    run_mode_of(RUV_TEMPORAL_MODE_WINDOW, 5000, 1, "window (int8)", 1);
}

static void test_streaming_mode_quant(void)
{
    run_mode_of(RUV_TEMPORAL_MODE_STREAMING, 1, 19, "streaming (int8)", 1);
}

/* Working-set bytes of the default shape for the report and the budget. */
static void test_working_set(void)
{
    size_t len = 0, bytes;
    unsigned char *blob = test_demo_blob(&len);
    int mode, w;
    for (mode = 0; mode < 2; ++mode)
        for (w = 0; w < 2; ++w) {
            ruv_temporal_config_t cfg = ruv_temporal_config_default();
            cfg.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
            cfg.weights = w ? RUV_TEMPORAL_WEIGHTS_COPY : RUV_TEMPORAL_WEIGHTS_BORROW_IF_POSSIBLE;
            bytes = 0;
            CHECK_EQ_INT(ruv_temporal_ctx_size_ex(blob, len, IN, WINDOW, NC, &cfg, &bytes),
                         ESP_OK);
            CHECK(bytes > 0);
            printf("working set, window %u, %s mode, weights %s: %lu bytes\n", WINDOW,
                   mode ? "streaming" : "window", w ? "copied" : "borrowed if possible",
                   (unsigned long)bytes);
            if (mode) {
                cfg.cache_storage = RUV_TEMPORAL_CACHE_F16;
                CHECK_EQ_INT(ruv_temporal_ctx_size_ex(blob, len, IN, WINDOW, NC, &cfg, &bytes),
                             ESP_OK);
                printf("working set, window %u, streaming mode, f16 cache, weights %s: %lu "
                       "bytes\n",
                       WINDOW, w ? "copied" : "borrowed if possible", (unsigned long)bytes);
            }
        }
    free(blob);
}

/* A failed allocation in the malloc'd init is reported, never fatal, and
 * leaves *out_ctx alone. */
static void test_alloc_failure(void)
{
    size_t len = 0;
    unsigned char *blob = test_demo_blob(&len);
    ruv_temporal_ctx_t *ctx = NULL;
    if (!WRAPPED || !blob) {
        free(blob);
        return;
    }
    g_fail = 1;
    CHECK_EQ_INT(ruv_temporal_init(blob, len, IN, WINDOW, NC, &ctx), ESP_ERR_NO_MEM);
    g_fail = 0;
    CHECK(ctx == NULL);
    CHECK_EQ_INT(ruv_temporal_init(blob, len, IN, WINDOW, NC, &ctx), ESP_OK);
    ruv_temporal_destroy(ctx);
    free(blob);
}

TEST_MAIN(test_window_mode, test_streaming_mode, test_window_mode_quant, test_streaming_mode_quant,
          test_working_set, test_alloc_failure)
