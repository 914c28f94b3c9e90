/* Internal: the model object and the reference vector-matrix product shared
 * by the window forward and the streaming session. */
#ifndef AETHER_MODEL_INTERNAL_H
#define AETHER_MODEL_INTERNAL_H

#include "aether/model.h"

struct aether_model {
    uint32_t magic;
    aether_blob_header header;
    aether_blob_layout layout;
    aether_head head;
    const float *w; /* layout.total_elems weights, borrowed or inside the buffer */
    int borrowed;
    int f16_source;
    void *owned_; /* malloc'd block (create), NULL for init */
};

#define AETHER_MODEL_MAGIC 0x4D4F444Cu /* "MODL" */

aether_status aether_model_check_(const aether_model *m);

/* y[0..cols) = x[0..rows) . W (row-major rows x cols): y[j] accumulates
 * x[i]*W[i][j] from 0 with i ascending (docs/MODEL.md section 2.2). */
void aether_model_matvec_(const float *x, size_t rows, const float *w, size_t cols, float *y);

/* y[b*cols..] = x[b*rows..] . W for b in [0, n): every element the same
 * sum, in the same order, as aether_model_matvec_ of its row (the bits of
 * n separate calls); each weight read serves two rows. */
void aether_model_matmul_(const float *x, size_t n, size_t rows, const float *w, size_t cols,
                          float *y);

/* Frame preparation: copy (or normalise, flag bit 1) one frame into h. */
void aether_model_prepare_frame_(const aether_model *m, const float *x, float *h);

/* One layer's residual update h += a . Wo_l, via tmp (input_dim floats). */
void aether_model_residual_(const aether_model *m, size_t layer, const float *a, float *tmp,
                            float *h);

/* Layer l's matrices. */
const float *aether_model_wq_(const aether_model *m, size_t l);
const float *aether_model_wk_(const aether_model *m, size_t l);
const float *aether_model_wv_(const aether_model *m, size_t l);
const float *aether_model_wo_(const aether_model *m, size_t l);
const float *aether_model_wc_(const aether_model *m);

#endif
