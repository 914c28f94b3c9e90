/*
 * `aether bench --only 'sparse stages'`: where the time of the sparse
 * forward (8x64, W128, B64, seq 8192, active kernel path) goes. The same
 * inputs run through four configurations, interleaved round by round
 * (medians), each adding one part of the candidate pattern:
 *   window      the local window only (no globals, log-stride, landmarks)
 *   + far       the global and the log-stride tokens
 *   + landmarks the full pattern (block means built, block candidates)
 * and, alone, the landmark means of K and V (part of the last step). The
 * differences between consecutive lines are the cost of each part.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_sparse.h"
#include "bench_util.h"

#include <stdlib.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "kernels/sparse_internal.h"

#define SEQ 8192u
#define HEADS 8u
#define DIM 64u
#define N_CFG 3
#define MAX_ROUNDS 31

static void fill_rand(aether_tensor *t, unsigned long long *s)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        t->data[i] = (float)(*s >> 40) / (float)(1u << 23) - 1.0f;
    }
}

/* Stage c of the pattern: 0 window, 1 + globals and log-stride, 2 + landmarks. */
static int stage_cfg(int c, aether_attn_config *cfg)
{
    static const size_t g0[] = {0};
    aether_attn_params p = aether_attn_params_default();
    p.window = 128;
    p.block_size = 64;
    p.globals = g0;
    p.n_globals = c >= 1 ? 1 : 0;
    p.use_log_stride = c >= 1;
    p.use_landmarks = c >= 2;
    return aether_attn_config_init(cfg, &p) == AETHER_OK;
}

int bench_sparse_stages(int quick, int wall, FILE *fc, FILE *fj, const char *(*sep)(int *),
                        int *first)
{
    static const char *const names[N_CFG] = {"window", "+ far tokens", "+ landmarks"};
    aether_attn_config cfg[N_CFG];
    aether_tensor q, k, v, o;
    double t[N_CFG + 1][MAX_ROUNDS], m[N_CFG + 1], edges[N_CFG];
    float *lm = NULL;
    void *ws = NULL;
    size_t ws_len = 0, len, c;
    int rounds = quick ? 3 : 9, r, ok = 1;
    unsigned long long seed = 0x9E3779B97F4A7C15ull;

    for (c = 0; c < N_CFG; ++c) {
        size_t need = 0;
        ok = ok && stage_cfg((int)c, &cfg[c]) &&
             aether_attn_forward_workspace_size(&cfg[c], SEQ, HEADS, HEADS, DIM, &need) ==
                 AETHER_OK;
        ws_len = need > ws_len ? need : ws_len;
        edges[c] = (double)HEADS * (double)aether_estimate_sparse_edges(&cfg[c], SEQ);
    }
    if (!ok)
        return 1;
    aether_tensor_zeros(&q, SEQ, HEADS, DIM);
    aether_tensor_zeros(&k, SEQ, HEADS, DIM);
    aether_tensor_zeros(&v, SEQ, HEADS, DIM);
    aether_tensor_zeros(&o, SEQ, HEADS, DIM);
    len = (SEQ / 64) * HEADS * DIM;
    ws = malloc(ws_len ? ws_len : 1);
    lm = (float *)malloc(len * sizeof(float));
    if (!q.data || !k.data || !v.data || !o.data || !ws || !lm) {
        ok = 0;
        goto done;
    }
    fill_rand(&q, &seed);
    fill_rand(&k, &seed);
    fill_rand(&v, &seed);
    for (r = 0; r < rounds; ++r) {
        double t0;
        for (c = 0; c < N_CFG; ++c) {
            t0 = bench_clock_s(wall);
            if (aether_attn_forward_auto(&cfg[c], &q, &k, &v, &o, ws, ws_len) != AETHER_OK)
                ok = 0;
            t[c][r] = bench_clock_s(wall) - t0;
        }
        t0 = bench_clock_s(wall);
        aether_landmarks_prefill_(k.data, SEQ, HEADS, DIM, 64, lm);
        aether_landmarks_prefill_(v.data, SEQ, HEADS, DIM, 64, lm);
        t[N_CFG][r] = bench_clock_s(wall) - t0;
    }
    if (!ok)
        goto done;
    for (c = 0; c <= N_CFG; ++c)
        m[c] = bench_median(t[c], rounds);
    printf("sparse stages 8x64 W128 B64 seq %u (%s kernels, medians of %d interleaved rounds), "
           "ms:\n",
           SEQ, aether_kernel_name(), rounds);
    for (c = 0; c < N_CFG; ++c) {
        double gf = edges[c] * 4.0 * DIM / m[c] * 1e-9;
        if (c == 0)
            printf("  %-14s %8.2f %20s  %.2e edges, %5.1f GFLOP/s\n", names[c], m[c] * 1e3, "",
                   edges[c], gf);
        else
            printf("  %-14s %8.2f  (stage %+7.2f ms)  %.2e edges (+%.2e), %5.1f GFLOP/s\n",
                   names[c], m[c] * 1e3, (m[c] - m[c - 1]) * 1e3, edges[c],
                   edges[c] - edges[c - 1], gf);
        if (fc)
            fprintf(fc, "sparse_stages,%s,%u,%.9g,,%.0f,%.3f,\n", names[c], SEQ, m[c], edges[c],
                    gf);
        if (fj)
            fprintf(fj,
                    "%s{\"section\":\"sparse_stages\",\"stage\":\"%s\",\"seq\":%u,"
                    "\"fast_s\":%.9g,\"edges\":%.0f}",
                    sep(first), names[c], SEQ, m[c], edges[c]);
    }
    printf("  of which the landmark means of K and V: %.2f ms\n", m[N_CFG] * 1e3);
    if (fc)
        fprintf(fc, "sparse_stages,landmark means,%u,%.9g,,,,\n", SEQ, m[N_CFG]);
    if (fj)
        fprintf(fj, "%s{\"section\":\"sparse_stages\",\"stage\":\"landmark means\",\"seq\":%u,"
                    "\"fast_s\":%.9g}",
                sep(first), SEQ, m[N_CFG]);
done:
    free(ws);
    free(lm);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o);
    return ok ? 0 : 1;
}
