/* Options, data loading, metrics and network set-up shared by `aether
 * train`, `aether eval` and `aether baseline` (train_common.h). */
#define _POSIX_C_SOURCE 200809L /* opendir, stat */
#include "train_common.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "aether/dataset.h"

/* ---------- options ---------- */

/* The defaults: aether_train_config_default, the default head, input dim
 * 16, 1 layer of 4 query heads, 1 kv head, head dim 8, val-frac 0.25,
 * recipe csi-v1. */
static void opts_init(train_opts *o)
{
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
    o->target_accuracy = 0.95;
    o->aug_copies = 1;
}

/* The long name of option opt in c's table, for messages. */
static const char *option_name(const cli_command *c, int opt)
{
    const struct option *e;
    for (e = c->options; e && e->name; ++e)
        if (e->val == opt)
            return e->name;
    return "?";
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

/* "1-5,11,13-15" -> mask over input_dim features. */
static int parse_list(const train_opts *o, const char *s, unsigned char *mask)
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

static int take_double(const cli_command *c, int opt, train_opts *o)
{
    double d;
    if (!parse_double(c->optarg, &d) || d < 0.0)
        return cli_usage_error(c, "--%s needs a non-negative number", option_name(c, opt));
    if (opt == TOPT_TARGET_ACCURACY && !(d > 0.0 && d <= 1.0))
        return cli_usage_error(c, "--target-accuracy is a number in (0, 1]");
    switch (opt) {
    case TOPT_TARGET_ACCURACY:
        o->target_accuracy = d;
        break;
    case TOPT_LR:
        o->tc.lr = (float)d;
        break;
    case TOPT_WEIGHT_DECAY:
        o->tc.weight_decay = (float)d;
        break;
    case TOPT_AUG_SCALE:
        o->tc.aug_scale = (float)d;
        break;
    case TOPT_AUG_NOISE:
        o->tc.aug_noise = (float)d;
        break;
    case TOPT_AUG_OFFSET:
        o->tc.aug_offset = (float)d;
        break;
    case TOPT_AUG_GAIN_STEPS:
        if (d > 1.0)
            return cli_usage_error(c, "--augment-gain-steps is a rate in [0, 1]");
        o->aug_gain_steps = d;
        break;
    default: /* TOPT_VAL_FRAC */
        o->val_frac = d;
        break;
    }
    return -1;
}

static int take_size(const cli_command *c, int opt, train_opts *o)
{
    size_t z;
    if (!cli_parse_size(c->optarg, &z))
        return cli_usage_error(c, "--%s needs a non-negative integer", option_name(c, opt));
    switch (opt) {
    case TOPT_WINDOW:
        o->tc.window = z;
        o->have_window = 1;
        break;
    case TOPT_STRIDE:
        o->tc.stride = z;
        o->have_stride = 1;
        break;
    case TOPT_EPOCHS:
        o->tc.epochs = z;
        break;
    case TOPT_SEED:
        o->tc.seed = z;
        break;
    case TOPT_BATCH:
        o->tc.batch = z;
        break;
    case TOPT_THREADS:
        o->tc.threads = z;
        break;
    case TOPT_PATIENCE:
        o->tc.patience = z;
        break;
    case TOPT_CV:
        o->cv_folds = z;
        break;
    case TOPT_TRIM_START:
        o->trim_start = z;
        break;
    case TOPT_AUG_COPIES:
        if (z > 64)
            return cli_usage_error(c, "--augment-copies is 0..64");
        o->aug_copies = z;
        break;
    case TOPT_CV_FIELD:
        if (z > TRAIN_CV_MAX_FIELD)
            return cli_usage_error(c, "--cv-field is 0..%d", TRAIN_CV_MAX_FIELD);
        o->cv_field = (long)z;
        break;
    case TOPT_LAYERS:
        o->layers = z;
        break;
    case TOPT_HEADS:
        o->heads = z;
        break;
    case TOPT_KV_HEADS:
        o->kv_heads = z;
        break;
    case TOPT_HEAD_DIM:
        o->head_dim = z;
        break;
    case TOPT_INPUT_DIM:
        o->input_dim = z;
        break;
    case TOPT_ATTN_WINDOW:
        o->head.window = z;
        o->have_attn_window = 1;
        break;
    default: /* TOPT_BLOCK */
        o->head.block_size = z;
        o->have_block = 1;
        break;
    }
    return -1;
}

/* One option: -1 when it set a value, else the exit status (a usage error
 * about its value). */
static int take_option(const cli_command *c, int opt, train_opts *o)
{
    const char *v = c->optarg;
    switch (opt) {
    case TOPT_JSON:
        o->json = 1;
        return -1;
    case TOPT_ALL:
        o->all = 1;
        return -1;
    case TOPT_QUIET:
        o->quiet = 1;
        return -1;
    case TOPT_PROBE_MEANS:
        o->probe_means = 1;
        return -1;
    case TOPT_PER_FILE:
        o->per_file = 1;
        return -1;
    case TOPT_CALIBRATE:
        o->calibrate = 1;
        return -1;
    case TOPT_KEEP_LAST:
        o->tc.keep_last = 1;
        return -1;
    case TOPT_NO_SHIFT:
        o->tc.aug_shift = 0;
        return -1;
    case TOPT_NO_CLASS_WEIGHTS:
        o->tc.class_weighting = 0;
        return -1;
    case TOPT_DATA:
        o->data = v;
        return -1;
    case TOPT_OUT:
        o->out = v;
        return -1;
    case TOPT_MODEL:
        o->model = v;
        return -1;
    case TOPT_CV_SCORE_DATA:
        o->cv_score_data = v;
        return -1;
    case TOPT_LABELS:
        o->labels_arg = v;
        return -1;
    case TOPT_FEATURES:
        o->features_arg = v;
        return -1;
    case TOPT_AUG_OFFSET_FEATURES:
        o->offset_arg = v;
        return -1;
    case TOPT_RECIPE:
        if (cli_parse_recipe(c, v, &o->recipe))
            return CLI_EXIT_USAGE;
        o->have_recipe = 1;
        return -1;
    case TOPT_POOL:
        if (!strcmp(v, "last"))
            o->tc.pool = AETHER_POOL_LAST;
        else if (!strcmp(v, "mean"))
            o->tc.pool = AETHER_POOL_MEAN;
        else
            return cli_usage_error(c, "--pool is last or mean");
        o->have_pool = 1;
        return -1;
    case TOPT_BACKEND:
        if (aether_head_backend_parse(v, &o->head.backend) != AETHER_OK ||
            o->head.backend == AETHER_HEAD_AUTO)
            return cli_usage_error(c, "--backend is sparse or dense");
        o->have_backend = 1;
        return -1;
    case TOPT_LR:
    case TOPT_WEIGHT_DECAY:
    case TOPT_AUG_SCALE:
    case TOPT_AUG_NOISE:
    case TOPT_AUG_OFFSET:
    case TOPT_AUG_GAIN_STEPS:
    case TOPT_VAL_FRAC:
    case TOPT_TARGET_ACCURACY:
        return take_double(c, opt, o);
    case TOPT_WINDOW:
    case TOPT_STRIDE:
    case TOPT_EPOCHS:
    case TOPT_SEED:
    case TOPT_BATCH:
    case TOPT_THREADS:
    case TOPT_PATIENCE:
    case TOPT_CV:
    case TOPT_TRIM_START:
    case TOPT_AUG_COPIES:
    case TOPT_CV_FIELD:
    case TOPT_LAYERS:
    case TOPT_HEADS:
    case TOPT_KV_HEADS:
    case TOPT_HEAD_DIM:
    case TOPT_INPUT_DIM:
    case TOPT_ATTN_WINDOW:
    case TOPT_BLOCK:
        return take_size(c, opt, o);
    default:
        return cli_usage_error(c, "unhandled option");
    }
}

int train_split_labels(train_opts *o)
{
    size_t i;
    if (!cli_split_labels(o->labels_arg, o->labels_buf, sizeof o->labels_buf, o->labels,
                          AETHER_TRAIN_MAX_CLASSES, &o->n_labels) ||
        o->n_labels < 2)
        return -1;
    for (i = 0; i < o->n_labels; ++i)
        if (strlen(o->labels[i]) >= sizeof((aether_dataset *)0)->labels[0])
            return -1;
    return 0;
}

int train_parse_options(cli_command *c, train_opts *o, int labels_required)
{
    int opt, n, rc = CLI_EXIT_OK;
    char **pos;
    opts_init(o);
    while ((opt = cli_next_option(c, &rc)) != CLI_DONE) {
        int r;
        if (opt == CLI_STOP)
            return rc;
        if ((r = take_option(c, opt, o)) >= 0)
            return r;
    }
    pos = cli_positionals(c, 0, 1, &n, &rc);
    if (!pos)
        return rc;
    if (n == 1) {
        if (o->data)
            return cli_usage_error(c, "the data folder is given twice (--data and '%s')", pos[0]);
        o->data = pos[0];
    }
    if (!o->data)
        return cli_usage_error(c, "the data folder is required: --data DIR (or DIR)");
    if (!o->labels_arg && labels_required)
        return cli_usage_error(c, "--labels a,b[,...] is required");
    if (o->labels_arg && train_split_labels(o) != 0)
        return cli_usage_error(c,
                               "--labels takes 2..%u comma-separated names of 1..%u characters",
                               AETHER_TRAIN_MAX_CLASSES,
                               (unsigned)sizeof((aether_dataset *)0)->labels[0] - 1);
    if (o->tc.window == 0 || o->tc.stride == 0 || o->tc.epochs == 0 || o->tc.batch == 0 ||
        o->tc.threads == 0 || o->tc.threads > 64 || o->tc.seed == 0 || o->val_frac >= 1.0)
        return cli_usage_error(c, "window, stride, epochs, batch, seed must be > 0, threads "
                                  "1..64, val-frac < 1");
    if (aether_features_groups(o->input_dim) == 0)
        return cli_usage_error(c, "--input-dim must be %u..%u", AETHER_FEATURES_MIN_DIM,
                               AETHER_FEATURES_MAX_DIM);
    if (o->offset_arg) {
        if (!parse_list(o, o->offset_arg, o->offset_mask))
            return cli_usage_error(c, "bad --aug-offset-features list for input dim %zu",
                                   o->input_dim);
        o->tc.aug_offset_mask = o->offset_mask;
    }
    if (o->features_arg) {
        o->have_mask = parse_list(o, o->features_arg, o->mask);
        if (!o->have_mask)
            return cli_usage_error(c, "bad --features list for input dim %zu", o->input_dim);
    }
    return -1;
}

void train_usage_common(FILE *f)
{
    fprintf(f, "common options:\n"
               "  DIR (or --data DIR) holds one subfolder per label, DIR/<label>/, with that\n"
               "  label's .npz or .csi.jsonl recordings; a missing label folder is named\n"
               "  (exit 3)\n"
               "  --window N (64) --stride N (16)  frames per window / between windows\n"
               "  --pool last|mean (last)   --input-dim D (16)   --val-frac F (0.25)\n"
               "  --features LIST        feature indices the model sees, e.g. 1-5,11-15\n"
               "                         (others are masked through the blob's normalisation)\n"
               "  --backend sparse|dense --attn-window N (32) --block N (16)\n"
               "  --recipe csi-v1|...|csi-v5 (csi-v1)  feature recipe "
               "(features.h)\n"
               "  options take --opt VALUE or --opt=VALUE\n"
               "validation: per class, the last val-frac of the recordings in recording-time\n"
               "order (npz collected_at, else the file name's timestamp).\n");
    cli_print_exit_statuses(f);
}

/* ---------- data ---------- */

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

#define SHOWN_FOLDERS 12

/* "  DIR has subfolders a/, b/, c/" (sorted, at most SHOWN_FOLDERS of them)
 * or "  DIR has no subfolders" on a line of f; DIR shown as its first
 * shown_len characters. */
static void print_subfolders(FILE *f, const char *dir, int shown_len)
{
    char names[SHOWN_FOLDERS][64], path[4096];
    size_t n = 0, more = 0, i;
    struct dirent *e;
    DIR *d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (n < SHOWN_FOLDERS) {
            size_t len = strlen(e->d_name);
            len = len < sizeof names[0] ? len : sizeof names[0] - 1; /* shown cut short */
            memcpy(names[n], e->d_name, len);
            names[n++][len] = '\0';
        } else {
            more++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    if (n == 0) {
        fprintf(f, "  %.*s has no subfolders\n", shown_len, dir);
        return;
    }
    fprintf(f, "  %.*s has subfolders ", shown_len, dir);
    for (i = 0; i < n; ++i)
        fprintf(f, "%s%s/", i ? ", " : "", names[i]);
    if (more)
        fprintf(f, " and %zu more", more);
    fprintf(f, "\n");
}

/* DIR and DIR/<label>/ for every label: 0, or the exit status after a
 * message naming the data folder or every missing label folder. A label
 * folder without recordings gets a note (scoring then sees no windows of
 * that class). */
static int check_folders(const train_opts *o, const char *cmd)
{
    struct stat sb;
    size_t c, n_missing = 0;
    int missing[AETHER_TRAIN_MAX_CLASSES], shown = (int)strlen(o->data);
    DIR *d;
    while (shown > 1 && o->data[shown - 1] == '/')
        shown--; /* "data/" is shown as "data" */
    if (stat(o->data, &sb) != 0)
        return cli_read_error(o->data, errno);
    if (!S_ISDIR(sb.st_mode))
        return cli_read_error(o->data, ENOTDIR);
    d = opendir(o->data);
    if (!d)
        return cli_read_error(o->data, errno);
    closedir(d);
    for (c = 0; c < o->n_labels; ++c) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", o->data, o->labels[c]);
        missing[c] = stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode);
        n_missing += missing[c] ? 1u : 0u;
    }
    if (n_missing) {
        size_t k = 0;
        fprintf(stderr, "aether %s: %.*s: no folder for label%s", cmd, shown, o->data,
                n_missing > 1 ? "s" : "");
        for (c = 0; c < o->n_labels; ++c)
            if (missing[c])
                fprintf(stderr, "%s %s/", k++ ? "," : "", o->labels[c]);
        fprintf(stderr, " (%zu of the %zu label folders missing)\n", n_missing, o->n_labels);
        fprintf(stderr,
                "  expected one subfolder per label, %.*s/<label>/, holding that label's "
                ".npz or .csi.jsonl recordings\n",
                shown, o->data);
        print_subfolders(stderr, o->data, shown);
        return CLI_EXIT_IO;
    }
    for (c = 0; c < o->n_labels; ++c) {
        char path[4096];
        struct dirent *e;
        size_t n_rec = 0;
        snprintf(path, sizeof path, "%s/%s", o->data, o->labels[c]);
        d = opendir(path);
        if (!d)
            return cli_read_error(path, errno);
        while ((e = readdir(d)) != NULL)
            n_rec += has_suffix(e->d_name, ".npz") || has_suffix(e->d_name, ".csi.jsonl");
        closedir(d);
        if (n_rec == 0)
            fprintf(stderr, "aether %s: note: %.*s/%s/ holds no .npz or .csi.jsonl recordings\n",
                    cmd, shown, o->data, o->labels[c]);
    }
    return 0;
}

