/*
 * Conformance op "errors" (golden errors/errors.json): every error the
 * reference API reports, replayed against aether. The reference's Display
 * strings are not ours; what must agree is that the same call fails (with the
 * distinct status aether assigns to that failure) or succeeds with the same
 * result. Two cases deliberately differ, as the specification adopts:
 *   - the Dense head backend is implemented (docs/MODEL.md section 4.3);
 *   - a cache whose block size differs from the config's is rejected with
 *     AETHER_ERR_BLOCK_MISMATCH instead of panicking or reading wrong rows
 *     (docs/KERNELS.md section 14.2).
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention_gated.h"
#include "aether/head.h"
#include "aether/kvcache.h"

typedef struct {
    aether_tensor t[8];
    int n;
} tensors;

/* A zero-initialised tensor (values do not matter for validation). */
static aether_tensor *mk(tensors *ts, size_t s, size_t h, size_t d)
{
    aether_tensor *t = &ts->t[ts->n++];
    if (aether_tensor_zeros(t, s, h, d) != AETHER_OK)
        memset(t, 0, sizeof *t);
    return t;
}

static void free_all(tensors *ts)
{
    int i;
    for (i = 0; i < ts->n; ++i)
        aether_tensor_free(&ts->t[i]);
    ts->n = 0;
}

static aether_attn_config config_with_block(size_t block)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    p.block_size = block;
    (void)aether_attn_config_init(&cfg, &p);
    return cfg;
}

static aether_kvcache *cache_for(const aether_attn_config *cfg, size_t cap, size_t kvh,
                                 size_t dim, aether_kv_evict evict)
{
    aether_kvcache_params p = aether_kvcache_params_default(cfg, cap, kvh, dim);
    aether_kvcache *c = NULL;
    p.evict = evict;
    if (aether_kvcache_create(&p, &c) != AETHER_OK)
        return NULL;
    return c;
}

static aether_head_config head_cfg(void)
{
    return aether_head_config_default_aether();
}

/* Runs one reference call; returns the aether status and, for calls the
 * reference completes, checks the result in *ok_detail (1 = as expected). */
