/*
 * Conformance ops of the temporal head and the weight blob:
 *   temporal_forward_and_step  head forward (exact vs `out`) and per-token
 *                              step through make_cache(capacity): with a
 *                              Welford-landmark cache exact vs `out_steps`
 *                              (the reference's cache), with the default
 *                              landmark-sum cache exact vs our forward and
 *                              within 1e-6 of `out_steps`;
 *   temporal_forward           head forward only;
 *   rvne_weight_blob           every blob of rvne.json: parse verdict, error
 *                              text, header, CRC, byte-exact re-serialisation,
 *                              and the demo generator vs init_random_blob.
 * "Exact" assumes the scalar reference kernels. When an optimised prefill is
 * selected, forward results are compared within the dispatch contract
 * (1e-6*s^2 + 2e-6*|ref|); the
 * decode is always scalar, so the Welford steps stay exact.
 */
#include "conformance.h"
#include "ws_call.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/head.h"

static int json_num(const cJSON *obj, const char *key, size_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return 0;
    *out = (size_t)v->valuedouble;
    return 1;
}

/* case.json "temporal_config" -> head config. */
static int head_config(const conf_case *c, aether_head_config *hc, conf_result *r)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->json, "temporal_config");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "backend");
    const cJSON *causal = cJSON_GetObjectItemCaseSensitive(t, "causal");
    *hc = aether_head_config_default_aether();
    if (!cJSON_IsObject(t) || !json_num(t, "q_heads", &hc->q_heads) ||
        !json_num(t, "kv_heads", &hc->kv_heads) || !json_num(t, "head_dim", &hc->head_dim) ||
        !json_num(t, "window", &hc->window) || !json_num(t, "block_size", &hc->block_size) ||
        !cJSON_IsBool(causal)) {
        conf_fail(r, "temporal_config missing or incomplete");
        return 0;
    }
    hc->causal = cJSON_IsTrue(causal) ? 1 : 0;
    if (cJSON_IsString(b) && !strcmp(b->valuestring, "Dense"))
        hc->backend = AETHER_HEAD_DENSE;
    else if (cJSON_IsString(b) && !strcmp(b->valuestring, "SparseGqa"))
        hc->backend = AETHER_HEAD_SPARSE_GQA;
    else {
        conf_fail(r, "temporal_config.backend unknown");
        return 0;
    }
    return 1;
}

/* Step every token through a fresh cache with the given landmark mode. */
static int stream(const aether_head *h, const aether_tensor *q, const aether_tensor *k,
                  const aether_tensor *v, size_t capacity, aether_kv_landmarks lm,
                  aether_tensor *out, conf_result *r)
{
    aether_kvcache_params p;
    aether_kvcache *cache = NULL;
    aether_status s;
    size_t t, qw = q->heads * q->dim, kw = k->heads * k->dim;
    if ((s = aether_head_cache_params(h, capacity, &p)) != AETHER_OK)
        goto bad;
    p.landmarks = lm;
    if ((s = aether_kvcache_create(&p, &cache)) != AETHER_OK)
        goto bad;
    for (t = 0; t < q->seq; ++t) {
        aether_tensor q1, k1, v1, o1;
        aether_tensor_view(&q1, q->data + t * qw, qw, 1, q->heads, q->dim);
        aether_tensor_view(&k1, k->data + t * kw, kw, 1, k->heads, k->dim);
        aether_tensor_view(&v1, v->data + t * kw, kw, 1, v->heads, v->dim);
        aether_tensor_view(&o1, out->data + t * qw, qw, 1, q->heads, q->dim);
        if ((s = ws_head_step(h, &q1, &k1, &v1, cache, &o1)) != AETHER_OK)
            break;
    }
    aether_kvcache_destroy(cache);
    if (s == AETHER_OK)
        return 1;
bad:
    conf_fail(r, "step: %s", aether_strerror(s));
    return 0;
}

