/* `aether features`: a CSI recording -> the feature frames a model reads,
 * as a float32 [N, input_dim] .npy per node (the FRAMES.npy that `aether
 * classify` and `aether stream` take). The recipe and width come from the
 * model's blob (metadata `features`, header input_dim) or the options, so
 * the frames are exactly those `aether run` feeds the same model. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/csi.h"
#include "aether/features.h"
#include "aether/npy.h"
#include "aether/recording.h"
#include "cli_util.h"
#include "commands.h"
#include "model_meta.h"

#define N_NODES 256u

static void features_usage(FILE *f)
{
    fprintf(f,
            "usage: aether features RECORDING --out FRAMES.npy [--model BLOB | --recipe R\n"
            "                       --input-dim N] [--node N] [--max-line BYTES]\n"
            "  Computes the feature vector of every CSI frame of one node, in recording\n"
            "  order, and writes them as float32 [N, input_dim] to FRAMES.npy: the input\n"
            "  of `aether classify` and `aether stream`.\n"
            "  --model BLOB    take the recipe (metadata `features`, else csi-v1) and\n"
            "                  input_dim from the blob\n"
            "  --recipe csi-v1|...|csi-v5  recipe (overrides the blob's)\n"
            "  --input-dim N   feature vector length, %u..%u (overrides the blob's; %u\n"
            "                  without a blob)\n"
            "  --node N        the node to export; required when the recording holds\n"
            "                  frames of several nodes\n"
            "  --max-line B    longest JSONL line accepted (default 1 MiB)\n"
            "  Frames the extractor refuses (another subcarrier count, NaN amplitudes)\n"
            "  are counted and left out, as `aether run` does.\n",
            AETHER_FEATURES_MIN_DIM, AETHER_FEATURES_MAX_DIM, AETHER_FEATURES_DEFAULT_DIM);
    cli_print_exit_statuses(f);
}

enum { OPT_OUT = 1, OPT_MODEL, OPT_RECIPE, OPT_INPUT_DIM, OPT_NODE, OPT_MAX_LINE };

static const struct option k_options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"model", required_argument, NULL, OPT_MODEL},
    {"recipe", required_argument, NULL, OPT_RECIPE},
    {"input-dim", required_argument, NULL, OPT_INPUT_DIM},
    {"node", required_argument, NULL, OPT_NODE},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {NULL, 0, NULL, 0},
};

typedef struct feat_opts {
    const char *input, *out, *model;
    unsigned recipe;
    int have_recipe, have_node;
    size_t input_dim, max_line;
    unsigned long long node;
} feat_opts;

/* One node's vectors, grown by doubling. */
typedef struct node_rows {
    float *v;
    size_t n, cap;
} node_rows;

