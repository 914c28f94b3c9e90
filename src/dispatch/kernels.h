/*
 * Internal, for the folders above dispatch (kvcache, head, model, tools):
 * the kernel choice. The dispatch table (mode.c) is the one place that
 * maps a kernel mode to an ISA table; everything else asks here.
 *
 * Objects that run many kernel calls (KV caches, model sessions) store the
 * choice at init in an aether_kernel_sel and read it back per call with
 * aether_kernel_sel_ops: the stored ops, chosen again only when
 * aether_set_kernel_mode ran since (the public contract: a mode change
 * affects the calls that start afterwards).
 */
#ifndef AETHER_DISPATCH_KERNELS_H
#define AETHER_DISPATCH_KERNELS_H

#include "aether/dispatch.h"
#include "simd/simd.h"

/* The ops of the current kernel mode, NULL when it is the reference. */
const aether_simd_ops *aether_simd_active_(void);

/* The benchmark probes of the current mode's ISA, NULL for the reference. */
const aether_simd_probes *aether_simd_probes_active_(void);

/* Counter bumped by every mode change (starts at 1; 0 never occurs). */
unsigned aether_kernel_generation_(void);

typedef struct aether_kernel_sel {
    const aether_simd_ops *ops; /* NULL: reference */
    unsigned gen;               /* generation of the choice; 0: pinned */
} aether_kernel_sel;

/* Choose the current mode's ops now (at init). */
void aether_kernel_select_(aether_kernel_sel *s);

/* Pin the reference kernels (never re-chosen): for objects whose results
 * are defined by the scalar arithmetic whatever the mode. */
void aether_kernel_select_reference_(aether_kernel_sel *s);

/* The stored choice (re-chosen only after a mode change). */
static inline const aether_simd_ops *aether_kernel_sel_ops(aether_kernel_sel *s)
{
    if (s->gen != 0 && s->gen != aether_kernel_generation_())
        aether_kernel_select_(s);
    return s->ops;
}

/* One query row, one head, as aether_sparse_query_, by the current mode's
 * kernel (the benchmark's and tests' single-query hook). */
void aether_sparse_query_fast_(const float *q, size_t dim, float scale, const aether_rows *tokens,
                               const size_t *tok, size_t n_tok, const aether_rows *blocks,
                               const size_t *blk, size_t n_blk, float *acc, float *out);

#endif /* AETHER_DISPATCH_KERNELS_H */
