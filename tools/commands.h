/* One function per CLI command: argv[0] is the command name. Exit statuses
 * (one per kind of failure, so scripts can tell them apart):
 *   0 success
 *   1 the operation failed (a conformance FAIL, out of memory)
 *   2 usage error
 *   3 I/O error (missing or unreadable file, write failure)
 *   4 malformed input: a blob, .npy or recording that does not parse, or a
 *     blob that is not a loadable model
 *   5 valid input that does not fit: frames of another width than the
 *     model's input_dim, a blob for another shape, labels of another count
 *   6 non-finite data: NaN or Inf in the input frames */
#ifndef AETHER_TOOLS_COMMANDS_H
#define AETHER_TOOLS_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_attn(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_csi(int argc, char **argv);
int cmd_init_blob(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_packet(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

#endif
