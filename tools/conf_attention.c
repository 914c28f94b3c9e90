/*
 * Conformance ops of the scalar attention reference: dense_attention,
 * forward, forward_gqa, candidates and estimate_sparse_edges. All of them
 * are compared bitwise: with glibc expf and the specified accumulation order
 * the goldens are reproduced exactly. There is only the reference path, so
 * --reference selects what runs anyway.
 */
#include "conformance.h"
#include "ws_call.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void compare_out(conf_qkv *t, const char *what, conf_result *r)
{
    conf_compare(t->out.data, t->want.data, aether_tensor_size(&t->want), 1, 0.0, what, r);
}

void conf_op_dense_attention(const conf_case *c, conf_result *r)
{
    const cJSON *causal = cJSON_GetObjectItemCaseSensitive(c->json, "causal");
    aether_status s;
    conf_qkv t;
    (void)c->reference;
    if (!cJSON_IsBool(causal)) {
        conf_fail(r, "case.json has no boolean causal");
        return;
    }
    if (conf_qkv_load(c, &t, r) == 0) {
        s = aether_attn_dense(&t.q, &t.k, &t.v, cJSON_IsTrue(causal), &t.out);
        if (s != AETHER_OK)
            conf_fail(r, "aether_attn_dense: %s", aether_strerror(s));
        else
            compare_out(&t, "out", r);
    }
    conf_qkv_free(&t);
    conf_finish(r);
}

/* The per-head edge count recorded next to a forward case, when present. */
static void check_edges_field(const conf_case *c, const aether_attn_config *cfg, size_t seq,
                              conf_result *r)
{
    long want = conf_int(c, "estimate_sparse_edges_per_head", -1);
    uint64_t got;
    if (want < 0)
        return;
    got = aether_estimate_sparse_edges(cfg, seq);
    if (got != (uint64_t)want)
        conf_fail(r, "estimate_sparse_edges: %llu, want %ld", (unsigned long long)got, want);
}

void conf_op_forward(const conf_case *c, conf_result *r)
{
    aether_attn_config cfg;
    aether_status s;
    conf_qkv t;
    (void)c->reference;
    if (conf_attn_config(c, &cfg, r) == 0 && conf_qkv_load(c, &t, r) == 0) {
        s = ws_attn_forward(&cfg, &t.q, &t.k, &t.v, &t.out);
        if (s != AETHER_OK)
            conf_fail(r, "aether_attn_forward: %s", aether_strerror(s));
        else
            compare_out(&t, "out", r);
        check_edges_field(c, &cfg, t.q.seq, r);
        conf_qkv_free(&t);
    }
    conf_finish(r);
}

void conf_op_forward_gqa(const conf_case *c, conf_result *r)
{
    aether_attn_config cfg;
    aether_status s;
    conf_qkv t;
    (void)c->reference;
    if (conf_attn_config(c, &cfg, r) == 0 && conf_qkv_load(c, &t, r) == 0) {
        s = ws_attn_forward_gqa(&cfg, &t.q, &t.k, &t.v, &t.out);
        if (s != AETHER_OK) {
            conf_fail(r, "aether_attn_forward_gqa: %s", aether_strerror(s));
        } else {
            compare_out(&t, "out", r);
            /* The dispatcher must pick the same kernel for these shapes. */
            memset(t.out.data, 0, aether_tensor_size(&t.out) * sizeof(float));
            s = ws_attn_forward_auto(&cfg, &t.q, &t.k, &t.v, &t.out);
            if (s != AETHER_OK)
                conf_fail(r, "aether_attn_forward_auto: %s", aether_strerror(s));
            else
                compare_out(&t, "out (forward_auto)", r);
        }
        conf_qkv_free(&t);
    }
    conf_finish(r);
}

/* One flat/offsets pair against the list builder `fn`. */
typedef aether_status (*list_fn)(const aether_attn_config *, size_t, size_t, size_t *, size_t,
                                 size_t *);

