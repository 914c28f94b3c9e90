/*
 * The training loop: epochs of shuffled, augmented windows in mini-batches,
 * AdamW with warmup + cosine decay, validation after every epoch and early
 * stopping on the validation macro-F1.
 *
 * Determinism: every random draw (shuffle, offsets, augmentation) comes from
 * one seeded stream in a fixed order before a batch runs; each example
 * writes its gradient into its own slot and the slots are summed in example
 * order, so the result does not depend on the thread count.
 */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define AETHER_TRAIN_THREADS 1
#else
#define AETHER_TRAIN_THREADS 0
#endif

aether_train_config aether_train_config_default(void)
{
    aether_train_config c;
    memset(&c, 0, sizeof c);
    c.window = 64;
    c.stride = 16;
    c.pool = AETHER_POOL_LAST;
    c.epochs = 30;
    c.batch = 32;
    c.lr = 3e-3f;
    c.min_lr_frac = 0.05f;
    c.warmup_frac = 0.05f;
    c.weight_decay = 1e-2f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.grad_clip = 1.0f;
    c.seed = 1;
    c.threads = 1;
    c.patience = 8;
    c.class_weighting = 1;
    c.aug_shift = 1;
    c.aug_scale = 0.7f;
    c.energy_feature = 0;
    c.aug_noise = 0.0f;
    c.const_feature = -1;
    c.aug_offset_mask = NULL;
    c.keep_last = 0;
    return c;
}

typedef struct example {
    size_t rec, offset, len;
    float log_scale; /* ln s of the amplitude scale */
    uint64_t noise_seed;
} example;

/* Per-batch shared state handed to the workers. */
typedef struct batch_job {
    const aether_train_net *net;
    const aether_train_recording *recs;
    const aether_train_config *cfg;
    const example *ex;
    size_t n_ex;
    const float *class_w;
    float *slot_grad;   /* n_ex x n_params */
    float *slot_frames; /* per worker: window x dim */
    void *slot_ws;      /* per worker */
    size_t ws_len;
    size_t n_params, n_workers;
    double *loss;          /* n_ex */
    size_t *pred;          /* n_ex */
    aether_status *status; /* per worker */
} batch_job;

typedef struct worker_arg {
    batch_job *job;
    size_t id;
} worker_arg;

static void make_frames(const batch_job *j, const example *e, float *out)
{
    const aether_train_recording *r = &j->recs[e->rec];
    const aether_train_net *net = j->net;
    size_t dim = net->header.input_dim, t, k;
    const float *src = r->frames + e->offset * dim;
    memcpy(out, src, e->len * dim * sizeof(float));
    if (e->log_scale != 0.0f && j->cfg->energy_feature >= 0 &&
        (size_t)j->cfg->energy_feature < dim) {
        /* energy = ln(1 + P); amplitudes x s scale P by s^2 */
        size_t f = (size_t)j->cfg->energy_feature;
        double s2 = exp(2.0 * (double)e->log_scale);
        for (t = 0; t < e->len; ++t) {
            double p = expm1((double)out[t * dim + f]);
            out[t * dim + f] = (float)log1p(s2 * (p > 0.0 ? p : 0.0));
        }
    }
    if ((j->cfg->aug_noise > 0.0f || j->cfg->aug_offset > 0.0f) &&
        (net->header.flags & AETHER_BLOB_FLAG_INPUT_NORM)) {
        const float *inv = net->w + net->layout.norm_inv_std;
        aether_train_rng rng;
        aether_train_rng_seed_(&rng, e->noise_seed);
        for (k = 0; k < dim; ++k) {
            double off = (double)j->cfg->aug_offset * aether_train_rng_normal_(&rng);
            if (!(inv[k] > 0.0f) || (long)k == j->cfg->const_feature || off == 0.0 ||
                (j->cfg->aug_offset_mask && !j->cfg->aug_offset_mask[k]))
                continue;
            for (t = 0; t < e->len; ++t)
                out[t * dim + k] += (float)(off / inv[k]);
        }
        if (j->cfg->aug_noise > 0.0f)
            for (t = 0; t < e->len; ++t)
                for (k = 0; k < dim; ++k)
                    if (inv[k] > 0.0f && (long)k != j->cfg->const_feature)
                        out[t * dim + k] += (float)((double)j->cfg->aug_noise *
                                                    aether_train_rng_normal_(&rng) / inv[k]);
    }
}

