/*
 * aether ab: the dense-vs-sparse A/B gate, measured (docs/MODEL.md section 9).
 * The same random-init model is run with the dense and the sparse backend on
 * windows cut from real recordings; we report
 *   - Spearman rank correlation between the dense and the sparse ordering of
 *     each window's top-50 nearest neighbours (L2 over mean-pooled
 *     embeddings), averaged over query windows (gate: >= 0.95),
 *   - top-50 overlap (fraction of the dense top-50 also in the sparse top-50),
 *   - max and mean |logit difference|,
 *   - the latency ratio dense/sparse of a window forward at N = 100, 1000,
 *     8192 frames (gate: >= 5x at the deployed window).
 * Criteria 1-2 of the gate (loss and re-ID accuracy after training) need
 * trained checkpoints of both backends and are not measured here.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/blob.h"
#include "aether/csi.h"
#include "aether/dispatch.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/recording.h"
#include "cli_util.h"
#include "commands.h"

#define AB_DIM 16
#define AB_TOPK 50

typedef struct {
    float *x; /* n * AB_DIM */
    size_t n, cap;
} seq_buf;

static int seq_push(seq_buf *s, const float *row)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 4096;
        float *p = (float *)realloc(s->x, nc * AB_DIM * sizeof(float));
        if (!p)
            return -1;
        s->x = p;
        s->cap = nc;
    }
    memcpy(s->x + s->n * AB_DIM, row, AB_DIM * sizeof(float));
    s->n++;
    return 0;
}

/* Features of one recording, one stream per node, appended to `all` node by
 * node; windows never straddle two streams (they are cut per stream). The
 * status of opening the recording (errno set on AETHER_ERR_IO). */
static aether_status load_streams(const char *path, seq_buf *all, size_t *starts,
                                  size_t *n_streams, size_t max_streams)
{
    aether_recording *rec = NULL;
    aether_features *f = NULL;
    aether_features_config fc = aether_features_config_default();
    aether_csi_frame fr;
    seq_buf per[4];
    uint32_t node_of[4];
    size_t n_nodes = 0, i;
    float row[AB_DIM];
    memset(per, 0, sizeof per);
    aether_status st;
    fc.input_dim = AB_DIM;
    errno = 0;
    st = aether_recording_open(path, NULL, &rec);
    if (st != AETHER_OK)
        return st;
    st = aether_features_create(&fc, &f);
    if (st != AETHER_OK) {
        aether_recording_close(rec);
        return st;
    }
    while (aether_recording_next(rec, &fr) == AETHER_OK) {
        size_t k;
        for (k = 0; k < n_nodes && node_of[k] != fr.node_id; ++k)
            ;
        if (k == n_nodes) {
            if (n_nodes == 4)
                continue;
            node_of[n_nodes++] = fr.node_id;
        }
        if (aether_features_compute(f, &fr, row, AB_DIM) != AETHER_OK)
            continue;
        if (seq_push(&per[k], row) != 0)
            break;
    }
    for (i = 0; i < n_nodes; ++i) {
        size_t t;
        if (*n_streams < max_streams)
            starts[(*n_streams)++] = all->n;
        for (t = 0; t < per[i].n; ++t)
            if (seq_push(all, per[i].x + t * AB_DIM) != 0)
                break;
        free(per[i].x);
    }
    aether_features_destroy(f);
    aether_recording_close(rec);
    return AETHER_OK;
}

