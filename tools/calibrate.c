/* Calibration on held-out windows (calibrate.h). */
#include "calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int calib_set_init(calib_set *s, size_t C, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->C = C;
    s->cap = cap;
    s->logits = (float *)malloc((cap ? cap : 1) * C * sizeof(float));
    s->labels = (size_t *)malloc((cap ? cap : 1) * sizeof(size_t));
    s->distances = (float *)malloc((cap ? cap : 1) * sizeof(float));
    if (!s->logits || !s->labels || !s->distances) {
        calib_set_free(s);
        return -1;
    }
    return 0;
}

int calib_set_add(calib_set *s, const float *logits, size_t label, float distance)
{
    size_t c;
    if (s->n == s->cap || label >= s->C)
        return -1;
    for (c = 0; c < s->C; ++c)
        if (!aether_isfinite(logits[c]))
            return -1;
    memcpy(s->logits + s->n * s->C, logits, s->C * sizeof(float));
    s->distances[s->n] = distance >= 0.0f && aether_isfinite(distance) ? distance : -1.0f;
    s->labels[s->n++] = label;
    return 0;
}

void calib_set_free(calib_set *s)
{
    free(s->logits);
    free(s->labels);
    free(s->distances);
    memset(s, 0, sizeof *s);
}

double calib_nll(const calib_set *s, float temperature)
{
    double sum = 0.0;
    size_t i, c;
    for (i = 0; i < s->n; ++i) {
        const float *l = s->logits + i * s->C;
        double mx = l[0], z = 0.0;
        for (c = 1; c < s->C; ++c)
            if (l[c] > mx)
                mx = l[c];
        for (c = 0; c < s->C; ++c)
            z += exp(((double)l[c] - mx) / temperature);
        sum += log(z) - ((double)l[s->labels[i]] - mx) / temperature;
    }
    return s->n ? sum / (double)s->n : 0.0;
}

