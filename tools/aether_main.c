/* aether CLI entry point: dispatches to one command per source file. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "aether/core.h"
#include "cli_util.h"
#include "commands.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"version", cmd_version, "print the library version"},
    {"conformance", cmd_conformance, "run golden conformance cases"},
    {"attn", cmd_attn, "run an attention kernel on .npy tensors"},
    {"bench", cmd_bench, "time the kernels against the scalar reference"},
    {"ab", cmd_ab, "dense vs sparse backend A/B (gate figures, docs/MODEL.md section 9)"},
    {"csi", cmd_csi, "summarise a CSI recording (--features: feature vectors)"},
    {"features", cmd_features, "write a recording's feature frames (.npy) for a model"},
    {"init-blob", cmd_init_blob, "write the deterministic demo weight blob"},
    {"quantize", cmd_quantize, "write the int8 (RVNQ) form of a model blob"},
    {"inspect", cmd_inspect, "show and validate an RVNE weight blob"},
    {"packet", cmd_packet, "decode 0xC5110007 classification packets"},
    {"classify", cmd_classify, "classify a window of frames with a model blob"},
    {"stream", cmd_stream, "classify frame by frame through a streaming session"},
    {"run", cmd_run, "stream a CSI recording to per-node decisions (features -> model)"},
    {"replay", cmd_replay, "send a recording as ADR-018 UDP datagrams, as ESP32 nodes do"},
    {"serve", cmd_serve, "receive ADR-018 frames over UDP, print live decisions per node"},
    {"train", cmd_train, "train a temporal model from labelled recordings"},
    {"eval", cmd_eval, "score a model on the time-based validation split"},
    {"baseline", cmd_baseline, "score a logistic-regression baseline on the same split"},
};

static void usage(FILE *f)
{
    size_t i;
    fprintf(f, "usage: aether COMMAND [options]   (aether COMMAND --help for "
               "details)\n\ncommands:\n");
    for (i = 0; i < sizeof k_commands / sizeof k_commands[0]; ++i)
        fprintf(f, "  %-12s %s\n", k_commands[i].name, k_commands[i].summary);
}

static void version_usage(FILE *f)
{
    fprintf(f, "usage: aether version   (also: aether --version, aether COMMAND --version)\n"
               "  Prints the library version.\n");
    cli_print_exit_statuses(f);
}

int cmd_version(int argc, char **argv)
{
    static const struct option options[] = {
        {NULL, 0, NULL, 0},
    };
    cli_command c;
    int rc = 0, n;
    cli_command_init(&c, "version", options, version_usage, argc, argv);
    if (cli_next_option(&c, &rc) == CLI_STOP)
        return rc;
    if (!cli_positionals(&c, 0, 0, &n, &rc))
        return rc;
    printf("aether %s\n", aether_version());
    return 0;
}

int main(int argc, char **argv)
{
    size_t i;
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
        return cmd_version(argc - 1, argv + 1);
    for (i = 0; i < sizeof k_commands / sizeof k_commands[0]; ++i)
        if (!strcmp(argv[1], k_commands[i].name))
            return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "aether: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