static double cpu_seconds(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

static double l2(const float *a, const float *b, size_t n)
{
    double s = 0;
    size_t i;
    for (i = 0; i < n; ++i)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s;
}

typedef struct {
    double d;
    size_t j;
} dist_idx;

static int cmp_dist(const void *a, const void *b)
{
    const dist_idx *x = (const dist_idx *)a, *y = (const dist_idx *)b;
    if (x->d < y->d)
        return -1;
    if (x->d > y->d)
        return 1;
    return x->j < y->j ? -1 : (x->j > y->j);
}

/* Spearman rho between the dense ranks 1..k of the dense top-k and the ranks
 * the sparse distances give those same k items; also the top-k overlap. */
static void neighbour_stats(const float *ed, const float *es, size_t nw, double *rho_mean,
                            double *rho_min, double *overlap)
{
    dist_idx *dd = (dist_idx *)malloc(nw * sizeof *dd), *ds = (dist_idx *)malloc(nw * sizeof *ds);
    dist_idx sub[AB_TOPK];
    size_t i, j, k = AB_TOPK;
    double rs = 0, rmin = 1, ov = 0;
    if (!dd || !ds) {
        free(dd);
        free(ds);
        return;
    }
    for (i = 0; i < nw; ++i) {
        size_t m = 0, r;
        double sum_d2 = 0;
        for (j = 0; j < nw; ++j) {
            if (j == i)
                continue;
            dd[m].d = l2(ed + i * AB_DIM, ed + j * AB_DIM, AB_DIM);
            dd[m].j = j;
            ds[m].d = l2(es + i * AB_DIM, es + j * AB_DIM, AB_DIM);
            ds[m].j = j;
            m++;
        }
        qsort(dd, m, sizeof *dd, cmp_dist);
        qsort(ds, m, sizeof *ds, cmp_dist);
        for (r = 0; r < k; ++r) {
            sub[r].j = r; /* dense rank */
            sub[r].d = l2(es + i * AB_DIM, es + dd[r].j * AB_DIM, AB_DIM);
        }
        qsort(sub, k, sizeof *sub, cmp_dist);
        for (r = 0; r < k; ++r) {
            double diff = (double)sub[r].j - (double)r;
            sum_d2 += diff * diff;
        }
        {
            double rho = 1.0 - 6.0 * sum_d2 / ((double)k * ((double)k * k - 1.0));
            rs += rho;
            if (rho < rmin)
                rmin = rho;
        }
        for (r = 0; r < k; ++r) {
            size_t q;
            for (q = 0; q < k; ++q)
                if (ds[q].j == dd[r].j) {
                    ov += 1;
                    break;
                }
        }
    }
    *rho_mean = rs / (double)nw;
    *rho_min = rmin;
    *overlap = ov / ((double)nw * (double)k);
    free(dd);
    free(ds);
}

static double time_forward(const aether_model *m, const float *x, size_t n, int reps)
{
    double best = 1e30;
    float logits[16];
    size_t ws_len = 0;
    void *ws;
    int r;
    if (aether_model_forward_workspace_size(m, n, &ws_len) != AETHER_OK)
        return -1;
    ws = malloc(ws_len ? ws_len : 1);
    if (!ws)
        return -1;
    for (r = 0; r < reps; ++r) {
        double t0 = cpu_seconds(), dt;
        if (aether_model_forward(m, x, n, AETHER_POOL_LAST, logits, NULL, ws, ws_len) !=
            AETHER_OK) {
            free(ws);
            return -1;
        }
        dt = cpu_seconds() - t0;
        if (dt < best)
            best = dt;
    }
    free(ws);
    return best;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aether ab [--data DIR] [--window N] [--stride N] [--max-windows N]\n"
            "                 [--min-rho R] [--json]\n"
            "  Dense vs sparse backend on one random-init model (A/B gate, docs/MODEL.md 9):\n"
            "  top-50 neighbour Spearman rho, logit differences, latency at N=100/1000/8192.\n"
            "  --data DIR        recordings (../shared/data): esp32-raw-2node.csi.jsonl,\n"
            "                    amplitude-features.csi.jsonl and espectre/\n"
            "  --window N        frames per window (100, at least 2)\n"
            "  --stride N        frames between window starts (50, at least 1)\n"
            "  --max-windows N   windows compared (400, more than %d)\n"
            "  --min-rho R       exit 1 when the mean rho is below R (-1..1; off by default)\n"
            "  --json            machine-readable output\n",
            AB_TOPK);
    cli_print_exit_statuses(f);
}

enum { OPT_DATA = 1, OPT_WINDOW, OPT_STRIDE, OPT_MAX_WINDOWS, OPT_MIN_RHO, OPT_JSON };

static const struct option k_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"stride", required_argument, NULL, OPT_STRIDE},
    {"max-windows", required_argument, NULL, OPT_MAX_WINDOWS},
    {"min-rho", required_argument, NULL, OPT_MIN_RHO},
    {"json", no_argument, NULL, OPT_JSON},
    {NULL, 0, NULL, 0},
};

