/* Internal: the integer arithmetic of the quantized path
 * (docs/MODEL.md section 10) and the model / session objects. Every helper is defined on
 * magnitudes in unsigned arithmetic, so no result depends on how the C
 * implementation shifts negative numbers, and nothing overflows. */
#ifndef AETHER_QUANT_INTERNAL_H
#define AETHER_QUANT_INTERNAL_H

#include "aether/quant.h"

#define AQ_SAT 2147483647                /* saturation bound: +-(2^31 - 1) */
#define AQ_Z_LIM 536870912               /* scores (Q10 log2 units) clamp to +-2^29 */
#define AQ_LOG2E_Q30 1549082005u         /* round(log2(e) * 2^30) */
#define AQ_MODEL_MAGIC 0x514D444Cu       /* "QMDL" */
#define AQ_SESSION_MAGIC 0x51534553u     /* "QSES" */

/* One matrix record resolved: scales at s (4 bytes each), rows at w. */
typedef struct aq_mat {
    const unsigned char *s;
    const int8_t *w;
    size_t rows, cols; /* R inputs, C outputs */
} aq_mat;

struct aether_qmodel {
    uint32_t magic;
    aether_blob_header header;
    aether_qblob_layout layout;
    aether_head head;
    const unsigned char *payload;
    uint32_t score_mul; /* log2(e) / sqrt(head_dim), Q30 */
    size_t max_width;   /* max(I, Q, KV, C) */
};

/* Magnitude of v as u32 (|INT32_MIN| = 2^31 is representable). */
static inline uint32_t aq_mag(int32_t v)
{
    return v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
}

/* Signed value of (neg ? -mag : mag), saturated to +-(2^31 - 1). */
static inline int32_t aq_signed(uint64_t mag, int neg)
{
    int32_t r = mag > (uint64_t)AQ_SAT ? AQ_SAT : (int32_t)mag;
    return neg ? -r : r;
}

/* v / 2^s rounded half away from zero (s in [0, 31]). */
static inline int32_t aq_rshift(int32_t v, unsigned s)
{
    uint32_t m;
    if (s == 0)
        return v;
    m = aq_mag(v); /* <= 2^31, so m + 2^30 does not wrap */
    m = (m + (1u << (s - 1))) >> s;
    return v < 0 ? -(int32_t)m : (int32_t)m;
}

/* round(a * m * 2^-sh), half away from zero, saturated; sh may be negative
 * (a left shift). The 64-bit product is handled as two 32-bit halves (the
 * same value as shifting it in 64 bits; cheaper on 32-bit cores). */
static inline int32_t aq_mulsh(int32_t a, uint32_t m, int sh)
{
    const uint64_t p = (uint64_t)aq_mag(a) * (uint64_t)m;
    const uint32_t hi = (uint32_t)(p >> 32), lo = (uint32_t)p;
    uint32_t r, rb;
    if (sh > 0) {
        if (sh < 32) {
            if (hi >> sh)
                return a < 0 ? -AQ_SAT : AQ_SAT; /* >= 2^32 */
            r = (hi << (32 - sh)) | (lo >> sh);
            rb = (lo >> (sh - 1)) & 1u;
        } else if (sh < 64) {
            const unsigned s2 = (unsigned)sh - 32u;
            r = hi >> s2;
            rb = s2 ? (hi >> (s2 - 1u)) & 1u : lo >> 31;
        } else {
            return 0;
        }
        r += rb;
        if (r < rb) /* carried past 2^32 */
            return a < 0 ? -AQ_SAT : AQ_SAT;
    } else {
        if (hi)
            return a < 0 ? -AQ_SAT : AQ_SAT;
        r = lo;
        if (sh < 0) {
            /* the left shift's amount in unsigned arithmetic (no signed
             * negation: clang 14 with -fsanitize=signed-integer-overflow
             * at -O2 mis-compiled `-sh` here) */
            const unsigned ls = 0u - (unsigned)sh;
            if (r == 0)
                return 0;
            if (ls >= 32u || r > ((uint32_t)AQ_SAT >> ls))
                return a < 0 ? -AQ_SAT : AQ_SAT;
            r <<= ls;
        }
    }
    return aq_signed(r, a < 0);
}

/* v * 2^s saturated (s >= 0). */
static inline int32_t aq_lshift(int32_t v, unsigned s)
{
    const uint32_t m = aq_mag(v);
    if (m == 0)
        return 0;
    if (s >= 31 || m > ((uint32_t)AQ_SAT >> s))
        return v < 0 ? -AQ_SAT : AQ_SAT;
    return aq_signed((uint64_t)(m << s), v < 0);
}

/* a + b saturated. */
static inline int32_t aq_add(int32_t a, int32_t b)
{
    int64_t s = (int64_t)a + (int64_t)b;
    if (s > AQ_SAT)
        return AQ_SAT;
    if (s < -AQ_SAT)
        return -AQ_SAT;
    return (int32_t)s;
}

/* The smallest s >= 0 with round(max|v| / 2^s) <= lim. */
unsigned aq_exponent_(const int32_t *v, size_t n, uint32_t lim);
/* v[0, n) (Q16) to int16 mantissas m[i] = round(v[i] / 2^s); returns s. */
unsigned aq_to_i16_(const int32_t *v, size_t n, int16_t *m);
/* The same to int8 (|m| <= 127). */
unsigned aq_to_i8_(const int32_t *v, size_t n, int8_t *m);

