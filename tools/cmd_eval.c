/*
 * `aether eval`: score a model blob on DIR/<label>/ recordings through the
 * model API (its normalisation and the head's kernel exactly as inference
 * runs them). `aether baseline`: score a logistic-regression baseline on
 * window summary statistics. Both on the time-based validation split of
 * `aether train` (per class, the latest recordings), or on every recording.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate.h"
#include "commands.h"
#include "model_load.h"
#include "model_meta.h"
#include "train_common.h"
#include "aether/dataset.h"
#include "aether/dispatch.h"

static const struct option k_eval_options[] = {
    TRAIN_COMMON_OPTIONS,
    {"model", required_argument, NULL, TOPT_MODEL},
    {"all", no_argument, NULL, TOPT_ALL},
    {"per-file", no_argument, NULL, TOPT_PER_FILE},
    {"json", no_argument, NULL, TOPT_JSON},
    {"calibrate", no_argument, NULL, TOPT_CALIBRATE},
    {"target-accuracy", required_argument, NULL, TOPT_TARGET_ACCURACY},
    {"out", required_argument, NULL, TOPT_OUT},
    {NULL, 0, NULL, 0},
};

static const struct option k_baseline_options[] = {
    TRAIN_COMMON_OPTIONS,
    {"probe-means", no_argument, NULL, TOPT_PROBE_MEANS},
    {"cv", required_argument, NULL, TOPT_CV},
    {"cv-score-data", required_argument, NULL, TOPT_CV_SCORE_DATA},
    {"all", no_argument, NULL, TOPT_ALL},
    {"json", no_argument, NULL, TOPT_JSON},
    {NULL, 0, NULL, 0},
};

static void eval_usage(FILE *f)
{
    fprintf(f, "usage: aether eval --model MODEL.rvne [--data] DIR [--labels a,b,c] [options]\n"
               "  --model MODEL.rvne     blob to score (required); an RVNQ blob\n"
               "                         (aether quantize) runs the integer model\n"
               "  --all                  score every recording, not only validation\n"
               "  --per-file             each recording's windows and its whole-recording\n"
               "                         decisions (majority vote, mean probability)\n"
               "  --json                 machine-readable output\n"
               "  --calibrate --out M.rvne  fit the temperature and the unknown threshold\n"
               "                         on the scored windows and write the model with\n"
               "                         them in its metadata (README: Calibrated decisions)\n"
               "  --target-accuracy A    accuracy the threshold aims at (0.95), keeping\n"
               "                         at least 80 %% of the windows decided\n"
               "  labels, pool, window, stride, attention config and feature recipe\n"
               "  default to the blob's metadata; options given here win. The report ends\n"
               "  with coverage and accuracy under the model's calibration.\n");
    train_usage_common(f);
}

static void baseline_usage(FILE *f)
{
    fprintf(f, "usage: aether baseline [--data] DIR --labels a,b,c [options]\n"
               "  --probe-means          only per-subcarrier mean levels (session probe)\n"
               "  --cv K                 K-fold cross-validation by time blocks inside the\n"
               "                         training split, the folds of `aether train --cv K`\n"
               "                         (the validation split is never read)\n"
               "  --cv-score-data DIR    with --cv: score each held-out recording's namesake\n"
               "                         in DIR instead (fitted on --data only)\n"
               "  --all                  score every recording, not only validation\n"
               "  --json                 machine-readable output\n");
    train_usage_common(f);
}

/* -1 when the command goes on, else the exit status (0 after --help or
 * --version). */
static int parse(int argc, char **argv, const char *name, const struct option *table,
                 void (*usage)(FILE *f), int labels_required, train_opts *o)
{
    cli_command c;
    int rc;
    cli_command_init(&c, name, table, usage, argc, argv);
    rc = train_parse_options(&c, o, labels_required);
    if (rc < 0 && !strcmp(name, "eval") && !o->model)
        return cli_usage_error(&c, "--model MODEL.rvne is required");
    if (rc < 0 && !strcmp(name, "eval") && o->calibrate != (o->out != NULL))
        return cli_usage_error(&c, "--calibrate and --out OUT.rvne go together");
    if (rc < 0 && o->cv_folds == 1)
        return cli_usage_error(&c, "--cv needs at least 2 folds");
    if (rc < 0 && o->cv_score_data && o->cv_folds == 0)
        return cli_usage_error(&c, "--cv-score-data needs --cv K");
    return rc;
}

