/* The in-process load benchmark of `aether serve` (bench_serve.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench_serve.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/features.h"
#include "commands.h"
#include "serve_core.h"
#include "textbuf.h"

#define FRAME_BYTES (AETHER_ADR018_HEADER_BYTES + 128u) /* 1 antenna x 64 subcarriers */
#define RING 32u                                        /* distinct frames per node */
#define MAX_LAT (1u << 20)

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double mono(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

typedef struct bench_ctx {
    char json[8192];
    double t_json;     /* seconds rendering decisions */
    double t_arrival;  /* monotonic time the current datagram was handed over */
    double c_arrival;  /* the same in thread CPU time */
    double *lat;       /* decision latencies, wall clock */
    double *lat_cpu;   /* the same in thread CPU time (the core's own work) */
    size_t n_lat;
    size_t json_bytes;
    int measuring;
} bench_ctx;

static void on_decision(void *ctx, const serve_decision *d)
{
    bench_ctx *b = (bench_ctx *)ctx;
    textbuf t;
    double t0, t1;
    if (!b->measuring)
        return;
    t0 = mono();
    textbuf_init(&t, b->json, sizeof b->json);
    serve_decision_json(d, &t);
    textbuf_putc(&t, '\n');
    t1 = mono();
    b->json_bytes += t.len;
    b->t_json += t1 - t0;
    if (b->n_lat < MAX_LAT) {
        b->lat_cpu[b->n_lat] = cpu() - b->c_arrival;
        b->lat[b->n_lat++] = t1 - b->t_arrival;
    }
}

/* models/NAME next to the executable's build directory, or under the
 * current directory. */
static int find_model(const char *name, char *path, size_t cap)
{
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *env = getenv("AETHER_MODELS_DIR");
    FILE *f;
    if (env) {
        int w = snprintf(path, cap, "%s/%s", env, name);
        if (w > 0 && (size_t)w < cap && (f = fopen(path, "rb")) != NULL) {
            fclose(f);
            return 1;
        }
    }
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(path, cap, "%s/../models/%s", exe, name);
            if (w > 0 && (size_t)w < cap && (f = fopen(path, "rb")) != NULL) {
                fclose(f);
                return 1;
            }
        }
    }
    snprintf(path, cap, "models/%s", name);
    if ((f = fopen(path, "rb")) != NULL) {
        fclose(f);
        return 1;
    }
    return 0;
}

static int8_t clip8(double v)
{
    return (int8_t)(v > 127.0 ? 127 : v < -127.0 ? -127 : (int)lround(v));
}

/* Frame r of node i: a 64-subcarrier raw frame whose amplitude profile
 * drifts with r (a slow movement) plus a little noise. */
