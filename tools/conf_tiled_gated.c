/*
 * Conformance ops of the tiled and gated kernels: forward_flash,
 * forward_gqa_flash, forward_gated and forward_gated_with_fastgrnn. All are
 * compared bitwise. Flash cases check both visit orders of the tiled kernel:
 * REFERENCE against `out` and FORWARD against `out_forward`.
 */
#include "conformance.h"
#include "ws_call.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention_gated.h"
#include "aether/attention_tiled.h"
#include "aether/gate.h"

static void flash(const conf_case *c, conf_result *r, int gqa)
{
    aether_attn_config cfg;
    aether_tensor want_fwd;
    aether_status s;
    long tile = conf_int(c, "tile_size", -1);
    conf_qkv t;
    (void)c->reference;
    memset(&t, 0, sizeof t);
    memset(&want_fwd, 0, sizeof want_fwd);
    if (tile < 0) {
        conf_fail(r, "case.json has no tile_size");
    } else if (conf_attn_config(c, &cfg, r) == 0 && conf_qkv_load(c, &t, r) == 0 &&
               conf_load_tensor(c, "out_forward", &want_fwd, r) == 0) {
        static const aether_tiled_order orders[2] = {AETHER_TILED_ORDER_REFERENCE,
                                                     AETHER_TILED_ORDER_FORWARD};
        const aether_tensor *wants[2];
        int o;
        wants[0] = &t.want;
        wants[1] = &want_fwd;
        for (o = 0; o < 2; ++o) {
            memset(t.out.data, 0, aether_tensor_size(&t.out) * sizeof(float));
            if (gqa)
                s = ws_attn_forward_gqa_tiled(&cfg, &t.q, &t.k, &t.v, &t.out, (size_t)tile,
                                              orders[o]);
            else
                s = ws_attn_forward_tiled(&cfg, &t.q, &t.k, &t.v, &t.out, (size_t)tile,
                                          orders[o]);
            if (s != AETHER_OK) {
                conf_fail(r, "tiled forward: %s", aether_strerror(s));
                break;
            }
            if (aether_tensor_size(wants[o]) != aether_tensor_size(&t.out)) {
                conf_fail(r, "%s: shape differs", o ? "out_forward" : "out");
                break;
            }
            conf_compare(t.out.data, wants[o]->data, aether_tensor_size(&t.out), 1, 0.0,
                         o ? "out_forward (FORWARD order)" : "out (REFERENCE order)", r);
        }
    }
    conf_qkv_free(&t);
    aether_tensor_free(&want_fwd);
    conf_finish(r);
}

void conf_op_forward_flash(const conf_case *c, conf_result *r)
{
    flash(c, r, 0);
}

void conf_op_forward_gqa_flash(const conf_case *c, conf_result *r)
{
    flash(c, r, 1);
}

/* keep_mask.npy as seq bytes. */
static int load_mask(const conf_case *c, size_t seq, aether_npy *m, conf_result *r)
{
    if (conf_load(c, "keep_mask", m, r))
        return -1;
    if (m->dtype != AETHER_DTYPE_U8 || m->count != seq) {
        conf_fail(r, "keep_mask: expected %lu uint8 values", (unsigned long)seq);
        aether_npy_free(m);
        return -1;
    }
    return 0;
}

void conf_op_forward_gated(const conf_case *c, conf_result *r)
{
    aether_attn_config cfg;
    aether_npy mask;
    aether_status s;
    conf_qkv t;
    (void)c->reference;
    memset(&t, 0, sizeof t);
    if (conf_attn_config(c, &cfg, r) == 0 && conf_qkv_load(c, &t, r) == 0 &&
        load_mask(c, t.q.seq, &mask, r) == 0) {
        s = ws_attn_forward_gated(&cfg, &t.q, &t.k, &t.v, (const uint8_t *)mask.data, mask.count,
                                  &t.out);
        if (s != AETHER_OK)
            conf_fail(r, "aether_attn_forward_gated: %s", aether_strerror(s));
        else
            conf_compare(t.out.data, t.want.data, aether_tensor_size(&t.want), 1, 0.0, "out", r);
        aether_npy_free(&mask);
    }
    conf_qkv_free(&t);
    conf_finish(r);
}

