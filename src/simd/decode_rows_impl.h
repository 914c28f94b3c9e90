/*
 * The decode kernels that read K/V token rows, included once per cache
 * storage by decode.c: f32 rows (AE_RF32 1), IEEE binary16 and bfloat16
 * rows (F16 / BF16 caches) and int8 rows with a power-of-two scale per row
 * (AE_RI8 1: I8 caches), with
 *   AE_RT       the row element type
 *   AE_RLD(p)   AE_VW row elements at p as a float vector
 *   AE_RSC(x)   one row element as a float
 *   AE_RROWS    the token rows type (aether_rows / aether_rows16 /
 *               aether_rows8)
 *   AE_RN(n)    the generated name (private to decode.c)
 *   AE_RX(n)    the generated name of a kernel of the ops table
 * Landmark rows are f32 in all: the other variants read them through the
 * f32 functions. Every stored element widens exactly, so a reduced row
 * gives the arithmetic of the f32 row holding the same values. Int8 rows
 * are read as their mantissas; the row's scale 2^(e - 16) multiplies each
 * candidate's score (K) and softmax weight (V) instead of every element
 * (exact: a power of two). No include guard; the parameters are undefined
 * at the end.
 */

#if AE_RI8
/* s[h * AE_QB + j] *= the scale of row idx[j] of head h (exponent byte
 * eb[idx[j] * es + eoff[h]]) for h < nh, j < n. */
static void AE_RN(row_scales)(float *s, size_t nh, const size_t *eoff, const uint8_t *eb,
                              size_t es, const size_t *idx, size_t n)
{
    float sc[AE_QB];
    size_t h, j;
    for (h = 0; h < nh; ++h) {
        float *sh = s + h * AE_QB;
        const uint8_t *e = eb + eoff[h];
        /* rows of the same kv head as the previous row: the same scales */
        if (h == 0 || eoff[h] != eoff[h - 1])
            for (j = 0; j < n; ++j)
                sc[j] = aether_i8_scale(e[idx[j] * es]);
        for (j = 0; j < n; ++j)
            sh[j] *= sc[j];
    }
}
#endif

#ifdef AE_HSUMV
/* The scores s[h * AE_QB + j] = scale * dot(q_h, row_j + koff[h]) of the
 * first n - n % AE_VW candidates when dim is whole vectors, AE_VW
 * candidates at a time: per query row, one sum per candidate (the same
 * fused adds, d ascending, as the four-candidate loops), then their
 * horizontal sums side by side in one vector (AE_HSUMV: AE_HSUM4's order),
 * scaled and stored at once - the same bits, without a scalar store per
 * score, and AE_VW independent chains of multiply-adds instead of four.
 * Returns the candidates done. */
static size_t AE_RN(dots_block)(const float *q, size_t nh, size_t dim, const size_t *koff,
                                const AE_RT *kb, size_t stride, const size_t *idx, size_t n,
                                float scale, float *s)
{
    const AE_V sc = AE_SET1(scale);
    size_t j, d, h, c, nv = n - n % AE_VW;
    if (dim % AE_VW != 0)
        return 0;
    for (j = 0; j < nv; j += AE_VW) {
        const AE_RT *k[AE_VW];
        for (c = 0; c < AE_VW; ++c)
            k[c] = kb + idx[j + c] * stride;
        for (h = 0; h < nh; ++h) {
            const float *qh = q + h * dim;
            const size_t o = koff[h];
            AE_V a[AE_VW];
            for (c = 0; c < AE_VW; ++c)
                a[c] = AE_ZERO();
            for (d = 0; d < dim; d += AE_VW) {
                AE_V x = AE_LOADU(qh + d);
                for (c = 0; c < AE_VW; ++c)
                    a[c] = AE_FMA(x, AE_RLD(k[c] + o + d), a[c]);
            }
            AE_STOREU(s + h * AE_QB + j, AE_MUL(AE_HSUMV(a), sc));
        }
    }
    return nv;
}
#endif

/* s[h * AE_QB + j] = scale * dot(q_h, k_idx[j]) for nh <= 4 rows q_h =
 * q + h * dim: each K row is loaded once and feeds all rows. */
