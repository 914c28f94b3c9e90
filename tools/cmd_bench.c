/*
 * aether bench [--quick] [--csv FILE] [--json FILE] [--png FILE] [--threads N] [--wall]
 *              [--only TEXT]
 *
 * Times the attention workloads of the performance table on the active
 * kernel path and on the scalar reference in the same run (medians of
 * repeated runs; the reference gets fewer repeats when slow), streaming
 * decode steps through the cache API (append + decode_step) over cache
 * length T with their flatness, the temporal model's session step (fast
 * and reference, tracks per core from the steady evicting state), the two README
 * curves (sparse vs dense forward over N; streaming step vs full recompute
 * over history T), and the machine's bounds (bench_bounds.h) with the floor
 * they put under the sparse, decode and flatness targets. GFLOP/s counts 4 * dim flops per attention edge
 * (2 * dim for q.k, 2 * dim for p.v); softmax and landmarks are not counted.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/model.h"
#include "bench_bounds.h"
#include "commands.h"
#include "dispatch/kernels.h"
#include "kernels/sparse_internal.h"

/* Single-threaded runs time the calling thread's CPU time, so other load
 * on the machine does not count; threaded runs use the wall clock. */
static int g_wall;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(g_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static unsigned long long g_rng = 0x9E3779B97F4A7C15ull;
static void fill(aether_tensor *t)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i) {
        g_rng ^= g_rng << 13;
        g_rng ^= g_rng >> 7;
        g_rng ^= g_rng << 17;
        t->data[i] = (float)(g_rng >> 40) / (float)(1u << 23) - 1.0f;
    }
}

typedef struct wl {
    const char *name;
    int dense; /* 1: dense causal */
    size_t seq, qh, kvh, dim, window, block;
} wl;

static void make_cfg(aether_attn_config *cfg, size_t window, size_t block)
{
    static const size_t g0[] = {0};
    aether_attn_params p = aether_attn_params_default();
    p.window = window;
    p.block_size = block;
    p.globals = g0;
    p.n_globals = 1;
    aether_attn_config_init(cfg, &p);
}

/* Median seconds of one run of the workload, reps >= 1 (budget-limited). */
static double time_wl(const wl *w, aether_kernel_mode mode, int reps, double budget)
{
    aether_tensor q, k, v, o;
    aether_attn_config cfg;
    double t[31];
    int n = 0;
    double start;
    aether_set_kernel_mode(mode);
    make_cfg(&cfg, w->window, w->block);
    aether_tensor_zeros(&q, w->seq, w->qh, w->dim);
    aether_tensor_zeros(&k, w->seq, w->kvh, w->dim);
    aether_tensor_zeros(&v, w->seq, w->kvh, w->dim);
    aether_tensor_zeros(&o, w->seq, w->qh, w->dim);
    fill(&q);
    fill(&k);
    fill(&v);
    if (reps > 31)
        reps = 31;
    start = now_s();
    while (n < reps) {
        double t0 = now_s();
        if (w->dense)
            aether_attn_dense(&q, &k, &v, 1, &o);
        else
            aether_attn_forward_auto(&cfg, &q, &k, &v, &o, NULL, 0);
        t[n++] = now_s() - t0;
        if (now_s() - start > budget && n >= 1)
            break;
    }
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    return median(t, n);
}

static double edges_of(const wl *w)
{
    aether_attn_config cfg;
    if (w->dense)
        return (double)w->qh * (double)w->seq * (double)(w->seq + 1) / 2.0;
    make_cfg(&cfg, w->window, w->block);
    return (double)w->qh * (double)aether_estimate_sparse_edges(&cfg, w->seq);
}

/* Streaming step time (seconds, median) through the cache API on kernel
 * path `mode`: the cache already holds T tokens, and every timed step is
 * aether_kvcache_append of a new token plus aether_kvcache_decode_step
 * (the cache has room for all appends, so T grows by the steps taken),
 * rows stored as `storage`. */
