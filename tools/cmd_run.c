/*
 * `aether run`: a recording through features -> one streaming session per
 * node (aether/tracks.h, track id = node id) -> periodic decisions, as text
 * or JSON lines, optionally as 0xC5110007 packets, with a summary.
 *
 * A model trained as a mean-pooled window classifier (blob metadata
 * pool=mean, or --pool mean) is used the way it was trained instead: the
 * same table keeps one window classifier per node (aether/window.h: the
 * node's last window_frames feature frames), and every decision is one
 * window forward (mean pooling) over them in order (fewer while the window
 * fills). Labels, attention config and feature recipe also come from the
 * metadata unless given on the command line.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/packet.h"
#include "aether/tracks.h"
#include "aether/recording.h"
#include "cli_util.h"
#include "commands.h"
#include "model_load.h"
#include "model_meta.h"

/* Exit statuses: the table in tools/commands.h; RUN_MISFIT is a valid model
 * that does not fit this run (feature dimension, label count, packets). */
enum {
    RUN_OK = CLI_EXIT_OK,
    RUN_FAIL = CLI_EXIT_FAILED,
    RUN_USAGE = CLI_EXIT_USAGE,
    RUN_IO = CLI_EXIT_IO,
    RUN_INVALID = CLI_EXIT_MALFORMED,
    RUN_MISFIT = CLI_EXIT_MISFIT
};

#define MAX_LABELS 256u
#define N_NODES 256u

typedef struct run_opts {
    const char *model_path, *input_path, *packets_path, *labels_arg;
    int have_node;
    unsigned node;
    size_t every;
    double period; /* > 0: decide by time instead of frame count */
    int json, no_progress;
    size_t input_dim; /* 0 = the blob's */
    model_choices mc; /* over the metadata's: backend, window, block, pool, recipe */
    size_t capacity, max_tracks;
    double max_age;
    size_t max_line;
    char *labels[MAX_LABELS];
    size_t n_labels;
    char labels_buf[AETHER_BLOB_META_MAX_TEXT]; /* fits MODEL_META_FIELDS_CAP escaped */
} run_opts;

/* Decision schedule and counters of one node. */
typedef struct node_state {
    uint64_t stepped, decisions, refused;
    uint32_t seq;
    double next_due;
    int have_due;
} node_state;

typedef struct run_state {
    unsigned char *blob_bytes;
    model_loaded ld; /* the blob (viewing blob_bytes), its metadata and choices */
    aether_model *model;
    aether_model_info info;
    aether_recording *rec;
    aether_features *fx;
    aether_tracks *tracks;
    FILE *packets;
    float *logits;
    const char *labels_from; /* "--labels", "metadata" or NULL */
    node_state nodes[N_NODES];
    uint64_t filtered, refused_features, refused_model, decisions, packets_written;
    uint64_t by_class[MAX_LABELS];  /* decisions that were not unknown, by class */
    uint64_t unknown, out_of_range; /* unknown decisions; of them out of range */
    aether_status first_refusal;
    double t0;
    int have_t0;
    double ns_features, ns_model;
    uint64_t timed_frames;
    /* progress */
    int tty;
    uint64_t total_records; /* 0 = unknown */
    double last_draw;
} run_state;

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: aether run --model M.rvne --input FILE [options]\n"
            "  Streams a CSI recording (.csi.jsonl, ESPectre .npz, ADR-018 stream)\n"
            "  through per-node feature extraction into one streaming model session\n"
            "  per node (track id = node id) and prints a decision per node every N\n"
            "  frames or S seconds: time, node, class (and label), margin, logits.\n"
            "options:\n"
            "  --node N            only frames of node N (0..255)\n"
            "  --every N           a decision every N frames of a node (default 50)\n"
            "  --period S          a decision every S seconds of a node's recording time\n"
            "  --json              JSON lines: decisions, then one summary object\n"
            "  --packets OUT       also write 0xC5110007 packets (seq per node from 1)\n"
            "  --labels a,b,c      class names (as many as the model has classes;\n"
            "                      default: the blob's metadata)\n"
            "  --pool last|mean    last: one streaming session per node; mean: a window\n"
            "                      forward over each node's last N frames per decision\n"
            "                      (default: the blob's metadata, else last)\n"
            "  --window-frames N   N for --pool mean (default: the blob's metadata)\n"
            "  --recipe csi-v1..csi-v5  feature recipe (default: the blob's, else csi-v1)\n"
            "  --input-dim D       feature dimension; must equal the blob's (default)\n"
            "  --backend sparse|dense|auto  attention backend (metadata, else sparse)\n"
            "  --dense-checkpoint  for auto: the weights come from a dense-MHA checkpoint\n"
            "  --window N --block N  attention window radius / landmark block\n"
            "                      (metadata, else 32, 16)\n"
            "  --capacity N        frames per layer cache of a node's session (4096)\n"
            "  --max-tracks N      node sessions kept at once, least recently used\n"
            "                      replaced beyond (8)\n"
            "  --max-age S         restart a node's session after S seconds unseen (0: never)\n"
            "  --max-line BYTES    longest JSONL line accepted (1 MiB)\n"
            "  --no-progress       no progress bar (it is only drawn on a terminal)\n"
            "  A recording that holds no CSI frame at all (empty, or every record malformed\n"
            "  or skipped) gets its summary and exits 4.\n");
    cli_print_exit_statuses(f);
}

