/*
 * Template source of the tile kernel (simd.h): compiled once per ISA with
 * -DAE_ISA=<isa> and that ISA's flags (see simd/kern.h). Also the ops'
 * exp and prefetch, which the tile's gathered fallback uses.
 */
#include <math.h>
#include <string.h>

#include "simd/kern.h"
#include "simd/kern_shared.h"

#if AE_ISA_ON
void AE_XFN(exp_array)(const float *x, float *y, size_t n)
{
    size_t i = 0, j;
    for (; i + AE_VW <= n; i += AE_VW)
        AE_STOREU(y + i, ae_vexp(AE_LOADU(x + i)));
    if (i < n) {
        float t[AE_VW];
        for (j = 0; j < AE_VW; ++j)
            t[j] = i + j < n ? x[i + j] : 0.0f;
        AE_STOREU(t, ae_vexp(AE_LOADU(t)));
        for (j = 0; i + j < n; ++j)
            y[i + j] = t[j];
    }
}

/* Request every cache line of the batch's K and V rows up front: gathered
 * far candidates are cold, and the loads then overlap instead of each row
 * stalling its dot product or weighted sum in turn. */
void AE_XFN(prefetch_rows)(const aether_rows *rows, const size_t *idx, size_t n, size_t dim)
{
    size_t j, d;
    for (j = 0; j < n; ++j) {
        const float *k = rows->k + idx[j] * rows->stride, *v = rows->v + idx[j] * rows->stride;
        for (d = 0; d < dim; d += 16) {
            AE_PREFETCH(k + d);
            AE_PREFETCH(v + d);
        }
    }
}

/* Online softmax of one row over gathered candidates idx[0..n) of `rows`,
 * continuing the state (m, l, acc). */
static void AE_FN(row_list)(const float *q, size_t dim, float scale, const aether_rows *rows,
                            const size_t *idx, size_t n, float *m, float *l, float *acc)
{
    float s[AE_BATCH];
    size_t a = 0, j, c;
    while (a < n) {
        float mx = *m, sum = 0.0f;
        c = n - a < AE_BATCH ? n - a : AE_BATCH;
        AE_XFN(prefetch_rows)(rows, idx + a, c, dim);
        AE_XFN(dots_fast)(q, dim, rows, idx + a, c, scale, s);
        for (j = 0; j < c; ++j)
            mx = s[j] > mx ? s[j] : mx;
        if (mx > *m) {
            float al = expf(*m - mx);
            AE_FN(scale_row)(acc, dim, al);
            *l *= al;
            *m = mx;
        }
        for (j = 0; j < c; ++j)
            s[j] -= mx;
        AE_XFN(exp_array)(s, s, c);
        for (j = 0; j < c; ++j)
            sum += s[j];
        AE_FN(accum)(acc, 0, dim, rows->v, rows->stride, idx + a, c, s, 1);
        *l += sum;
        a += c;
    }
}

/* Far token rows lie far behind the window and miss the caches, and the
 * core can only wait on a few misses at a time. Their K and V lines are
 * requested while the window's GEMM runs, a few per score key group and
 * per P.V row group, so the misses overlap with arithmetic; requested all
 * at once they would stall the core instead. */
typedef struct AE_FN(pfq) {
    size_t off[AE_PFMAX]; /* row offsets (index * stride) to request */
    size_t n, i, d, per;
    const aether_tile *t;
} AE_FN(pfq);

/* Rows sharing the previous row's list add nothing; `steps` calls of
 * pf_step follow. */
static void AE_FN(pf_init)(AE_FN(pfq) * q, const aether_tile *t, size_t steps)
{
    size_t r, a;
    q->n = q->i = q->d = q->per = 0;
    q->t = t;
    if (!t->n_ext_tok)
        return;
    for (r = 0; r < t->rows; ++r) {
        if (r > 0 && t->ext_tok[r] == t->ext_tok[r - 1])
            continue;
        for (a = 0; a < t->n_ext_tok[r] && q->n < AE_PFMAX; ++a)
            q->off[q->n++] = t->ext_tok[r][a] * t->tokens.stride;
    }
    q->per = (q->n * ((t->dim + 15) / 16) + steps - 1) / steps;
}

