/* `aether csi`: summarise a CSI recording, optionally with feature vectors. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/csi.h"
#include "aether/features.h"
#include "aether/recording.h"
#include "cli_util.h"
#include "commands.h"

#define MAX_SHOWN 1000u

typedef struct csi_args {
    const char *path;
    int features;
    int json;
    size_t input_dim;
    size_t count;
    size_t max_line;
    unsigned recipe;
} csi_args;

static void csi_usage(FILE *f)
{
    fprintf(f,
            "usage: aether csi FILE [--features] [--recipe R] [--input-dim N] [--count K]\n"
            "                  [--json] [--max-line BYTES]\n"
            "  Reads a .csi.jsonl recording, an ESPectre .npz or a stream of ADR-018\n"
            "  frames and prints frames per kind, node and pair count, skipped and\n"
            "  malformed records (first few with line numbers and reasons), duration.\n"
            "  --features     also compute feature vectors: print the first K and the\n"
            "                 per-feature mean and std over the whole recording\n"
            "  --recipe R     feature recipe: csi-v1 (default), csi-v2, -v3, -v4, -v5\n"
            "  --input-dim N  feature vector length (%u..%u, default %u)\n"
            "  --count K      feature vectors printed (default 5, at most %u; `aether\n"
            "                 features` writes all of them to a .npy)\n"
            "  --json         one JSON object instead of text\n"
            "  --max-line B   longest JSONL line accepted (default 1 MiB)\n"
            "  A file that holds no CSI frame at all (empty, or every record malformed\n"
            "  or skipped) is reported and exits 4.\n",
            AETHER_FEATURES_MIN_DIM, AETHER_FEATURES_MAX_DIM, AETHER_FEATURES_DEFAULT_DIM,
            MAX_SHOWN);
    cli_print_exit_statuses(f);
}

enum { OPT_FEATURES = 1, OPT_JSON, OPT_INPUT_DIM, OPT_COUNT, OPT_MAX_LINE, OPT_RECIPE };

static const struct option k_options[] = {
    {"features", no_argument, NULL, OPT_FEATURES},
    {"json", no_argument, NULL, OPT_JSON},
    {"input-dim", required_argument, NULL, OPT_INPUT_DIM},
    {"count", required_argument, NULL, OPT_COUNT},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {"recipe", required_argument, NULL, OPT_RECIPE},
    {NULL, 0, NULL, 0},
};

/* 0 to go on, else the exit status to return (-1 after --help/--version). */
static int parse_args(int argc, char **argv, csi_args *a)
{
    cli_command c;
    char **pos;
    int opt, rc = 0, n;
    memset(a, 0, sizeof *a);
    a->input_dim = AETHER_FEATURES_DEFAULT_DIM;
    a->count = 5;
    a->recipe = AETHER_FEATURES_V1;
    cli_command_init(&c, "csi", k_options, csi_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc == 0 ? -1 : rc;
        case OPT_FEATURES:
            a->features = 1;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_INPUT_DIM:
            if (cli_parse_input_dim(&c, c.optarg, &a->input_dim))
                return CLI_EXIT_USAGE;
            break;
        case OPT_COUNT:
            if (!cli_parse_size(c.optarg, &a->count) || a->count > MAX_SHOWN)
                return cli_usage_error(&c, "--count is 0..%u (aether features writes all)",
                                       MAX_SHOWN);
            break;
        case OPT_MAX_LINE:
            if (!cli_parse_size(c.optarg, &a->max_line) || a->max_line == 0)
                return cli_usage_error(&c, "--max-line needs a positive integer");
            break;
        case OPT_RECIPE:
            if (cli_parse_recipe(&c, c.optarg, &a->recipe))
                return CLI_EXIT_USAGE;
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    pos = cli_positionals(&c, 1, 1, &n, &rc);
    if (!pos)
        return rc;
    a->path = pos[0];
    return 0;
}

/* Feature pass state: first vectors kept for printing, running mean/std. */
typedef struct feat_run {
    aether_features *fx;
    aether_feature_norm *norm;
    float *shown; /* count x dim */
    uint64_t *shown_rec;
    uint32_t *shown_node;
    double *shown_t;
    size_t n_shown;
    uint64_t failed;
    aether_status first_fail;
} feat_run;

static aether_status feat_open(feat_run *fr, const csi_args *a)
{
    aether_features_config fc;
    aether_norm_config nc = aether_norm_config_default(a->input_dim);
    aether_status s;
    memset(fr, 0, sizeof *fr);
    fc.input_dim = a->input_dim;
    fc.max_nodes = 256; /* every possible node id: never TRACKS_FULL */
    fc.recipe = a->recipe;
    s = aether_features_create(&fc, &fr->fx);
    if (s == AETHER_OK)
        s = aether_norm_create(&nc, &fr->norm);
    fr->shown = (float *)calloc(a->count ? a->count * a->input_dim : 1, sizeof(float));
    fr->shown_rec = (uint64_t *)calloc(a->count ? a->count : 1, sizeof(uint64_t));
    fr->shown_node = (uint32_t *)calloc(a->count ? a->count : 1, sizeof(uint32_t));
    fr->shown_t = (double *)calloc(a->count ? a->count : 1, sizeof(double));
    if (s == AETHER_OK && (!fr->shown || !fr->shown_rec || !fr->shown_node || !fr->shown_t))
        s = AETHER_ERR_NO_MEM;
    return s;
}

static void feat_close(feat_run *fr)
{
    aether_features_destroy(fr->fx);
    aether_norm_destroy(fr->norm);
    free(fr->shown);
    free(fr->shown_rec);
    free(fr->shown_node);
    free(fr->shown_t);
}

static void feat_frame(feat_run *fr, const csi_args *a, const aether_csi_frame *f)
{
    float v[AETHER_FEATURES_MAX_DIM];
    aether_status s = aether_features_compute(fr->fx, f, v, a->input_dim);
    if (s == AETHER_OK)
        s = aether_norm_update(fr->norm, v, a->input_dim);
    if (s != AETHER_OK) {
        if (fr->failed++ == 0)
            fr->first_fail = s;
        return;
    }
    if (fr->n_shown < a->count) {
        memcpy(fr->shown + fr->n_shown * a->input_dim, v, a->input_dim * sizeof(float));
        fr->shown_rec[fr->n_shown] = f->record;
        fr->shown_node[fr->n_shown] = f->node_id;
        fr->shown_t[fr->n_shown] = f->timestamp;
        fr->n_shown++;
    }
}

static const char *record_word(aether_recording_format fmt)
{
    return fmt == AETHER_REC_JSONL ? "line" : fmt == AETHER_REC_NPZ ? "row" : "record";
}

static void print_text(const csi_args *a, const aether_recording *r, const feat_run *fr,
                       unsigned time_flags)
{
    const aether_recording_stats *st = aether_recording_get_stats(r);
    const aether_npz_info *in = aether_recording_npz_info(r);
    aether_recording_format fmt = aether_recording_get_format(r);
    uint64_t frames = st->frames[0] + st->frames[1];
    size_t i, j;
    int any = 0;
    printf("file:      %s\n", a->path);
    printf("format:    %s\n", aether_recording_format_name(fmt));
    printf("records:   %llu\n", (unsigned long long)st->records);
    printf("frames:    %llu (raw_iq %llu, amplitude %llu)\n", (unsigned long long)frames,
           (unsigned long long)st->frames[AETHER_CSI_RAW_IQ],
           (unsigned long long)st->frames[AETHER_CSI_AMPLITUDE]);
    printf("nodes:    ");
    for (i = 0; i < 256; ++i)
        if (st->frames_by_node[i]) {
            printf(" %u: %llu", (unsigned)i, (unsigned long long)st->frames_by_node[i]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    printf("pairs:    ");
    for (i = 0; i < AETHER_CSI_PAIR_BINS; ++i)
        if (st->pairs[i].count)
            printf(" %u: %llu", (unsigned)st->pairs[i].n_pairs,
                   (unsigned long long)st->pairs[i].count);
    if (st->pairs_other)
        printf(" other: %llu", (unsigned long long)st->pairs_other);
    printf("%s\n", frames ? "" : " none");
    printf("skipped:  ");
    any = 0;
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        if (st->skipped[i]) {
            printf(" %s %llu", aether_csi_skip_name((aether_csi_skip)i),
                   (unsigned long long)st->skipped[i]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    printf("malformed: %llu", (unsigned long long)st->malformed);
    if (st->too_long)
        printf(" (%llu over the line limit)", (unsigned long long)st->too_long);
    printf("\n");
    for (i = 0; i < st->n_errors; ++i) {
        const aether_csi_error *e = &st->errors[i];
        if (e->record)
            printf("  %s %llu (byte %llu): %s [%s]\n", record_word(fmt),
                   (unsigned long long)e->record, (unsigned long long)e->offset, e->reason,
                   aether_status_name(e->status));
        else
            printf("  member at byte %llu: %s [%s]\n", (unsigned long long)e->offset, e->reason,
                   aether_status_name(e->status));
    }
    if (frames)
        printf("duration:  %.3f s (%.6f .. %.6f%s)\n", st->t_last - st->t_first, st->t_first,
               st->t_last, (time_flags & AETHER_CSI_TIME_SYNTH) ? ", synthesised" : "");
    if (in)
        printf("npz:       label '%s', chip '%s', num_subcarriers %lld, duration_ms %.0f, "
               "gain_locked %d, collected_at '%s', format_version '%s', csi_data %zu x %zu\n",
               in->label, in->chip, (long long)in->num_subcarriers, in->duration_ms,
               in->gain_locked, in->collected_at, in->format_version, in->rows, in->row_bytes);
    if (!fr)
        return;
    printf("features:  %s, input_dim %zu (%zu groups), %llu vectors",
           aether_features_recipe_name(a->recipe), a->input_dim,
           aether_features_groups(a->input_dim), (unsigned long long)aether_norm_count(fr->norm));
    if (fr->failed)
        printf(", %llu frames refused (%s)", (unsigned long long)fr->failed,
               aether_status_name(fr->first_fail));
    printf("\n");
    for (i = 0; i < fr->n_shown; ++i) {
        printf("  %s %llu node %u t %.3f:", record_word(fmt),
               (unsigned long long)fr->shown_rec[i], (unsigned)fr->shown_node[i], fr->shown_t[i]);
        for (j = 0; j < a->input_dim; ++j)
            printf(" %.4f", (double)fr->shown[i * a->input_dim + j]);
        printf("\n");
    }
    if (aether_norm_count(fr->norm) > 0) {
        printf("  mean:");
        for (j = 0; j < a->input_dim; ++j) {
            double m, v;
            aether_norm_stats(fr->norm, j, &m, &v);
            printf(" %.4f", m);
        }
        printf("\n  std: ");
        for (j = 0; j < a->input_dim; ++j) {
            double m, v;
            aether_norm_stats(fr->norm, j, &m, &v);
            printf(" %.4f", sqrt(v));
        }
        printf("\n");
    }
}

static cJSON *float_array(const float *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;
    for (i = 0; arr && i < n; ++i)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)v[i]));
    return arr;
}

static int print_json(const csi_args *a, const aether_recording *r, const feat_run *fr,
                      unsigned time_flags)
{
    const aether_recording_stats *st = aether_recording_get_stats(r);
    const aether_npz_info *in = aether_recording_npz_info(r);
    aether_recording_format fmt = aether_recording_get_format(r);
    cJSON *o = cJSON_CreateObject(), *x;
    char key[16];
    char *text;
    size_t i, j;
    if (!o)
        return 0;
    cJSON_AddStringToObject(o, "file", a->path);
    cJSON_AddStringToObject(o, "format", aether_recording_format_name(fmt));
    cJSON_AddNumberToObject(o, "records", (double)st->records);
    x = cJSON_AddObjectToObject(o, "frames");
    cJSON_AddNumberToObject(x, "raw_iq", (double)st->frames[AETHER_CSI_RAW_IQ]);
    cJSON_AddNumberToObject(x, "amplitude", (double)st->frames[AETHER_CSI_AMPLITUDE]);
    x = cJSON_AddObjectToObject(o, "nodes");
    for (i = 0; i < 256; ++i)
        if (st->frames_by_node[i]) {
            snprintf(key, sizeof key, "%u", (unsigned)i);
            cJSON_AddNumberToObject(x, key, (double)st->frames_by_node[i]);
        }
    x = cJSON_AddObjectToObject(o, "pairs");
    for (i = 0; i < AETHER_CSI_PAIR_BINS; ++i)
        if (st->pairs[i].count) {
            snprintf(key, sizeof key, "%u", (unsigned)st->pairs[i].n_pairs);
            cJSON_AddNumberToObject(x, key, (double)st->pairs[i].count);
        }
    if (st->pairs_other)
        cJSON_AddNumberToObject(x, "other", (double)st->pairs_other);
    x = cJSON_AddObjectToObject(o, "skipped");
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        cJSON_AddNumberToObject(x, aether_csi_skip_name((aether_csi_skip)i),
                                (double)st->skipped[i]);
    cJSON_AddNumberToObject(o, "malformed", (double)st->malformed);
    cJSON_AddNumberToObject(o, "too_long", (double)st->too_long);
    x = cJSON_AddArrayToObject(o, "errors");
    for (i = 0; i < st->n_errors; ++i) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "unit", st->errors[i].record ? record_word(fmt) : "member");
        cJSON_AddNumberToObject(e, "number", (double)st->errors[i].record);
        cJSON_AddNumberToObject(e, "offset", (double)st->errors[i].offset);
        cJSON_AddStringToObject(e, "status", aether_status_name(st->errors[i].status));
        cJSON_AddStringToObject(e, "reason", st->errors[i].reason);
        cJSON_AddItemToArray(x, e);
    }
    if (st->frames[0] + st->frames[1]) {
        cJSON_AddNumberToObject(o, "t_first", st->t_first);
        cJSON_AddNumberToObject(o, "t_last", st->t_last);
        cJSON_AddNumberToObject(o, "duration_s", st->t_last - st->t_first);
        cJSON_AddBoolToObject(o, "time_synthesised", (time_flags & AETHER_CSI_TIME_SYNTH) != 0);
    }
    if (in) {
        x = cJSON_AddObjectToObject(o, "npz");
        cJSON_AddStringToObject(x, "label", in->label);
        cJSON_AddStringToObject(x, "chip", in->chip);
        cJSON_AddNumberToObject(x, "num_subcarriers", (double)in->num_subcarriers);
        cJSON_AddNumberToObject(x, "duration_ms", in->duration_ms);
        cJSON_AddNumberToObject(x, "gain_locked", in->gain_locked);
        cJSON_AddStringToObject(x, "collected_at", in->collected_at);
        cJSON_AddStringToObject(x, "format_version", in->format_version);
        cJSON_AddNumberToObject(x, "rows", (double)in->rows);
        cJSON_AddNumberToObject(x, "row_bytes", (double)in->row_bytes);
    }
    if (fr) {
        cJSON *vecs, *mean = cJSON_CreateArray(), *sd = cJSON_CreateArray();
        x = cJSON_AddObjectToObject(o, "features");
        cJSON_AddStringToObject(x, "recipe", aether_features_recipe_name(a->recipe));
        cJSON_AddNumberToObject(x, "input_dim", (double)a->input_dim);
        cJSON_AddNumberToObject(x, "groups", (double)aether_features_groups(a->input_dim));
        cJSON_AddNumberToObject(x, "vectors", (double)aether_norm_count(fr->norm));
        cJSON_AddNumberToObject(x, "refused", (double)fr->failed);
        vecs = cJSON_AddArrayToObject(x, "first");
        for (i = 0; i < fr->n_shown; ++i) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "record", (double)fr->shown_rec[i]);
            cJSON_AddNumberToObject(e, "node", (double)fr->shown_node[i]);
            cJSON_AddNumberToObject(e, "timestamp", fr->shown_t[i]);
            cJSON_AddItemToObject(e, "values",
                                  float_array(fr->shown + i * a->input_dim, a->input_dim));
            cJSON_AddItemToArray(vecs, e);
        }
        for (j = 0; aether_norm_count(fr->norm) > 0 && j < a->input_dim; ++j) {
            double m, v;
            aether_norm_stats(fr->norm, j, &m, &v);
            cJSON_AddItemToArray(mean, cJSON_CreateNumber(m));
            cJSON_AddItemToArray(sd, cJSON_CreateNumber(sqrt(v)));
        }
        cJSON_AddItemToObject(x, "mean", mean);
        cJSON_AddItemToObject(x, "std", sd);
    }
    text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return 0;
    printf("%s\n", text);
    cJSON_free(text);
    return 1;
}

