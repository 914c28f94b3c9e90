/*
 * Conformance ops of the KV cache: decode_step, decode_step_f16,
 * decode_batch and kvcache_evict_and_append, all compared bitwise against
 * the reference (landmarks in the reference's Welford mode). decode_step
 * additionally streams the causal cases through an LM_SUM cache, which must
 * equal the golden forward output exactly. The reference never sorts in f16
 * decode, so decode_step_f16 runs with sort_candidates forced off.
 */
#include "conformance.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/kvcache.h"

typedef struct kv_case {
    aether_attn_config cfg;
    aether_tensor q, k, v;
    size_t q_heads, kv_heads, dim, seq, capacity;
} kv_case;

static void kv_case_free(kv_case *t)
{
    aether_tensor_free(&t->q);
    aether_tensor_free(&t->k);
    aether_tensor_free(&t->v);
}

static int kv_case_load(const conf_case *c, kv_case *t, conf_result *r)
{
    memset(t, 0, sizeof *t);
    if (conf_attn_config(c, &t->cfg, r) || conf_load_tensor(c, "q", &t->q, r) ||
        conf_load_tensor(c, "k", &t->k, r) || conf_load_tensor(c, "v", &t->v, r))
        return -1;
    t->q_heads = t->q.heads;
    t->kv_heads = t->k.heads;
    t->dim = t->q.dim;
    t->seq = t->q.seq;
    t->capacity = (size_t)conf_int(c, "capacity", (long)t->seq);
    if (t->k.seq != t->seq || t->v.seq != t->seq || t->k.dim != t->dim) {
        conf_fail(r, "q/k/v shapes disagree");
        return -1;
    }
    return 0;
}

static int make_cache(const kv_case *t, const aether_attn_config *cfg, aether_kv_storage st,
                      aether_kv_landmarks lm, aether_kv_evict ev, aether_kvcache **out,
                      conf_result *r)
{
    aether_kvcache_params p = aether_kvcache_params_default(cfg, t->capacity, t->kv_heads,
                                                            t->dim);
    aether_status s;
    p.storage = st;
    p.landmarks = lm;
    p.evict = ev;
    s = aether_kvcache_create(&p, out);
    if (s != AETHER_OK) {
        conf_fail(r, "aether_kvcache_create: %s", aether_strerror(s));
        return -1;
    }
    return 0;
}

static aether_tensor row_of(const aether_tensor *t, size_t s)
{
    aether_tensor v;
    (void)aether_tensor_view(&v, aether_tensor_row(t, s, 0), t->heads * t->dim, 1, t->heads,
                             t->dim);
    return v;
}

/* Append then decode every token; results into `steps` [seq, q_heads, dim]. */
static int stream(const kv_case *t, const aether_attn_config *cfg, aether_kvcache *kc,
                  aether_tensor *steps, conf_result *r)
{
    size_t i;
    for (i = 0; i < t->seq; ++i) {
        aether_tensor q1 = row_of(&t->q, i), k1 = row_of(&t->k, i), v1 = row_of(&t->v, i);
        aether_tensor o1 = row_of(steps, i);
        aether_status s = aether_kvcache_append(kc, &k1, &v1);
        if (s == AETHER_OK)
            s = aether_kvcache_decode_step(cfg, &q1, kc, &o1);
        if (s != AETHER_OK) {
            conf_fail(r, "step %lu: %s", (unsigned long)i, aether_strerror(s));
            return -1;
        }
    }
    return 0;
}

static void compare_landmarks(const conf_case *c, aether_kvcache *kc, size_t row, conf_result *r)
{
    aether_npy lk, lv;
    float *gk, *gv;
    size_t b, nb;
    memset(&lk, 0, sizeof lk);
    memset(&lv, 0, sizeof lv);
    if (conf_load(c, "landmarks_keys_final", &lk, r) ||
        conf_load(c, "landmarks_values_final", &lv, r)) {
        aether_npy_free(&lk);
        return;
    }
    nb = lk.shape[0];
    gk = (float *)malloc(nb * row * sizeof(float) + 1);
    gv = (float *)malloc(nb * row * sizeof(float) + 1);
    if (gk && gv && lk.count == nb * row && lv.count == nb * row) {
        for (b = 0; b < nb; ++b)
            (void)aether_kvcache_landmark(kc, b, gk + b * row, gv + b * row);
        conf_compare(gk, (const float *)lk.data, nb * row, 1, 0.0, "landmarks_keys_final", r);
        conf_compare(gv, (const float *)lv.data, nb * row, 1, 0.0, "landmarks_values_final", r);
    } else {
        conf_fail(r, "landmark arrays: unexpected shape");
    }
    free(gk);
    free(gv);
    aether_npy_free(&lk);
    aether_npy_free(&lv);
}