static uint64_t compare_lists(const aether_attn_config *cfg, size_t seq, const aether_npy *flat,
                              const aether_npy *offs, list_fn fn, size_t cap, const char *what,
                              conf_result *r)
{
    const int32_t *f = (const int32_t *)flat->data, *o = (const int32_t *)offs->data;
    size_t *buf, i;
    uint64_t total = 0;
    if (flat->dtype != AETHER_DTYPE_I32 || offs->dtype != AETHER_DTYPE_I32 ||
        offs->count != seq + 1) {
        conf_fail(r, "%s: expected int32 arrays with seq+1 offsets", what);
        return 0;
    }
    buf = (size_t *)malloc((cap ? cap : 1) * sizeof *buf);
    if (!buf) {
        conf_fail(r, "out of memory");
        return 0;
    }
    for (i = 0; i < seq; ++i) {
        size_t n = 0, a;
        aether_status s = fn(cfg, i, seq, buf, cap, &n);
        if (s != AETHER_OK) {
            conf_fail(r, "%s of query %lu: %s", what, (unsigned long)i, aether_strerror(s));
            break;
        }
        total += n;
        if (o[i] < 0 || o[i + 1] < o[i] || (size_t)o[i + 1] > flat->count) {
            conf_fail(r, "%s: bad offsets at query %lu", what, (unsigned long)i);
            break;
        }
        if (n != (size_t)(o[i + 1] - o[i])) {
            conf_fail(r, "%s of query %lu: %lu entries, want %ld", what, (unsigned long)i,
                      (unsigned long)n, (long)(o[i + 1] - o[i]));
            break;
        }
        for (a = 0; a < n; ++a)
            if (f[o[i] + (int32_t)a] < 0 || buf[a] != (size_t)f[o[i] + (int32_t)a]) {
                conf_fail(r, "%s of query %lu differs at position %lu: %lu, want %ld", what,
                          (unsigned long)i, (unsigned long)a, (unsigned long)buf[a],
                          (long)f[o[i] + (int32_t)a]);
                break;
            }
        if (r->verdict == CONF_FAIL)
            break;
    }
    free(buf);
    return total;
}

void conf_op_candidates(const conf_case *c, conf_result *r)
{
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(c->json, "checks");
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(checks,
                                                        "total_equals_estimate_sparse_edges");
    aether_attn_config cfg;
    aether_npy tf, to, bf, bo;
    long seq = conf_int(c, "seq", -1);
    uint64_t total;
    (void)c->reference;
    memset(&tf, 0, sizeof tf);
    to = bf = bo = tf;
    if (seq < 0) {
        conf_fail(r, "case.json has no seq");
        return;
    }
    if (conf_attn_config(c, &cfg, r) || conf_load(c, "tok_flat", &tf, r) ||
        conf_load(c, "tok_offsets", &to, r) || conf_load(c, "blk_flat", &bf, r) ||
        conf_load(c, "blk_offsets", &bo, r))
        goto done;
    total = compare_lists(&cfg, (size_t)seq, &tf, &to, aether_pattern_tokens,
                          aether_pattern_max_tokens(&cfg, (size_t)seq), "tokens", r);
    total += compare_lists(&cfg, (size_t)seq, &bf, &bo, aether_pattern_blocks,
                           aether_pattern_max_blocks(&cfg, (size_t)seq), "blocks", r);
    if (r->verdict != CONF_FAIL) {
        uint64_t est = aether_estimate_sparse_edges(&cfg, (size_t)seq);
        if (est != total)
            conf_fail(r, "estimate_sparse_edges %llu != list total %llu", (unsigned long long)est,
                      (unsigned long long)total);
        else if (cJSON_IsNumber(tot) && (double)est != tot->valuedouble)
            conf_fail(r, "estimate_sparse_edges %llu, want %.0f", (unsigned long long)est,
                      tot->valuedouble);
    }
done:
    aether_npy_free(&tf);
    aether_npy_free(&to);
    aether_npy_free(&bf);
    aether_npy_free(&bo);
    conf_finish(r);
}

/* edges/edges.json: configs[] each with a config and results[] {seq, edges}. */
void conf_op_estimate_sparse_edges(const conf_case *c, conf_result *r)
{
    const cJSON *configs = cJSON_GetObjectItemCaseSensitive(c->json, "configs");
    const cJSON *entry;
    size_t checked = 0;
    (void)c->reference;
    if (!cJSON_IsArray(configs)) {
        conf_fail(r, "edges.json has no configs array");
        return;
    }
    cJSON_ArrayForEach(entry, configs)
    {
        /* conf_attn_config reads "config" of a case; give it this entry. */
        conf_case sub = *c;
        const cJSON *results = cJSON_GetObjectItemCaseSensitive(entry, "results");
        const cJSON *row;
        aether_attn_config cfg;
        sub.json = entry;
        if (conf_attn_config(&sub, &cfg, r))
            break;
        if (!cJSON_IsArray(results)) {
            conf_fail(r, "config without results");
            break;
        }
        cJSON_ArrayForEach(row, results)
        {
            const cJSON *s = cJSON_GetObjectItemCaseSensitive(row, "seq");
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "edges");
            uint64_t got;
            if (!cJSON_IsNumber(s) || !cJSON_IsNumber(e) || s->valuedouble < 0) {
                conf_fail(r, "malformed result row");
                break;
            }
            got = aether_estimate_sparse_edges(&cfg, (size_t)s->valuedouble);
            if ((double)got != e->valuedouble)
                conf_fail(r, "seq %.0f: %llu edges, want %.0f", s->valuedouble,
                          (unsigned long long)got, e->valuedouble);
            checked++;
        }
    }
    if (r->verdict != CONF_FAIL && checked == 0)
        conf_fail(r, "no results to check");
    conf_finish(r);
}