static void run_worker(batch_job *j, size_t id)
{
    size_t i, C = j->net->header.n_classes;
    float *frames = j->slot_frames + id * j->cfg->window * j->net->header.input_dim;
    void *ws = (unsigned char *)j->slot_ws + id * j->ws_len;
    j->status[id] = AETHER_OK;
    for (i = id; i < j->n_ex; i += j->n_workers) {
        const example *e = &j->ex[i];
        size_t lab = j->recs[e->rec].label, c, best = 0;
        float logits[AETHER_TRAIN_MAX_CLASSES];
        float *g = j->slot_grad + i * j->n_params;
        aether_status st;
        memset(g, 0, j->n_params * sizeof(float));
        make_frames(j, e, frames);
        st = aether_train_example(j->net, frames, e->len, j->cfg->pool, lab, j->class_w[lab], g,
                                  logits, &j->loss[i], ws, j->ws_len);
        if (st != AETHER_OK) {
            j->status[id] = st;
            return;
        }
        for (c = 1; c < C; ++c)
            if (logits[c] > logits[best])
                best = c;
        j->pred[i] = best;
    }
}

#if AETHER_TRAIN_THREADS
static void *worker_main(void *p)
{
    worker_arg *a = (worker_arg *)p;
    run_worker(a->job, a->id);
    return NULL;
}
#endif

static aether_status run_batch(batch_job *j)
{
    size_t w;
#if AETHER_TRAIN_THREADS
    if (j->n_workers > 1) {
        pthread_t th[64];
        worker_arg args[64];
        size_t started = 0;
        for (w = 1; w < j->n_workers; ++w) {
            args[w].job = j;
            args[w].id = w;
            if (pthread_create(&th[w], NULL, worker_main, &args[w]) != 0)
                break;
            started = w;
        }
        /* workers that failed to start are run here, in order */
        run_worker(j, 0);
        for (w = started + 1; w < j->n_workers; ++w)
            run_worker(j, w);
        for (w = 1; w <= started; ++w)
            pthread_join(th[w], NULL);
    } else {
        run_worker(j, 0);
    }
#else
    for (w = 0; w < j->n_workers; ++w)
        run_worker(j, w);
#endif
    for (w = 0; w < j->n_workers; ++w)
        if (j->status[w] != AETHER_OK)
            return j->status[w];
    return AETHER_OK;
}

static int better(double f1, double loss, double best_f1, double best_loss)
{
    if (f1 > best_f1 + 1e-12)
        return 1;
    return fabs(f1 - best_f1) <= 1e-12 && loss < best_loss;
}