static void temporal(const conf_case *c, conf_result *r, int with_steps)
{
    aether_tensor q, k, v, want, want_steps, out, steps;
    aether_head_config hc;
    aether_head h;
    aether_status s;
    size_t capacity, n;
    /* Decode is always scalar; only the prefill can take a fast path. */
    int exact = !strcmp(aether_kernel_name(), "reference");
    double tol = exact ? 0.0 : 3.0 * conf_tolerance(c);

    memset(&q, 0, sizeof q);
    memset(&k, 0, sizeof k);
    memset(&v, 0, sizeof v);
    memset(&want, 0, sizeof want);
    memset(&want_steps, 0, sizeof want_steps);
    memset(&out, 0, sizeof out);
    memset(&steps, 0, sizeof steps);
    if (!head_config(c, &hc, r) || conf_load_tensor(c, "q", &q, r) ||
        conf_load_tensor(c, "k", &k, r) || conf_load_tensor(c, "v", &v, r) ||
        conf_load_tensor(c, "out", &want, r) ||
        (with_steps && conf_load_tensor(c, "out_steps", &want_steps, r)))
        goto done;
    if ((s = aether_head_init(&h, &hc)) != AETHER_OK) {
        conf_fail(r, "head init: %s", aether_strerror(s));
        goto done;
    }
    n = aether_tensor_size(&q);
    if (aether_tensor_zeros(&out, q.seq, q.heads, q.dim) != AETHER_OK ||
        aether_tensor_zeros(&steps, q.seq, q.heads, q.dim) != AETHER_OK) {
        conf_fail(r, "out of memory");
        goto done;
    }
    if ((s = ws_head_forward(&h, &q, &k, &v, &out)) != AETHER_OK) {
        conf_fail(r, "forward: %s", aether_strerror(s));
        goto done;
    }
    /* The forward against the golden: bit for bit on the reference, the
     * accuracy contract on a fast path (conformance.c sets which). */
    if (!conf_compare(out.data, want.data, n, 1, 0.0, "out", r) || !with_steps)
        goto done;
    capacity = (size_t)conf_int(c, "capacity", (long)q.seq);
    /* the reference's own cache (Welford means): bit for bit */
    if (!stream(&h, &q, &k, &v, capacity, AETHER_KV_LM_WELFORD, &steps, r) ||
        !conf_compare(steps.data, want_steps.data, n, 1, 0.0, "out_steps (Welford)", r))
        goto done;
    /* aether's default (landmark sums): equal to its forward, ~1e-7 from
     * the reference's steps */
    if (stream(&h, &q, &k, &v, capacity, AETHER_KV_LM_SUM, &steps, r) &&
        conf_compare(steps.data, out.data, n, exact, 2.0 * tol, "steps (sum) vs forward", r))
        conf_compare(steps.data, want_steps.data, n, 0, 1e-6, "out_steps (sum)", r);
done:
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&want);
    aether_tensor_free(&want_steps);
    aether_tensor_free(&out);
    aether_tensor_free(&steps);
    conf_finish(r);
}

void conf_op_temporal_forward_and_step(const conf_case *c, conf_result *r)
{
    temporal(c, r, 1);
}

void conf_op_temporal_forward(const conf_case *c, conf_result *r)
{
    temporal(c, r, 0);
}

