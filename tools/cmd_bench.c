/*
 * aether bench [--quick] [--csv FILE] [--json FILE] [--png FILE] [--threads N] [--wall]
 *              [--only NAME|REGEX]... [--list]
 *
 * Times the attention workloads of the performance table on the active
 * kernel path and on the scalar reference in the same run (medians of
 * repeated runs; the reference gets fewer repeats when slow), streaming
 * decode steps through the cache API (append + decode_step) over cache
 * length T with their flatness, the temporal model's session step (fast
 * and reference, tracks per core from the steady evicting state; then 256
 * sessions stepped one by one against aether_model_step_batch, bench_batch.h), the two
 * curves of the README picture ("curve forward": sparse vs dense forward
 * over a window of N frames; "curve stream": per new frame, the streaming
 * step vs a full recompute over history T, each measured for its curve),
 * and the machine's bounds (bench_bounds.h) with the floor they put under
 * the sparse, decode and flatness targets. GFLOP/s counts 4 * dim flops per
 * attention edge (2 * dim for q.k, 2 * dim for p.v); softmax and landmarks
 * are not counted.
 *
 * Rows and sections have names (--list); --only selects by exact name or
 * by a POSIX extended regular expression matching a whole name. --png
 * draws, from this run's numbers, the panels of the sections that ran: the
 * two curves, the 8x64 decode step by cache precision (bench_kv.h) and the
 * batched step's tracks per core (bench_batch.h). It runs gnuplot directly
 * (no shell) and fails, before any timing, when it is not on PATH.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/model.h"
#include "bench_batch.h"
#include "bench_bounds.h"
#include "bench_kv.h"
#include "bench_serve.h"
#include "bench_sparse.h"
#include "bench_util.h"
#include "cli_util.h"
#include "commands.h"
#include "dispatch/kernels.h"
#include "kernels/sparse_internal.h"

/* Single-threaded runs time the calling thread's CPU time, so other load
 * on the machine does not count; threaded runs use the wall clock. */
static int g_wall;

static double now_s(void)
{
    return bench_clock_s(g_wall);
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
    size_t ws_len = 0;
    void *ws = NULL;
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
    /* One workspace for every rep, as a caller keeps it. */
    if (!w->dense && aether_attn_forward_workspace_size(&cfg, w->seq, w->qh, w->kvh, w->dim,
                                                        &ws_len) == AETHER_OK)
        ws = malloc(ws_len ? ws_len : 1);
    start = now_s();
    while (n < reps) {
        double t0 = now_s();
        if (w->dense)
            aether_attn_dense(&q, &k, &v, 1, &o);
        else
            aether_attn_forward_auto(&cfg, &q, &k, &v, &o, ws, ws_len);
        t[n++] = now_s() - t0;
        if (now_s() - start > budget && n >= 1)
            break;
    }
    free(ws);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    return bench_median(t, n);
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
    return bench_median(t, n);
}

/* Decode step at the kernel level: the step's candidate lists plus the
 * per-head single-query kernel (aether_sparse_query_fast_, or the reference
 * aether_sparse_query_) over a [T, kv_heads, dim] cache with prefill
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
    aether_landmarks_prefill_(k.data, T, kvh, dim, block, lmk);
    aether_landmarks_prefill_(v.data, T, kvh, dim, block, lmv);
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
                    aether_sparse_query_fast_(q1.data + h * dim, dim, scale, &tr, tok, n_tok, &br,
                                              blk, n_blk, acc, o1.data + h * dim);
                else
                    aether_sparse_query_(q1.data + h * dim, dim, scale, &tr, tok, n_tok, &br, blk,
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
    return bench_median(t, n);
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
        r = bench_median(t, 5);
        aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    }
    aether_model_session_destroy(s);
    aether_model_destroy(m);
    free(blob);
    return r;
}

static const char *jsep(int *first)
{
    const char *sep = *first ? "" : ",\n";
    *first = 0;
    return sep;
}

/* ---------- what runs: rows of the table and sections, by name ---------- */

