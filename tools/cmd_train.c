/*
 * `aether train`, `aether eval`, `aether baseline`: learn a temporal model
 * from DIR/<label>/ recordings, score it, and score a logistic-regression
 * baseline on window summary statistics, all on the same time-based
 * validation split (per class, the latest recordings).
 */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aether/features.h"
#include "aether/model.h"
#include "aether/train.h"
#include "cli_util.h"
#include "commands.h"
#include "model_meta.h"

typedef struct opts {
    const char *data, *out, *model, *labels_arg, *features_arg;
    char *labels[AETHER_TRAIN_MAX_CLASSES];
    char labels_buf[1024];
    size_t n_labels;
    aether_train_config tc;
    aether_head_config head;
    size_t input_dim, layers, heads, kv_heads, head_dim;
    double val_frac;
    int json, all, quiet, probe_means, have_window, have_stride, per_file;
    size_t cv_folds; /* train --cv K: cross-validation inside the training split */
    long cv_field;   /* --cv-field N: folds by the N-th '_' field of the file name */
    size_t trim_start; /* --trim-start N: frames dropped from each training recording's start */
    int have_pool, have_attn_window, have_block, have_backend, have_recipe;
    unsigned recipe; /* feature recipe, AETHER_FEATURES_V1 / _V2 */
    unsigned char mask[AETHER_FEATURES_MAX_DIM];
    int have_mask;
    const char *offset_arg; /* --aug-offset-features */
    unsigned char offset_mask[AETHER_FEATURES_MAX_DIM];
} opts;