int train_load_data(const train_opts *o, const char *cmd, aether_dataset *ds)
{
    aether_status st;
    int rc = check_folders(o, cmd);
    if (rc != 0)
        return rc;
    st = aether_dataset_load_recipe(o->data, (const char *const *)o->labels, o->n_labels,
                                    o->input_dim, o->recipe, ds);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether %s: cannot load %s: %s\n", cmd, o->data, aether_strerror(st));
        return cli_exit_status(st);
    }
    st = aether_train_split_by_time(ds->recs, ds->n_recs, ds->n_classes, o->val_frac);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether %s: split: %s\n", cmd, aether_strerror(st));
        aether_dataset_free(ds);
        return cli_exit_status(st);
    }
    return 0;
}

int train_require_training(const train_opts *o, const aether_dataset *ds, const char *cmd)
{
    size_t r;
    for (r = 0; r < ds->n_recs; ++r)
        if (ds->recs[r].split == AETHER_SPLIT_TRAIN && ds->recs[r].n_frames > 0)
            return CLI_EXIT_OK;
    fprintf(stderr,
            "aether %s: %s: no training recordings (%zu recordings in the label folders, "
            "none in the training split with frames)\n",
            cmd, o->data, ds->n_recs);
    return CLI_EXIT_MISFIT;
}

