/* How far a window of input frames lies from the training data: the input
 * distance of aether/decision.h. */
#include "aether/decision.h"
#include "aether/model.h"

#include <math.h>

#include "model_internal.h"

aether_status aether_model_input_distance(const aether_model *m, const float *frames, size_t n,
                                          float *distance)
{
    size_t t, f, dim, used = 0;
    int norm;
    double acc = 0.0;
    aether_status st = aether_model_check_(m);
    if (st != AETHER_OK)
        return st;
    if (!frames || !distance)
        return AETHER_ERR_NULL_ARG;
    if (n == 0)
        return AETHER_ERR_INVALID_ARG;
    dim = m->header.input_dim;
    norm = (m->header.flags & AETHER_BLOB_FLAG_INPUT_NORM) != 0;
    /* feature by feature (no scratch: input_dim may be large), frames in
     * order, in double */
    for (f = 0; f < dim; ++f) {
        double s = norm ? (double)m->w[m->layout.norm_inv_std + f] : 1.0, sum = 0.0, z;
        if (s == 0.0)
            continue; /* a feature the model does not read */
        for (t = 0; t < n; ++t)
            sum += frames[t * dim + f];
        z = (sum / (double)n - (norm ? (double)m->w[m->layout.norm_mean + f] : 0.0)) * s;
        acc += z * z;
        used++;
    }
    if (!(acc <= 1e300))
        return AETHER_ERR_NONFINITE;
    *distance = used ? (float)sqrt(acc / (double)used) : 0.0f;
    return AETHER_OK;
}
