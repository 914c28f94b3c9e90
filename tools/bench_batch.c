/*
 * The batched session step against the one-by-one step (bench_batch.h).
 *
 * 256 sessions of the demo blob (2 layers, I 16, q4 kv1 x32, W32, B16),
 * cache capacity 1000 with SLIDING eviction, are first fed past their
 * capacity (so every step below evicts, the steady state of a long-lived
 * track). Then each round steps every session by one frame in four ways,
 * one after the other on the same sessions: one by one, and in batches of
 * 16, 64 and 256; the time per frame of each way is the median over the
 * rounds. Both ways give the same bits (tests/test_model_batch.c), so only
 * the time differs.
 *
 * The sessions live in one block of caller memory (aether_model_session_
 * init), as a host's track table does. On Linux the block is an anonymous
 * mapping advised for transparent huge pages: 256 sessions hold about
 * 130 MB of K/V rows, and with 4 KiB pages the batched step's reads of
 * those rows keep missing the TLB.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* mmap, madvise(MADV_HUGEPAGE) */
#endif
#include "bench_batch.h"
#include "bench_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/model.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#define BB_SESSIONS 256u
#define BB_ROUNDS_MAX 9
#define BB_HUGE ((size_t)2 << 20) /* a transparent huge page */

/* The sessions' block: `at` is the usable start, `base`/`len` what to free. */
typedef struct bb_block {
    void *base, *at;
    size_t len;
    int mapped, huge;
} bb_block;

/* len bytes, 2 MiB aligned and advised for huge pages where the system has
 * them (Linux), else from malloc. 0 when out of memory. */
static int bb_alloc(bb_block *b, size_t len)
{
    memset(b, 0, sizeof *b);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    {
        size_t n = (len + BB_HUGE - 1) / BB_HUGE * BB_HUGE;
        void *m = mmap(NULL, n + BB_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (m != MAP_FAILED) {
            unsigned char *a = (unsigned char *)m;
            a += (BB_HUGE - (size_t)((uintptr_t)a % BB_HUGE)) % BB_HUGE;
            b->base = m;
            b->len = n + BB_HUGE;
            b->at = a;
            b->mapped = 1;
            b->huge = madvise(a, n, MADV_HUGEPAGE) == 0;
            return 1;
        }
    }
#endif
    b->base = b->at = malloc(len ? len : 1);
    b->len = len;
    return b->base != NULL;
}

static void bb_free(bb_block *b)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (b->mapped) {
        munmap(b->base, b->len);
        return;
    }
#endif
    free(b->base);
}

/* Frame of session i at tick k: a slow wave per input, distinct per session. */
static void make_frames(float *frames, size_t n, size_t in, size_t tick)
{
    size_t i, j;
    for (i = 0; i < n; ++i)
        for (j = 0; j < in; ++j)
            frames[i * in + j] =
                0.5f * sinf(0.01f * (float)tick + 0.37f * (float)i + (float)j);
}