/* ------------------------------ eval ------------------------------ */

/* Defaults from the blob's metadata for what the command line left out;
 * 0, or an exit status after a message. */
static int apply_metadata(train_opts *o, const aether_blob_view *v, const aether_qblob_view *qv,
                          aether_decision_params *calibration)
{
    model_meta mm;
    char err[256];
    if ((qv ? model_meta_read_q(qv, &mm, err, sizeof err)
            : model_meta_read(v, &mm, err, sizeof err)) != 0) {
        fprintf(stderr, "aether eval: %s: %s\n", o->model, err);
        return CLI_EXIT_MALFORMED;
    }
    *calibration = mm.decision;
    if (!o->labels_arg && mm.have_labels) {
        o->labels_arg = mm.labels;
        if (train_split_labels(o) != 0) {
            fprintf(stderr, "aether eval: %s: metadata labels unusable\n", o->model);
            return CLI_EXIT_MALFORMED;
        }
    }
    if (!o->labels_arg) {
        fprintf(stderr, "aether eval: --labels is required (the blob has no labels metadata)\n");
        return CLI_EXIT_USAGE;
    }
    if (!o->have_pool && mm.have_pool)
        o->tc.pool = mm.pool;
    if (!o->have_window && mm.have_window_frames)
        o->tc.window = mm.window_frames;
    if (!o->have_stride && mm.have_window_stride)
        o->tc.stride = mm.window_stride;
    if (!o->have_attn_window && mm.have_attn_window)
        o->head.window = mm.attn_window;
    if (!o->have_block && mm.have_attn_block)
        o->head.block_size = mm.attn_block;
    if (!o->have_backend && mm.have_backend)
        o->head.backend = mm.backend;
    if (!o->have_recipe && mm.have_recipe)
        o->recipe = mm.recipe;
    return CLI_EXIT_OK;
}

/* The blob v with temperature and unknown_below set in its metadata (other
 * keys kept) written to path; 0 or an exit status after a message. */
static int write_calibrated(const char *path, const aether_blob_view *v,
                            const aether_decision_params *p)
{
    aether_blob_metadata m;
    char text[AETHER_BLOB_META_MAX_TEXT + 1];
    size_t len = 0, i, need = 0, wrote = 0;
    unsigned char *out;
    aether_status st = aether_blob_metadata_get(v, &m);
    int err;
    for (i = 0; st == AETHER_OK && i < m.n_entries; ++i) {
        const char *key, *val;
        size_t kl, vl;
        st = aether_blob_metadata_entry(&m, i, &key, &kl, &val, &vl);
        if (st != AETHER_OK || (kl == 11 && !memcmp(key, "temperature", 11)) ||
            (kl == 13 && !memcmp(key, "unknown_below", 13)) ||
            (kl == 9 && !memcmp(key, "ood_above", 9)))
            continue;
        if (len + kl + vl + 2 >= sizeof text) {
            st = AETHER_ERR_BUFFER_TOO_SMALL;
            break;
        }
        memcpy(text + len, key, kl);
        text[len + kl] = '=';
        memcpy(text + len + kl + 1, val, vl);
        text[len + kl + 1 + vl] = '\n';
        len += kl + vl + 2;
    }
    if (st == AETHER_OK) {
        int n = snprintf(text + len, sizeof text - len,
                         "temperature=%.4g\nunknown_below=%.2f\nood_above=%.4g\n",
                         (double)p->temperature, (double)p->unknown_below, (double)p->ood_above);
        if (n < 0 || (size_t)n >= sizeof text - len)
            st = AETHER_ERR_BUFFER_TOO_SMALL;
        else
            len += (size_t)n;
    }
    if (st == AETHER_OK)
        st = aether_blob_with_metadata_size(v, len, &need);
    out = st == AETHER_OK ? (unsigned char *)malloc(need) : NULL;
    if (out)
        st = aether_blob_with_metadata(v, text, len, out, need, &wrote);
    if (st != AETHER_OK || !out) {
        fprintf(stderr, "aether eval --calibrate: cannot add the calibration: %s\n",
                aether_strerror(out ? st : AETHER_ERR_NO_MEM));
        free(out);
        return out ? cli_exit_status(st) : CLI_EXIT_FAILED;
    }
    if ((err = cli_write_file(path, out, wrote)) != 0) {
        fprintf(stderr, "aether eval --calibrate: cannot write %s: %s\n", path, strerror(err));
        free(out);
        return CLI_EXIT_IO;
    }
    free(out);
    return CLI_EXIT_OK;
}

