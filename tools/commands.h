/* One function per CLI command: argv[0] is the command name. Exit statuses:
 * 0 success, 1 failure of the operation (e.g. conformance FAIL), 2 usage
 * error, 3 I/O error, 4 invalid input data/model. */
#ifndef AETHER_TOOLS_COMMANDS_H
#define AETHER_TOOLS_COMMANDS_H

int cmd_version(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_attn(int argc, char **argv);

#endif
