/* Small helpers shared by the CLI commands: reading a whole file, parsing
 * unsigned numbers strictly, printing JSON strings and floats. Every command
 * must reject the same malformed inputs the same way, so they live once. */
#ifndef AETHER_TOOLS_CLI_UTIL_H
#define AETHER_TOOLS_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

/* The whole file at path in a malloc'd buffer (free() it), its length in
 * *len; NULL when it cannot be opened, read, or memory runs out. */
unsigned char *cli_read_file(const char *path, size_t *len);

/* Arguments of a command that takes one FILE and --json: -1 when the
 * command should go on (*path set, *json 1 if --json was given), else the
 * exit status to return (0 after --help / -h, 2 after a usage message). */
int cli_parse_file_args(int argc, char **argv, void (*usage)(FILE *f), const char **path,
                        int *json);

/* Strict unsigned parse: no sign, no trailing text, no overflow, at most max.
 * base as for strtoull (0 also takes 0x... hex). 1 on success, else 0 and
 * *out untouched. */
int cli_parse_ull(const char *s, int base, unsigned long long max, unsigned long long *out);

/* cli_parse_ull in decimal into a size_t. */
int cli_parse_size(const char *s, size_t *out);

/* s as a JSON string literal on stdout (quotes, backslashes and control
 * characters escaped). */
void cli_json_string(const char *s);

/* x on stdout as JSON: enough digits to give back the exact float, null for
 * NaN and Inf (JSON has neither). */
void cli_json_float(float x);

#endif
