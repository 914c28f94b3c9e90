/*
 * Decode part of the shared optimised kernels (GQA group queries over
 * gathered candidates, the projection matvec) and the ops table. Included
 * at the end of tile_impl.h, after the helpers it uses; no include guard.
 */

/* s[h * AE_QB + j] = scale * dot(q_h, k_idx[j]) for nh <= 4 rows q_h =
 * q + h * dim: each K row is loaded once and feeds all rows. */
static void AE_FN(dots_group)(const float *q, size_t nh, size_t dim, const aether_rows *rows,
                              const size_t *idx, size_t n, float scale, float *s)
{
    const float *q0 = q, *q1 = nh > 1 ? q + dim : q, *q2 = nh > 2 ? q + 2 * dim : q;
    const float *q3 = nh > 3 ? q + 3 * dim : q;
    size_t j, d, h, dv = dim - dim % AE_VW;
    for (j = 0; j < n; ++j) {
        const float *k0 = rows->k + idx[j] * rows->stride;
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        float t[4];
        for (d = 0; d < dv; d += AE_VW) {
            AE_V kv = AE_LOADU(k0 + d);
            a0 = AE_FMA(AE_LOADU(q0 + d), kv, a0);
            a1 = AE_FMA(AE_LOADU(q1 + d), kv, a1);
            a2 = AE_FMA(AE_LOADU(q2 + d), kv, a2);
            a3 = AE_FMA(AE_LOADU(q3 + d), kv, a3);
        }
        AE_HSUM4(a0, a1, a2, a3, t);
        for (; d < dim; ++d) {
            t[0] += q0[d] * k0[d];
            t[1] += q1[d] * k0[d];
            t[2] += q2[d] * k0[d];
            t[3] += q3[d] * k0[d];
        }
        for (h = 0; h < nh; ++h)
            s[h * AE_QB + j] = t[h] * scale;
    }
}

/* acc_h[0..dim) += sum over a < n of w[h * AE_QB + a] * row_a for the
 * nh <= 4 rows acc_h = acc + h * dim (rows past nh have zero weights and
 * are not stored): each V row is loaded once for all rows. */
static void AE_FN(accum_group)(float *acc, size_t nh, size_t dim, const float *base,
                               size_t stride, const size_t *idx, size_t n, const float *w)
{
    const float *w0 = w, *w1 = w + AE_QB, *w2 = w + 2 * AE_QB, *w3 = w + 3 * AE_QB;
    float *r0 = acc, *r1 = nh > 1 ? acc + dim : acc, *r2 = nh > 2 ? acc + 2 * dim : acc;
    float *r3 = nh > 3 ? acc + 3 * dim : acc;
    size_t d = 0, a;
    for (; d + 2 * AE_VW <= dim; d += 2 * AE_VW) {
        AE_V c00 = AE_LOADU(r0 + d), c01 = AE_LOADU(r0 + d + AE_VW);
        AE_V c10 = AE_LOADU(r1 + d), c11 = AE_LOADU(r1 + d + AE_VW);
        AE_V c20 = AE_LOADU(r2 + d), c21 = AE_LOADU(r2 + d + AE_VW);
        AE_V c30 = AE_LOADU(r3 + d), c31 = AE_LOADU(r3 + d + AE_VW);
        for (a = 0; a < n; ++a) {
            const float *vr = base + idx[a] * stride + d;
            AE_V v0 = AE_LOADU(vr), v1 = AE_LOADU(vr + AE_VW), x;
            x = AE_SET1(w0[a]);
            c00 = AE_FMA(x, v0, c00);
            c01 = AE_FMA(x, v1, c01);
            x = AE_SET1(w1[a]);
            c10 = AE_FMA(x, v0, c10);
            c11 = AE_FMA(x, v1, c11);
            x = AE_SET1(w2[a]);
            c20 = AE_FMA(x, v0, c20);
            c21 = AE_FMA(x, v1, c21);
            x = AE_SET1(w3[a]);
            c30 = AE_FMA(x, v0, c30);
            c31 = AE_FMA(x, v1, c31);
        }
        if (nh > 3) {
            AE_STOREU(r3 + d, c30);
            AE_STOREU(r3 + d + AE_VW, c31);
        }
        if (nh > 2) {
            AE_STOREU(r2 + d, c20);
            AE_STOREU(r2 + d + AE_VW, c21);
        }
        if (nh > 1) {
            AE_STOREU(r1 + d, c10);
            AE_STOREU(r1 + d + AE_VW, c11);
        }
        AE_STOREU(r0 + d, c00);
        AE_STOREU(r0 + d + AE_VW, c01);
    }
    for (; d < dim; ++d) {
        float x0 = r0[d], x1 = r1[d], x2 = r2[d], x3 = r3[d];
        for (a = 0; a < n; ++a) {
            float vv = base[idx[a] * stride + d];
            x0 += w0[a] * vv;
            x1 += w1[a] * vv;
            x2 += w2[a] * vv;
            x3 += w3[a] * vv;
        }
        if (nh > 3)
            r3[d] = x3;
        if (nh > 2)
            r2[d] = x2;
        if (nh > 1)
            r1[d] = x1;
        r0[d] = x0;
    }
}

