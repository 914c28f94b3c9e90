/* One function per CLI command: argv[0] is the command name. Exit statuses:
 * 0 success, 1 failure of the operation (e.g. conformance FAIL), 2 usage
 * error, 3 I/O error, 4 invalid input data/model. */
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