static void train_usage(FILE *f, const char *cmd)
{
    fprintf(f, "usage: aether %s --data DIR --labels a,b,c [options]\n", cmd);
    if (!strcmp(cmd, "train"))
        fprintf(f, "  --out MODEL.rvne       output blob (required)\n"
                   "  --epochs N (30) --lr X (0.003) --seed N (1) --batch N (32) --threads N (1)\n"
                   "  --layers N (1) --heads N (4) --kv-heads N (1) --head-dim N (8)\n"
                   "  --weight-decay X (0.01) --patience N (8) --aug-scale X (0.7)\n"
                   "  --aug-noise X (0) --aug-offset X (0) --no-shift --no-class-weights\n"
                   "  --aug-offset-features LIST  features that get --aug-offset (all)\n"
                   "  --trim-start N         fit without the first N frames of each training\n"
                   "                         recording (receiver gain settling after the capture\n"
                   "                         starts); scoring always uses whole recordings\n"
                   "  --keep-last            keep the last epoch (validation only reported,\n"
                   "                         not used for early stopping)\n"
                   "  --cv K                 instead of training a blob: K-fold cross-validation\n"
                   "                         inside the training split (per class, K blocks of\n"
                   "                         recordings in time order; the validation split is\n"
                   "                         never read); prints each held-out recording\n"
                   "  --cv-field N           cross-validation folds by the N-th '_'-separated\n"
                   "                         field of the file name instead (ESPectre: 1 = chip,\n"
                   "                         i.e. leave one chip out)\n"
                   "  --quiet\n"
                   "  the blob records labels, pooling, window, stride, attention config,\n"
                   "  feature recipe and input dim as metadata (flag bit 2)\n");
    if (!strcmp(cmd, "eval"))
        fprintf(f, "  --model MODEL.rvne     blob to score (required)\n"
                   "  --all                  score every recording, not only validation\n"
                   "  --per-file             correct windows of each recording\n"
                   "  --json                 machine-readable output\n"
                   "  labels, pool, window, stride, attention config and feature recipe\n"
                   "  default to the blob's metadata; options given here win\n");
    if (!strcmp(cmd, "baseline"))
        fprintf(f, "  --probe-means          only per-subcarrier mean levels (session probe)\n"
                   "  --json                 machine-readable output\n");
    fprintf(f, "common options:\n"
               "  DIR/<label>/ holds .npz or .csi.jsonl recordings of that label\n"
               "  --window N (64) --stride N (16)  frames per window / between windows\n"
               "  --pool last|mean (last)   --input-dim D (16)   --val-frac F (0.25)\n"
               "  --features LIST        feature indices the model sees, e.g. 1-5,11-15\n"
               "                         (others are masked through the blob's normalisation)\n"
               "  --backend sparse|dense --attn-window N (32) --block N (16)\n"
               "  --recipe csi-v1|csi-v2|csi-v3 (csi-v1)  feature recipe (aether/features.h)\n"
               "validation: per class, the last val-frac of the recordings in recording-time\n"
               "order (npz collected_at, else the file name's timestamp).\n"
               "exit status: 0 ok, 2 usage, 3 I/O error, 4 invalid data or model\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s)
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && !*end && isfinite(*out);
}

static int split_labels(opts *o)
{
    char *p, *tok;
    if (strlen(o->labels_arg) >= sizeof o->labels_buf)
        return 0;
    strcpy(o->labels_buf, o->labels_arg);
    o->n_labels = 0;
    for (p = o->labels_buf; p;) {
        tok = p;
        p = strchr(p, ',');
        if (p)
            *p++ = '\0';
        if (!*tok || o->n_labels == AETHER_TRAIN_MAX_CLASSES)
            return 0;
        o->labels[o->n_labels++] = tok;
    }
    return o->n_labels >= 2;
}

/* "1-5,11,13-15" -> mask over input_dim features. */
static int parse_list(const opts *o, const char *s, unsigned char *mask)
{
    memset(mask, 0, AETHER_FEATURES_MAX_DIM);
    while (*s) {
        char *end;
        unsigned long a, b;
        errno = 0;
        a = strtoul(s, &end, 10);
        if (end == s || errno)
            return 0;
        b = a;
        s = end;
        if (*s == '-') {
            b = strtoul(s + 1, &end, 10);
            if (end == s + 1 || errno)
                return 0;
            s = end;
        }
        if (a > b || b >= o->input_dim)
            return 0;
        for (; a <= b; ++a)
            mask[a] = 1;
        if (*s == ',')
            s++;
        else if (*s)
            return 0;
    }
    return 1;
}

static int parse_mask(opts *o)
{
    o->have_mask = parse_list(o, o->features_arg, o->mask);
    return o->have_mask;
}

static int parse_opts(int argc, char **argv, const char *cmd, opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->tc = aether_train_config_default();
    o->head = aether_head_config_default_aether();
    o->input_dim = AETHER_FEATURES_DEFAULT_DIM;
    o->layers = 1;
    o->heads = 4;
    o->kv_heads = 1;
    o->head_dim = 8;
    o->val_frac = 0.25;
    o->recipe = AETHER_FEATURES_V1;
    o->cv_field = -1;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t z;
        double d;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_usage(stdout, cmd);
            exit(0);
        }
        if (!strcmp(a, "--json")) { o->json = 1; continue; }
        if (!strcmp(a, "--all")) { o->all = 1; continue; }
        if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
        if (!strcmp(a, "--probe-means")) { o->probe_means = 1; continue; }
        if (!strcmp(a, "--per-file")) { o->per_file = 1; continue; }
        if (!strcmp(a, "--keep-last")) { o->tc.keep_last = 1; continue; }
        if (!strcmp(a, "--no-shift")) { o->tc.aug_shift = 0; continue; }
        if (!strcmp(a, "--no-class-weights")) { o->tc.class_weighting = 0; continue; }
        if (!v) {
            fprintf(stderr, "aether %s: %s needs a value (or is unknown)\n", cmd, a);
            return 0;
        }
        i++;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--out")) o->out = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--labels")) o->labels_arg = v;
        else if (!strcmp(a, "--features")) o->features_arg = v;
        else if (!strcmp(a, "--aug-offset-features")) o->offset_arg = v;
        else if (!strcmp(a, "--recipe")) {
            if (aether_features_recipe_parse(v, &o->recipe) != AETHER_OK) {
                fprintf(stderr, "aether %s: --recipe is csi-v1, csi-v2 or csi-v3\n", cmd);
                return 0;
            }
            o->have_recipe = 1;
        } else if (!strcmp(a, "--pool")) {
            o->have_pool = 1;
            if (!strcmp(v, "last")) o->tc.pool = AETHER_POOL_LAST;
            else if (!strcmp(v, "mean")) o->tc.pool = AETHER_POOL_MEAN;
            else { fprintf(stderr, "aether %s: --pool is last or mean\n", cmd); return 0; }
        } else if (!strcmp(a, "--backend")) {
            if (aether_head_backend_parse(v, &o->head.backend) != AETHER_OK ||
                o->head.backend == AETHER_HEAD_AUTO) {
                fprintf(stderr, "aether %s: --backend is sparse or dense\n", cmd);
                return 0;
            }
            o->have_backend = 1;
        } else if (!strcmp(a, "--lr") || !strcmp(a, "--weight-decay") ||
                   !strcmp(a, "--aug-scale") || !strcmp(a, "--aug-noise") ||
                   !strcmp(a, "--aug-offset") ||
                   !strcmp(a, "--val-frac")) {
            if (!parse_double(v, &d) || d < 0.0) {
                fprintf(stderr, "aether %s: bad value for %s\n", cmd, a);
                return 0;
            }
            if (!strcmp(a, "--lr")) o->tc.lr = (float)d;
            else if (!strcmp(a, "--weight-decay")) o->tc.weight_decay = (float)d;
            else if (!strcmp(a, "--aug-scale")) o->tc.aug_scale = (float)d;
            else if (!strcmp(a, "--aug-noise")) o->tc.aug_noise = (float)d;
            else if (!strcmp(a, "--aug-offset")) o->tc.aug_offset = (float)d;
            else o->val_frac = d;
        } else {
            if (!cli_parse_size(v, &z)) {
                fprintf(stderr, "aether %s: bad value for %s (or unknown option)\n", cmd, a);
                return 0;
            }
            if (!strcmp(a, "--window")) { o->tc.window = z; o->have_window = 1; }
            else if (!strcmp(a, "--stride")) { o->tc.stride = z; o->have_stride = 1; }
            else if (!strcmp(a, "--epochs")) o->tc.epochs = z;
            else if (!strcmp(a, "--seed")) o->tc.seed = z;
            else if (!strcmp(a, "--batch")) o->tc.batch = z;
            else if (!strcmp(a, "--threads")) o->tc.threads = z;
            else if (!strcmp(a, "--patience")) o->tc.patience = z;
            else if (!strcmp(a, "--cv")) o->cv_folds = z;
            else if (!strcmp(a, "--trim-start")) o->trim_start = z;
            else if (!strcmp(a, "--cv-field")) o->cv_field = (long)(z < 16 ? z : 16);
            else if (!strcmp(a, "--layers")) o->layers = z;
            else if (!strcmp(a, "--heads")) o->heads = z;
            else if (!strcmp(a, "--kv-heads")) o->kv_heads = z;
            else if (!strcmp(a, "--head-dim")) o->head_dim = z;
            else if (!strcmp(a, "--input-dim")) o->input_dim = z;
            else if (!strcmp(a, "--attn-window")) { o->head.window = z; o->have_attn_window = 1; }
            else if (!strcmp(a, "--block")) { o->head.block_size = z; o->have_block = 1; }
            else {
                fprintf(stderr, "aether %s: unknown option %s\n", cmd, a);
                return 0;
            }
        }
    }
    /* eval may take the labels from the blob's metadata */
    if (!o->data || (!o->labels_arg && strcmp(cmd, "eval")) ||
        (o->labels_arg && !split_labels(o))) {
        fprintf(stderr, "aether %s: --data DIR and --labels a,b[,...] (2..%u labels) are required\n",
                cmd, AETHER_TRAIN_MAX_CLASSES);
        return 0;
    }
    if (o->tc.window == 0 || o->tc.stride == 0 || o->tc.epochs == 0 || o->tc.batch == 0 ||
        o->tc.threads == 0 || o->tc.threads > 64 || o->tc.seed == 0 || o->val_frac >= 1.0) {
        fprintf(stderr, "aether %s: window, stride, epochs, batch, seed must be > 0, threads "
                        "1..64, val-frac < 1\n", cmd);
        return 0;
    }
    if (aether_features_groups(o->input_dim) == 0) {
        fprintf(stderr, "aether %s: --input-dim must be %u..%u\n", cmd, AETHER_FEATURES_MIN_DIM,
                AETHER_FEATURES_MAX_DIM);
        return 0;
    }
    if (o->offset_arg) {
        if (!parse_list(o, o->offset_arg, o->offset_mask)) {
            fprintf(stderr, "aether %s: bad --aug-offset-features list for input dim %zu\n", cmd,
                    o->input_dim);
            return 0;
        }
        o->tc.aug_offset_mask = o->offset_mask;
    }
    if (o->features_arg && !parse_mask(o)) {
        fprintf(stderr, "aether %s: bad --features list for input dim %zu\n", cmd, o->input_dim);
        return 0;
    }
    return 1;
}

