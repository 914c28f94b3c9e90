/* `aether classify` (window forward) and `aether stream` (per-frame
 * session) over a frames .npy with a model from an RVNE blob. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/model.h"
#include "aether/npy.h"
#include "aether/packet.h"
#include "cli_util.h"
#include "ws_call.h"
#include "commands.h"
#include "model_load.h"
#include "model_meta.h"

typedef struct model_opts {
    const char *model_path, *frames_path, *packet_path;
    aether_pool pool;
    int have_pool, have_backend;
    int json;
    aether_head_backend backend;
    int dense_checkpoint;
    int fast;
    int have_window, have_block;
    size_t window, block;
    size_t capacity;
    aether_kv_evict evict;
    aether_kv_storage storage;
    unsigned long long node, ts_us, period_us;
} model_opts;

typedef struct loaded {
    unsigned char *blob_bytes;
    aether_blob_view blob;
    aether_model *model;
    aether_model_info info;
    aether_head_config hc;
    aether_npy frames;
    size_t n_frames;
    model_meta meta;  /* the blob's metadata: defaults under the options */
    aether_pool pool; /* --pool, else the metadata's, else last */
    char *labels[256];
    size_t n_labels; /* 0 without labels metadata */
    char labels_buf[sizeof((model_meta *)0)->labels];
    /* an RVNQ blob: the integer model (aether/quant.h) */
    int quant;
    aether_qblob_view qblob;
    aether_qmodel *qmodel;
    void *qmodel_mem;
} loaded;

static void model_usage(FILE *f, int stream)
{
    if (stream)
        fprintf(f, "usage: aether stream --model BLOB --frames FRAMES.npy [options]\n"
                   "  Feeds the frames one by one through a streaming session (one KV cache\n"
                   "  per layer) and prints each frame's argmax, margin and logits. While no\n"
                   "  frame has been evicted, frame t's logits equal `aether classify --pool\n"
                   "  last` over frames 0..t: bit for bit with the scalar reference kernels\n"
                   "  (AETHER_KERNELS=reference; classify always uses them) and with RVNQ\n"
                   "  blobs, within the optimised kernels' contract (aether/dispatch.h)\n"
                   "  otherwise.\n");
    else
        fprintf(f, "usage: aether classify --model BLOB --frames FRAMES.npy [options]\n"
                   "  Runs the model over the whole window and prints the logits, the argmax\n"
                   "  and the top1 - top2 margin (docs/FORMATS.md 4.2). Uses the scalar\n"
                   "  reference kernels, whose logits `aether stream` reproduces bit for bit.\n");
    fprintf(f,
            "  FRAMES.npy: float32 [N, input_dim] (or [input_dim] for one frame).\n"
            "  BLOB: an RVNE blob, or an RVNQ blob (aether quantize) for the integer\n"
            "  model (int8 weights and K/V caches; stream evicts sliding or none).\n"
            "options:\n"
            "  Defaults come from the blob's metadata when it has them (labels, pooling,\n"
            "  backend, window, block); the options below override them.\n"
            "  --backend sparse|dense|auto  attention backend (sparse)\n"
            "  --dense-checkpoint   for auto: the weights come from a dense-MHA checkpoint\n"
            "  --window N --block N          attention window radius / landmark block (32, 16)\n"
            "  --json               machine-readable output\n"
            "  --packet OUT         also write 0xC5110007 packet(s) to OUT\n"
            "  --node N             packet node id (0)\n");
    if (stream)
        fprintf(f, "  --capacity N         frames per layer cache (4096)\n"
                   "  --evict sliding|none|scored   policy when a cache is full (sliding)\n"
                   "  --kv f32|f16|bf16|int8  K/V cache rows of a float model (f32; a\n"
                   "                       quantized model's caches are int8 rows always)\n"
                   "  --period-us P        packet timestamp step per frame (200000): frame\n"
                   "                       t's ts_us is t x P, which must fit 64 bits (exit 2)\n");
    else
        fprintf(f,
                "  --pool last|mean     pooling (the metadata's, else last)\n"
                "  --fast               allow optimised (SIMD) kernels: faster, logits within\n"
                "                       ~1e-6 of the reference instead of identical\n"
                "  --ts-us T            packet timestamp (0)\n");
    cli_print_exit_statuses(f);
}