static int split_labels(run_opts *o)
{
    return cli_split_labels(o->labels_arg, o->labels_buf, sizeof o->labels_buf, o->labels,
                            MAX_LABELS, &o->n_labels);
}

enum {
    OPT_JSON = 1,
    OPT_NO_PROGRESS,
    OPT_DENSE_CHECKPOINT,
    OPT_MODEL,
    OPT_INPUT,
    OPT_PACKETS,
    OPT_LABELS,
    OPT_BACKEND,
    OPT_POOL,
    OPT_RECIPE,
    OPT_WINDOW_FRAMES,
    OPT_NODE,
    OPT_EVERY,
    OPT_PERIOD,
    OPT_MAX_AGE,
    OPT_INPUT_DIM,
    OPT_WINDOW,
    OPT_BLOCK,
    OPT_CAPACITY,
    OPT_MAX_TRACKS,
    OPT_MAX_LINE
};

static const struct option k_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"dense-checkpoint", no_argument, NULL, OPT_DENSE_CHECKPOINT},
    {"model", required_argument, NULL, OPT_MODEL},
    {"input", required_argument, NULL, OPT_INPUT},
    {"packets", required_argument, NULL, OPT_PACKETS},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"pool", required_argument, NULL, OPT_POOL},
    {"recipe", required_argument, NULL, OPT_RECIPE},
    {"window-frames", required_argument, NULL, OPT_WINDOW_FRAMES},
    {"node", required_argument, NULL, OPT_NODE},
    {"every", required_argument, NULL, OPT_EVERY},
    {"period", required_argument, NULL, OPT_PERIOD},
    {"max-age", required_argument, NULL, OPT_MAX_AGE},
    {"input-dim", required_argument, NULL, OPT_INPUT_DIM},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"block", required_argument, NULL, OPT_BLOCK},
    {"capacity", required_argument, NULL, OPT_CAPACITY},
    {"max-tracks", required_argument, NULL, OPT_MAX_TRACKS},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {NULL, 0, NULL, 0},
};