static int replay(const char *call, aether_status *st, int *ok_detail)
{
    tensors ts = {{{0}}, 0};
    aether_attn_config cfg = config_with_block(64);
    *ok_detail = 1;

    if (!strncmp(call, "SubquadraticSparseAttention::new(block_size=0)", 46)) {
        aether_attn_params p = aether_attn_params_default();
        aether_attn_config c2;
        p.block_size = 0;
        *st = aether_attn_config_init(&c2, &p);
    } else if (!strncmp(call, "forward(q[4,2,8], k[4,2,8], v[5,2,8])", 37)) {
        aether_tensor *q = mk(&ts, 4, 2, 8), *k = mk(&ts, 4, 2, 8), *v = mk(&ts, 5, 2, 8);
        *st = aether_attn_forward(&cfg, q, k, v, mk(&ts, 4, 2, 8), NULL, 0);
    } else if (!strncmp(call, "forward(q[4,2,0] x3)", 20)) {
        aether_tensor *q = mk(&ts, 4, 2, 0);
        *st = aether_attn_forward(&cfg, q, q, q, mk(&ts, 4, 2, 0), NULL, 0);
    } else if (!strncmp(call, "forward(q[0,2,8] x3)", 20)) {
        aether_tensor *q = mk(&ts, 0, 2, 8), *o = mk(&ts, 0, 2, 8);
        *st = aether_attn_forward(&cfg, q, q, q, o, NULL, 0);
        *ok_detail = o->seq == 0 && o->heads == 2 && o->dim == 8;
    } else if (!strncmp(call, "forward_gqa(q[4,3,4], k[4,2,4], v[4,2,4])", 41)) {
        *st = aether_attn_forward_gqa(&cfg, mk(&ts, 4, 3, 4), mk(&ts, 4, 2, 4), mk(&ts, 4, 2, 4),
                                      mk(&ts, 4, 3, 4), NULL, 0);
    } else if (!strncmp(call, "forward_gqa(q[4,4,4], k[4,2,8], v[4,2,8])", 41)) {
        *st = aether_attn_forward_gqa(&cfg, mk(&ts, 4, 4, 4), mk(&ts, 4, 2, 8), mk(&ts, 4, 2, 8),
                                      mk(&ts, 4, 4, 4), NULL, 0);
    } else if (!strncmp(call, "forward_gqa(q[4,4,4], k[5,2,4], v[4,2,4])", 41)) {
        *st = aether_attn_forward_gqa(&cfg, mk(&ts, 4, 4, 4), mk(&ts, 5, 2, 4), mk(&ts, 4, 2, 4),
                                      mk(&ts, 4, 4, 4), NULL, 0);
    } else if (!strncmp(call, "forward(q[4,4,4], k[4,2,4], v[4,2,4])", 37)) {
        *st = aether_attn_forward(&cfg, mk(&ts, 4, 4, 4), mk(&ts, 4, 2, 4), mk(&ts, 4, 2, 4),
                                  mk(&ts, 4, 4, 4), NULL, 0);
    } else if (!strncmp(call, "forward_gated(seq 16, keep_mask len 15)", 39)) {
        uint8_t mask[15] = {0};
        aether_tensor *q = mk(&ts, 16, 2, 8);
        *st = aether_attn_forward_gated(&cfg, q, q, q, mask, 15, mk(&ts, 16, 2, 8), NULL, 0);
    } else if (!strncmp(call, "decode_step(q[2,2,8])", 21)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        *st = c ? aether_kvcache_decode_step(&cfg, mk(&ts, 2, 2, 8), c, mk(&ts, 2, 2, 8))
                : AETHER_ERR_NO_MEM;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "decode_step(q[1,2,8], empty cache)", 34)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *q = mk(&ts, 1, 2, 8), *o = mk(&ts, 1, 2, 8);
        size_t i;
        for (i = 0; i < 16; ++i) {
            q->data[i] = 0.5f;
            o->data[i] = 7.0f;
        }
        *st = c ? aether_kvcache_decode_step(&cfg, q, c, o) : AETHER_ERR_NO_MEM;
        for (i = 0; i < 16; ++i)
            if (o->data[i] != 0.0f)
                *ok_detail = 0;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "decode_step(q[1,3,8], cache kv_heads 2)", 39)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 1, 2, 8);
        *st = c ? aether_kvcache_append(c, k, k) : AETHER_ERR_NO_MEM;
        if (*st == AETHER_OK)
            *st = aether_kvcache_decode_step(&cfg, mk(&ts, 1, 3, 8), c, mk(&ts, 1, 3, 8));
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "try_append on full cache (capacity 1)", 37)) {
        aether_kvcache *c = cache_for(&cfg, 1, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 1, 2, 8);
        *st = c ? aether_kvcache_append(c, k, k) : AETHER_ERR_NO_MEM;
        if (*st == AETHER_OK)
            *st = aether_kvcache_append(c, k, k);
        *ok_detail = aether_kvcache_len(c) == 1;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "try_append(k[2,2,8])", 20)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 2, 2, 8);
        *st = c ? aether_kvcache_append(c, k, k) : AETHER_ERR_NO_MEM;
        *ok_detail = aether_kvcache_len(c) == 0;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "try_append(k[1,3,8]) into kv_heads 2", 36)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 1, 3, 8);
        *st = c ? aether_kvcache_append(c, k, k) : AETHER_ERR_NO_MEM;
        *ok_detail = aether_kvcache_len(c) == 0;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "append_all 5 tokens into capacity 4", 35)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 5, 2, 8);
        *st = c ? aether_kvcache_append_all(c, k, k) : AETHER_ERR_NO_MEM;
        *ok_detail = aether_kvcache_len(c) == 0;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "evict_and_append on full cache with scores len 0", 48)) {
        aether_kvcache *c = cache_for(&cfg, 1, 2, 8, AETHER_KV_EVICT_H2O_COMPAT);
        aether_tensor *k = mk(&ts, 1, 2, 8);
        size_t slot, g = 0;
        *st = c ? aether_kvcache_append(c, k, k) : AETHER_ERR_NO_MEM;
        if (*st == AETHER_OK)
            *st = aether_kvcache_evict_and_append(c, k, k, NULL, 0, &g, 1, 1, &slot);
        *ok_detail = aether_kvcache_len(c) == 1;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "evict_and_append on NOT full cache", 34)) {
        aether_kvcache *c = cache_for(&cfg, 4, 2, 8, AETHER_KV_EVICT_H2O_COMPAT);
        aether_tensor *k = mk(&ts, 1, 2, 8);
        float scores[3] = {0.1f, 0.2f, 0.3f};
        size_t slot = 0, g = 0;
        *st = c ? aether_kvcache_evict_and_append(c, k, k, scores, 3, &g, 1, 1, &slot)
                : AETHER_ERR_NO_MEM;
        *ok_detail = aether_kvcache_len(c) == 1 && slot == AETHER_KVCACHE_NO_SLOT;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "evict_and_append on capacity-0 cache", 36)) {
        aether_kvcache *c = cache_for(&cfg, 0, 2, 8, AETHER_KV_EVICT_H2O_COMPAT);
        aether_tensor *k = mk(&ts, 1, 2, 8);
        size_t slot, g = 0;
        *st = c ? aether_kvcache_evict_and_append(c, k, k, NULL, 0, &g, 1, 1, &slot)
                : AETHER_ERR_NO_MEM;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "AetherTemporalHead::step with q[2,4,32]", 39)) {
        aether_head h;
        aether_head_config hc = head_cfg();
        aether_kvcache *c = NULL;
        *st = aether_head_init(&h, &hc);
        if (*st == AETHER_OK)
            *st = aether_head_make_cache(&h, 8, &c);
        if (*st == AETHER_OK)
            *st = aether_head_step(&h, mk(&ts, 2, 4, 32), mk(&ts, 1, 1, 32), mk(&ts, 1, 1, 32), c,
                                   mk(&ts, 2, 4, 32), NULL, 0);
        *ok_detail = aether_kvcache_len(c) == 0;
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "AetherTemporalHead::new(backend Dense)", 38)) {
        /* Adopted deviation: Dense is implemented, so construction succeeds. */
        aether_head h;
        aether_head_config hc = head_cfg();
        hc.backend = AETHER_HEAD_DENSE;
        *st = aether_head_init(&h, &hc);
        *st = (*st == AETHER_OK) ? AETHER_ERR_UNSUPPORTED : AETHER_ERR_STATE;
    } else if (!strncmp(call, "AetherTemporalHead::new(q_heads 5, kv_heads 2)", 46)) {
        aether_head h;
        aether_head_config hc = head_cfg();
        hc.q_heads = 5;
        hc.kv_heads = 2;
        *st = aether_head_init(&h, &hc);
    } else if (!strncmp(call, "AetherTemporalHead::new(block_size 0)", 37)) {
        aether_head h;
        aether_head_config hc = head_cfg();
        hc.block_size = 0;
        *st = aether_head_init(&h, &hc);
    } else if (!strncmp(call, "AetherTemporalHead::new(head_dim 0)", 35)) {
        aether_head h;
        aether_head_config hc = head_cfg();
        hc.head_dim = 0;
        *st = aether_head_init(&h, &hc);
    } else if (!strncmp(call, "AetherTemporalHead::step on full cache (capacity 1)", 51)) {
        aether_head h;
        aether_head_config hc = head_cfg();
        aether_kvcache *c = NULL;
        aether_tensor *q = mk(&ts, 1, 4, 32), *k = mk(&ts, 1, 1, 32), *o = mk(&ts, 1, 4, 32);
        *st = aether_head_init(&h, &hc);
        if (*st == AETHER_OK)
            *st = aether_head_make_cache(&h, 1, &c);
        if (*st == AETHER_OK)
            *st = aether_head_step(&h, q, k, k, c, o, NULL, 0);
        if (*st == AETHER_OK)
            *st = aether_head_step(&h, q, k, k, c, o, NULL, 0);
        aether_kvcache_destroy(c);
    } else if (!strncmp(call, "decode_step with config block_size", 34)) {
        /* Both directions: the cache is built for one block size and decoded
         * with a config of the other. */
        size_t cache_block = strstr(call, "KvCache block_size 16") ? 16 : 4;
        size_t cfg_block = cache_block == 16 ? 4 : 16;
        aether_attn_config cc = config_with_block(cache_block), dc = config_with_block(cfg_block);
        aether_kvcache *c = cache_for(&cc, 64, 2, 8, AETHER_KV_EVICT_NONE);
        aether_tensor *k = mk(&ts, 64, 2, 8);
        *st = c ? aether_kvcache_append_all(c, k, k) : AETHER_ERR_NO_MEM;
        if (*st == AETHER_OK)
            *st = aether_kvcache_decode_step(&dc, mk(&ts, 1, 2, 8), c, mk(&ts, 1, 2, 8));
        aether_kvcache_destroy(c);
    } else {
        free_all(&ts);
        return 0;
    }
    free_all(&ts);
    return 1;
}