/* The next `per` lines of K and of V. */
static void AE_FN(pf_step)(AE_FN(pfq) * q)
{
    size_t c;
    for (c = 0; c < q->per && q->i < q->n; ++c) {
        AE_PREFETCH(q->t->tokens.k + q->off[q->i] + q->d);
        AE_PREFETCH(q->t->tokens.v + q->off[q->i] + q->d);
        q->d += 16;
        if (q->d >= q->t->dim) {
            q->d = 0;
            ++q->i;
        }
    }
}

/* Scores of four keys for the rows of one row vector (offset ro), as in
 * scores below. */
static void AE_FN(scores_half)(const float *qt, const float *k0, const float *k1, const float *k2,
                               const float *k3, size_t dim, size_t ro, AE_V sc, float *st)
{
    AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
    size_t d;
    for (d = 0; d < dim; ++d) {
        AE_V q0 = AE_LOADU(qt + d * AE_R + ro);
        a0 = AE_FMA(q0, AE_SET1(k0[d]), a0);
        a1 = AE_FMA(q0, AE_SET1(k1[d]), a1);
        a2 = AE_FMA(q0, AE_SET1(k2[d]), a2);
        a3 = AE_FMA(q0, AE_SET1(k3[d]), a3);
    }
    AE_STOREU(st + ro, AE_MUL(a0, sc));
    AE_STOREU(st + AE_R + ro, AE_MUL(a1, sc));
    AE_STOREU(st + 2 * AE_R + ro, AE_MUL(a2, sc));
    AE_STOREU(st + 3 * AE_R + ro, AE_MUL(a3, sc));
}

/* st[j*R + r] = scale * dot(q_r, k_j) for the kc keys at kb; qt is Q^T.
 * Each lane runs the reference's recurrence left to right, fused: each
 * step skips the product's rounding, so a score differs from the
 * reference's by at most a few ulps of sum |q_d k_d| (the contract's s^2
 * term). Unfused, the loop cost 1.46x as much. jr, if not NULL,
 * holds per row vector the key range [jr[2v], jr[2v+1]) its rows use: a
 * key group outside one vector's range is scored for the other only (the
 * caller masks those entries anyway). pf (or NULL): prefetch steps. */
static void AE_FN(scores)(const float *qt, const float *kb, size_t stride, const size_t *idx,
                          size_t dim, size_t kc, float scale, float *st, AE_FN(pfq) * pf,
                          const size_t *jr)
{
    AE_V sc = AE_SET1(scale);
    size_t j = 0, d, m, rv;
    for (; j + AE_MK <= kc; j += AE_MK) {
        const float *k0 = kb + (idx ? idx[j] : j) * stride;
        const float *k1 = kb + (idx ? idx[j + 1] : j + 1) * stride;
        const float *k2 = kb + (idx ? idx[j + 2] : j + 2) * stride;
        const float *k3 = kb + (idx ? idx[j + 3] : j + 3) * stride;
        AE_V a00 = AE_ZERO(), a01 = AE_ZERO(), a10 = AE_ZERO(), a11 = AE_ZERO();
        AE_V a20 = AE_ZERO(), a21 = AE_ZERO(), a30 = AE_ZERO(), a31 = AE_ZERO();
        if (pf)
            AE_FN(pf_step)(pf);
        if (jr) {
            int u0 = j < jr[1] && j + AE_MK > jr[0], u1 = j < jr[3] && j + AE_MK > jr[2];
            if (!u0 || !u1) {
                if (u0 || u1)
                    AE_FN(scores_half)
                    (qt, k0, k1, k2, k3, dim, u0 ? 0 : AE_VW, sc, st + j * AE_R);
                continue;
            }
        }
        for (d = 0; d < dim; ++d) {
            AE_V q0 = AE_LOADU(qt + d * AE_R), q1 = AE_LOADU(qt + d * AE_R + AE_VW);
            AE_V b0 = AE_SET1(k0[d]), b1 = AE_SET1(k1[d]), b2 = AE_SET1(k2[d]),
                 b3 = AE_SET1(k3[d]);
            a00 = AE_FMA(q0, b0, a00);
            a01 = AE_FMA(q1, b0, a01);
            a10 = AE_FMA(q0, b1, a10);
            a11 = AE_FMA(q1, b1, a11);
            a20 = AE_FMA(q0, b2, a20);
            a21 = AE_FMA(q1, b2, a21);
            a30 = AE_FMA(q0, b3, a30);
            a31 = AE_FMA(q1, b3, a31);
        }
        AE_STOREU(st + (j + 0) * AE_R, AE_MUL(a00, sc));
        AE_STOREU(st + (j + 0) * AE_R + AE_VW, AE_MUL(a01, sc));
        AE_STOREU(st + (j + 1) * AE_R, AE_MUL(a10, sc));
        AE_STOREU(st + (j + 1) * AE_R + AE_VW, AE_MUL(a11, sc));
        AE_STOREU(st + (j + 2) * AE_R, AE_MUL(a20, sc));
        AE_STOREU(st + (j + 2) * AE_R + AE_VW, AE_MUL(a21, sc));
        AE_STOREU(st + (j + 3) * AE_R, AE_MUL(a30, sc));
        AE_STOREU(st + (j + 3) * AE_R + AE_VW, AE_MUL(a31, sc));
    }
    for (; j < kc; ++j) {
        const float *k0 = kb + (idx ? idx[j] : j) * stride;
        for (rv = 0; rv < AE_RV; ++rv) {
            AE_V a = AE_ZERO();
            for (d = 0; d < dim; ++d)
                a = AE_FMA(AE_LOADU(qt + d * AE_R + rv * AE_VW), AE_SET1(k0[d]), a);
            AE_STOREU(st + j * AE_R + rv * AE_VW, AE_MUL(a, sc));
        }
    }
    (void)m;
}