static const wl k_table[] = {
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
#define N_TABLE (sizeof k_table / sizeof k_table[0])

/* The sections after the table, in the order they run. */
enum {
    SEC_DECODE_8X64,
    SEC_DECODE_TEMPORAL,
    SEC_MODEL,
    SEC_CURVE_FORWARD,
    SEC_CURVE_STREAM,
    SEC_BOUNDS,
    SEC_FORWARD_STAGES, /* opt-in: runs only when --only selects it */
    SEC_SERVE,          /* opt-in, as forward stages */
    N_SECTIONS
};
static const char *const k_sections[N_SECTIONS] = {"decode 8x64",   "decode temporal", "model",
                                                   "curve forward", "curve stream",    "bounds",
                                                   "forward stages", "serve"};

#define N_NAMES (N_TABLE + N_SECTIONS)
#define MAX_ONLY 32

static const char *name_at(size_t i)
{
    return i < N_TABLE ? k_table[i].name : k_sections[i - N_TABLE];
}

/* on[i] for name_at(i): everything without --only; else the names some
 * --only TEXT selects. A TEXT equal to a name selects exactly that name;
 * any other TEXT is a POSIX extended regular expression that must match a
 * whole name. Every TEXT must select something. 0, or the exit status after
 * a message. */
static int select_names(const char *const *only, size_t n_only, unsigned char *on)
{
    size_t a, i;
    memset(on, n_only ? 0 : 1, N_NAMES);
    on[N_TABLE + SEC_SERVE] = 0; /* a load test of its own: only when named */
    on[N_TABLE + SEC_FORWARD_STAGES] = 0;
    for (a = 0; a < n_only; ++a) {
        size_t hits = 0;
        for (i = 0; i < N_NAMES; ++i)
            if (!strcmp(only[a], name_at(i))) {
                on[i] = 1;
                hits++;
            }
        if (!hits) {
            regex_t re;
            regmatch_t m[1];
            int err = regcomp(&re, only[a], REG_EXTENDED);
            if (err) {
                char msg[128];
                regerror(err, &re, msg, sizeof msg);
                fprintf(stderr,
                        "aether bench: --only '%s' is neither a row or section name nor a "
                        "valid regular expression (%s)\n"
                        "Try 'aether bench --list'.\n",
                        only[a], msg);
                return CLI_EXIT_USAGE;
            }
            /* The match (leftmost, longest) must be the whole name. */
            for (i = 0; i < N_NAMES; ++i)
                if (regexec(&re, name_at(i), 1, m, 0) == 0 && m[0].rm_so == 0 &&
                    (size_t)m[0].rm_eo == strlen(name_at(i))) {
                    on[i] = 1;
                    hits++;
                }
            regfree(&re);
        }
        if (!hits) {
            fprintf(stderr,
                    "aether bench: --only '%s' matches no row or section name; the names "
                    "are (aether bench --list):\n",
                    only[a]);
            for (i = 0; i < N_NAMES; ++i)
                fprintf(stderr, "  %s\n", name_at(i));
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

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
        aether_sparse_candidates_(&cfg, T - 1, T, tok, tok_cap, &n_tok, blk, blk_cap, &n_blk) !=
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

/* Multiply-adds of one frame of the model rows' session (the demo blob,
 * cache 1,000): per layer the four projections (Wq, Wk, Wv, Wo) and every
 * query head's scores and weighted sum over the candidate lists of frame
 * 1,000 (a sliding cache of 1,000 frames keeps lists of that length), then
 * the classifier. *cands gets the list length; 0 when the model cannot be
 * built. Softmax, lists and appends come on top. */
static double model_step_fmas(size_t *cands)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    aether_blob_view bv;
    aether_model *m = NULL;
    aether_model_info mi;
    size_t bytes = 0, tok_cap, blk_cap, n_tok = 0, n_blk = 0, *tok = NULL, *blk = NULL;
    size_t qw, kvw;
    const aether_attn_config *attn;
    void *blob = NULL;
    double f = 0.0;
    *cands = 0;
    if (aether_blob_demo_size(&dp, &bytes) != AETHER_OK || !(blob = malloc(bytes)) ||
        aether_blob_demo_write(&dp, blob, bytes, &bytes) != AETHER_OK ||
        aether_blob_parse(blob, bytes, &bv) != AETHER_OK ||
        aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m) != AETHER_OK ||
        aether_model_get_info(m, &mi) != AETHER_OK)
        goto done;
    attn = &aether_model_head(m)->attn;
    tok_cap = aether_pattern_max_tokens(attn, 1000);
    blk_cap = aether_pattern_max_blocks(attn, 1000);
    tok = malloc((tok_cap + 1) * sizeof *tok);
    blk = malloc((blk_cap + 1) * sizeof *blk);
    if (!tok || !blk ||
        aether_sparse_candidates_(attn, 999, 1000, tok, tok_cap, &n_tok, blk, blk_cap, &n_blk) !=
            AETHER_OK)
        goto done;
    *cands = n_tok + n_blk;
    qw = mi.n_q_heads * mi.head_dim;
    kvw = mi.n_kv_heads * mi.head_dim;
    f = (double)mi.n_layers * ((double)mi.input_dim * (double)(2 * qw + 2 * kvw) +
                               2.0 * (double)(mi.n_q_heads * *cands * mi.head_dim)) +
        (double)(mi.input_dim * mi.n_classes);
done:
    free(tok);
    free(blk);
    aether_model_destroy(m);
    free(blob);
    return f;
}

/* The machine's measured limits and the floor they put under the targets
 * (sparse forward 20x, decode <= 5 us, flatness <= 1.25, 10,000 tracks per
 * core): sp is the sparse seq 8,192 row, sp_t / sp_r its times in this run
 * (0: not run), dec_t1 the 8x64 step at T = 1,000 and model_t the model's
 * session step with its cache of 1,000 evicting (0: not run). */
static void print_bounds(int quick, const wl *sp, double sp_t, double sp_r, double dec_t1,
                         double model_t, FILE *fc, FILE *fj, int *first)
{
    bench_bounds b;
    const size_t row = 2 * 8 * 64 * sizeof(float);
    size_t n15, nfar, f15, cands;
    double flops, floor_s, dec_floor, cold, mfma, model_floor = 0.0;
    if (bench_bounds_measure(quick, &b) != 0) {
        printf("bounds: need the vector kernels and %d MiB\n", quick ? 256 : 1024);
        return;
    }
    printf("bounds (%s, one core): multiply-add peak %.1f GFLOP/s; reads: %lu KiB (half of L2) "
           "%.1f GB/s, %lu MiB (half of L3) %.1f GB/s, DRAM (%lu MiB) %.1f GB/s; a cold 4 KiB "
           "row %.2f us\n",
           b.isa, b.fma_gflops, (unsigned long)(b.l2_bytes >> 11), b.read_l2_gbs,
           (unsigned long)(b.llc_bytes >> 21), b.read_l3_gbs, (unsigned long)b.dram_mib,
           b.read_dram_gbs, b.cold_row_s * 1e6);
    flops = edges_of(sp) * 4.0 * (double)sp->dim;
    floor_s = flops / (b.fma_gflops * 1e9);
    printf("  %s: %.2f GFLOP of edges -> >= %.1f ms at that peak", sp->name, flops * 1e-9,
           floor_s * 1e3);
    if (sp_t > 0 && sp_r > 0)
        printf("; this run %.1f ms = %.0f%% of peak; 20x the reference (%.1f ms) needs %.0f%%",
               sp_t * 1e3, floor_s / sp_t * 100.0, sp_r / 20.0 * 1e3,
               floor_s / (sp_r / 20.0) * 100.0);
    printf("\n");
    n15 = decode_rows(15000, row, b.llc_bytes, &f15);
    dec_floor = (double)n15 * (double)row / (b.read_l2_gbs * 1e9);
    printf("  decode 8x64 T=15000: %lu candidate rows x %lu KiB of K and V -> >= %.2f us at the "
           "L2 read rate\n",
           (unsigned long)n15, (unsigned long)(row / 1024), dec_floor * 1e6);
    (void)decode_rows(262144, row, b.llc_bytes, &nfar);
    cold = (double)nfar * b.cold_row_s;
    printf("  decode 8x64 T=262144: %lu candidate rows lie beyond the %lu MiB last-level cache "
           "-> "
           "+%.2f us of cold reads per step",
           (unsigned long)nfar, (unsigned long)(b.llc_bytes >> 20), cold * 1e6);
    if (dec_t1 > 0)
        printf("; flatness >= %.2f over this run's T=1000 step (%.2f us)",
               (dec_t1 + cold) / dec_t1, dec_t1 * 1e6);
    printf("\n");
    mfma = model_step_fmas(&cands);
    if (mfma > 0) {
        model_floor = 2.0 * mfma / (b.fma_gflops * 1e9);
        printf("  model session step (demo blob, cache 1000): %.0f multiply-adds a frame (%lu "
               "candidates per query) -> >= %.2f us at that peak, <= %.0f tracks per core at "
               "100 frames/s; 10000 tracks per core (1 us a frame) need %.0f%% of it",
               mfma, (unsigned long)cands, model_floor * 1e6, 1.0 / (model_floor * 100.0),
               model_floor / 1e-6 * 100.0);
        if (model_t > 0)
            printf("; this run %.2f us = %.0f%% of peak", model_t * 1e6,
                   model_floor / model_t * 100.0);
        printf("\n");
    }
    if (fc)
        fprintf(fc, "bounds,%s,,%.6g,%.6g,%.6g,%.6g,%.6g\n", b.isa, b.fma_gflops, b.read_l2_gbs,
                b.read_l3_gbs, b.read_dram_gbs, b.cold_row_s);
    if (fj)
        fprintf(fj,
                "%s{\"section\":\"bounds\",\"isa\":\"%s\",\"fma_gflops\":%.6g,"
                "\"read_half_l2_gbs\":%.6g,\"read_half_l3_gbs\":%.6g,\"read_dram_gbs\":%.6g,"
                "\"cold_row_s\":%.6g,\"sparse8192_floor_s\":%.6g,"
                "\"decode15k_floor_s\":%.6g,\"decode256k_cold_rows\":%lu,"
                "\"model_step_floor_s\":%.6g}",
                jsep(first), b.isa, b.fma_gflops, b.read_l2_gbs, b.read_l3_gbs, b.read_dram_gbs,
                b.cold_row_s, floor_s, dec_floor, (unsigned long)nfar, model_floor);
}

/* ---------- outputs ---------- */

static FILE *open_out(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    if (path && !f)
        fprintf(stderr, "aether bench: %s: cannot write (%s)\n", path, strerror(errno));
    return f;
}

/* The full path of an executable `name` on PATH in buf; 0 when there is none. */
static int find_on_path(const char *name, char *buf, size_t cap)
{
    const char *p = getenv("PATH");
    if (!p || !*p)
        return 0;
    for (;;) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        struct stat sb;
        int n = len ? snprintf(buf, cap, "%.*s/%s", (int)len, p, name)
                    : snprintf(buf, cap, "./%s", name); /* an empty entry is "." */
        if (n > 0 && (size_t)n < cap && stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) &&
            access(buf, X_OK) == 0)
            return 1;
        if (!e)
            return 0;
        p = e + 1;
    }
}