/* psum[c] += softmax(logits)[c], in double. */
static void add_softmax(const float *logits, size_t C, double *psum)
{
    double mx = (double)logits[0], z = 0.0, e[AETHER_TRAIN_MAX_CLASSES];
    size_t c;
    for (c = 1; c < C; ++c)
        if ((double)logits[c] > mx)
            mx = (double)logits[c];
    for (c = 0; c < C; ++c) {
        e[c] = exp((double)logits[c] - mx);
        z += e[c];
    }
    for (c = 0; c < C; ++c)
        psum[c] += e[c] / z;
}

/* One decision per recording: the class most windows chose (a tie goes to
 * the tied class with the larger summed probability, then the lower
 * index), and the class of the largest mean probability (lower index on a
 * tie). */
static void recording_decisions(const size_t *votes, const double *psum, size_t C,
                                size_t *by_vote, size_t *by_prob)
{
    size_t c, v = 0, p = 0;
    for (c = 1; c < C; ++c) {
        if (votes[c] > votes[v] || (votes[c] == votes[v] && psum[c] > psum[v]))
            v = c;
        if (psum[c] > psum[p])
            p = c;
    }
    *by_vote = v;
    *by_prob = p;
}

int cmd_eval(int argc, char **argv)
{
    train_opts o;
    aether_dataset ds;
    aether_blob_view view;
    aether_qblob_view qview;
    aether_model *model = NULL;
    aether_qmodel *qmodel = NULL;
    void *qbuf = NULL;
    int quant;
    unsigned char *blob;
    size_t len = 0, r, k, C, n_rec = 0, n_win = 0, need = 0;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    void *ws = NULL;
    train_rec_metrics recm;
    aether_status st;
    aether_decision_params calibration = aether_decision_params_default();
    calib_set cs;
    int rc;

    if ((rc = parse(argc, argv, "eval", k_eval_options, eval_usage, 0, &o)) >= 0)
        return rc;
    blob = cli_read_file(o.model, &len);
    if (!blob)
        return cli_read_error(o.model, errno);
    /* An RVNQ blob (aether/quant.h) is scored through the integer model. */
    memset(&cs, 0, sizeof cs);
    quant = aether_qblob_is(blob, len);
    st = quant ? aether_qblob_parse(blob, len, &qview) : aether_blob_parse(blob, len, &view);
    if (quant && st == AETHER_OK)
        view.header = qview.header;
    /* the calibration goes into a shipped blob: computed with the scalar
     * reference kernels, the definition, so that its bytes do not depend on
     * the CPU (as training's) */
    if (o.calibrate)
        (void)aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    if (quant && o.calibrate) {
        fprintf(stderr,
                "aether eval --calibrate: %s is a quantized blob: calibrate the f32 model "
                "before `aether quantize`, which keeps its metadata\n",
                o.model);
        free(blob);
        return CLI_EXIT_USAGE;
    }
    if (st == AETHER_OK &&
        (rc = apply_metadata(&o, &view, quant ? &qview : NULL, &calibration)) != CLI_EXIT_OK) {
        free(blob);
        return rc;
    }
    if (st == AETHER_OK) {
        o.head.q_heads = view.header.n_q_heads;
        o.head.kv_heads = view.header.n_kv_heads;
        o.head.head_dim = view.header.head_dim;
        if (!quant) {
            st = aether_model_create(&view, &o.head, AETHER_MODEL_COPY, &model);
        } else {
            size_t qn = 0;
            st = aether_qmodel_size(&qview, &o.head, &qn);
            if (st == AETHER_OK && !(qbuf = malloc(qn)))
                st = AETHER_ERR_NO_MEM;
            if (st == AETHER_OK)
                st = aether_qmodel_init(qbuf, qn, &qview, &o.head, &qmodel);
        }
    }
    if (st != AETHER_OK) {
        model_meta mm;
        char err[256];
        rc = cli_exit_status(st);
        /* an attention configuration that does not validate: 2 when the
         * options made it so, 4 when the blob's metadata did */
        if (rc == CLI_EXIT_USAGE &&
            (quant ? model_meta_read_q(&qview, &mm, err, sizeof err)
                   : model_meta_read(&view, &mm, err, sizeof err)) == 0)
            rc = model_load_config_blame(&view, &mm);
        fprintf(stderr, "aether eval: %s: %s%s\n", o.model,
                rc == CLI_EXIT_MALFORMED && cli_exit_status(st) == CLI_EXIT_USAGE
                    ? "its metadata's attention configuration: "
                    : "",
                aether_strerror(st));
        free(qbuf);
        free(blob);
        return rc;
    }
    o.input_dim = view.header.input_dim;
    if ((rc = train_load_data(&o, "eval", &ds)) != CLI_EXIT_OK)
        goto out_model;
    C = ds.n_classes;
    if (C != view.header.n_classes) {
        fprintf(stderr, "aether eval: the model has %u classes, --labels gives %zu\n",
                (unsigned)view.header.n_classes, C);
        rc = CLI_EXIT_MISFIT;
        goto out;
    }
    memset(conf, 0, sizeof conf);
    memset(&recm, 0, sizeof recm);
    for (r = 0; r < ds.n_recs; ++r)
        if (o.all || ds.recs[r].split == AETHER_SPLIT_VAL)
            n_win += aether_train_eval_windows(ds.recs[r].n_frames, o.tc.window, o.tc.stride);
    st = quant ? aether_qmodel_forward_workspace_size(qmodel, o.tc.window, &need)
               : aether_model_forward_workspace_size(model, o.tc.window, &need);
    ws = st == AETHER_OK ? malloc(need) : NULL;
    if (ws && calib_set_init(&cs, C, n_win) != 0) {
        free(ws);
        ws = NULL;
        st = AETHER_ERR_NO_MEM;
    }
    n_win = 0;
    if (!ws) {
        fprintf(stderr, "aether eval: workspace for a %zu-frame window: %s\n", o.tc.window,
                aether_strerror(st == AETHER_OK ? AETHER_ERR_NO_MEM : st));
        rc = st == AETHER_OK ? CLI_EXIT_FAILED : cli_exit_status(st);
        goto out;
    }
    /* scored through the model API: the blob's normalisation and the
     * head's kernel exactly as inference runs them */
    for (r = 0; r < ds.n_recs; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw, right = 0, votes[AETHER_TRAIN_MAX_CLASSES], by_vote, by_prob;
        double psum[AETHER_TRAIN_MAX_CLASSES];
        if (!o.all && rec->split != AETHER_SPLIT_VAL)
            continue;
        n_rec++;
        nw = aether_train_eval_windows(rec->n_frames, o.tc.window, o.tc.stride);
        if (o.per_file && !o.json)
            printf("%-44s %-12s", rec->name, ds.labels[rec->label]);
        memset(votes, 0, sizeof votes);
        memset(psum, 0, sizeof psum);
        for (k = 0; k < nw; ++k) {
            float logits[AETHER_TRAIN_MAX_CLASSES], distance = -1.0f;
            size_t n = rec->n_frames < o.tc.window ? rec->n_frames : o.tc.window, c, best = 0;
            const float *x = rec->frames + k * o.tc.stride * o.input_dim;
            st = quant ? aether_qmodel_forward(qmodel, x, n, o.tc.pool, logits, ws, need)
                       : aether_model_forward(model, x, n, o.tc.pool, logits, NULL, ws, need);
            if (st != AETHER_OK) {
                fprintf(stderr, "aether eval: %s: %s\n", rec->name, aether_strerror(st));
                rc = cli_exit_status(st);
                goto out;
            }
            for (c = 1; c < C; ++c)
                if (logits[c] > logits[best])
                    best = c;
            conf[rec->label * C + best]++;
            if (aether_model_input_distance(model, x, n, &distance) != AETHER_OK)
                distance = -1.0f;
            (void)calib_set_add(&cs, logits, rec->label, distance); /* NaN logits: left out */
            n_win++;
            right += best == rec->label;
            votes[best]++;
            add_softmax(logits, C, psum);
            if (o.per_file && !o.json)
                printf(" %c", best == rec->label ? '.' : (char)('0' + best % 10));
        }
        recording_decisions(votes, psum, C, &by_vote, &by_prob);
        recm.vote[rec->label * C + by_vote]++;
        recm.mean_prob[rec->label * C + by_prob]++;
        recm.have_mean_prob = 1;
        if (o.per_file && !o.json)
            printf("   %zu/%zu  vote %s  mean-p %s\n", right, nw, ds.labels[by_vote],
                   ds.labels[by_prob]);
    }
    train_print_metrics(&o, &ds, "model", conf, n_rec, n_win, &recm);
    rc = CLI_EXIT_OK;
    if (o.calibrate) {
        calibration.temperature = calib_fit_temperature(&cs);
        calibration.unknown_below = calib_pick_threshold(&cs, calibration.temperature,
                                                         o.target_accuracy, 0.8);
        calibration.ood_above = calib_fit_ood(&cs);
        rc = write_calibrated(o.out, &view, &calibration);
    }
    calib_print_report(&cs, &calibration, o.json);
out:
    calib_set_free(&cs);
    free(ws);
    aether_dataset_free(&ds);
out_model:
    aether_model_destroy(model);
    free(qbuf);
    free(blob);
    return rc;
}

