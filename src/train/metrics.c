/* Classification metrics from a confusion matrix. */
#include "train/train_internal.h"

#include <string.h>

aether_status aether_metrics_compute(const size_t *conf, size_t n_classes, aether_metrics *out)
{
    size_t c, j, correct = 0, total = 0, used = 0;
    double f1_sum = 0.0;
    aether_metrics m;
    if (!conf || !out)
        return AETHER_ERR_NULL_ARG;
    if (n_classes == 0 || n_classes > AETHER_TRAIN_MAX_CLASSES)
        return AETHER_ERR_INVALID_ARG;
    memset(&m, 0, sizeof m);
    m.n_classes = n_classes;
    for (c = 0; c < n_classes; ++c) {
        size_t tp = conf[c * n_classes + c], row = 0, col = 0;
        for (j = 0; j < n_classes; ++j) {
            row += conf[c * n_classes + j];
            col += conf[j * n_classes + c];
        }
        total += row;
        correct += tp;
        m.recall[c] = row ? (double)tp / (double)row : 0.0;
        m.precision[c] = col ? (double)tp / (double)col : 0.0;
        m.f1[c] = (m.recall[c] + m.precision[c]) > 0.0
                      ? 2.0 * m.recall[c] * m.precision[c] / (m.recall[c] + m.precision[c])
                      : 0.0;
        if (row || col) {
            f1_sum += m.f1[c];
            used++;
        }
    }
    m.total = total;
    m.accuracy = total ? (double)correct / (double)total : 0.0;
    m.macro_f1 = used ? f1_sum / (double)used : 0.0;
    *out = m;
    return AETHER_OK;
}