static int parse(int argc, char **argv, feat_opts *o)
{
    cli_command c;
    char **pos;
    int opt, rc = 0, n;
    memset(o, 0, sizeof *o);
    cli_command_init(&c, "features", k_options, features_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc == 0 ? -1 : rc;
        case OPT_OUT:
            o->out = c.optarg;
            break;
        case OPT_MODEL:
            o->model = c.optarg;
            break;
        case OPT_RECIPE:
            if (cli_parse_recipe(&c, c.optarg, &o->recipe))
                return CLI_EXIT_USAGE;
            o->have_recipe = 1;
            break;
        case OPT_INPUT_DIM:
            if (cli_parse_input_dim(&c, c.optarg, &o->input_dim))
                return CLI_EXIT_USAGE;
            break;
        case OPT_NODE:
            if (!cli_parse_ull(c.optarg, 10, N_NODES - 1, &o->node))
                return cli_usage_error(&c, "--node is 0..255");
            o->have_node = 1;
            break;
        case OPT_MAX_LINE:
            if (!cli_parse_size(c.optarg, &o->max_line) || o->max_line == 0)
                return cli_usage_error(&c, "--max-line needs a positive integer");
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    pos = cli_positionals(&c, 1, 1, &n, &rc);
    if (!pos)
        return rc;
    o->input = pos[0];
    if (!o->out)
        return cli_usage_error(&c, "--out FRAMES.npy is required");
    return 0;
}

/* Recipe and width from the blob, under the options. 0 or an exit status. */
static int from_model(feat_opts *o)
{
    size_t len = 0;
    unsigned char *bytes = cli_read_file(o->model, &len);
    aether_blob_view v;
    model_meta mm;
    char err[256];
    aether_status st;
    if (!bytes)
        return cli_read_error(o->model, errno);
    memset(&mm, 0, sizeof mm);
    st = aether_blob_parse(bytes, len, &v);
    if (st == AETHER_OK)
        st = aether_blob_validate_model(&v, NULL);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether features: %s: invalid blob: %s (%s)\n", o->model,
                aether_blob_reference_message(st), aether_status_name(st));
        free(bytes);
        return CLI_EXIT_MALFORMED;
    }
    if (model_meta_read(&v, &mm, err, sizeof err) != 0) {
        fprintf(stderr, "aether features: %s: %s\n", o->model, err);
        free(bytes);
        return CLI_EXIT_MALFORMED;
    }
    if (!o->have_recipe)
        o->recipe = mm.have_recipe ? mm.recipe : AETHER_FEATURES_V1;
    if (!o->input_dim)
        o->input_dim = v.header.input_dim;
    free(bytes);
    if (aether_features_groups(o->input_dim) == 0) {
        fprintf(stderr,
                "aether features: %s takes %lu inputs per frame; CSI feature vectors have "
                "%u..%u values\n",
                o->model, (unsigned long)o->input_dim, AETHER_FEATURES_MIN_DIM,
                AETHER_FEATURES_MAX_DIM);
        return CLI_EXIT_MISFIT;
    }
    return 0;
}

static int append(node_rows *r, const float *x, size_t dim)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        float *nv = cap > r->cap && cap <= ((size_t)-1) / (dim * sizeof(float))
                        ? (float *)realloc(r->v, cap * dim * sizeof(float))
                        : NULL;
        if (!nv)
            return 0;
        r->v = nv;
        r->cap = cap;
    }
    memcpy(r->v + r->n * dim, x, dim * sizeof(float));
    r->n++;
    return 1;
}

/* The node to write: --node, else the only node with vectors. After a
 * message: -1 when there is nothing to write, -2 when --node must choose. */
static int pick_node(const feat_opts *o, const node_rows *rows)
{
    size_t i, count = 0, last = 0;
    if (o->have_node) {
        if (rows[o->node].n == 0) {
            fprintf(stderr, "aether features: %s: node %llu has no feature frames\n", o->input,
                    o->node);
            return -1;
        }
        return (int)o->node;
    }
    for (i = 0; i < N_NODES; ++i)
        if (rows[i].n) {
            count++;
            last = i;
        }
    if (count == 1)
        return (int)last;
    if (count == 0) {
        fprintf(stderr, "aether features: %s: no feature frames\n", o->input);
        return -1;
    }
    fprintf(stderr, "aether features: %s holds frames of %lu nodes (", o->input,
            (unsigned long)count);
    for (i = 0, count = 0; i < N_NODES; ++i)
        if (rows[i].n)
            fprintf(stderr, "%s%lu: %lu", count++ ? ", " : "", (unsigned long)i,
                    (unsigned long)rows[i].n);
    fprintf(stderr, "); choose one with --node N\n");
    return -2;
}

