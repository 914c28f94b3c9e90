/* `aether attn`: run one attention kernel over .npy tensors. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/npy.h"
#include "cli_util.h"
#include "commands.h"
#include "ws_call.h"

static void attn_usage(FILE *f)
{
    fprintf(f, "usage: aether attn --op dense|forward|gqa|auto --q Q.npy --k K.npy --v V.npy\n"
               "                   --out OUT.npy [options]\n"
               "  Q is [seq, q_heads, dim] float32; K and V are [seq, kv_heads, dim].\n"
               "  dense: exact two-pass attention (GQA shapes allowed)\n"
               "  forward: sparse MHA; gqa: sparse GQA/MQA; auto: by head counts\n"
               "options (sparse ops; defaults are the reference defaults):\n"
               "  --window N        local window radius (128)\n"
               "  --block N         landmark block size (64)\n"
               "  --globals LIST    comma-separated global positions, \"\" for none (0)\n"
               "  --causal | --no-causal   (causal)\n"
               "  --no-log-stride   drop the power-of-two offsets\n"
               "  --no-landmarks    drop the block-mean candidates\n"
               "  --sort            visit candidates in ascending order\n");
    cli_print_exit_statuses(f);
}

static int parse_globals(const char *s, size_t *g, size_t *n)
{
    char buf[32];
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        if (len == 0 || len >= sizeof buf || *n == AETHER_MAX_GLOBALS)
            return 0;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!cli_parse_size(buf, &g[*n]))
            return 0;
        ++*n;
        s += len;
        if (*s == ',' && *++s == '\0')
            return 0; /* trailing comma */
    }
    return 1;
}

static double now_ms(void)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0.0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

enum {
    OPT_Q = 1,
    OPT_K,
    OPT_V,
    OPT_OUT,
    OPT_OP,
    OPT_WINDOW,
    OPT_BLOCK,
    OPT_GLOBALS,
    OPT_CAUSAL,
    OPT_NO_CAUSAL,
    OPT_NO_LOG_STRIDE,
    OPT_NO_LANDMARKS,
    OPT_SORT
};

static const struct option k_options[] = {
    {"q", required_argument, NULL, OPT_Q},
    {"k", required_argument, NULL, OPT_K},
    {"v", required_argument, NULL, OPT_V},
    {"out", required_argument, NULL, OPT_OUT},
    {"op", required_argument, NULL, OPT_OP},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"block", required_argument, NULL, OPT_BLOCK},
    {"globals", required_argument, NULL, OPT_GLOBALS},
    {"causal", no_argument, NULL, OPT_CAUSAL},
    {"no-causal", no_argument, NULL, OPT_NO_CAUSAL},
    {"no-log-stride", no_argument, NULL, OPT_NO_LOG_STRIDE},
    {"no-landmarks", no_argument, NULL, OPT_NO_LANDMARKS},
    {"sort", no_argument, NULL, OPT_SORT},
    {NULL, 0, NULL, 0},
};