/* ------------------------------ baseline ------------------------------ */

#define BASE_GROUPS 8u

/* Summary statistics of one window of gain-normalised tone amplitudes:
 * per group of contiguous tones the mean level and the temporal std of the
 * group mean, plus the mean over tones of the temporal std and of |delta|
 * (the approach of threshold / logistic CSI motion detectors). With
 * probe_means: only each tone's mean level. */
static size_t summary_dim(int probe_means)
{
    return probe_means ? AETHER_DATASET_TONES : 2 * BASE_GROUPS + 2;
}

static void summary(const float *tones, size_t n, int probe_means, float *out)
{
    size_t T = AETHER_DATASET_TONES, t, k, g;
    if (probe_means) {
        for (k = 0; k < T; ++k) {
            double s = 0.0;
            for (t = 0; t < n; ++t)
                s += tones[t * T + k];
            out[k] = (float)(s / (double)n);
        }
        return;
    }
    for (g = 0; g < BASE_GROUPS; ++g) {
        size_t k0 = T * g / BASE_GROUPS, k1 = T * (g + 1) / BASE_GROUPS;
        double s = 0.0, s2 = 0.0;
        for (t = 0; t < n; ++t) {
            double gm = 0.0;
            for (k = k0; k < k1; ++k)
                gm += tones[t * T + k];
            gm /= (double)(k1 - k0);
            s += gm;
            s2 += gm * gm;
        }
        s /= (double)n;
        out[2 * g] = (float)s;
        out[2 * g + 1] = (float)sqrt(fmax(0.0, s2 / (double)n - s * s));
    }
    {
        double sd = 0.0, dd = 0.0;
        for (k = 0; k < T; ++k) {
            double s = 0.0, s2 = 0.0, d = 0.0;
            for (t = 0; t < n; ++t) {
                double v = tones[t * T + k];
                s += v;
                s2 += v * v;
                if (t > 0)
                    d += fabs(v - tones[(t - 1) * T + k]);
            }
            s /= (double)n;
            sd += sqrt(fmax(0.0, s2 / (double)n - s * s));
            dd += n > 1 ? d / (double)(n - 1) : 0.0;
        }
        out[2 * BASE_GROUPS] = (float)(sd / (double)T);
        out[2 * BASE_GROUPS + 1] = (float)(dd / (double)T);
    }
}