/* 0 ok, -1 after --help / --version, else the exit status. */
static int parse_opts(int argc, char **argv, run_opts *o)
{
    cli_command c;
    int opt, rc = 0, have_every = 0, have_max_line = 0, npos;
    memset(o, 0, sizeof *o);
    o->every = 50;
    o->capacity = aether_model_session_params_default().capacity;
    o->max_tracks = 8;
    cli_command_init(&c, "run", k_options, run_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        const char *v = c.optarg;
        size_t n = 0;
        switch (opt) {
        case CLI_STOP:
            return rc == 0 ? -1 : rc;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_NO_PROGRESS:
            o->no_progress = 1;
            break;
        case OPT_DENSE_CHECKPOINT:
            o->mc.dense_checkpoint = 1;
            break;
        case OPT_MODEL:
            o->model_path = v;
            break;
        case OPT_INPUT:
            o->input_path = v;
            break;
        case OPT_PACKETS:
            o->packets_path = v;
            break;
        case OPT_LABELS:
            o->labels_arg = v;
            if (!split_labels(o))
                return cli_usage_error(&c, "--labels is a comma-separated list of names");
            break;
        case OPT_BACKEND:
            if (aether_head_backend_parse(v, &o->mc.backend) != AETHER_OK)
                return cli_usage_error(&c, "--backend is sparse, dense or auto");
            o->mc.have_backend = 1;
            break;
        case OPT_POOL:
            if (!strcmp(v, "last"))
                o->mc.pool = AETHER_POOL_LAST;
            else if (!strcmp(v, "mean"))
                o->mc.pool = AETHER_POOL_MEAN;
            else
                return cli_usage_error(&c, "--pool is last or mean");
            o->mc.have_pool = 1;
            break;
        case OPT_RECIPE:
            if (cli_parse_recipe(&c, v, &o->mc.recipe))
                return CLI_EXIT_USAGE;
            o->mc.have_recipe = 1;
            break;
        case OPT_WINDOW_FRAMES:
            if (!cli_parse_size(v, &o->mc.window_frames) || o->mc.window_frames == 0 ||
                o->mc.window_frames > 65536)
                return cli_usage_error(&c, "--window-frames is 1..65536");
            break;
        case OPT_NODE:
            if (!cli_parse_size(v, &n) || n > 255)
                return cli_usage_error(&c, "--node is 0..255");
            o->have_node = 1;
            o->node = (unsigned)n;
            break;
        case OPT_EVERY:
            if (!cli_parse_size(v, &o->every) || o->every == 0)
                return cli_usage_error(&c, "--every needs a positive frame count");
            have_every = 1;
            break;
        case OPT_PERIOD:
            if (!cli_parse_seconds(v, 1e12, &o->period) || o->period <= 0.0)
                return cli_usage_error(&c, "--period needs a positive number of seconds");
            break;
        case OPT_MAX_AGE:
            if (!cli_parse_seconds(v, 1e12, &o->max_age))
                return cli_usage_error(&c, "--max-age needs a non-negative number of seconds");
            break;
        case OPT_INPUT_DIM:
            if (cli_parse_input_dim(&c, v, &o->input_dim))
                return CLI_EXIT_USAGE;
            break;
        case OPT_WINDOW:
        case OPT_BLOCK:
        case OPT_CAPACITY:
        case OPT_MAX_TRACKS:
        case OPT_MAX_LINE:
            if (!cli_parse_size(v, &n))
                return cli_usage_error(&c, "--%s needs a non-negative integer",
                                       cli_option_name(&c, opt));
            if (opt == OPT_WINDOW) {
                o->mc.window = n;
                o->mc.have_window = 1;
            } else if (opt == OPT_BLOCK) {
                o->mc.block = n;
                o->mc.have_block = 1;
            } else if (opt == OPT_CAPACITY) {
                o->capacity = n;
            } else if (opt == OPT_MAX_TRACKS) {
                o->max_tracks = n;
            } else {
                o->max_line = n;
                have_max_line = 1;
            }
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &npos, &rc))
        return rc;
    if (!o->model_path || !o->input_path)
        return cli_usage_error(&c, "--model and --input are required");
    if (have_every && o->period > 0.0)
        return cli_usage_error(&c, "give --every or --period, not both");
    if (o->capacity == 0 || o->max_tracks == 0 || o->max_tracks > N_NODES)
        return cli_usage_error(&c, "--capacity must be > 0 and --max-tracks 1..%u", N_NODES);
    if (have_max_line && o->max_line == 0) /* 0 would mean the default, as in no option */
        return cli_usage_error(&c, "--max-line needs a positive integer");
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* How the model is used: metadata defaults under the command line's
 * choices (attention config, pooling, window, recipe: model_load_prepare),
 * then the labels and the window length. */
static int apply_metadata(run_opts *o, run_state *r, size_t len)
{
    int rc = model_load_prepare("run", o->model_path, r->blob_bytes, len, &o->mc, &r->ld);
    if (rc != RUN_OK)
        return rc;
    if (o->n_labels) {
        r->labels_from = "--labels"; /* the command line wins over metadata */
    } else if (r->ld.meta.have_labels) {
        o->labels_arg = r->ld.meta.labels;
        if (!split_labels(o)) {
            fprintf(stderr, "aether run: %s: the metadata labels are not a list of names\n",
                    o->model_path);
            return RUN_INVALID;
        }
        r->labels_from = "metadata";
    }
    if (r->ld.window_mode && r->ld.window_frames == 0) {
        fprintf(stderr, "aether run: pooling mean needs --window-frames N (the blob has no "
                        "window_frames metadata)\n");
        return RUN_USAGE;
    }
    return RUN_OK;
}

/* Blob -> model, checked against the features and the options. */
static int load_model(run_opts *o, run_state *r)
{
    size_t len = 0;
    aether_status st;
    int rc;
    r->blob_bytes = cli_read_file(o->model_path, &len);
    if (!r->blob_bytes)
        return cli_read_error(o->model_path, errno);
    rc = apply_metadata(o, r, len);
    if (rc != RUN_OK)
        return rc;
    /* The blob buffer lives as long as the model: f32 weights used in place. */
    st = aether_model_create(&r->ld.blob, &r->ld.hc, AETHER_MODEL_BORROW_IF_POSSIBLE, &r->model);
    if (st != AETHER_OK) {
        /* 2 when the options made the attention invalid, 4 when the blob did */
        rc = model_load_config_error("aether run", o->model_path, &r->ld.blob, &r->ld.meta,
                                     &r->ld.hc);
        if (rc != 0)
            return rc;
        fprintf(stderr, "aether run: %s: cannot load the model: %s (%s)\n", o->model_path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? RUN_FAIL : RUN_INVALID;
    }
    aether_model_get_info(r->model, &r->info);
    rc = model_load_check_csi("run", o->model_path, &r->info);
    if (rc != RUN_OK)
        return rc;
    if (o->input_dim && o->input_dim != r->info.input_dim) {
        fprintf(stderr,
                "aether run: %s: the model takes %lu inputs per frame but --input-dim is %lu "
                "(drop --input-dim to use the model's)\n",
                o->model_path, (unsigned long)r->info.input_dim, (unsigned long)o->input_dim);
        return RUN_MISFIT;
    }
    if (o->n_labels && o->n_labels != r->info.n_classes) {
        fprintf(stderr, "aether run: %s has %lu classes but %s names %lu\n", o->model_path,
                (unsigned long)r->info.n_classes,
                r->labels_from && !strcmp(r->labels_from, "metadata") ? "its labels metadata"
                                                                      : "--labels",
                (unsigned long)o->n_labels);
        return RUN_MISFIT;
    }
    if (o->packets_path && r->info.n_classes > 256) {
        fprintf(stderr,
                "aether run: %s has %lu classes; a 0xC5110007 packet carries at most 256\n",
                o->model_path, (unsigned long)r->info.n_classes);
        return RUN_MISFIT;
    }
    r->logits = (float *)malloc(r->info.n_classes * sizeof(float));
    if (!r->logits) {
        fprintf(stderr, "aether run: out of memory\n");
        return RUN_FAIL;
    }
    return RUN_OK;
}

static int open_pipeline(const run_opts *o, run_state *r)
{
    aether_recording_options ro;
    aether_features_config fc;
    aether_tracks_params tp = aether_tracks_params_default();
    aether_status st;
    memset(&ro, 0, sizeof ro);
    ro.max_line = o->max_line;
    st = aether_recording_open(o->input_path, &ro, &r->rec);
    if (st == AETHER_ERR_IO)
        return cli_read_error(o->input_path, errno);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether run: %s: %s\n", o->input_path, aether_strerror(st));
        return cli_exit_status(st);
    }
    fc.input_dim = r->info.input_dim;
    fc.max_nodes = N_NODES; /* every node id fits: never TRACKS_FULL here */
    fc.recipe = r->ld.recipe;
    st = aether_features_create(&fc, &r->fx);
    if (st == AETHER_OK) {
        /* one session per node, or one window classifier per node */
        tp.max_tracks = o->max_tracks;
        tp.max_age = o->max_age;
        tp.session.capacity = o->capacity;
        if (r->ld.window_mode) {
            tp.window.frames = r->ld.window_frames;
            tp.window.pool = AETHER_POOL_MEAN;
        }
        st = aether_tracks_create(r->model, &tp, &r->tracks);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether run: cannot set up the sessions: %s (%s)\n", aether_strerror(st),
                aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? RUN_FAIL : RUN_USAGE;
    }
    if (o->packets_path) {
        r->packets = fopen(o->packets_path, "wb");
        if (!r->packets) {
            fprintf(stderr, "aether run: cannot write %s\n", o->packets_path);
            return RUN_IO;
        }
    }
    return RUN_OK;
}

/* ---------------- progress (stderr, terminals only) ---------------- */

/* Lines of a text file, for the bar's denominator; 0 if unknown (standard
 * input, a pipe or a FIFO: reading them here would take the recording's
 * bytes, or wait for a writer). */
static uint64_t count_lines(const char *path)
{
    FILE *f;
    struct stat sb;
    char buf[65536];
    uint64_t n = 0;
    size_t got, i;
    int last = '\n';
    if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    f = fopen(path, "rb");
    if (!f)
        return 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        for (i = 0; i < got; ++i)
            n += buf[i] == '\n';
        last = (unsigned char)buf[got - 1];
    }
    fclose(f);
    return n + (last != '\n');
}