/* o_r[d0..dim) += sum over j in [j0, j1) of p[j*R + r] * v_j[d0..dim). */
static void AE_FN(pv_row)(const float *p, const float *vb, size_t stride, size_t r, size_t j0,
                          size_t j1, size_t d0, size_t dim, float *o)
{
    if (j1 > j0)
        AE_FN(accum)
        (o, d0, dim, vb + j0 * stride, stride, NULL, j1 - j0, p + j0 * AE_R + r, AE_R);
}

/* P.V of a chunk: AE_PR rows share each V load where their ranges overlap;
 * the rest (range edges, dim tail, leftover rows) goes row by row. */
static void AE_FN(pv)(const float *p, const float *vb, size_t stride, size_t dim, size_t rows,
                      const size_t *j0, const size_t *j1, float *o, AE_FN(pfq) * pf)
{
    size_t dv = dim - dim % AE_VW, r0 = 0, r, d, j, pd;
    for (; r0 + AE_PR <= rows; r0 += AE_PR) {
        size_t ja = j0[r0], jb = j1[r0];
        AE_FN(pf_step)(pf);
        for (r = r0 + 1; r < r0 + AE_PR; ++r) {
            ja = j0[r] > ja ? j0[r] : ja;
            jb = j1[r] < jb ? j1[r] : jb;
        }
        if (ja >= jb) {
            for (r = r0; r < r0 + AE_PR; ++r)
                AE_FN(pv_row)(p, vb, stride, r, j0[r], j1[r], 0, dim, o + r * dim);
            continue;
        }
        for (d = 0; d < dv;) {
            size_t nv = (dv - d) / AE_VW;
            if (nv >= AE_PD) {
                AE_V acc[AE_PR][AE_PD];
                for (r = 0; r < AE_PR; ++r)
                    for (pd = 0; pd < AE_PD; ++pd)
                        acc[r][pd] = AE_LOADU(o + (r0 + r) * dim + d + pd * AE_VW);
                for (j = ja; j < jb; ++j) {
                    const float *vr = vb + j * stride + d;
                    const float *pr = p + j * AE_R + r0;
                    AE_V vv[AE_PD];
                    for (pd = 0; pd < AE_PD; ++pd)
                        vv[pd] = AE_LOADU(vr + pd * AE_VW);
                    for (r = 0; r < AE_PR; ++r) {
                        AE_V w = AE_SET1(pr[r]);
                        for (pd = 0; pd < AE_PD; ++pd)
                            acc[r][pd] = AE_FMA(w, vv[pd], acc[r][pd]);
                    }
                }
                for (r = 0; r < AE_PR; ++r)
                    for (pd = 0; pd < AE_PD; ++pd)
                        AE_STOREU(o + (r0 + r) * dim + d + pd * AE_VW, acc[r][pd]);
                d += AE_PD * AE_VW;
            } else {
                AE_V acc[AE_PR];
                for (r = 0; r < AE_PR; ++r)
                    acc[r] = AE_LOADU(o + (r0 + r) * dim + d);
                for (j = ja; j < jb; ++j) {
                    AE_V vv = AE_LOADU(vb + j * stride + d);
                    const float *pr = p + j * AE_R + r0;
                    for (r = 0; r < AE_PR; ++r)
                        acc[r] = AE_FMA(AE_SET1(pr[r]), vv, acc[r]);
                }
                for (r = 0; r < AE_PR; ++r)
                    AE_STOREU(o + (r0 + r) * dim + d, acc[r]);
                d += AE_VW;
            }
        }
        for (r = r0; r < r0 + AE_PR; ++r) {
            float *orow = o + r * dim;
            if (dv < dim)
                AE_FN(pv_row)(p, vb, stride, r, ja, jb, dv, dim, orow);
            AE_FN(pv_row)(p, vb, stride, r, j0[r], ja, 0, dim, orow);
            AE_FN(pv_row)(p, vb, stride, r, jb, j1[r], 0, dim, orow);
        }
    }
    for (r = r0; r < rows; ++r)
        AE_FN(pv_row)(p, vb, stride, r, j0[r], j1[r], 0, dim, o + r * dim);
}