static aether_status fit(aether_train_net *net, const aether_train_recording *recs, size_t n_recs,
                         const aether_train_config *cfg, const aether_train_callbacks *cb,
                         aether_train_result *out)
{
    aether_train_config c;
    aether_train_rng rng;
    aether_adam adam;
    batch_job job;
    example *ex = NULL;
    float *best_w = NULL, *orig_w = NULL, *grad = NULL, class_w[AETHER_TRAIN_MAX_CLASSES];
    size_t n_ex = 0, cap_ex = 0, r, k, C, P, dim, epoch, step = 0, total_steps, warmup;
    size_t n_train = 0, n_val = 0, since_best = 0, workers, slots;
    size_t b_ex, b_w, b_grad, b_frames, b_ws, b_loss;
    int saved = 0;
    size_t cls_count[AETHER_TRAIN_MAX_CLASSES];
    double best_f1 = -1.0, best_loss = INFINITY;
    aether_train_result res;
    aether_status st = AETHER_OK;

    if (!net || !recs || !cfg)
        return AETHER_ERR_NULL_ARG;
    c = *cfg;
    C = net->header.n_classes;
    P = net->layout.v1_elems;
    dim = net->header.input_dim;
    if (C < 2 || C > AETHER_TRAIN_MAX_CLASSES || c.window == 0 || c.stride == 0 ||
        c.epochs == 0 || c.batch == 0 || c.seed == 0 || c.threads == 0 || c.threads > 64 ||
        (c.pool != AETHER_POOL_LAST && c.pool != AETHER_POOL_MEAN) || !(c.lr > 0.0f) ||
        isinf(c.lr) || !(c.warmup_frac >= 0.0f && c.warmup_frac <= 1.0f) ||
        !(c.aug_scale >= 0.0f) || !(c.aug_noise >= 0.0f) || !(c.aug_offset >= 0.0f))
        return AETHER_ERR_INVALID_ARG;
    memset(cls_count, 0, sizeof cls_count);
    for (r = 0; r < n_recs; ++r) {
        if (recs[r].label >= C || (recs[r].n_frames > 0 && !recs[r].frames))
            return AETHER_ERR_INVALID_ARG;
        if (recs[r].n_frames == 0)
            continue;
        if (recs[r].split == AETHER_SPLIT_TRAIN) {
            size_t nw = aether_train_eval_windows(recs[r].n_frames, c.window, c.stride);
            n_train++;
            cap_ex += nw;
            cls_count[recs[r].label] += nw;
        } else if (recs[r].split == AETHER_SPLIT_VAL) {
            n_val++;
        }
    }
    if (n_train == 0)
        return AETHER_ERR_INVALID_ARG;
    for (k = 0; k < C; ++k)
        class_w[k] = (c.class_weighting && cls_count[k] > 0)
                         ? (float)((double)cap_ex / ((double)C * (double)cls_count[k]))
                         : 1.0f;
    /* A batch never holds more examples than an epoch has: the per-example
     * slots are sized by that, so a batch larger than the data (a full
     * batch) needs no more memory than the data. */
    slots = c.batch < cap_ex ? c.batch : cap_ex;
    workers = c.threads < slots ? c.threads : slots;

    memset(&job, 0, sizeof job);
    memset(&adam, 0, sizeof adam);
    st = aether_train_example_ws_size(net, c.window, &job.ws_len);
    if (st != AETHER_OK)
        return st;
    if (job.ws_len > SIZE_MAX - 63u)
        return AETHER_ERR_OVERFLOW;
    job.ws_len = (job.ws_len + 63u) & ~(size_t)63u;
    /* Every block's size, and the step count, checked before anything is
     * allocated. */
    if (aether_size_mul(cap_ex, sizeof(example), &b_ex) != AETHER_OK ||
        aether_size_mul(P, sizeof(float), &b_w) != AETHER_OK ||
        aether_size_mul3(slots, P, sizeof(float), &b_grad) != AETHER_OK ||
        aether_size_mul3(workers, c.window, dim, &b_frames) != AETHER_OK ||
        aether_size_mul(b_frames, sizeof(float), &b_frames) != AETHER_OK ||
        aether_size_mul(workers, job.ws_len, &b_ws) != AETHER_OK ||
        aether_size_mul(slots, sizeof(double), &b_loss) != AETHER_OK ||
        aether_size_mul(c.epochs, aether_ceil_div(cap_ex, c.batch), &total_steps) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    ex = (example *)malloc(b_ex);
    best_w = (float *)malloc(b_w);
    orig_w = (float *)malloc(b_w);
    grad = (float *)malloc(b_w);
    job.slot_grad = (float *)malloc(b_grad);
    job.slot_frames = (float *)malloc(b_frames);
    job.slot_ws = malloc(b_ws);
    job.loss = (double *)malloc(b_loss);
    job.pred = (size_t *)malloc(slots * sizeof(size_t));
    job.status = (aether_status *)malloc(workers * sizeof(aether_status));
    if (!ex || !best_w || !orig_w || !grad || !job.slot_grad || !job.slot_frames ||
        !job.slot_ws || !job.loss || !job.pred || !job.status) {
        st = AETHER_ERR_NO_MEM;
        goto done;
    }
    st = aether_adam_init(&adam, P);
    if (st != AETHER_OK)
        goto done;
    memcpy(best_w, net->w, P * sizeof(float));
    memcpy(orig_w, net->w, P * sizeof(float));
    saved = 1;
    job.net = net;
    job.recs = recs;
    job.cfg = &c;
    job.class_w = class_w;
    job.n_params = P;
    job.n_workers = workers;

    aether_train_rng_seed_(&rng, c.seed ^ 0xA5A5A5A5DEADBEEFull);
    warmup = (size_t)((double)c.warmup_frac * (double)total_steps);
    memset(&res, 0, sizeof res);

    for (epoch = 0; epoch < c.epochs; ++epoch) {
        size_t b, n_batches, correct = 0;
        double loss_sum = 0.0, wsum = 0.0, lr = 0.0;
        aether_train_epoch info;
        /* this epoch's examples: every train window, at a jittered offset */
        n_ex = 0;
        for (r = 0; r < n_recs; ++r) {
            size_t nw, len, span;
            if (recs[r].split != AETHER_SPLIT_TRAIN || recs[r].n_frames == 0)
                continue;
            nw = aether_train_eval_windows(recs[r].n_frames, c.window, c.stride);
            len = recs[r].n_frames < c.window ? recs[r].n_frames : c.window;
            span = recs[r].n_frames - len;
            for (k = 0; k < nw; ++k) {
                example *e = &ex[n_ex++];
                e->rec = r;
                e->len = len;
                e->offset = c.aug_shift ? (span ? aether_train_rng_below_(&rng, span + 1) : 0)
                                        : k * c.stride;
                e->log_scale = c.aug_scale > 0.0f
                                   ? (float)((2.0 * aether_train_rng_unit_(&rng) - 1.0) *
                                             (double)c.aug_scale)
                                   : 0.0f;
                e->noise_seed = aether_train_rng_next_(&rng);
            }
        }
        for (k = n_ex; k > 1; --k) {
            size_t j = aether_train_rng_below_(&rng, k);
            example t = ex[k - 1];
            ex[k - 1] = ex[j];
            ex[j] = t;
        }
        n_batches = aether_ceil_div(n_ex, c.batch);
        for (b = 0; b < n_batches; ++b) {
            size_t first = b * c.batch, cnt = n_ex - first < c.batch ? n_ex - first : c.batch;
            double norm = 0.0, bw = 0.0;
            size_t i, p;
            job.ex = ex + first;
            job.n_ex = cnt;
            st = run_batch(&job);
            if (st != AETHER_OK)
                goto done;
            for (p = 0; p < P; ++p)
                grad[p] = 0.0f;
            for (i = 0; i < cnt; ++i) {
                const float *g = job.slot_grad + i * P;
                size_t lab = recs[job.ex[i].rec].label;
                for (p = 0; p < P; ++p)
                    grad[p] += g[p];
                loss_sum += job.loss[i];
                bw += class_w[lab];
                correct += job.pred[i] == lab;
            }
            wsum += bw;
            for (p = 0; p < P; ++p) {
                grad[p] = (float)((double)grad[p] / bw);
                norm += (double)grad[p] * (double)grad[p];
            }
            norm = sqrt(norm);
            if (c.grad_clip > 0.0f && norm > (double)c.grad_clip)
                for (p = 0; p < P; ++p)
                    grad[p] = (float)((double)grad[p] * (double)c.grad_clip / norm);
            lr = aether_lr_schedule(c.lr, step, warmup, total_steps, c.min_lr_frac);
            st = aether_adam_step(&adam, net->w, grad, (float)lr, c.beta1, c.beta2, c.eps,
                                  c.weight_decay);
            if (st != AETHER_OK)
                goto done;
            step++;
            if (cb && cb->on_batch)
                cb->on_batch(cb->user, epoch, b + 1, n_batches);
        }
        memset(&info, 0, sizeof info);
        info.epoch = epoch + 1;
        info.epochs = c.epochs;
        info.steps = step;
        info.lr = lr;
        info.train_loss = wsum > 0.0 ? loss_sum / wsum : 0.0;
        info.train_acc = n_ex ? (double)correct / (double)n_ex : 0.0;
        if (n_val > 0) {
            size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
            size_t nw = 0;
            double vl = 0.0;
            aether_metrics m;
            memset(conf, 0, sizeof conf);
            st = aether_train_evaluate(net, recs, n_recs, AETHER_SPLIT_VAL, c.window, c.stride,
                                       c.pool, conf, &vl, &nw, job.slot_ws, job.ws_len);
            if (st != AETHER_OK)
                goto done;
            aether_metrics_compute(conf, C, &m);
            info.val_loss = nw ? vl / (double)nw : 0.0;
            info.val_acc = m.accuracy;
            info.val_macro_f1 = m.macro_f1;
            info.best = c.keep_last ? 1 : better(m.macro_f1, info.val_loss, best_f1, best_loss);
        } else {
            info.best = 1;
        }
        if (info.best) {
            best_f1 = info.val_macro_f1;
            best_loss = info.val_loss;
            memcpy(best_w, net->w, P * sizeof(float));
            res.best_epoch = epoch + 1;
            since_best = 0;
        } else {
            since_best++;
        }
        res.epochs_run = epoch + 1;
        if (cb && cb->on_epoch)
            cb->on_epoch(cb->user, &info);
        if (n_val > 0 && !c.keep_last && c.patience > 0 && since_best >= c.patience)
            break;
    }
    memcpy(net->w, best_w, P * sizeof(float));
    res.best_val_macro_f1 = n_val ? best_f1 : 0.0;
    res.best_val_loss = n_val ? best_loss : 0.0;
    if (out)
        *out = res;
done:
    if (st != AETHER_OK && saved)
        memcpy(net->w, orig_w, P * sizeof(float)); /* unchanged on error */
    aether_adam_free(&adam);
    free(ex);
    free(best_w);
    free(orig_w);
    free(grad);
    free(job.slot_grad);
    free(job.slot_frames);
    free(job.slot_ws);
    free(job.loss);
    free(job.pred);
    free(job.status);
    return st;
}

/* The weights must not depend on the CPU: the optimised kernels round
 * differently on each ISA, so training always runs the scalar reference
 * kernels (the definition of the arithmetic) and then restores the mode. */
aether_status aether_train_fit(aether_train_net *net, const aether_train_recording *recs,
                               size_t n_recs, const aether_train_config *cfg,
                               const aether_train_callbacks *cb, aether_train_result *out)
{
    aether_kernel_mode saved = aether_train_reference_begin_();
    aether_status st = fit(net, recs, n_recs, cfg, cb, out);
    aether_train_reference_end_(saved);
    return st;
}