static void progress_setup(const run_opts *o, run_state *r)
{
    const aether_npz_info *npz;
    r->tty = !o->no_progress && isatty(fileno(stderr));
    if (!r->tty)
        return;
    npz = aether_recording_npz_info(r->rec);
    if (npz)
        r->total_records = npz->rows;
    else if (aether_recording_get_format(r->rec) == AETHER_REC_JSONL)
        r->total_records = count_lines(o->input_path);
}

static void progress_draw(run_state *r, uint64_t record, int force)
{
    double t;
    uint64_t frames;
    const aether_recording_stats *rs;
    if (!r->tty)
        return;
    t = now_ns();
    if (!force && t - r->last_draw < 1e8)
        return;
    r->last_draw = t;
    rs = aether_recording_get_stats(r->rec);
    frames = rs->frames[AETHER_CSI_RAW_IQ] + rs->frames[AETHER_CSI_AMPLITUDE];
    if (r->total_records) {
        char bar[31];
        double f = (double)record / (double)r->total_records;
        size_t i, fill;
        if (f > 1.0)
            f = 1.0;
        fill = (size_t)(f * 30.0);
        for (i = 0; i < 30; ++i)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3d%%  %llu frames  %llu decisions ", bar, (int)(f * 100.0),
                (unsigned long long)frames, (unsigned long long)r->decisions);
    } else {
        fprintf(stderr, "\r%llu frames  %llu decisions ", (unsigned long long)frames,
                (unsigned long long)r->decisions);
    }
    fflush(stderr);
}

static void progress_clear(run_state *r)
{
    if (r->tty)
        fprintf(stderr, "\r%70s\r", "");
}

/* ---------------- decisions ---------------- */

static void print_number(float x, int json)
{
    /* JSON: enough digits to give back the exact float. */
    if (json && !aether_isfinite(x))
        printf("null");
    else
        printf(json ? "%.9g" : "%.6g", (double)x);
}