enum {
    OPT_MODEL = 1,
    OPT_FRAMES,
    OPT_PACKET,
    OPT_BACKEND,
    OPT_DENSE_CHECKPOINT,
    OPT_WINDOW,
    OPT_BLOCK,
    OPT_JSON,
    OPT_NODE,
    OPT_POOL,
    OPT_FAST,
    OPT_TS_US,
    OPT_CAPACITY,
    OPT_EVICT,
    OPT_KV,
    OPT_PERIOD_US
};

#define COMMON_OPTIONS                                                                        \
    {"model", required_argument, NULL, OPT_MODEL},                                            \
        {"frames", required_argument, NULL, OPT_FRAMES},                                      \
        {"packet", required_argument, NULL, OPT_PACKET},                                      \
        {"backend", required_argument, NULL, OPT_BACKEND},                                    \
        {"dense-checkpoint", no_argument, NULL, OPT_DENSE_CHECKPOINT},                        \
        {"window", required_argument, NULL, OPT_WINDOW},                                      \
        {"block", required_argument, NULL, OPT_BLOCK}, {"json", no_argument, NULL, OPT_JSON}, \
    {                                                                                         \
        "node", required_argument, NULL, OPT_NODE                                             \
    }

static const struct option k_classify_options[] = {
    COMMON_OPTIONS,
    {"pool", required_argument, NULL, OPT_POOL},
    {"fast", no_argument, NULL, OPT_FAST},
    {"ts-us", required_argument, NULL, OPT_TS_US},
    {NULL, 0, NULL, 0},
};

static const struct option k_stream_options[] = {
    COMMON_OPTIONS,
    {"capacity", required_argument, NULL, OPT_CAPACITY},
    {"evict", required_argument, NULL, OPT_EVICT},
    {"kv", required_argument, NULL, OPT_KV},
    {"period-us", required_argument, NULL, OPT_PERIOD_US},
    {NULL, 0, NULL, 0},
};

static void classify_usage(FILE *f)
{
    model_usage(f, 0);
}

static void stream_usage(FILE *f)
{
    model_usage(f, 1);
}

/* 0 ok, -1 after --help / --version, else the exit status. */
static int parse_opts(int argc, char **argv, int stream, model_opts *o)
{
    cli_command c;
    int opt, rc = 0, n;
    unsigned long long v = 0;
    memset(o, 0, sizeof *o);
    o->backend = AETHER_HEAD_SPARSE_GQA;
    o->capacity = 4096;
    o->evict = AETHER_KV_EVICT_SLIDING;
    o->storage = AETHER_KV_F32;
    o->period_us = 200000;
    cli_command_init(&c, stream ? "stream" : "classify",
                     stream ? k_stream_options : k_classify_options,
                     stream ? stream_usage : classify_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        const char *val = c.optarg;
        switch (opt) {
        case CLI_STOP:
            return rc == 0 ? -1 : rc;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_DENSE_CHECKPOINT:
            o->dense_checkpoint = 1;
            break;
        case OPT_FAST:
            o->fast = 1;
            break;
        case OPT_MODEL:
            o->model_path = val;
            break;
        case OPT_FRAMES:
            o->frames_path = val;
            break;
        case OPT_PACKET:
            o->packet_path = val;
            break;
        case OPT_BACKEND:
            if (aether_head_backend_parse(val, &o->backend) != AETHER_OK)
                return cli_usage_error(&c, "--backend is sparse, dense or auto");
            o->have_backend = 1;
            break;
        case OPT_POOL:
            if (!strcmp(val, "last"))
                o->pool = AETHER_POOL_LAST;
            else if (!strcmp(val, "mean"))
                o->pool = AETHER_POOL_MEAN;
            else
                return cli_usage_error(&c, "--pool is last or mean");
            o->have_pool = 1;
            break;
        case OPT_EVICT:
            if (!strcmp(val, "sliding"))
                o->evict = AETHER_KV_EVICT_SLIDING;
            else if (!strcmp(val, "none"))
                o->evict = AETHER_KV_EVICT_NONE;
            else if (!strcmp(val, "scored"))
                o->evict = AETHER_KV_EVICT_SCORED;
            else
                return cli_usage_error(&c, "--evict is sliding, none or scored");
            break;
        case OPT_KV:
            if (!strcmp(val, "f32"))
                o->storage = AETHER_KV_F32;
            else if (!strcmp(val, "f16"))
                o->storage = AETHER_KV_F16;
            else if (!strcmp(val, "bf16"))
                o->storage = AETHER_KV_BF16;
            else if (!strcmp(val, "int8"))
                o->storage = AETHER_KV_I8;
            else
                return cli_usage_error(&c, "--kv is f32, f16, bf16 or int8");
            break;
        case OPT_WINDOW:
        case OPT_BLOCK:
        case OPT_CAPACITY:
            if (!cli_parse_ull(val, 10, (size_t)-1, &v))
                return cli_usage_error(&c, "--%s needs a non-negative integer",
                                       cli_option_name(&c, opt));
            if (opt == OPT_WINDOW) {
                o->window = (size_t)v;
                o->have_window = 1;
            } else if (opt == OPT_BLOCK) {
                o->block = (size_t)v;
                o->have_block = 1;
            } else {
                o->capacity = (size_t)v;
            }
            break;
        case OPT_NODE:
            if (!cli_parse_ull(val, 10, 255, &o->node))
                return cli_usage_error(&c, "--node is 0..255");
            break;
        case OPT_TS_US:
        case OPT_PERIOD_US:
            if (!cli_parse_ull(val, 10, ~0ull, opt == OPT_PERIOD_US ? &o->period_us : &o->ts_us))
                return cli_usage_error(&c, "--%s needs a non-negative integer",
                                       cli_option_name(&c, opt));
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &n, &rc))
        return rc;
    if (!o->model_path || !o->frames_path) {
        return cli_usage_error(&c, "--model and --frames are required");
    }
    return 0;
}