static int load_data(const opts *o, const char *cmd, aether_dataset *ds)
{
    aether_status st = aether_dataset_load_recipe(o->data, (const char *const *)o->labels,
                                                  o->n_labels, o->input_dim, o->recipe, ds);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether %s: cannot load %s: %s\n", cmd, o->data, aether_strerror(st));
        return st == AETHER_ERR_IO ? 3 : 4;
    }
    st = aether_train_split_by_time(ds->recs, ds->n_recs, ds->n_classes, o->val_frac);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether %s: split: %s\n", cmd, aether_strerror(st));
        aether_dataset_free(ds);
        return 4;
    }
    return 0;
}

static void print_metrics(const opts *o, const aether_dataset *ds, const char *what,
                          const size_t *conf, size_t n_rec, size_t n_win)
{
    aether_metrics m;
    size_t C = ds->n_classes, i, j;
    aether_metrics_compute(conf, C, &m);
    if (o->json) {
        printf("{\"what\":\"%s\",\"split\":\"%s\",\"recordings\":%zu,\"windows\":%zu,"
               "\"accuracy\":%.6f,\"macro_f1\":%.6f,\"labels\":[",
               what, o->all ? "all" : "val", n_rec, n_win, m.accuracy, m.macro_f1);
        for (i = 0; i < C; ++i)
            printf("%s\"%s\"", i ? "," : "", ds->labels[i]);
        printf("],\"recall\":{");
        for (i = 0; i < C; ++i)
            printf("%s\"%s\":%.6f", i ? "," : "", ds->labels[i], m.recall[i]);
        printf("},\"f1\":{");
        for (i = 0; i < C; ++i)
            printf("%s\"%s\":%.6f", i ? "," : "", ds->labels[i], m.f1[i]);
        printf("},\"confusion\":[");
        for (i = 0; i < C; ++i) {
            printf("%s[", i ? "," : "");
            for (j = 0; j < C; ++j)
                printf("%s%zu", j ? "," : "", conf[i * C + j]);
            printf("]");
        }
        printf("]}\n");
        return;
    }
    printf("%s on %s: %zu recordings, %zu windows\n", what,
           o->all ? "every recording" : "the time-based validation split", n_rec, n_win);
    printf("  accuracy %.4f   macro-F1 %.4f\n  recall:", m.accuracy, m.macro_f1);
    for (i = 0; i < C; ++i)
        printf("  %s %.3f", ds->labels[i], m.recall[i]);
    printf("\n  confusion (rows: true, columns: predicted)\n  %14s", "");
    for (j = 0; j < C; ++j)
        printf(" %12.12s", ds->labels[j]);
    printf("\n");
    for (i = 0; i < C; ++i) {
        printf("  %14.14s", ds->labels[i]);
        for (j = 0; j < C; ++j)
            printf(" %12zu", conf[i * C + j]);
        printf("\n");
    }
}