/* The gate's four matrices against the dumped ones. */
static void compare_gate(const conf_case *c, const aether_fastgrnn *g, conf_result *r)
{
    static const char *keys[4] = {"gate_w_gate", "gate_u_gate", "gate_w_update", "gate_u_update"};
    const float *p[4];
    int m;
    if (aether_fastgrnn_params(g, &p[0], &p[1], &p[2], &p[3], NULL, NULL, NULL, NULL) !=
        AETHER_OK) {
        conf_fail(r, "gate parameters unavailable");
        return;
    }
    for (m = 0; m < 4; ++m) {
        aether_npy a;
        size_t in = aether_fastgrnn_input_dim(g), hid = aether_fastgrnn_hidden_dim(g);
        size_t want = (m % 2 == 0 ? in : hid) * hid;
        if (conf_load(c, keys[m], &a, r))
            return;
        if (a.dtype != AETHER_DTYPE_F32 || a.count != want)
            conf_fail(r, "%s: expected %lu f32 values", keys[m], (unsigned long)want);
        else
            conf_compare(p[m], (const float *)a.data, want, 1, 0.0, keys[m], r);
        aether_npy_free(&a);
    }
}

static int gate_dims(const conf_case *c, size_t *in, size_t *hid, size_t *top_k, conf_result *r)
{
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(c->json, "gate");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(gate, "input_dim");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(gate, "hidden_dim");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(gate, "top_k");
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b) || !cJSON_IsNumber(k) || a->valuedouble < 1 ||
        b->valuedouble < 1 || k->valuedouble < 0 || a->valuedouble > 1e6 ||
        b->valuedouble > 1e6 || k->valuedouble > 1e9) {
        conf_fail(r, "case.json gate: missing or bad input_dim / hidden_dim / top_k");
        return -1;
    }
    *in = (size_t)a->valuedouble;
    *hid = (size_t)b->valuedouble;
    *top_k = (size_t)k->valuedouble;
    return 0;
}

void conf_op_forward_gated_with_fastgrnn(const conf_case *c, conf_result *r)
{
    aether_attn_config cfg;
    aether_fastgrnn *g = NULL;
    aether_npy mask, sal;
    aether_status s;
    size_t in, hid, top_k;
    float *got_sal = NULL;
    uint8_t *got_mask = NULL;
    conf_qkv t;
    (void)c->reference;
    memset(&t, 0, sizeof t);
    memset(&sal, 0, sizeof sal);
    memset(&mask, 0, sizeof mask);
    if (gate_dims(c, &in, &hid, &top_k, r) || conf_attn_config(c, &cfg, r) ||
        conf_qkv_load(c, &t, r) || load_mask(c, t.q.seq, &mask, r) ||
        conf_load(c, "salience", &sal, r))
        goto done;
    if (sal.dtype != AETHER_DTYPE_F32 || sal.count != t.q.seq) {
        conf_fail(r, "salience: expected %lu f32 values", (unsigned long)t.q.seq);
        goto done;
    }
    if ((s = aether_fastgrnn_create(in, hid, AETHER_FASTGRNN_SEED_REFERENCE, &g)) != AETHER_OK) {
        conf_fail(r, "aether_fastgrnn_create: %s", aether_strerror(s));
        goto done;
    }
    compare_gate(c, g, r);
    got_sal = (float *)malloc((t.q.seq ? t.q.seq : 1) * sizeof(float));
    got_mask = (uint8_t *)malloc(t.q.seq ? t.q.seq : 1);
    if (!got_sal || !got_mask) {
        conf_fail(r, "out of memory");
        goto done;
    }
    s = ws_attn_forward_gated_fastgrnn(&cfg, g, &t.q, &t.k, &t.v, top_k, &t.out, got_sal,
                                       got_mask);
    if (s != AETHER_OK) {
        conf_fail(r, "aether_attn_forward_gated_fastgrnn: %s", aether_strerror(s));
        goto done;
    }
    conf_compare(got_sal, (const float *)sal.data, t.q.seq, 1, 0.0, "salience", r);
    if (memcmp(got_mask, mask.data, t.q.seq) != 0)
        conf_fail(r, "keep_mask differs");
    conf_compare(t.out.data, t.want.data, aether_tensor_size(&t.want), 1, 0.0, "out", r);
done:
    free(got_sal);
    free(got_mask);
    aether_fastgrnn_destroy(g);
    aether_npy_free(&sal);
    aether_npy_free(&mask);
    conf_qkv_free(&t);
    conf_finish(r);
}
