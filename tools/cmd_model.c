/* `aether classify` (window forward) and `aether stream` (per-frame
 * session) over a frames .npy with a model from an RVNE blob. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/dispatch.h"
#include "aether/model.h"
#include "aether/npy.h"
#include "aether/packet.h"
#include "cli_util.h"
#include "commands.h"

typedef struct model_opts {
    const char *model_path, *frames_path, *packet_path;
    aether_pool pool;
    int json;
    aether_head_backend backend;
    int dense_checkpoint;
    int fast;
    int have_window, have_block;
    size_t window, block;
    size_t capacity;
    aether_kv_evict evict;
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
} loaded;

static void model_usage(FILE *f, int stream)
{
    if (stream)
        fprintf(f, "usage: aether stream --model BLOB --frames FRAMES.npy [options]\n"
                   "  Feeds the frames one by one through a streaming session (one KV cache\n"
                   "  per layer) and prints each frame's argmax, margin and logits. While no\n"
                   "  frame has been evicted, frame t's logits equal `aether classify --pool\n"
                   "  last` over frames 0..t bit for bit.\n");
    else
        fprintf(f, "usage: aether classify --model BLOB --frames FRAMES.npy [options]\n"
                   "  Runs the model over the whole window and prints the logits, the argmax\n"
                   "  and the top1 - top2 margin (docs/FORMATS.md 4.2). Uses the scalar\n"
                   "  reference kernels, whose logits `aether stream` reproduces bit for bit.\n");
    fprintf(f, "  FRAMES.npy: float32 [N, input_dim] (or [input_dim] for one frame).\n"
               "options:\n"
               "  --backend sparse|dense|auto  attention backend (sparse)\n"
               "  --dense-checkpoint   for auto: the weights come from a dense-MHA checkpoint\n"
               "  --window N --block N          attention window radius / landmark block (32, 16)\n"
               "  --json               machine-readable output\n"
               "  --packet OUT         also write 0xC5110007 packet(s) to OUT\n"
               "  --node N             packet node id (0)\n");
    if (stream)
        fprintf(f, "  --capacity N         frames per layer cache (4096)\n"
                   "  --evict sliding|none|scored   policy when a cache is full (sliding)\n"
                   "  --period-us P        packet timestamp step per frame (200000)\n");
    else
        fprintf(f, "  --pool last|mean     pooling (last)\n"
                   "  --fast               allow optimised (SIMD) kernels: faster, logits within\n"
                   "                       ~1e-6 of the reference instead of identical\n"
                   "  --ts-us T            packet timestamp (0)\n");
    fprintf(f, "exit status: 0 ok, 2 usage, 3 I/O error, 4 invalid model or frames\n");
}

/* 0 ok, else the exit status. */
static int parse_opts(int argc, char **argv, int stream, model_opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->pool = AETHER_POOL_LAST;
    o->backend = AETHER_HEAD_SPARSE_GQA;
    o->capacity = 4096;
    o->evict = AETHER_KV_EVICT_SLIDING;
    o->period_us = 200000;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i], *val;
        unsigned long long v = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            model_usage(stdout, stream);
            return -1;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--dense-checkpoint")) {
            o->dense_checkpoint = 1;
            continue;
        }
        if (!strcmp(a, "--fast") && !stream) {
            o->fast = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "aether: %s needs a value\n", a);
            return 2;
        }
        val = argv[++i];
        if (!strcmp(a, "--model"))
            o->model_path = val;
        else if (!strcmp(a, "--frames"))
            o->frames_path = val;
        else if (!strcmp(a, "--packet"))
            o->packet_path = val;
        else if (!strcmp(a, "--backend")) {
            if (aether_head_backend_parse(val, &o->backend) != AETHER_OK) {
                fprintf(stderr, "aether: --backend is sparse, dense or auto\n");
                return 2;
            }
        } else if (!strcmp(a, "--pool") && !stream) {
            if (!strcmp(val, "last"))
                o->pool = AETHER_POOL_LAST;
            else if (!strcmp(val, "mean"))
                o->pool = AETHER_POOL_MEAN;
            else {
                fprintf(stderr, "aether: --pool is last or mean\n");
                return 2;
            }
        } else if (!strcmp(a, "--evict") && stream) {
            if (!strcmp(val, "sliding"))
                o->evict = AETHER_KV_EVICT_SLIDING;
            else if (!strcmp(val, "none"))
                o->evict = AETHER_KV_EVICT_NONE;
            else if (!strcmp(val, "scored"))
                o->evict = AETHER_KV_EVICT_SCORED;
            else {
                fprintf(stderr, "aether: --evict is sliding, none or scored\n");
                return 2;
            }
        } else if (!strcmp(a, "--window") || !strcmp(a, "--block") ||
                   (!strcmp(a, "--capacity") && stream)) {
            if (!cli_parse_ull(val, 10, (size_t)-1, &v)) {
                fprintf(stderr, "aether: %s needs a non-negative integer\n", a);
                return 2;
            }
            if (a[2] == 'w') {
                o->window = (size_t)v;
                o->have_window = 1;
            } else if (a[2] == 'b') {
                o->block = (size_t)v;
                o->have_block = 1;
            } else {
                o->capacity = (size_t)v;
            }
        } else if (!strcmp(a, "--node")) {
            if (!cli_parse_ull(val, 10, 255, &o->node)) {
                fprintf(stderr, "aether: --node is 0..255\n");
                return 2;
            }
        } else if ((!strcmp(a, "--ts-us") && !stream) || (!strcmp(a, "--period-us") && stream)) {
            if (!cli_parse_ull(val, 10, ~0ull, stream ? &o->period_us : &o->ts_us)) {
                fprintf(stderr, "aether: %s needs a non-negative integer\n", a);
                return 2;
            }
        } else {
            fprintf(stderr, "aether: unknown option %s\n", a);
            model_usage(stderr, stream);
            return 2;
        }
    }
    if (!o->model_path || !o->frames_path) {
        model_usage(stderr, stream);
        return 2;
    }
    return 0;
}

