/* Attention configuration: defaults, validation and the initialised marker. */
#include "aether/pattern.h"

#include <string.h>

/* Written by aether_attn_config_init only, so a zeroed or garbage struct is
 * recognised as uninitialised by every kernel. */
#define AETHER_ATTN_CONFIG_MAGIC 0x41544E43u

static const size_t k_default_globals[1] = {0};

aether_attn_params aether_attn_params_default(void)
{
    aether_attn_params p;
    p.window = 128;
    p.block_size = 64;
    p.globals = k_default_globals;
    p.n_globals = 1;
    p.causal = 1;
    p.use_log_stride = 1;
    p.use_landmarks = 1;
    p.sort_candidates = 0;
    return p;
}

aether_status aether_attn_config_init(aether_attn_config *cfg, const aether_attn_params *p)
{
    aether_attn_config c;
    if (!cfg || !p)
        return AETHER_ERR_NULL_ARG;
    if (p->block_size == 0)
        return AETHER_ERR_BLOCK_SIZE;
    if (p->n_globals > AETHER_MAX_GLOBALS)
        return AETHER_ERR_TOO_MANY_GLOBALS;
    if (p->n_globals > 0 && !p->globals)
        return AETHER_ERR_NULL_ARG;

    /* Build a complete copy first so a failure above leaves *cfg untouched. */
    memset(&c, 0, sizeof c);
    c.window = p->window;
    c.block_size = p->block_size;
    if (p->n_globals > 0)
        memcpy(c.globals, p->globals, p->n_globals * sizeof(size_t));
    c.n_globals = p->n_globals;
    c.causal = p->causal != 0;
    c.use_log_stride = p->use_log_stride != 0;
    c.use_landmarks = p->use_landmarks != 0;
    c.sort_candidates = p->sort_candidates != 0;
    c.magic_ = AETHER_ATTN_CONFIG_MAGIC;
    *cfg = c;
    return AETHER_OK;
}

aether_status aether_attn_config_check(const aether_attn_config *cfg)
{
    if (!cfg)
        return AETHER_ERR_NULL_ARG;
    /* A struct edited after init could carry values no kernel expects. */
    if (cfg->magic_ != AETHER_ATTN_CONFIG_MAGIC || cfg->block_size == 0 ||
        cfg->n_globals > AETHER_MAX_GLOBALS)
        return AETHER_ERR_NOT_INITIALIZED;
    return AETHER_OK;
}
