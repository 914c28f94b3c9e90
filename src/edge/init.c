/* ruv_temporal context construction: validation, one sizing plan shared by
 * the size query and both inits, and the arena layout of the context. */
#include "edge/edge_internal.h"

#include <stdlib.h>
#include <string.h>

ruv_temporal_config_t ruv_temporal_config_default(void)
{
    ruv_temporal_config_t c;
#if defined(CONFIG_AETHER_TEMPORAL_MODE_STREAMING)
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
#else
    c.mode = RUV_TEMPORAL_MODE_WINDOW;
#endif
    c.pooling = RUV_TEMPORAL_POOL_FROM_MODEL;
    c.backend = RUV_TEMPORAL_BACKEND_SPARSE;
    c.attn_window = RUV_TEMPORAL_DEFAULT;
    c.attn_block = RUV_TEMPORAL_DEFAULT;
    c.cache_policy = RUV_TEMPORAL_CACHE_SLIDING;
    c.cache_storage = RUV_TEMPORAL_CACHE_F32;
    c.weights = RUV_TEMPORAL_WEIGHTS_BORROW_IF_POSSIBLE;
    return c;
}

/* cfg->pooling FROM_MODEL resolved from the blob's metadata `pool` key
 * (m: the record, present 0 without one): WINDOW mode takes "mean" or
 * "last", LAST without the key; STREAMING is LAST. Read with the small
 * metadata view (the 4 KB model-meta reader is too much stack here). */
static esp_err_t resolve_pooling(ruv_temporal_config_t *cfg, const aether_blob_metadata *m)
{
    const char *val = NULL;
    size_t len = 0;
    if (cfg->pooling != RUV_TEMPORAL_POOL_FROM_MODEL)
        return ESP_OK;
    cfg->pooling = RUV_TEMPORAL_POOL_LAST;
    if (cfg->mode == RUV_TEMPORAL_MODE_STREAMING || !m->present ||
        aether_blob_metadata_find(m, "pool", &val, &len) != AETHER_OK || !val)
        return ESP_OK;
    if (len == 4 && memcmp(val, "mean", 4) == 0)
        cfg->pooling = RUV_TEMPORAL_POOL_MEAN;
    else if (len != 4 || memcmp(val, "last", 4) != 0)
        return ESP_ERR_INVALID_ARG;
    return ESP_OK;
}

/* Everything init needs to know before touching memory. */
typedef struct edge_plan {
    ruv_temporal_config_t cfg;
    aether_blob_view blob;
    aether_head_config head;
    aether_model_weights wmode;
    aether_session_params sp;
    size_t model_bytes;
    aether_window_params wp; /* WINDOW */
    size_t window_bytes;     /* WINDOW */
    size_t sess_bytes;       /* STREAMING */
    aether_decision_params decision;
    int quant; /* an RVNQ blob: the integer path */
    edge_qplan q;
} edge_plan;

static esp_err_t check_config(const ruv_temporal_config_t *c)
{
    if ((unsigned)c->mode > RUV_TEMPORAL_MODE_STREAMING ||
        (unsigned)c->pooling > RUV_TEMPORAL_POOL_FROM_MODEL ||
        (unsigned)c->backend > RUV_TEMPORAL_BACKEND_DENSE ||
        (unsigned)c->cache_policy > RUV_TEMPORAL_CACHE_FAIL ||
        (unsigned)c->weights > RUV_TEMPORAL_WEIGHTS_BORROW ||
        (unsigned)c->cache_storage > RUV_TEMPORAL_CACHE_INT8 || c->attn_block == 0)
        return ESP_ERR_INVALID_ARG;
    /* The session's logits are per frame; a window mean would need the
     * whole window's hidden states again, which streaming exists to avoid. */
    if (c->mode == RUV_TEMPORAL_MODE_STREAMING && c->pooling == RUV_TEMPORAL_POOL_MEAN)
        return ESP_ERR_NOT_SUPPORTED;
    return ESP_OK;
}