/* Online softmax update of every row for a chunk of kc scores in st (rows
 * in the lanes): new max, rescale of l and of the accumulators o, and the
 * weights p = exp(s - m) written back into st. */
static void AE_FN(chunk_stats)(float *st, size_t kc, size_t rows, size_t dim, float *m, float *l,
                               float *al, float *o, const size_t *jr)
{
    size_t rv, j, r, ja, jb;
    for (rv = 0; rv < AE_RV; ++rv) {
        AE_V mv = AE_LOADU(m + rv * AE_VW), mx = mv, lv;
        /* Outside jr the vector's entries are all -inf (weights 0): those
         * keys are skipped, and never read by the P.V of these rows. */
        ja = jr ? jr[2 * rv] : 0;
        jb = jr ? (jr[2 * rv + 1] > ja ? jr[2 * rv + 1] : ja) : kc;
        for (j = ja; j < jb; ++j)
            mx = AE_MAX(mx, AE_LOADU(st + j * AE_R + rv * AE_VW));
        AE_STOREU(al + rv * AE_VW, ae_vexp_neg(AE_SUB(mv, mx)));
        AE_STOREU(m + rv * AE_VW, mx);
        lv = AE_MUL(AE_LOADU(l + rv * AE_VW), AE_LOADU(al + rv * AE_VW));
        for (j = ja; j < jb; ++j) {
            AE_V pj = ae_vexp_neg(AE_SUB(AE_LOADU(st + j * AE_R + rv * AE_VW), mx));
            AE_STOREU(st + j * AE_R + rv * AE_VW, pj);
            lv = AE_ADD(lv, pj);
        }
        AE_STOREU(l + rv * AE_VW, lv);
    }
    for (r = 0; r < rows; ++r)
        if (al[r] != 1.0f)
            AE_FN(scale_row)(o + r * dim, dim, al[r]);
}

/* The union of the rows' landmark lists in first-seen order. A row whose
 * list is the previous row's (same pointer: the driver shares equal lists
 * of consecutive queries) adds nothing. Returns 0 when it exceeds AE_UMAX. */
static int AE_FN(blk_union)(const aether_tile *t, size_t *u, size_t *nu_out)
{
    size_t nu = 0, r, a, b;
    for (r = 0; r < t->rows; ++r) {
        if (r > 0 && t->ext_blk[r] == t->ext_blk[r - 1])
            continue;
        if (t->n_ext_blk[r] > AE_UMAX)
            return 0;
        for (a = 0; a < t->n_ext_blk[r]; ++a) {
            size_t x = t->ext_blk[r][a];
            for (b = 0; b < nu && u[b] != x; ++b)
                ;
            if (b < nu)
                continue;
            if (nu == AE_UMAX)
                return 0;
            u[nu++] = x;
        }
    }
    *nu_out = nu;
    return 1;
}

