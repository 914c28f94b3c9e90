/* Helpers shared by the conformance op handlers: loading a case's arrays and
 * reading its config (the comparator is in conf_compare.c). */
#include "conformance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON number that is a non-negative integer representable as size_t. */
static int json_size(const cJSON *item, size_t *out)
{
    double d;
    if (!cJSON_IsNumber(item))
        return 0;
    d = item->valuedouble;
    if (!(d >= 0.0) || d != floor(d) || d > 9007199254740992.0 || d > (double)SIZE_MAX)
        return 0;
    *out = (size_t)d;
    return 1;
}

/* Path of files[key] and the entry itself; 0 and FAIL in r when absent. */
static int case_file(const conf_case *c, const char *key, char *path, size_t cap,
                     const cJSON **entry, conf_result *r)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(c->json, "files");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(files, key);
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(e, "file");
    int n;
    if (!cJSON_IsString(file) || !file->valuestring[0]) {
        conf_fail(r, "case.json has no files.%s.file", key);
        return 0;
    }
    n = snprintf(path, cap, "%s/%s", c->dir, file->valuestring);
    if (n < 0 || (size_t)n >= cap) {
        conf_fail(r, "path of %s too long", key);
        return 0;
    }
    *entry = e;
    return 1;
}

/* The loaded shape must agree with the shape case.json declares. */
static int check_declared_shape(const cJSON *entry, const char *key, size_t ndim,
                                const size_t *shape, conf_result *r)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *d;
    size_t i = 0, v;
    if (!cJSON_IsArray(s))
        return 1;
    cJSON_ArrayForEach(d, s)
    {
        if (i >= ndim || !json_size(d, &v) || v != shape[i]) {
            conf_fail(r, "%s: shape differs from case.json", key);
            return 0;
        }
        i++;
    }
    if (i != ndim) {
        conf_fail(r, "%s: rank differs from case.json", key);
        return 0;
    }
    return 1;
}

int conf_load(const conf_case *c, const char *key, aether_npy *out, conf_result *r)
{
    char path[4096];
    const cJSON *entry;
    aether_status s;
    memset(out, 0, sizeof *out);
    if (!case_file(c, key, path, sizeof path, &entry, r))
        return -1;
    s = aether_npy_load(path, out);
    if (s != AETHER_OK) {
        conf_fail(r, "%s: %s", key, aether_strerror(s));
        return -1;
    }
    if (!check_declared_shape(entry, key, out->ndim, out->shape, r)) {
        aether_npy_free(out);
        return -1;
    }
    return 0;
}

int conf_load_tensor(const conf_case *c, const char *key, aether_tensor *out, conf_result *r)
{
    char path[4096];
    const cJSON *entry;
    aether_status s;
    size_t shape[3];
    memset(out, 0, sizeof *out);
    if (!case_file(c, key, path, sizeof path, &entry, r))
        return -1;
    s = aether_npy_load_tensor(path, out);
    if (s != AETHER_OK) {
        conf_fail(r, "%s: %s", key,
                  s == AETHER_ERR_SHAPE_MISMATCH ? "not a 3-D float32 array"
                                                 : aether_strerror(s));
        return -1;
    }
    shape[0] = out->seq;
    shape[1] = out->heads;
    shape[2] = out->dim;
    if (!check_declared_shape(entry, key, 3, shape, r)) {
        aether_tensor_free(out);
        return -1;
    }
    return 0;
}

static int json_flag(const cJSON *cfg, const char *key, int *out, conf_result *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!cJSON_IsBool(v)) {
        conf_fail(r, "config.%s missing or not a boolean", key);
        return 0;
    }
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 1;
}

int conf_attn_config(const conf_case *c, aether_attn_config *cfg, conf_result *r)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(c->json, "config");
    const cJSON *g, *item;
    size_t globals[AETHER_MAX_GLOBALS];
    aether_attn_params p;
    aether_status s;

    if (!cJSON_IsObject(j)) {
        conf_fail(r, "case.json has no config");
        return -1;
    }
    memset(&p, 0, sizeof p);
    if (!json_size(cJSON_GetObjectItemCaseSensitive(j, "window"), &p.window) ||
        !json_size(cJSON_GetObjectItemCaseSensitive(j, "block_size"), &p.block_size)) {
        conf_fail(r, "config.window/block_size missing or invalid");
        return -1;
    }
    g = cJSON_GetObjectItemCaseSensitive(j, "global_tokens");
    if (!cJSON_IsArray(g)) {
        conf_fail(r, "config.global_tokens missing");
        return -1;
    }
    cJSON_ArrayForEach(item, g)
    {
        if (p.n_globals == AETHER_MAX_GLOBALS) {
            conf_fail(r, "config.global_tokens: more than %d", AETHER_MAX_GLOBALS);
            return -1;
        }
        if (!json_size(item, &globals[p.n_globals])) {
            conf_fail(r, "config.global_tokens: invalid entry");
            return -1;
        }
        p.n_globals++;
    }
    p.globals = globals;
    if (!json_flag(j, "causal", &p.causal, r) ||
        !json_flag(j, "use_log_stride", &p.use_log_stride, r) ||
        !json_flag(j, "use_landmarks", &p.use_landmarks, r) ||
        !json_flag(j, "sort_candidates", &p.sort_candidates, r))
        return -1;
    s = aether_attn_config_init(cfg, &p);
    if (s != AETHER_OK) {
        conf_fail(r, "config rejected: %s", aether_strerror(s));
        return -1;
    }
    return 0;
}

long conf_int(const conf_case *c, const char *key, long def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->json, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < -2147483648.0 || v->valuedouble > 2147483647.0)
        return def;
    return (long)v->valuedouble;
}

double conf_scale(const conf_case *c)
{
    const cJSON *gen = cJSON_GetObjectItemCaseSensitive(c->json, "input_gen");
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(gen, "scale");
    if (cJSON_IsNumber(scale) && scale->valuedouble > 0.0 && isfinite(scale->valuedouble))
        return scale->valuedouble;
    return 1.0;
}

double conf_tolerance(const conf_case *c)
{
    double s = conf_scale(c);
    return 1e-6 * s * s;
}

void conf_qkv_free(conf_qkv *t)
{
    aether_tensor_free(&t->q);
    aether_tensor_free(&t->k);
    aether_tensor_free(&t->v);
    aether_tensor_free(&t->want);
    aether_tensor_free(&t->out);
}

int conf_qkv_load(const conf_case *c, conf_qkv *t, conf_result *r)
{
    aether_status s;
    memset(t, 0, sizeof *t);
    if (conf_load_tensor(c, "q", &t->q, r) || conf_load_tensor(c, "k", &t->k, r) ||
        conf_load_tensor(c, "v", &t->v, r) || conf_load_tensor(c, "out", &t->want, r))
        return -1;
    s = aether_tensor_zeros(&t->out, t->want.seq, t->want.heads, t->want.dim);
    if (s != AETHER_OK) {
        conf_fail(r, "output: %s", aether_strerror(s));
        return -1;
    }
    return 0;
}
