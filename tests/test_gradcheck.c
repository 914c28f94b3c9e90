/*
 * Gradient checks of aether_train_example against central finite
 * differences of an independent double-precision forward of the same model
 * (docs/MODEL.md section 7, same attention candidates), for every parameter tensor, both
 * backends (sparse with a window small enough that log-stride tokens and
 * landmarks are used) and both poolings. Also: the training forward gives
 * the same logits as aether_model_forward on the serialised weights.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aether/model.h"
#include "aether/train.h"
#include "check.h"
#include "test_ws.h"
#include "kernels/sparse_internal.h"

enum { I_ = 5, QH = 2, KVH = 1, HD = 3, NL = 2, NC = 3, NF = 13 };

static uint64_t g_rng = 0x1234567887654321ull;
/* aether_train_example on a workspace from its size query. */
static aether_status example_ws(const aether_train_net *net, const float *frames, size_t n,
                                aether_pool pool, size_t label, float weight, float *grad,
                                float *logits, double *loss)
{
    size_t need = 0;
    void *ws;
    aether_status st = aether_train_example_ws_size(net, n, &need);
    if (st != AETHER_OK)
        return st;
    if (!(ws = test_ws(need)))
        return AETHER_ERR_NO_MEM;
    st = aether_train_example(net, frames, n, pool, label, weight, grad, logits, loss, ws, need);
    free(ws);
    return st;
}