static void unload(loaded *l)
{
    free(l->qmodel_mem);
    aether_model_destroy(l->model);
    aether_npy_free(&l->frames);
    free(l->blob_bytes);
}

/* Blob -> model (metadata defaults under the options), frames .npy ->
 * [N, input_dim]. 0 ok, else exit status. */
static int load(const model_opts *o, loaded *l)
{
    size_t len = 0;
    aether_status st;
    char err[256];
    memset(l, 0, sizeof *l);
    l->blob_bytes = cli_read_file(o->model_path, &len);
    if (!l->blob_bytes)
        return cli_read_error(o->model_path, errno);
    l->quant = aether_qblob_is(l->blob_bytes, len);
    if (l->quant) {
        st = aether_qblob_parse(l->blob_bytes, len, &l->qblob);
        if (st != AETHER_OK) {
            fprintf(stderr, "aether: %s: invalid quantized blob: %s (%s)\n", o->model_path,
                    aether_strerror(st), aether_status_name(st));
            return CLI_EXIT_MALFORMED;
        }
        if (model_meta_read_q(&l->qblob, &l->meta, err, sizeof err) != 0) {
            fprintf(stderr, "aether: %s: %s\n", o->model_path, err);
            return CLI_EXIT_MALFORMED;
        }
        l->blob.header = l->qblob.header;
    } else {
        st = aether_blob_parse(l->blob_bytes, len, &l->blob);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether: %s: invalid blob: %s (%s)\n", o->model_path,
                aether_blob_reference_message(st), aether_status_name(st));
        return CLI_EXIT_MALFORMED;
    }
    /* An invalid model is left to the model loader's diagnostics. */
    if (!l->quant && aether_blob_validate_model(&l->blob, NULL) == AETHER_OK &&
        model_meta_read(&l->blob, &l->meta, err, sizeof err) != 0) {
        fprintf(stderr, "aether: %s: %s\n", o->model_path, err);
        return CLI_EXIT_MALFORMED;
    }
    aether_model_default_head_config(&l->blob, &l->hc);
    l->hc.backend = o->have_backend        ? o->backend
                    : l->meta.have_backend ? l->meta.backend
                                           : o->backend;
    l->hc.checkpoint_dense_mha = o->dense_checkpoint;
    if (o->have_window)
        l->hc.window = o->window;
    else if (l->meta.have_attn_window)
        l->hc.window = l->meta.attn_window;
    if (o->have_block)
        l->hc.block_size = o->block;
    else if (l->meta.have_attn_block)
        l->hc.block_size = l->meta.attn_block;
    l->pool = o->have_pool ? o->pool : l->meta.have_pool ? l->meta.pool : AETHER_POOL_LAST;
    /* The blob buffer stays alive until unload, so f32 weights are used in
     * place (an RVNQ blob's always are). */
    if (l->quant) {
        size_t qn = 0;
        st = aether_qmodel_size(&l->qblob, &l->hc, &qn);
        if (st == AETHER_OK && !(l->qmodel_mem = malloc(qn)))
            st = AETHER_ERR_NO_MEM;
        if (st == AETHER_OK)
            st = aether_qmodel_init(l->qmodel_mem, qn, &l->qblob, &l->hc, &l->qmodel);
    } else {
        st = aether_model_create(&l->blob, &l->hc, AETHER_MODEL_BORROW_IF_POSSIBLE, &l->model);
    }
    if (st != AETHER_OK) {
        /* 2 when the options made the attention invalid, 4 when the blob did */
        int rc = model_load_config_error("aether", o->model_path, &l->blob, &l->meta, &l->hc);
        if (rc != 0)
            return rc;
        fprintf(stderr, "aether: %s: cannot load the model: %s (%s)\n", o->model_path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_MALFORMED;
    }
    if (l->quant) {
        const aether_blob_header *h = aether_qmodel_header(l->qmodel);
        memset(&l->info, 0, sizeof l->info);
        l->info.input_dim = h->input_dim;
        l->info.n_q_heads = h->n_q_heads;
        l->info.n_kv_heads = h->n_kv_heads;
        l->info.head_dim = h->head_dim;
        l->info.n_layers = h->n_layers;
        l->info.n_classes = h->n_classes;
        l->info.input_norm = (h->flags & AETHER_BLOB_FLAG_INPUT_NORM) != 0;
        l->info.borrowed = 1;
        l->info.backend = aether_qmodel_head(l->qmodel)->backend;
    } else {
        aether_model_get_info(l->model, &l->info);
    }
    if (l->meta.have_labels &&
        (!cli_split_labels(l->meta.labels, l->labels_buf, sizeof l->labels_buf, l->labels,
                           sizeof l->labels / sizeof l->labels[0], &l->n_labels) ||
         l->n_labels != l->info.n_classes)) {
        fprintf(stderr, "aether: %s: its labels metadata names %lu labels for %lu classes\n",
                o->model_path, (unsigned long)l->n_labels, (unsigned long)l->info.n_classes);
        return CLI_EXIT_MISFIT;
    }
    st = aether_npy_load(o->frames_path, &l->frames);
    if (st == AETHER_ERR_IO)
        return cli_read_error(o->frames_path, errno);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether: %s: %s\n", o->frames_path, aether_strerror(st));
        return cli_exit_status(st);
    }
    if (l->frames.dtype != AETHER_DTYPE_F32) {
        fprintf(stderr, "aether: %s: expected float32 frames\n", o->frames_path);
        return CLI_EXIT_MALFORMED;
    }
    if (!((l->frames.ndim == 2 && l->frames.shape[1] == l->info.input_dim) ||
          (l->frames.ndim == 1 && l->frames.shape[0] == l->info.input_dim))) {
        fprintf(stderr,
                "aether: %s: expected float32 [N, %lu] frames (the model's input width)\n",
                o->frames_path, (unsigned long)l->info.input_dim);
        return CLI_EXIT_MISFIT;
    }
    l->n_frames = l->frames.ndim == 2 ? l->frames.shape[0] : 1;
    if (l->n_frames == 0) {
        fprintf(stderr, "aether: %s holds no frames\n", o->frames_path);
        return CLI_EXIT_MALFORMED;
    }
    return 0;
}