static int emit_decision(const run_opts *o, run_state *r, const aether_csi_frame *f,
                         node_state *ns)
{
    size_t am = 0, i, nc = r->info.n_classes;
    float margin = 0;
    double rel = f->timestamp - r->t0;
    /* a window model's decision knows how far its window lies from the
     * training data; a streaming session's does not (-1) */
    const aether_window *win = aether_tracks_window(r->tracks, f->node_id);
    float distance = -1.0f;
    aether_decision d;
    if (!win || aether_window_input_distance(win, &distance) != AETHER_OK)
        distance = -1.0f;
    d = model_meta_decide(r->logits, nc, &r->ld.meta.decision, distance);
    char fields[MODEL_META_FIELDS_CAP];
    am = d.top;
    margin = d.margin;
    /* stdout may share the terminal with the bar: lift the bar first, and
     * let the next draw put it back under the decision. */
    if (r->tty) {
        progress_clear(r);
        fflush(stderr);
        r->last_draw = 0.0;
    }
    ns->decisions++;
    r->decisions++;
    if (d.unknown) {
        r->unknown++;
        r->out_of_range += d.out_of_distribution != 0;
    } else if (d.top < MAX_LABELS) {
        r->by_class[d.top]++;
    }
    if (o->json) {
        printf("{\"type\":\"decision\",\"t\":%.6f,\"timestamp\":%.6f,\"node\":%u,\"frame\":%llu,"
               "\"record\":%llu,\"class\":%lu,",
               rel, f->timestamp, (unsigned)f->node_id, (unsigned long long)ns->stepped,
               (unsigned long long)f->record, (unsigned long)am);
        if (o->n_labels) {
            printf("\"label\":");
            cli_json_string(o->labels[am]);
            putchar(',');
        }
        model_meta_decision_fields(&d, o->n_labels ? (const char *const *)o->labels : NULL,
                                   distance, fields, sizeof fields);
        fputs(fields, stdout);
        printf("\"margin\":");
        print_number(margin, 1);
        printf(",\"logits\":[");
        for (i = 0; i < nc; ++i) {
            if (i)
                putchar(',');
            print_number(r->logits[i], 1);
        }
        printf("]}\n");
    } else {
        printf("%10.3f s  node %3u  frame %6llu  ", rel, (unsigned)f->node_id,
               (unsigned long long)ns->stepped);
        if (d.unknown)
            printf("%-12s", "unknown");
        else if (o->n_labels)
            printf("%-12s", o->labels[am]);
        else
            printf("class %-6lu", (unsigned long)am);
        printf("  p %.3f", (double)d.probability);
        if (distance >= 0.0f)
            printf("  distance %.2f%s", (double)distance,
                   d.out_of_distribution ? " (out of range)" : "");
        printf("  class %lu", (unsigned long)am);
        if (o->n_labels)
            printf(" %s", o->labels[am]);
        printf("  margin ");
        print_number(margin, 0);
        printf("  logits");
        for (i = 0; i < nc; ++i) {
            putchar(' ');
            print_number(r->logits[i], 0);
        }
        putchar('\n');
    }
    if (r->tty)
        fflush(stdout);
    if (r->packets) {
        aether_class_packet p;
        unsigned char b[AETHER_PACKET_LEN];
        double us = f->timestamp * 1e6;
        uint64_t ts_us = us > 0.0 && us < 1.8e19 ? (uint64_t)(us + 0.5) : 0;
        aether_status st = aether_packet_from_logits(&p, r->logits, nc, (uint8_t)f->node_id,
                                                     ts_us, ++ns->seq);
        if (st == AETHER_OK)
            st = aether_packet_encode(&p, b, sizeof b);
        if (st != AETHER_OK) {
            fprintf(stderr, "aether run: cannot encode a packet: %s\n", aether_strerror(st));
            return RUN_INVALID;
        }
        if (fwrite(b, 1, sizeof b, r->packets) != sizeof b) {
            fprintf(stderr, "aether run: cannot write %s\n", o->packets_path);
            return RUN_IO;
        }
        r->packets_written++;
    }
    return RUN_OK;
}

static int decision_due(const run_opts *o, node_state *ns, double ts)
{
    if (o->period <= 0.0)
        return ns->stepped % o->every == 0;
    if (!ns->have_due) {
        ns->next_due = ts + o->period;
        ns->have_due = 1;
        return 0;
    }
    if (ts < ns->next_due)
        return 0;
    /* One decision however long the gap; the schedule stays on its grid,
     * step by step (the sums of the periods), a long gap crossed at once
     * after 1024 steps. A period below the resolution of the timestamps
     * (1.7e9 s: 2.4e-7 s) does not move next_due at all: the schedule goes
     * just past ts, a decision every frame (the loop never ended). */
    {
        unsigned steps = 0;
        while (ns->next_due <= ts) {
            double next = ns->next_due + o->period;
            if (++steps > 1024)
                next = ns->next_due + (floor((ts - ns->next_due) / o->period) + 1.0) * o->period;
            if (!(next > ns->next_due)) {
                ns->next_due = nextafter(ts, HUGE_VAL);
                break;
            }
            ns->next_due = next;
        }
    }
    return 1;
}

