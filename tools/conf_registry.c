/* The conformance op table: golden "op" name -> handler. Ops missing here are
 * reported as SKIP(op not implemented). */
#include "conformance.h"

#include <string.h>

static const conf_op k_ops[] = {
    /* ---- op table: one entry per line, keep sorted by op name ---- */
    {"candidates", conf_op_candidates},
    {"decode_batch", conf_op_decode_batch},
    {"decode_step", conf_op_decode_step},
    {"decode_step_f16", conf_op_decode_step_f16},
    {"dense_attention", conf_op_dense_attention},
    {"errors", conf_op_errors},
    {"estimate_sparse_edges", conf_op_estimate_sparse_edges},
    {"f16_convert", conf_op_f16_convert},
    {"forward", conf_op_forward},
    {"forward_flash", conf_op_forward_flash},
    {"forward_gated", conf_op_forward_gated},
    {"forward_gated_with_fastgrnn", conf_op_forward_gated_with_fastgrnn},
    {"forward_gqa", conf_op_forward_gqa},
    {"forward_gqa_flash", conf_op_forward_gqa_flash},
    {"kvcache_evict_and_append", conf_op_kvcache_evict_and_append},
    {"rvne_weight_blob", conf_op_rvne_weight_blob},
    {"temporal_forward", conf_op_temporal_forward},
    {"temporal_forward_and_step", conf_op_temporal_forward_and_step},
    /* ---- end of op table ---- */
    {NULL, NULL},
};

conf_op_fn conf_find_op(const char *op)
{
    size_t i;
    if (!op)
        return NULL;
    for (i = 0; k_ops[i].op; ++i)
        if (strcmp(k_ops[i].op, op) == 0)
            return k_ops[i].fn;
    return NULL;
}