/* ---------- metrics ---------- */

static void json_confusion(const size_t *conf, size_t C)
{
    size_t i, j;
    printf("\"confusion\":[");
    for (i = 0; i < C; ++i) {
        printf("%s[", i ? "," : "");
        for (j = 0; j < C; ++j)
            printf("%s%zu", j ? "," : "", conf[i * C + j]);
        printf("]");
    }
    printf("]");
}

/* One whole-recording block: JSON members, or two text lines. */
static void print_rec_block(const train_opts *o, const char *key, const char *title,
                            const size_t *conf, size_t C)
{
    aether_metrics m;
    size_t i;
    aether_metrics_compute(conf, C, &m);
    if (o->json) {
        printf(",\"%s\":{\"accuracy\":%.6f,\"macro_f1\":%.6f,", key, m.accuracy, m.macro_f1);
        json_confusion(conf, C);
        printf("}");
        return;
    }
    printf("  %-26s accuracy %.4f   macro-F1 %.4f   confusion", title, m.accuracy, m.macro_f1);
    for (i = 0; i < C * C; ++i)
        printf("%s%zu", i % C ? " " : (i ? " | " : " "), conf[i]);
    printf("\n");
}

void train_print_metrics(const train_opts *o, const aether_dataset *ds, const char *what,
                         const size_t *conf, size_t n_rec, size_t n_win,
                         const train_rec_metrics *rec)
{
    aether_metrics m;
    size_t C = ds->n_classes, i, j;
    aether_metrics_compute(conf, C, &m);
    if (o->json) {
        printf("{\"what\":\"%s\",\"split\":\"%s\",\"recordings\":%zu,\"windows\":%zu,"
               "\"accuracy\":%.6f,\"macro_f1\":%.6f,\"labels\":[",
               what,
               o->cv_folds ? "cv"
               : o->all    ? "all"
                           : "val",
               n_rec, n_win, m.accuracy, m.macro_f1);
        /* labels are folder names: quotes and backslashes escaped */
        for (i = 0; i < C; ++i) {
            printf("%s", i ? "," : "");
            cli_json_string(ds->labels[i]);
        }
        printf("],\"recall\":{");
        for (i = 0; i < C; ++i) {
            printf("%s", i ? "," : "");
            cli_json_string(ds->labels[i]);
            printf(":%.6f", m.recall[i]);
        }
        printf("},\"f1\":{");
        for (i = 0; i < C; ++i) {
            printf("%s", i ? "," : "");
            cli_json_string(ds->labels[i]);
            printf(":%.6f", m.f1[i]);
        }
        printf("},");
        json_confusion(conf, C);
        if (rec) {
            print_rec_block(o, "recording_vote", "", rec->vote, C);
            if (rec->have_mean_prob)
                print_rec_block(o, "recording_mean_prob", "", rec->mean_prob, C);
        }
        printf("}\n");
        return;
    }
    if (o->cv_folds)
        printf("%s on %zu-fold time-block cross-validation (every training recording held out "
               "once): %zu recordings, %zu windows\n",
               what, o->cv_folds, n_rec, n_win);
    else
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
    if (rec) {
        printf("  whole recordings (%zu), one decision each (confusion rows: true):\n", n_rec);
        print_rec_block(o, "", "majority vote of windows", rec->vote, C);
        if (rec->have_mean_prob)
            print_rec_block(o, "", "largest mean probability", rec->mean_prob, C);
    }
}