static double urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)((g_rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* ---------- double-precision reference forward ---------- */
typedef struct dctx {
    const aether_train_net *net;
    const double *w; /* total_elems */
    const double *x; /* NF x I_ raw frames */
    size_t n;
    aether_pool pool;
    size_t label;
    double weight;
} dctx;

static void dmatvec(const double *x, size_t rows, const double *w, size_t cols, double *y)
{
    size_t i, j;
    for (j = 0; j < cols; ++j)
        y[j] = 0.0;
    for (i = 0; i < rows; ++i)
        for (j = 0; j < cols; ++j)
            y[j] += x[i] * w[i * cols + j];
}

static double dloss(const dctx *c)
{
    const aether_blob_layout *L = aether_train_net_layout(c->net);
    const aether_head *hd = aether_train_net_head(c->net);
    const aether_attn_config *cfg = &hd->attn;
    size_t n = c->n, QW = L->q_width, KVW = L->kv_width, group = QH / KVH;
    double h[NF * I_], q[NF * QH * HD], k[NF * KVH * HD], v[NF * KVH * HD], a[NF * QH * HD];
    double lk[NF * KVH * HD], lv[NF * KVH * HD], pooled[I_], logits[NC], tmp[I_];
    size_t tok[64], blk[64];
    size_t l, t, j, i, hh, e, b;
    double m, z;
    (void)KVW;
    for (t = 0; t < n; ++t)
        for (j = 0; j < I_; ++j)
            h[t * I_ + j] = (c->x[t * I_ + j] - c->w[L->norm_mean + j]) *
                            c->w[L->norm_inv_std + j];
    for (l = 0; l < NL; ++l) {
        const double *wl = c->w + l * L->layer_elems;
        size_t nb = 0;
        for (t = 0; t < n; ++t) {
            dmatvec(h + t * I_, I_, wl + L->wq, QW, q + t * QW);
            dmatvec(h + t * I_, I_, wl + L->wk, KVW, k + t * KVW);
            dmatvec(h + t * I_, I_, wl + L->wv, KVW, v + t * KVW);
        }
        if (hd->backend != AETHER_HEAD_DENSE && cfg->use_landmarks) {
            for (b = 0; b * cfg->block_size < n; ++b) {
                size_t s0 = b * cfg->block_size,
                       s1 = s0 + cfg->block_size < n ? s0 + cfg->block_size : n;
                for (e = 0; e < KVW; ++e) {
                    double sk = 0.0, sv = 0.0;
                    for (t = s0; t < s1; ++t) {
                        sk += k[t * KVW + e];
                        sv += v[t * KVW + e];
                    }
                    lk[b * KVW + e] = sk / (double)(s1 - s0);
                    lv[b * KVW + e] = sv / (double)(s1 - s0);
                }
            }
            nb = b;
        }
        (void)nb;
        for (i = 0; i < n; ++i) {
            size_t nt = 0, nbk = 0;
            if (hd->backend == AETHER_HEAD_DENSE) {
                nt = hd->cfg.causal ? i + 1 : n;
                for (t = 0; t < nt; ++t)
                    tok[t] = t;
            } else {
                aether_sparse_candidates_(cfg, i, n, tok, 64, &nt, blk, 64, &nbk);
            }
            for (hh = 0; hh < QH; ++hh) {
                size_t hk = hh / group, cc;
                double s[128], out[HD];
                const double *qr = q + i * QW + hh * HD;
                m = -INFINITY;
                for (cc = 0; cc < nt + nbk; ++cc) {
                    const double *kr = cc < nt ? k + tok[cc] * KVW + hk * HD
                                               : lk + blk[cc - nt] * KVW + hk * HD;
                    s[cc] = 0.0;
                    for (e = 0; e < HD; ++e)
                        s[cc] += qr[e] * kr[e];
                    s[cc] /= sqrt((double)HD);
                    if (s[cc] > m)
                        m = s[cc];
                }
                z = 0.0;
                for (e = 0; e < HD; ++e)
                    out[e] = 0.0;
                for (cc = 0; cc < nt + nbk; ++cc) {
                    const double *vr = cc < nt ? v + tok[cc] * KVW + hk * HD
                                               : lv + blk[cc - nt] * KVW + hk * HD;
                    double p = exp(s[cc] - m);
                    z += p;
                    for (e = 0; e < HD; ++e)
                        out[e] += p * vr[e];
                }
                for (e = 0; e < HD; ++e)
                    a[i * QW + hh * HD + e] = out[e] / z;
            }
        }
        for (t = 0; t < n; ++t) {
            dmatvec(a + t * QW, QW, wl + L->wo, I_, tmp);
            for (j = 0; j < I_; ++j)
                h[t * I_ + j] += tmp[j];
        }
    }
    for (j = 0; j < I_; ++j) {
        if (c->pool == AETHER_POOL_LAST) {
            pooled[j] = h[(n - 1) * I_ + j];
        } else {
            pooled[j] = 0.0;
            for (t = 0; t < n; ++t)
                pooled[j] += h[t * I_ + j];
            pooled[j] /= (double)n;
        }
    }
    dmatvec(pooled, I_, c->w + L->classifier, NC, logits);
    m = logits[0];
    for (j = 1; j < NC; ++j)
        if (logits[j] > m)
            m = logits[j];
    z = 0.0;
    for (j = 0; j < NC; ++j)
        z += exp(logits[j] - m);
    return c->weight * (m + log(z) - logits[c->label]);
}

static const char *k_tensor_names[5] = {"Wq", "Wk", "Wv", "Wo", "Wc"};

/* Which tensor element `idx` of the v1 payload belongs to (0..4). */
static int tensor_of(const aether_blob_layout *L, size_t idx)
{
    size_t r;
    if (idx >= L->classifier)
        return 4;
    r = idx % L->layer_elems;
    if (r >= L->wo)
        return 3;
    if (r >= L->wv)
        return 2;
    if (r >= L->wk)
        return 1;
    return 0;
}

static double g_worst = 0.0;

static void gradcheck_case(aether_head_backend backend, aether_pool pool)
{
    aether_train_shape sh = {I_, QH, KVH, HD, NL, NC, 1};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_net *net = NULL;
    const aether_blob_layout *L;
    float frames[NF * I_], mean[I_], inv[I_], logits[NC];
    float *grad;
    double *wd, xd[NF * I_], maxdiff[5] = {0}, maxref[5] = {0}, loss = 0.0;
    size_t i, nv;
    dctx c;

    hc.backend = backend;
    hc.q_heads = QH;
    hc.kv_heads = KVH;
    hc.head_dim = HD;
    hc.window = 2;     /* small: log-stride tokens and landmarks take part */
    hc.block_size = 3; /* a partial last block at NF = 13 */
    CHECK_STATUS(aether_train_net_create(&sh, &hc, &net), AETHER_OK);
    if (!net)
        return;
    CHECK_STATUS(aether_train_net_randomize(net, 7), AETHER_OK);
    for (i = 0; i < I_; ++i) {
        mean[i] = (float)(urand() - 0.5);
        inv[i] = (float)(0.5 + urand());
    }
    CHECK_STATUS(aether_train_net_set_norm(net, mean, inv), AETHER_OK);
    /* larger weights than the initialiser's so that the softmaxes are peaked */
    L = aether_train_net_layout(net);
    nv = L->v1_elems;
    for (i = 0; i < nv; ++i)
        aether_train_net_params(net)[i] = (float)(2.0 * urand() - 1.0);
    for (i = 0; i < NF * I_; ++i) {
        frames[i] = (float)(3.0 * urand() - 1.5);
        xd[i] = frames[i];
    }
    grad = (float *)calloc(nv, sizeof(float));
    wd = (double *)malloc(L->total_elems * sizeof(double));
    CHECK_STATUS(example_ws(net, frames, NF, pool, 1, 0.75f, grad, logits, &loss), AETHER_OK);
    for (i = 0; i < L->total_elems; ++i)
        wd[i] = aether_train_net_params(net)[i];
    c.net = net;
    c.w = wd;
    c.x = xd;
    c.n = NF;
    c.pool = pool;
    c.label = 1;
    c.weight = 0.75;
    CHECK_NEAR(dloss(&c), loss, 1e-5 * (1.0 + fabs(loss)));
    for (i = 0; i < nv; ++i) {
        double save = wd[i], hstep = 1e-5, fp, fm, num, diff;
        int tsr = tensor_of(L, i);
        wd[i] = save + hstep;
        fp = dloss(&c);
        wd[i] = save - hstep;
        fm = dloss(&c);
        wd[i] = save;
        num = (fp - fm) / (2.0 * hstep);
        diff = fabs(num - (double)grad[i]);
        if (diff > maxdiff[tsr])
            maxdiff[tsr] = diff;
        if (fabs(num) > maxref[tsr])
            maxref[tsr] = fabs(num);
    }
    for (i = 0; i < 5; ++i) {
        double rel = maxdiff[i] / (maxref[i] > 1e-12 ? maxref[i] : 1e-12);
        printf("  %-6s %-4s %s: max |analytic - numeric| / max |numeric| = %.2e (max |g| %.3g)\n",
               backend == AETHER_HEAD_DENSE ? "dense" : "sparse",
               pool == AETHER_POOL_LAST ? "last" : "mean", k_tensor_names[i], rel, maxref[i]);
        CHECK(maxref[i] > 1e-6); /* every tensor really receives gradient */
        CHECK_MSG(rel < 1e-4, "%s rel %.3g", k_tensor_names[i], rel);
        if (rel > g_worst)
            g_worst = rel;
    }
    free(grad);
    free(wd);
    aether_train_net_destroy(net);
}

static void test_gradcheck_sparse_last(void)
{
    gradcheck_case(AETHER_HEAD_SPARSE_GQA, AETHER_POOL_LAST);
}
static void test_gradcheck_sparse_mean(void)
{
    gradcheck_case(AETHER_HEAD_SPARSE_GQA, AETHER_POOL_MEAN);
}
static void test_gradcheck_dense_last(void)
{
    gradcheck_case(AETHER_HEAD_DENSE, AETHER_POOL_LAST);
}
static void test_gradcheck_dense_mean(void)
{
    gradcheck_case(AETHER_HEAD_DENSE, AETHER_POOL_MEAN);
    printf("  worst relative error over all cases: %.2e\n", g_worst);
}

/* The sparse pattern at these shapes really uses log-stride tokens beyond
 * the window and landmark blocks (otherwise the sparse check is vacuous). */
static void test_pattern_exercised(void)
{
    aether_head_config hc = aether_head_config_default_aether();
    aether_head head;
    size_t tok[64], blk[64], nt = 0, nb = 0, i, far = 0, blocks = 0;
    hc.q_heads = QH;
    hc.kv_heads = KVH;
    hc.head_dim = HD;
    hc.window = 2;
    hc.block_size = 3;
    CHECK_STATUS(aether_head_init(&head, &hc), AETHER_OK);
    for (i = 0; i < NF; ++i) {
        size_t a;
        CHECK_STATUS(aether_sparse_candidates_(&head.attn, i, NF, tok, 64, &nt, blk, 64, &nb),
                     AETHER_OK);
        for (a = 0; a < nt; ++a)
            if (tok[a] + 2 < i && tok[a] != 0)
                far++;
        blocks += nb;
    }
    CHECK(far > 0);
    CHECK(blocks > 0);
}

/* Training forward == model forward on the serialised blob. */
static void model_match_case(aether_head_backend backend, aether_pool pool)
{
    aether_train_shape sh = {16, 4, 1, 8, 2, 3, 1};
    aether_head_config hc = aether_head_config_default_aether();
    aether_train_net *net = NULL;
    aether_model *model = NULL;
    aether_blob_view view;
    unsigned char *blob;
    float frames[40 * 16], mean[16], inv[16], lt[3], lm[3];
    size_t bytes = 0, i;
    hc.backend = backend;
    hc.q_heads = 4;
    hc.kv_heads = 1;
    hc.head_dim = 8;
    hc.window = 4;
    hc.block_size = 4;
    CHECK_STATUS(aether_train_net_create(&sh, &hc, &net), AETHER_OK);
    CHECK_STATUS(aether_train_net_randomize(net, 99), AETHER_OK);
    for (i = 0; i < 16; ++i) {
        mean[i] = (float)(urand() - 0.5);
        inv[i] = (float)(0.5 + urand());
    }
    inv[3] = 0.0f; /* a masked feature */
    CHECK_STATUS(aether_train_net_set_norm(net, mean, inv), AETHER_OK);
    for (i = 0; i < 40 * 16; ++i)
        frames[i] = (float)(4.0 * urand() - 2.0);
    CHECK_STATUS(example_ws(net, frames, 40, pool, 0, 1.0f, NULL, lt, NULL), AETHER_OK);
    CHECK_STATUS(aether_train_net_blob_size(net, &bytes), AETHER_OK);
    blob = (unsigned char *)malloc(bytes);
    CHECK_STATUS(aether_train_net_serialize(net, blob, bytes, NULL), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(blob, bytes, &view), AETHER_OK);
    CHECK_STATUS(aether_model_create(&view, &hc, AETHER_MODEL_COPY, &model), AETHER_OK);
    CHECK_STATUS(ws_model_forward(model, frames, 40, pool, lm, NULL), AETHER_OK);
    for (i = 0; i < 3; ++i) {
        CHECK_NEAR(lt[i], lm[i], 1e-5 * (1.0 + fabs(lm[i])));
        CHECK(lt[i] == lm[i]); /* same arithmetic: bit-identical */
    }
    aether_model_destroy(model);
    free(blob);
    aether_train_net_destroy(net);
}

static void test_model_match(void)
{
    model_match_case(AETHER_HEAD_SPARSE_GQA, AETHER_POOL_LAST);
    model_match_case(AETHER_HEAD_SPARSE_GQA, AETHER_POOL_MEAN);
    model_match_case(AETHER_HEAD_DENSE, AETHER_POOL_LAST);
    model_match_case(AETHER_HEAD_DENSE, AETHER_POOL_MEAN);
}

static void test_example_errors(void)
{
    aether_train_shape sh = {4, 1, 1, 2, 1, 2, 0};
    aether_train_net *net = NULL;
    float fr[8] = {0}, mean[4] = {0}, inv[4] = {1, 1, 1, 1};
    CHECK_STATUS(aether_train_net_create(&sh, NULL, &net), AETHER_OK);
    CHECK_STATUS(aether_train_example(net, fr, 2, AETHER_POOL_LAST, 2, 1.0f, NULL, NULL, NULL,
                                      NULL, 0),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_example(net, fr, 0, AETHER_POOL_LAST, 0, 1.0f, NULL, NULL, NULL,
                                      NULL, 0),
                 AETHER_ERR_INVALID_ARG);
    fr[3] = NAN;
    CHECK_STATUS(aether_train_example(net, fr, 2, AETHER_POOL_LAST, 0, 1.0f, NULL, NULL, NULL,
                                      NULL, 0),
                 AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_train_net_set_norm(net, mean, inv), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_train_example(NULL, fr, 2, AETHER_POOL_LAST, 0, 1.0f, NULL, NULL, NULL,
                                      NULL, 0),
                 AETHER_ERR_NULL_ARG);
    /* Valid arguments, NULL or short workspace: an error, nothing written. */
    {
        float g[64], lg[2] = {5.0f, 5.0f};
        double l = 5.0;
        size_t need = 0, i;
        void *ws;
        for (i = 0; i < 64; ++i)
            g[i] = 5.0f;
        fr[3] = 0.0f;
        CHECK_STATUS(aether_train_example_ws_size(net, 2, &need), AETHER_OK);
        CHECK(aether_train_net_layout(net)->v1_elems <= 64);
        CHECK_STATUS(aether_train_example(net, fr, 2, AETHER_POOL_LAST, 0, 1.0f, g, lg, &l, NULL,
                                          0),
                     AETHER_ERR_NULL_ARG);
        ws = test_ws(need);
        CHECK_STATUS(aether_train_example(net, fr, 2, AETHER_POOL_LAST, 0, 1.0f, g, lg, &l, ws,
                                          need - 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
        CHECK(test_all_equal(g, 64, 5.0f) && test_all_equal(lg, 2, 5.0f) && l == 5.0);
        CHECK_STATUS(aether_train_example(net, fr, 2, AETHER_POOL_LAST, 0, 1.0f, g, lg, &l, ws,
                                          need),
                     AETHER_OK);
        CHECK(l != 5.0);
        free(ws);
    }
    sh.n_kv_heads = 2; /* q 1 not a multiple of kv 2 */
    {
        aether_train_net *bad = NULL;
        CHECK(aether_train_net_create(&sh, NULL, &bad) != AETHER_OK);
        CHECK(bad == NULL);
    }
    aether_train_net_destroy(net);
}

TEST_MAIN(test_pattern_exercised, test_gradcheck_sparse_last, test_gradcheck_sparse_mean,
          test_gradcheck_dense_last, test_gradcheck_dense_mean, test_model_match,
          test_example_errors)