#define DECODE_REPS 100
static double time_decode(size_t T, size_t qh, size_t kvh, size_t dim, size_t window,
                          size_t block, int steps, aether_kernel_mode mode,
                          aether_kv_storage storage)
{
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *c = NULL;
    aether_tensor k, v, q1, o1, k1, v1;
    double t[64];
    int n = 0;
    size_t chunk = 4096, done = 0;
    if (steps > 64)
        steps = 64;
    make_cfg(&cfg, window, block);
    p = aether_kvcache_params_default(&cfg, T + (size_t)steps * DECODE_REPS, kvh, dim);
    p.storage = storage;
    if (aether_kvcache_create(&p, &c) != AETHER_OK)
        return -1.0;
    aether_tensor_zeros(&k, chunk, kvh, dim);
    aether_tensor_zeros(&v, chunk, kvh, dim);
    fill(&k);
    fill(&v);
    while (done < T) {
        size_t m = T - done < chunk ? T - done : chunk;
        aether_tensor kk = k, vv = v;
        kk.seq = vv.seq = m;
        if (aether_kvcache_append_all(c, &kk, &vv) != AETHER_OK)
            break;
        done += m;
    }
    aether_tensor_zeros(&q1, 1, qh, dim);
    aether_tensor_zeros(&o1, 1, qh, dim);
    fill(&q1);
    /* The appended rows: a window of the prefill rows (finite, varied). */
    k1 = k;
    v1 = v;
    k1.seq = v1.seq = 1;
    aether_set_kernel_mode(mode);
    for (n = 0; n < steps; ++n) {
        int r;
        double t0 = now_s();
        for (r = 0; r < DECODE_REPS; ++r) {
            size_t off = (size_t)((n * DECODE_REPS + r) % (int)chunk) * kvh * dim;
            k1.data = k.data + off;
            v1.data = v.data + off;
            aether_kvcache_append(c, &k1, &v1);
            aether_kvcache_decode_step(&cfg, &q1, c, &o1);
        }
        t[n] = (now_s() - t0) / DECODE_REPS;
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    aether_kvcache_destroy(c);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&q1);
    aether_tensor_free(&o1);
    return median(t, n);
}

/* Decode step at the kernel level: the step's candidate lists plus the
 * per-head single-query kernel (aether_sparse_query_fast, or the reference
 * aether_sparse_query) over a [T, kv_heads, dim] cache with prefill
 * landmark means - what a cache's decode costs when it uses the hook. */