static void AE_RN(dots_group)(const float *q, size_t nh, size_t dim, const AE_RROWS *rows,
                              const size_t *idx, size_t n, float scale, float *s)
{
    const float *q0 = q, *q1 = nh > 1 ? q + dim : q, *q2 = nh > 2 ? q + 2 * dim : q;
    const float *q3 = nh > 3 ? q + 3 * dim : q;
    size_t j = 0, d, h, dv = dim - dim % AE_VW;
#ifdef AE_HSUMV
    j = AE_RN(dots_block)(q, nh, dim, ae_group_off0, rows->k, rows->stride, idx, n, scale, s);
#endif
    for (; j < n; ++j) {
        const AE_RT *k0 = rows->k + idx[j] * rows->stride;
        AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
        float t[4];
        for (d = 0; d < dv; d += AE_VW) {
            AE_V kv = AE_RLD(k0 + d);
            a0 = AE_FMA(AE_LOADU(q0 + d), kv, a0);
            a1 = AE_FMA(AE_LOADU(q1 + d), kv, a1);
            a2 = AE_FMA(AE_LOADU(q2 + d), kv, a2);
            a3 = AE_FMA(AE_LOADU(q3 + d), kv, a3);
        }
        AE_HSUM4(a0, a1, a2, a3, t);
        for (; d < dim; ++d) {
            t[0] += q0[d] * AE_RSC(k0[d]);
            t[1] += q1[d] * AE_RSC(k0[d]);
            t[2] += q2[d] * AE_RSC(k0[d]);
            t[3] += q3[d] * AE_RSC(k0[d]);
        }
        for (h = 0; h < nh; ++h)
            s[h * AE_QB + j] = t[h] * scale;
    }
}

/* In the P.V macros below: cc[0..AE_NB) += wr[a] * the AE_NB vectors of
 * candidate a's row from element d (base, stride, idx, a, d, b_ in scope). */
#define AE_ROW_FMA(AE_NB)                                                     \
    do {                                                                      \
        const AE_RT *vr_ = base + idx[a] * stride + d;                        \
        AE_V x_ = AE_SET1(wr[a]);                                             \
        for (b_ = 0; b_ < AE_NB; ++b_)                                        \
            cc[b_] = AE_FMA(x_, AE_RLD(vr_ + b_ * AE_VW), cc[b_]);            \
    } while (0)

/* acc_h[0..dim) += sum over a < n of w[h * AE_QB + a] * row_a for the
 * nh <= 4 rows acc_h = acc + h * dim (rows past nh have zero weights and
 * are not stored): each V row is loaded once for all rows. */
#ifdef AE_FEWREGS
/* accum_group's vector part for one row r (weights w) over the elements
 * [d, d + AE_NB * AE_VW), with the same two sets of sums (even candidates
 * onto r, odd ones from zero, then added) and so the same bits: with four
 * rows and both sets in registers at once, 16 vector registers spill. */
#define AE_ACC_ROW(AE_NB)                                                     \
    do {                                                                      \
        AE_V cc[AE_NB], ee[AE_NB];                                            \
        size_t b_;                                                            \
        for (b_ = 0; b_ < AE_NB; ++b_) {                                      \
            cc[b_] = AE_LOADU(r + d + b_ * AE_VW);                            \
            ee[b_] = AE_ZERO();                                               \
        }                                                                     \
        for (a = 0; a + 2 <= n; a += 2) {                                     \
            const AE_RT *vr = base + idx[a] * stride + d;                     \
            const AE_RT *vs = base + idx[a + 1] * stride + d;                 \
            AE_V x = AE_SET1(wr[a]), y = AE_SET1(wr[a + 1]);                  \
            for (b_ = 0; b_ < AE_NB; ++b_) {                                  \
                cc[b_] = AE_FMA(x, AE_RLD(vr + b_ * AE_VW), cc[b_]);          \
                ee[b_] = AE_FMA(y, AE_RLD(vs + b_ * AE_VW), ee[b_]);          \
            }                                                                 \
        }                                                                     \
        for (; a < n; ++a)                                                    \
            AE_ROW_FMA(AE_NB);                                                \
        for (b_ = 0; b_ < AE_NB; ++b_)                                        \
            AE_STOREU(r + d + b_ * AE_VW, AE_ADD(cc[b_], ee[b_]));            \
    } while (0)
#endif

