/* Internal: the training network object and helpers shared by src/train. */
#ifndef AETHER_TRAIN_INTERNAL_H
#define AETHER_TRAIN_INTERNAL_H

#include "aether/dispatch.h"
#include "aether/train.h"

struct aether_train_net {
    aether_blob_header header;
    aether_blob_layout layout;
    aether_head head;
    float *w; /* layout.total_elems */
};

/* Switch the process to the scalar reference kernels for training (the
 * optimised kernels round differently by ISA, and trained bytes must not
 * depend on the machine); returns the mode to give back to _end_. */
aether_kernel_mode aether_train_reference_begin_(void);
void aether_train_reference_end_(aether_kernel_mode saved);

/* xorshift64* stream: uniform floats in [0, 1) and standard normals. */
typedef struct aether_train_rng {
    uint64_t s;
} aether_train_rng;

void aether_train_rng_seed_(aether_train_rng *r, uint64_t seed);
uint64_t aether_train_rng_next_(aether_train_rng *r);
double aether_train_rng_unit_(aether_train_rng *r);
double aether_train_rng_normal_(aether_train_rng *r);
/* Uniform integer in [0, n) (n > 0). */
size_t aether_train_rng_below_(aether_train_rng *r, size_t n);

/* y[0..cols) = x . W with the model's accumulation order (docs/MODEL.md section 2.2). */
void aether_train_matvec_(const float *x, size_t rows, const float *w, size_t cols, float *y);

#endif