static void print_float(float x, int json)
{
    if (json)
        cli_json_float(x);
    else
        printf("%.9g", (double)x);
}

/* "label NAME " (text) or "\"label\":\"NAME\"," (JSON) when the blob names
 * its classes; nothing otherwise. */
static void print_label(const loaded *l, size_t index, int json)
{
    if (index >= l->n_labels)
        return;
    if (json) {
        printf("\"label\":");
        cli_json_string(l->labels[index]);
        putchar(',');
    } else {
        printf("label %s ", l->labels[index]);
    }
}

static void print_logits(const float *lg, size_t n, int json)
{
    size_t i;
    if (json)
        putchar('[');
    for (i = 0; i < n; ++i) {
        if (i)
            putchar(json ? ',' : ' ');
        print_float(lg[i], json);
    }
    if (json)
        putchar(']');
}

/* Append one packet for these logits; 0 ok, else exit status. */
static int emit_packet(FILE *pf, const float *lg, size_t n, const model_opts *o, uint64_t ts,
                       uint32_t seq)
{
    aether_class_packet p;
    unsigned char b[AETHER_PACKET_LEN];
    aether_status st = aether_packet_from_logits(&p, lg, n, (uint8_t)o->node, ts, seq);
    if (st == AETHER_OK)
        st = aether_packet_encode(&p, b, sizeof b);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether: cannot encode a packet: %s\n", aether_strerror(st));
        return cli_exit_status(st);
    }
    if (fwrite(b, 1, sizeof b, pf) != sizeof b) {
        fprintf(stderr, "aether: cannot write %s\n", o->packet_path);
        return CLI_EXIT_IO;
    }
    return 0;
}