static void unload(loaded *l)
{
    aether_model_destroy(l->model);
    aether_npy_free(&l->frames);
    free(l->blob_bytes);
}

/* Blob -> model, frames .npy -> [N, input_dim]. 0 ok, else exit status. */
static int load(const model_opts *o, loaded *l)
{
    size_t len = 0;
    aether_status st;
    memset(l, 0, sizeof *l);
    l->blob_bytes = cli_read_file(o->model_path, &len);
    if (!l->blob_bytes) {
        fprintf(stderr, "aether: cannot read %s\n", o->model_path);
        return 3;
    }
    st = aether_blob_parse(l->blob_bytes, len, &l->blob);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether: %s: invalid blob: %s (%s)\n", o->model_path,
                aether_blob_reference_message(st), aether_status_name(st));
        return 4;
    }
    aether_model_default_head_config(&l->blob, &l->hc);
    l->hc.backend = o->backend;
    l->hc.checkpoint_dense_mha = o->dense_checkpoint;
    if (o->have_window)
        l->hc.window = o->window;
    if (o->have_block)
        l->hc.block_size = o->block;
    /* The blob buffer stays alive until unload, so f32 weights are used in
     * place. */
    st = aether_model_create(&l->blob, &l->hc, AETHER_MODEL_BORROW_IF_POSSIBLE, &l->model);
    if (st != AETHER_OK) {
        const char *msg = NULL;
        if (aether_head_config_validate(&l->hc, &msg) != AETHER_OK && msg)
            fprintf(stderr, "aether: %s%s\n", AETHER_HEAD_ERR_PREFIX, msg);
        else
            fprintf(stderr, "aether: %s: cannot load the model: %s (%s)\n", o->model_path,
                    aether_strerror(st), aether_status_name(st));
        return 4;
    }
    aether_model_get_info(l->model, &l->info);
    st = aether_npy_load(o->frames_path, &l->frames);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether: %s: %s\n", o->frames_path, aether_strerror(st));
        return st == AETHER_ERR_IO ? 3 : 4;
    }
    if (l->frames.dtype != AETHER_DTYPE_F32 ||
        !((l->frames.ndim == 2 && l->frames.shape[1] == l->info.input_dim) ||
          (l->frames.ndim == 1 && l->frames.shape[0] == l->info.input_dim))) {
        fprintf(stderr, "aether: %s: expected float32 [N, %lu] frames\n", o->frames_path,
                (unsigned long)l->info.input_dim);
        return l->frames.dtype == AETHER_DTYPE_F32 ? 5 : 4;
    }
    l->n_frames = l->frames.ndim == 2 ? l->frames.shape[0] : 1;
    if (l->n_frames == 0) {
        fprintf(stderr, "aether: %s holds no frames\n", o->frames_path);
        return 4;
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
        return 4;
    }
    if (fwrite(b, 1, sizeof b, pf) != sizeof b) {
        fprintf(stderr, "aether: cannot write %s\n", o->packet_path);
        return 3;
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
        return 3;
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
    st = aether_model_forward(l.model, (const float *)l.frames.data, l.n_frames, o.pool, logits,
                              NULL, NULL, 0);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether classify: %s (%s)\n", aether_strerror(st), aether_status_name(st));
        rc = st == AETHER_ERR_NO_MEM ? 1 : st == AETHER_ERR_NONFINITE ? 6 : 4;
        goto done;
    }
    aether_packet_argmax(logits, l.info.n_classes, &am, &top, &margin);
    if (o.json) {
        printf("{\"frames\":%lu,\"pool\":\"%s\",\"backend\":\"%s\",\"window\":%lu,\"block\":%lu,"
               "\"logits\":",
               (unsigned long)l.n_frames, o.pool == AETHER_POOL_LAST ? "last" : "mean",
               aether_head_backend_name(l.info.backend), (unsigned long)l.hc.window,
               (unsigned long)l.hc.block_size);
        print_logits(logits, l.info.n_classes, 1);
        printf(",\"argmax\":%lu,\"top_logit\":", (unsigned long)am);
        print_float(top, 1);
        printf(",\"margin\":");
        print_float(margin, 1);
        printf("}\n");
    } else {
        printf("frames %lu (pool %s, backend %s, window %lu, block %lu)\nlogits ",
               (unsigned long)l.n_frames, o.pool == AETHER_POOL_LAST ? "last" : "mean",
               aether_head_backend_name(l.info.backend), (unsigned long)l.hc.window,
               (unsigned long)l.hc.block_size);
        print_logits(logits, l.info.n_classes, 0);
        printf("\nargmax %lu (top %.9g, margin %.9g)\n", (unsigned long)am, (double)top,
               (double)margin);
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
    sp.capacity = o.capacity;
    sp.evict = o.evict;
    st = aether_model_session_create(l.model, &sp, &s);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether stream: cannot create the session: %s (%s)%s\n",
                aether_strerror(st), aether_status_name(st),
                st == AETHER_ERR_INVALID_ARG
                    ? "; an evicting cache needs a capacity above its protected frames "
                      "(sliding: the global frame; scored: also window + 1 recent frames)"
                    : "");
        rc = st == AETHER_ERR_NO_MEM ? 1 : 2;
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
        st = aether_model_session_step(s, frames + t * in, logits, NULL);
        if (st != AETHER_OK) {
            /* A rejected frame leaves the session as it was: keep going. */
            rejected++;
            if (o.json)
                printf("{\"t\":%lu,\"ok\":false,\"status\":\"%s\"}\n", (unsigned long)t,
                       aether_status_name(st));
            else
                printf("t %lu REJECTED: %s (%s)\n", (unsigned long)t, aether_strerror(st),
                       aether_status_name(st));
            if (st != AETHER_ERR_NONFINITE)
                break;
            continue;
        }
        aether_packet_argmax(logits, l.info.n_classes, &am, &top, &margin);
        if (o.json) {
            printf("{\"t\":%lu,\"ok\":true,\"argmax\":%lu,\"top_logit\":", (unsigned long)t,
                   (unsigned long)am);
            print_float(top, 1);
            printf(",\"margin\":");
            print_float(margin, 1);
            printf(",\"evicted\":%s,\"logits\":", aether_model_session_evicted(s) ? "true" : "false");
            print_logits(logits, l.info.n_classes, 1);
            printf("}\n");
        } else {
            printf("t %lu argmax %lu margin %.9g logits ", (unsigned long)t, (unsigned long)am,
                   (double)margin);
            print_logits(logits, l.info.n_classes, 0);
            putchar('\n');
        }
        if (pf)
            rc = emit_packet(pf, logits, l.info.n_classes, &o, (uint64_t)(t * o.period_us), ++seq);
    }
    if (rc == 0 && rejected)
        rc = 6; /* only non-finite frames are skipped; anything else stops */
done:
    rc = close_packets(pf, &o, rc);
    free(logits);
    aether_model_session_destroy(s);
    unload(&l);
    return rc;
}
