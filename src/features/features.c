/* CSI frame -> feature vector (recipe and layout in aether/features.h). */
#include "aether/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features_internal.h"

#define N_TONES AETHER_FEATURES_TONES
#define PI_D 3.14159265358979323846

/* Previous frame of one node, in canonical tone order. */
typedef struct node_state {
    uint32_t node_id;
    int used;
    aether_csi_kind kind;
    float amp[N_TONES];   /* gain-normalised amplitude */
    float dphi[N_TONES];  /* phase difference tone p -> p+1 */
    float group[N_TONES]; /* group means (first G used) */
    unsigned char amp_ok[N_TONES];
    unsigned char dphi_ok[N_TONES];
    unsigned char group_ok[N_TONES];
    /* recipe v2: per-tone exponential moving statistics (see features.h) */
    uint64_t seen;                          /* frames since the node's state began */
    float ema_m[N_TONES], ema_v[N_TONES];   /* gain-normalised amp, alpha 1/8 */
    float ema_lm[N_TONES], ema_lv[N_TONES]; /* the same, alpha 1/32 */
    float ph_m[N_TONES], ph_v[N_TONES];     /* phase differences, alpha 1/8 */
    double motion_ema;
    /* recipe v3 (ema_* above hold its warm-up-corrected EMS of n_k) */
    uint32_t count[N_TONES];                  /* samples since the tone's restart */
    float white_s[N_TONES], white_l[N_TONES]; /* EMA of delta^2 / 2, alpha 1/8, 1/32 */
    double coh_p, coh_q;                      /* EMA of the adjacent-tone deviation sums */
    uint64_t coh_n;                           /* frames in the coherence EMA */
    /* recipe v4: gain-step-corrected log power (see features.h) */
    double v4_lp;    /* ln P of the node's last frame with P > 0 */
    int v4_lp_ok;    /* v4_lp is set */
    double v4_lc;    /* corrected level L_c */
    double v4_m;     /* slow mean of L_c */
    uint32_t v4_cnt; /* samples in v4_m */
    unsigned v4_g;   /* gain level: x2 steps above the lowest level seen */
    /* recipe v5: slow means of the level slots [1], [3], [4], [6, 6+G) */
    double v5_m[AETHER_FEATURES_FIXED + N_TONES];
    uint32_t v5_cnt; /* samples in v5_m */
} node_state;

struct aether_features {
    /* Kept within 64 bytes (sizes as uint32_t: every one is <= 2^17): a
     * failed init on too short a buffer zero-fills only this header at its
     * start, as it always has. */
    uint32_t dim;
    uint32_t recipe; /* AETHER_FEATURES_V1 .. _V4 */
    uint32_t groups;
    uint32_t max_nodes;
    node_state *nodes;
    /* node_id -> node: open addressing with linear probing and
     * backward-shift deletion, node index + 1 per bucket (0 empty),
     * index_mask + 1 buckets (a power of two >= 2 max_nodes); the free
     * nodes as a stack free_nodes[0, n_free). */
    uint32_t *index;
    uint32_t *free_nodes;
    uint32_t index_mask;
    uint32_t n_free;
    void *owned; /* malloc'd block when made by aether_features_create */
};

/* Per-frame working values, on the stack (about 1.5 KiB). */
typedef struct frame_work {
    double amp[N_TONES];
    double phase[N_TONES];
    unsigned char ok[N_TONES];
    float norm[N_TONES];
    float dphi[N_TONES];
    unsigned char dphi_ok[N_TONES];
    float group[N_TONES];
    unsigned char group_ok[N_TONES];
    int any_dphi;
} frame_work;

/* Block index of canonical tone p: 1..26 then 38..63. */
static size_t tone_index(size_t p)
{
    return p < 26 ? p + 1 : p + 12;
}

static double wrap_pi(double x)
{
    if (x > PI_D)
        x -= 2.0 * PI_D;
    else if (x <= -PI_D)
        x += 2.0 * PI_D;
    return x;
}

aether_features_config aether_features_config_default(void)
{
    aether_features_config c;
    c.input_dim = AETHER_FEATURES_DEFAULT_DIM;
    c.max_nodes = AETHER_FEATURES_DEFAULT_NODES;
    c.recipe = AETHER_FEATURES_V1;
    return c;
}

