/* Small helpers shared by the CLI commands: reading a whole file, parsing
 * unsigned numbers strictly, printing JSON strings and floats. Every command
 * must reject the same malformed inputs the same way, so they live once. */
#ifndef AETHER_TOOLS_CLI_UTIL_H
#define AETHER_TOOLS_CLI_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "aether/blob.h"
#include "aether/core.h"

/* ---------- options: one parser for every command ----------
 * Every command declares its options as a table of getopt_long entries
 * (`struct option`, with a distinct positive val each) and loops on
 * cli_next_option(). The conventions live here once:
 *   --opt VALUE and --opt=VALUE; unambiguous prefixes of long names;
 *   -h / --help prints the usage to stdout, --version the version: exit 0;
 *   an unknown option, a missing value or a value given to a flag prints
 *   one line naming the option and a pointer to --help on stderr: exit 2;
 *   positional arguments may stand anywhere; "--" ends the options. */
struct option;

typedef struct cli_command {
    const char *name;             /* "classify": used in messages */
    const struct option *options; /* terminated by an all-zero entry */
    void (*usage)(FILE *f);
    int argc;
    char **argv;
    /* parser state */
    int started;
    const char *optarg;   /* the value of the option just returned */
    int first_positional; /* after CLI_DONE: argv[first_positional..argc-1] */
} cli_command;

/* Set up c for a command's argv (argv[0] is the command name). */
void cli_command_init(cli_command *c, const char *name, const struct option *options,
                      void (*usage)(FILE *f), int argc, char **argv);

#define CLI_DONE (-1) /* no more options */
#define CLI_STOP (-2) /* return *rc from the command (help, version or a usage error) */

/* The next option's val; CLI_DONE when the options are over; CLI_STOP with
 * *rc set when the command must return now. */
int cli_next_option(cli_command *c, int *rc);

/* The positional arguments after CLI_DONE: their count in *n and the first
 * of them as the return value. Between min and max of them are accepted;
 * otherwise a message names what is missing or unexpected, and the return
 * is NULL with *rc = CLI_EXIT_USAGE. */
char **cli_positionals(cli_command *c, int min, int max, int *n, int *rc);

/* The long name (without "--") of the option whose val is val; "?" if none. */
const char *cli_option_name(const cli_command *c, int val);

/* Shared option values: a feature recipe name (csi-v1..v5) into *recipe, a
 * feature vector length (AETHER_FEATURES_MIN_DIM..MAX_DIM) into *dim. 0 on
 * success, else the usage error has been reported: return CLI_EXIT_USAGE. */
int cli_parse_recipe(const cli_command *c, const char *value, unsigned *recipe);
int cli_parse_input_dim(const cli_command *c, const char *value, size_t *dim);

/* A usage error about an option's value: prints "aether CMD: MESSAGE" and
 * the pointer to --help, and returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_command *c, const char *fmt, ...);

/* ---------- exit statuses ---------- */

/* The exit status (commands.h) for a library status: I/O 3, parse errors 4,
 * shapes and capacities that do not fit 5, non-finite data 6, invalid
 * options 2, memory and the rest 1. */
int cli_exit_status(aether_status st);

/* The exit-status table (commands.h), for the end of a usage text. */
void cli_print_exit_statuses(FILE *f);

/* ---------- files ---------- */

/* Why path cannot be read, as a phrase: "no such file or directory", "is a
 * directory", "permission denied", ... (from stat/errno). */
const char *cli_path_problem(const char *path, int err);

/* Prints "aether: PATH: cannot read (REASON)" and returns CLI_EXIT_IO. */
int cli_read_error(const char *path, int err);

/* fopen(path, "rb"), except that a directory fails with errno EISDIR. */
FILE *cli_open_read(const char *path);

/* The largest blob file: header, a payload of 2^32 - 1 bytes, CRC. */
#define CLI_READ_MAX ((unsigned long long)AETHER_BLOB_OVERHEAD + 0xFFFFFFFFull)

/* A blob file (RVNE or RVNQ) at path in a malloc'd buffer (free() it), its
 * length in *len; NULL when it cannot be opened, read, or memory runs out,
 * with errno saying why (EISDIR for a directory, ENOMEM, EFBIG for a
 * regular file longer than CLI_READ_MAX). A device, pipe or FIFO is read
 * up to the length its header declares and one byte more (what the parser
 * needs to accept or refuse it), so that /dev/zero is not read forever. */
unsigned char *cli_read_file(const char *path, size_t *len);

/* buf[0, len) written to path (created or truncated). 0 on success, else
 * the errno of the failed open, write or close; when the write or the close
 * fails, a regular file that was left half written is removed, so that no
 * truncated output passes for a complete one (an open that fails leaves
 * whatever was there). */
int cli_write_file(const char *path, const void *buf, size_t len);

/* A secret for a network client: the first line of the file given by option
 * opt (path, without its line end), else the environment variable env
 * when set. 1 with buf filled, 0 when neither is given, -1 after
 * "aether serve: OPT PATH: REASON" when the file cannot be read. */
int cli_read_secret(const char *opt, const char *path, const char *env, char *buf, size_t cap);

/* 1 when every non-NULL paths[i] can be opened for reading; else 0 after
 * "aether serve: OPTS[i] PATH: REASON" for the first that cannot (a client
 * library would only say "invalid argument"). */
int cli_files_readable(const char *const *opts, const char *const *paths, size_t n);

/* Arguments of a command that takes one FILE and --json: -1 when the
 * command should go on (*path set, *json 1 if --json was given), else the
 * exit status to return (0 after --help or --version, 2 after a usage
 * message). */
int cli_parse_file_args(const char *name, int argc, char **argv, void (*usage)(FILE *f),
                        const char **path, int *json);

/* Strict unsigned parse: a digit first (no blanks, no sign), no trailing text,
 * no overflow, at most max.
 * base as for strtoull (0 also takes 0x... hex). 1 on success, else 0 and
 * *out untouched. */
int cli_parse_ull(const char *s, int base, unsigned long long max, unsigned long long *out);

/* cli_parse_ull in decimal into a size_t. */
int cli_parse_size(const char *s, size_t *out);

/* A non-negative decimal number of seconds, at most max (strtod syntax, the
 * whole string). 1 on success, else 0 and *out untouched. */
int cli_parse_seconds(const char *s, double max, double *out);

/* Comma-separated names ("wave,circle_cw,no_gesture") split in place into
 * buf (cap bytes): names[0..*n-1] point into buf. 1 on success; 0 when the
 * text does not fit, a name is empty or there are more than max. */
int cli_split_labels(const char *text, char *buf, size_t cap, char **names, size_t max,
                     size_t *n);

/* s as a JSON string literal on stdout (quotes, backslashes and control
 * characters escaped). */
void cli_json_string(const char *s);

/* x on stdout as JSON: enough digits to give back the exact float, null for
 * NaN and Inf (JSON has neither). */
void cli_json_float(float x);

#endif