static double time_decode_kernel(size_t T, size_t qh, size_t kvh, size_t dim, size_t window,
                                 size_t block, int steps, int fast)
{
    aether_attn_config cfg;
    aether_tensor k, v, q1, o1;
    size_t nb = (T + block - 1) / block, tok_cap, blk_cap, group = qh / kvh;
    size_t *tok, *blk;
    float *lmk, *lmv, *acc, scale = 1.0f / sqrtf((float)dim);
    double t[64];
    int n;
    make_cfg(&cfg, window, block);
    tok_cap = aether_pattern_max_tokens(&cfg, T);
    blk_cap = aether_pattern_max_blocks(&cfg, T);
    tok = malloc((tok_cap + 1) * sizeof *tok);
    blk = malloc((blk_cap + 1) * sizeof *blk);
    lmk = malloc(nb * kvh * dim * sizeof *lmk);
    lmv = malloc(nb * kvh * dim * sizeof *lmv);
    acc = malloc(dim * sizeof *acc);
    if (!tok || !blk || !lmk || !lmv || !acc ||
        aether_tensor_zeros(&k, T, kvh, dim) != AETHER_OK ||
        aether_tensor_zeros(&v, T, kvh, dim) != AETHER_OK) {
        free(tok);
        free(blk);
        free(lmk);
        free(lmv);
        free(acc);
        return -1.0;
    }
    fill(&k);
    fill(&v);
    aether_landmarks_prefill(k.data, T, kvh, dim, block, lmk);
    aether_landmarks_prefill(v.data, T, kvh, dim, block, lmv);
    aether_tensor_zeros(&q1, 1, qh, dim);
    aether_tensor_zeros(&o1, 1, qh, dim);
    fill(&q1);
    if (steps > 64)
        steps = 64;
    for (n = 0; n < steps; ++n) {
        int r;
        double t0 = now_s();
        for (r = 0; r < 200; ++r) {
            size_t n_tok = 0, n_blk = 0, h;
            aether_pattern_tokens(&cfg, T - 1, T, tok, tok_cap, &n_tok);
            aether_pattern_blocks(&cfg, T - 1, T, blk, blk_cap, &n_blk);
            for (h = 0; h < qh; ++h) {
                size_t hk = h / group;
                aether_rows tr, br;
                tr.k = k.data + hk * dim;
                tr.v = v.data + hk * dim;
                tr.stride = kvh * dim;
                br.k = lmk + hk * dim;
                br.v = lmv + hk * dim;
                br.stride = kvh * dim;
                if (fast)
                    aether_sparse_query_fast(q1.data + h * dim, dim, scale, &tr, tok, n_tok, &br,
                                             blk, n_blk, acc, o1.data + h * dim);
                else
                    aether_sparse_query(q1.data + h * dim, dim, scale, &tr, tok, n_tok, &br, blk,
                                        n_blk, acc, o1.data + h * dim);
            }
        }
        t[n] = (now_s() - t0) / 200.0;
    }
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&q1);
    aether_tensor_free(&o1);
    free(tok);
    free(blk);
    free(lmk);
    free(lmv);
    free(acc);
    return median(t, n);
}

/* Seconds per frame (median of 5 runs of 1000 frames) of the demo
 * temporal model's streaming session on kernel path `mode`, after `warm`
 * frames into a session of cache capacity `cap` (SLIDING eviction once
 * full); -1 when the model is unavailable. */
static double time_model(size_t warm, size_t cap, aether_kernel_mode mode)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    aether_blob_view bv;
    aether_model *m = NULL;
    aether_model_session *s = NULL;
    aether_session_params sp = aether_model_session_params_default();
    size_t bytes = 0, i;
    void *blob;
    float frame[16], logits[64];
    double t[5], r = -1.0;
    int n;
    if (aether_blob_demo_size(&dp, &bytes) != AETHER_OK || !(blob = malloc(bytes)))
        return -1.0;
    sp.capacity = cap;
    if (aether_blob_demo_write(&dp, blob, bytes, &bytes) == AETHER_OK &&
        aether_blob_parse(blob, bytes, &bv) == AETHER_OK &&
        aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m) == AETHER_OK &&
        aether_model_session_create(m, &sp, &s) == AETHER_OK) {
        aether_set_kernel_mode(mode);
        for (i = 0; i < 16; ++i)
            frame[i] = 0.01f * (float)i;
        for (i = 0; i < warm; ++i) {
            frame[i % 16] = 0.5f * sinf(0.01f * (float)i + (float)(i % 16));
            aether_model_session_step(s, frame, logits, NULL);
        }
        for (n = 0; n < 5; ++n) {
            double t0 = now_s();
            for (i = 0; i < 1000; ++i) {
                frame[i % 16] = 0.5f * sinf(0.01f * (float)(i + warm) + (float)(i % 16));
                aether_model_session_step(s, frame, logits, NULL);
            }
            t[n] = (now_s() - t0) / 1000.0;
        }
        r = median(t, 5);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    }
    aether_model_session_destroy(s);
    aether_model_destroy(m);
    free(blob);
    return r;
}

/* --only TEXT: run just the table rows and sections whose name contains it
 * ("sparse", "dense", "decode 8x64", "decode temporal", "model", "curve"). */