int cmd_features(int argc, char **argv)
{
    feat_opts o;
    aether_recording_options ro;
    aether_recording *rec = NULL;
    aether_features *fx = NULL;
    aether_features_config fc;
    aether_csi_frame f;
    node_rows *rows = NULL;
    float x[AETHER_FEATURES_MAX_DIM];
    unsigned long long refused = 0;
    aether_status st, first_refusal = AETHER_OK;
    size_t i;
    int rc = parse(argc, argv, &o), node;
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (o.model && (rc = from_model(&o)) != 0)
        return rc;
    if (!o.have_recipe && !o.model)
        o.recipe = AETHER_FEATURES_V1;
    if (!o.input_dim)
        o.input_dim = AETHER_FEATURES_DEFAULT_DIM;

    memset(&ro, 0, sizeof ro);
    ro.max_line = o.max_line;
    st = aether_recording_open(o.input, &ro, &rec);
    if (st == AETHER_ERR_IO)
        return cli_read_error(o.input, errno);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether features: %s: %s\n", o.input, aether_strerror(st));
        return cli_exit_status(st);
    }
    fc.input_dim = o.input_dim;
    fc.max_nodes = N_NODES; /* every node id fits */
    fc.recipe = o.recipe;
    st = aether_features_create(&fc, &fx);
    rows = (node_rows *)calloc(N_NODES, sizeof *rows);
    if (st != AETHER_OK || !rows) {
        fprintf(stderr, "aether features: %s\n",
                aether_strerror(st != AETHER_OK ? st : AETHER_ERR_NO_MEM));
        rc = CLI_EXIT_FAILED;
        goto done;
    }
    while ((st = aether_recording_next(rec, &f)) == AETHER_OK) {
        /* every node goes through the extractor, as in `aether run` */
        aether_status fs = aether_features_compute(fx, &f, x, o.input_dim);
        int wanted = !o.have_node || f.node_id == o.node;
        if (fs != AETHER_OK) {
            if (!wanted)
                continue;
            if (refused++ == 0)
                first_refusal = fs;
            continue;
        }
        if (wanted && !append(&rows[f.node_id & (N_NODES - 1)], x, o.input_dim)) {
            fprintf(stderr, "aether features: out of memory\n");
            rc = CLI_EXIT_FAILED;
            goto done;
        }
    }
    if (st != AETHER_ERR_END) {
        fprintf(stderr, "aether features: %s: %s\n", o.input, aether_strerror(st));
        rc = cli_exit_status(st);
        goto done;
    }
    node = pick_node(&o, rows);
    if (node < 0) {
        rc = node == -2 ? CLI_EXIT_USAGE : CLI_EXIT_MALFORMED;
        goto done;
    }
    {
        size_t shape[2], len = 0;
        unsigned char *npy = NULL;
        int err;
        shape[0] = rows[node].n;
        shape[1] = o.input_dim;
        /* encoded first, then written whole: a failed write leaves no
         * truncated .npy behind (cli_write_file) */
        st = aether_npy_encode(AETHER_DTYPE_F32, 2, shape, rows[node].v, &npy, &len);
        if (st != AETHER_OK) {
            fprintf(stderr, "aether features: cannot encode %s: %s\n", o.out,
                    aether_strerror(st));
            rc = st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_IO;
            goto done;
        }
        err = cli_write_file(o.out, npy, len);
        free(npy);
        if (err) {
            fprintf(stderr, "aether features: cannot write %s (%s)\n", o.out, strerror(err));
            rc = CLI_EXIT_IO;
            goto done;
        }
    }
    {
        const aether_recording_stats *rs = aether_recording_get_stats(rec);
        printf("wrote %s: %lu frames x %lu features (node %d, recipe %s)", o.out,
               (unsigned long)rows[node].n, (unsigned long)o.input_dim, node,
               aether_features_recipe_name(o.recipe));
        if (refused)
            printf("; %llu frames refused (%s)", refused, aether_status_name(first_refusal));
        if (rs->malformed)
            printf("; %llu malformed records", (unsigned long long)rs->malformed);
        printf("\n");
    }
done:
    if (rows)
        for (i = 0; i < N_NODES; ++i)
            free(rows[i].v);
    free(rows);
    aether_features_destroy(fx);
    aether_recording_close(rec);
    return rc;
}