static void run_decode(const conf_case *c, conf_result *r, aether_kv_storage st)
{
    kv_case t;
    aether_tensor want, steps;
    aether_kvcache *kc = NULL;
    aether_attn_config cfg;
    memset(&want, 0, sizeof want);
    memset(&steps, 0, sizeof steps);
    if (kv_case_load(c, &t, r) || conf_load_tensor(c, "out_steps", &want, r))
        goto done;
    cfg = t.cfg;
    if (st == AETHER_KV_F16 && t.cfg.sort_candidates) {
        aether_attn_params p;
        memset(&p, 0, sizeof p);
        p.window = t.cfg.window;
        p.block_size = t.cfg.block_size;
        p.globals = t.cfg.globals;
        p.n_globals = t.cfg.n_globals;
        p.causal = t.cfg.causal;
        p.use_log_stride = t.cfg.use_log_stride;
        p.use_landmarks = t.cfg.use_landmarks;
        p.sort_candidates = 0;
        if (aether_attn_config_init(&cfg, &p) != AETHER_OK) {
            conf_fail(r, "config without sorting");
            goto done;
        }
    }
    if (aether_tensor_zeros(&steps, t.seq, t.q_heads, t.dim) != AETHER_OK) {
        conf_fail(r, "out of memory");
        goto done;
    }
    if (make_cache(&t, &cfg, st, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_NONE, &kc, r) ||
        stream(&t, &cfg, kc, &steps, r))
        goto done;
    conf_compare(steps.data, want.data, aether_tensor_size(&want), 1, 0.0, "out_steps", r);
    compare_landmarks(c, kc, t.kv_heads * t.dim, r);
    if (st == AETHER_KV_F16) {
        aether_npy bits;
        memset(&bits, 0, sizeof bits);
        if (conf_load(c, "k_f16_bits", &bits, r) == 0 &&
            bits.count == t.seq * t.kv_heads * t.dim) {
            size_t row = t.kv_heads * t.dim, i, x, bad = 0;
            float *kr = (float *)malloc(row * sizeof(float));
            for (i = 0; kr && i < t.seq; ++i) {
                (void)aether_kvcache_slot_rows(kc, i, kr, NULL);
                for (x = 0; x < row; ++x)
                    bad += aether_f32_to_f16(kr[x]) != ((const uint16_t *)bits.data)[i * row + x];
            }
            if (bad)
                conf_fail(r, "k_f16_bits: %lu differ", (unsigned long)bad);
            free(kr);
        }
        aether_npy_free(&bits);
    } else if (t.cfg.causal) {
        /* LM_SUM streaming is bit-identical to the forward pass. */
        aether_tensor fwd;
        aether_kvcache_destroy(kc);
        kc = NULL;
        memset(&fwd, 0, sizeof fwd);
        if (conf_load_tensor(c, "out", &fwd, r) == 0 &&
            make_cache(&t, &cfg, st, AETHER_KV_LM_SUM, AETHER_KV_EVICT_NONE, &kc, r) == 0 &&
            stream(&t, &cfg, kc, &steps, r) == 0)
            conf_compare(steps.data, fwd.data, aether_tensor_size(&fwd), 1, 0.0,
                         "LM_SUM stream vs forward", r);
        aether_tensor_free(&fwd);
    }
done:
    aether_kvcache_destroy(kc);
    aether_tensor_free(&want);
    aether_tensor_free(&steps);
    kv_case_free(&t);
    conf_finish(r);
}

void conf_op_decode_step(const conf_case *c, conf_result *r)
{
    (void)c->reference;
    run_decode(c, r, AETHER_KV_F32);
}

