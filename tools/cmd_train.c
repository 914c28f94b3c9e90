/*
 * `aether train`: learn a temporal model from DIR/<label>/ recordings with
 * the time-based validation split (per class, the latest recordings) and
 * write it as an RVNE blob with its metadata. With --cv / --cv-field it
 * cross-validates inside the training split instead (train_cv.c).
 */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "model_meta.h"
#include "train_common.h"
#include "aether/dataset.h"

static const struct option k_train_options[] = {
    TRAIN_COMMON_OPTIONS,
    {"out", required_argument, NULL, TOPT_OUT},
    {"epochs", required_argument, NULL, TOPT_EPOCHS},
    {"lr", required_argument, NULL, TOPT_LR},
    {"seed", required_argument, NULL, TOPT_SEED},
    {"batch", required_argument, NULL, TOPT_BATCH},
    {"threads", required_argument, NULL, TOPT_THREADS},
    {"layers", required_argument, NULL, TOPT_LAYERS},
    {"heads", required_argument, NULL, TOPT_HEADS},
    {"kv-heads", required_argument, NULL, TOPT_KV_HEADS},
    {"head-dim", required_argument, NULL, TOPT_HEAD_DIM},
    {"weight-decay", required_argument, NULL, TOPT_WEIGHT_DECAY},
    {"patience", required_argument, NULL, TOPT_PATIENCE},
    {"aug-scale", required_argument, NULL, TOPT_AUG_SCALE},
    {"aug-noise", required_argument, NULL, TOPT_AUG_NOISE},
    {"aug-offset", required_argument, NULL, TOPT_AUG_OFFSET},
    {"aug-offset-features", required_argument, NULL, TOPT_AUG_OFFSET_FEATURES},
    {"no-shift", no_argument, NULL, TOPT_NO_SHIFT},
    {"no-class-weights", no_argument, NULL, TOPT_NO_CLASS_WEIGHTS},
    {"trim-start", required_argument, NULL, TOPT_TRIM_START},
    {"keep-last", no_argument, NULL, TOPT_KEEP_LAST},
    {"augment-gain-steps", required_argument, NULL, TOPT_AUG_GAIN_STEPS},
    {"augment-copies", required_argument, NULL, TOPT_AUG_COPIES},
    {"cv", required_argument, NULL, TOPT_CV},
    {"cv-field", required_argument, NULL, TOPT_CV_FIELD},
    {"cv-score-data", required_argument, NULL, TOPT_CV_SCORE_DATA},
    {"quiet", no_argument, NULL, TOPT_QUIET},
    {NULL, 0, NULL, 0},
};

static void train_usage(FILE *f)
{
    fprintf(f, "usage: aether train [--data] DIR --labels a,b,c --out MODEL.rvne [options]\n"
               "  --out MODEL.rvne       output blob (required)\n"
               "  --epochs N (30) --lr X (0.003) --seed N (1) --batch N (32) --threads N (1)\n"
               "  --layers N (1) --heads N (4) --kv-heads N (1) --head-dim N (8)\n"
               "  --weight-decay X (0.01) --patience N (8) --aug-scale X (0.7)\n"
               "  --aug-noise X (0) --aug-offset X (0) --no-shift --no-class-weights\n"
               "  --aug-offset-features LIST  features that get --aug-offset (all)\n"
               "  --trim-start N         fit without the first N frames of each training\n"
               "                         recording (receiver gain settling after the capture\n"
               "                         starts); scoring always uses whole recordings\n"
               "  --augment-gain-steps P also train on copies of the training recordings in\n"
               "                         which the ESP32-C3's exact x2 gain steps are inserted\n"
               "                         into the raw packets (before the features): each\n"
               "                         copy first brought to its upper gain level, then\n"
               "                         every packet halved with probability q, q drawn per\n"
               "                         copy uniform in [0, P]; deterministic from --seed,\n"
               "                         the label and file name (0: off, the default)\n"
               "  --augment-copies N     gain-step copies per training recording (1)\n"
               "  --keep-last            keep the last epoch (validation only reported,\n"
               "                         not used for early stopping)\n"
               "  --cv K                 instead of training a blob: K-fold cross-validation\n"
               "                         inside the training split (per class, K blocks of\n"
               "                         recordings in time order; the validation split is\n"
               "                         never read); prints each held-out recording\n"
               "  --cv-field N           cross-validation folds by the N-th '_'-separated\n"
               "                         field of the file name instead (ESPectre: 1 = chip,\n"
               "                         i.e. leave one chip out); N is 0..16, at most 64\n"
               "                         distinct values (one fold each)\n"
               "  --cv-score-data DIR    with --cv: also score each held-out recording's\n"
               "                         namesake in DIR (e.g. a copy with gain steps\n"
               "                         inserted); models still train on --data only\n"
               "  --quiet\n"
               "  the blob records labels, pooling, window, stride, attention config,\n"
               "  feature recipe and input dim as metadata (flag bit 2)\n");
    train_usage_common(f);
}