static aether_model_weights weights_mode(ruv_temporal_weights_t w)
{
    switch (w) {
    case RUV_TEMPORAL_WEIGHTS_COPY:
        return AETHER_MODEL_COPY;
    case RUV_TEMPORAL_WEIGHTS_BORROW:
        return AETHER_MODEL_BORROW;
    default:
        return AETHER_MODEL_BORROW_IF_POSSIBLE;
    }
}

static aether_kv_storage cache_storage(int code)
{
    switch (code) {
    case RUV_TEMPORAL_CACHE_F16:
        return AETHER_KV_F16;
    case RUV_TEMPORAL_CACHE_BF16:
        return AETHER_KV_BF16;
    case RUV_TEMPORAL_CACHE_INT8:
        return AETHER_KV_I8;
    default:
        return AETHER_KV_F32;
    }
}

static aether_kv_evict evict_policy(ruv_temporal_cache_policy_t c)
{
    switch (c) {
    case RUV_TEMPORAL_CACHE_SCORED:
        return AETHER_KV_EVICT_SCORED;
    case RUV_TEMPORAL_CACHE_FAIL:
        return AETHER_KV_EVICT_NONE;
    default:
        return AETHER_KV_EVICT_SLIDING;
    }
}

/* The metadata window_frames (the window the model was trained on; m: the
 * record of an RVNE or RVNQ blob, present 0 without one) when it is a
 * decimal count in 1..RUV_TEMPORAL_MAX_WINDOW_LEN, else
 * RUV_TEMPORAL_FALLBACK_WINDOW_LEN. Digits as the typed metadata reader
 * takes them (aether/blob.h: up to 10, leading zeros allowed). */
static uint32_t meta_window_len(const aether_blob_metadata *m)
{
    const char *val = NULL;
    size_t len = 0, i;
    uint32_t n = 0;
    if (!m->present || aether_blob_metadata_find(m, "window_frames", &val, &len) != AETHER_OK ||
        !val || len == 0 || len > 10)
        return RUV_TEMPORAL_FALLBACK_WINDOW_LEN;
    for (i = 0; i < len; ++i) {
        if (val[i] < '0' || val[i] > '9')
            return RUV_TEMPORAL_FALLBACK_WINDOW_LEN;
        if (n > RUV_TEMPORAL_MAX_WINDOW_LEN)
            continue; /* too large already: no need to grow */
        n = n * 10u + (uint32_t)(val[i] - '0');
    }
    return n >= 1 && n <= RUV_TEMPORAL_MAX_WINDOW_LEN ? n : RUV_TEMPORAL_FALLBACK_WINDOW_LEN;
}

/* *input_dim / *n_classes RUV_TEMPORAL_DEFAULT are replaced by the blob's
 * values (any other value must equal them); *window_len RUV_TEMPORAL_DEFAULT
 * by blob_window_len. */