static FILE *open_packets(const model_opts *o)
{
    FILE *f;
    if (!o->packet_path)
        return NULL;
    f = fopen(o->packet_path, "wb");
    if (!f)
        fprintf(stderr, "aether: cannot write %s\n", o->packet_path);
    return f;
}

static int close_packets(FILE *f, const model_opts *o, int rc)
{
    if (f && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "aether: cannot write %s\n", o->packet_path);
        return CLI_EXIT_IO;
    }
    return rc;
}

int cmd_classify(int argc, char **argv)
{
    model_opts o;
    loaded l;
    float *logits = NULL;
    size_t am = 0;
    float top = 0, margin = 0;
    aether_status st;
    FILE *pf = NULL;
    int rc = parse_opts(argc, argv, 0, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    rc = load(&o, &l);
    if (rc)
        goto done;
    logits = (float *)malloc(l.info.n_classes * sizeof(float));
    if (!logits) {
        rc = 1;
        goto done;
    }
    /* The streaming decode is scalar: the reference prefill keeps the
     * classify == stream (last frame) equality exact. */
    if (!o.fast)
        aether_set_kernel_mode(AETHER_KERNELS_REFERENCE);
    if (l.quant) {
        size_t need = 0;
        void *ws = NULL;
        st = aether_qmodel_forward_workspace_size(l.qmodel, l.n_frames, &need);
        if (st == AETHER_OK && !(ws = malloc(need)))
            st = AETHER_ERR_NO_MEM;
        if (st == AETHER_OK)
            st = aether_qmodel_forward(l.qmodel, (const float *)l.frames.data, l.n_frames, l.pool,
                                       logits, ws, need);
        free(ws);
    } else {
        st = ws_model_forward(l.model, (const float *)l.frames.data, l.n_frames, l.pool, logits,
                              NULL);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether classify: %s (%s)\n", aether_strerror(st),
                aether_status_name(st));
        rc = cli_exit_status(st);
        goto done;
    }
    aether_packet_argmax(logits, l.info.n_classes, &am, &top, &margin);
    if (o.json) {
        printf("{\"frames\":%lu,\"pool\":\"%s\",\"backend\":\"%s\",\"window\":%lu,\"block\":%lu,"
               "\"logits\":",
               (unsigned long)l.n_frames, l.pool == AETHER_POOL_LAST ? "last" : "mean",
               aether_head_backend_name(l.info.backend), (unsigned long)l.hc.window,
               (unsigned long)l.hc.block_size);
        print_logits(logits, l.info.n_classes, 1);
        printf(",\"argmax\":%lu,", (unsigned long)am);
        print_label(&l, am, 1);
        printf("\"top_logit\":");
        print_float(top, 1);
        printf(",\"margin\":");
        print_float(margin, 1);
        printf("}\n");
    } else {
        printf("frames %lu (pool %s, backend %s, window %lu, block %lu)\nlogits ",
               (unsigned long)l.n_frames, l.pool == AETHER_POOL_LAST ? "last" : "mean",
               aether_head_backend_name(l.info.backend), (unsigned long)l.hc.window,
               (unsigned long)l.hc.block_size);
        print_logits(logits, l.info.n_classes, 0);
        printf("\nargmax %lu ", (unsigned long)am);
        print_label(&l, am, 0);
        printf("(top %.9g, margin %.9g)\n", (double)top, (double)margin);
    }
    if (o.packet_path) {
        pf = open_packets(&o);
        rc = pf ? emit_packet(pf, logits, l.info.n_classes, &o, o.ts_us, 1) : 3;
        rc = close_packets(pf, &o, rc);
    }
done:
    free(logits);
    unload(&l);
    return rc;
}