static void AE_RN(accum_group)(float *acc, size_t nh, size_t dim, const AE_RT *base,
                               size_t stride, const size_t *idx, size_t n, const float *w)
{
    const float *w0 = w, *w1 = w + AE_QB, *w2 = w + 2 * AE_QB, *w3 = w + 3 * AE_QB;
    float *r0 = acc, *r1 = nh > 1 ? acc + dim : acc, *r2 = nh > 2 ? acc + 2 * dim : acc;
    float *r3 = nh > 3 ? acc + 3 * dim : acc;
    size_t d = 0, a;
#ifdef AE_FEWREGS
    {
        size_t h, d2 = dim - dim % (2 * AE_VW);
        for (h = 0; h < nh; ++h) {
            float *r = acc + h * dim;
            const float *wr = w + h * AE_QB;
            for (d = 0; d + 4 * AE_VW <= d2; d += 4 * AE_VW)
                AE_ACC_ROW(4);
            for (; d < d2; d += 2 * AE_VW)
                AE_ACC_ROW(2);
        }
        d = d2;
    }
#endif
    for (; d + 2 * AE_VW <= dim; d += 2 * AE_VW) {
        AE_V c00 = AE_LOADU(r0 + d), c01 = AE_LOADU(r0 + d + AE_VW);
        AE_V c10 = AE_LOADU(r1 + d), c11 = AE_LOADU(r1 + d + AE_VW);
        AE_V c20 = AE_LOADU(r2 + d), c21 = AE_LOADU(r2 + d + AE_VW);
        AE_V c30 = AE_LOADU(r3 + d), c31 = AE_LOADU(r3 + d + AE_VW);
        /* Odd candidates go to a second set of sums: short candidate lists
         * are otherwise one long chain of dependent multiply-adds. */
        AE_V e00 = AE_ZERO(), e01 = AE_ZERO(), e10 = AE_ZERO(), e11 = AE_ZERO();
        AE_V e20 = AE_ZERO(), e21 = AE_ZERO(), e30 = AE_ZERO(), e31 = AE_ZERO();
        for (a = 0; a + 2 <= n; a += 2) {
            const AE_RT *vr = base + idx[a] * stride + d, *vs = base + idx[a + 1] * stride + d;
            AE_V v0 = AE_RLD(vr), v1 = AE_RLD(vr + AE_VW), x;
            AE_V u0 = AE_RLD(vs), u1 = AE_RLD(vs + AE_VW), y;
            x = AE_SET1(w0[a]);
            y = AE_SET1(w0[a + 1]);
            c00 = AE_FMA(x, v0, c00);
            c01 = AE_FMA(x, v1, c01);
            e00 = AE_FMA(y, u0, e00);
            e01 = AE_FMA(y, u1, e01);
            x = AE_SET1(w1[a]);
            y = AE_SET1(w1[a + 1]);
            c10 = AE_FMA(x, v0, c10);
            c11 = AE_FMA(x, v1, c11);
            e10 = AE_FMA(y, u0, e10);
            e11 = AE_FMA(y, u1, e11);
            x = AE_SET1(w2[a]);
            y = AE_SET1(w2[a + 1]);
            c20 = AE_FMA(x, v0, c20);
            c21 = AE_FMA(x, v1, c21);
            e20 = AE_FMA(y, u0, e20);
            e21 = AE_FMA(y, u1, e21);
            x = AE_SET1(w3[a]);
            y = AE_SET1(w3[a + 1]);
            c30 = AE_FMA(x, v0, c30);
            c31 = AE_FMA(x, v1, c31);
            e30 = AE_FMA(y, u0, e30);
            e31 = AE_FMA(y, u1, e31);
        }
        for (; a < n; ++a) {
            const AE_RT *vr = base + idx[a] * stride + d;
            AE_V v0 = AE_RLD(vr), v1 = AE_RLD(vr + AE_VW), x;
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
        c00 = AE_ADD(c00, e00);
        c01 = AE_ADD(c01, e01);
        c10 = AE_ADD(c10, e10);
        c11 = AE_ADD(c11, e11);
        c20 = AE_ADD(c20, e20);
        c21 = AE_ADD(c21, e21);
        c30 = AE_ADD(c30, e30);
        c31 = AE_ADD(c31, e31);
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
            float vv = AE_RSC(base[idx[a] * stride + d]);
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

#if AE_RF32

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
#endif

#if AE_RF32 && defined(AE_HSUMV)
/* The scores of a whole batch of f32 rows kp[0..c) (tokens, then landmark
 * blocks) for nh <= 4 rows, dim whole vectors: dots_block's sums and
 * order (so the same bits), AE_VW candidates per vector store; the last
 * vector's lanes past c are -inf, which is pad_rows' padding. One pass
 * with aligned vector stores, which the softmax's vector loads read
 * without waiting on scalar stores. */
static void AE_FN(dots_rows)(const float *q, size_t nh, size_t dim, const float *const *kp,
                             size_t c, float scale, float *s)
{
    const AE_V sc = AE_SET1(scale);
    size_t j, d, h, u;
    for (j = 0; j < c; j += AE_VW) {
        const float *k[AE_VW];
        size_t live = c - j < AE_VW ? c - j : AE_VW;
        /* past c: the last row again, a real row whose lanes are dropped */
        for (u = 0; u < AE_VW; ++u)
            k[u] = kp[j + (u < live ? u : live - 1)];
        for (h = 0; h < nh; ++h) {
            const float *qh = q + h * dim;
            AE_V a[AE_VW], r;
            for (u = 0; u < AE_VW; ++u)
                a[u] = AE_ZERO();
            for (d = 0; d < dim; d += AE_VW) {
                AE_V x = AE_LOADU(qh + d);
                for (u = 0; u < AE_VW; ++u)
                    a[u] = AE_FMA(x, AE_LOADU(k[u] + d), a[u]);
            }
            r = AE_MUL(AE_HSUMV(a), sc);
            if (live < AE_VW)
                r = AE_KEEPN(r, live);
            AE_STOREU(s + h * AE_QB + j, r);
        }
    }
}
#endif

#if !AE_RF32 && defined(AE_HSUMV) && defined(AE_PAIRS4)
/* dst[u * dim ..] = the stored row idx[u] (row at base + idx[u] * stride)
 * widened, for u < n, dim whole vectors; an int8 row times its scale
 * 2^(e - 16) (exponent byte eb[idx[u] * es]): exact, as the widening. */
static void AE_RN(widen_rows)(float *dst, size_t dim, const AE_RT *base, size_t stride,
                              const uint8_t *eb, size_t es, const size_t *idx, size_t n)
{
    size_t u, d;
#if !AE_RI8
    (void)eb;
    (void)es;
#endif
    for (u = 0; u < n; ++u) {
        const AE_RT *r = base + idx[u] * stride;
        float *o = dst + u * dim;
#if AE_RI8
        const AE_V sc = AE_SET1(aether_i8_scale(eb[idx[u] * es]));
        for (d = 0; d < dim; d += AE_VW)
            AE_STOREU(o + d, AE_MUL(AE_RLD(r + d), sc));
#else
        for (d = 0; d < dim; d += AE_VW)
            AE_STOREU(o + d, AE_RLD(r + d));
#endif
    }
}

/* Scores of the token rows idx[0..n8) (n8 a multiple of 8) for the four
 * query rows qr[0..3] (rows past nh repeat row 0 and are not stored):
 * candidates j and j + 4 of a group of eight widen once per element
 * vector and feed all four query rows (eight sums in registers); each
 * pair's sums come out side by side in one vector (AE_HSUMV), and four
 * such vectors transpose into one vector of eight scores per query row
 * (AE_PAIRS4).
 * ks (int8: the rows' scales; else NULL) multiplies each score. */
static void AE_RN(dots_reg8)(const float *const *qr, size_t nh, size_t dim,
                             const AE_RROWS *rows, const size_t *idx, size_t n8,
                             const float *ks, float scale, float *s)
{
    const AE_V sc = AE_SET1(scale);
    size_t j, d, p, h;
    for (j = 0; j < n8; j += 8) {
        AE_V pv[4], r[4];
        for (p = 0; p < 4; ++p) {
            const AE_RT *ka = rows->k + idx[j + p] * rows->stride;
            const AE_RT *kb = rows->k + idx[j + p + 4] * rows->stride;
            AE_V a[8];
            for (h = 0; h < 8; ++h)
                a[h] = AE_ZERO();
            for (d = 0; d < dim; d += AE_VW) {
                AE_V xa = AE_RLD(ka + d), xb = AE_RLD(kb + d);
                for (h = 0; h < 4; ++h) {
                    AE_V qv = AE_LOADU(qr[h] + d);
                    a[h] = AE_FMA(xa, qv, a[h]);
                    a[4 + h] = AE_FMA(xb, qv, a[4 + h]);
                }
            }
            /* lanes: candidate j + p rows 0..3, candidate j + p + 4 rows 0..3 */
            pv[p] = AE_HSUMV(a);
        }
        AE_PAIRS4(pv, r);
        {
            AE_V f = ks ? AE_MUL(AE_LOADU(ks + j), sc) : sc;
            for (h = 0; h < nh; ++h)
                AE_STOREU(s + h * AE_QB + j, AE_MUL(r[h], f));
        }
    }
}

/* acc_h[0..dim) += sum over a < n of w[h * AE_QB + a] * row_a for the four
 * rows acc_h = acc + h * dim (stored for h < nh; the weights of rows past
 * nh are zero): each V row widens once per element vector for all four
 * rows, two vectors of all four rows' sums in registers at a time. */
static void AE_RN(accum_reg)(float *acc, size_t nh, size_t dim, const AE_RT *base,
                             size_t stride, const size_t *idx, size_t n, const float *w)
{
    float *ar[4];
    size_t d = 0, a, h;
    for (h = 0; h < 4; ++h)
        ar[h] = acc + (h < nh ? h : 0) * dim;
    for (; d + 2 * AE_VW <= dim; d += 2 * AE_VW) {
        AE_V c[4][2];
        for (h = 0; h < 4; ++h) {
            c[h][0] = AE_LOADU(ar[h] + d);
            c[h][1] = AE_LOADU(ar[h] + d + AE_VW);
        }
        for (a = 0; a < n; ++a) {
            const AE_RT *r = base + idx[a] * stride + d;
            AE_V v0 = AE_RLD(r), v1 = AE_RLD(r + AE_VW);
            for (h = 0; h < 4; ++h) {
                AE_V x = AE_SET1(w[h * AE_QB + a]);
                c[h][0] = AE_FMA(x, v0, c[h][0]);
                c[h][1] = AE_FMA(x, v1, c[h][1]);
            }
        }
        for (h = nh; h-- > 0;) {
            AE_STOREU(ar[h] + d, c[h][0]);
            AE_STOREU(ar[h] + d + AE_VW, c[h][1]);
        }
    }
    for (; d < dim; d += AE_VW) {
        AE_V c[4];
        for (h = 0; h < 4; ++h)
            c[h] = AE_LOADU(ar[h] + d);
        for (a = 0; a < n; ++a) {
            AE_V v0 = AE_RLD(base + idx[a] * stride + d);
            for (h = 0; h < 4; ++h)
                c[h] = AE_FMA(AE_SET1(w[h * AE_QB + a]), v0, c[h]);
        }
        for (h = nh; h-- > 0;)
            AE_STOREU(ar[h] + d, c[h]);
    }
}

/* query_group for dim whole vectors without a scratch of widened rows:
 * token scores eight at a time through dots_reg8, the last (n mod 8)
 * token rows widened into a small scratch and scored with the landmark
 * rows through dots_rows; the V rows through accum_reg. Int8 rows: the
 * K scale multiplies the scores, the V scale the weights. */
static void AE_RN(group_reg)(const float *q, size_t nh, size_t dim, float scale,
                             const AE_RROWS *tokens, const size_t *tok, size_t n_tok,
                             const aether_rows *blocks, const size_t *blk, size_t n_blk,
                             float *acc, float *out)
{
    float s[4 * AE_QB], wr[AE_WSCR];
    float m[4], l[4];
    const float *kp[AE_QB], *qr[4];
    const float *ksp = NULL;
    size_t a, c, h, u;
#if AE_RI8
    size_t j;
    float ks[AE_QB];
    const uint8_t *ke = tokens->ke;
    const size_t es = tokens->estride;
#else
    const uint8_t *ke = NULL;
    const size_t es = 0;
#endif
    for (h = 0; h < 4; ++h)
        qr[h] = q + (h < nh ? h : 0) * dim;
    AE_FN(group_start)(acc, dim, s, nh, 4, m, l);
    for (a = 0; a < n_tok + n_blk; a += c) {
        AE_FN(qbatch) b = AE_FN(next_batch)(a, n_tok, n_blk);
        size_t n8 = b.tc - b.tc % 8, nt = b.tc - n8;
        c = b.tc + b.bc;
#if AE_RI8
        for (j = 0; j < n8; ++j)
            ks[j] = aether_i8_scale(tokens->ke[tok[b.ta + j] * es]);
        ksp = ks;
#endif
        if (n8)
            AE_RN(dots_reg8)(qr, nh, dim, tokens, tok + b.ta, n8, ksp, scale, s);
        if (c > n8) {
            AE_RN(widen_rows)(wr, dim, tokens->k, tokens->stride, ke, es, tok + b.ta + n8, nt);
            for (u = 0; u < nt; ++u)
                kp[u] = wr + u * dim;
            for (u = 0; u < b.bc; ++u)
                kp[nt + u] = blocks->k + blk[b.ba + u] * blocks->stride;
            AE_FN(dots_rows)(q, nh, dim, kp, c - n8, scale, s + n8);
        }
        AE_FN(softmax_rows)(s, nh, c, m, l, acc, dim);
#if AE_RI8
        if (b.tc)
            AE_RN(row_scales)(s, nh, ae_group_off0, tokens->ve, es, tok + b.ta, b.tc);
#endif
        if (b.tc)
            AE_RN(accum_reg)(acc, nh, dim, tokens->v, tokens->stride, tok + b.ta, b.tc, s);
        if (b.bc)
            AE_FN(accum_group)
            (acc, nh, dim, blocks->v, blocks->stride, blk + b.ba, b.bc, s + b.tc);
    }
    for (h = 0; h < nh; ++h)
        AE_FN(finish_row)(acc + h * dim, dim, l[h], out + h * dim);
}
#endif

/* Decode of up to four query rows of one GQA group: scores of a batch of
 * candidates for every row (shared K loads), per row the max / exp pass,
 * then the weighted sums of all rows at once (shared V loads). */
void AE_RX(query_group)(const float *q, size_t nh, size_t dim, float scale,
                        const AE_RROWS *tokens, const size_t *tok, size_t n_tok,
                        const aether_rows *blocks, const size_t *blk, size_t n_blk, float *acc,
                        float *out)
{
    float s[4 * AE_QB];
    float m[4], l[4];
    const float *qv_arg = NULL;
    size_t a, c, h;
#if AE_RI8
#endif
#if !AE_RF32 && defined(AE_HSUMV) && defined(AE_PAIRS4)
    if (dim % AE_VW == 0 && dim * AE_VW <= AE_WSCR) {
        AE_RN(group_reg)(q, nh, dim, scale, tokens, tok, n_tok, blocks, blk, n_blk, acc, out);
        return;
    }
#endif
#ifdef AE_DOTS_G4
    float qv[4 * AE_G4_DMAX];
#endif
#if AE_RF32
    if (nh == 1) {
        AE_XFN(query)(q, dim, scale, tokens, tok, n_tok, blocks, blk, n_blk, acc, out);
        return;
    }
#endif
#ifdef AE_DOTS_G4
    /* The ISA's 4 x 4 score kernel: q packed as (row, d mod 4) lanes. */
    if (dim % 4 == 0 && dim <= AE_G4_DMAX) {
        size_t k;
        for (k = 0; k < dim / 4; ++k)
            for (h = 0; h < 4; ++h) {
                /* Four floats at a time: one 16-byte move each. */
                if (h < nh)
                    memcpy(qv + 16 * k + 4 * h, q + h * dim + 4 * k, 4 * sizeof(float));
                else
                    memset(qv + 16 * k + 4 * h, 0, 4 * sizeof(float));
            }
        qv_arg = qv;
    }
#endif
    AE_FN(group_start)(acc, dim, s, nh, 4, m, l);
    for (a = 0; a < n_tok + n_blk; a += c) {
        AE_FN(qbatch) b = AE_FN(next_batch)(a, n_tok, n_blk);
        c = b.tc + b.bc;
        /* Cold rows of a large cache are requested by the caller (ops
         * prefetch): a small one is in the inner caches already. */
#if AE_RF32 && defined(AE_HSUMV)
        if (dim % AE_VW == 0) {
            const float *kp[AE_QB];
            size_t u;
            for (u = 0; u < b.tc; ++u)
                kp[u] = tokens->k + tok[b.ta + u] * tokens->stride;
            for (u = 0; u < b.bc; ++u)
                kp[b.tc + u] = blocks->k + blk[b.ba + u] * blocks->stride;
            AE_FN(dots_rows)(q, nh, dim, kp, c, scale, s);
        } else
#endif
        {
            AE_FN(pad_rows)(s, nh, c);
#if AE_RF32
            if (b.tc)
                AE_FN(dots_any)(q, qv_arg, nh, dim, tokens, tok + b.ta, b.tc, scale, s);
#else
            if (b.tc)
                AE_RN(dots_group)(q, nh, dim, tokens, tok + b.ta, b.tc, scale, s);
#endif
#if AE_RI8
            if (b.tc)
                AE_RN(row_scales)
                (s, nh, ae_group_off0, tokens->ke, tokens->estride, tok + b.ta, b.tc);
#endif
            if (b.bc)
                AE_FN(dots_any)(q, qv_arg, nh, dim, blocks, blk + b.ba, b.bc, scale, s + b.tc);
        }
        AE_FN(softmax_rows)(s, nh, c, m, l, acc, dim);
#if AE_RI8
        if (b.tc)
            AE_RN(row_scales)(s, nh, ae_group_off0, tokens->ve, tokens->estride, tok + b.ta, b.tc);
#endif
        if (b.tc)
            AE_RN(accum_group)(acc, nh, dim, tokens->v, tokens->stride, tok + b.ta, b.tc, s);
        if (b.bc)
            AE_FN(accum_group)
            (acc, nh, dim, blocks->v, blocks->stride, blk + b.ba, b.bc, s + b.tc);
    }
    for (h = 0; h < nh; ++h)
        AE_FN(finish_row)(acc + h * dim, dim, l[h], out + h * dim);
}

/* s[h * AE_QB + j] = scale * dot(q_h, row_j + koff[h]) for nh query rows
 * over whole token rows (all kv heads side by side). AE_VW (where the ISA
 * has AE_HSUMV), then four candidates at a time share each load of q_h,
 * and the heads walk the candidates' rows front to back. */
static void AE_RN(dots_heads)(const float *q, size_t nh, size_t dim, const size_t *koff,
                              const AE_RT *kb, size_t stride, const size_t *idx, size_t n,
                              float scale, float *s)
{
    size_t j = 0, d, h, dv = dim - dim % AE_VW;
#ifdef AE_HSUMV
    j = AE_RN(dots_block)(q, nh, dim, koff, kb, stride, idx, n, scale, s);
#endif
    for (; j + 4 <= n; j += 4) {
        const AE_RT *r0 = kb + idx[j] * stride, *r1 = kb + idx[j + 1] * stride;
        const AE_RT *r2 = kb + idx[j + 2] * stride, *r3 = kb + idx[j + 3] * stride;
        for (h = 0; h < nh; ++h) {
            const float *qh = q + h * dim;
            const AE_RT *k0 = r0 + koff[h], *k1 = r1 + koff[h];
            const AE_RT *k2 = r2 + koff[h], *k3 = r3 + koff[h];
            AE_V a0 = AE_ZERO(), a1 = AE_ZERO(), a2 = AE_ZERO(), a3 = AE_ZERO();
            float t[4], *sh = s + h * AE_QB + j;
            for (d = 0; d < dv; d += AE_VW) {
                AE_V x = AE_LOADU(qh + d);
                a0 = AE_FMA(x, AE_RLD(k0 + d), a0);
                a1 = AE_FMA(x, AE_RLD(k1 + d), a1);
                a2 = AE_FMA(x, AE_RLD(k2 + d), a2);
                a3 = AE_FMA(x, AE_RLD(k3 + d), a3);
            }
            AE_HSUM4(a0, a1, a2, a3, t);
            for (; d < dim; ++d) {
                t[0] += qh[d] * AE_RSC(k0[d]);
                t[1] += qh[d] * AE_RSC(k1[d]);
                t[2] += qh[d] * AE_RSC(k2[d]);
                t[3] += qh[d] * AE_RSC(k3[d]);
            }
            sh[0] = t[0] * scale;
            sh[1] = t[1] * scale;
            sh[2] = t[2] * scale;
            sh[3] = t[3] * scale;
        }
    }
    for (; j < n; ++j) {
        const AE_RT *r0 = kb + idx[j] * stride;
        for (h = 0; h < nh; ++h) {
            const float *qh = q + h * dim;
            const AE_RT *k0 = r0 + koff[h];
            AE_V a0 = AE_ZERO();
            float t0;
            for (d = 0; d < dv; d += AE_VW)
                a0 = AE_FMA(AE_LOADU(qh + d), AE_RLD(k0 + d), a0);
            t0 = AE_HSUM(a0);
            for (; d < dim; ++d)
                t0 += qh[d] * AE_RSC(k0[d]);
            s[h * AE_QB + j] = t0 * scale;
        }
    }
}

/* acc_h[0..dim) += sum over a < n of w[h * AE_QB + a] * (row_a + koff[h])
 * for the nh query rows acc_h = acc + h * dim over whole token rows. One
 * head at a time, up to AE_HV vectors of its row in registers, each
 * candidate's head row read once per such block: sweeping all heads per
 * block of elements instead read every candidate row's lines once per
 * block, and a batch's rows of four heads (about 150 candidates x 4 x
 * 2 lines) no longer fit L1, so each of those reads came from L2. Per
 * element the candidates are added in ascending order onto acc_h, as
 * before: the same bits. */
#define AE_HV 8u
#define AE_ACC_HEAD(AE_NB)                                                    \
    do {                                                                      \
        AE_V cc[AE_NB];                                                       \
        size_t b_;                                                            \
        for (b_ = 0; b_ < AE_NB; ++b_)                                        \
            cc[b_] = AE_LOADU(r + d + b_ * AE_VW);                            \
        for (a = 0; a < n; ++a)                                               \
            AE_ROW_FMA(AE_NB);                                                \
        for (b_ = 0; b_ < AE_NB; ++b_)                                        \
            AE_STOREU(r + d + b_ * AE_VW, cc[b_]);                            \
    } while (0)

static void AE_RN(accum_heads)(float *acc, size_t nh, size_t dim, const size_t *koff,
                               const AE_RT *vb, size_t stride, const size_t *idx, size_t n,
                               const float *w)
{
    size_t h, d, a;
    for (h = 0; h < nh; ++h) {
        float *r = acc + h * dim;
        const float *wr = w + h * AE_QB;
        const AE_RT *base = vb + koff[h];
        for (d = 0; d + AE_HV * AE_VW <= dim; d += AE_HV * AE_VW)
            AE_ACC_HEAD(AE_HV);
        if (d + 4 * AE_VW <= dim) {
            AE_ACC_HEAD(4);
            d += 4 * AE_VW;
        }
        if (d + 2 * AE_VW <= dim) {
            AE_ACC_HEAD(2);
            d += 2 * AE_VW;
        }
        if (d + AE_VW <= dim) {
            AE_ACC_HEAD(1);
            d += AE_VW;
        }
        for (; d < dim; ++d) {
            float x = r[d];
            for (a = 0; a < n; ++a)
                x += wr[a] * AE_RSC(base[idx[a] * stride + d]);
            r[d] = x;
        }
    }
}
#undef AE_ACC_HEAD
#undef AE_HV
#undef AE_ROW_FMA

/* Decode of up to AETHER_QHEADS_MAX query rows over whole token rows: the
 * scores of a batch for every row, per row the max / exp pass, then the
 * weighted sums. Rows of different kv heads share each candidate's cache
 * lines instead of striding over the rows once per head. */
void AE_RX(query_heads)(const float *q, size_t nh, size_t dim, const size_t *koff, float scale,
                        const AE_RROWS *tokens, const size_t *tok, size_t n_tok,
                        const aether_rows *blocks, const size_t *blk, size_t n_blk, float *out)
{
    float s[AETHER_QHEADS_MAX * AE_QB];
    float m[AETHER_QHEADS_MAX], l[AETHER_QHEADS_MAX];
    size_t a, c, h, nh4 = (nh + 3) / 4 * 4;
#if AE_RI8
    size_t eoff[AETHER_QHEADS_MAX];
    for (h = 0; h < nh; ++h)
        eoff[h] = koff[h] / dim; /* the kv head's exponent byte */
#endif
    AE_FN(group_start)(out, dim, s, nh, nh4, m, l);
    for (a = 0; a < n_tok + n_blk; a += c) {
        AE_FN(qbatch) b = AE_FN(next_batch)(a, n_tok, n_blk);
        c = b.tc + b.bc;
        AE_FN(pad_rows)(s, nh, c);
        if (b.tc)
            AE_RN(dots_heads)
            (q, nh, dim, koff, tokens->k, tokens->stride, tok + b.ta, b.tc, scale, s);
#if AE_RI8
        if (b.tc)
            AE_RN(row_scales)(s, nh, eoff, tokens->ke, tokens->estride, tok + b.ta, b.tc);
#endif
        if (b.bc)
            AE_FN(dots_heads)
            (q, nh, dim, koff, blocks->k, blocks->stride, blk + b.ba, b.bc, scale, s + b.tc);
        AE_FN(softmax_rows)(s, nh, c, m, l, out, dim);
#if AE_RI8
        if (b.tc)
            AE_RN(row_scales)(s, nh, eoff, tokens->ve, tokens->estride, tok + b.ta, b.tc);
#endif
        if (b.tc)
            AE_RN(accum_heads)
            (out, nh, dim, koff, tokens->v, tokens->stride, tok + b.ta, b.tc, s);
        if (b.bc)
            AE_FN(accum_heads)
            (out, nh, dim, koff, blocks->v, blocks->stride, blk + b.ba, b.bc, s + b.tc);
    }
    for (h = 0; h < nh; ++h)
        AE_FN(finish_row)(out + h * dim, dim, l[h], out + h * dim);
}

#ifdef AE_FEWREGS
#undef AE_ACC_ROW
#endif

/* The parameters are per inclusion. */
#undef AE_RF32
#undef AE_RI8
#undef AE_RT
#undef AE_RLD
#undef AE_RSC
#undef AE_RROWS
#undef AE_RN
#undef AE_RX