static esp_err_t make_plan(const uint8_t *weights, size_t weights_len, uint32_t *input_dim,
                           uint32_t *window_len, uint32_t *n_classes,
                           const ruv_temporal_config_t *cfg, edge_plan *p)
{
    aether_status st;
    esp_err_t e;

    if (!weights || weights_len == 0 || *input_dim == 0 || *window_len == 0 || *n_classes == 0)
        return ESP_ERR_INVALID_ARG;
    p->cfg = cfg ? *cfg : ruv_temporal_config_default();
    p->decision = aether_decision_params_default(); /* an RVNQ blob: no calibration */
    if ((e = check_config(&p->cfg)) != ESP_OK)
        return e;
    p->quant = aether_qblob_is(weights, weights_len);
    if (p->quant) {
        /* RUV_TEMPORAL_DEFAULT from the RVNQ header and metadata, as for an
         * RVNE blob (a blob that does not parse is left to the integer
         * plan's diagnostics) */
        aether_qblob_view qv;
        aether_blob_metadata md;
        if (aether_qblob_parse(weights, weights_len, &qv) == AETHER_OK) {
            if (*input_dim == RUV_TEMPORAL_DEFAULT)
                *input_dim = qv.header.input_dim;
            if (*n_classes == RUV_TEMPORAL_DEFAULT)
                *n_classes = qv.header.n_classes;
            if (aether_qblob_metadata_get(&qv, &md) != AETHER_OK)
                md.present = 0;
            if (*window_len == RUV_TEMPORAL_DEFAULT)
                *window_len = meta_window_len(&md);
            if ((e = resolve_pooling(&p->cfg, &md)) != ESP_OK)
                return e;
        }
        if (p->cfg.pooling == RUV_TEMPORAL_POOL_FROM_MODEL) /* unparsed: refused below */
            p->cfg.pooling = RUV_TEMPORAL_POOL_LAST;
        if (*window_len == RUV_TEMPORAL_DEFAULT)
            *window_len = RUV_TEMPORAL_FALLBACK_WINDOW_LEN;
        e = ruv_temporal_qplan_(weights, weights_len, *input_dim, *window_len, *n_classes,
                                &p->cfg, &p->q);
        if (e == ESP_OK)
            p->decision = p->q.decision;
        return e;
    }
    st = aether_blob_parse(weights, weights_len, &p->blob);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    if (*input_dim == RUV_TEMPORAL_DEFAULT)
        *input_dim = p->blob.header.input_dim;
    if (*n_classes == RUV_TEMPORAL_DEFAULT)
        *n_classes = p->blob.header.n_classes;
    if (p->blob.header.input_dim != *input_dim || p->blob.header.n_classes != *n_classes)
        return ESP_ERR_INVALID_SIZE;
    {
        aether_blob_metadata md;
        if (aether_blob_metadata_get(&p->blob, &md) != AETHER_OK)
            md.present = 0;
        if (*window_len == RUV_TEMPORAL_DEFAULT)
            *window_len = meta_window_len(&md);
        if ((e = resolve_pooling(&p->cfg, &md)) != ESP_OK)
            return e;
    }

    aether_model_default_head_config(&p->blob, &p->head);
    if (p->cfg.attn_window != RUV_TEMPORAL_DEFAULT)
        p->head.window = p->cfg.attn_window;
    if (p->cfg.attn_block != RUV_TEMPORAL_DEFAULT)
        p->head.block_size = p->cfg.attn_block;
    p->head.backend = p->cfg.backend == RUV_TEMPORAL_BACKEND_DENSE ? AETHER_HEAD_DENSE
                                                                   : AETHER_HEAD_SPARSE_GQA;
    p->wmode = weights_mode(p->cfg.weights);
    /* Model-level validation (layout, finite weights, extension bits). */
    st = aether_model_size(&p->blob, &p->head, p->wmode, &p->model_bytes);
    if (st == AETHER_OK)
        st = aether_decision_params_from_blob(&p->blob, &p->decision);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    p->window_bytes = 0;
    p->sess_bytes = 0;
    if (p->cfg.mode == RUV_TEMPORAL_MODE_WINDOW) {
        p->wp.frames = *window_len;
        p->wp.pool = p->cfg.pooling == RUV_TEMPORAL_POOL_MEAN ? AETHER_POOL_MEAN
                                                              : AETHER_POOL_LAST;
        p->wp.external_workspace = 0;
        st = aether_window_size_for(&p->blob, &p->head, &p->wp, &p->window_bytes);
    } else {
        p->sp = aether_model_session_params_default();
        p->sp.capacity = *window_len;
        p->sp.evict = evict_policy(p->cfg.cache_policy);
        p->sp.storage = cache_storage(p->cfg.cache_storage);
        p->sp.landmarks = AETHER_KV_LM_SUM;
        st = aether_model_session_size_for(&p->blob, &p->head, &p->sp, &p->sess_bytes);
    }
    return ruv_temporal_err_(st);
}

/* The context's blocks, in one arena: the same function measures (base
 * NULL) and places. */
typedef struct edge_parts {
    ruv_temporal_ctx_t *ctx;
    void *model_mem, *window_mem, *sess_mem;
    float *scratch_logits, *last_logits;
    edge_qparts qx;
} edge_parts;