int cmd_stream(int argc, char **argv)
{
    model_opts o;
    loaded l;
    aether_model_session *s = NULL;
    aether_qsession *qs = NULL;
    void *qs_mem = NULL;
    aether_session_params sp = aether_model_session_params_default();
    float *logits = NULL;
    const float *frames;
    size_t t, in, rejected = 0;
    uint32_t seq = 0;
    aether_status st;
    FILE *pf = NULL;
    int rc = parse_opts(argc, argv, 1, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    rc = load(&o, &l);
    if (rc)
        goto done;
    if (o.packet_path && l.n_frames > 1 &&
        o.period_us > UINT64_MAX / (unsigned long long)(l.n_frames - 1)) {
        /* frame t's packet timestamp is t * P, a u64: refused before any
         * packet is written, rather than wrapping back to small values */
        fprintf(stderr,
                "aether stream: --period-us %llu: the timestamp of frame %lu (P x %lu) does not "
                "fit the packet's u64 ts_us; at most %llu for %lu frames\n",
                o.period_us, (unsigned long)(l.n_frames - 1), (unsigned long)(l.n_frames - 1),
                (unsigned long long)(UINT64_MAX / (unsigned long long)(l.n_frames - 1)),
                (unsigned long)l.n_frames);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    sp.capacity = o.capacity;
    sp.evict = o.evict;
    sp.storage = o.storage;
    if (l.quant) {
        size_t qn = 0;
        st = aether_qsession_size(l.qmodel, sp.capacity, sp.evict, &qn);
        if (st == AETHER_OK && !(qs_mem = malloc(qn)))
            st = AETHER_ERR_NO_MEM;
        if (st == AETHER_OK)
            st = aether_qsession_init(qs_mem, qn, l.qmodel, sp.capacity, sp.evict, &qs);
    } else {
        st = aether_model_session_create(l.model, &sp, &s);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether stream: cannot create the session: %s (%s)%s\n",
                aether_strerror(st), aether_status_name(st),
                st == AETHER_ERR_INVALID_ARG
                    ? "; an evicting cache needs a capacity above its protected frames "
                      "(sliding: the global frame; scored: also window + 1 recent frames)"
                : st == AETHER_ERR_UNSUPPORTED ? "; an integer (RVNQ) model evicts sliding or none"
                                               : "");
        rc = st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_USAGE;
        goto done;
    }
    logits = (float *)malloc(l.info.n_classes * sizeof(float));
    if (!logits || (o.packet_path && !(pf = open_packets(&o)))) {
        rc = logits ? 3 : 1;
        goto done;
    }
    in = l.info.input_dim;
    frames = (const float *)l.frames.data;
    for (t = 0; t < l.n_frames && rc == 0; ++t) {
        size_t am = 0;
        float top = 0, margin = 0;
        st = qs ? aether_qsession_step(qs, frames + t * in, logits)
                : aether_model_session_step(s, frames + t * in, logits, NULL);
        if (st != AETHER_OK) {
            /* A rejected frame leaves the session as it was: keep going. */
            rejected++;
            if (o.json)
                printf("{\"t\":%lu,\"ok\":false,\"status\":\"%s\"}\n", (unsigned long)t,
                       aether_status_name(st));
            else
                printf("t %lu REJECTED: %s (%s)\n", (unsigned long)t, aether_strerror(st),
                       aether_status_name(st));
            if (st != AETHER_ERR_NONFINITE) {
                fprintf(stderr, "aether stream: frame %lu: %s (%s)%s\n", (unsigned long)t,
                        aether_strerror(st), aether_status_name(st),
                        st == AETHER_ERR_CACHE_FULL
                            ? "; raise --capacity or let the cache evict (--evict sliding)"
                            : "");
                rc = cli_exit_status(st);
                break;
            }
            continue;
        }
        aether_packet_argmax(logits, l.info.n_classes, &am, &top, &margin);
        if (o.json) {
            printf("{\"t\":%lu,\"ok\":true,\"argmax\":%lu,", (unsigned long)t, (unsigned long)am);
            print_label(&l, am, 1);
            printf("\"top_logit\":");
            print_float(top, 1);
            printf(",\"margin\":");
            print_float(margin, 1);
            printf(",\"evicted\":%s,\"logits\":",
                   (qs ? aether_qsession_evicted(qs) : aether_model_session_evicted(s))
                       ? "true"
                       : "false");
            print_logits(logits, l.info.n_classes, 1);
            printf("}\n");
        } else {
            printf("t %lu argmax %lu ", (unsigned long)t, (unsigned long)am);
            print_label(&l, am, 0);
            printf("margin %.9g logits ", (double)margin);
            print_logits(logits, l.info.n_classes, 0);
            putchar('\n');
        }
        if (pf)
            rc = emit_packet(pf, logits, l.info.n_classes, &o, (uint64_t)(t * o.period_us),
                             ++seq);
    }
    if (rc == 0 && rejected)
        rc = CLI_EXIT_NONFINITE; /* only non-finite frames are skipped; anything else stops */
done:
    rc = close_packets(pf, &o, rc);
    free(logits);
    aether_model_session_destroy(s);
    free(qs_mem);
    unload(&l);
    return rc;
}