/* pos[a] = place of list[a] in the union u (which holds it); in[b] = 1 for
 * the union entries in the list. */
static void AE_FN(blk_map)(const size_t *list, size_t n, const size_t *u, size_t nu, size_t *pos,
                           unsigned char *in)
{
    size_t a, b;
    memset(in, 0, nu);
    for (a = 0; a < n; ++a) {
        for (b = 0; u[b] != list[a]; ++b)
            ;
        pos[a] = b;
        in[b] = 1;
    }
}

/* Token slots: st[e*R + r] = score of row r's e-th extra token, -inf past
 * its list. Consecutive queries look back by the same strides from
 * different places, so the rows share no keys: each row's gathered keys
 * are scored against its own query row as in the decode (the head
 * dimension in the lanes, several keys at a time; fused, reordered sums,
 * within the contract), which costs a quarter of putting the rows in the
 * lanes and transposing every gathered key block into them. */
static void AE_FN(far_tok_scores)(const aether_tile *t, size_t E, float *st)
{
    float s[AE_KC];
    size_t e, r;
    for (r = 0; r < AE_R; ++r) {
        size_t n = r < t->rows ? t->n_ext_tok[r] : 0;
        if (n)
            AE_XFN(dots_fast)(t->q[r], t->dim, &t->tokens, t->ext_tok[r], n, t->scale, s);
        for (e = 0; e < E; ++e)
            st[e * AE_R + r] = e < n ? s[e] : -INFINITY;
    }
}

/* Block slots: the union u scored against all rows at once (queries of a
 * tile share nearly all their blocks), as in the window, then masked per
 * row. */
static void AE_FN(far_blk_scores)(const aether_tile *t, const float *qt, const size_t *u,
                                  size_t nu, float *sb)
{
    size_t pos[AE_UMAX], r, b;
    unsigned char in[AE_UMAX];
    AE_FN(scores)(qt, t->blocks.k, t->blocks.stride, u, t->dim, nu, t->scale, sb, NULL, NULL);
    for (r = 0; r < AE_R; ++r) {
        if (r >= t->rows)
            memset(in, 0, nu);
        else if (r == 0 || t->ext_blk[r] != t->ext_blk[r - 1])
            AE_FN(blk_map)(t->ext_blk[r], t->n_ext_blk[r], u, nu, pos, in);
        for (b = 0; b < nu; ++b)
            if (!in[b])
                sb[b * AE_R + r] = -INFINITY;
    }
}

/* o_c[0..dim) += sum over a < n of w[a*AE_PR + c] * row_a[0..dim) for the
 * nr (1..AE_PR) rows o_c = o + c*dim, row_a = base + idx[a] * stride: the
 * rows share each row_a load. Per element the same fused steps in the same
 * order as accum (bits equal to nr calls of it). */
static void AE_FN(accum_rows)(float *o, size_t dim, size_t nr, const float *base, size_t stride,
                              const size_t *idx, size_t n, const float *w)
{
    size_t d = 0, a, c, pd;
    for (; d + AE_PD * AE_VW <= dim; d += AE_PD * AE_VW) {
        AE_V acc[AE_PR][AE_PD];
        for (c = 0; c < AE_PR; ++c)
            for (pd = 0; pd < AE_PD; ++pd)
                acc[c][pd] = c < nr ? AE_LOADU(o + c * dim + d + pd * AE_VW) : AE_ZERO();
        for (a = 0; a < n; ++a) {
            const float *vr = base + idx[a] * stride + d;
            AE_V vv[AE_PD];
            for (pd = 0; pd < AE_PD; ++pd)
                vv[pd] = AE_LOADU(vr + pd * AE_VW);
            for (c = 0; c < AE_PR; ++c) {
                AE_V wv = AE_SET1(w[a * AE_PR + c]);
                for (pd = 0; pd < AE_PD; ++pd)
                    acc[c][pd] = AE_FMA(wv, vv[pd], acc[c][pd]);
            }
        }
        for (c = 0; c < nr; ++c)
            for (pd = 0; pd < AE_PD; ++pd)
                AE_STOREU(o + c * dim + d + pd * AE_VW, acc[c][pd]);
    }
    if (d < dim)
        for (c = 0; c < nr; ++c)
            AE_FN(accum)(o + c * dim, d, dim, base, stride, idx, n, w + c, AE_PR);
}