/* Fit the regression on the windows of the recordings with bit 1 of use[r]
 * and score those with bit 2: window confusion into conf, majority vote per
 * recording into recm; counts added to *n_rec, *n_win. */
static aether_status fit_and_score(const train_opts *o, const aether_dataset *ds,
                                   const aether_dataset *alt, const int *use, size_t *conf,
                                   train_rec_metrics *recm, size_t *n_rec, size_t *n_win)
{
    aether_logreg lr;
    float *x = NULL, row[AETHER_DATASET_TONES + 2 * BASE_GROUPS + 2];
    size_t *y = NULL, n = 0, cap = 0, r, k, D = summary_dim(o->probe_means), C = ds->n_classes;
    aether_status st;
    for (r = 0; r < ds->n_recs; ++r)
        if (use[r] & 1)
            cap += aether_train_eval_windows(ds->recs[r].n_frames, o->tc.window, o->tc.stride);
    x = (float *)malloc((cap ? cap : 1) * D * sizeof(float));
    y = (size_t *)malloc((cap ? cap : 1) * sizeof(size_t));
    if (!x || !y) {
        free(x);
        free(y);
        return AETHER_ERR_NO_MEM;
    }
    for (r = 0; r < ds->n_recs; ++r) {
        const aether_train_recording *rec = &ds->recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, o->tc.window, o->tc.stride);
        if (!(use[r] & 1))
            continue;
        for (k = 0; k < nw; ++k) {
            size_t len = rec->n_frames < o->tc.window ? rec->n_frames : o->tc.window;
            summary(ds->tones[r] + k * o->tc.stride * AETHER_DATASET_TONES, len, o->probe_means,
                    x + n * D);
            y[n++] = rec->label;
        }
    }
    st = aether_logreg_fit(&lr, x, y, n, D, C, 1e-3f, 500);
    free(x);
    free(y);
    if (st != AETHER_OK)
        return st;
    for (r = 0; r < ds->n_recs; ++r) {
        const aether_train_recording *rec = &ds->recs[r];
        const float *tones = ds->tones[r];
        size_t nw, votes[AETHER_TRAIN_MAX_CLASSES], c, best = 0, q;
        if (!(use[r] & 2))
            continue;
        if (alt) { /* score the namesake in --cv-score-data instead */
            for (q = 0; q < alt->n_recs; ++q)
                if (alt->recs[q].label == rec->label && !strcmp(alt->recs[q].name, rec->name))
                    break;
            if (q == alt->n_recs)
                continue;
            rec = &alt->recs[q];
            tones = alt->tones[q];
        }
        nw = aether_train_eval_windows(rec->n_frames, o->tc.window, o->tc.stride);
        (*n_rec)++;
        memset(votes, 0, sizeof votes);
        for (k = 0; k < nw; ++k) {
            size_t len = rec->n_frames < o->tc.window ? rec->n_frames : o->tc.window, p;
            summary(tones + k * o->tc.stride * AETHER_DATASET_TONES, len, o->probe_means, row);
            p = aether_logreg_predict(&lr, row);
            conf[rec->label * C + p]++;
            votes[p]++;
            (*n_win)++;
        }
        for (c = 1; c < C; ++c) /* a tie goes to the lower index */
            if (votes[c] > votes[best])
                best = c;
        recm->vote[rec->label * C + best]++;
    }
    aether_logreg_free(&lr);
    return AETHER_OK;
}