static const char *g_only;
static const char *jsep(int *first)
{
    const char *sep = *first ? "" : ",\n";
    *first = 0;
    return sep;
}
static int want(const char *name) { return !g_only || strstr(name, g_only) != NULL; }

/* Candidate rows of the 8x64 W128 B64 decode step at cache length T, and
 * how many of them lie more than `back` bytes of newer rows behind the
 * newest (rows of row_bytes each). */
static size_t decode_rows(size_t T, size_t row_bytes, size_t back, size_t *far)
{
    aether_attn_config cfg;
    size_t tok_cap, blk_cap, n_tok = 0, n_blk = 0, a, *tok, *blk;
    make_cfg(&cfg, 128, 64);
    tok_cap = aether_pattern_max_tokens(&cfg, T);
    blk_cap = aether_pattern_max_blocks(&cfg, T);
    tok = malloc((tok_cap + 1) * sizeof *tok);
    blk = malloc((blk_cap + 1) * sizeof *blk);
    *far = 0;
    if (!tok || !blk ||
        aether_sparse_candidates(&cfg, T - 1, T, tok, tok_cap, &n_tok, blk, blk_cap, &n_blk) !=
            AETHER_OK) {
        free(tok);
        free(blk);
        return 0;
    }
    /* Token 0 (the global) is read by every step and stays cached. */
    for (a = 0; a < n_tok; ++a)
        if (tok[a] != 0 && (T - 1 - tok[a]) * row_bytes > back)
            ++*far;
    free(tok);
    free(blk);
    return n_tok + n_blk;
}

/* The machine's measured limits and the floor they put under the targets
 * (sparse forward 20x, decode <= 5 us, flatness <= 1.25): sp is the sparse
 * seq 8,192 row, sp_t / sp_r its times in this run (0: not run), dec_t1
 * the 8x64 step at T = 1,000 (0: not run). */
static void print_bounds(int quick, const wl *sp, double sp_t, double sp_r, double dec_t1,
                         FILE *fc, FILE *fj, int *first)
{
    bench_bounds b;
    const size_t row = 2 * 8 * 64 * sizeof(float);
    size_t n15, nfar, f15;
    double flops, floor_s, dec_floor, cold;
    if (bench_bounds_measure(quick, &b) != 0) {
        printf("bounds: need the vector kernels and %d MiB\n", quick ? 256 : 1024);
        return;
    }
    printf("bounds (%s, one core): multiply-add peak %.1f GFLOP/s; reads: %lu KiB (half of L2) "
           "%.1f GB/s, %lu MiB (half of L3) %.1f GB/s, DRAM (%lu MiB) %.1f GB/s; a cold 4 KiB "
           "row %.2f us\n",
           b.isa, b.fma_gflops, (unsigned long)(b.l2_bytes >> 11),
           b.read_l2_gbs, (unsigned long)(b.llc_bytes >> 21), b.read_l3_gbs, (unsigned long)b.dram_mib,
           b.read_dram_gbs, b.cold_row_s * 1e6);
    flops = edges_of(sp) * 4.0 * (double)sp->dim;
    floor_s = flops / (b.fma_gflops * 1e9);
    printf("  %s: %.2f GFLOP of edges -> >= %.1f ms at that peak", sp->name, flops * 1e-9,
           floor_s * 1e3);
    if (sp_t > 0 && sp_r > 0)
        printf("; this run %.1f ms = %.0f%% of peak; 20x the reference (%.1f ms) needs %.0f%%",
               sp_t * 1e3, floor_s / sp_t * 100.0, sp_r / 20.0 * 1e3, floor_s / (sp_r / 20.0) * 100.0);
    printf("\n");
    n15 = decode_rows(15000, row, b.llc_bytes, &f15);
    dec_floor = (double)n15 * (double)row / (b.read_l2_gbs * 1e9);
    printf("  decode 8x64 T=15000: %lu candidate rows x %lu KiB of K and V -> >= %.2f us at the "
           "L2 read rate\n",
           (unsigned long)n15, (unsigned long)(row / 1024), dec_floor * 1e6);
    (void)decode_rows(262144, row, b.llc_bytes, &nfar);
    cold = (double)nfar * b.cold_row_s;
    printf("  decode 8x64 T=262144: %lu candidate rows lie beyond the %lu MiB last-level cache -> "
           "+%.2f us of cold reads per step",
           (unsigned long)nfar, (unsigned long)(b.llc_bytes >> 20), cold * 1e6);
    if (dec_t1 > 0)
        printf("; flatness >= %.2f over this run's T=1000 step (%.2f us)", (dec_t1 + cold) / dec_t1,
               dec_t1 * 1e6);
    printf("\n");
    if (fc)
        fprintf(fc, "bounds,%s,,%.6g,%.6g,%.6g,%.6g,%.6g\n", b.isa, b.fma_gflops, b.read_l2_gbs,
                b.read_l3_gbs, b.read_dram_gbs, b.cold_row_s);
    if (fj)
        fprintf(fj, "%s{\"section\":\"bounds\",\"isa\":\"%s\",\"fma_gflops\":%.6g,"
                    "\"read_half_l2_gbs\":%.6g,\"read_half_l3_gbs\":%.6g,\"read_dram_gbs\":%.6g,"
                    "\"cold_row_s\":%.6g,\"sparse8192_floor_s\":%.6g,"
                    "\"decode15k_floor_s\":%.6g,\"decode256k_cold_rows\":%lu}",
                jsep(first), b.isa, b.fma_gflops, b.read_l2_gbs, b.read_l3_gbs, b.read_dram_gbs,
                b.cold_row_s, floor_s, dec_floor, (unsigned long)nfar);
}

