/* Temporal head configuration: defaults, validation in the reference order,
 * the AUTO backend rule (docs/MODEL.md section 4.4), and head init. */
#include "head/head_internal.h"
#include "kvcache/kv_step.h"

#include <string.h>

#define HEAD_MAGIC 0x48454144u /* "HEAD" */

aether_head_config aether_head_config_default_aether(void)
{
    aether_head_config c;
    memset(&c, 0, sizeof c);
    c.backend = AETHER_HEAD_SPARSE_GQA;
    c.q_heads = 4;
    c.kv_heads = 1;
    c.head_dim = 32;
    c.window = 32;
    c.block_size = 16;
    c.causal = 1;
    c.checkpoint_dense_mha = 0;
    return c;
}

aether_status aether_head_config_validate(const aether_head_config *cfg, const char **message)
{
    const char *msg = NULL;
    aether_status st = AETHER_OK;
    if (!cfg) {
        st = AETHER_ERR_NULL_ARG;
    } else if (cfg->q_heads == 0 || cfg->kv_heads == 0 || cfg->head_dim == 0) {
        st = AETHER_ERR_INVALID_CONFIG;
        msg = "q_heads, kv_heads, head_dim must all be > 0";
    } else if (cfg->q_heads % cfg->kv_heads != 0) {
        st = AETHER_ERR_GQA_RATIO;
        msg = "q_heads must be divisible by kv_heads (GQA constraint)";
    } else if (cfg->block_size == 0) {
        st = AETHER_ERR_BLOCK_SIZE;
        msg = "block_size must be > 0";
    } else if (cfg->backend != AETHER_HEAD_DENSE && cfg->backend != AETHER_HEAD_SPARSE_GQA &&
               cfg->backend != AETHER_HEAD_AUTO) {
        st = AETHER_ERR_INVALID_ARG;
        msg = "unknown backend";
    }
    if (message)
        *message = msg;
    return st;
}

aether_head_backend aether_head_select_backend(const aether_head_config *cfg)
{
    if (!cfg)
        return AETHER_HEAD_SPARSE_GQA;
    if (cfg->backend != AETHER_HEAD_AUTO)
        return cfg->backend;
    /* docs/MODEL.md section 4.4: short windows of a dense-MHA checkpoint stay dense; all
     * else is the sparse kernel, whose own head-count dispatch covers the
     * "q != kv -> forward_gqa, else forward" clauses. */
    if (cfg->window <= 64 && cfg->checkpoint_dense_mha)
        return AETHER_HEAD_DENSE;
    return AETHER_HEAD_SPARSE_GQA;
}

const char *aether_head_backend_name(aether_head_backend b)
{
    switch (b) {
    case AETHER_HEAD_DENSE:
        return "dense";
    case AETHER_HEAD_SPARSE_GQA:
        return "sparse_gqa";
    case AETHER_HEAD_AUTO:
        return "auto";
    default:
        return NULL;
    }
}

aether_status aether_head_backend_parse(const char *name, aether_head_backend *out)
{
    if (!name || !out)
        return AETHER_ERR_NULL_ARG;
    if (!strcmp(name, "dense"))
        *out = AETHER_HEAD_DENSE;
    else if (!strcmp(name, "sparse_gqa") || !strcmp(name, "sparse"))
        *out = AETHER_HEAD_SPARSE_GQA;
    else if (!strcmp(name, "auto"))
        *out = AETHER_HEAD_AUTO;
    else
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

aether_status aether_head_init(aether_head *head, const aether_head_config *cfg)
{
    static const size_t globals[1] = {0};
    aether_attn_params p;
    aether_head h;
    aether_status st;

    if (!head || !cfg)
        return AETHER_ERR_NULL_ARG;
    st = aether_head_config_validate(cfg, NULL);
    if (st != AETHER_OK)
        return st;
    /* Section 2.1: only window, block and causality come from the config;
     * token 0 is the session-start reference, always global. */
    p = aether_attn_params_default();
    p.window = cfg->window;
    p.block_size = cfg->block_size;
    p.globals = globals;
    p.n_globals = 1;
    p.causal = cfg->causal ? 1 : 0;
    p.use_log_stride = 1;
    p.use_landmarks = 1;
    p.sort_candidates = 0;
    memset(&h, 0, sizeof h);
    st = aether_attn_config_init(&h.attn, &p);
    if (st != AETHER_OK)
        return st;
    h.cfg = *cfg;
    h.backend = aether_head_select_backend(cfg);
    h.magic_ = HEAD_MAGIC;
    *head = h;
    return AETHER_OK;
}

aether_status aether_head_check_(const aether_head *head)
{
    if (!head)
        return AETHER_ERR_NULL_ARG;
    return head->magic_ == HEAD_MAGIC ? AETHER_OK : AETHER_ERR_NOT_INITIALIZED;
}

int aether_head_all_finite_(const float *x, size_t n)
{
    /* The cache's branch-free exponent test: the same answer as
     * aether_isfinite on every element. */
    return aether_kv_rows_finite_(x, n);
}