int cmd_ab(int argc, char **argv)
{
    const char *data = "../shared/data";
    size_t window = 100, stride = 50, max_windows = 400, starts[512], n_streams = 0, s, nw = 0;
    int json = 0, opt, npos = 0;
    double min_rho = -2.0;
    cli_command cmd = {0};
    static const char *const files[] = {
        "esp32-raw-2node.csi.jsonl",
        "amplitude-features.csi.jsonl",
        "espectre/test/test_c3_64sc_20260329_130804.npz",
        "espectre/movement/movement_s3_64sc_20260329_125616.npz",
        "espectre/baseline/baseline_s3_64sc_20260329_125557.npz",
        "espectre/movement/movement_c6_64sc_20260310_234839.npz",
        "espectre/baseline/baseline_c6_64sc_20260310_234819.npz",
    };
    static const size_t lat_n[3] = {100, 1000, 8192};
    seq_buf all = {NULL, 0, 0};
    aether_blob_demo_params dp = aether_blob_demo_default();
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    aether_blob_view view;
    aether_head_config hs, hd;
    aether_model *ms = NULL, *md = NULL;
    float *es = NULL, *ed = NULL, ls[16], ld[16];
    void *ws_s = NULL, *ws_d = NULL;
    size_t ws_s_len = 0, ws_d_len = 0;
    double max_diff = 0, sum_diff = 0, rho_mean = 0, rho_min = 0, overlap = 0;
    double t_s[3] = {0}, t_d[3] = {0};
    int rc = CLI_EXIT_FAILED;

    cli_command_init(&cmd, "ab", k_options, usage, argc, argv);
    while ((opt = cli_next_option(&cmd, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc;
        case OPT_DATA:
            data = cmd.optarg;
            break;
        case OPT_WINDOW:
            if (!cli_parse_size(cmd.optarg, &window) || window < 2 || window > 1000000)
                return cli_usage_error(&cmd, "--window is 2..1000000 frames");
            break;
        case OPT_STRIDE:
            if (!cli_parse_size(cmd.optarg, &stride) || stride < 1)
                return cli_usage_error(&cmd, "--stride is a positive integer");
            break;
        case OPT_MAX_WINDOWS:
            if (!cli_parse_size(cmd.optarg, &max_windows) || max_windows <= AB_TOPK ||
                max_windows > 100000)
                return cli_usage_error(&cmd, "--max-windows is %d..100000", AB_TOPK + 1);
            break;
        case OPT_MIN_RHO: {
            char *end = NULL;
            min_rho = strtod(cmd.optarg, &end);
            if (end == cmd.optarg || *end || !(min_rho >= -1.0 && min_rho <= 1.0))
                return cli_usage_error(&cmd, "--min-rho is a number in -1..1");
            break;
        }
        case OPT_JSON:
            json = 1;
            break;
        default:
            return cli_usage_error(&cmd, "unhandled option");
        }
    }
    if (!cli_positionals(&cmd, 0, 0, &npos, &rc))
        return rc;
    for (s = 0; s < sizeof files / sizeof files[0]; ++s) {
        char path[1024];
        aether_status st;
        snprintf(path, sizeof path, "%s/%s", data, files[s]);
        st = load_streams(path, &all, starts, &n_streams, 500);
        if (st != AETHER_OK) {
            if (st == AETHER_ERR_IO)
                rc = cli_read_error(path, errno);
            else {
                fprintf(stderr, "aether ab: %s: %s\n", path, aether_strerror(st));
                rc = cli_exit_status(st);
            }
            free(all.x);
            return rc;
        }
    }
    if (aether_blob_demo_size(&dp, &blob_len) != AETHER_OK || !(blob = malloc(blob_len)) ||
        aether_blob_demo_write(&dp, blob, blob_len, &blob_len) != AETHER_OK ||
        aether_blob_parse(blob, blob_len, &view) != AETHER_OK ||
        aether_model_default_head_config(&view, &hs) != AETHER_OK) {
        fprintf(stderr, "aether ab: cannot build the demo model\n");
        goto done;
    }
    hd = hs;
    hs.backend = AETHER_HEAD_SPARSE_GQA;
    hd.backend = AETHER_HEAD_DENSE;
    if (aether_model_create(&view, &hs, AETHER_MODEL_COPY, &ms) != AETHER_OK ||
        aether_model_create(&view, &hd, AETHER_MODEL_COPY, &md) != AETHER_OK) {
        fprintf(stderr, "aether ab: cannot create the models\n");
        goto done;
    }
    es = (float *)malloc(max_windows * AB_DIM * sizeof(float));
    ed = (float *)malloc(max_windows * AB_DIM * sizeof(float));
    if (!es || !ed || aether_model_forward_workspace_size(ms, window, &ws_s_len) != AETHER_OK ||
        aether_model_forward_workspace_size(md, window, &ws_d_len) != AETHER_OK ||
        !(ws_s = malloc(ws_s_len)) || !(ws_d = malloc(ws_d_len)))
        goto done;
    /* Windows per stream, round-robin over streams so every source is used. */
    {
        size_t off[512] = {0}, progressed = 1;
        while (nw < max_windows && progressed) {
            progressed = 0;
            for (s = 0; s < n_streams && nw < max_windows; ++s) {
                size_t end = s + 1 < n_streams ? starts[s + 1] : all.n;
                size_t at = starts[s] + off[s];
                size_t c;
                if (at + window > end)
                    continue;
                off[s] += stride;
                progressed = 1;
                if (aether_model_forward(ms, all.x + at * AB_DIM, window, AETHER_POOL_MEAN, ls,
                                         es + nw * AB_DIM, ws_s, ws_s_len) != AETHER_OK ||
                    aether_model_forward(md, all.x + at * AB_DIM, window, AETHER_POOL_MEAN, ld,
                                         ed + nw * AB_DIM, ws_d, ws_d_len) != AETHER_OK) {
                    fprintf(stderr, "aether ab: forward failed\n");
                    goto done;
                }
                for (c = 0; c < 4; ++c) {
                    double d = fabs((double)ls[c] - ld[c]);
                    if (d > max_diff)
                        max_diff = d;
                    sum_diff += d;
                }
                nw++;
            }
        }
    }
    if (nw <= AB_TOPK) {
        fprintf(stderr, "aether ab: only %zu windows (need > %d)\n", nw, AB_TOPK);
        goto done;
    }
    neighbour_stats(ed, es, nw, &rho_mean, &rho_min, &overlap);
    for (s = 0; s < 3; ++s) {
        if (all.n < lat_n[s])
            continue;
        t_s[s] = time_forward(ms, all.x, lat_n[s], lat_n[s] >= 8192 ? 2 : 5);
        t_d[s] = time_forward(md, all.x, lat_n[s], lat_n[s] >= 8192 ? 1 : 5);
    }
    if (json) {
        printf("{\"windows\":%zu,\"window\":%zu,\"kernels\":\"%s\",\"spearman_top50_mean\":%.4f,"
               "\"spearman_top50_min\":%.4f,\"top50_overlap\":%.4f,\"logit_diff_max\":%.6g,"
               "\"logit_diff_mean\":%.6g,\"latency\":[",
               nw, window, aether_kernel_name(), rho_mean, rho_min, overlap, max_diff,
               sum_diff / (4.0 * (double)nw));
        for (s = 0; s < 3; ++s)
            printf("%s{\"n\":%zu,\"dense_ms\":%.4f,\"sparse_ms\":%.4f,\"ratio\":%.2f}",
                   s ? "," : "", lat_n[s], t_d[s] * 1e3, t_s[s] * 1e3,
                   t_s[s] > 0 ? t_d[s] / t_s[s] : 0.0);
        printf("]}\n");
    } else {
        printf("dense vs sparse on one random-init model (demo blob), kernels %s\n",
               aether_kernel_name());
        printf("  %zu windows of %zu frames (stride %zu) from %zu streams\n", nw, window, stride,
               n_streams);
        printf("  top-%d neighbour Spearman rho: mean %.4f, min %.4f  (gate >= 0.95)\n", AB_TOPK,
               rho_mean, rho_min);
        printf("  top-%d overlap: %.4f\n", AB_TOPK, overlap);
        printf("  |logit difference|: max %.3g, mean %.3g\n", max_diff,
               sum_diff / (4.0 * (double)nw));
        for (s = 0; s < 3; ++s)
            printf("  window %5zu: dense %9.3f ms, sparse %8.3f ms, dense/sparse %.1fx\n",
                   lat_n[s], t_d[s] * 1e3, t_s[s] * 1e3, t_s[s] > 0 ? t_d[s] / t_s[s] : 0.0);
    }
    rc = rho_mean >= min_rho ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    if (rc)
        fprintf(stderr, "aether ab: Spearman rho %.4f below --min-rho %.4f\n", rho_mean, min_rho);
done:
    aether_model_destroy(ms);
    aether_model_destroy(md);
    free(blob);
    free(ws_s);
    free(ws_d);
    free(es);
    free(ed);
    free(all.x);
    return rc;
}