static FILE *open_out(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    if (path && !f)
        fprintf(stderr, "aether bench: cannot write %s\n", path);
    return f;
}

int cmd_bench(int argc, char **argv)
{
    static const wl table[] = {
        {"sparse 8x64 W128 seq 512", 0, 512, 8, 8, 64, 128, 64},
        {"sparse 8x64 W128 seq 2048", 0, 2048, 8, 8, 64, 128, 64},
        {"sparse 8x64 W128 seq 8192", 0, 8192, 8, 8, 64, 128, 64},
        {"dense causal 8x64 seq 512", 1, 512, 8, 8, 64, 0, 64},
        {"dense causal 8x64 seq 1024", 1, 1024, 8, 8, 64, 0, 64},
        {"dense causal 8x64 seq 2048", 1, 2048, 8, 8, 64, 0, 64},
        {"gqa 32q/8kv x64 seq 2048", 0, 2048, 32, 8, 64, 128, 64},
        {"temporal q4kv1x32 W32 seq 100", 0, 100, 4, 1, 32, 32, 16},
        {"temporal q4kv1x32 W32 seq 1000", 0, 1000, 4, 1, 32, 32, 16},
        {"temporal q4kv1x32 W32 seq 8192", 0, 8192, 4, 1, 32, 32, 16},
    };
    const char *csv = NULL, *json = NULL, *png = NULL;
    int quick = 0, i, first = 1;
    unsigned threads = 1;
    FILE *fc, *fj;
    double sparse_t[3] = {0, 0, 0}, sparse_r[3] = {0, 0, 0}, dec_t1 = 0;
    size_t sparse_seq[3] = {0, 0, 0}, si;
    char tmp[64];
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--png") && i + 1 < argc)
            png = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--wall"))
            g_wall = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            g_only = argv[++i];
        else {
            fprintf(stderr, "usage: aether bench [--quick] [--csv FILE] [--json FILE] "
                            "[--png FILE] [--threads N] [--wall] [--only TEXT]\n");
            return 2;
        }
    }
    if (threads > 1)
        g_wall = 1;
    if (aether_set_num_threads(threads) != AETHER_OK) {
        fprintf(stderr, "aether bench: --threads must be 1..256\n");
        return 2;
    }
    fc = open_out(csv);
    fj = open_out(json);
    if ((csv && !fc) || (json && !fj))
        return 3;
    printf("kernels: %s, threads %u%s, %s; GFLOP/s = edges * 4 * dim / time\n",
           aether_kernel_name(), threads, quick ? ", quick" : "",
           g_wall ? "wall-clock time" : "thread CPU time");
    if (fc)
        fprintf(fc, "section,name,x,fast_s,reference_s,edges,gflops,speedup\n");
    if (fj)
        fprintf(fj, "{\"kernels\":\"%s\",\"threads\":%u,\"rows\":[\n", aether_kernel_name(),
                threads);
    printf("%-32s %11s %11s %8s %12s %8s\n", "workload", "fast ms", "ref ms", "speedup",
           "edges/s", "GFLOP/s");
    for (i = 0; i < (int)(sizeof table / sizeof table[0]); ++i) {
        const wl *w = &table[i];
        double e = edges_of(w), tf, tr;
        if (!want(w->name))
            continue;
        tf = time_wl(w, AETHER_KERNELS_AUTO, quick ? 5 : 15, quick ? 1.0 : 4.0);
        tr = time_wl(w, AETHER_KERNELS_REFERENCE, quick ? 1 : 3, quick ? 0.5 : 6.0);
        if (!w->dense && w->qh == 8 && w->dim == 64) {
            sparse_t[i] = tf;
            sparse_r[i] = tr;
            sparse_seq[i] = w->seq;
        }
        printf("%-32s %11.3f %11.3f %7.1fx %12.3g %8.1f", w->name, tf * 1e3, tr * 1e3, tr / tf,
               e / tf, e * 4.0 * (double)w->dim / tf * 1e-9);
        /* Sparse against dense at the same length (512 and 2,048 are in both). */
        for (si = 0; w->dense && si < 3; ++si)
            if (sparse_seq[si] == w->seq && sparse_t[si] > 0)
                printf("  sparse/dense time %.3f", sparse_t[si] / tf);
        printf("\n");
        if (fc)
            fprintf(fc, "table,%s,%lu,%.9g,%.9g,%.0f,%.3f,%.3f\n", w->name, (unsigned long)w->seq,
                    tf, tr, e, e * 4.0 * (double)w->dim / tf * 1e-9, tr / tf);
        if (fj)
            fprintf(fj, "%s{\"section\":\"table\",\"name\":\"%s\",\"seq\":%lu,\"fast_s\":%.9g,"
                        "\"reference_s\":%.9g,\"edges\":%.0f,\"speedup\":%.3f}",
                    jsep(&first), w->name, (unsigned long)w->seq, tf, tr, e, tr / tf);
    }

    /* Streaming decode over T through the cache API: flatness of the step. */
    {
        static const size_t Ts[] = {1000, 4000, 15000, 65536, 262144};
        size_t n = quick ? 4 : 5, a, cfgi;
        for (cfgi = 0; cfgi < 2; ++cfgi) {
            size_t qh = cfgi ? 4 : 8, kvh = cfgi ? 1 : 8, dim = cfgi ? 32 : 64;
            size_t win = cfgi ? 32 : 128, blk = cfgi ? 16 : 64;
            double t1 = 0, tl = 0, r1 = 0, rl = 0;
            if (!want(cfgi ? "decode temporal" : "decode 8x64"))
                continue;
            printf("decode %s, us per step (aether_kvcache_append + "
                   "aether_kvcache_decode_step, single thread):\n",
                   cfgi ? "temporal q4kv1x32 W32" : "8x64 W128");
            for (a = 0; a < n; ++a) {
                double tf = time_decode(Ts[a], qh, kvh, dim, win, blk, quick ? 5 : 11,
                                        AETHER_KERNELS_AUTO, AETHER_KV_F32);
                double tr = time_decode(Ts[a], qh, kvh, dim, win, blk, 3,
                                        AETHER_KERNELS_REFERENCE, AETHER_KV_F32);
                double tk = time_decode_kernel(Ts[a], qh, kvh, dim, win, blk, 3, 1);
                if (a == 0) {
                    t1 = tf;
                    r1 = tr;
                    if (!cfgi)
                        dec_t1 = tf;
                }
                tl = tf;
                rl = tr;
                printf("  T=%-7lu fast %7.2f  reference %7.2f  (%.1fx)  [kernel only %6.2f]\n",
                       (unsigned long)Ts[a], tf * 1e6, tr * 1e6, tr / tf, tk * 1e6);
                if (fc)
                    fprintf(fc, "decode_%s,T,%lu,%.9g,%.9g,,,%.3f\n", cfgi ? "temporal" : "8x64",
                            (unsigned long)Ts[a], tf, tr, tr / tf);
                if (fj)
                    fprintf(fj, "%s{\"section\":\"decode_%s\",\"T\":%lu,\"fast_s\":%.9g,"
                                "\"reference_s\":%.9g,\"kernel_s\":%.9g}",
                            jsep(&first), cfgi ? "temporal" : "8x64",
                            (unsigned long)Ts[a], tf, tr, tk);
            }
            printf("  flatness step(T=%lu)/step(T=1000): fast %.3f, reference %.3f\n",
                   (unsigned long)Ts[n - 1], tl / t1, rl / r1);
            /* Half-size rows: the same step over an f16 cache. */
            {
                double hf = time_decode(15000, qh, kvh, dim, win, blk, quick ? 5 : 11,
                                        AETHER_KERNELS_AUTO, AETHER_KV_F16);
                double hr = time_decode(15000, qh, kvh, dim, win, blk, 3,
                                        AETHER_KERNELS_REFERENCE, AETHER_KV_F16);
                printf("  f16 cache T=15000  fast %7.2f  reference %7.2f  (%.1fx)\n", hf * 1e6,
                       hr * 1e6, hr / hf);
                if (fc)
                    fprintf(fc, "decode_%s_f16,T,15000,%.9g,%.9g,,,%.3f\n",
                            cfgi ? "temporal" : "8x64", hf, hr, hr / hf);
                if (fj)
                    fprintf(fj, "%s{\"section\":\"decode_%s_f16\",\"T\":15000,\"fast_s\":%.9g,"
                                "\"reference_s\":%.9g}",
                            jsep(&first), cfgi ? "temporal" : "8x64", hf, hr);
            }
        }
    }

    /* Temporal model through its streaming session (the per-track cost). */
    if (want("model")) {
        double tm = time_model(1000, 1000 + 6000, AETHER_KERNELS_AUTO);
        double tmr = time_model(1000, 1000 + 6000, AETHER_KERNELS_REFERENCE);
        double ts = time_model(3000, 1000, AETHER_KERNELS_AUTO);
        double tsr = time_model(3000, 1000, AETHER_KERNELS_REFERENCE);
        if (tm > 0 && tmr > 0 && ts > 0 && tsr > 0) {
            printf("temporal model session step (demo blob: 2 layers, I 16, q4 kv1 x32, W32, "
                   "B16), us per frame:\n");
            printf("  history 1000 frames   fast %6.2f  reference %6.2f  (%.1fx)\n", tm * 1e6,
                   tmr * 1e6, tmr / tm);
            printf("  cache 1000, evicting  fast %6.2f  reference %6.2f  (%.1fx)\n", ts * 1e6,
                   tsr * 1e6, tsr / ts);
            printf("  -> %.0f tracks per core at 100 frames/s (reference %.0f)\n",
                   1.0 / (ts * 100.0), 1.0 / (tsr * 100.0));
        } else {
            printf("temporal model: session API unavailable\n");
        }
        if (fc)
            fprintf(fc, "model,cache,1000,%.9g,%.9g,,,%.3f\n", ts, tsr, tsr / ts);
        if (fj)
            fprintf(fj, "%s{\"section\":\"model\",\"step_s\":%.9g,\"reference_s\":%.9g,"
                        "\"steady_step_s\":%.9g,\"steady_reference_s\":%.9g,"
                        "\"tracks_per_core\":%.0f}",
                    jsep(&first), tm, tmr, ts, tsr, ts > 0 ? 1.0 / (ts * 100.0) : 0.0);
    }

    /* Curves: sparse vs dense forward over N; streaming step vs recompute. */
    if (want("curve")) {
        static const size_t Ns[] = {100, 256, 512, 1024, 2048, 4096, 8192};
        size_t a, n = quick ? 6 : 7;
        FILE *dat;
        snprintf(tmp, sizeof tmp, "/tmp/aether_bench_%ld.dat", (long)time(NULL));
        dat = fopen(tmp, "w");
        printf("curve: N, sparse forward ms, dense forward ms, streaming step us, full "
               "recompute ms (temporal q4kv1x32 W32)\n");
        for (a = 0; a < n; ++a) {
            wl ws = {"", 0, Ns[a], 4, 1, 32, 32, 16}, wd = ws;
            double ts, td, tstep;
            wd.dense = 1;
            ts = time_wl(&ws, AETHER_KERNELS_AUTO, 5, 1.0);
            td = time_wl(&wd, AETHER_KERNELS_AUTO, quick ? 3 : 5, 1.0);
            tstep = time_decode(Ns[a], 4, 1, 32, 32, 16, 5, AETHER_KERNELS_AUTO, AETHER_KV_F32);
            printf("  %5lu %10.3f %10.3f %10.3f %10.3f\n", (unsigned long)Ns[a], ts * 1e3,
                   td * 1e3, tstep * 1e6, ts * 1e3);
            if (dat)
                fprintf(dat, "%lu %.9g %.9g %.9g %.9g\n", (unsigned long)Ns[a], ts, td, tstep, ts);
            if (fc)
                fprintf(fc, "curve,N,%lu,%.9g,%.9g,,,\n", (unsigned long)Ns[a], ts, td);
            if (fc)
                fprintf(fc, "curve_stream,T,%lu,%.9g,%.9g,,,\n", (unsigned long)Ns[a], tstep, ts);
            if (fj)
                fprintf(fj, "%s{\"section\":\"curve\",\"N\":%lu,\"sparse_s\":%.9g,"
                            "\"dense_s\":%.9g,\"step_s\":%.9g,\"recompute_s\":%.9g}",
                        jsep(&first), (unsigned long)Ns[a], ts, td, tstep, ts);
        }
        if (dat)
            fclose(dat);
        if (png && dat) {
            FILE *gp = popen("gnuplot", "w");
            if (gp) {
                fprintf(gp,
                        "set terminal png size 1100,480\nset output '%s'\nset multiplot "
                        "layout 1,2\nset logscale xy\nset grid\nset key top left\n"
                        "set xlabel 'window N (frames)'\nset ylabel 'seconds'\n"
                        "set title 'sparse vs dense forward (q4/kv1, dim 32, %s)'\n"
                        "plot '%s' u 1:2 w lp t 'sparse', '' u 1:3 w lp t 'dense'\n"
                        "set xlabel 'history T (frames)'\n"
                        "set title 'streaming step vs full recompute'\n"
                        "plot '%s' u 1:4 w lp t 'streaming step', '' u 1:5 w lp t "
                        "'full recompute'\nunset multiplot\n",
                        png, aether_kernel_name(), tmp, tmp);
                if (pclose(gp) == 0)
                    printf("wrote %s\n", png);
            }
        }
        remove(tmp);
    }
    if (want("bounds"))
        print_bounds(quick, &table[2], sparse_t[2], sparse_r[2], dec_t1, fc, fj, &first);
    if (fj) {
        fprintf(fj, "\n]}\n");
        fclose(fj);
    }
    if (fc)
        fclose(fc);
    return 0;
}