/* Far candidates of every row (extra tokens, then the landmark union) in
 * one online-softmax update, then their P.V row by row over each row's own
 * lists. Returns the parts done: bit 0 tokens, bit 1 blocks; the caller
 * runs the others row by row (a row with more extras than the score
 * buffer holds, or a landmark union beyond AE_UMAX). */
static unsigned AE_FN(far)(const aether_tile *t, const float *qt, float *st, float *m, float *l,
                           float *al, float *o)
{
    const size_t rows = t->rows, dim = t->dim;
    size_t u[AE_UMAX], pos[AE_UMAX], E = 0, nu = 0, r, a, c, k;
    unsigned char in[AE_UMAX];
    float w[AE_UMAX * AE_PR], *sb;
    unsigned done = 0;
    if (t->n_ext_tok) {
        for (r = 0; r < rows; ++r)
            E = t->n_ext_tok[r] > E ? t->n_ext_tok[r] : E;
        if (E <= AE_KC)
            done |= 1u;
        else
            E = 0;
    }
    if (t->n_ext_blk && t->blocks.k && AE_FN(blk_union)(t, u, &nu) && nu <= AE_KC - E)
        done |= 2u;
    else
        nu = 0;
    if (E + nu == 0)
        return done;
    sb = st + E * AE_R;
    if (E)
        AE_FN(far_tok_scores)(t, E, st);
    if (nu)
        AE_FN(far_blk_scores)(t, qt, u, nu, sb);
    AE_FN(chunk_stats)(st, E + nu, rows, dim, m, l, al, o, NULL);
    for (r = 0; E && r < rows; ++r)
        if (t->n_ext_tok[r])
            AE_FN(accum)
            (o + r * dim, 0, dim, t->tokens.v, t->tokens.stride, t->ext_tok[r], t->n_ext_tok[r],
             st + r, AE_R);
    /* Landmarks: up to AE_PR consecutive rows with the same list (the
     * driver shares it between queries) share each mean row's loads. */
    for (r = 0; nu && r < rows; r += k) {
        const size_t *list = t->ext_blk[r];
        size_t nb = t->n_ext_blk[r];
        for (k = 1; k < AE_PR && r + k < rows && t->ext_blk[r + k] == list; ++k)
            ;
        if (!nb)
            continue;
        if (r == 0 || list != t->ext_blk[r - 1])
            AE_FN(blk_map)(list, nb, u, nu, pos, in);
        for (a = 0; a < nb; ++a)
            for (c = 0; c < AE_PR; ++c)
                w[a * AE_PR + c] = c < k ? sb[pos[a] * AE_R + r + c] : 0.0f;
        AE_FN(accum_rows)(o + r * dim, dim, k, t->blocks.v, t->blocks.stride, list, nb, w);
    }
    return done;
}

/* qt[d*R + r] = q_r[d] (0 for padding rows): whole AE_VW x AE_VW blocks
 * transposed in registers, the head-dimension tail element by element. */
static void AE_FN(transpose_q)(const aether_tile *t, float *qt)
{
    const size_t rows = t->rows, dim = t->dim, dv = dim - dim % AE_VW;
    AE_V b[AE_VW];
    size_t r, d, d0, rv;
    for (rv = 0; rv < AE_RV; ++rv)
        for (d0 = 0; d0 < dv; d0 += AE_VW) {
            for (r = 0; r < AE_VW; ++r)
                b[r] = rv * AE_VW + r < rows ? AE_LOADU(t->q[rv * AE_VW + r] + d0) : AE_ZERO();
            AE_TRANSPOSE(b);
            for (d = 0; d < AE_VW; ++d)
                AE_STOREU(qt + (d0 + d) * AE_R + rv * AE_VW, b[d]);
        }
    for (r = 0; r < AE_R; ++r)
        for (d = dv; d < dim; ++d)
            qt[d * AE_R + r] = r < rows ? t->q[r][d] : 0.0f;
}