/* ---------- network ---------- */

aether_status train_make_net(train_opts *o, const aether_dataset *ds,
                             const aether_train_recording *recs, size_t n_recs,
                             aether_train_config *tc, aether_train_net **out)
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
        st = aether_train_norm_stats(recs, n_recs, o->input_dim,
                                     o->have_mask ? o->mask : NULL, 1e-3f, mean, inv);
    if (st == AETHER_OK && (o->input_dim & 1u)) {
        /* odd input dims end in the recipe's reserved slot, always 0: with
         * mean -1 and inv_std 1 it becomes a constant 1, i.e. a bias input
         * for every projection and the classifier */
        mean[o->input_dim - 1] = -1.0f;
        inv[o->input_dim - 1] = 1.0f;
        tc->const_feature = (long)o->input_dim - 1;
    }
    /* --aug-scale rescales the energy slot as ln(1 + s^2 P); the slot [0] of
     * csi-v4 and csi-v5 does not change with a constant gain, so nothing is
     * rescaled */
    tc->energy_feature = o->recipe == AETHER_FEATURES_V4 || o->recipe == AETHER_FEATURES_V5
                             ? -1
                             : AETHER_FEAT_ENERGY;
    if (st == AETHER_OK)
        st = aether_train_net_set_norm(net, mean, inv);
    if (st != AETHER_OK) {
        aether_train_net_destroy(net);
        return st;
    }
    *out = net;
    return AETHER_OK;
}