/* ---- rvne_weight_blob ---- */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t got;
        if (n == cap) {
            unsigned char *nb = (unsigned char *)realloc(buf, cap ? 2 * cap : 4096);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap ? 2 * cap : 4096;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int hex_eq(const cJSON *v, uint32_t want)
{
    return cJSON_IsString(v) && strtoul(v->valuestring, NULL, 16) == (unsigned long)want;
}

static void check_header(const char *file, const cJSON *jh, const aether_blob_view *bv,
                         conf_result *r)
{
    static const char *keys[7] = {"input_dim", "n_q_heads", "n_kv_heads", "head_dim",
                                  "n_layers",  "n_classes", "weights_len"};
    size_t got[7], i, want;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(jh, "dtype");
    got[0] = bv->header.input_dim;
    got[1] = bv->header.n_q_heads;
    got[2] = bv->header.n_kv_heads;
    got[3] = bv->header.head_dim;
    got[4] = bv->header.n_layers;
    got[5] = bv->header.n_classes;
    got[6] = bv->header.weights_len;
    for (i = 0; i < 7; ++i)
        if (!json_num(jh, keys[i], &want) || want != got[i])
            conf_fail(r, "%s: header.%s differs", file, keys[i]);
    if (!cJSON_IsString(dtype) ||
        strcmp(dtype->valuestring, aether_blob_is_f16(&bv->header) ? "F16" : "F32") != 0)
        conf_fail(r, "%s: dtype differs", file);
}

static void check_blob(const conf_case *c, const cJSON *b, conf_result *r)
{
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(b, "file");
    const cJSON *parse = cJSON_GetObjectItemCaseSensitive(b, "parse");
    char path[4096];
    unsigned char *buf, *again;
    size_t len = 0, size = 0, n = 0;
    aether_blob_view bv;
    aether_status s;

    if (!cJSON_IsString(file) || !cJSON_IsString(parse)) {
        conf_fail(r, "blob entry without file/parse");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", c->dir, file->valuestring);
    buf = read_all(path, &len);
    if (!buf) {
        conf_fail(r, "%s: unreadable", file->valuestring);
        return;
    }
    if (json_num(b, "size", &size) && size != len)
        conf_fail(r, "%s: size differs", file->valuestring);
    s = aether_blob_parse(buf, len, &bv);
    if (!strcmp(parse->valuestring, "ok")) {
        if (s != AETHER_OK) {
            conf_fail(r, "%s: parse failed: %s", file->valuestring, aether_status_name(s));
        } else {
            check_header(file->valuestring, cJSON_GetObjectItemCaseSensitive(b, "header"), &bv,
                         r);
            if (!hex_eq(cJSON_GetObjectItemCaseSensitive(b, "crc32_footer"), bv.crc))
                conf_fail(r, "%s: CRC differs", file->valuestring);
            again = (unsigned char *)malloc(len);
            if (!again ||
                aether_blob_serialize(&bv.header, bv.weights, again, len, &n) != AETHER_OK ||
                n != len || memcmp(again, buf, len) != 0)
                conf_fail(r, "%s: re-serialisation is not byte-identical", file->valuestring);
            free(again);
        }
    } else {
        const cJSON *disp = cJSON_GetObjectItemCaseSensitive(b, "error_display");
        char text[256];
        snprintf(text, sizeof text, "%s%s", AETHER_HEAD_ERR_PREFIX,
                 aether_blob_reference_message(s));
        if (s == AETHER_OK)
            conf_fail(r, "%s: parsed although the reference rejects it", file->valuestring);
        else if (!cJSON_IsString(disp) || strcmp(disp->valuestring, text) != 0)
            conf_fail(r, "%s: error \"%s\" differs from the reference's", file->valuestring,
                      text);
    }
    free(buf);
}

static void check_demo(const conf_case *c, conf_result *r)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    char path[4096];
    size_t glen = 0, n = 0, need = 0;
    unsigned char *g, *mine;
    snprintf(path, sizeof path, "%s/init_random_blob.rvne", c->dir);
    g = read_all(path, &glen);
    if (!g)
        return; /* covered by the blob list */
    if (aether_blob_demo_size(&p, &need) != AETHER_OK || need != glen) {
        conf_fail(r, "demo blob size %lu != %lu", (unsigned long)need, (unsigned long)glen);
    } else {
        mine = (unsigned char *)malloc(need);
        if (!mine || aether_blob_demo_write(&p, mine, need, &n) != AETHER_OK ||
            memcmp(mine, g, glen) != 0)
            conf_fail(r, "demo generator output differs from init_random_blob.rvne");
        free(mine);
    }
    free(g);
}

void conf_op_rvne_weight_blob(const conf_case *c, conf_result *r)
{
    const cJSON *blobs = cJSON_GetObjectItemCaseSensitive(c->json, "blobs"), *b;
    if (!hex_eq(cJSON_GetObjectItemCaseSensitive(c->json, "crc32_of_123456789"),
                aether_crc32("123456789", 9)))
        conf_fail(r, "CRC-32 check value differs");
    if (!hex_eq(cJSON_GetObjectItemCaseSensitive(c->json, "crc32_of_empty"), aether_crc32("", 0)))
        conf_fail(r, "CRC-32 of empty input differs");
    if (!cJSON_IsArray(blobs) || cJSON_GetArraySize(blobs) == 0)
        conf_fail(r, "rvne.json has no blobs");
    cJSON_ArrayForEach(b, blobs) check_blob(c, b, r);
    check_demo(c, r);
    conf_finish(r);
}