static aether_status layout(aether_arena *ar, const edge_plan *p, uint32_t input_dim,
                            uint32_t window_len, uint32_t n_classes, edge_parts *x)
{
    (void)input_dim;
    (void)window_len;
    memset(x, 0, sizeof *x);
    x->ctx = (ruv_temporal_ctx_t *)aether_arena_alloc(ar, 1, sizeof *x->ctx, AETHER_ALIGN);
    if (p->quant) {
        x->scratch_logits = (float *)aether_arena_alloc(ar, n_classes, sizeof(float), 16);
        if (p->cfg.mode == RUV_TEMPORAL_MODE_STREAMING)
            x->last_logits = (float *)aether_arena_alloc(ar, n_classes, sizeof(float), 16);
        ruv_temporal_qlayout_(ar, &p->q, &p->cfg, &x->qx);
        return ar->status;
    }
    x->model_mem = aether_arena_alloc(ar, p->model_bytes, 1, AETHER_ALIGN);
    x->scratch_logits = (float *)aether_arena_alloc(ar, n_classes, sizeof(float), 16);
    if (p->cfg.mode == RUV_TEMPORAL_MODE_WINDOW) {
        x->window_mem = aether_arena_alloc(ar, p->window_bytes, 1, AETHER_ALIGN);
    } else {
        x->last_logits = (float *)aether_arena_alloc(ar, n_classes, sizeof(float), 16);
        x->sess_mem = aether_arena_alloc(ar, p->sess_bytes, 1, AETHER_ALIGN);
    }
    return ar->status;
}

esp_err_t ruv_temporal_ctx_size_ex(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                                   uint32_t window_len, uint32_t n_classes,
                                   const ruv_temporal_config_t *cfg, size_t *out_bytes)
{
    edge_plan p;
    edge_parts x;
    aether_arena ar;
    aether_status st;
    esp_err_t e;
    if (!out_bytes)
        return ESP_ERR_INVALID_ARG;
    e = make_plan(weights, weights_len, &input_dim, &window_len, &n_classes, cfg, &p);
    if (e != ESP_OK)
        return e;
    aether_arena_measure(&ar);
    st = layout(&ar, &p, input_dim, window_len, n_classes, &x);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    *out_bytes = ar.used;
    return ESP_OK;
}

size_t ruv_temporal_ctx_size(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                             uint32_t window_len, uint32_t n_classes)
{
    size_t bytes = 0;
    if (ruv_temporal_ctx_size_ex(weights, weights_len, input_dim, window_len, n_classes, NULL,
                                 &bytes) != ESP_OK)
        return 0;
    return bytes;
}

/* Place and initialise a planned context in buf[0, len); ctx_bytes is the
 * measured size (ruv_temporal_ctx_size_ex's), what get_info reports. */
static esp_err_t build(void *buf, size_t len, size_t ctx_bytes, const edge_plan *p,
                       const uint8_t *weights, uint32_t input_dim, uint32_t window_len,
                       uint32_t n_classes, ruv_temporal_ctx_t **out)
{
    edge_parts x;
    aether_arena ar;
    aether_status st;
    ruv_temporal_ctx_t *c;

    aether_arena_init(&ar, buf, len);
    st = layout(&ar, p, input_dim, window_len, n_classes, &x);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    c = x.ctx;
    memset(c, 0, sizeof *c);
    if (p->quant) {
        esp_err_t e;
        c->cfg = p->cfg;
        c->input_dim = input_dim;
        c->window_len = window_len;
        c->n_classes = n_classes;
        if ((e = ruv_temporal_qbuild_(c, &p->q, weights, &x.qx)) != ESP_OK)
            return e;
        goto done;
    }
    st = aether_model_init(x.model_mem, p->model_bytes, &p->blob, &p->head, p->wmode, &c->model);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    if (p->cfg.mode == RUV_TEMPORAL_MODE_STREAMING)
        st = aether_model_session_init(x.sess_mem, p->sess_bytes, c->model, &p->sp, &c->session);
    else
        st = aether_window_init(x.window_mem, p->window_bytes, c->model, &p->wp, &c->window);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
done:
    c->cfg = p->cfg;
    c->input_dim = input_dim;
    c->window_len = window_len;
    c->n_classes = n_classes;
    c->scratch_logits = x.scratch_logits;
    c->last_logits = x.last_logits;
    c->broken = 0;
    c->decision = p->decision;
    c->frames_total = 0;
    c->bytes = ctx_bytes;
    c->owned = NULL;
    c->magic = RUV_TEMPORAL_MAGIC;
    *out = c;
    return ESP_OK;
}

