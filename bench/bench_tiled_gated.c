/*
 * Tiled vs untiled sparse prefill (scratch bytes and time) and gated vs
 * ungated per-token cost. Scalar reference kernels, one thread; times are the
 * fastest of repeated calls.
 *
 *   bench_tiled_gated [--quick]
 *
 * Output is one line per measurement, whitespace-separated, so it can be
 * pasted into a table or parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/attention_gated.h"
#include "aether/attention_tiled.h"
#include "aether/dispatch.h"
#include "aether/gate.h"

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill(aether_tensor *t, uint64_t *s)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i)
        t->data[i] = (float)(splitmix(s) >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

static int ok(aether_status st, const char *what)
{
    if (st == AETHER_OK)
        return 1;
    fprintf(stderr, "%s: %s\n", what, aether_strerror(st));
    return 0;
}

/* Seconds per call: the fastest of repeated calls over at least min_s
 * seconds (and at least 3 calls), which filters out interference from
 * other processes on a shared machine. */
typedef aether_status (*run_fn)(void *ctx);

static double time_it(run_fn fn, void *ctx, double min_s)
{
    double start = now_s(), best = -1.0;
    int reps = 0;
    do {
        double t0 = now_s(), t;
        if (fn(ctx) != AETHER_OK)
            return -1.0;
        t = now_s() - t0;
        if (best < 0.0 || t < best)
            best = t;
        ++reps;
    } while (reps < 3 || now_s() - start < min_s);
    return best;
}

typedef struct ctx {
    const aether_attn_config *cfg;
    aether_tensor q, k, v, out;
    void *ws;
    size_t ws_len, tile;
    const uint8_t *mask;
    const aether_fastgrnn *gate;
    size_t top_k;
} ctx;

static aether_status run_forward(void *p)
{
    ctx *c = (ctx *)p;
    return aether_attn_forward_gqa(c->cfg, &c->q, &c->k, &c->v, &c->out, c->ws, c->ws_len);
}

static aether_status run_tiled(void *p)
{
    ctx *c = (ctx *)p;
    return aether_attn_forward_gqa_tiled(c->cfg, &c->q, &c->k, &c->v, &c->out, c->tile,
                                         AETHER_TILED_ORDER_FORWARD, c->ws, c->ws_len);
}

static aether_status run_gated(void *p)
{
    ctx *c = (ctx *)p;
    return aether_attn_forward_gqa_gated(c->cfg, &c->q, &c->k, &c->v, c->mask, c->q.seq, &c->out,
                                         c->ws, c->ws_len);
}

static aether_status run_gated_fastgrnn(void *p)
{
    ctx *c = (ctx *)p;
    return aether_attn_forward_gated_fastgrnn(c->cfg, c->gate, &c->q, &c->k, &c->v, c->top_k,
                                              &c->out, NULL, NULL, c->ws, c->ws_len);
}

static int setup(ctx *c, size_t seq, size_t qh, size_t kvh, size_t dim, uint64_t *seed)
{
    memset(c, 0, sizeof *c);
    if (!ok(aether_tensor_zeros(&c->q, seq, qh, dim), "q") ||
        !ok(aether_tensor_zeros(&c->k, seq, kvh, dim), "k") ||
        !ok(aether_tensor_zeros(&c->v, seq, kvh, dim), "v") ||
        !ok(aether_tensor_zeros(&c->out, seq, qh, dim), "out"))
        return 0;
    fill(&c->q, seed);
    fill(&c->k, seed);
    fill(&c->v, seed);
    return 1;
}

static void teardown(ctx *c)
{
    aether_tensor_free(&c->q);
    aether_tensor_free(&c->k);
    aether_tensor_free(&c->v);
    aether_tensor_free(&c->out);
    free(c->ws);
    c->ws = NULL;
}

/* Scratch and wall time of forward vs tiled forward. */
static void bench_tiled(const aether_attn_config *cfg, int quick)
{
    static const size_t seqs[3] = {1024, 8192, 65536};
    static const size_t tiles[3] = {16, 0, 1024};
    size_t qh = 4, kvh = 1, dim = 32, s, t;
    uint64_t seed = 1;
    printf("# tiled vs untiled: W %zu B %zu globals {0}, q %zu / kv %zu heads, dim %zu\n",
           cfg->window, cfg->block_size, qh, kvh, dim);
    printf("# kernel tile seq scratch_bytes seconds ns_per_query_head\n");
    for (s = 0; s < (quick ? 2u : 3u); ++s) {
        size_t seq = seqs[s], need;
        ctx c;
        double sec;
        if (!setup(&c, seq, qh, kvh, dim, &seed))
            return;
        c.cfg = cfg;
        if (!ok(aether_attn_forward_workspace_size(cfg, seq, qh, kvh, dim, &need), "ws"))
            return;
        c.ws = malloc(need);
        c.ws_len = need;
        sec = time_it(run_forward, &c, quick ? 0.05 : 0.3);
        printf("forward - %zu %zu %.4f %.1f\n", seq, need, sec, sec * 1e9 / (double)(seq * qh));
        /* for scale: the optimised path of the same forward, if the CPU has one */
        if (aether_set_kernel_mode(AETHER_KERNELS_AUTO) == AETHER_OK &&
            strcmp(aether_kernel_name(), "reference") != 0) {
            sec = time_it(run_forward, &c, quick ? 0.05 : 0.3);
            printf("forward_%s - %zu %zu %.4f %.1f\n", aether_kernel_name(), seq, need, sec,
                   sec * 1e9 / (double)(seq * qh));
        }
        (void)aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
        free(c.ws);
        for (t = 0; t < 3; ++t) {
            c.tile = tiles[t];
            if (!ok(aether_attn_forward_tiled_workspace_size(cfg, seq, qh, kvh, dim, c.tile,
                                                             AETHER_TILED_ORDER_FORWARD, &need),
                    "tiled ws"))
                return;
            c.ws = malloc(need);
            c.ws_len = need;
            sec = time_it(run_tiled, &c, quick ? 0.05 : 0.3);
            printf("tiled %zu %zu %zu %.4f %.1f\n", aether_attn_tiled_tile(cfg, c.tile), seq,
                   need, sec, sec * 1e9 / (double)(seq * qh));
            free(c.ws);
        }
        c.ws = NULL;
        teardown(&c);
    }
}