static void make_frame(unsigned char *b, size_t i, size_t r, unsigned *rng)
{
    size_t k;
    unsigned node = (unsigned)(i % 255u) + 1u;
    memset(b, 0, AETHER_ADR018_HEADER_BYTES);
    b[0] = 0x01;
    b[1] = 0x00;
    b[2] = 0x11;
    b[3] = 0xC5;
    b[4] = (unsigned char)node;
    b[5] = 1;
    b[6] = 64;
    b[8] = (unsigned char)(2437 & 0xFF);
    b[9] = (unsigned char)(2437 >> 8);
    b[16] = (unsigned char)(256 - 45);
    b[17] = (unsigned char)(256 - 95);
    for (k = 0; k < 64; ++k) {
        double amp, ph, noise;
        *rng = *rng * 1664525u + 1013904223u;
        noise = ((double)(*rng >> 16 & 0xFF) - 127.5) / 64.0;
        if (k == 0 || (k >= 27 && k <= 37)) {
            b[AETHER_ADR018_HEADER_BYTES + 2 * k] = 0;
            b[AETHER_ADR018_HEADER_BYTES + 2 * k + 1] = 0;
            continue;
        }
        amp = 20.0 + 8.0 * sin(0.4 * (double)k + 0.7 * (double)i + 0.2 * (double)r) + noise;
        ph = 0.3 * (double)k + 0.01 * (double)i;
        b[AETHER_ADR018_HEADER_BYTES + 2 * k] = (unsigned char)clip8(amp * sin(ph));
        b[AETHER_ADR018_HEADER_BYTES + 2 * k + 1] = (unsigned char)clip8(amp * cos(ph));
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t k;
    if (n == 0)
        return 0.0;
    k = (size_t)ceil(p * (double)n) - 1u;
    return v[k < n ? k : n - 1];
}

/* Feed `rounds` rounds of every node's next frame; `round0` numbers the
 * first. */
static void feed(serve_core *s, bench_ctx *b, unsigned char *frames,
                 const struct sockaddr_storage *addr, size_t n_nodes, size_t round0,
                 size_t rounds)
{
    size_t r, i;
    for (r = round0; r < round0 + rounds; ++r) {
        double now = 1000.0 + 0.01 * (double)r; /* 100 Hz per node */
        s->wall_now = 1.7e9 + now;
        for (i = 0; i < n_nodes; ++i) {
            unsigned char *d = frames + (i * RING + r % RING) * FRAME_BYTES;
            uint32_t seq = (uint32_t)r;
            d[12] = (unsigned char)seq;
            d[13] = (unsigned char)(seq >> 8);
            d[14] = (unsigned char)(seq >> 16);
            d[15] = (unsigned char)(seq >> 24);
            if (b->measuring) {
                b->c_arrival = cpu();
                b->t_arrival = mono();
            }
            serve_handle_datagram(s, d, FRAME_BYTES, 0, &addr[i],
                                  (socklen_t)sizeof(struct sockaddr_in), now);
        }
    }
}

/* Seconds of thread CPU per frame for parsing, and for the feature
 * extraction of every model, over the measured frames. */
static void component_times(const serve_core *s, unsigned char *frames, size_t n_nodes,
                            size_t rounds, double *t_parse, double *t_features)
{
    aether_features *fx[SERVE_MAX_MODELS];
    float x[AETHER_FEATURES_MAX_DIM];
    size_t k, r, i, n = 0;
    double t0;
    volatile size_t sink = 0;
    t0 = cpu();
    for (r = 0; r < rounds; ++r)
        for (i = 0; i < n_nodes; ++i) {
            aether_csi_frame f;
            size_t flen = 0;
            const unsigned char *d = frames + (i * RING + r % RING) * FRAME_BYTES;
            if (aether_adr018_frame_length(d, FRAME_BYTES, &flen) == AETHER_OK &&
                aether_adr018_parse(d, flen, &f) == AETHER_OK)
                sink += f.n_pairs;
        }
    *t_parse = (cpu() - t0) / (double)(rounds * n_nodes);
    (void)sink;
    for (k = 0; k < s->n_models; ++k) {
        aether_features_config c;
        c.input_dim = s->models[k].info.input_dim;
        c.max_nodes = n_nodes;
        c.recipe = s->models[k].ld.recipe;
        fx[k] = NULL;
        if (aether_features_create(&c, &fx[k]) != AETHER_OK)
            fx[k] = NULL;
    }
    t0 = cpu();
    for (r = 0; r < rounds; ++r)
        for (i = 0; i < n_nodes; ++i) {
            aether_csi_frame f;
            const unsigned char *d = frames + (i * RING + r % RING) * FRAME_BYTES;
            if (aether_adr018_parse(d, FRAME_BYTES, &f) != AETHER_OK)
                continue;
            f.node_id = (uint32_t)i;
            for (k = 0; k < s->n_models; ++k)
                if (fx[k])
                    n += aether_features_compute(fx[k], &f, x, s->models[k].info.input_dim) ==
                         AETHER_OK;
        }
    *t_features = (cpu() - t0) / (double)(rounds * n_nodes) - *t_parse;
    if (*t_features < 0.0)
        *t_features = 0.0;
    for (k = 0; k < s->n_models; ++k)
        aether_features_destroy(fx[k]);
    (void)n;
}

int bench_serve_run(int quick, FILE *fc, FILE *fj, int *first)
{
    static const char *const names[2] = {"gesture.rvne", "motion.rvne"};
    const size_t n_nodes = quick ? 100 : 1000;
    const size_t warm = 300, rounds = quick ? 100 : 200;
    char paths[2][4096];
    serve_config cfg;
    serve_hooks hooks;
    serve_core s;
    bench_ctx *b;
    unsigned char *frames;
    struct sockaddr_storage *addr;
    size_t i, r, k, frames_total = rounds * n_nodes;
    unsigned rng = 12345u;
    double c0, c1, w0, w1, t_parse = 0, t_feat = 0, per, t_json, t_model;
    int rc = 0;
    for (k = 0; k < 2; ++k)
        if (!find_model(names[k], paths[k], sizeof paths[k])) {
            fprintf(stderr,
                    "aether bench: serve needs models/%s (looked next to the executable's "
                    "directory, under the current one and in $AETHER_MODELS_DIR)\n",
                    names[k]);
            return CLI_EXIT_IO;
        }
    b = (bench_ctx *)calloc(1, sizeof *b);
    frames = (unsigned char *)malloc(n_nodes * RING * FRAME_BYTES);
    addr = (struct sockaddr_storage *)calloc(n_nodes, sizeof *addr);
    if (b) {
        b->lat = (double *)malloc(MAX_LAT * sizeof *b->lat);
        b->lat_cpu = (double *)malloc(MAX_LAT * sizeof *b->lat_cpu);
    }
    if (!b || !frames || !addr || !b->lat || !b->lat_cpu) {
        fprintf(stderr, "aether bench: out of memory\n");
        rc = CLI_EXIT_FAILED;
        goto done_alloc;
    }
    for (i = 0; i < n_nodes; ++i) {
        struct sockaddr_in *a = (struct sockaddr_in *)(void *)&addr[i];
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(0x7F000001u + (uint32_t)(i / 250u));
        a->sin_port = htons((uint16_t)(40000u + i % 250u));
        for (r = 0; r < RING; ++r)
            make_frame(frames + (i * RING + r) * FRAME_BYTES, i, r, &rng);
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.max_nodes = n_nodes;
    cfg.capacity = 1024; /* serve's default */
    cfg.every = 0;       /* each model's window_stride */
    cfg.idle = 0.0;
    memset(&hooks, 0, sizeof hooks);
    hooks.ctx = b;
    hooks.decision = on_decision;
    if (serve_core_init(&s, &cfg, &hooks, 1000.0) != 0) {
        rc = CLI_EXIT_FAILED;
        goto done_alloc;
    }
    for (k = 0; k < 2; ++k)
        if ((rc = serve_model_load(&s, paths[k])) != 0)
            goto done;
    printf("serve in-process (serve_core, %lu nodes x 1 antenna x 64 subcarriers, models:",
           (unsigned long)n_nodes);
    for (k = 0; k < s.n_models; ++k)
        printf(" %s (every %lu)", s.models[k].name, (unsigned long)s.models[k].every);
    printf("; decisions as JSON lines into a buffer; single thread):\n");
    /* warm-up: every node past its first window and into its steady state */
    feed(&s, b, frames, addr, n_nodes, 0, warm);
    b->measuring = 1;
    c0 = cpu();
    w0 = mono();
    feed(&s, b, frames, addr, n_nodes, warm, rounds);
    c1 = cpu();
    w1 = mono();
    b->measuring = 0;
    component_times(&s, frames, n_nodes, rounds, &t_parse, &t_feat);
    per = (c1 - c0) / (double)frames_total;
    t_json = b->t_json / (double)frames_total;
    t_model = per - t_parse - t_feat - t_json;
    qsort(b->lat, b->n_lat, sizeof *b->lat, cmp_d);
    qsort(b->lat_cpu, b->n_lat, sizeof *b->lat_cpu, cmp_d);
    printf("  %lu frames in %.3f s CPU (%.3f s wall): %.0f frames/s per core, %.2f us per frame; "
           "dropped %llu, malformed %llu, accounting %s\n",
           (unsigned long)frames_total, c1 - c0, w1 - w0, 1.0 / per, per * 1e6,
           (unsigned long long)(s.dropped[0] + s.dropped[1]),
           (unsigned long long)(s.malformed[SERVE_MAL_EMPTY] + s.malformed[SERVE_MAL_TOO_SHORT] +
                                s.malformed[SERVE_MAL_BAD_MAGIC] +
                                s.malformed[SERVE_MAL_BAD_HEADER] +
                                s.malformed[SERVE_MAL_TRUNCATED] + s.malformed[SERVE_MAL_TOO_LONG]),
           serve_accounting_ok(&s) ? "ok" : "BROKEN");
    printf("  per frame: parse %.2f us, features %.2f us (all models), model + node/track tables "
           "%.2f us, JSON %.2f us (%lu decisions, %.0f bytes each)\n",
           t_parse * 1e6, t_feat * 1e6, t_model * 1e6, t_json * 1e6, (unsigned long)b->n_lat,
           b->n_lat ? (double)b->json_bytes / (double)b->n_lat : 0.0);
    printf("  decision latency (datagram handed over -> JSON line written): p50 %.1f us, p99 "
           "%.1f us, max %.1f us wall clock; p50 %.1f us, p99 %.1f us of the thread's CPU\n",
           pct(b->lat, b->n_lat, 0.50) * 1e6, pct(b->lat, b->n_lat, 0.99) * 1e6,
           pct(b->lat, b->n_lat, 1.0) * 1e6, pct(b->lat_cpu, b->n_lat, 0.50) * 1e6,
           pct(b->lat_cpu, b->n_lat, 0.99) * 1e6);
    printf("  -> %.0f nodes at 100 frames/s per core\n", 1.0 / (per * 100.0));
    if (fc)
        fprintf(fc,
                "serve,nodes,%lu,%.9g,,,,\nserve_parts,parse_features_model_json,%lu,%.9g,%.9g,"
                "%.9g,%.9g,\nserve_latency,p50_p99_max,%lu,%.9g,%.9g,%.9g,,\n",
                (unsigned long)n_nodes, per, (unsigned long)n_nodes, t_parse, t_feat, t_model,
                t_json, (unsigned long)b->n_lat, pct(b->lat, b->n_lat, 0.50),
                pct(b->lat, b->n_lat, 0.99), pct(b->lat, b->n_lat, 1.0));
    if (fj) {
        fprintf(fj,
                "%s{\"section\":\"serve\",\"nodes\":%lu,\"models\":%lu,\"frames\":%lu,"
                "\"cpu_s\":%.9g,\"wall_s\":%.9g,\"frames_per_s\":%.1f,\"dropped\":%llu,"
                "\"accounting_ok\":%s,\"parse_s\":%.9g,\"features_s\":%.9g,\"model_s\":%.9g,"
                "\"json_s\":%.9g,\"decisions\":%lu,\"latency_p50_s\":%.9g,"
                "\"latency_p99_s\":%.9g,\"latency_max_s\":%.9g,\"latency_cpu_p50_s\":%.9g,"
                "\"latency_cpu_p99_s\":%.9g}",
                *first ? "" : ",\n", (unsigned long)n_nodes, (unsigned long)s.n_models,
                (unsigned long)frames_total, c1 - c0, w1 - w0, 1.0 / per,
                (unsigned long long)(s.dropped[0] + s.dropped[1]),
                serve_accounting_ok(&s) ? "true" : "false", t_parse, t_feat, t_model, t_json,
                (unsigned long)b->n_lat, pct(b->lat, b->n_lat, 0.50),
                pct(b->lat, b->n_lat, 0.99), pct(b->lat, b->n_lat, 1.0),
                pct(b->lat_cpu, b->n_lat, 0.50), pct(b->lat_cpu, b->n_lat, 0.99));
        *first = 0;
    }
done:
    serve_core_free(&s);
done_alloc:
    if (b) {
        free(b->lat);
        free(b->lat_cpu);
    }
    free(b);
    free(frames);
    free(addr);
    return rc;
}