typedef struct progress {
    int tty, quiet;
    double t0;
} progress;

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_batch(void *user, size_t epoch, size_t batch, size_t n_batches)
{
    progress *p = (progress *)user;
    size_t k, filled;
    if (!p->tty || p->quiet)
        return;
    filled = n_batches ? 30 * batch / n_batches : 30;
    fprintf(stderr, "\repoch %3zu [", epoch + 1);
    for (k = 0; k < 30; ++k)
        fputc(k < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu", batch, n_batches);
    fflush(stderr);
}

static void on_epoch(void *user, const aether_train_epoch *e)
{
    progress *p = (progress *)user;
    if (p->tty && !p->quiet)
        fprintf(stderr, "\r%60s\r", "");
    if (p->quiet)
        return;
    printf("epoch %3zu/%zu  loss %.4f  train acc %.4f  val loss %.4f  val acc %.4f  "
           "val macro-F1 %.4f  lr %.2e  %.1fs%s\n",
           e->epoch, e->epochs, e->train_loss, e->train_acc, e->val_loss, e->val_acc,
           e->val_macro_f1, e->lr, now_s() - p->t0, e->best ? "  *" : "");
    fflush(stdout);
}

/* Re-serialise *blob with the metadata record of these options (flag
 * bit 2): what run / eval need to use the model as it was trained. */
static int add_metadata(const train_opts *o, unsigned char **blob, size_t *bytes)
{
    aether_blob_view v;
    char text[AETHER_BLOB_META_MAX_TEXT];
    size_t text_len = 0, need = 0;
    unsigned char *out;
    if (aether_blob_parse(*blob, *bytes, &v) != AETHER_OK ||
        model_meta_format(text, sizeof text, &text_len, o->labels_arg, o->tc.pool, o->tc.window,
                          o->tc.stride, &o->head, o->recipe, o->input_dim) != 0 ||
        aether_blob_with_metadata_size(&v, text_len, &need) != AETHER_OK)
        return 0;
    out = (unsigned char *)malloc(need);
    if (!out || aether_blob_with_metadata(&v, text, text_len, out, need, NULL) != AETHER_OK) {
        free(out);
        return 0;
    }
    free(*blob);
    *blob = out;
    *bytes = need;
    return 1;
}

/* -1 when the command goes on, else the exit status (0 after --help or
 * --version). */
static int parse_train(int argc, char **argv, train_opts *o)
{
    cli_command c;
    int rc;
    cli_command_init(&c, "train", k_train_options, train_usage, argc, argv);
    if ((rc = train_parse_options(&c, o, 1)) >= 0)
        return rc;
    if (o->cv_field >= 0 && o->cv_folds == 0)
        o->cv_folds = 2; /* the fold count comes from the names */
    if (!o->out && o->cv_folds == 0)
        return cli_usage_error(&c, "--out MODEL.rvne (or --cv K) is required");
    if (o->cv_folds == 1)
        return cli_usage_error(&c, "--cv needs at least 2 folds");
    if (o->cv_score_data && o->cv_folds == 0)
        return cli_usage_error(&c, "--cv-score-data needs --cv K or --cv-field N");
    return -1;
}

int cmd_train(int argc, char **argv)
{
    train_opts o;
    aether_dataset ds, aug;
    aether_train_net *net = NULL;
    aether_train_recording *view = NULL;
    aether_train_callbacks cb;
    aether_train_result res;
    progress pr;
    unsigned char *blob = NULL;
    size_t bytes = 0, conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES], nw = 0, r,
           nv = 0, n_view = 0;
    aether_status st;
    int rc, err;

    if ((rc = parse_train(argc, argv, &o)) >= 0)
        return rc;
    if ((rc = train_load_data(&o, "train", &ds)) != CLI_EXIT_OK)
        return rc;
    if ((rc = train_require_training(&o, &ds, "train")) != CLI_EXIT_OK) {
        aether_dataset_free(&ds);
        return rc;
    }
    memset(&aug, 0, sizeof aug);
    if (o.cv_folds) {
        rc = train_run_cv(&o, &ds);
        aether_dataset_free(&ds);
        return rc;
    }
    view = train_fit_view(&o, &ds, &aug, &n_view, &st);
    if (view)
        st = train_make_net(&o, &ds, view, n_view, &o.tc, &net);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train: %s\n", aether_strerror(st));
        rc = cli_exit_status(st);
        goto out;
    }
    for (r = 0; r < ds.n_recs; ++r)
        nv += ds.recs[r].split == AETHER_SPLIT_VAL;
    if (!o.quiet)
        printf("data: %zu recordings (%zu train, %zu validation by recording time), %zu classes, "
               "input dim %zu\n",
               ds.n_recs, ds.n_recs - nv, nv, ds.n_classes, o.input_dim);
    pr.tty = isatty(2);
    pr.quiet = o.quiet;
    pr.t0 = now_s();
    cb.on_batch = on_batch;
    cb.on_epoch = on_epoch;
    cb.user = &pr;
    if (!o.quiet && aug.n_recs)
        printf("augmentation: %zu copies of the training recordings with x2 gain steps "
               "(rate per copy uniform in [0, %g])\n",
               aug.n_recs, o.aug_gain_steps);
    st = aether_train_fit(net, view, n_view, &o.tc, &cb, &res);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train: %s\n", aether_strerror(st));
        rc = cli_exit_status(st);
        goto out;
    }
    st = aether_train_net_blob_size(net, &bytes);
    blob = st == AETHER_OK ? (unsigned char *)malloc(bytes) : NULL;
    if (!blob || aether_train_net_serialize(net, blob, bytes, NULL) != AETHER_OK ||
        !add_metadata(&o, &blob, &bytes)) {
        fprintf(stderr, "aether train: cannot serialise the model\n");
        rc = CLI_EXIT_FAILED;
        goto out;
    }
    if ((err = cli_write_file(o.out, blob, bytes)) != 0) {
        fprintf(stderr, "aether: %s: cannot write (%s)\n", o.out, strerror(err));
        rc = CLI_EXIT_IO;
        goto out;
    }
    memset(conf, 0, sizeof conf);
    {
        size_t need = 0;
        void *ws = aether_train_example_ws_size(net, o.tc.window, &need) == AETHER_OK
                       ? malloc(need)
                       : NULL;
        aether_train_evaluate(net, ds.recs, ds.n_recs, AETHER_SPLIT_VAL, o.tc.window, o.tc.stride,
                              o.tc.pool, conf, NULL, &nw, ws, need);
        free(ws);
    }
    if (!o.quiet) {
        printf("kept epoch %zu of %zu; wrote %s (%zu bytes) in %.1fs\n", res.best_epoch,
               res.epochs_run, o.out, bytes, now_s() - pr.t0);
        if (nv)
            train_print_metrics(&o, &ds, "model", conf, nv, nw, NULL);
    }
    rc = CLI_EXIT_OK;
out:
    free(blob);
    free(view);
    aether_train_net_destroy(net);
    aether_dataset_free(&aug);
    aether_dataset_free(&ds);
    return rc;
}