float calib_fit_temperature(const calib_set *s)
{
    /* golden-section search of the NLL over u = ln T (the NLL of a
     * temperature-scaled softmax is unimodal in T on the windows that matter;
     * the bracket keeps T sane when the classes are perfectly separated) */
    const double g = 0.6180339887498949;
    double a = log(0.01), b = log(1000.0), x1, x2, f1, f2;
    int k;
    if (s->n == 0)
        return 1.0f;
    x1 = b - g * (b - a);
    x2 = a + g * (b - a);
    f1 = calib_nll(s, (float)exp(x1));
    f2 = calib_nll(s, (float)exp(x2));
    for (k = 0; k < 80; ++k) {
        if (f1 <= f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = calib_nll(s, (float)exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = calib_nll(s, (float)exp(x2));
        }
    }
    /* 4 significant digits: what the metadata text stores */
    {
        char buf[32];
        snprintf(buf, sizeof buf, "%.4g", exp(0.5 * (a + b)));
        return (float)strtod(buf, NULL);
    }
}

double calib_ece(const calib_set *s, float temperature)
{
    double conf[10] = {0}, right[10] = {0}, sum = 0.0;
    size_t cnt[10] = {0}, i, b;
    aether_decision_params p = aether_decision_params_default();
    p.temperature = temperature;
    for (i = 0; i < s->n; ++i) {
        aether_decision d;
        if (aether_decide(s->logits + i * s->C, s->C, &p, -1.0f, &d) != AETHER_OK)
            continue;
        b = d.probability >= 1.0f ? 9 : (size_t)(d.probability * 10.0f);
        cnt[b]++;
        conf[b] += d.probability;
        right[b] += d.top == s->labels[i];
    }
    for (b = 0; b < 10; ++b)
        if (cnt[b])
            sum += fabs(right[b] - conf[b]);
    return s->n ? sum / (double)s->n : 0.0;
}

void calib_coverage(const calib_set *s, const aether_decision_params *p, double *coverage,
                    double *accuracy)
{
    size_t i, kept = 0, right = 0;
    for (i = 0; i < s->n; ++i) {
        aether_decision d;
        if (aether_decide(s->logits + i * s->C, s->C, p, s->distances[i], &d) != AETHER_OK ||
            d.unknown)
            continue;
        kept++;
        right += d.top == s->labels[i];
    }
    *coverage = s->n ? (double)kept / (double)s->n : 0.0;
    *accuracy = kept ? (double)right / (double)kept : 0.0;
}

float calib_pick_threshold(const calib_set *s, float temperature, double target_accuracy,
                           double min_coverage)
{
    aether_decision_params p = aether_decision_params_default();
    double best_acc = -1.0;
    float best = 0.0f;
    int t;
    /* the probability threshold alone: the input-distance test is the same
     * for every candidate */
    p.temperature = temperature;
    for (t = 0; t < 100; ++t) {
        double cov, acc;
        p.unknown_below = (float)t / 100.0f;
        calib_coverage(s, &p, &cov, &acc);
        if (cov < min_coverage || cov == 0.0)
            break; /* coverage only falls as the threshold rises */
        if (acc >= target_accuracy)
            return p.unknown_below;
        if (acc > best_acc) {
            best_acc = acc;
            best = p.unknown_below;
        }
    }
    return best;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

float calib_fit_ood(const calib_set *s)
{
    float *d = (float *)malloc((s->n ? s->n : 1) * sizeof(float)), out = 0.0f;
    size_t i, k = 0;
    if (!d)
        return 0.0f;
    for (i = 0; i < s->n; ++i)
        if (s->distances[i] >= 0.0f)
            d[k++] = s->distances[i];
    if (k) {
        char buf[32];
        qsort(d, k, sizeof *d, cmp_float);
        /* nearest rank: the smallest value with at least 99 % at or below it */
        snprintf(buf, sizeof buf, "%.4g", 2.0 * (double)d[(99 * k + 99) / 100 - 1]);
        out = (float)strtod(buf, NULL);
    }
    free(d);
    return out;
}

void calib_print_report(const calib_set *s, const aether_decision_params *p, int json)
{
    static const float thresholds[] = {0.0f, 0.5f, 0.7f, 0.8f, 0.9f, 0.95f, 0.99f};
    size_t i, n = sizeof thresholds / sizeof thresholds[0];
    aether_decision_params q = *p;
    double cov, acc;
    if (json)
        printf("{\"what\":\"calibration\",\"windows\":%lu,\"temperature\":%.9g,"
               "\"unknown_below\":%.9g,\"ood_above\":%.9g,\"nll_t1\":%.6f,\"nll\":%.6f,\"ece_"
               "t1\":%.6f,"
               "\"ece\":%.6f,\"coverage\":[",
               (unsigned long)s->n, (double)p->temperature, (double)p->unknown_below,
               (double)p->ood_above, calib_nll(s, 1.0f), calib_nll(s, p->temperature),
               calib_ece(s, 1.0f), calib_ece(s, p->temperature));
    else
        printf("calibration on %lu windows: temperature %.4g, unknown below %.2f, "
               "out of range above %.4g\n"
               "  NLL %.4f (T = 1: %.4f)   ECE %.4f (T = 1: %.4f)\n"
               "  threshold   coverage   accuracy\n",
               (unsigned long)s->n, (double)p->temperature, (double)p->unknown_below,
               (double)p->ood_above, calib_nll(s, p->temperature), calib_nll(s, 1.0f),
               calib_ece(s, p->temperature), calib_ece(s, 1.0f));
    for (i = 0; i <= n; ++i) {
        q.unknown_below = i < n ? thresholds[i] : p->unknown_below;
        calib_coverage(s, &q, &cov, &acc);
        if (json)
            printf("%s{\"threshold\":%.4g,\"coverage\":%.6f,\"accuracy\":%.6f%s}", i ? "," : "",
                   (double)q.unknown_below, cov, acc, i == n ? ",\"model\":true" : "");
        else
            printf("  %9.2f   %8.4f   %8.4f%s\n", (double)q.unknown_below, cov, acc,
                   i == n ? "   (the model's)" : "");
    }
    if (json)
        printf("]}\n");
}
