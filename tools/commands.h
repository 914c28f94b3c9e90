/* One function per CLI command: argv[0] is the command name. Every command
 * returns one of the exit statuses below (cli_exit_status() maps a library
 * status onto them), so scripts can tell the kinds of failure apart. */
#ifndef AETHER_TOOLS_COMMANDS_H
#define AETHER_TOOLS_COMMANDS_H

enum {
    CLI_EXIT_OK = 0,        /* success */
    CLI_EXIT_FAILED = 1,    /* the operation failed: a conformance FAIL, out of memory */
    CLI_EXIT_USAGE = 2,     /* usage error: unknown option, bad option value */
    CLI_EXIT_IO = 3,        /* I/O: a missing, unreadable or unwritable file */
    CLI_EXIT_MALFORMED = 4, /* a blob, .npy, recording or packet that does not parse */
    CLI_EXIT_MISFIT = 5,    /* valid input that does not fit: another shape or width,
                               labels of another count, a full cache or table */
    CLI_EXIT_NONFINITE = 6  /* NaN or Inf in the input data */
};

int cmd_version(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_attn(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_csi(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_init_blob(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_packet(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

#endif
