/*
 * Conformance runner internals: one handler per golden "op". A handler loads
 * the case's arrays, runs aether, compares, and fills a conf_result.
 * Handlers live in tools/conf_*.c and are listed in tools/conf_registry.c.
 */
#ifndef AETHER_TOOLS_CONFORMANCE_H
#define AETHER_TOOLS_CONFORMANCE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "aether/attention.h"
#include "aether/npy.h"
#include "conf_compare.h" /* conf_result, conf_fail, conf_finish, conf_compare */

typedef struct conf_case {
    const char *dir;   /* case directory */
    const char *name;  /* case.json "name" (or the directory name) */
    const char *op;    /* case.json "op" */
    const cJSON *json; /* parsed case.json */
    int reference;     /* 1: --reference (force the scalar reference path) */
} conf_case;

/* The runner zero-fills r first, so a handler that finds no difference and
 * sets nothing reports PASS with max_abs_err 0. */
typedef void (*conf_op_fn)(const conf_case *c, conf_result *r);

typedef struct conf_op {
    const char *op;
    conf_op_fn fn;
} conf_op;

/* Registry (tools/conf_registry.c). Returns NULL for an op without handler. */
conf_op_fn conf_find_op(const char *op);

/* ---- helpers (tools/conf_util.c) ---- */
/* A case's q, k, v, its expected `out` (want) and an output of out's shape. */
typedef struct conf_qkv {
    aether_tensor q, k, v, want, out;
} conf_qkv;
/* Loads q, k, v, out and allocates out; 0 ok, -1 FAIL in r. Free with
 * conf_qkv_free even after a failure. */
int conf_qkv_load(const conf_case *c, conf_qkv *t, conf_result *r);
void conf_qkv_free(conf_qkv *t);
/* Load files[key] of the case; 0 on success, else fills r (FAIL) and returns -1. */
int conf_load(const conf_case *c, const char *key, aether_npy *out, conf_result *r);
/* Same, but requires a 3-D f32 array and gives an owned tensor. */
int conf_load_tensor(const conf_case *c, const char *key, aether_tensor *out, conf_result *r);
/* Parse case.json "config" into a validated config (0 ok, -1 FAIL in r). */
int conf_attn_config(const conf_case *c, aether_attn_config *cfg, conf_result *r);
/* Integer field of the case (top level), or `def` when absent. */
long conf_int(const conf_case *c, const char *key, long def);
/* The case's input scale s (input_gen.scale; 1 when absent or invalid). */
double conf_scale(const conf_case *c);
/* The contract's absolute part for the case: 1e-6 s^2. */
double conf_tolerance(const conf_case *c);

/* ---- op handlers: one prototype per line, registered in conf_registry.c ---- */
void conf_op_f16_convert(const conf_case *c, conf_result *r);              /* conf_basic.c */
void conf_op_dense_attention(const conf_case *c, conf_result *r);          /* conf_attention.c */
void conf_op_forward(const conf_case *c, conf_result *r);                  /* conf_attention.c */
void conf_op_forward_gqa(const conf_case *c, conf_result *r);              /* conf_attention.c */
void conf_op_candidates(const conf_case *c, conf_result *r);               /* conf_attention.c */
void conf_op_estimate_sparse_edges(const conf_case *c, conf_result *r);    /* conf_attention.c */
void conf_op_decode_step(const conf_case *c, conf_result *r);              /* conf_kvcache.c */
void conf_op_decode_step_f16(const conf_case *c, conf_result *r);          /* conf_kvcache.c */
void conf_op_decode_batch(const conf_case *c, conf_result *r);             /* conf_kvcache.c */
void conf_op_kvcache_evict_and_append(const conf_case *c, conf_result *r); /* conf_kvcache.c */
void conf_op_forward_flash(const conf_case *c, conf_result *r);     /* conf_tiled_gated.c */
void conf_op_forward_gqa_flash(const conf_case *c, conf_result *r); /* conf_tiled_gated.c */
void conf_op_forward_gated(const conf_case *c, conf_result *r);     /* conf_tiled_gated.c */
void conf_op_forward_gated_with_fastgrnn(const conf_case *c,
                                         conf_result *r);                   /* conf_tiled_gated */
void conf_op_temporal_forward_and_step(const conf_case *c, conf_result *r); /* conf_temporal.c */
void conf_op_temporal_forward(const conf_case *c, conf_result *r);          /* conf_temporal.c */
void conf_op_rvne_weight_blob(const conf_case *c, conf_result *r);          /* conf_temporal.c */
void conf_op_errors(const conf_case *c, conf_result *r);                    /* conf_errors.c */
/* ---- end of op handlers ---- */

#endif