int cmd_baseline(int argc, char **argv)
{
    train_opts o;
    aether_dataset ds;
    size_t r, f, C, K, n_rec = 0, n_win = 0, *fold = NULL;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    train_rec_metrics recm;
    int *use = NULL;
    aether_dataset alt_ds, *alt = NULL;
    const char *what;
    aether_status st = AETHER_OK;
    int rc, folds_ok = 1;

    if ((rc = parse(argc, argv, "baseline", k_baseline_options, baseline_usage, 1, &o)) >= 0)
        return rc;
    if ((rc = train_load_data(&o, "baseline", &ds)) != CLI_EXIT_OK)
        return rc;
    if ((rc = train_require_training(&o, &ds, "baseline")) != CLI_EXIT_OK) {
        aether_dataset_free(&ds);
        return rc;
    }
    C = ds.n_classes;
    K = o.cv_folds;
    what = o.probe_means ? "mean-level probe" : "baseline";
    memset(conf, 0, sizeof conf);
    memset(&recm, 0, sizeof recm);
    use = (int *)malloc((ds.n_recs ? ds.n_recs : 1) * sizeof(int));
    fold = (size_t *)malloc((ds.n_recs ? ds.n_recs : 1) * sizeof(size_t));
    if (K && o.cv_score_data) {
        train_opts ao = o;
        ao.data = o.cv_score_data;
        if ((rc = train_load_data(&ao, "baseline --cv-score-data", &alt_ds)) != CLI_EXIT_OK) {
            free(use);
            free(fold);
            aether_dataset_free(&ds);
            return rc;
        }
        alt = &alt_ds;
    }
    if (!use || !fold) {
        st = AETHER_ERR_NO_MEM;
    } else if (K == 0) {
        for (r = 0; r < ds.n_recs; ++r)
            use[r] = (ds.recs[r].split == AETHER_SPLIT_TRAIN ? 1 : 0) |
                     (o.all || ds.recs[r].split == AETHER_SPLIT_VAL ? 2 : 0);
        st = fit_and_score(&o, &ds, NULL, use, conf, &recm, &n_rec, &n_win);
    } else if ((rc = train_cv_check_folds(&ds, K, "baseline --cv")) != CLI_EXIT_OK) {
        folds_ok = 0; /* said why; rc is its status */
    } else {
        train_cv_assign_folds(&ds, K, fold);
        for (f = 0; f < K && st == AETHER_OK; ++f) {
            size_t fconf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES], nr = 0, nw = 0, k;
            train_rec_metrics frec;
            aether_metrics m;
            memset(fconf, 0, sizeof fconf);
            memset(&frec, 0, sizeof frec);
            for (r = 0; r < ds.n_recs; ++r)
                use[r] = ds.recs[r].split != AETHER_SPLIT_TRAIN ? 0 : fold[r] == f ? 2 : 1;
            st = fit_and_score(&o, &ds, alt, use, fconf, &frec, &nr, &nw);
            if (st != AETHER_OK)
                break;
            aether_metrics_compute(fconf, C, &m);
            if (!o.json)
                printf("fold %zu: %zu recordings, %zu windows, accuracy %.4f  macro-F1 %.4f\n",
                       f + 1, nr, nw, m.accuracy, m.macro_f1);
            for (k = 0; k < C * C; ++k) {
                conf[k] += fconf[k];
                recm.vote[k] += frec.vote[k];
            }
            n_rec += nr;
            n_win += nw;
        }
    }
    if (!folds_ok) {
        /* rc from train_cv_check_folds */
    } else if (st != AETHER_OK) {
        fprintf(stderr, "aether baseline: %s\n", aether_strerror(st));
        rc = cli_exit_status(st);
    } else {
        train_print_metrics(&o, &ds, what, conf, n_rec, n_win, &recm);
        rc = CLI_EXIT_OK;
    }
    free(use);
    free(fold);
    if (alt)
        aether_dataset_free(alt);
    aether_dataset_free(&ds);
    return rc;
}