void conf_op_decode_step_f16(const conf_case *c, conf_result *r)
{
    run_decode(c, r, AETHER_KV_F16);
}

void conf_op_decode_batch(const conf_case *c, conf_result *r)
{
    kv_case t;
    aether_tensor want, out, kp, vp, qd, kd, vd;
    aether_kvcache *kc = NULL;
    size_t pre, n, qrow, krow;
    aether_status s;
    memset(&want, 0, sizeof want);
    memset(&out, 0, sizeof out);
    if (kv_case_load(c, &t, r) || conf_load_tensor(c, "out", &want, r))
        goto done;
    pre = (size_t)conf_int(c, "prefill_len", 0);
    if (pre > t.seq || want.seq != t.seq - pre) {
        conf_fail(r, "prefill_len / out shape");
        goto done;
    }
    n = t.seq - pre;
    qrow = t.q_heads * t.dim;
    krow = t.kv_heads * t.dim;
    if (aether_tensor_zeros(&out, n, t.q_heads, t.dim) != AETHER_OK ||
        make_cache(&t, &t.cfg, AETHER_KV_F32, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_NONE, &kc, r))
        goto done;
    (void)aether_tensor_view(&kp, t.k.data, pre * krow, pre, t.kv_heads, t.dim);
    (void)aether_tensor_view(&vp, t.v.data, pre * krow, pre, t.kv_heads, t.dim);
    (void)aether_tensor_view(&qd, t.q.data + pre * qrow, n * qrow, n, t.q_heads, t.dim);
    (void)aether_tensor_view(&kd, t.k.data + pre * krow, n * krow, n, t.kv_heads, t.dim);
    (void)aether_tensor_view(&vd, t.v.data + pre * krow, n * krow, n, t.kv_heads, t.dim);
    s = aether_kvcache_append_all(kc, &kp, &vp);
    if (s == AETHER_OK)
        s = aether_kvcache_decode_batch(&t.cfg, &qd, &kd, &vd, kc, &out);
    if (s != AETHER_OK) {
        conf_fail(r, "decode_batch: %s", aether_strerror(s));
        goto done;
    }
    conf_compare(out.data, want.data, aether_tensor_size(&want), 1, 0.0, "out", r);
done:
    aether_kvcache_destroy(kc);
    aether_tensor_free(&want);
    aether_tensor_free(&out);
    kv_case_free(&t);
    conf_finish(r);
}

static size_t json_sizes(const conf_case *c, const char *key, size_t *out, size_t cap)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c->json, key), *it;
    size_t n = 0;
    cJSON_ArrayForEach(it, a)
    {
        if (n < cap && cJSON_IsNumber(it) && it->valuedouble >= 0)
            out[n++] = (size_t)it->valuedouble;
    }
    return n;
}

