/* Model construction from a parsed blob: model-level validation, head
 * config agreement, weights copied (f16 decoded once) or borrowed. */
#include "model/model_internal.h"

#include <stdlib.h>
#include <string.h>

aether_status aether_model_check_(const aether_model *m)
{
    if (!m)
        return AETHER_ERR_NULL_ARG;
    return m->magic == AETHER_MODEL_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

aether_status aether_model_default_head_config(const aether_blob_view *blob,
                                               aether_head_config *out)
{
    if (!blob || !out)
        return AETHER_ERR_NULL_ARG;
    *out = aether_head_config_default_aether();
    out->q_heads = blob->header.n_q_heads;
    out->kv_heads = blob->header.n_kv_heads;
    out->head_dim = blob->header.head_dim;
    return AETHER_OK;
}

static int host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b[4];
    memcpy(b, &one, 4);
    return b[0] == 1;
}

/* Whether the f32 payload can be used in place. */
static int can_borrow(const aether_blob_view *blob)
{
    return !aether_blob_is_f16(&blob->header) && host_is_little_endian() && sizeof(float) == 4 &&
           ((uintptr_t)blob->weights % sizeof(float)) == 0;
}

typedef struct plan {
    aether_blob_layout layout;
    aether_head head;
    int borrow;
} plan;

static aether_status make_plan(const aether_blob_view *blob, const aether_head_config *cfg,
                               aether_model_weights mode, plan *p)
{
    aether_head_config c;
    aether_status st;
    if (!blob)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_validate_model(blob, &p->layout);
    if (st != AETHER_OK)
        return st;
    if (cfg)
        c = *cfg;
    else
        aether_model_default_head_config(blob, &c);
    st = aether_head_config_validate(&c, NULL);
    if (st != AETHER_OK)
        return st;
    /* docs/MODEL.md section 3: a head config that disagrees with the blob is an error,
     * never silently overridden. */
    if (c.q_heads != blob->header.n_q_heads || c.kv_heads != blob->header.n_kv_heads ||
        c.head_dim != blob->header.head_dim)
        return AETHER_ERR_BLOB_SHAPE;
    st = aether_head_init(&p->head, &c);
    if (st != AETHER_OK)
        return st;
    switch (mode) {
    case AETHER_MODEL_COPY:
        p->borrow = 0;
        break;
    case AETHER_MODEL_BORROW:
        if (!can_borrow(blob))
            return AETHER_ERR_UNSUPPORTED;
        p->borrow = 1;
        break;
    case AETHER_MODEL_BORROW_IF_POSSIBLE:
        p->borrow = can_borrow(blob);
        break;
    default:
        return AETHER_ERR_INVALID_ARG;
    }
    return AETHER_OK;
}

/* One layout for measuring and placing: the struct, then the f32 weights
 * unless borrowed. */
static aether_status layout(aether_arena *a, const plan *p, aether_model **m, float **w)
{
    *m = (aether_model *)aether_arena_alloc(a, 1, sizeof(aether_model), AETHER_ALIGN);
    *w = NULL;
    if (!p->borrow)
        *w = (float *)aether_arena_alloc(a, p->layout.total_elems, sizeof(float), AETHER_ALIGN);
    return a->status;
}

aether_status aether_model_size(const aether_blob_view *blob, const aether_head_config *cfg,
                                aether_model_weights mode, size_t *bytes)
{
    aether_arena a;
    aether_model *m;
    float *w;
    plan p;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = make_plan(blob, cfg, mode, &p);
    if (st != AETHER_OK)
        return st;
    aether_arena_measure(&a);
    st = layout(&a, &p, &m, &w);
    if (st != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_model_init(void *buf, size_t len, const aether_blob_view *blob,
                                const aether_head_config *cfg, aether_model_weights mode,
                                aether_model **out)
{
    aether_arena a;
    aether_model *m;
    float *w;
    plan p;
    aether_status st;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    st = make_plan(blob, cfg, mode, &p);
    if (st != AETHER_OK)
        return st;
    aether_arena_init(&a, buf, len);
    st = layout(&a, &p, &m, &w);
    if (st != AETHER_OK)
        return st;
    m->header = blob->header;
    m->layout = p.layout;
    m->head = p.head;
    m->borrowed = p.borrow;
    m->f16_source = aether_blob_is_f16(&blob->header);
    m->owned_ = NULL;
    if (p.borrow) {
        m->w = (const float *)(const void *)blob->weights;
    } else {
        aether_blob_read_f32(blob, 0, p.layout.total_elems, w);
        m->w = w;
    }
    m->magic = AETHER_MODEL_MAGIC;
    *out = m;
    return AETHER_OK;
}

aether_status aether_model_create(const aether_blob_view *blob, const aether_head_config *cfg,
                                  aether_model_weights mode, aether_model **out)
{
    size_t bytes;
    void *buf;
    aether_status st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = aether_model_size(blob, cfg, mode, &bytes);
    if (st != AETHER_OK)
        return st;
    buf = malloc(bytes);
    if (!buf)
        return AETHER_ERR_NO_MEM;
    st = aether_model_init(buf, bytes, blob, cfg, mode, out);
    if (st != AETHER_OK) {
        free(buf);
        return st;
    }
    (*out)->owned_ = buf;
    return AETHER_OK;
}

void aether_model_destroy(aether_model *model)
{
    if (model && model->magic == AETHER_MODEL_MAGIC && model->owned_) {
        void *buf = model->owned_;
        model->magic = 0;
        free(buf);
    }
}

aether_status aether_model_get_info(const aether_model *model, aether_model_info *out)
{
    aether_status st = aether_model_check_(model);
    if (st != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    out->input_dim = model->header.input_dim;
    out->n_q_heads = model->header.n_q_heads;
    out->n_kv_heads = model->header.n_kv_heads;
    out->head_dim = model->header.head_dim;
    out->n_layers = model->header.n_layers;
    out->n_classes = model->header.n_classes;
    out->n_params = model->layout.total_elems;
    out->f16_source = model->f16_source;
    out->input_norm = (model->header.flags & AETHER_BLOB_FLAG_INPUT_NORM) ? 1 : 0;
    out->borrowed = model->borrowed;
    out->backend = model->head.backend;
    return AETHER_OK;
}

const aether_head *aether_model_head(const aether_model *model)
{
    return aether_model_check_(model) == AETHER_OK ? &model->head : NULL;
}

/* A weightless stand-in carrying what the size queries read (header,
 * layout, head), so sizes can be planned before the model's memory exists. */
static aether_status probe(const aether_blob_view *blob, const aether_head_config *cfg,
                           aether_model *m)
{
    plan p;
    aether_status st = make_plan(blob, cfg, AETHER_MODEL_COPY, &p);
    if (st != AETHER_OK)
        return st;
    memset(m, 0, sizeof *m);
    m->header = blob->header;
    m->layout = p.layout;
    m->head = p.head;
    m->magic = AETHER_MODEL_MAGIC;
    return AETHER_OK;
}

aether_status aether_model_forward_workspace_size_for(const aether_blob_view *blob,
                                                      const aether_head_config *cfg,
                                                      size_t n_frames, size_t *bytes)
{
    aether_model m;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = probe(blob, cfg, &m);
    return st == AETHER_OK ? aether_model_forward_workspace_size(&m, n_frames, bytes) : st;
}

aether_status aether_model_session_size_for(const aether_blob_view *blob,
                                            const aether_head_config *cfg,
                                            const aether_session_params *p, size_t *bytes)
{
    aether_model m;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = probe(blob, cfg, &m);
    return st == AETHER_OK ? aether_model_session_size(&m, p, bytes) : st;
}