/* ------------------------------ train ------------------------------ */

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

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f)
        return 0;
    ok = fwrite(buf, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

/* Re-serialise *blob with the metadata record of these options (flag
 * bit 2): what run / eval need to use the model as it was trained. */
static int add_metadata(const opts *o, unsigned char **blob, size_t *bytes)
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

/* A randomised network of the options' shape with the input normalisation
 * of the recordings' TRAIN split; sets tc->const_feature for odd dims. */
static aether_status make_net(opts *o, const aether_dataset *ds,
                              const aether_train_recording *recs, aether_train_config *tc,
                              aether_train_net **out)
{
    aether_train_shape sh;
    aether_train_net *net = NULL;
    float mean[AETHER_FEATURES_MAX_DIM], inv[AETHER_FEATURES_MAX_DIM];
    aether_status st;
    sh.input_dim = o->input_dim;
    sh.n_q_heads = o->heads;
    sh.n_kv_heads = o->kv_heads;
    sh.head_dim = o->head_dim;
    sh.n_layers = o->layers;
    sh.n_classes = ds->n_classes;
    sh.input_norm = 1;
    o->head.q_heads = o->heads;
    o->head.kv_heads = o->kv_heads;
    o->head.head_dim = o->head_dim;
    st = aether_train_net_create(&sh, &o->head, &net);
    if (st == AETHER_OK)
        st = aether_train_net_randomize(net, tc->seed);
    if (st == AETHER_OK)
        st = aether_train_norm_stats(recs, ds->n_recs, o->input_dim,
                                     o->have_mask ? o->mask : NULL, 1e-3f, mean, inv);
    if (st == AETHER_OK && (o->input_dim & 1u)) {
        /* odd input dims end in the recipe's reserved slot, always 0: with
         * mean -1 and inv_std 1 it becomes a constant 1, i.e. a bias input
         * for every projection and the classifier */
        mean[o->input_dim - 1] = -1.0f;
        inv[o->input_dim - 1] = 1.0f;
        tc->const_feature = (long)o->input_dim - 1;
    }
    if (st == AETHER_OK)
        st = aether_train_net_set_norm(net, mean, inv);
    if (st != AETHER_OK) {
        aether_train_net_destroy(net);
        return st;
    }
    *out = net;
    return AETHER_OK;
}

/* The recordings as the fit sees them: TRAIN ones without their first
 * --trim-start frames (at least one window is left). Same order and
 * splits; the frames are shared, not copied. NULL when out of memory. */
static aether_train_recording *fit_view(const opts *o, const aether_dataset *ds)
{
    aether_train_recording *v =
        (aether_train_recording *)malloc(ds->n_recs * sizeof(aether_train_recording));
    size_t r;
    if (!v)
        return NULL;
    memcpy(v, ds->recs, ds->n_recs * sizeof(aether_train_recording));
    for (r = 0; r < ds->n_recs; ++r) {
        size_t cut = o->trim_start;
        if (v[r].split != AETHER_SPLIT_TRAIN)
            continue;
        if (v[r].n_frames < o->tc.window + cut)
            cut = v[r].n_frames > o->tc.window ? v[r].n_frames - o->tc.window : 0;
        v[r].frames += cut * ds->dim;
        v[r].n_frames -= cut;
    }
    return v;
}

/* ------------------------------ cross-validation ------------------------------ */

/* Split codes used only while cross-validating: the outer validation split
 * is set aside (never read) and the current fold is held out. */
#define CV_HELD_OUT 2
#define CV_SET_ASIDE 3

static int rec_earlier(const aether_train_recording *a, const aether_train_recording *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return strcmp(a->name, b->name) < 0;
}

/* Fold of each TRAIN recording: per class, in (time, name) order, rank i of
 * n goes to fold i * K / n, so every fold is a contiguous block of time and
 * holds recordings of every class that has at least K. */
static void assign_folds(const aether_dataset *ds, size_t K, size_t *fold)
{
    size_t r, q, c;
    for (r = 0; r < ds->n_recs; ++r) {
        size_t rank = 0, n = 0;
        const aether_train_recording *a = &ds->recs[r];
        fold[r] = (size_t)-1;
        if (a->split != AETHER_SPLIT_TRAIN)
            continue;
        for (q = 0; q < ds->n_recs; ++q) {
            const aether_train_recording *b = &ds->recs[q];
            if (b->split != AETHER_SPLIT_TRAIN || b->label != a->label)
                continue;
            n++;
            rank += rec_earlier(b, a);
        }
        c = rank * K / n;
        fold[r] = c;
    }
}

/* Train on K-1 folds, score the held-out one; per recording and pooled. */
static int cv_fold(opts *o, aether_dataset *ds, const size_t *fold, const int *orig, size_t f,
                   size_t *conf_all, double *f1_out)
{
    aether_train_config tc = o->tc;
    aether_train_net *net = NULL;
    aether_train_recording *view;
    aether_train_result res;
    aether_metrics m;
    size_t C = ds->n_classes, conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    size_t r, k;
    aether_status st;
    for (r = 0; r < ds->n_recs; ++r)
        ds->recs[r].split = orig[r] != AETHER_SPLIT_TRAIN ? CV_SET_ASIDE
                            : fold[r] == f                ? CV_HELD_OUT
                                                          : AETHER_SPLIT_TRAIN;
    view = fit_view(o, ds);
    st = view ? make_net(o, ds, view, &tc, &net) : AETHER_ERR_NO_MEM;
    if (st == AETHER_OK)
        st = aether_train_fit(net, view, ds->n_recs, &tc, NULL, &res);
    free(view);
    memset(conf, 0, sizeof conf);
    for (r = 0; r < ds->n_recs && st == AETHER_OK; ++r) {
        size_t one[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES], nw = 0, ok;
        if (ds->recs[r].split != CV_HELD_OUT)
            continue;
        memset(one, 0, sizeof one);
        st = aether_train_evaluate(net, &ds->recs[r], 1, CV_HELD_OUT, tc.window, tc.stride,
                                   tc.pool, one, NULL, &nw);
        ok = one[ds->recs[r].label * C + ds->recs[r].label];
        printf("  fold %zu  %-44s %-12s %3zu/%-3zu windows right\n", f + 1, ds->recs[r].name,
               ds->labels[ds->recs[r].label], ok, nw);
        for (k = 0; k < C * C; ++k)
            conf[k] += one[k];
    }
    aether_train_net_destroy(net);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train --cv: %s\n", aether_strerror(st));
        return 4;
    }
    aether_metrics_compute(conf, C, &m);
    printf("fold %zu: accuracy %.4f  macro-F1 %.4f\n", f + 1, m.accuracy, m.macro_f1);
    fflush(stdout);
    for (k = 0; k < C * C; ++k)
        conf_all[k] += conf[k];
    *f1_out = m.macro_f1;
    return 0;
}