void AE_XFN(tile)(const aether_tile *t)
{
    const size_t dim = t->dim, rows = t->rows, stride = t->tokens.stride;
    float *qt = t->scratch;
    float *st = qt + dim * AE_R;
    float *o = st + AE_KC * AE_R;
    float *m = o + AE_R * dim;
    float *l = m + AE_R;
    float *al = l + AE_R;
    size_t j0[AE_R], j1[AE_R], jr[2 * AE_RV];
    size_t r, j, c0, kc, L = (size_t)-1, H = 0;
    unsigned done;
    AE_FN(pfq) pf;

    AE_FN(transpose_q)(t, qt);
    memset(o, 0, AE_R * dim * sizeof(float));
    for (r = 0; r < AE_R; ++r) {
        m[r] = AE_MINIT;
        l[r] = 0.0f;
    }
    for (r = 0; r < rows; ++r) {
        L = t->lo[r] < L ? t->lo[r] : L;
        H = t->hi[r] > H ? t->hi[r] : H;
    }

    /* One step per score key group and per P.V row group of each chunk. */
    AE_FN(pf_init)(&pf, t, (H - L) / AE_MK + 1 + ((H - L) / AE_KCN + 1) * (rows / AE_PR));
    for (c0 = L; c0 <= H; c0 += kc) {
        size_t last;
        /* Chunks of AE_KCN keys; a rest of up to AE_KC keys goes in one
         * (a tile of the default window spans W + rows keys: one chunk). */
        kc = H - c0 + 1 <= AE_KC ? H - c0 + 1 : AE_KCN;
        last = c0 + kc - 1;
        /* Each row's keys in the chunk [j0, j1), and their span per row
         * vector (rows of consecutive queries: the two vectors' windows are
         * offset, so the chunk's edges need only one of them). */
        for (r = 0; r < AE_R; ++r) {
            if (r >= rows || t->hi[r] < c0 || t->lo[r] > last) {
                j0[r] = j1[r] = 0;
            } else {
                j0[r] = t->lo[r] > c0 ? t->lo[r] - c0 : 0;
                j1[r] = (t->hi[r] < last ? t->hi[r] : last) - c0 + 1;
            }
            if (r % AE_VW == 0) {
                jr[2 * (r / AE_VW)] = kc;
                jr[2 * (r / AE_VW) + 1] = 0;
            }
            if (j0[r] < j1[r]) {
                size_t *v = jr + 2 * (r / AE_VW);
                v[0] = j0[r] < v[0] ? j0[r] : v[0];
                v[1] = j1[r] > v[1] ? j1[r] : v[1];
            }
        }
        AE_FN(scores)
        (qt, t->tokens.k + c0 * stride, stride, NULL, dim, kc, t->scale, st, &pf, jr);
        /* Mask: keys outside a row's window get -inf and no P.V work. */
        for (r = 0; r < AE_R; ++r) {
            for (j = 0; j < j0[r]; ++j)
                st[j * AE_R + r] = -INFINITY;
            for (j = j1[r] > j0[r] ? j1[r] : 0; j < kc; ++j)
                st[j * AE_R + r] = -INFINITY;
        }
        AE_FN(chunk_stats)(st, kc, rows, dim, m, l, al, o, jr);
        AE_FN(pv)(st, t->tokens.v + c0 * stride, stride, dim, rows, j0, j1, o, &pf);
        if (last == H)
            break;
    }

    done = AE_FN(far)(t, qt, st, m, l, al, o);
    for (r = 0; r < rows; ++r) {
        float *orow = o + r * dim;
        if (!(done & 1u) && t->n_ext_tok && t->n_ext_tok[r])
            AE_FN(row_list)
            (t->q[r], dim, t->scale, &t->tokens, t->ext_tok[r], t->n_ext_tok[r], &m[r], &l[r],
             orow);
        if (!(done & 2u) && t->n_ext_blk && t->n_ext_blk[r])
            AE_FN(row_list)
            (t->q[r], dim, t->scale, &t->blocks, t->ext_blk[r], t->n_ext_blk[r], &m[r], &l[r],
             orow);
        AE_FN(finish_row)(orow, dim, l[r], t->out[r]);
    }
}
#endif /* AE_ISA_ON */