/* One frame through features and the node's session; 0 or an exit status. */
static int process_frame(const run_opts *o, run_state *r, const aether_csi_frame *f)
{
    float x[AETHER_FEATURES_MAX_DIM];
    node_state *ns = &r->nodes[f->node_id & 0xFFu];
    double t1, t2, t3;
    aether_status st;
    int due = 0;
    if (!r->have_t0) {
        r->t0 = f->timestamp;
        r->have_t0 = 1;
    }
    t1 = now_ns();
    st = aether_features_compute(r->fx, f, x, r->info.input_dim);
    t2 = now_ns();
    r->ns_features += t2 - t1;
    if (st != AETHER_OK) {
        if (r->refused_features++ + r->refused_model == 0)
            r->first_refusal = st;
        ns->refused++;
        return RUN_OK;
    }
    if (r->ld.window_mode) {
        /* the frame joins the node's window; a forward only when a
         * decision is due (counted first, restored if the push fails) */
        node_state before = *ns;
        ns->stepped++;
        due = decision_due(o, ns, f->timestamp);
        st = aether_tracks_step(r->tracks, f->node_id, f->timestamp, x, due ? r->logits : NULL,
                                NULL, NULL);
        if (st != AETHER_OK)
            *ns = before;
    } else {
        st = aether_tracks_step(r->tracks, f->node_id, f->timestamp, x, r->logits, NULL, NULL);
        if (st == AETHER_OK) {
            ns->stepped++;
            due = decision_due(o, ns, f->timestamp);
        }
    }
    t3 = now_ns();
    r->ns_model += t3 - t2;
    r->timed_frames++;
    if (st != AETHER_OK) {
        if (r->refused_features + r->refused_model++ == 0)
            r->first_refusal = st;
        ns->refused++;
        if (st == AETHER_ERR_NO_MEM) {
            fprintf(stderr, "aether run: out of memory\n");
            return RUN_FAIL;
        }
        /* A session broken half-way refuses every later frame: start over. */
        if (st == AETHER_ERR_STATE)
            aether_tracks_forget(r->tracks, f->node_id);
        return RUN_OK;
    }
    if (due)
        return emit_decision(o, r, f, ns);
    return RUN_OK;
}

/* ---------------- summary ---------------- */

/* What the decisions say about the recording, in one line: every decision
 * by what it decided, and a reading of it. */
static void print_verdict(const run_opts *o, const run_state *r)
{
    size_t c, best = 0, nc = r->info.n_classes < MAX_LABELS ? r->info.n_classes : MAX_LABELS;
    if (r->decisions == 0)
        return;
    printf("  decided:   ");
    for (c = 0; c < nc; ++c) {
        if (r->by_class[c] > r->by_class[best])
            best = c;
        if (!r->by_class[c])
            continue;
        if (o->n_labels)
            printf(" %s %llu", o->labels[c], (unsigned long long)r->by_class[c]);
        else
            printf(" class %lu: %llu", (unsigned long)c, (unsigned long long)r->by_class[c]);
    }
    if (r->unknown)
        printf(" unknown %llu (out of range %llu)", (unsigned long long)r->unknown,
               (unsigned long long)r->out_of_range);
    printf("\n  reading:    ");
    if (2 * r->out_of_range > r->decisions)
        printf("most windows lie outside the model's training data (%llu of %llu): not a "
               "recording this model can judge\n",
               (unsigned long long)r->out_of_range, (unsigned long long)r->decisions);
    else if (2 * r->unknown > r->decisions)
        printf("the model is unsure of most windows (%llu of %llu unknown)\n",
               (unsigned long long)r->unknown, (unsigned long long)r->decisions);
    else if (o->n_labels)
        printf("mostly %s (%llu of %llu decisions)\n", o->labels[best],
               (unsigned long long)r->by_class[best], (unsigned long long)r->decisions);
    else
        printf("mostly class %lu (%llu of %llu decisions)\n", (unsigned long)best,
               (unsigned long long)r->by_class[best], (unsigned long long)r->decisions);
}

