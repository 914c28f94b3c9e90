/*
 * Streaming causal gate: the FastGRNN state, the decision rule's state and
 * the position, stepped once per arriving key (see causal_mask.c for the
 * rules; both files decide through the same helpers).
 */
#include "gate/gate_internal.h"

#include <stdlib.h>

#define AETHER_CAUSAL_GATE_MAGIC 0x43474154u /* "CGAT" */

struct aether_causal_gate {
    uint32_t magic;
    void *heap; /* malloc'd block (create), else NULL */
    const aether_fastgrnn *g;
    aether_causal_params p;
    size_t kv_heads;
    float *h, *h_next, *px;  /* hidden state, next state, pooled input */
    aether_prefix_topk topk; /* PREFIX_TOP_K state */
    size_t pos;
};

static aether_status gate_layout(aether_arena *a, const aether_fastgrnn *g,
                                 const aether_causal_params *p, size_t kv_heads,
                                 aether_causal_gate **out)
{
    aether_causal_gate *cg;
    float *h, *hn, *px, *hp;
    size_t k = p->rule == AETHER_CAUSAL_PREFIX_TOP_K ? p->top_k : 0;
    if (kv_heads == 0)
        return AETHER_ERR_INVALID_ARG;
    cg = (aether_causal_gate *)aether_arena_alloc(a, 1, sizeof *cg, AETHER_ALIGN);
    h = (float *)aether_arena_alloc(a, g->hid, sizeof(float), AETHER_ALIGN);
    hn = (float *)aether_arena_alloc(a, g->hid, sizeof(float), AETHER_ALIGN);
    px = (float *)aether_arena_alloc(a, g->in, sizeof(float), AETHER_ALIGN);
    hp = (float *)aether_arena_alloc(a, k ? k : 1, sizeof(float), AETHER_ALIGN);
    if (a->status != AETHER_OK)
        return a->status;
    if (cg) {
        cg->heap = NULL;
        cg->g = g;
        cg->p = *p;
        cg->kv_heads = kv_heads;
        cg->h = h;
        cg->h_next = hn;
        cg->px = px;
        cg->topk.heap = hp;
        cg->topk.k = k;
        cg->topk.n = 0;
        cg->pos = 0;
    }
    *out = cg;
    return AETHER_OK;
}

aether_status aether_causal_gate_size(const aether_fastgrnn *g, const aether_causal_params *p,
                                      size_t kv_heads, size_t *bytes)
{
    aether_arena a;
    aether_causal_gate *cg;
    aether_status st;
    if ((st = aether_fastgrnn_check_(g)) != AETHER_OK ||
        (st = aether_causal_check_params_(p)) != AETHER_OK)
        return st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&a);
    if ((st = gate_layout(&a, g, p, kv_heads, &cg)) != AETHER_OK)
        return st;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_causal_gate_init(void *buf, size_t len, const aether_fastgrnn *g,
                                      const aether_causal_params *p, size_t kv_heads,
                                      aether_causal_gate **out)
{
    aether_arena a;
    aether_causal_gate *cg;
    aether_status st;
    size_t need;
    if ((st = aether_causal_gate_size(g, p, kv_heads, &need)) != AETHER_OK)
        return st;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_arena_init(&a, buf, len);
    if ((st = gate_layout(&a, g, p, kv_heads, &cg)) != AETHER_OK)
        return st;
    cg->magic = AETHER_CAUSAL_GATE_MAGIC;
    *out = cg;
    return AETHER_OK;
}

aether_status aether_causal_gate_create(const aether_fastgrnn *g, const aether_causal_params *p,
                                        size_t kv_heads, aether_causal_gate **out)
{
    size_t bytes;
    void *buf;
    aether_status st;
    if ((st = aether_causal_gate_size(g, p, kv_heads, &bytes)) != AETHER_OK)
        return st;
    if (!out)
        return AETHER_ERR_NULL_ARG;
    if (!(buf = malloc(bytes)))
        return AETHER_ERR_NO_MEM;
    if ((st = aether_causal_gate_init(buf, bytes, g, p, kv_heads, out)) != AETHER_OK) {
        free(buf);
        return st;
    }
    (*out)->heap = buf;
    return AETHER_OK;
}

static aether_status check_gate(const aether_causal_gate *cg)
{
    if (!cg)
        return AETHER_ERR_NULL_ARG;
    return cg->magic == AETHER_CAUSAL_GATE_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

void aether_causal_gate_destroy(aether_causal_gate *cg)
{
    if (check_gate(cg) != AETHER_OK || !cg->heap)
        return;
    cg->magic = 0;
    free(cg->heap);
}

aether_status aether_causal_gate_reset(aether_causal_gate *cg)
{
    size_t r;
    aether_status st = check_gate(cg);
    if (st != AETHER_OK)
        return st;
    for (r = 0; r < cg->g->hid; ++r)
        cg->h[r] = 0.0f;
    cg->topk.n = 0;
    cg->pos = 0;
    return AETHER_OK;
}

size_t aether_causal_gate_position(const aether_causal_gate *cg)
{
    return check_gate(cg) == AETHER_OK ? cg->pos : 0;
}

aether_status aether_causal_gate_step(aether_causal_gate *cg, const float *k_row, size_t k_len,
                                      uint8_t *keep, float *salience)
{
    size_t want;
    float s, *t;
    int kept;
    aether_status st = check_gate(cg);
    if (st != AETHER_OK)
        return st;
    if ((st = aether_fastgrnn_check_(cg->g)) != AETHER_OK)
        return st;
    if (!k_row || !keep)
        return AETHER_ERR_NULL_ARG;
    if (aether_size_mul(cg->kv_heads, cg->g->in, &want) != AETHER_OK || k_len != want)
        return AETHER_ERR_SHAPE_MISMATCH;
    aether_fastgrnn_pool_(k_row, cg->kv_heads, cg->g->in, cg->px);
    s = aether_fastgrnn_step_raw_(cg->g, cg->px, cg->h, cg->h_next);
    t = cg->h;
    cg->h = cg->h_next;
    cg->h_next = t;
    kept = aether_causal_decide_(&cg->p, &cg->topk, s);
    cg->pos++;
    *keep = (uint8_t)kept;
    if (salience)
        *salience = s;
    return AETHER_OK;
}