/* The CPU's model name from /proc/cpuinfo (x86 "model name", Arm "Model" or
 * "Hardware"), else "unknown CPU"; printable ASCII only. */
static void cpu_model(char *buf, size_t cap)
{
    static const char *const keys[] = {"model name", "Model", "Hardware", "cpu model"};
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    size_t k, best = sizeof keys / sizeof keys[0];
    snprintf(buf, cap, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':'), *v, *end;
        for (k = 0; colon && k < best; ++k) {
            size_t kl = strlen(keys[k]);
            if (strncmp(line, keys[k], kl) != 0 ||
                strspn(line + kl, " \t") != (size_t)(colon - line) - kl)
                continue;
            for (v = colon + 1; *v == ' ' || *v == '\t'; ++v)
                ;
            for (end = v + strlen(v); end > v && (end[-1] == '\n' || end[-1] == ' '); --end)
                ;
            if (end > v) {
                snprintf(buf, cap, "%.*s", (int)(end - v), v);
                best = k;
            }
            break;
        }
    }
    if (f)
        fclose(f);
    for (; *buf; ++buf)
        if ((unsigned char)*buf < 32 || (unsigned char)*buf > 126)
            *buf = ' ';
}

/* s as a gnuplot single-quoted string (a quote is doubled). */
static void gp_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; ++s) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* One point of a curve: x and two times in seconds (<= 0: not measured). */
typedef struct curve_pt {
    double x, a, b;
} curve_pt;

/* The largest time of a curve (room for the key is left above it). */
static double curve_max(const curve_pt *p, size_t n)
{
    double m = 1e-9;
    size_t i;
    for (i = 0; i < n; ++i) {
        if (p[i].a > m)
            m = p[i].a;
        if (p[i].b > m)
            m = p[i].b;
    }
    return m;
}

static void gp_block(FILE *f, const char *name, const curve_pt *p, size_t n)
{
    size_t i;
    fprintf(f, "$%s << EOD\n", name);
    for (i = 0; i < n; ++i) {
        fprintf(f, "%.0f", p[i].x);
        if (p[i].a > 0)
            fprintf(f, " %.9g", p[i].a);
        else
            fprintf(f, " NaN");
        if (p[i].b > 0)
            fprintf(f, " %.9g\n", p[i].b);
        else
            fprintf(f, " NaN\n");
    }
    fprintf(f, "EOD\n");
}