static void summary_text(const run_opts *o, const run_state *r, double wall_s)
{
    const aether_recording_stats *rs = aether_recording_get_stats(r->rec);
    aether_tracks_stats ts;
    uint64_t frames = rs->frames[AETHER_CSI_RAW_IQ] + rs->frames[AETHER_CSI_AMPLITUDE];
    size_t i;
    int any = 0;
    memset(&ts, 0, sizeof ts);
    if (r->tracks)
        aether_tracks_get_stats(r->tracks, &ts);
    printf("summary: %s (%s), %llu records\n", o->input_path,
           aether_recording_format_name(aether_recording_get_format(r->rec)),
           (unsigned long long)rs->records);
    if (r->ld.window_mode)
        printf("  model:      window classifier, mean pooling over each node's last %lu frames",
               (unsigned long)r->ld.window_frames);
    else
        printf("  model:      streaming session per node, pooling last");
    printf("; features %s; labels %s\n", aether_features_recipe_name(r->ld.recipe),
           r->labels_from ? (strcmp(r->labels_from, "metadata") ? "from --labels"
                                                                : "from the blob's metadata")
                          : "none");
    printf("  frames:     %llu (raw_iq %llu, amplitude %llu)", (unsigned long long)frames,
           (unsigned long long)rs->frames[AETHER_CSI_RAW_IQ],
           (unsigned long long)rs->frames[AETHER_CSI_AMPLITUDE]);
    for (i = 0; i < N_NODES; ++i)
        if (rs->frames_by_node[i])
            printf("; node %u: %llu", (unsigned)i, (unsigned long long)rs->frames_by_node[i]);
    printf("\n  skipped:   ");
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        if (rs->skipped[i]) {
            printf(" %s %llu", aether_csi_skip_name((aether_csi_skip)i),
                   (unsigned long long)rs->skipped[i]);
            any = 1;
        }
    printf("%s\n", any ? "" : " none");
    printf("  malformed:  %llu\n", (unsigned long long)rs->malformed);
    for (i = 0; i < rs->n_errors; ++i)
        printf("    record %llu: %s [%s]\n", (unsigned long long)rs->errors[i].record,
               rs->errors[i].reason, aether_status_name(rs->errors[i].status));
    if (o->have_node)
        printf("  filtered:   %llu (not node %u)\n", (unsigned long long)r->filtered, o->node);
    printf("  refused:    %llu", (unsigned long long)(r->refused_features + r->refused_model));
    if (r->refused_features + r->refused_model)
        printf(" (features %llu, model %llu; first %s)", (unsigned long long)r->refused_features,
               (unsigned long long)r->refused_model, aether_status_name(r->first_refusal));
    printf("\n  decisions:  %llu", (unsigned long long)r->decisions);
    for (i = 0; i < N_NODES; ++i)
        if (r->nodes[i].decisions)
            printf("; node %u: %llu", (unsigned)i, (unsigned long long)r->nodes[i].decisions);
    if (o->period > 0.0)
        printf(" (every %g s)\n", o->period);
    else
        printf(" (every %lu frames)\n", (unsigned long)o->every);
    print_verdict(o, r);
    if (r->tracks)
        printf("  tracks:     %lu active of %lu, created %llu, evicted by age %llu, by count "
               "%llu (%lu bytes)\n",
               (unsigned long)ts.active, (unsigned long)ts.max_tracks,
               (unsigned long long)ts.created, (unsigned long long)ts.evicted_age,
               (unsigned long long)ts.evicted_count,
               (unsigned long)aether_tracks_bytes(r->tracks));
    if (r->timed_frames)
        printf("  cost:       %.1f us/frame (features %.1f, model %.1f) over %llu frames; "
               "%.2f s in all\n",
               (r->ns_features + r->ns_model) / 1e3 / (double)r->timed_frames,
               r->ns_features / 1e3 / (double)r->timed_frames,
               r->ns_model / 1e3 / (double)r->timed_frames, (unsigned long long)r->timed_frames,
               wall_s);
    else
        printf("  cost:       no frames processed; %.2f s in all\n", wall_s);
    if (o->packets_path)
        printf("  packets:    %llu written to %s\n", (unsigned long long)r->packets_written,
               o->packets_path);
}