void conf_op_kvcache_evict_and_append(const conf_case *c, conf_result *r)
{
    kv_case t;
    aether_npy sc, ev, ids, lens, keys, lmk, lmv;
    aether_tensor outs, got_out;
    aether_kvcache *kc = NULL;
    size_t g[AETHER_MAX_GLOBALS], ng, win, i, s, nb, row, cap;
    float *gk = NULL, *gl = NULL, *glv = NULL;
    size_t bad_ev = 0, bad_ids = 0, bad_len = 0;
    memset(&sc, 0, sizeof sc);
    memset(&ev, 0, sizeof ev);
    memset(&ids, 0, sizeof ids);
    memset(&lens, 0, sizeof lens);
    memset(&keys, 0, sizeof keys);
    memset(&lmk, 0, sizeof lmk);
    memset(&lmv, 0, sizeof lmv);
    memset(&outs, 0, sizeof outs);
    memset(&got_out, 0, sizeof got_out);
    if (kv_case_load(c, &t, r) || conf_load(c, "scores_steps", &sc, r) ||
        conf_load(c, "evicted_slot", &ev, r) || conf_load(c, "slot_token_ids_steps", &ids, r) ||
        conf_load(c, "len_steps", &lens, r) || conf_load(c, "cache_keys_steps", &keys, r) ||
        conf_load(c, "landmarks_keys_steps", &lmk, r) ||
        conf_load(c, "landmarks_values_steps", &lmv, r) ||
        conf_load_tensor(c, "out_steps", &outs, r))
        goto done;
    ng = json_sizes(c, "evict_globals", g, AETHER_MAX_GLOBALS);
    win = (size_t)conf_int(c, "evict_window", 0);
    cap = t.capacity;
    row = t.kv_heads * t.dim;
    nb = lmk.ndim == 4 ? lmk.shape[1] : 0;
    if (sc.count != t.seq * cap || ids.count != t.seq * cap || keys.count != t.seq * cap * row ||
        lmk.count != t.seq * nb * row || lmv.count != lmk.count) {
        conf_fail(r, "unexpected array shapes");
        goto done;
    }
    if (make_cache(&t, &t.cfg, AETHER_KV_F32, AETHER_KV_LM_WELFORD, AETHER_KV_EVICT_H2O_COMPAT,
                   &kc, r) ||
        aether_tensor_zeros(&got_out, t.seq, t.q_heads, t.dim) != AETHER_OK)
        goto done;
    gk = (float *)malloc(t.seq * cap * row * sizeof(float) + 1);
    gl = (float *)malloc(t.seq * nb * row * sizeof(float) + 1);
    glv = (float *)malloc(t.seq * nb * row * sizeof(float) + 1);
    if (!gk || !gl || !glv) {
        conf_fail(r, "out of memory");
        goto done;
    }
    for (i = 0; i < t.seq; ++i) {
        aether_tensor q1 = row_of(&t.q, i), k1 = row_of(&t.k, i), v1 = row_of(&t.v, i);
        aether_tensor o1 = row_of(&got_out, i);
        size_t len = aether_kvcache_len(kc), slot = 0, tok;
        int32_t want_ev = ((const int32_t *)ev.data)[i];
        aether_status st = aether_kvcache_evict_and_append(kc, &k1, &v1,
                                                           (const float *)sc.data + i * cap, len,
                                                           g, ng, win, &slot);
        if (st == AETHER_OK)
            st = aether_kvcache_decode_step(&t.cfg, &q1, kc, &o1);
        if (st != AETHER_OK) {
            conf_fail(r, "step %lu: %s", (unsigned long)i, aether_strerror(st));
            goto done;
        }
        bad_ev += want_ev < 0 ? slot != AETHER_KVCACHE_NO_SLOT : slot != (size_t)want_ev;
        bad_len += (int32_t)aether_kvcache_len(kc) != ((const int32_t *)lens.data)[i];
        for (s = 0; s < cap; ++s) {
            int32_t want_id = ((const int32_t *)ids.data)[i * cap + s];
            if (aether_kvcache_slot_token(kc, s, &tok) == AETHER_OK)
                bad_ids += (int32_t)tok != want_id;
            else
                bad_ids += want_id != -1;
            (void)aether_kvcache_slot_rows(kc, s, gk + (i * cap + s) * row, NULL);
        }
        for (s = 0; s < nb; ++s)
            (void)aether_kvcache_landmark(kc, s, gl + (i * nb + s) * row,
                                          glv + (i * nb + s) * row);
    }
    if (bad_ev || bad_ids || bad_len)
        conf_fail(r, "evicted_slot %lu, slot ids %lu, len %lu differ", (unsigned long)bad_ev,
                  (unsigned long)bad_ids, (unsigned long)bad_len);
    conf_compare(gk, (const float *)keys.data, keys.count, 1, 0.0, "cache_keys_steps", r);
    conf_compare(gl, (const float *)lmk.data, lmk.count, 1, 0.0, "landmarks_keys_steps", r);
    conf_compare(glv, (const float *)lmv.data, lmv.count, 1, 0.0, "landmarks_values_steps", r);
    conf_compare(got_out.data, outs.data, aether_tensor_size(&outs), 1, 0.0, "out_steps", r);
done:
    free(gk);
    free(gl);
    free(glv);
    aether_kvcache_destroy(kc);
    aether_npy_free(&sc);
    aether_npy_free(&ev);
    aether_npy_free(&ids);
    aether_npy_free(&lens);
    aether_npy_free(&keys);
    aether_npy_free(&lmk);
    aether_npy_free(&lmv);
    aether_tensor_free(&outs);
    aether_tensor_free(&got_out);
    kv_case_free(&t);
    conf_finish(r);
}