/* The status aether must return for each reference call. */
static aether_status expected_status(const char *call, const char *result)
{
    static const struct {
        const char *prefix;
        aether_status st;
    } k_map[] = {
        {"SubquadraticSparseAttention::new(block_size=0)", AETHER_ERR_BLOCK_SIZE},
        {"forward(q[4,2,8], k[4,2,8], v[5,2,8])", AETHER_ERR_SHAPE_MISMATCH},
        {"forward(q[4,2,0] x3)", AETHER_ERR_ZERO_HEAD_DIM},
        {"forward_gqa(q[4,3,4]", AETHER_ERR_GQA_RATIO},
        {"forward_gqa(q[4,4,4], k[4,2,8]", AETHER_ERR_HEAD_DIM_MISMATCH},
        {"forward_gqa(q[4,4,4], k[5,2,4]", AETHER_ERR_SHAPE_MISMATCH},
        {"forward(q[4,4,4], k[4,2,4]", AETHER_ERR_SHAPE_MISMATCH},
        {"forward_gated(seq 16, keep_mask len 15)", AETHER_ERR_MASK_LENGTH},
        {"decode_step(q[2,2,8])", AETHER_ERR_SEQ_NOT_ONE},
        {"decode_step(q[1,3,8]", AETHER_ERR_GQA_RATIO},
        {"try_append on full cache", AETHER_ERR_CACHE_FULL},
        {"try_append(k[2,2,8])", AETHER_ERR_SEQ_NOT_ONE},
        {"try_append(k[1,3,8])", AETHER_ERR_KV_HEADS_MISMATCH},
        {"append_all 5 tokens", AETHER_ERR_CACHE_FULL},
        {"evict_and_append on full cache with scores len 0", AETHER_ERR_SCORES_LENGTH},
        {"evict_and_append on capacity-0 cache", AETHER_ERR_CACHE_FULL},
        {"AetherTemporalHead::step with q[2,4,32]", AETHER_ERR_SEQ_NOT_ONE},
        {"AetherTemporalHead::new(backend Dense)", AETHER_ERR_UNSUPPORTED},
        {"AetherTemporalHead::new(q_heads 5", AETHER_ERR_GQA_RATIO},
        {"AetherTemporalHead::new(block_size 0)", AETHER_ERR_BLOCK_SIZE},
        {"AetherTemporalHead::new(head_dim 0)", AETHER_ERR_INVALID_CONFIG},
        {"AetherTemporalHead::step on full cache", AETHER_ERR_CACHE_FULL},
        {"decode_step with config block_size", AETHER_ERR_BLOCK_MISMATCH},
    };
    size_t i;
    for (i = 0; i < sizeof k_map / sizeof k_map[0]; ++i)
        if (!strncmp(call, k_map[i].prefix, strlen(k_map[i].prefix)))
            return k_map[i].st;
    /* Everything else the reference completes ("ok") must succeed. */
    return strcmp(result, "ok") == 0 ? AETHER_OK : AETHER_STATUS_COUNT;
}

