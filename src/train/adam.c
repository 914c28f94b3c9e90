/* AdamW and the warmup + cosine learning-rate schedule. */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>

aether_status aether_adam_init(aether_adam *a, size_t n)
{
    if (!a)
        return AETHER_ERR_NULL_ARG;
    if (n == 0)
        return AETHER_ERR_INVALID_ARG;
    a->m = (float *)calloc(n, sizeof(float));
    a->v = (float *)calloc(n, sizeof(float));
    if (!a->m || !a->v) {
        free(a->m);
        free(a->v);
        a->m = a->v = NULL;
        return AETHER_ERR_NO_MEM;
    }
    a->n = n;
    a->t = 0;
    return AETHER_OK;
}

void aether_adam_free(aether_adam *a)
{
    if (!a)
        return;
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
    a->n = 0;
}

aether_status aether_adam_step(aether_adam *a, float *w, const float *grad, float lr, float beta1,
                               float beta2, float eps, float weight_decay)
{
    double c1, c2;
    size_t i;
    if (!a || !w || !grad || !a->m)
        return AETHER_ERR_NULL_ARG;
    if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) || !(eps > 0.0f) ||
        !(lr >= 0.0f) || !(weight_decay >= 0.0f))
        return AETHER_ERR_INVALID_ARG;
    a->t++;
    c1 = 1.0 - pow((double)beta1, (double)a->t);
    c2 = 1.0 - pow((double)beta2, (double)a->t);
    for (i = 0; i < a->n; ++i) {
        double mh, vh;
        a->m[i] = beta1 * a->m[i] + (1.0f - beta1) * grad[i];
        a->v[i] = beta2 * a->v[i] + (1.0f - beta2) * grad[i] * grad[i];
        mh = a->m[i] / c1;
        vh = a->v[i] / c2;
        /* decoupled: the decay does not pass through the moment estimates */
        w[i] = (float)((double)w[i] - (double)lr * (mh / (sqrt(vh) + (double)eps) +
                                                    (double)weight_decay * (double)w[i]));
    }
    return AETHER_OK;
}

float aether_lr_schedule(float base, size_t step, size_t warmup, size_t total, float min_frac)
{
    double frac;
    if (warmup > 0 && step < warmup)
        return (float)((double)base * (double)(step + 1) / (double)warmup);
    if (total <= warmup)
        return base;
    frac = (double)(step - warmup) / (double)(total - warmup);
    if (frac > 1.0)
        frac = 1.0;
    return (float)((double)base * ((double)min_frac + (1.0 - (double)min_frac) * 0.5 *
                                                          (1.0 + cos(3.141592653589793 * frac))));
}