aether_train_recording *train_fit_view(const train_opts *o, const aether_dataset *ds,
                                       aether_dataset *aug, size_t *n_view, aether_status *st)
{
    aether_train_recording *v;
    size_t r, n;
    memset(aug, 0, sizeof *aug);
    *n_view = 0;
    *st = AETHER_OK;
    if (o->aug_gain_steps > 0.0 && o->aug_copies > 0) {
        *st = aether_dataset_gain_step_copies(o->data, ds, o->aug_gain_steps, o->aug_copies,
                                              o->tc.seed, aug);
        if (*st != AETHER_OK)
            return NULL;
    }
    n = ds->n_recs + aug->n_recs;
    v = (aether_train_recording *)malloc((n ? n : 1) * sizeof(aether_train_recording));
    if (!v) {
        aether_dataset_free(aug);
        *st = AETHER_ERR_NO_MEM;
        return NULL;
    }
    if (ds->n_recs)
        memcpy(v, ds->recs, ds->n_recs * sizeof(aether_train_recording));
    if (aug->n_recs)
        memcpy(v + ds->n_recs, aug->recs, aug->n_recs * sizeof(aether_train_recording));
    for (r = 0; r < n; ++r) {
        size_t cut = o->trim_start;
        if (v[r].split != AETHER_SPLIT_TRAIN)
            continue;
        if (v[r].n_frames < o->tc.window + cut)
            cut = v[r].n_frames > o->tc.window ? v[r].n_frames - o->tc.window : 0;
        v[r].frames += cut * ds->dim;
        v[r].n_frames -= cut;
    }
    *n_view = n;
    return v;
}