int bench_batch_run(double (*now)(void), int quick, FILE *fc, FILE *fj, int *first,
                    bench_batch_result *res)
{
    static const size_t sizes[3] = {16, 64, 256};
    aether_blob_demo_params dp = aether_blob_demo_default();
    aether_session_params sp = aether_model_session_params_default();
    aether_model_session *s[BB_SESSIONS];
    aether_model *m = NULL;
    aether_blob_view bv;
    aether_status st[BB_SESSIONS];
    size_t bytes = 0, ws_len = 0, in = 16, nc = 4, i, k, b, tick = 0, warm, sb = 0;
    bb_block blk;
    double t[4][BB_ROUNDS_MAX], med[4];
    int rounds = quick ? 5 : BB_ROUNDS_MAX, r, w, rc = -1;
    float *frames = NULL, *logits = NULL;
    void *blob = NULL, *ws = NULL;
    memset(s, 0, sizeof s);
    memset(&blk, 0, sizeof blk);
    if (res) {
        memset(res, 0, sizeof *res);
        res->sessions = BB_SESSIONS;
    }
    sp.capacity = 1000;
    warm = sp.capacity + (quick ? 50 : 500);
    if (aether_blob_demo_size(&dp, &bytes) != AETHER_OK || !(blob = malloc(bytes)) ||
        aether_blob_demo_write(&dp, blob, bytes, &bytes) != AETHER_OK ||
        aether_blob_parse(blob, bytes, &bv) != AETHER_OK ||
        aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m) != AETHER_OK ||
        aether_model_step_batch_workspace_size(m, BB_SESSIONS, &ws_len) != AETHER_OK ||
        !(ws = malloc(ws_len)))
        goto done;
    frames = (float *)malloc(BB_SESSIONS * in * sizeof(float));
    logits = (float *)malloc(BB_SESSIONS * nc * sizeof(float));
    if (!frames || !logits)
        goto done;
    /* Each session at a cache-line multiple, all in one block. */
    if (aether_model_session_size(m, &sp, &sb) != AETHER_OK ||
        !bb_alloc(&blk, (sb = (sb + 63) / 64 * 64) * BB_SESSIONS))
        goto done;
    for (i = 0; i < BB_SESSIONS; ++i)
        if (aether_model_session_init((unsigned char *)blk.at + i * sb, sb, m, &sp, &s[i]) !=
            AETHER_OK)
            goto done;
    /* Past the capacity: every later step evicts. */
    for (k = 0; k < warm; ++k, ++tick) {
        make_frames(frames, BB_SESSIONS, in, tick);
        aether_model_step_batch(m, s, BB_SESSIONS, frames, logits, NULL, st, ws, ws_len);
    }
    for (r = 0; r < rounds; ++r)
        for (w = 0; w < 4; ++w) {
            double t0;
            make_frames(frames, BB_SESSIONS, in, tick++);
            t0 = now();
            if (w == 0) {
                for (i = 0; i < BB_SESSIONS; ++i)
                    aether_model_session_step(s[i], frames + i * in, logits + i * nc, NULL);
            } else {
                size_t n = sizes[w - 1];
                for (b = 0; b < BB_SESSIONS; b += n)
                    aether_model_step_batch(m, s + b, n, frames + b * in, logits + b * nc, NULL,
                                            st, ws, ws_len);
            }
            t[w][r] = (now() - t0) / (double)BB_SESSIONS;
        }
    for (w = 0; w < 4; ++w) {
        med[w] = bench_median(t[w], rounds);
        if (res) {
            res->batch[w] = w ? (unsigned long)sizes[w - 1] : 1ul;
            res->step_s[w] = med[w];
        }
    }
    printf("batched session step (same model, %u sessions, cache 1000 evicting, %d rounds "
           "interleaved), us per frame:\n",
           BB_SESSIONS, rounds);
    printf("  (the sessions in one block%s)\n",
           blk.huge ? " advised for 2 MiB transparent huge pages" : "");
    printf("  one by one   %6.2f  -> %.0f tracks per core at 100 frames/s\n", med[0] * 1e6,
           1.0 / (med[0] * 100.0));
    for (w = 1; w < 4; ++w)
        printf("  batch %-3lu    %6.2f  -> %.0f tracks per core at 100 frames/s (%.2fx one by "
               "one)\n",
               (unsigned long)sizes[w - 1], med[w] * 1e6, 1.0 / (med[w] * 100.0),
               med[0] / med[w]);
    for (w = 0; w < 4; ++w) {
        unsigned long n = w ? (unsigned long)sizes[w - 1] : 1ul;
        if (fc)
            fprintf(fc, "model_batch,batch,%lu,%.9g,%.9g,,,%.3f\n", n, med[w], med[0],
                    med[0] / med[w]);
        if (fj)
            fprintf(fj,
                    "%s{\"section\":\"model_batch\",\"batch\":%lu,\"step_s\":%.9g,"
                    "\"one_by_one_s\":%.9g,\"tracks_per_core\":%.0f,\"speedup\":%.3f}",
                    *first ? "" : ",\n", n, med[w], med[0], 1.0 / (med[w] * 100.0),
                    med[0] / med[w]);
        *first = 0;
    }
    rc = 0;
done:
    if (rc != 0)
        printf("batched session step: model or memory unavailable\n");
    for (i = 0; i < BB_SESSIONS; ++i)
        aether_model_session_destroy(s[i]);
    aether_model_destroy(m);
    if (blk.base)
        bb_free(&blk);
    free(ws);
    free(frames);
    free(logits);
    free(blob);
    return rc;
}