void conf_op_errors(const conf_case *c, conf_result *r)
{
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(c->json, "cases");
    const cJSON *e;
    int n = 0;
    if (!cJSON_IsArray(cases)) {
        r->verdict = CONF_FAIL;
        snprintf(r->note, sizeof r->note, "errors.json has no cases array");
        return;
    }
    cJSON_ArrayForEach(e, cases)
    {
        const cJSON *call = cJSON_GetObjectItemCaseSensitive(e, "call");
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(e, "result");
        aether_status got = AETHER_OK, want;
        int detail = 1;
        if (!cJSON_IsString(call) || !cJSON_IsString(result))
            continue;
        want = expected_status(call->valuestring, result->valuestring);
        if (!replay(call->valuestring, &got, &detail)) {
            r->verdict = CONF_FAIL;
            snprintf(r->note, sizeof r->note, "no replay for '%.120s'", call->valuestring);
            return;
        }
        if (got != want || !detail) {
            r->verdict = CONF_FAIL;
            snprintf(r->note, sizeof r->note, "'%.100s': got %s, want %s%s", call->valuestring,
                     aether_status_name(got), aether_status_name(want),
                     detail ? "" : " (result differs)");
            return;
        }
        n++;
    }
    if (n == 0) {
        r->verdict = CONF_FAIL;
        snprintf(r->note, sizeof r->note, "no cases replayed");
    }
}