static void summary_json(const run_opts *o, const run_state *r, double wall_s)
{
    const aether_recording_stats *rs = aether_recording_get_stats(r->rec);
    aether_tracks_stats ts;
    size_t i;
    int first = 1;
    double per = r->timed_frames ? 1.0 / (1e3 * (double)r->timed_frames) : 0.0;
    memset(&ts, 0, sizeof ts);
    if (r->tracks)
        aether_tracks_get_stats(r->tracks, &ts);
    printf("{\"type\":\"summary\",\"input\":");
    cli_json_string(o->input_path);
    printf(",\"pool\":\"%s\",\"window_frames\":%lu,\"features\":\"%s\"",
           r->ld.window_mode ? "mean" : "last",
           (unsigned long)(r->ld.window_mode ? r->ld.window_frames : 0),
           aether_features_recipe_name(r->ld.recipe));
    printf(",\"format\":\"%s\",\"records\":%llu,\"frames\":{\"raw_iq\":%llu,\"amplitude\":%llu},"
           "\"frames_by_node\":{",
           aether_recording_format_name(aether_recording_get_format(r->rec)),
           (unsigned long long)rs->records, (unsigned long long)rs->frames[AETHER_CSI_RAW_IQ],
           (unsigned long long)rs->frames[AETHER_CSI_AMPLITUDE]);
    for (i = 0; i < N_NODES; ++i)
        if (rs->frames_by_node[i]) {
            printf("%s\"%u\":%llu", first ? "" : ",", (unsigned)i,
                   (unsigned long long)rs->frames_by_node[i]);
            first = 0;
        }
    printf("},\"skipped\":{");
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        printf("%s\"%s\":%llu", i ? "," : "", aether_csi_skip_name((aether_csi_skip)i),
               (unsigned long long)rs->skipped[i]);
    printf("},\"malformed\":%llu,\"filtered\":%llu,\"refused\":{\"features\":%llu,\"model\":%llu}"
           ","
           "\"decisions\":%llu,\"unknown\":%llu,\"out_of_range\":%llu,\"decided\":{",
           (unsigned long long)rs->malformed, (unsigned long long)r->filtered,
           (unsigned long long)r->refused_features, (unsigned long long)r->refused_model,
           (unsigned long long)r->decisions, (unsigned long long)r->unknown,
           (unsigned long long)r->out_of_range);
    for (i = 0; i < r->info.n_classes && i < MAX_LABELS; ++i) {
        printf("%s", i ? "," : "");
        if (o->n_labels)
            cli_json_string(o->labels[i]);
        else
            printf("\"%lu\"", (unsigned long)i);
        printf(":%llu", (unsigned long long)r->by_class[i]);
    }
    printf("},\"decisions_by_node\":{");
    first = 1;
    for (i = 0; i < N_NODES; ++i)
        if (r->nodes[i].decisions) {
            printf("%s\"%u\":%llu", first ? "" : ",", (unsigned)i,
                   (unsigned long long)r->nodes[i].decisions);
            first = 0;
        }
    printf("},\"errors\":[");
    for (i = 0; i < rs->n_errors; ++i) {
        printf("%s{\"record\":%llu,\"offset\":%llu,\"status\":\"%s\",\"reason\":", i ? "," : "",
               (unsigned long long)rs->errors[i].record, (unsigned long long)rs->errors[i].offset,
               aether_status_name(rs->errors[i].status));
        cli_json_string(rs->errors[i].reason);
        putchar('}');
    }
    printf("],\"tracks\":{\"active\":%lu,\"max\":%lu,\"created\":%llu,\"evicted_age\":%llu,"
           "\"evicted_count\":%llu,\"bytes\":%lu},\"packets\":%llu,"
           "\"us_per_frame\":%.3f,\"us_features\":%.3f,\"us_model\":%.3f,\"seconds\":%.3f}\n",
           (unsigned long)ts.active, (unsigned long)ts.max_tracks, (unsigned long long)ts.created,
           (unsigned long long)ts.evicted_age, (unsigned long long)ts.evicted_count,
           (unsigned long)(r->tracks ? aether_tracks_bytes(r->tracks) : 0),
           (unsigned long long)r->packets_written, (r->ns_features + r->ns_model) * per,
           r->ns_features * per, r->ns_model * per, wall_s);
}

static void close_all(run_state *r)
{
    aether_tracks_destroy(r->tracks);
    aether_features_destroy(r->fx);
    aether_recording_close(r->rec);
    aether_model_destroy(r->model);
    free(r->blob_bytes);
    free(r->logits);
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    run_state *r;
    aether_csi_frame f;
    aether_status st;
    double t_start;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    r = (run_state *)calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "aether run: out of memory\n");
        return RUN_FAIL;
    }
    t_start = now_ns();
    rc = load_model(&o, r);
    if (rc == RUN_OK)
        rc = open_pipeline(&o, r);
    if (rc == RUN_OK) {
        progress_setup(&o, r);
        while ((st = aether_recording_next(r->rec, &f)) == AETHER_OK) {
            if (o.have_node && f.node_id != o.node) {
                r->filtered++;
                continue;
            }
            rc = process_frame(&o, r, &f);
            if (rc != RUN_OK)
                break;
            progress_draw(r, f.record, 0);
        }
        progress_clear(r);
        if (rc == RUN_OK && st != AETHER_ERR_END) {
            fprintf(stderr, "aether run: %s: %s\n", o.input_path, aether_strerror(st));
            rc = st == AETHER_ERR_IO ? RUN_IO : RUN_INVALID;
        }
        if (r->packets && fclose(r->packets) != 0 && rc == RUN_OK) {
            fprintf(stderr, "aether run: cannot write %s\n", o.packets_path);
            rc = RUN_IO;
        }
        r->packets = NULL;
        if (o.json)
            summary_json(&o, r, (now_ns() - t_start) / 1e9);
        else
            summary_text(&o, r, (now_ns() - t_start) / 1e9);
        {
            /* a recording without one CSI frame is malformed input (4), as
             * in `aether csi` and `aether features` */
            const aether_recording_stats *rs = aether_recording_get_stats(r->rec);
            if (rc == RUN_OK &&
                rs->frames[AETHER_CSI_RAW_IQ] + rs->frames[AETHER_CSI_AMPLITUDE] == 0) {
                fprintf(stderr, "aether run: %s holds no CSI frame (%llu records, %llu "
                                "malformed)\n",
                        o.input_path, (unsigned long long)rs->records,
                        (unsigned long long)rs->malformed);
                rc = RUN_INVALID;
            }
        }
    }
    if (r->packets)
        fclose(r->packets);
    close_all(r);
    free(r);
    fflush(stdout);
    return rc;
}
