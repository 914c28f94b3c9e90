/* `aether attn`: run one attention kernel over .npy tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/npy.h"
#include "cli_util.h"
#include "commands.h"

static void attn_usage(FILE *f)
{
    fprintf(f,
            "usage: aether attn --op dense|forward|gqa|auto --q Q.npy --k K.npy --v V.npy\n"
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

/* File problems are I/O (3); a readable file with bad contents is 4. */
static int load_exit(aether_status s)
{
    return s == AETHER_ERR_IO ? 3 : s == AETHER_ERR_NO_MEM ? 1 : 4;
}

static double now_ms(void)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0.0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int cmd_attn(int argc, char **argv)
{
    const char *op = NULL, *paths[4] = {NULL, NULL, NULL, NULL}; /* q k v out */
    static const char *const names[4] = {"--q", "--k", "--v", "--out"};
    size_t globals[AETHER_MAX_GLOBALS];
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config cfg;
    aether_tensor t[4]; /* q k v out */
    aether_status s = AETHER_OK;
    double t0, ms;
    int i, j, rc = 0;

    globals[0] = 0;
    for (i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int taken = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            attn_usage(stdout);
            return 0;
        }
        for (j = 0; j < 4; ++j)
            if (!strcmp(a, names[j])) {
                if (!val) {
                    fprintf(stderr, "aether attn: %s needs a file\n", a);
                    return 2;
                }
                paths[j] = val;
                taken = 1;
            }
        if (taken) {
            ++i;
            continue;
        }
        if (!strcmp(a, "--op") && val) {
            op = val;
            ++i;
        } else if (!strcmp(a, "--window") && val) {
            if (!cli_parse_size(val, &p.window)) {
                fprintf(stderr, "aether attn: bad --window '%s'\n", val);
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--block") && val) {
            if (!cli_parse_size(val, &p.block_size)) {
                fprintf(stderr, "aether attn: bad --block '%s'\n", val);
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--globals") && val) {
            if (!parse_globals(val, globals, &p.n_globals)) {
                fprintf(stderr, "aether attn: bad --globals '%s' (at most %d positions)\n", val,
                        AETHER_MAX_GLOBALS);
                return 2;
            }
            ++i;
        } else if (!strcmp(a, "--causal")) {
            p.causal = 1;
        } else if (!strcmp(a, "--no-causal")) {
            p.causal = 0;
        } else if (!strcmp(a, "--no-log-stride")) {
            p.use_log_stride = 0;
        } else if (!strcmp(a, "--no-landmarks")) {
            p.use_landmarks = 0;
        } else if (!strcmp(a, "--sort")) {
            p.sort_candidates = 1;
        } else {
            fprintf(stderr, "aether attn: unknown or incomplete option '%s'\n", a);
            attn_usage(stderr);
            return 2;
        }
    }
    p.globals = globals;
    if (!op || (strcmp(op, "dense") && strcmp(op, "forward") && strcmp(op, "gqa") &&
                strcmp(op, "auto"))) {
        fprintf(stderr, "aether attn: --op must be dense, forward, gqa or auto\n");
        return 2;
    }
    for (j = 0; j < 4; ++j)
        if (!paths[j]) {
            fprintf(stderr, "aether attn: %s is required\n", names[j]);
            return 2;
        }
    s = aether_attn_config_init(&cfg, &p);
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: invalid configuration: %s\n", aether_strerror(s));
        return 2;
    }

    memset(t, 0, sizeof t);
    for (j = 0; j < 3; ++j) {
        s = aether_npy_load_tensor(paths[j], &t[j]);
        if (s != AETHER_OK) {
            fprintf(stderr, "aether attn: %s: %s\n", paths[j],
                    s == AETHER_ERR_SHAPE_MISMATCH ? "not a 3-D float32 array"
                                                   : aether_strerror(s));
            rc = load_exit(s);
            goto done;
        }
    }
    s = aether_tensor_zeros(&t[3], t[0].seq, t[0].heads, t[0].dim);
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: output: %s\n", aether_strerror(s));
        rc = s == AETHER_ERR_NO_MEM ? 1 : 4;
        goto done;
    }

    t0 = now_ms();
    if (!strcmp(op, "dense"))
        s = aether_attn_dense(&t[0], &t[1], &t[2], cfg.causal, &t[3]);
    else if (!strcmp(op, "forward"))
        s = aether_attn_forward(&cfg, &t[0], &t[1], &t[2], &t[3], NULL, 0);
    else if (!strcmp(op, "gqa"))
        s = aether_attn_forward_gqa(&cfg, &t[0], &t[1], &t[2], &t[3], NULL, 0);
    else
        s = aether_attn_forward_auto(&cfg, &t[0], &t[1], &t[2], &t[3], NULL, 0);
    ms = now_ms() - t0;
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: %s: %s\n", op, aether_strerror(s));
        rc = s == AETHER_ERR_NO_MEM ? 1 : 4;
        goto done;
    }
    s = aether_npy_save_tensor(paths[3], &t[3]);
    if (s != AETHER_OK) {
        fprintf(stderr, "aether attn: %s: %s\n", paths[3], aether_strerror(s));
        rc = 3;
        goto done;
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