#ifdef AE_DOTS_G4
#define AE_G4_DMAX 128u /* largest head dim of the packed 4 x 4 path */
#endif

/* dots_group through the ISA's 4 x 4 kernel when the packed rows qv exist
 * (leftover keys go the generic way). */
static void AE_FN(dots_any)(const float *q, const float *qv, size_t nh, size_t dim,
                            const aether_rows *rows, const size_t *idx, size_t n, float scale,
                            float *s)
{
    size_t done = 0;
#ifdef AE_DOTS_G4
    if (qv)
        done = AE_DOTS_G4(qv, dim, rows->k, rows->stride, idx, n, scale, s, AE_QB, nh);
#else
    (void)qv;
#endif
    if (done < n)
        AE_FN(dots_group)(q, nh, dim, rows, idx + done, n - done, scale, s + done);
}

/* Decode of up to four query rows of one GQA group: scores of a batch of
 * candidates for every row (shared K loads), per row the max / exp pass,
 * then the weighted sums of all rows at once (shared V loads). */
static void AE_FN(query_group)(const float *q, size_t nh, size_t dim, float scale,
                               const aether_rows *tokens, const size_t *tok, size_t n_tok,
                               const aether_rows *blocks, const size_t *blk, size_t n_blk,
                               float *acc, float *out)
{
    float s[4 * AE_QB];
    float m[4], l[4];
    const float *qv_arg = NULL;
    size_t a, c, h;
#ifdef AE_DOTS_G4
    float qv[4 * AE_G4_DMAX];
#endif
    if (nh == 1) {
        AE_FN(query)(q, dim, scale, tokens, tok, n_tok, blocks, blk, n_blk, acc, out);
        return;
    }
#ifdef AE_DOTS_G4
    /* The ISA's 4 x 4 score kernel: q packed as (row, d mod 4) lanes. */
    if (dim % 4 == 0 && dim <= AE_G4_DMAX) {
        size_t k, e;
        for (k = 0; k < dim / 4; ++k)
            for (h = 0; h < 4; ++h)
                for (e = 0; e < 4; ++e)
                    qv[16 * k + 4 * h + e] = h < nh ? q[h * dim + 4 * k + e] : 0.0f;
        qv_arg = qv;
    }
#endif
    memset(acc, 0, nh * dim * sizeof(float));
    /* Rows past nh carry zero weights through accum_group. */
    memset(s + nh * AE_QB, 0, (4 - nh) * AE_QB * sizeof(float));
    for (h = 0; h < nh; ++h) {
        m[h] = AE_MINIT;
        l[h] = 0.0f;
    }
    for (a = 0; a < n_tok + n_blk; a += c) {
        AE_FN(qbatch) b = AE_FN(next_batch)(a, n_tok, n_blk);
        c = b.tc + b.bc;
        if (b.tc) {
            AE_FN(prefetch_rows)(tokens, tok + b.ta, b.tc, dim);
            AE_FN(dots_any)(q, qv_arg, nh, dim, tokens, tok + b.ta, b.tc, scale, s);
        }
        if (b.bc) {
            AE_FN(prefetch_rows)(blocks, blk + b.ba, b.bc, dim);
            AE_FN(dots_any)(q, qv_arg, nh, dim, blocks, blk + b.ba, b.bc, scale, s + b.tc);
        }
        for (h = 0; h < nh; ++h) {
            float *sh = s + h * AE_QB, *ah = acc + h * dim;
            float mx = AE_FN(max_array)(sh, c, m[h]);
            if (mx > m[h]) {
                if (m[h] != AE_MINIT) {
                    float al = expf(m[h] - mx);
                    AE_FN(scale_row)(ah, dim, al);
                    l[h] *= al;
                }
                m[h] = mx;
            }
            l[h] += AE_FN(exp_sub_sum)(sh, c, mx);
        }
        if (b.tc)
            AE_FN(accum_group)(acc, nh, dim, tokens->v, tokens->stride, tok + b.ta, b.tc, s);
        if (b.bc)
            AE_FN(accum_group)(acc, nh, dim, blocks->v, blocks->stride, blk + b.ba, b.bc,
                               s + b.tc);
    }
    for (h = 0; h < nh; ++h)
        AE_FN(finish_row)(acc + h * dim, dim, l[h], out + h * dim);
}