esp_err_t ruv_temporal_init_static_ex(void *buf, size_t buf_len, const uint8_t *weights,
                                      size_t weights_len, uint32_t input_dim, uint32_t window_len,
                                      uint32_t n_classes, const ruv_temporal_config_t *cfg,
                                      ruv_temporal_ctx_t **out_ctx)
{
    edge_plan p;
    esp_err_t e;
    size_t need = 0;
    if (!buf || !out_ctx)
        return ESP_ERR_INVALID_ARG;
    e = make_plan(weights, weights_len, &input_dim, &window_len, &n_classes, cfg, &p);
    if (e != ESP_OK)
        return e;
    /* The documented contract is against ruv_temporal_ctx_size: a buffer
     * below it is refused even when this buffer's alignment would happen to
     * need less padding than the worst case the size counts. */
    e = ruv_temporal_ctx_size_ex(weights, weights_len, input_dim, window_len, n_classes, cfg,
                                 &need);
    if (e != ESP_OK)
        return e;
    if (buf_len < need)
        return ESP_ERR_NO_MEM;
    return build(buf, buf_len, need, &p, weights, input_dim, window_len, n_classes, out_ctx);
}

esp_err_t ruv_temporal_init_static(void *buf, size_t buf_len, const uint8_t *weights,
                                   size_t weights_len, uint32_t input_dim, uint32_t window_len,
                                   uint32_t n_classes, ruv_temporal_ctx_t **out_ctx)
{
    return ruv_temporal_init_static_ex(buf, buf_len, weights, weights_len, input_dim, window_len,
                                       n_classes, NULL, out_ctx);
}

esp_err_t ruv_temporal_init_ex(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                               uint32_t window_len, uint32_t n_classes,
                               const ruv_temporal_config_t *cfg, ruv_temporal_ctx_t **out_ctx)
{
    edge_plan p;
    edge_parts x;
    aether_arena ar;
    aether_status st;
    esp_err_t e;
    void *buf;

    if (!out_ctx)
        return ESP_ERR_INVALID_ARG;
    e = make_plan(weights, weights_len, &input_dim, &window_len, &n_classes, cfg, &p);
    if (e != ESP_OK)
        return e;
    aether_arena_measure(&ar);
    st = layout(&ar, &p, input_dim, window_len, n_classes, &x);
    if (st != AETHER_OK)
        return ruv_temporal_err_(st);
    buf = malloc(ar.used);
    if (!buf)
        return ESP_ERR_NO_MEM;
    e = build(buf, ar.used, ar.used, &p, weights, input_dim, window_len, n_classes, out_ctx);
    if (e != ESP_OK) {
        free(buf);
        return e;
    }
    (*out_ctx)->owned = buf;
    return ESP_OK;
}

esp_err_t ruv_temporal_init(const uint8_t *weights, size_t weights_len, uint32_t input_dim,
                            uint32_t window_len, uint32_t n_classes, ruv_temporal_ctx_t **out_ctx)
{
    /* The original kept nothing of the blob, so callers may free it after
     * init: copy the weights. */
    ruv_temporal_config_t c = ruv_temporal_config_default();
    c.mode = RUV_TEMPORAL_MODE_WINDOW;
    c.pooling = RUV_TEMPORAL_POOL_FROM_MODEL;
    c.weights = RUV_TEMPORAL_WEIGHTS_COPY;
    return ruv_temporal_init_ex(weights, weights_len, input_dim, window_len, n_classes, &c,
                                out_ctx);
}

void ruv_temporal_destroy(ruv_temporal_ctx_t *ctx)
{
    void *owned;
    if (!ctx || ctx->magic != RUV_TEMPORAL_MAGIC)
        return;
    owned = ctx->owned;
    ctx->magic = 0;
    free(owned);
}