size_t aether_features_groups(size_t input_dim)
{
    if (input_dim < AETHER_FEATURES_MIN_DIM || input_dim > AETHER_FEATURES_MAX_DIM)
        return 0;
    return (input_dim - AETHER_FEATURES_FIXED) / 2u;
}

static aether_status check_config(const aether_features_config *cfg)
{
    if (!cfg)
        return AETHER_ERR_NULL_ARG;
    if (aether_features_groups(cfg->input_dim) == 0 || cfg->max_nodes < 1 ||
        cfg->max_nodes > AETHER_FEATURES_MAX_NODES || cfg->recipe > AETHER_FEATURES_V5)
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

static size_t index_buckets(size_t max_nodes)
{
    size_t n = 1;
    while (n < 2 * max_nodes)
        n *= 2;
    return n;
}

static void index_clear(aether_features *f)
{
    size_t i;
    memset(f->index, 0, (f->index_mask + 1) * sizeof *f->index);
    for (i = 0; i < f->max_nodes; ++i) /* popped from the top: node 0 first */
        f->free_nodes[i] = (uint32_t)(f->max_nodes - 1 - i);
    f->n_free = f->max_nodes;
}

static aether_features *layout(aether_arena *a, const aether_features_config *cfg)
{
    size_t buckets = index_buckets(cfg->max_nodes);
    aether_features *f = (aether_features *)aether_arena_alloc(a, 1, sizeof(aether_features),
                                                               AETHER_ALIGN);
    node_state *nodes = (node_state *)aether_arena_alloc(a, cfg->max_nodes, sizeof(node_state),
                                                         AETHER_ALIGN);
    uint32_t *index = (uint32_t *)aether_arena_alloc(a, buckets, sizeof(uint32_t), AETHER_ALIGN);
    uint32_t *free_nodes = (uint32_t *)aether_arena_alloc(a, cfg->max_nodes, sizeof(uint32_t),
                                                          AETHER_ALIGN);
    if (!f || !nodes || !index || !free_nodes)
        return NULL;
    f->dim = (uint32_t)cfg->input_dim;
    f->recipe = cfg->recipe == 0 ? AETHER_FEATURES_V1 : cfg->recipe;
    f->groups = (uint32_t)aether_features_groups(cfg->input_dim);
    f->max_nodes = (uint32_t)cfg->max_nodes;
    f->nodes = nodes;
    f->index = index;
    f->index_mask = (uint32_t)(buckets - 1);
    f->free_nodes = free_nodes;
    index_clear(f);
    f->owned = NULL;
    return f;
}

static void *layout_any(aether_arena *a, const void *cfg)
{
    return layout(a, (const aether_features_config *)cfg);
}

aether_status aether_features_size(const aether_features_config *cfg, size_t *bytes)
{
    aether_status s = check_config(cfg);
    return s != AETHER_OK ? s : aether_feat_layout_size_(layout_any, cfg, bytes);
}

aether_status aether_features_init(void *buf, size_t len, const aether_features_config *cfg,
                                   aether_features **out)
{
    void *o;
    aether_status s = check_config(cfg);
    if (s != AETHER_OK)
        return s;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    s = aether_feat_layout_init_(layout_any, buf, len, cfg, &o);
    if (s == AETHER_OK)
        *out = (aether_features *)o;
    return s;
}

aether_status aether_features_create(const aether_features_config *cfg, aether_features **out)
{
    void *o, *block;
    aether_status s = check_config(cfg);
    if (s != AETHER_OK)
        return s;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    s = aether_feat_layout_create_(layout_any, cfg, &o, &block);
    if (s != AETHER_OK)
        return s;
    *out = (aether_features *)o;
    (*out)->owned = block;
    return AETHER_OK;
}

void aether_features_destroy(aether_features *f)
{
    if (f && f->owned)
        free(f->owned);
}

aether_status aether_features_recipe_parse(const char *name, unsigned *recipe)
{
    if (!name || !recipe)
        return AETHER_ERR_NULL_ARG;
    if (!strcmp(name, "csi-v1"))
        *recipe = AETHER_FEATURES_V1;
    else if (!strcmp(name, "csi-v2"))
        *recipe = AETHER_FEATURES_V2;
    else if (!strcmp(name, "csi-v3"))
        *recipe = AETHER_FEATURES_V3;
    else if (!strcmp(name, "csi-v4"))
        *recipe = AETHER_FEATURES_V4;
    else if (!strcmp(name, "csi-v5"))
        *recipe = AETHER_FEATURES_V5;
    else
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

const char *aether_features_recipe_name(unsigned recipe)
{
    if (recipe == 0 || recipe == AETHER_FEATURES_V1)
        return "csi-v1";
    if (recipe == AETHER_FEATURES_V2)
        return "csi-v2";
    if (recipe == AETHER_FEATURES_V3)
        return "csi-v3";
    if (recipe == AETHER_FEATURES_V4)
        return "csi-v4";
    return recipe == AETHER_FEATURES_V5 ? "csi-v5" : NULL;
}

unsigned aether_features_recipe(const aether_features *f)
{
    return f ? f->recipe : 0u;
}

size_t aether_features_dim(const aether_features *f)
{
    return f ? f->dim : 0;
}

aether_status aether_features_reset(aether_features *f)
{
    if (!f)
        return AETHER_ERR_NULL_ARG;
    memset(f->nodes, 0, f->max_nodes * sizeof(node_state));
    index_clear(f);
    return AETHER_OK;
}

static size_t bucket_of(const aether_features *f, uint32_t node_id)
{
    /* multiplicative hashing: the top bits of id x 2^32 / golden ratio */
    return (size_t)(((uint32_t)(node_id * 0x9E3779B1u) ^ (node_id >> 16)) & f->index_mask);
}

static node_state *find_node(aether_features *f, uint32_t node_id)
{
    size_t h = bucket_of(f, node_id);
    for (;;) {
        uint32_t v = f->index[h];
        if (v == 0)
            return NULL;
        if (f->nodes[v - 1].node_id == node_id)
            return &f->nodes[v - 1];
        h = (h + 1) & f->index_mask;
    }
}

static void index_insert(aether_features *f, size_t i)
{
    size_t h = bucket_of(f, f->nodes[i].node_id);
    while (f->index[h])
        h = (h + 1) & f->index_mask;
    f->index[h] = (uint32_t)(i + 1);
}

/* Unlink node i (backward-shift deletion: no tombstones) and free it. */
static void index_remove(aether_features *f, size_t i)
{
    size_t h = bucket_of(f, f->nodes[i].node_id), j;
    while (f->index[h] != (uint32_t)(i + 1))
        h = (h + 1) & f->index_mask;
    j = h;
    for (;;) {
        size_t home;
        j = (j + 1) & f->index_mask;
        if (!f->index[j])
            break;
        home = bucket_of(f, f->nodes[f->index[j] - 1].node_id);
        if (h <= j ? (h < home && home <= j) : (h < home || home <= j))
            continue;
        f->index[h] = f->index[j];
        h = j;
    }
    f->index[h] = 0;
    f->free_nodes[f->n_free++] = (uint32_t)i;
}

aether_status aether_features_forget(aether_features *f, uint32_t node_id)
{
    node_state *n;
    if (!f)
        return AETHER_ERR_NULL_ARG;
    n = find_node(f, node_id);
    if (!n)
        return AETHER_ERR_TRACK_NOT_FOUND;
    index_remove(f, (size_t)(n - f->nodes));
    memset(n, 0, sizeof *n);
    return AETHER_OK;
}

static aether_status check_frame(const aether_csi_frame *fr)
{
    size_t i;
    if (fr->n_pairs < 1 || fr->n_pairs > AETHER_CSI_MAX_PAIRS)
        return AETHER_ERR_INVALID_ARG;
    if (fr->kind == AETHER_CSI_RAW_IQ)
        return fr->iq ? AETHER_OK : AETHER_ERR_INVALID_ARG;
    if (fr->kind != AETHER_CSI_AMPLITUDE || !fr->amp)
        return AETHER_ERR_INVALID_ARG;
    for (i = 0; i < fr->n_pairs; ++i)
        if (!aether_isfinite(fr->amp[i]) || fr->amp[i] < 0.0f)
            return AETHER_ERR_NONFINITE;
    return AETHER_OK;
}

/* Amplitudes (and phases) of the available canonical tones. */
static size_t load_tones(const aether_csi_frame *fr, frame_work *w)
{
    size_t p, n = 0;
    for (p = 0; p < N_TONES; ++p) {
        size_t k = tone_index(p);
        w->ok[p] = (unsigned char)(k < fr->n_pairs);
        w->amp[p] = 0.0;
        w->phase[p] = 0.0;
        if (!w->ok[p])
            continue;
        n++;
        if (fr->kind == AETHER_CSI_RAW_IQ) {
            double im = (double)fr->iq[2 * k];
            double re = (double)fr->iq[2 * k + 1];
            w->amp[p] = sqrt(im * im + re * re);
            w->phase[p] = atan2(im, re);
        } else {
            w->amp[p] = (double)fr->amp[k];
        }
    }
    return n;
}

/* Mean and population std of v[i] where ok[i], two-pass; 0, 0 if none. */
static void mean_std(const float *v, const unsigned char *ok, size_t n, double *mean, double *std)
{
    size_t i, c = 0;
    double s = 0.0, q = 0.0, m;
    for (i = 0; i < n; ++i)
        if (ok[i]) {
            s += (double)v[i];
            c++;
        }
    if (c == 0) {
        *mean = 0.0;
        *std = 0.0;
        return;
    }
    m = s / (double)c;
    for (i = 0; i < n; ++i)
        if (ok[i]) {
            double d = (double)v[i] - m;
            q += d * d;
        }
    *mean = m;
    *std = sqrt(q / (double)c);
}

static void compute(const aether_features *f, const aether_csi_frame *fr, const node_state *prev,
                    frame_work *w, float *out)
{
    size_t p, g, n_avail, c;
    double power = 0.0, sum = 0.0, mean, std, acc;
    const size_t G = f->groups;

    memset(out, 0, f->dim * sizeof(float));
    n_avail = load_tones(fr, w);
    for (p = 0; p < N_TONES; ++p)
        if (w->ok[p]) {
            power += w->amp[p] * w->amp[p];
            sum += w->amp[p];
        }
    if (n_avail > 0) {
        power /= (double)n_avail;
        sum /= (double)n_avail;
    }
    out[AETHER_FEAT_ENERGY] = (float)log(1.0 + power);

    for (p = 0; p < N_TONES; ++p)
        w->norm[p] = (w->ok[p] && sum > 0.0) ? (float)(w->amp[p] / sum) : 0.0f;
    mean_std(w->norm, w->ok, N_TONES, &mean, &std);
    out[AETHER_FEAT_DISPERSION] = (float)std;

    if (prev) {
        acc = 0.0;
        c = 0;
        for (p = 0; p < N_TONES; ++p)
            if (w->ok[p] && prev->amp_ok[p]) {
                acc += fabs((double)w->norm[p] - (double)prev->amp[p]);
                c++;
            }
        out[AETHER_FEAT_MOTION] = c ? (float)(acc / (double)c) : 0.0f;
    }

    for (p = 0; p < N_TONES; ++p) {
        w->dphi_ok[p] = (unsigned char)(fr->kind == AETHER_CSI_RAW_IQ && p + 1 < N_TONES &&
                                        p != 25 && w->ok[p] && w->ok[p + 1]);
        w->dphi[p] = w->dphi_ok[p] ? (float)wrap_pi(w->phase[p + 1] - w->phase[p]) : 0.0f;
    }
    w->any_dphi = 0;
    for (p = 0; p < N_TONES; ++p)
        w->any_dphi |= w->dphi_ok[p];
    mean_std(w->dphi, w->dphi_ok, N_TONES, &mean, &std);
    out[AETHER_FEAT_PHASE_MEAN] = (float)mean;
    out[AETHER_FEAT_PHASE_STD] = (float)std;
    if (prev) {
        acc = 0.0;
        c = 0;
        for (p = 0; p < N_TONES; ++p)
            if (w->dphi_ok[p] && prev->dphi_ok[p]) {
                acc += fabs(wrap_pi((double)w->dphi[p] - (double)prev->dphi[p]));
                c++;
            }
        out[AETHER_FEAT_PHASE_MOTION] = c ? (float)(acc / (double)c) : 0.0f;
    }

    for (g = 0; g < G; ++g) {
        size_t lo = N_TONES * g / G, hi = N_TONES * (g + 1) / G;
        acc = 0.0;
        c = 0;
        for (p = lo; p < hi; ++p)
            if (w->ok[p]) {
                acc += (double)w->norm[p];
                c++;
            }
        w->group_ok[g] = (unsigned char)(c > 0);
        w->group[g] = c ? (float)(acc / (double)c) : 0.0f;
        out[AETHER_FEATURES_FIXED + g] = w->group[g];
        if (prev && c && prev->group_ok[g])
            out[AETHER_FEATURES_FIXED + G + g] = (float)((double)w->group[g] -
                                                         (double)prev->group[g]);
    }
}

/* Pearson correlation of the gain-normalised amplitude vectors of this and
 * the previous frame over the tones both have; 1 when either is flat. */
static double frame_correlation(const frame_work *w, const node_state *prev)
{
    size_t p, c = 0;
    double sa = 0.0, sb = 0.0, ma, mb, xy = 0.0, xx = 0.0, yy = 0.0;
    for (p = 0; p < N_TONES; ++p)
        if (w->ok[p] && prev->amp_ok[p]) {
            sa += (double)w->norm[p];
            sb += (double)prev->amp[p];
            c++;
        }
    if (c < 2)
        return 1.0;
    ma = sa / (double)c;
    mb = sb / (double)c;
    for (p = 0; p < N_TONES; ++p)
        if (w->ok[p] && prev->amp_ok[p]) {
            double a = (double)w->norm[p] - ma, b = (double)prev->amp[p] - mb;
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
    if (xx <= 0.0 || yy <= 0.0)
        return 1.0;
    return xy / sqrt(xx * yy);
}

/* One exponential moving mean/variance step (the first sample sets mean x,
 * variance 0); wrapped differences for phases. */
static void ema_step(float *m, float *v, double x, double alpha, int first, int phase)
{
    double d, mm = (double)*m, vv = (double)*v;
    if (first) {
        *m = (float)x;
        *v = 0.0f;
        return;
    }
    d = phase ? wrap_pi(x - mm) : x - mm;
    mm += alpha * d;
    vv = (1.0 - alpha) * (vv + alpha * d * d);
    *m = (float)(phase ? wrap_pi(mm) : mm);
    *v = (float)vv;
}

/* Mean over tones with ok[p] of sqrt(v[p]); 0 if none. */
static double pooled_std(const float *v, const unsigned char *ok)
{
    size_t p, c = 0;
    double s = 0.0;
    for (p = 0; p < N_TONES; ++p)
        if (ok[p]) {
            s += sqrt((double)v[p]);
            c++;
        }
    return c ? s / (double)c : 0.0;
}

/* Recipe v2: the variability slots (features.h). `n` holds the node's
 * state before this frame (prev says whether it is comparable) and is
 * updated here; ok flags of a tone that appears for the first time start
 * its statistics. */
static void compute_v2(const aether_features *f, const frame_work *w, node_state *n,
                       const node_state *prev, float *out)
{
    const size_t G = f->groups, base = AETHER_FEATURES_FIXED + G;
    const size_t slots = G < AETHER_FEATURES_V2_SLOTS ? G : AETHER_FEATURES_V2_SLOTS;
    int first = prev == NULL;
    size_t p;
    float v2[AETHER_FEATURES_V2_SLOTS];
    for (p = 0; p < N_TONES; ++p) {
        int tone_first = first || !n->amp_ok[p];
        int ph_first = first || !n->dphi_ok[p];
        if (w->ok[p]) {
            ema_step(&n->ema_m[p], &n->ema_v[p], (double)w->norm[p], 1.0 / 8.0, tone_first, 0);
            ema_step(&n->ema_lm[p], &n->ema_lv[p], (double)w->norm[p], 1.0 / 32.0, tone_first, 0);
        }
        if (w->dphi_ok[p])
            ema_step(&n->ph_m[p], &n->ph_v[p], (double)w->dphi[p], 1.0 / 8.0, ph_first, 1);
    }
    n->motion_ema = first ? (double)out[AETHER_FEAT_MOTION]
                          : n->motion_ema +
                                (1.0 / 8.0) * ((double)out[AETHER_FEAT_MOTION] - n->motion_ema);
    v2[0] = (float)log(AETHER_FEATURES_V2_FLOOR + pooled_std(n->ema_v, w->ok));
    v2[1] = (float)log(AETHER_FEATURES_V2_FLOOR + pooled_std(n->ema_lv, w->ok));
    {
        double dec = prev ? 1.0 - frame_correlation(w, prev) : 0.0;
        if (dec < 0.0)
            dec = 0.0;
        v2[2] = (float)log(AETHER_FEATURES_V2_FLOOR + dec);
    }
    v2[3] = w->any_dphi ? (float)log(AETHER_FEATURES_V2_FLOOR + pooled_std(n->ph_v, w->dphi_ok))
                        : 0.0f;
    v2[4] = (float)log(AETHER_FEATURES_V2_FLOOR + n->motion_ema);
    for (p = 0; p < slots; ++p)
        out[base + p] = v2[p];
}

/* Recipe v3: exponential moving statistics whose weight starts at 1 and
 * falls as 1/(c+1) until it reaches alpha, so the first samples give the
 * exact running mean and population variance instead of a biased warm-up
 * (the recursion is Welford's while 1/(c+1) > alpha). */
static double v3_alpha(double alpha, uint32_t c)
{
    double w = 1.0 / ((double)c + 1.0);
    return w > alpha ? w : alpha;
}

static void v3_ems(float *m, float *v, double x, double alpha)
{
    double d = x - (double)*m;
    *m = (float)((double)*m + alpha * d);
    *v = (float)((1.0 - alpha) * ((double)*v + alpha * d * d));
}

/* ln((eps + mean_k v_k) / (eps + mean_k white_k)) over the tones of this
 * frame: how much of the amplitude variance is slower than frame-to-frame
 * noise. White noise gives about 0 whatever its level; a moving body, whose
 * channel changes smoothly over many frames, gives clearly more. */
static double v3_slow_ratio(const float *v, const float *white, const unsigned char *ok)
{
    size_t p, c = 0;
    double sv = 0.0, sw = 0.0;
    for (p = 0; p < N_TONES; ++p)
        if (ok[p]) {
            sv += (double)v[p];
            sw += (double)white[p];
            c++;
        }
    if (c == 0)
        return 0.0;
    return log((AETHER_FEATURES_V3_EPS + sv / (double)c) /
               (AETHER_FEATURES_V3_EPS + sw / (double)c));
}

/* Recipe v3 slots (features.h). n holds the node's state before this frame
 * and is updated here. */
static void compute_v3(const aether_features *f, const frame_work *w, node_state *n,
                       const node_state *prev, float *out)
{
    const size_t G = f->groups, base = AETHER_FEATURES_FIXED + G;
    const size_t slots = G < AETHER_FEATURES_V2_SLOTS ? G : AETHER_FEATURES_V2_SLOTS;
    double dev[N_TONES], cp = 0.0, cq = 0.0, a;
    unsigned char dev_ok[N_TONES];
    float v3[AETHER_FEATURES_V2_SLOTS];
    size_t p;
    if (!prev) {
        memset(n->count, 0, sizeof n->count);
        n->coh_n = 0;
        n->coh_p = 0.0;
        n->coh_q = 0.0;
    }
    for (p = 0; p < N_TONES; ++p) {
        double x = (double)w->norm[p];
        dev_ok[p] = 0;
        dev[p] = 0.0;
        if (!w->ok[p]) {
            n->count[p] = 0;
            continue;
        }
        if (prev && !prev->amp_ok[p])
            n->count[p] = 0;
        if (n->count[p] > 0) {
            /* a frame-to-frame difference of white noise has variance 2 s^2 */
            double d = x - (double)prev->amp[p], h = 0.5 * d * d;
            a = v3_alpha(1.0 / 8.0, n->count[p] - 1u);
            n->white_s[p] = (float)((double)n->white_s[p] + a * (h - (double)n->white_s[p]));
            a = v3_alpha(1.0 / 32.0, n->count[p] - 1u);
            n->white_l[p] = (float)((double)n->white_l[p] + a * (h - (double)n->white_l[p]));
            dev[p] = x - (double)n->ema_lm[p];
            dev_ok[p] = 1;
        } else {
            n->white_s[p] = 0.0f;
            n->white_l[p] = 0.0f;
            n->ema_m[p] = n->ema_v[p] = n->ema_lm[p] = n->ema_lv[p] = 0.0f;
        }
        v3_ems(&n->ema_m[p], &n->ema_v[p], x, v3_alpha(1.0 / 8.0, n->count[p]));
        v3_ems(&n->ema_lm[p], &n->ema_lv[p], x, v3_alpha(1.0 / 32.0, n->count[p]));
        if (n->count[p] < UINT32_MAX)
            n->count[p]++;
    }
    /* adjacent tones of one run (not across the DC gap at 25 | 26) */
    for (p = 0; p + 1 < N_TONES; ++p)
        if (p != 25 && dev_ok[p] && dev_ok[p + 1]) {
            cp += dev[p] * dev[p + 1];
            cq += 0.5 * (dev[p] * dev[p] + dev[p + 1] * dev[p + 1]);
        }
    a = v3_alpha(1.0 / 8.0, n->coh_n > UINT32_MAX ? UINT32_MAX : (uint32_t)n->coh_n);
    n->coh_p += a * (cp - n->coh_p);
    n->coh_q += a * (cq - n->coh_q);
    n->coh_n++;
    v3[0] = (float)log(AETHER_FEATURES_V2_FLOOR + pooled_std(n->ema_v, w->ok));
    v3[1] = (float)log(AETHER_FEATURES_V2_FLOOR + pooled_std(n->ema_lv, w->ok));
    v3[2] = (float)v3_slow_ratio(n->ema_lv, n->white_l, w->ok);
    v3[3] = (float)v3_slow_ratio(n->ema_v, n->white_s, w->ok);
    v3[4] = n->coh_q > 0.0 ? (float)(n->coh_p / n->coh_q) : 0.0f;
    for (p = 0; p < slots; ++p)
        out[base + p] = v3[p];
}

/* Mean power of the canonical tones the frame has, in double (step 3). */
static double frame_power(const aether_csi_frame *fr)
{
    size_t p, c = 0;
    double s = 0.0;
    for (p = 0; p < N_TONES; ++p) {
        size_t k = tone_index(p);
        if (k >= fr->n_pairs)
            continue;
        if (fr->kind == AETHER_CSI_RAW_IQ) {
            double im = (double)fr->iq[2 * k], re = (double)fr->iq[2 * k + 1];
            s += im * im + re * re;
        } else {
            s += (double)fr->amp[k] * (double)fr->amp[k];
        }
        c++;
    }
    return c ? s / (double)c : 0.0;
}

/* Recipe v4, before the frame's features: follow the receiver gain
 * (features.h). A change of ln P by +-ln 4 (a x2 amplitude step) within
 * AETHER_FEATURES_V4_STEP_TOL is a gain step: it moves the gain level g by
 * one and is removed from the corrected level L_c. Returns g, the number of
 * x2 steps this frame sits above the lowest level seen since the node's
 * restart. */
static unsigned v4_track_gain(const aether_csi_frame *fr, node_state *n, const node_state *prev)
{
    const double ln4 = 1.38629436111989061883;
    double power = frame_power(fr);
    if (!prev) {
        n->v4_lp_ok = 0;
        n->v4_lc = 0.0;
        n->v4_m = 0.0;
        n->v4_cnt = 0;
        n->v4_g = 0;
    }
    if (power > 0.0) {
        double lp = log(power);
        if (n->v4_lp_ok) {
            double d = lp - n->v4_lp, k = floor(d / ln4 + 0.5);
            /* one or two x2 steps at once */
            if (k != 0.0 && fabs(k) <= 2.0 && fabs(d - k * ln4) <= AETHER_FEATURES_V4_STEP_TOL) {
                int steps = (int)k;
                d -= k * ln4;
                for (; steps > 0; --steps)
                    if (n->v4_g < AETHER_FEATURES_V4_MAX_LEVEL)
                        n->v4_g++;
                for (; steps < 0; ++steps)
                    if (n->v4_g > 0)
                        n->v4_g--; /* else a new lowest level: g stays 0 */
            }
            n->v4_lc += d;
        }
        n->v4_lp = lp;
        n->v4_lp_ok = 1;
    }
    return n->v4_g;
}

/* A copy of a raw frame's first 64 pairs with every I/Q value divided by
 * 2^g, rounded half away from zero: a packet g x2 steps above the lowest
 * level gets that level's quantisation. */
static aether_csi_frame v4_requantise(const aether_csi_frame *fr, unsigned g, int8_t *iq)
{
    aether_csi_frame c = *fr;
    size_t i, n = 2 * (fr->n_pairs < 64 ? fr->n_pairs : 64);
    const int div = 1 << g, half = div / 2;
    for (i = 0; i < n; ++i) {
        int v = fr->iq[i];
        iq[i] = (int8_t)(v >= 0 ? (v + half) / div : -((-v + half) / div));
    }
    c.iq = iq;
    return c;
}

/* Recipe v4's energy slot: L_c minus its slow mean (features.h). */
static void compute_v4(node_state *n, float *out)
{
    double a = v3_alpha(AETHER_FEATURES_V4_ALPHA, n->v4_cnt);
    n->v4_m += a * (n->v4_lc - n->v4_m);
    if (n->v4_cnt < UINT32_MAX)
        n->v4_cnt++;
    out[AETHER_FEAT_ENERGY] = (float)(n->v4_lc - n->v4_m);
}

/* Recipe v5: every level slot of the v4 vector minus its slow moving mean
 * (features.h); restart is whether the node's statistics start again. */
static void compute_v5(const aether_features *f, node_state *n, int restart, float *out)
{
    const size_t G = f->groups;
    double a;
    size_t j;
    if (restart)
        n->v5_cnt = 0;
    a = v3_alpha(AETHER_FEATURES_V5_ALPHA, n->v5_cnt);
    for (j = 1; j < AETHER_FEATURES_FIXED + G; ++j) {
        double x;
        if (j == AETHER_FEAT_MOTION || j == AETHER_FEAT_PHASE_MOTION)
            continue;
        x = (double)out[j];
        if (n->v5_cnt == 0)
            n->v5_m[j] = x;
        else
            n->v5_m[j] += a * (x - n->v5_m[j]);
        out[j] = (float)(x - n->v5_m[j]);
    }
    if (n->v5_cnt < UINT32_MAX)
        n->v5_cnt++;
}

aether_status aether_features_compute(aether_features *f, const aether_csi_frame *frame,
                                      float *out, size_t out_len)
{
    frame_work w;
    node_state *n;
    const node_state *prev;
    aether_status s;
    if (!f || !frame || !out)
        return AETHER_ERR_NULL_ARG;
    if (out_len != f->dim)
        return AETHER_ERR_SHAPE_MISMATCH;
    s = check_frame(frame);
    if (s != AETHER_OK)
        return s;
    n = find_node(f, frame->node_id);
    if (!n) {
        if (f->n_free == 0)
            return AETHER_ERR_TRACKS_FULL;
        n = &f->nodes[f->free_nodes[--f->n_free]];
        n->node_id = frame->node_id;
        index_insert(f, (size_t)(n - f->nodes));
        prev = NULL;
    } else {
        /* A kind change makes the previous frame incomparable. */
        prev = n->kind == frame->kind ? n : NULL;
    }
    if (f->recipe == AETHER_FEATURES_V4 || f->recipe == AETHER_FEATURES_V5) {
        int8_t iq[128];
        unsigned g = v4_track_gain(frame, n, prev);
        if (g > 0 && frame->kind == AETHER_CSI_RAW_IQ) {
            aether_csi_frame q = v4_requantise(frame, g, iq);
            compute(f, &q, prev, &w, out);
        } else {
            compute(f, frame, prev, &w, out);
        }
        compute_v4(n, out);
        if (f->recipe == AETHER_FEATURES_V5)
            compute_v5(f, n, prev == NULL, out);
    } else {
        compute(f, frame, prev, &w, out);
    }
    if (f->recipe == AETHER_FEATURES_V2) {
        if (!prev)
            n->seen = 0;
        /* the v2 statistics read the previous frame's ok flags from n */
        compute_v2(f, &w, n, prev, out);
        n->seen++;
    } else if (f->recipe == AETHER_FEATURES_V3) {
        compute_v3(f, &w, n, prev, out);
    }
    n->used = 1;
    n->node_id = frame->node_id;
    n->kind = frame->kind;
    memcpy(n->amp, w.norm, sizeof n->amp);
    memcpy(n->amp_ok, w.ok, sizeof n->amp_ok);
    memcpy(n->dphi, w.dphi, sizeof n->dphi);
    memcpy(n->dphi_ok, w.dphi_ok, sizeof n->dphi_ok);
    memset(n->group, 0, sizeof n->group);
    memset(n->group_ok, 0, sizeof n->group_ok);
    memcpy(n->group, w.group, f->groups * sizeof(float));
    memcpy(n->group_ok, w.group_ok, f->groups);
    return AETHER_OK;
}