int cmd_csi(int argc, char **argv)
{
    csi_args a;
    aether_recording_options opt;
    aether_recording *r = NULL;
    aether_csi_frame f;
    feat_run fr;
    aether_status s;
    unsigned time_flags = 0;
    const aether_recording_stats *rs;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    memset(&opt, 0, sizeof opt);
    opt.max_line = a.max_line;
    s = aether_recording_open(a.path, &opt, &r);
    if (s == AETHER_ERR_IO)
        return cli_read_error(a.path, errno);
    if (s != AETHER_OK) {
        fprintf(stderr, "aether csi: %s: %s\n", a.path, aether_strerror(s));
        return cli_exit_status(s);
    }
    if (a.features && (s = feat_open(&fr, &a)) != AETHER_OK) {
        fprintf(stderr, "aether csi: %s\n", aether_strerror(s));
        feat_close(&fr);
        aether_recording_close(r);
        return CLI_EXIT_FAILED;
    }
    while ((s = aether_recording_next(r, &f)) == AETHER_OK) {
        time_flags |= f.flags;
        if (a.features)
            feat_frame(&fr, &a, &f);
    }
    if (s != AETHER_ERR_END) {
        fprintf(stderr, "aether csi: %s: %s\n", a.path, aether_strerror(s));
        rc = cli_exit_status(s);
    }
    if (a.json) {
        if (!print_json(&a, r, a.features ? &fr : NULL, time_flags))
            rc = CLI_EXIT_FAILED;
    } else {
        print_text(&a, r, a.features ? &fr : NULL, time_flags);
    }
    rs = aether_recording_get_stats(r);
    if (rc == 0 && rs->frames[AETHER_CSI_RAW_IQ] + rs->frames[AETHER_CSI_AMPLITUDE] == 0) {
        fprintf(stderr, "aether csi: %s holds no CSI frame (%llu records, %llu malformed)\n",
                a.path, (unsigned long long)rs->records, (unsigned long long)rs->malformed);
        rc = CLI_EXIT_MALFORMED;
    }
    if (a.features)
        feat_close(&fr);
    aether_recording_close(r);
    return rc;
}
