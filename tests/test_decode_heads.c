/* The multi-head decode kernel (query_heads: every query row of a step over
 * whole token rows, all kv heads side by side) against the reference
 * single-row query, on every SIMD path this CPU runs: random head counts
 * and GQA ratios, head dims with vector tails, candidate lists longer than
 * one softmax batch, and landmark rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "check.h"
#include "kernels/sparse_internal.h"
#include "dispatch/kernels.h"

static unsigned long long g_rng = 0x9E3779B97F4A7C15ull;

static unsigned long long next_u(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static float frand(float scale)
{
    return scale * ((float)(next_u() >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}

static size_t urand(size_t n)
{
    return (size_t)(next_u() % n);
}

static const aether_kernel_mode k_fast[] = {AETHER_KERNELS_AVX2, AETHER_KERNELS_AVX512,
                                            AETHER_KERNELS_NEON};

/* Candidate list: a run of consecutive rows (the window) plus scattered
 * far rows, as a decode step has. */
static size_t make_list(size_t *idx, size_t n, size_t rows)
{
    size_t j, run = n > 0 ? urand(n + 1) : 0, start = rows > run ? urand(rows - run + 1) : 0;
    for (j = 0; j < run && j < rows; ++j)
        idx[j] = start + j;
    for (; j < n; ++j)
        idx[j] = urand(rows);
    return n;
}

typedef struct trial {
    size_t kvh, group, dim, n_tok, n_blk;
    float scale;
} trial;

/* One trial: query_heads over sets of up to AETHER_QHEADS_MAX rows, each
 * row against aether_sparse_query_ on its own kv head. Returns the rows off
 * the contract |d| <= 1e-6 s + 2e-6 |ref| (s = scale^2: the q.k sums are
 * reordered, so the score error grows with |q||k|). */
static size_t run_trial(const aether_simd_ops *ops, const trial *t, double *worst)
{
    size_t qh = t->kvh * t->group, row = t->kvh * t->dim, rows = 700, nb = 40;
    size_t h0, nh, h, i, bad = 0;
    float *k = malloc(rows * row * sizeof(float)), *v = malloc(rows * row * sizeof(float));
    float *mk = malloc(nb * row * sizeof(float)), *mv = malloc(nb * row * sizeof(float));
    float *q = malloc(qh * t->dim * sizeof(float)), *out = malloc(qh * t->dim * sizeof(float));
    float *ref = malloc(t->dim * sizeof(float)), *acc = malloc(t->dim * sizeof(float));
    size_t *tok = malloc((t->n_tok + 1) * sizeof(size_t));
    size_t *blk = malloc((t->n_blk + 1) * sizeof(size_t));
    float sc = 1.0f / sqrtf((float)t->dim);
    aether_rows tr, br;
    CHECK(k && v && mk && mv && q && out && ref && acc && tok && blk);
    if (!(k && v && mk && mv && q && out && ref && acc && tok && blk))
        goto done;
    for (i = 0; i < rows * row; ++i) {
        k[i] = frand(t->scale);
        v[i] = frand(t->scale);
    }
    for (i = 0; i < nb * row; ++i) {
        mk[i] = frand(t->scale);
        mv[i] = frand(t->scale);
    }
    for (i = 0; i < qh * t->dim; ++i)
        q[i] = frand(t->scale);
    make_list(tok, t->n_tok, rows);
    make_list(blk, t->n_blk, nb);
    tr.k = k;
    tr.v = v;
    tr.stride = row;
    br.k = mk;
    br.v = mv;
    br.stride = row;
    for (h0 = 0; h0 < qh; h0 += nh) {
        size_t koff[AETHER_QHEADS_MAX];
        nh = qh - h0 < AETHER_QHEADS_MAX ? qh - h0 : AETHER_QHEADS_MAX;
        for (h = 0; h < nh; ++h)
            koff[h] = (h0 + h) / t->group * t->dim;
        ops->query_heads(q + h0 * t->dim, nh, t->dim, koff, sc, &tr, tok, t->n_tok, &br, blk,
                         t->n_blk, out + h0 * t->dim);
    }
    for (h = 0; h < qh; ++h) {
        aether_rows hr, hb;
        size_t off = h / t->group * t->dim;
        int ok = 1;
        hr.k = k + off;
        hr.v = v + off;
        hr.stride = row;
        hb.k = mk + off;
        hb.v = mv + off;
        hb.stride = row;
        aether_sparse_query_(q + h * t->dim, t->dim, sc, &hr, tok, t->n_tok, &hb, blk, t->n_blk,
                             acc, ref);
        for (i = 0; i < t->dim; ++i) {
            double g = out[h * t->dim + i], r = ref[i], d = fabs(g - r);
            double s2 = (double)t->scale * (double)t->scale;
            *worst = d > *worst ? d : *worst;
            if (!(d <= 1e-6 * s2 + 2e-6 * fabs(r)))
                ok = 0;
        }
        bad += !ok;
    }
done:
    free(k);
    free(v);
    free(mk);
    free(mv);
    free(q);
    free(out);
    free(ref);
    free(acc);
    free(tok);
    free(blk);
    return bad;
}

static void test_query_heads_vs_reference(void)
{
    static const size_t dims[] = {1, 3, 4, 7, 8, 16, 17, 20, 31, 32, 33, 48, 64, 65, 100, 128};
    size_t p, n, ran = 0;
    double worst = 0.0;
    for (p = 0; p < 3; ++p) {
        const aether_simd_ops *ops;
        if (aether_set_kernel_mode(k_fast[p]) != AETHER_OK)
            continue;
        ops = aether_simd_active_();
        CHECK(ops != NULL && ops->query_heads != NULL);
        if (!ops || !ops->query_heads)
            continue;
        for (n = 0; n < 120; ++n) {
            trial t;
            size_t bad;
            t.kvh = 1 + urand(5);
            t.group = 1 + urand(n % 4 == 0 ? 12 : 3);
            t.dim = dims[urand(sizeof dims / sizeof dims[0])];
            /* Past one softmax batch (256) now and then, to cross the
             * online rescale between batches. */
            t.n_tok = n % 5 == 0 ? 250 + urand(400) : urand(150);
            t.n_blk = urand(n % 3 == 0 ? 30 : 8);
            if (t.n_tok + t.n_blk == 0)
                t.n_tok = 1;
            t.scale = n % 3 == 1 ? 4.0f : 1.0f;
            bad = run_trial(ops, &t, &worst);
            CHECK_MSG(bad == 0, "%s kv%lu group %lu dim %lu tok %lu blk %lu: %lu rows off",
                      aether_kernel_name(), (unsigned long)t.kvh, (unsigned long)t.group,
                      (unsigned long)t.dim, (unsigned long)t.n_tok, (unsigned long)t.n_blk,
                      (unsigned long)bad);
            ++ran;
        }
    }
    printf("query_heads vs reference: %lu trials, max abs diff %.3g\n", (unsigned long)ran,
           worst);
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

TEST_MAIN(test_query_heads_vs_reference)