/* Whether the 8x64 cache precisions / the batched step have points. */
static int kv_has_points(const bench_kv_result *kv)
{
    size_t t, s;
    for (t = 0; kv && t < BENCH_KV_NT; ++t)
        for (s = 0; s < BENCH_KV_NST; ++s)
            if (kv->fast_s[t][s] > 0)
                return 1;
    return 0;
}

static int batch_has_points(const bench_batch_result *bb)
{
    size_t w;
    for (w = 0; bb && w < BENCH_BATCH_NW; ++w)
        if (bb->step_s[w] > 0)
            return 1;
    return 0;
}

/* $kv: T, then the fast step of each storage in seconds (NaN: not measured). */
static void gp_kv_block(FILE *f, const bench_kv_result *kv)
{
    size_t t, s;
    fprintf(f, "$kv << EOD\n");
    for (t = 0; t < BENCH_KV_NT; ++t) {
        fprintf(f, "%lu", kv->T[t]);
        for (s = 0; s < BENCH_KV_NST; ++s) {
            if (kv->fast_s[t][s] > 0)
                fprintf(f, " %.9g", kv->fast_s[t][s]);
            else
                fprintf(f, " NaN");
        }
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
}

/* $batch: bar position, label, tracks per core at 100 frames/s, the
 * speedup over one by one (0 when that was not measured), bar colour. */
static void gp_batch_block(FILE *f, const bench_batch_result *bb)
{
    size_t w;
    fprintf(f, "$batch << EOD\n");
    for (w = 0; w < BENCH_BATCH_NW; ++w) {
        if (bb->step_s[w] <= 0)
            continue;
        if (bb->batch[w] == 1)
            fprintf(f, "%lu \"one by one\"", (unsigned long)w);
        else
            fprintf(f, "%lu \"batch %lu\"", (unsigned long)w, bb->batch[w]);
        fprintf(f, " %.1f", 1.0 / (bb->step_s[w] * 100.0));
        if (bb->step_s[0] > 0)
            fprintf(f, " %.4f", bb->step_s[0] / bb->step_s[w]);
        else
            fprintf(f, " 0");
        fprintf(f, " %d\n", bb->batch[w] == 1 ? 0x8c8c8c : 0x1f77b4);
    }
    fprintf(f, "EOD\n");
}

/* The picture as a PNG through gnuplot (run directly, no shell), up to four
 * panels in reading order: the sparse vs dense forward over N, the
 * streaming step vs full recompute over T, the 8x64 decode step over T by
 * cache precision (kv, NULL: not run) and the batched session step as
 * tracks per core by batch size (bb, NULL: not run). A panel without
 * points is left out; one or two panels sit side by side, three or four in
 * two rows. No panel at all is a failure (exit 1). Checks gnuplot's exit
 * status and that it wrote the file. */
static int plot_png(const char *gnuplot, const char *png, const curve_pt *fwd, size_t n_fwd,
                    const curve_pt *str, size_t n_str, const bench_kv_result *kv,
                    const bench_batch_result *bb, unsigned threads, int quick)
{
    char cpu[160];
    int has_kv = kv_has_points(kv), has_bb = batch_has_points(bb);
    int fd[2], status = 0, panels = (n_fwd > 0) + (n_str > 0) + has_kv + has_bb;
    int rows = panels > 2 ? 2 : 1, cols = panels > 1 ? 2 : 1;
    int width = cols == 2 ? 1200 : 820, height = rows == 2 ? 1100 : 560;
    pid_t pid;
    FILE *gp;
    struct stat sb;
    void (*old_pipe)(int);
    if (!panels) {
        /* the plotted sections ran but measured nothing (out of memory) */
        fprintf(stderr, "aether bench: no measurements to plot; %s not written\n", png);
        remove(png);
        return CLI_EXIT_FAILED;
    }
    cpu_model(cpu, sizeof cpu);
    remove(png); /* an old picture must not pass for this run's */
    if (pipe(fd) != 0) {
        fprintf(stderr, "aether bench: cannot start gnuplot (%s)\n", strerror(errno));
        return CLI_EXIT_FAILED;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "aether bench: cannot start gnuplot (%s)\n", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return CLI_EXIT_FAILED;
    }
    if (pid == 0) {
        char *const args[] = {(char *)"gnuplot", NULL};
        close(fd[1]);
        if (dup2(fd[0], 0) < 0)
            _exit(127);
        close(fd[0]);
        execv(gnuplot, args);
        _exit(127);
    }
    close(fd[0]);
    old_pipe = signal(SIGPIPE, SIG_IGN); /* gnuplot may stop reading early */
    gp = fdopen(fd[1], "w");
    if (gp) {
        fprintf(gp,
                "set encoding utf8\n"
                "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n"
                "  set terminal pngcairo size %d,%d font 'Sans,11' noenhanced\n"
                "} else {\n"
                "  set terminal png size %d,%d noenhanced\n"
                "}\n"
                "if (GPVAL_VERSION >= 5.4) { set micro }\n"
                "set output ",
                width, height, width, height);
        gp_string(gp, png);
        fprintf(gp, "\n");
        gp_block(gp, "fwd", fwd, n_fwd);
        gp_block(gp, "stream", str, n_str);
        if (has_kv)
            gp_kv_block(gp, kv);
        if (has_bb)
            gp_batch_block(gp, bb);
        fprintf(gp, "set grid\nset key top left Left reverse samplen 3\n"
                    "set style line 1 lw 2 pt 7 ps 1.2 lc rgb '#1f77b4'\n"
                    "set style line 2 lw 2 pt 5 ps 1.2 lc rgb '#d62728'\n"
                    "set style line 3 lw 2 pt 9 ps 1.3 lc rgb '#2ca02c'\n"
                    "set style line 4 lw 2 pt 13 ps 1.3 lc rgb '#ff7f0e'\n"
                    "set style line 5 lw 2 pt 6 ps 1.2 lc rgb '#404040' dt 2\n");
        /* Margins in pixels: 95 below (axis label and caption), 95 above
         * (title and two-line panel titles), 130 between rows. */
        fprintf(gp,
                "set multiplot layout %d,%d margins %s,0.97,%.4f,%.4f spacing 0.09,%.4f "
                "title ",
                rows, cols, cols == 2 ? "0.07" : "0.11", 95.0 / height, 1.0 - 95.0 / height,
                130.0 / height);
        gp_string(gp, "aether: sparse temporal attention");
        fprintf(gp, " font 'Sans,13'\n");
        {
            char cap[320];
            snprintf(cap, sizeof cap, "aether %s on %s; kernels %s; %u thread%s (%s); medians%s",
                     aether_version(), cpu, aether_kernel_name(), threads,
                     threads == 1 ? "" : "s", g_wall ? "wall-clock time" : "thread CPU time",
                     quick ? " of a --quick run" : "");
            fprintf(gp, "set label 1 ");
            gp_string(gp, cap);
            fprintf(gp, " at screen 0.5,%.4f center font 'Sans,10'\n", 20.0 / height);
        }
        /* Each panel sets its own scales, formats and ranges; the caption
         * (label 1) is drawn with the first. */
        if (n_fwd) {
            fprintf(gp,
                    "set logscale xy\nset format x '%%.0s%%c'\nset format y '%%.0s %%cs'\n"
                    "set xtics auto\nset key top left Left reverse samplen 3\n"
                    "set xrange [%g:%g]\nset yrange [*:%g]\n",
                    fwd[0].x / 1.4, fwd[n_fwd - 1].x * 1.4, 20.0 * curve_max(fwd, n_fwd));
            fprintf(gp, "set title \"sparse vs dense forward over a window of N frames\\n"
                        "(temporal shape: q4/kv1, dim 32, window 32, block 16)\"\n"
                        "set xlabel 'window N (frames)'\nset ylabel 'time per forward'\n"
                        "plot $fwd u 1:2 w lp ls 1 t 'sparse (local window, log-stride, "
                        "landmarks)', '' u 1:3 w lp ls 2 t 'dense causal'\n"
                        "unset label 1\n");
        }
        if (n_str) {
            fprintf(gp,
                    "set logscale xy\nset format x '%%.0s%%c'\nset format y '%%.0s %%cs'\n"
                    "set xtics auto\nset key top left Left reverse samplen 3\n"
                    "set xrange [%g:%g]\nset yrange [*:%g]\n",
                    str[0].x / 1.4, str[n_str - 1].x * 1.4, 20.0 * curve_max(str, n_str));
            fprintf(gp, "set title \"per new frame: streaming step vs full recompute\\n"
                        "(temporal shape: q4/kv1, dim 32, window 32, block 16)\"\n"
                        "set xlabel 'history T (frames)'\nset ylabel 'time per new frame'\n"
                        "plot $stream u 1:2 w lp ls 1 t 'streaming step (cache append + "
                        "decode step)', '' u 1:3 w lp ls 2 t 'full recompute (sparse forward "
                        "over all T frames)'\n"
                        "unset label 1\n");
        }
        if (has_kv) {
            double m = 0;
            size_t t, s;
            for (t = 0; t < BENCH_KV_NT; ++t)
                for (s = 0; s < BENCH_KV_NST; ++s)
                    if (kv->fast_s[t][s] > m)
                        m = kv->fast_s[t][s];
            /* Linear time from 0 (the ratios read directly), log T. */
            fprintf(gp, "unset logscale\nset logscale x\nset format y '%%g µs'\nset xtics (");
            /* a tic at each T: 1,000 and 15,000 read 1k and 15k, 262,144 256k */
            for (t = 0; t < BENCH_KV_NT; ++t) {
                unsigned long T = kv->T[t];
                fprintf(gp, "%s", t ? ", " : "");
                if (T % 1000 == 0)
                    fprintf(gp, "'%luk' %lu", T / 1000, T);
                else if (T % 1024 == 0)
                    fprintf(gp, "'%luk' %lu", T / 1024, T);
                else
                    fprintf(gp, "'%lu' %lu", T, T);
            }
            fprintf(gp,
                    ")\nset key top left Left reverse samplen 3 maxrows 2\n"
                    "set xrange [%g:%g]\nset yrange [0:%g]\n",
                    (double)kv->T[0] / 1.6, (double)kv->T[BENCH_KV_NT - 1] * 1.6, m * 1e6 * 1.45);
            fprintf(gp, "set title \"decode step by K/V cache precision (fast kernels)\\n"
                        "(8x64 shape: q8/kv8, dim 64, window 128, block 64)\"\n"
                        "set xlabel 'cache length T (tokens)'\n"
                        "set ylabel 'time per step (append + decode)'\n"
                        "plot");
            for (s = 0; s < BENCH_KV_NST; ++s) {
                /* f32 (the baseline) dashed grey, then blue, green, orange */
                static const int ls[BENCH_KV_NST] = {5, 1, 3, 4};
                fprintf(gp, "%s $kv u 1:($%lu*1e6) w lp ls %d t ", s ? "," : "",
                        (unsigned long)s + 2, ls[s]);
                gp_string(gp, kv->storage[s]);
            }
            fprintf(gp, "\nunset label 1\n");
        }
        if (has_bb) {
            double m = 0;
            size_t w;
            for (w = 0; w < BENCH_BATCH_NW; ++w)
                if (bb->step_s[w] > 0 && 1.0 / (bb->step_s[w] * 100.0) > m)
                    m = 1.0 / (bb->step_s[w] * 100.0);
            fprintf(gp,
                    "unset logscale\nset format x '%%g'\nset format y '%%.0f'\n"
                    "set xtics auto\nset grid noxtics ytics\nunset key\n"
                    "set style fill solid 0.85 noborder\nset boxwidth 0.6\n"
                    "set xrange [-0.6:%d.6]\nset yrange [0:%g]\n",
                    BENCH_BATCH_NW - 1, m * 1.3);
            fprintf(gp,
                    "set title \"batched session step: %u sessions, one frame each\\n"
                    "(demo model: 2 layers, q4/kv1 x32, W32 B16; cache 1000, "
                    "evicting)\"\n"
                    "set xlabel 'sessions stepped together'\n"
                    "set ylabel 'tracks per core at 100 frames/s'\n"
                    "plot $batch u 1:3:5:xtic(2) w boxes lc rgb variable, '' u 1:3:"
                    "($4 > 0 ? sprintf(\"%%.0f\\n%%.2fx\", $3, $4) : sprintf('%%.0f', $3)) "
                    "w labels offset 0,1.6\n"
                    "unset label 1\n",
                    bb->sessions);
        }
        fprintf(gp, "unset multiplot\nset output\n");
        fclose(gp);
    } else {
        close(fd[1]);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    signal(SIGPIPE, old_pipe);
    if (!gp) {
        fprintf(stderr, "aether bench: cannot write to gnuplot\n");
        return CLI_EXIT_FAILED;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            fprintf(stderr, "aether bench: gnuplot failed (exit status %d); %s not written\n",
                    WEXITSTATUS(status), png);
        else
            fprintf(stderr, "aether bench: gnuplot was killed (signal %d); %s not written\n",
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0, png);
        remove(png);
        return CLI_EXIT_FAILED;
    }
    if (stat(png, &sb) != 0 || sb.st_size == 0) {
        fprintf(stderr, "aether bench: gnuplot wrote no picture to %s\n", png);
        remove(png);
        return CLI_EXIT_FAILED;
    }
    printf("wrote %s\n", png);
    return CLI_EXIT_OK;
}

/* ---------- the command ---------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: aether bench [--quick] [--csv FILE] [--json FILE] [--png FILE] [--threads "
               "N]\n"
               "                    [--wall] [--only NAME|REGEX]... [--list]\n"
               "  Times the attention workloads on the active kernels and on the scalar\n"
               "  reference in the same run (medians), the streaming decode step over cache\n"
               "  length T, the temporal model's session step, the two curves of the README\n"
               "  picture and the machine's bounds. Timings are reported, never asserted.\n"
               "  --quick          fewer repeats and sizes (about 15 s on a quiet core)\n"
               "  --csv FILE       every result as CSV; --json FILE as JSON\n"
               "  --png FILE       plot, of the sections that run: 'curve forward' (sparse vs\n"
               "                   dense forward over N), 'curve stream' (streaming step vs\n"
               "                   full recompute over history T), 'decode 8x64' (the step\n"
               "                   over T by cache precision: f32, f16, bf16, int8) and\n"
               "                   'model' (the batched session step: tracks per core by batch\n"
               "                   size). Needs gnuplot on PATH: without it bench stops before\n"
               "                   running (exit 1), and a gnuplot failure or an empty picture\n"
               "                   is exit 1; with --only selecting none of these four\n"
               "                   sections it is a usage error (exit 2)\n"
               "  --threads N      library threads, 1..256 (1); more than 1 implies --wall\n"
               "  --wall           wall-clock time (default: the thread's CPU time)\n"
               "  --only TEXT      run only the named rows and sections; may be repeated. A\n"
               "                   TEXT equal to a name selects that name; any other TEXT is a\n"
               "                   POSIX extended regular expression that must match a whole\n"
               "                   name ('sparse.*', 'decode .*', 'curve .*'). A TEXT that\n"
               "                   selects nothing is exit 2 with the list of names\n"
               "  --list           print the names (those --only selects, if given) and exit\n"
               "  --only serve     (not part of the default run) the load benchmark of `aether\n"
               "                   serve`: 1,000 nodes (100 with --quick) through serve's core\n"
               "                   with models/gesture.rvne and models/motion.rvne (found next\n"
               "                   to the build directory, under the current directory or in\n"
               "                   $AETHER_MODELS_DIR); frames/s per core, time per frame by\n"
               "                   stage, decision latency p50/p99. scripts/serve_load.sh runs\n"
               "                   the same over loopback UDP with `aether replay`\n"
               "  --only 'forward stages'  (not part of the default run) the sparse forward\n"
               "                   8x64 W128 B64 seq 8192 stage by stage: the window alone,\n"
               "                   then adding the far tokens, then the landmarks (interleaved\n"
               "                   rounds), and the landmark means alone\n");
    cli_print_exit_statuses(f);
}

enum { OPT_QUICK = 1, OPT_CSV, OPT_JSON, OPT_PNG, OPT_THREADS, OPT_WALL, OPT_ONLY, OPT_LIST };

static const struct option k_options[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"csv", required_argument, NULL, OPT_CSV},
    {"json", required_argument, NULL, OPT_JSON},
    {"png", required_argument, NULL, OPT_PNG},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"wall", no_argument, NULL, OPT_WALL},
    {"only", required_argument, NULL, OPT_ONLY},
    {"list", no_argument, NULL, OPT_LIST},
    {NULL, 0, NULL, 0},
};

int cmd_bench(int argc, char **argv)
{
    static const size_t Ns[] = {100, 256, 512, 1024, 2048, 4096, 8192};
    static const size_t Ts_stream[] = {1000, 4000, 8192, 15000, 65536, 262144};
    const char *csv = NULL, *json = NULL, *png = NULL, *only[MAX_ONLY];
    char gnuplot[4096];
    cli_command c;
    unsigned char on[N_NAMES];
    int quick = 0, list = 0, first = 1, opt, rc = CLI_EXIT_OK, npos;
    size_t n_only = 0, i;
    unsigned threads = 1;
    unsigned long long v;
    FILE *fc, *fj;
    double sparse_t[3] = {0, 0, 0}, sparse_r[3] = {0, 0, 0}, dec_t1 = 0, model_t = 0;
    size_t sparse_seq[3] = {0, 0, 0}, si, n_fwd = 0, n_str = 0;
    bench_kv_result kv8;   /* the 8x64 cache precisions, for the picture */
    bench_batch_result bb; /* the batched step, for the picture */
    int kv8_run = 0, bb_run = 0;
    curve_pt fwd[sizeof Ns / sizeof Ns[0]], str[sizeof Ts_stream / sizeof Ts_stream[0]];

    cli_command_init(&c, "bench", k_options, usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc;
        case OPT_QUICK:
            quick = 1;
            break;
        case OPT_CSV:
            csv = c.optarg;
            break;
        case OPT_JSON:
            json = c.optarg;
            break;
        case OPT_PNG:
            png = c.optarg;
            break;
        case OPT_THREADS:
            if (!cli_parse_ull(c.optarg, 10, 256, &v) || v < 1)
                return cli_usage_error(&c, "--threads is 1..256");
            threads = (unsigned)v;
            break;
        case OPT_WALL:
            g_wall = 1;
            break;
        case OPT_ONLY:
            if (n_only == MAX_ONLY)
                return cli_usage_error(&c, "at most %d --only", MAX_ONLY);
            only[n_only++] = c.optarg;
            break;
        case OPT_LIST:
            list = 1;
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &npos, &rc))
        return rc;
    if ((rc = select_names(only, n_only, on)) != 0)
        return rc;
    if (list) {
        for (i = 0; i < N_NAMES; ++i)
            if (on[i])
                printf("%s\n", name_at(i));
        return CLI_EXIT_OK;
    }
    /* Everything that can fail before the run fails before it. */
    if (png) {
        if (!on[N_TABLE + SEC_CURVE_FORWARD] && !on[N_TABLE + SEC_CURVE_STREAM] &&
            !on[N_TABLE + SEC_DECODE_8X64] && !on[N_TABLE + SEC_MODEL])
            return cli_usage_error(&c, "--png plots the sections 'curve forward', 'curve "
                                       "stream', 'decode 8x64' and 'model', and --only "
                                       "selects none of them");
        if (!find_on_path("gnuplot", gnuplot, sizeof gnuplot)) {
            fprintf(stderr, "aether bench: --png needs gnuplot (Debian: gnuplot-nox), and there "
                            "is none on PATH; nothing was run\n");
            return CLI_EXIT_FAILED;
        }
    }
    if (threads > 1)
        g_wall = 1;
    if (aether_set_num_threads(threads) != AETHER_OK) {
        fprintf(stderr, "aether bench: cannot use %u threads\n", threads);
        return CLI_EXIT_FAILED;
    }
    if (png) {
        /* Writable? (without truncating a picture gnuplot will replace) */
        struct stat sb;
        int existed = stat(png, &sb) == 0;
        FILE *f = fopen(png, "a");
        if (!f) {
            fprintf(stderr, "aether bench: %s: cannot write (%s)\n", png, strerror(errno));
            return CLI_EXIT_IO;
        }
        fclose(f);
        if (!existed)
            remove(png);
    }
    fc = open_out(csv);
    fj = open_out(json);
    if ((csv && !fc) || (json && !fj)) {
        if (fc)
            fclose(fc);
        if (fj)
            fclose(fj);
        return CLI_EXIT_IO;
    }
    printf("kernels: %s, threads %u%s, %s; GFLOP/s = edges * 4 * dim / time\n",
           aether_kernel_name(), threads, quick ? ", quick" : "",
           g_wall ? "wall-clock time" : "thread CPU time");
    if (fc)
        fprintf(fc, "section,name,x,fast_s,reference_s,edges,gflops,speedup\n");
    if (fj)
        fprintf(fj, "{\"kernels\":\"%s\",\"threads\":%u,\"rows\":[\n", aether_kernel_name(),
                threads);
    for (i = 0; i < N_TABLE && !on[i]; ++i)
        ;
    if (i < N_TABLE)
        printf("%-32s %11s %11s %8s %12s %8s\n", "workload", "fast ms", "ref ms", "speedup",
               "edges/s", "GFLOP/s");
    for (i = 0; i < N_TABLE; ++i) {
        const wl *w = &k_table[i];
        double e = edges_of(w), tf, tr;
        if (!on[i])
            continue;
        tf = time_wl(w, AETHER_KERNELS_AUTO, quick ? 5 : 15, quick ? 1.0 : 4.0);
        tr = time_wl(w, AETHER_KERNELS_REFERENCE, quick ? 1 : 3, quick ? 0.5 : 6.0);
        if (!w->dense && w->qh == 8 && w->dim == 64 && i < 3) {
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
            fprintf(fj,
                    "%s{\"section\":\"table\",\"name\":\"%s\",\"seq\":%lu,\"fast_s\":%.9g,"
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
            if (!on[N_TABLE + (cfgi ? SEC_DECODE_TEMPORAL : SEC_DECODE_8X64)])
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
                    fprintf(fj,
                            "%s{\"section\":\"decode_%s\",\"T\":%lu,\"fast_s\":%.9g,"
                            "\"reference_s\":%.9g,\"kernel_s\":%.9g}",
                            jsep(&first), cfgi ? "temporal" : "8x64", (unsigned long)Ts[a], tf,
                            tr, tk);
            }
            printf("  flatness step(T=%lu)/step(T=1000): fast %.3f, reference %.3f\n",
                   (unsigned long)Ts[n - 1], tl / t1, rl / r1);
            /* The same step over caches of every precision (bench_kv.c). */
            (void)bench_kv_run((int)cfgi, quick, g_wall, fc, fj, &first, cfgi ? NULL : &kv8);
            if (!cfgi)
                kv8_run = 1;
        }
    }

    /* Temporal model through its streaming session (the per-track cost). */
    if (on[N_TABLE + SEC_MODEL]) {
        double tm = time_model(1000, 1000 + 6000, AETHER_KERNELS_AUTO);
        double tmr = time_model(1000, 1000 + 6000, AETHER_KERNELS_REFERENCE);
        double ts = time_model(3000, 1000, AETHER_KERNELS_AUTO);
        double tsr = time_model(3000, 1000, AETHER_KERNELS_REFERENCE);
        model_t = ts > 0 ? ts : 0;
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
            fprintf(fj,
                    "%s{\"section\":\"model\",\"step_s\":%.9g,\"reference_s\":%.9g,"
                    "\"steady_step_s\":%.9g,\"steady_reference_s\":%.9g,"
                    "\"tracks_per_core\":%.0f}",
                    jsep(&first), tm, tmr, ts, tsr, ts > 0 ? 1.0 / (ts * 100.0) : 0.0);
        /* Many sessions at one tick: one by one against the batched step. */
        (void)bench_batch_run(now_s, quick, fc, fj, &first, &bb);
        bb_run = 1;
    }

    /* The picture's curves, on the temporal attention shape (q4 kv1 x32, W32
     * B16). Left: a sparse against a dense forward over a window of N frames.
     * Right: what a new frame costs with history T, as a streaming step
     * (append + decode step on a cache holding T frames) against a full
     * recompute (the sparse forward over all T frames, which a model without
     * a cache runs for every new frame). */
    if (on[N_TABLE + SEC_CURVE_FORWARD]) {
        size_t a, n = quick ? 6 : 7;
        printf("curve forward (temporal q4kv1x32 W32 B16): window N, sparse forward ms, dense "
               "forward ms\n");
        for (a = 0; a < n; ++a) {
            wl ws = {"", 0, Ns[a], 4, 1, 32, 32, 16}, wd = ws;
            double ts, td;
            wd.dense = 1;
            ts = time_wl(&ws, AETHER_KERNELS_AUTO, 5, 1.0);
            td = time_wl(&wd, AETHER_KERNELS_AUTO, quick ? 3 : 5, 1.0);
            fwd[n_fwd].x = (double)Ns[a];
            fwd[n_fwd].a = ts;
            fwd[n_fwd++].b = td;
            printf("  N=%-6lu %10.3f %10.3f\n", (unsigned long)Ns[a], ts * 1e3, td * 1e3);
            if (fc)
                fprintf(fc, "curve,N,%lu,%.9g,%.9g,,,\n", (unsigned long)Ns[a], ts, td);
            if (fj)
                fprintf(fj,
                        "%s{\"section\":\"curve\",\"N\":%lu,\"sparse_s\":%.9g,"
                        "\"dense_s\":%.9g}",
                        jsep(&first), (unsigned long)Ns[a], ts, td);
        }
    }
    if (on[N_TABLE + SEC_CURVE_STREAM]) {
        size_t a, n = quick ? 5 : 6;
        printf("curve stream (temporal q4kv1x32 W32 B16): history T, streaming step us, full "
               "recompute ms\n");
        for (a = 0; a < n; ++a) {
            wl ws = {"", 0, Ts_stream[a], 4, 1, 32, 32, 16};
            double tstep, tre;
            tstep = time_decode(Ts_stream[a], 4, 1, 32, 32, 16, quick ? 5 : 11,
                                AETHER_KERNELS_AUTO, AETHER_KV_F32);
            tre = time_wl(&ws, AETHER_KERNELS_AUTO, quick ? 3 : 5, quick ? 1.0 : 2.0);
            str[n_str].x = (double)Ts_stream[a];
            str[n_str].a = tstep;
            str[n_str++].b = tre;
            printf("  T=%-7lu %10.3f %10.3f\n", (unsigned long)Ts_stream[a], tstep * 1e6,
                   tre * 1e3);
            if (fc)
                fprintf(fc, "curve_stream,T,%lu,%.9g,%.9g,,,\n", (unsigned long)Ts_stream[a],
                        tstep, tre);
            if (fj)
                fprintf(fj,
                        "%s{\"section\":\"curve_stream\",\"T\":%lu,\"step_s\":%.9g,"
                        "\"recompute_s\":%.9g}",
                        jsep(&first), (unsigned long)Ts_stream[a], tstep, tre);
        }
    }
    if (on[N_TABLE + SEC_BOUNDS])
        print_bounds(quick, &k_table[2], sparse_t[2], sparse_r[2], dec_t1, model_t, fc, fj,
                     &first);
    if (on[N_TABLE + SEC_FORWARD_STAGES] &&
        bench_sparse_stages(quick, g_wall, fc, fj, jsep, &first) != 0) {
        fprintf(stderr, "aether bench: forward stages: could not run (memory)\n");
        rc = CLI_EXIT_FAILED;
    }
    if (on[N_TABLE + SEC_SERVE]) {
        int src = bench_serve_run(quick, fc, fj, &first);
        if (src != 0 && rc == CLI_EXIT_OK)
            rc = src;
    }
    if (fj) {
        fprintf(fj, "\n]}\n");
        if (fclose(fj) != 0) {
            fprintf(stderr, "aether bench: %s: cannot write (%s)\n", json, strerror(errno));
            rc = CLI_EXIT_IO;
        }
    }
    if (fc && fclose(fc) != 0) {
        fprintf(stderr, "aether bench: %s: cannot write (%s)\n", csv, strerror(errno));
        rc = CLI_EXIT_IO;
    }
    if (png) {
        int prc = plot_png(gnuplot, png, fwd, n_fwd, str, n_str, kv8_run ? &kv8 : NULL,
                           bb_run ? &bb : NULL, threads, quick);
        if (prc != CLI_EXIT_OK && rc == CLI_EXIT_OK)
            rc = prc;
    }
    return rc;
}