int cmd_attn(int argc, char **argv)
{
    const char *op = NULL, *paths[4] = {NULL, NULL, NULL, NULL}; /* q k v out */
    static const char *const names[4] = {"--q", "--k", "--v", "--out"};
    size_t globals[AETHER_MAX_GLOBALS];
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config cfg;
    aether_tensor t[4]; /* q k v out */
    aether_status s = AETHER_OK;
    cli_command c;
    double t0, ms;
    int j, rc = 0, opt, n;

    globals[0] = 0;
    cli_command_init(&c, "attn", k_options, attn_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        const char *val = c.optarg;
        switch (opt) {
        case CLI_STOP:
            return rc;
        case OPT_Q:
        case OPT_K:
        case OPT_V:
        case OPT_OUT:
            paths[opt - OPT_Q] = val;
            break;
        case OPT_OP:
            op = val;
            break;
        case OPT_WINDOW:
            if (!cli_parse_size(val, &p.window))
                return cli_usage_error(&c, "bad --window '%s'", val);
            break;
        case OPT_BLOCK:
            if (!cli_parse_size(val, &p.block_size))
                return cli_usage_error(&c, "bad --block '%s'", val);
            break;
        case OPT_GLOBALS:
            if (!parse_globals(val, globals, &p.n_globals))
                return cli_usage_error(&c, "bad --globals '%s' (at most %d positions)", val,
                                       AETHER_MAX_GLOBALS);
            break;
        case OPT_CAUSAL:
            p.causal = 1;
            break;
        case OPT_NO_CAUSAL:
            p.causal = 0;
            break;
        case OPT_NO_LOG_STRIDE:
            p.use_log_stride = 0;
            break;
        case OPT_NO_LANDMARKS:
            p.use_landmarks = 0;
            break;
        case OPT_SORT:
            p.sort_candidates = 1;
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &n, &rc))
        return rc;
    p.globals = globals;
    if (!op ||
        (strcmp(op, "dense") && strcmp(op, "forward") && strcmp(op, "gqa") && strcmp(op, "auto")))
        return cli_usage_error(&c, "--op must be dense, forward, gqa or auto");
    for (j = 0; j < 4; ++j)
        if (!paths[j])
            return cli_usage_error(&c, "%s is required", names[j]);
    s = aether_attn_config_init(&cfg, &p);
    if (s != AETHER_OK)
        return cli_usage_error(&c, "invalid configuration: %s", aether_strerror(s));

    memset(t, 0, sizeof t);
    for (j = 0; j < 3; ++j) {
        s = aether_npy_load_tensor(paths[j], &t[j]);
        if (s == AETHER_ERR_IO) {
            rc = cli_read_error(paths[j], errno);
            goto done;
        }
        if (s != AETHER_OK) {
            /* A readable array of another shape or dtype does not fit (5). */
            fprintf(stderr, "aether attn: %s: %s\n", paths[j],
                    s == AETHER_ERR_SHAPE_MISMATCH ? "not a 3-D float32 array"
                                                   : aether_strerror(s));
            rc = cli_exit_status(s);
            goto done;
        }
        {
            /* NaN or Inf in an input is refused (6) before any kernel runs:
             * the kernels would only spread it into the output */
            size_t i, numel = t[j].seq * t[j].heads * t[j].dim;
            for (i = 0; i < numel; ++i)
                if (!isfinite(t[j].data[i]))
                    break;
            if (i < numel) {
                fprintf(stderr, "aether attn: %s: %s[%lu] is %s (NaN or Inf input)\n", paths[j],
                        names[j] + 2, (unsigned long)i, isnan(t[j].data[i]) ? "NaN" : "Inf");
                rc = CLI_EXIT_NONFINITE;
                goto done;
            }
        }
    }
    s = aether_tensor_zeros(&t[3], t[0].seq, t[0].heads, t[0].dim);
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: output: %s\n", aether_strerror(s));
        rc = cli_exit_status(s);
        goto done;
    }

    t0 = now_ms();
    if (!strcmp(op, "dense"))
        s = aether_attn_dense(&t[0], &t[1], &t[2], cfg.causal, &t[3]);
    else if (!strcmp(op, "forward"))
        s = ws_attn_forward(&cfg, &t[0], &t[1], &t[2], &t[3]);
    else if (!strcmp(op, "gqa"))
        s = ws_attn_forward_gqa(&cfg, &t[0], &t[1], &t[2], &t[3]);
    else
        s = ws_attn_forward_auto(&cfg, &t[0], &t[1], &t[2], &t[3]);
    ms = now_ms() - t0;
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: %s: %s (%s)\n", op, aether_strerror(s),
                aether_status_name(s));
        rc = cli_exit_status(s);
        goto done;
    }
    {
        /* encoded first, then written whole: a failed write leaves no
         * truncated .npy behind (cli_write_file) */
        size_t shape[3], len = 0;
        unsigned char *npy = NULL;
        int err;
        shape[0] = t[3].seq;
        shape[1] = t[3].heads;
        shape[2] = t[3].dim;
        s = aether_npy_encode(AETHER_DTYPE_F32, 3, shape, t[3].data, &npy, &len);
        if (s != AETHER_OK) {
            fprintf(stderr, "aether attn: %s: %s\n", paths[3], aether_strerror(s));
            rc = cli_exit_status(s) == CLI_EXIT_FAILED ? CLI_EXIT_FAILED : CLI_EXIT_IO;
            goto done;
        }
        err = cli_write_file(paths[3], npy, len);
        free(npy);
        if (err) {
            fprintf(stderr, "aether attn: cannot write %s (%s)\n", paths[3], strerror(err));
            rc = CLI_EXIT_IO;
            goto done;
        }
    }

    printf("attn %s: q [%lu,%lu,%lu] k [%lu,%lu,%lu] -> %s", op, (unsigned long)t[0].seq,
           (unsigned long)t[0].heads, (unsigned long)t[0].dim, (unsigned long)t[1].seq,
           (unsigned long)t[1].heads, (unsigned long)t[1].dim, paths[3]);
    if (!strcmp(op, "dense")) {
        printf("; %s", cfg.causal ? "causal" : "non-causal");
    } else {
        size_t g;
        printf("; window %lu block %lu globals [", (unsigned long)cfg.window,
               (unsigned long)cfg.block_size);
        for (g = 0; g < cfg.n_globals; ++g)
            printf("%s%lu", g ? "," : "", (unsigned long)cfg.globals[g]);
        printf("] %s%s%s%s; edges/head %llu", cfg.causal ? "causal" : "non-causal",
               cfg.use_log_stride ? " log-stride" : "", cfg.use_landmarks ? " landmarks" : "",
               cfg.sort_candidates ? " sorted" : "",
               (unsigned long long)aether_estimate_sparse_edges(&cfg, t[0].seq));
    }
    printf("; %.3f ms\n", ms);
done:
    for (j = 0; j < 4; ++j)
        aether_tensor_free(&t[j]);
    return rc;
}
