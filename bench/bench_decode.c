/*
 * Per-step streaming decode time against recomputation, at cache fills
 * T = 1k, 4k, 16k, 64k, 256k, for two configurations:
 *   A: 8 heads x dim 64 (MHA), window 128, block 64, globals {0}
 *   B: the temporal default: q 4, kv 1, dim 32, window 32, block 16, globals {0}
 * Columns:
 *   step      one append + decode_step on a cache already holding T tokens
 *             (median of 768 consecutive steps, each timed on its own)
 *   last-row  what a stateless recompute needs for the newest output only:
 *             landmarks of all T tokens from scratch + the newest query's
 *             candidates (the cheapest possible "full-window recompute")
 *   forward   the whole sparse forward over T tokens (whose last row is the
 *             same output), best of 2, with the kernels aether_kernel_name()
 *             reports; only run up to T = 16k (beyond, only last-row)
 * Usage: bench_decode [max_T] (default 262144).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "kernels/sparse_internal.h"

#define STEPS 256u
#define REPS 3u /* step timing: best of REPS runs of STEPS steps */
#define FORWARD_MAX_T 16384u

static uint64_t g_rng = 7;

static float rnd(void)
{
    uint64_t z = (g_rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_cfg {
    const char *name;
    size_t q_heads, kv_heads, dim, window, block;
} bench_cfg;

static volatile float g_sink;
static double times[REPS * STEPS];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Stateless cost of the newest row over T tokens (landmarks rebuilt). */
static double recompute_last_row(const aether_attn_config *cfg, const bench_cfg *b,
                                 const float *q1, const float *k, const float *v, size_t T,
                                 float *lm_k, float *lm_v, size_t *tok, size_t tok_cap,
                                 size_t *blk, size_t blk_cap, float *acc, float *out)
{
    double t0 = now_s();
    size_t n_tok = 0, n_blk = 0, h, group = b->q_heads / b->kv_heads;
    size_t stride = b->kv_heads * b->dim;
    float scale = 1.0f / sqrtf((float)b->dim);
    aether_landmarks_prefill_(k, T, b->kv_heads, b->dim, b->block, lm_k);
    aether_landmarks_prefill_(v, T, b->kv_heads, b->dim, b->block, lm_v);
    (void)aether_sparse_candidates_(cfg, T - 1, T, tok, tok_cap, &n_tok, blk, blk_cap, &n_blk);
    for (h = 0; h < b->q_heads; ++h) {
        size_t kvh = h / group;
        aether_rows tr, br;
        tr.k = k + kvh * b->dim;
        tr.v = v + kvh * b->dim;
        tr.stride = stride;
        br.k = lm_k + kvh * b->dim;
        br.v = lm_v + kvh * b->dim;
        br.stride = stride;
        aether_sparse_query_(q1 + h * b->dim, b->dim, scale, &tr, tok, n_tok, &br, blk, n_blk,
                             acc, out + h * b->dim);
    }
    g_sink = out[0];
    return now_s() - t0;
}

static int run(const bench_cfg *b, size_t max_t)
{
    static const size_t Ts[] = {1024, 4096, 16384, 65536, 262144};
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    size_t g = 0, i, ti, kvrow = b->kv_heads * b->dim, qrow = b->q_heads * b->dim;
    double step_1k = 0, step_last = 0;
    size_t t_last = 0;
    ap.window = b->window;
    ap.block_size = b->block;
    ap.globals = &g;
    ap.n_globals = 1;
    if (aether_attn_config_init(&cfg, &ap) != AETHER_OK)
        return 1;
    printf("\n%s: q_heads %zu, kv_heads %zu, dim %zu, window %zu, block %zu, globals {0}\n",
           b->name, b->q_heads, b->kv_heads, b->dim, b->window, b->block);
    printf("%8s %12s %12s %12s %10s %10s\n", "T", "step_us", "lastrow_us", "forward_ms",
           "last/step", "fwd/step");
    for (ti = 0; ti < sizeof Ts / sizeof Ts[0] && Ts[ti] <= max_t; ++ti) {
        size_t T = Ts[ti], cap = T + REPS * STEPS, n_all = cap, r, at = T;
        float *k = (float *)malloc(n_all * kvrow * sizeof(float));
        float *v = (float *)malloc(n_all * kvrow * sizeof(float));
        float *q = (float *)malloc(STEPS * qrow * sizeof(float));
        float *out = (float *)malloc(qrow * sizeof(float));
        size_t nb = aether_ceil_div(n_all, b->block);
        float *lm_k = (float *)malloc(nb * kvrow * sizeof(float));
        float *lm_v = (float *)malloc(nb * kvrow * sizeof(float));
        size_t tok_cap = aether_pattern_max_tokens(&cfg, n_all);
        size_t blk_cap = aether_pattern_max_blocks(&cfg, n_all) + 1;
        size_t *tok = (size_t *)malloc(tok_cap * sizeof(size_t));
        size_t *blk = (size_t *)malloc(blk_cap * sizeof(size_t));
        float *acc = (float *)malloc(b->dim * sizeof(float));
        aether_kvcache_params p = aether_kvcache_params_default(&cfg, cap, b->kv_heads, b->dim);
        aether_kvcache *kc = NULL;
        aether_tensor kt, vt, q1, o1;
        double t0, step, last = 1e30, fwd = -1;
        if (!k || !v || !q || !out || !lm_k || !lm_v || !tok || !blk || !acc ||
            aether_kvcache_create(&p, &kc) != AETHER_OK) {
            printf("%8zu  (out of memory)\n", T);
            return 1;
        }
        for (i = 0; i < n_all * kvrow; ++i) {
            k[i] = rnd();
            v[i] = rnd();
        }
        for (i = 0; i < STEPS * qrow; ++i)
            q[i] = rnd();
        (void)aether_tensor_view(&kt, k, T * kvrow, T, b->kv_heads, b->dim);
        (void)aether_tensor_view(&vt, v, T * kvrow, T, b->kv_heads, b->dim);
        if (aether_kvcache_append_all(kc, &kt, &vt) != AETHER_OK)
            return 1;
        (void)aether_tensor_view(&o1, out, qrow, 1, b->q_heads, b->dim);
        /* Each step timed on its own; the median resists preemption on a
         * busy machine. */
        for (r = 0; r < REPS; ++r) {
            for (i = 0; i < STEPS; ++i, ++at) {
                t0 = now_s();
                (void)aether_kvcache_append_rows(kc, k + at * kvrow, v + at * kvrow);
                (void)aether_tensor_view(&q1, q + i * qrow, qrow, 1, b->q_heads, b->dim);
                (void)aether_kvcache_decode_step(&cfg, &q1, kc, &o1);
                times[r * STEPS + i] = now_s() - t0;
            }
        }
        qsort(times, REPS * STEPS, sizeof(double), cmp_double);
        step = times[REPS * STEPS / 2];
        for (i = 0; i < 3; ++i) {
            double rt = recompute_last_row(&cfg, b, q, k, v, T, lm_k, lm_v, tok, tok_cap, blk,
                                           blk_cap, acc, out);
            if (rt < last)
                last = rt;
        }
        if (T <= FORWARD_MAX_T) {
            aether_tensor qa, fo;
            float *qq = (float *)malloc(T * qrow * sizeof(float));
            float *oo = (float *)malloc(T * qrow * sizeof(float));
            size_t ws_len = 0;
            void *ws = NULL;
            if (aether_attn_forward_workspace_size(&cfg, T, b->q_heads, kt.heads, b->dim,
                                                   &ws_len) == AETHER_OK)
                ws = malloc(ws_len ? ws_len : 1);
            if (qq && oo && ws) {
                for (i = 0; i < T * qrow; ++i)
                    qq[i] = rnd();
                (void)aether_tensor_view(&qa, qq, T * qrow, T, b->q_heads, b->dim);
                (void)aether_tensor_view(&fo, oo, T * qrow, T, b->q_heads, b->dim);
                for (r = 0; r < 2; ++r) { /* best of 2 */
                    t0 = now_s();
                    (void)aether_attn_forward_auto(&cfg, &qa, &kt, &vt, &fo, ws, ws_len);
                    t0 = now_s() - t0;
                    if (fwd < 0 || t0 < fwd)
                        fwd = t0;
                }
            }
            free(ws);
            free(qq);
            free(oo);
        }
        if (fwd >= 0)
            printf("%8zu %12.2f %12.1f %12.1f %10.1f %10.0f\n", T, step * 1e6, last * 1e6,
                   fwd * 1e3, last / step, fwd / step);
        else
            printf("%8zu %12.2f %12.1f %12s %10.1f %10s\n", T, step * 1e6, last * 1e6, "-",
                   last / step, "-");
        fflush(stdout);
        if (ti == 0)
            step_1k = step;
        step_last = step;
        t_last = T;
        aether_kvcache_destroy(kc);
        free(k);
        free(v);
        free(q);
        free(out);
        free(lm_k);
        free(lm_v);
        free(tok);
        free(blk);
        free(acc);
    }
    if (t_last > 1024)
        printf("step(%zu)/step(1024) = %.2f\n", t_last, step_last / step_1k);
    return 0;
}

int main(int argc, char **argv)
{
    static const bench_cfg cfgs[] = {{"A (8x64 MHA)", 8, 8, 64, 128, 64},
                                     {"B (temporal default)", 4, 1, 32, 32, 16}};
    size_t max_t = 262144, i;
    if (argc > 1)
        max_t = (size_t)strtoul(argv[1], NULL, 10);
    printf("forward kernels: %s (decode step and last-row recompute: scalar reference)\n",
           aether_kernel_name());
    for (i = 0; i < 2; ++i)
        if (run(&cfgs[i], max_t))
            return 1;
    return 0;
}