/* round(32768 * 2^(-i/32)) and round(32768 * 2^(-i/1024)), i = 0..31. */
extern const uint16_t aq_exp_hi_[32];
extern const uint16_t aq_exp_lo_[32];

/* 2^(-t / 1024) in Q15 for t >= 0 (0 from t >= 16 * 1024). */
static inline uint32_t aq_exp2neg(uint32_t t)
{
    uint32_t n = t >> 10, f = t & 1023u, w;
    if (n >= 16)
        return 0;
    w = ((uint32_t)aq_exp_hi_[f >> 5] * aq_exp_lo_[f & 31u] + (1u << 14)) >> 15;
    return n ? (w + (1u << (n - 1))) >> n : w;
}
uint32_t aq_exp2neg_(uint32_t t); /* the same, out of line (tests) */

/* Scale record at p: m and sh (validated blobs only). */
static inline uint32_t aq_scale_m(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

/* y[c] (Q16) = x . W for x given as int16 mantissas x16 (R values) at
 * exponent s (value = x16 * 2^(s - 16)). */
void aq_matvec16_(const aq_mat *w, const int16_t *x16, unsigned s, int32_t *y);

/* Model accessors. */
void aq_mat_of_(const aether_qmodel *m, size_t offset, size_t rows, size_t cols, aq_mat *out);
void aq_layer_mats_(const aether_qmodel *m, size_t l, aq_mat *wq, aq_mat *wk, aq_mat *wv,
                    aq_mat *wo);
void aq_classifier_(const aether_qmodel *m, aq_mat *wc);
/* h = norm(x) for one frame of Q16 inputs (or a copy without flag bit 1). */
void aq_prepare_frame_(const aether_qmodel *m, const int32_t *x, int32_t *h);
aether_status aq_check_model_(const aether_qmodel *m);

/* A candidate: the K and V rows (all kv heads, [kvh][d]) and their
 * exponents ([kvh]) of one token or landmark. */
typedef struct aq_cand {
    const int8_t *k, *v;
    const uint8_t *ke, *ve;
} aq_cand;

/* Scratch of aq_attend_ for n candidates and groups of g = Hq / Hkv heads:
 * z holds n * g int32, vp n pointers, zmax / denom / r g values each. */
typedef struct aq_scratch {
    int32_t *z, *zmax;
    uint32_t *denom, *r;
    const int8_t **vp;
} aq_scratch;

/* Carve the scratch for ncand candidates from ar (OVERFLOW). */
aether_status aq_scratch_alloc_(aether_arena *ar, const aether_qmodel *m, size_t ncand,
                               aq_scratch *sc);

/* One query over n candidates in list order. q: int16 mantissas laid out
 * per kv head's group of g query heads, interleaved ([kvh][d][g]); qe: [Hq]
 * exponents; out: Hq*d Q16 values ([Hq][d]). */
void aq_attend_(const aether_qmodel *m, const int16_t *q, const uint8_t *qe, const aq_cand *c,
                size_t n, const aq_scratch *sc, int32_t *out);

/* Landmarks (docs/MODEL.md section 10.2): a block's K (or V) rows are
 * summed in token order as they arrive. sum ([kvh][d] int32) is kept at
 * exponent se[h] - 8, se[h] the largest row exponent so far: a row with a
 * larger one first moves the sum there (rounded), then every row adds its
 * mantissas * 256 rounded to that exponent. first: the block's first row.
 * Window and stream call this in the same order, so they agree. */
void aq_lm_add_(size_t kvh, size_t d, const int8_t *row, const uint8_t *re, int first,
                int32_t *sum, uint8_t *se);
/* The complete block's landmark row: the mean (sum / B, rounded) as int8
 * mantissas ([kvh][d]) and exponents oe. B <= AQ_MAX_BLOCK. */
void aq_lm_finish_(size_t kvh, size_t d, size_t B, const int32_t *sum, const uint8_t *se,
                   int8_t *out, uint8_t *oe);
#define AQ_MAX_BLOCK 65536u
/* Candidates per query: the Q15 weights' sum (each <= 2^15) stays below
 * 2^32. Only the dense backend can reach it (a window or a cache of more
 * frames). */
#define AQ_MAX_CANDIDATES 65535u

/* The query of one frame's hidden state h (Q16, I values): q mantissas
 * [Hq][d] and exponents [Hq]. x16: I int16 scratch, y: Q int32 scratch. */
void aq_project_q_(const aether_qmodel *m, size_t l, const int32_t *h, int16_t *q, uint8_t *qe,
                   int16_t *x16, int32_t *y);
/* The K and V rows ([kvh][d] int8 + [kvh] exponents) of h. */
void aq_project_kv_(const aether_qmodel *m, size_t l, const int32_t *h, int8_t *k, uint8_t *ke,
                    int8_t *v, uint8_t *ve, int16_t *x16, int32_t *y);

/* h += a . Wo_l (a: Q width, Q16, saturating adds). x16: Q int16, y: I int32. */
void aq_residual_(const aether_qmodel *m, size_t l, const int32_t *a, int32_t *h, int16_t *x16,
                  int32_t *y);

#endif