/* Per-token cost of forward, gated (30 % random mask, all-false mask) and
 * the FastGRNN-gated forward (gate + top-k + gated forward). */
static void bench_gated(const aether_attn_config *cfg, int quick)
{
    size_t qh = 4, kvh = 4, dim = 32, seq;
    uint64_t seed = 2;
    aether_fastgrnn *gate = NULL;
    if (!ok(aether_fastgrnn_create(dim, AETHER_FASTGRNN_DEFAULT_HIDDEN,
                                   AETHER_FASTGRNN_SEED_REFERENCE, &gate),
            "gate"))
        return;
    printf("# gated vs ungated: W %zu B %zu globals {0}, %zu heads, dim %zu; ns per token\n",
           cfg->window, cfg->block_size, qh, dim);
    printf("# seq forward gated_rand30 gated_none fastgrnn_top8 (edges/head: plain, rand30)\n");
    for (seq = 128; seq <= (quick ? 2048u : 16384u); seq *= 2) {
        ctx c;
        size_t need, i, e_plain, e_gated = 0;
        uint8_t *mask = (uint8_t *)malloc(seq), *none = (uint8_t *)calloc(seq, 1);
        double tf, tg, tn, tq;
        double min_s = quick ? 0.02 : 0.2;
        if (!mask || !none || !setup(&c, seq, qh, kvh, dim, &seed))
            return;
        for (i = 0; i < seq; ++i)
            mask[i] = (uint8_t)((splitmix(&seed) >> 40) < 5033165u);
        c.cfg = cfg;
        c.gate = gate;
        c.top_k = 8;
        {
            size_t nf = 0;
            if (!ok(aether_attn_forward_gated_fastgrnn_workspace_size(cfg, gate, seq, qh, kvh,
                                                                      dim, 8, &need),
                    "ws") ||
                !ok(aether_attn_forward_workspace_size(cfg, seq, qh, kvh, dim, &nf), "ws"))
                return;
            if (nf > need)
                need = nf; /* one buffer serves all the kernels compared */
        }
        c.ws = malloc(need);
        c.ws_len = need;
        tf = time_it(run_forward, &c, min_s);
        c.mask = mask;
        tg = time_it(run_gated, &c, min_s);
        c.mask = none;
        tn = time_it(run_gated, &c, min_s);
        tq = time_it(run_gated_fastgrnn, &c, min_s);
        /* candidate counts: the plain pattern vs what survives the 30 % mask */
        e_plain = (size_t)aether_estimate_sparse_edges(cfg, seq);
        for (i = 0; i < seq; ++i) {
            size_t buf[512], n = 0, a;
            if (aether_pattern_tokens(cfg, i, seq, buf, 512, &n) != AETHER_OK)
                break;
            for (a = 0; a < n; ++a) {
                size_t j = buf[a];
                e_gated += (j + cfg->window >= i) || j == 0 || mask[j];
            }
            if (aether_pattern_blocks(cfg, i, seq, buf, 512, &n) == AETHER_OK)
                e_gated += n;
        }
        {
            /* keys kept by the causal prefix top-8 gate on this data */
            aether_causal_params cp;
            size_t kept = 0, cws_len = 0;
            void *cws = NULL;
            cp.rule = AETHER_CAUSAL_PREFIX_TOP_K;
            cp.top_k = 8;
            cp.threshold = 0.0f;
            if (ok(aether_causal_gate_window_workspace_size(gate, &cp, seq, &cws_len),
                   "causal ws") &&
                (cws = malloc(cws_len ? cws_len : 1)) != NULL &&
                ok(aether_causal_gate_window(gate, &cp, &c.k, none, seq, NULL, cws, cws_len),
                   "causal"))
                for (i = 0; i < seq; ++i)
                    kept += none[i];
            free(cws);
            memset(none, 0, seq);
            printf("%zu %.1f %.1f %.1f %.1f (%zu, %zu) causal_top8_kept %zu\n", seq,
                   tf * 1e9 / (double)seq, tg * 1e9 / (double)seq, tn * 1e9 / (double)seq,
                   tq * 1e9 / (double)seq, e_plain, e_gated, kept);
        }
        free(mask);
        free(none);
        teardown(&c);
    }
    aether_fastgrnn_destroy(gate);
}

int main(int argc, char **argv)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config cfg;
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    /* Tiled and gated kernels are scalar reference code: compare like with
     * like (the optimised forward is printed separately for scale). */
    if (!ok(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), "kernel mode"))
        return 1;
    if (!ok(aether_attn_config_init(&cfg, &p), "config"))
        return 1;
    bench_tiled(&cfg, quick);
    bench_gated(&cfg, quick);
    /* A short window, where log-stride keys are a large share of the
     * candidates and the mask has something to prune. */
    p.window = 8;
    p.block_size = 16;
    if (!ok(aether_attn_config_init(&cfg, &p), "config"))
        return 1;
    bench_gated(&cfg, quick);
    return 0;
}