/* Field `field` of a file name split at '_' into buf ("" if absent). */
static void name_field(const char *name, long field, char *buf, size_t cap)
{
    size_t n = 0;
    for (; field > 0 && *name; ++name)
        if (*name == '_')
            field--;
    while (*name && *name != '_' && *name != '.' && n + 1 < cap)
        buf[n++] = *name++;
    buf[n] = '\0';
}

/* Folds by a name field: fold = index of the field's value among the
 * distinct values in recording order. Returns the number of folds. */
static size_t assign_field_folds(const aether_dataset *ds, long field, size_t *fold)
{
    char keys[64][32], key[32];
    size_t r, k, n = 0;
    for (r = 0; r < ds->n_recs; ++r) {
        fold[r] = (size_t)-1;
        if (ds->recs[r].split != AETHER_SPLIT_TRAIN)
            continue;
        name_field(ds->recs[r].name, field, key, sizeof key);
        for (k = 0; k < n && strcmp(keys[k], key); ++k)
            ;
        if (k == n && n < 64)
            strcpy(keys[n++], key);
        fold[r] = k < n ? k : 0;
    }
    for (k = 0; k < n; ++k)
        printf("fold %zu: %s\n", k + 1, keys[k]);
    return n;
}

static int run_cv(opts *o, aether_dataset *ds)
{
    size_t K = o->cv_folds, f, r, C = ds->n_classes;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    size_t *fold = (size_t *)malloc(ds->n_recs * sizeof(size_t));
    int *orig = (int *)malloc(ds->n_recs * sizeof(int));
    double f1 = 0.0, sum = 0.0, lo = 1.0;
    aether_metrics m;
    int rc = 0;
    if (!fold || !orig) {
        free(fold);
        free(orig);
        return 4;
    }
    for (r = 0; r < ds->n_recs; ++r)
        orig[r] = ds->recs[r].split;
    if (o->cv_field >= 0)
        K = assign_field_folds(ds, o->cv_field, fold);
    else
        assign_folds(ds, K, fold);
    if (K < 2) {
        fprintf(stderr, "aether train --cv: fewer than 2 folds\n");
        free(fold);
        free(orig);
        return 4;
    }
    memset(conf, 0, sizeof conf);
    for (f = 0; f < K && rc == 0; ++f) {
        rc = cv_fold(o, ds, fold, orig, f, conf, &f1);
        sum += f1;
        lo = f1 < lo ? f1 : lo;
    }
    for (r = 0; r < ds->n_recs; ++r)
        ds->recs[r].split = orig[r];
    if (rc == 0) {
        aether_metrics_compute(conf, C, &m);
        printf("cv %zu folds, seed %llu: pooled accuracy %.4f  pooled macro-F1 %.4f  "
               "fold mean %.4f  fold min %.4f\n",
               K, (unsigned long long)o->tc.seed, m.accuracy, m.macro_f1, sum / (double)K, lo);
        printf("  pooled confusion (rows: true):");
        for (r = 0; r < C * C; ++r)
            printf("%s%zu", r % C ? " " : (r ? " | " : " "), conf[r]);
        printf("\n");
    }
    free(fold);
    free(orig);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    opts o;
    aether_dataset ds;
    aether_train_net *net = NULL;
    aether_train_recording *view = NULL;
    aether_train_callbacks cb;
    aether_train_result res;
    progress pr;
    unsigned char *blob = NULL;
    size_t bytes = 0, conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES], nw = 0, r, nv = 0;
    aether_status st;
    int rc;

    if (!parse_opts(argc, argv, "train", &o)) {
        train_usage(stderr, "train");
        return 2;
    }
    if (o.cv_field >= 0 && o.cv_folds == 0)
        o.cv_folds = 2; /* the fold count comes from the names */
    if (!o.out && o.cv_folds == 0) {
        fprintf(stderr, "aether train: --out MODEL.rvne (or --cv K) is required\n");
        return 2;
    }
    if (o.cv_folds == 1) {
        fprintf(stderr, "aether train: --cv needs at least 2 folds\n");
        return 2;
    }
    if ((rc = load_data(&o, "train", &ds)) != 0)
        return rc;
    if (o.cv_folds) {
        rc = run_cv(&o, &ds);
        aether_dataset_free(&ds);
        return rc;
    }
    view = fit_view(&o, &ds);
    st = view ? make_net(&o, &ds, view, &o.tc, &net) : AETHER_ERR_NO_MEM;
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train: %s\n", aether_strerror(st));
        rc = 4;
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
    st = aether_train_fit(net, view, ds.n_recs, &o.tc, &cb, &res);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train: %s\n", aether_strerror(st));
        rc = 4;
        goto out;
    }
    st = aether_train_net_blob_size(net, &bytes);
    blob = st == AETHER_OK ? (unsigned char *)malloc(bytes) : NULL;
    if (!blob || aether_train_net_serialize(net, blob, bytes, NULL) != AETHER_OK ||
        !add_metadata(&o, &blob, &bytes)) {
        fprintf(stderr, "aether train: cannot serialise the model\n");
        rc = 4;
        goto out;
    }
    if (!write_file(o.out, blob, bytes)) {
        fprintf(stderr, "aether train: cannot write %s\n", o.out);
        rc = 3;
        goto out;
    }
    memset(conf, 0, sizeof conf);
    aether_train_evaluate(net, ds.recs, ds.n_recs, AETHER_SPLIT_VAL, o.tc.window, o.tc.stride,
                          o.tc.pool, conf, NULL, &nw);
    if (!o.quiet) {
        printf("kept epoch %zu of %zu; wrote %s (%zu bytes) in %.1fs\n", res.best_epoch,
               res.epochs_run, o.out, bytes, now_s() - pr.t0);
        if (nv)
            print_metrics(&o, &ds, "model", conf, nv, nw);
    }
    rc = 0;