/* y = x . W, columns in the lanes, up to eight vectors of columns per pass. */
static void AE_FN(matvec)(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j = 0;
    for (; j + 8 * AE_VW <= cols; j += 8 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        AE_V a4 = AE_ZERO(), a5 = AE_ZERO(), a6 = AE_ZERO(), a7 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
            a4 = AE_FMA(xv, AE_LOADU(wr + 4 * AE_VW), a4);
            a5 = AE_FMA(xv, AE_LOADU(wr + 5 * AE_VW), a5);
            a6 = AE_FMA(xv, AE_LOADU(wr + 6 * AE_VW), a6);
            a7 = AE_FMA(xv, AE_LOADU(wr + 7 * AE_VW), a7);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
        AE_STOREU(y + j + 4 * AE_VW, a4);
        AE_STOREU(y + j + 5 * AE_VW, a5);
        AE_STOREU(y + j + 6 * AE_VW, a6);
        AE_STOREU(y + j + 7 * AE_VW, a7);
    }
    for (; j + 4 * AE_VW <= cols; j += 4 * AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        for (i = 0; i < rows; ++i) {
            const float *wr = w + i * cols + j;
            AE_V xv = AE_SET1(x[i]);
            a0 = AE_FMA(xv, AE_LOADU(wr), a0);
            a1 = AE_FMA(xv, AE_LOADU(wr + AE_VW), a1);
            a2 = AE_FMA(xv, AE_LOADU(wr + 2 * AE_VW), a2);
            a3 = AE_FMA(xv, AE_LOADU(wr + 3 * AE_VW), a3);
        }
        AE_STOREU(y + j, a0);
        AE_STOREU(y + j + AE_VW, a1);
        AE_STOREU(y + j + 2 * AE_VW, a2);
        AE_STOREU(y + j + 3 * AE_VW, a3);
    }
    /* Narrow blocks: four partial sums over the rows, so the adds do not
     * wait on one another (Wo has few columns and many rows). */
    for (; j + AE_VW <= cols; j += AE_VW) {
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        for (i = 0; i + 4 <= rows; i += 4) {
            const float *wr = w + i * cols + j;
            a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(wr), a0);
            a1 = AE_FMA(AE_SET1(x[i + 1]), AE_LOADU(wr + cols), a1);
            a2 = AE_FMA(AE_SET1(x[i + 2]), AE_LOADU(wr + 2 * cols), a2);
            a3 = AE_FMA(AE_SET1(x[i + 3]), AE_LOADU(wr + 3 * cols), a3);
        }
        for (; i < rows; ++i)
            a0 = AE_FMA(AE_SET1(x[i]), AE_LOADU(w + i * cols + j), a0);
        AE_STOREU(y + j, AE_ADD(AE_ADD(a0, a1), AE_ADD(a2, a3)));
    }
    for (; j < cols; ++j) {
        float t = 0.0f;
        for (i = 0; i < rows; ++i)
            t += x[i] * w[i * cols + j];
        y[j] = t;
    }
}

static const aether_simd_ops AE_FN(ops) = {
    AE_OPS_NAME, AE_R, AE_FN(tile), AE_FN(query), AE_FN(exp_array), AE_FN(query_group),
    AE_FN(matvec),
};