out:
    free(blob);
    free(view);
    aether_train_net_destroy(net);
    aether_dataset_free(&ds);
    return rc;
}

/* ------------------------------ eval ------------------------------ */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = (unsigned char *)malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* Defaults from the blob's metadata for what the command line left out;
 * 0, or an exit status after a message. */
static int apply_metadata(opts *o, const aether_blob_view *v)
{
    model_meta mm;
    char err[256];
    if (model_meta_read(v, &mm, err, sizeof err) != 0) {
        fprintf(stderr, "aether eval: %s: %s\n", o->model, err);
        return 4;
    }
    if (!o->labels_arg && mm.have_labels) {
        o->labels_arg = mm.labels;
        if (!split_labels(o)) {
            fprintf(stderr, "aether eval: %s: metadata labels unusable\n", o->model);
            return 4;
        }
    }
    if (!o->labels_arg) {
        fprintf(stderr, "aether eval: --labels is required (the blob has no labels metadata)\n");
        return 2;
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
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    opts o;
    aether_dataset ds;
    aether_blob_view view;
    aether_model *model = NULL;
    unsigned char *blob;
    size_t len = 0, r, k, C, n_rec = 0, n_win = 0, need = 0;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    void *ws = NULL;
    aether_status st;
    int rc = 0;

    if (!parse_opts(argc, argv, "eval", &o)) {
        train_usage(stderr, "eval");
        return 2;
    }
    if (!o.model) {
        fprintf(stderr, "aether eval: --model MODEL.rvne is required\n");
        return 2;
    }
    blob = read_file(o.model, &len);
    if (!blob) {
        fprintf(stderr, "aether eval: cannot read %s\n", o.model);
        return 3;
    }
    st = aether_blob_parse(blob, len, &view);
    if (st == AETHER_OK && (rc = apply_metadata(&o, &view)) != 0) {
        free(blob);
        return rc;
    }
    if (st == AETHER_OK) {
        o.head.q_heads = view.header.n_q_heads;
        o.head.kv_heads = view.header.n_kv_heads;
        o.head.head_dim = view.header.head_dim;
        st = aether_model_create(&view, &o.head, AETHER_MODEL_COPY, &model);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether eval: %s: %s\n", o.model, aether_strerror(st));
        free(blob);
        return 4;
    }
    o.input_dim = view.header.input_dim;
    if ((rc = load_data(&o, "eval", &ds)) != 0)
        goto out_model;
    C = ds.n_classes;
    if (C != view.header.n_classes) {
        fprintf(stderr, "aether eval: the model has %u classes, --labels gives %zu\n",
                (unsigned)view.header.n_classes, C);
        rc = 4;
        goto out;
    }
    memset(conf, 0, sizeof conf);
    st = aether_model_forward_workspace_size(model, o.tc.window, &need);
    ws = st == AETHER_OK ? malloc(need) : NULL;
    if (!ws) {
        rc = 4;
        goto out;
    }
    /* scored through the model API: the blob's normalisation and the
     * head's kernel exactly as inference runs them */
    for (r = 0; r < ds.n_recs; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw, right = 0;
        if (!o.all && rec->split != AETHER_SPLIT_VAL)
            continue;
        n_rec++;
        nw = aether_train_eval_windows(rec->n_frames, o.tc.window, o.tc.stride);
        if (o.per_file && !o.json)
            printf("%-44s %-12s", rec->name, ds.labels[rec->label]);
        for (k = 0; k < nw; ++k) {
            float logits[AETHER_TRAIN_MAX_CLASSES];
            size_t n = rec->n_frames < o.tc.window ? rec->n_frames : o.tc.window, c, best = 0;
            st = aether_model_forward(model, rec->frames + k * o.tc.stride * o.input_dim, n,
                                      o.tc.pool, logits, NULL, ws, need);
            if (st != AETHER_OK) {
                fprintf(stderr, "aether eval: %s: %s\n", rec->name, aether_strerror(st));
                rc = 4;
                goto out;
            }
            for (c = 1; c < C; ++c)
                if (logits[c] > logits[best])
                    best = c;
            conf[rec->label * C + best]++;
            n_win++;
            right += best == rec->label;
            if (o.per_file && !o.json)
                printf(" %c", best == rec->label ? '.' : (char)('0' + best % 10));
        }
        if (o.per_file && !o.json)
            printf("   %zu/%zu\n", right, nw);
    }
    print_metrics(&o, &ds, "model", conf, n_rec, n_win);
out:
    free(ws);
    aether_dataset_free(&ds);
out_model:
    aether_model_destroy(model);
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

int cmd_baseline(int argc, char **argv)
{
    opts o;
    aether_dataset ds;
    aether_logreg lr;
    float *x = NULL;
    size_t *y = NULL, n = 0, cap = 0, r, k, D, C, n_rec = 0, n_win = 0;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    float row[AETHER_DATASET_TONES + 2 * BASE_GROUPS + 2];
    aether_status st;
    int rc;

    if (!parse_opts(argc, argv, "baseline", &o)) {
        train_usage(stderr, "baseline");
        return 2;
    }
    if ((rc = load_data(&o, "baseline", &ds)) != 0)
        return rc;
    D = summary_dim(o.probe_means);
    C = ds.n_classes;
    for (r = 0; r < ds.n_recs; ++r)
        if (ds.recs[r].split == AETHER_SPLIT_TRAIN)
            cap += aether_train_eval_windows(ds.recs[r].n_frames, o.tc.window, o.tc.stride);
    x = (float *)malloc((cap ? cap : 1) * D * sizeof(float));
    y = (size_t *)malloc((cap ? cap : 1) * sizeof(size_t));
    if (!x || !y) {
        rc = 4;
        goto out;
    }
    for (r = 0; r < ds.n_recs; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, o.tc.window, o.tc.stride);
        if (rec->split != AETHER_SPLIT_TRAIN)
            continue;
        for (k = 0; k < nw; ++k) {
            size_t len = rec->n_frames < o.tc.window ? rec->n_frames : o.tc.window;
            summary(ds.tones[r] + k * o.tc.stride * AETHER_DATASET_TONES, len, o.probe_means,
                    x + n * D);
            y[n++] = rec->label;
        }
    }
    st = aether_logreg_fit(&lr, x, y, n, D, C, 1e-3f, 500);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether baseline: %s\n", aether_strerror(st));
        rc = 4;
        goto out;
    }
    memset(conf, 0, sizeof conf);
    for (r = 0; r < ds.n_recs; ++r) {
        const aether_train_recording *rec = &ds.recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, o.tc.window, o.tc.stride);
        if (!o.all && rec->split != AETHER_SPLIT_VAL)
            continue;
        n_rec++;
        for (k = 0; k < nw; ++k) {
            size_t len = rec->n_frames < o.tc.window ? rec->n_frames : o.tc.window;
            summary(ds.tones[r] + k * o.tc.stride * AETHER_DATASET_TONES, len, o.probe_means,
                    row);
            conf[rec->label * C + aether_logreg_predict(&lr, row)]++;
            n_win++;
        }
    }
    print_metrics(&o, &ds, o.probe_means ? "mean-level probe" : "baseline", conf, n_rec, n_win);
    aether_logreg_free(&lr);
    rc = 0;
out:
    free(x);
    free(y);
    aether_dataset_free(&ds);
    return rc;
}
