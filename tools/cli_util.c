#define _POSIX_C_SOURCE 200809L /* stat */
#include "cli_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aether/blob.h"
#include "aether/core.h"
#include "aether/features.h"
#include "commands.h"

/* ---------- options ---------- */

enum { OPT_HELP = 'h', OPT_VERSION = 0x7F00 };
#define MAX_OPTIONS 64

static void print_version(void)
{
    printf("aether %s\n", aether_version());
}

void cli_command_init(cli_command *c, const char *name, const struct option *options,
                      void (*usage)(FILE *f), int argc, char **argv)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->options = options;
    c->usage = usage;
    c->argc = argc;
    c->argv = argv;
}

static void try_help(const cli_command *c)
{
    fprintf(stderr, "Try 'aether %s --help'.\n", c->name);
}

int cli_next_option(cli_command *c, int *rc)
{
    /* The command's table plus --help and --version, rebuilt per call: the
     * table is small and parsing happens once per process. */
    struct option all[MAX_OPTIONS + 3];
    size_t n = 0;
    int r;
    while (c->options && c->options[n].name) {
        if (n == MAX_OPTIONS) {
            fprintf(stderr, "aether %s: too many options in the table\n", c->name);
            *rc = CLI_EXIT_FAILED;
            return CLI_STOP;
        }
        all[n] = c->options[n];
        ++n;
    }
    all[n].name = "help";
    all[n].has_arg = no_argument;
    all[n].flag = NULL;
    all[n].val = OPT_HELP;
    all[n + 1].name = "version";
    all[n + 1].has_arg = no_argument;
    all[n + 1].flag = NULL;
    all[n + 1].val = OPT_VERSION;
    memset(&all[n + 2], 0, sizeof all[n + 2]);
    if (!c->started) {
        c->started = 1;
        opterr = 0;
#ifdef __GLIBC__
        optind = 0; /* full re-initialisation */
#else
        optind = 1;
#endif
    }
    r = getopt_long(c->argc, c->argv, ":h", all, NULL);
    c->optarg = optarg;
    if (r == -1) {
        c->first_positional = optind;
        return CLI_DONE;
    }
    if (r == OPT_HELP) {
        c->usage(stdout);
        *rc = CLI_EXIT_OK;
        return CLI_STOP;
    }
    if (r == OPT_VERSION) {
        print_version();
        *rc = CLI_EXIT_OK;
        return CLI_STOP;
    }
    if (r == ':' || r == '?') {
        const char *arg = optind > 0 && optind <= c->argc ? c->argv[optind - 1] : "";
        if (r == ':')
            fprintf(stderr, "aether %s: option '%s' needs a value\n", c->name, arg);
        else if (optopt && !strncmp(arg, "--", 2))
            fprintf(stderr, "aether %s: option '%.*s' takes no value\n", c->name,
                    (int)strcspn(arg, "="), arg);
        else if (optopt)
            fprintf(stderr, "aether %s: unknown option '-%c'\n", c->name, optopt);
        else
            fprintf(stderr, "aether %s: unknown option '%s'\n", c->name, arg);
        try_help(c);
        *rc = CLI_EXIT_USAGE;
        return CLI_STOP;
    }
    return r;
}

char **cli_positionals(cli_command *c, int min, int max, int *n, int *rc)
{
    int count = c->argc - c->first_positional;
    *n = count;
    if (count < min) {
        fprintf(stderr, "aether %s: missing argument%s\n", c->name, min - count > 1 ? "s" : "");
        try_help(c);
        *rc = CLI_EXIT_USAGE;
        return NULL;
    }
    if (count > max) {
        fprintf(stderr, "aether %s: unexpected argument '%s'\n", c->name,
                c->argv[c->first_positional + max]);
        try_help(c);
        *rc = CLI_EXIT_USAGE;
        return NULL;
    }
    return c->argv + c->first_positional;
}

const char *cli_option_name(const cli_command *c, int val)
{
    size_t i;
    for (i = 0; c->options && c->options[i].name; ++i)
        if (c->options[i].val == val)
            return c->options[i].name;
    return "?";
}

int cli_parse_recipe(const cli_command *c, const char *value, unsigned *recipe)
{
    if (aether_features_recipe_parse(value, recipe) == AETHER_OK)
        return 0;
    return cli_usage_error(c, "--recipe is csi-v1, csi-v2, csi-v3, csi-v4 or csi-v5");
}

int cli_parse_input_dim(const cli_command *c, const char *value, size_t *dim)
{
    if (cli_parse_size(value, dim) && aether_features_groups(*dim) != 0)
        return 0;
    return cli_usage_error(c, "--input-dim is %u..%u", AETHER_FEATURES_MIN_DIM,
                           AETHER_FEATURES_MAX_DIM);
}

int cli_usage_error(const cli_command *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "aether %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    try_help(c);
    return CLI_EXIT_USAGE;
}

/* ---------- exit statuses ---------- */

int cli_exit_status(aether_status st)
{
    switch (st) {
    case AETHER_OK:
        return CLI_EXIT_OK;
    case AETHER_ERR_IO:
        return CLI_EXIT_IO;
    case AETHER_ERR_NONFINITE:
        return CLI_EXIT_NONFINITE;
    case AETHER_ERR_INVALID_ARG:
    case AETHER_ERR_INVALID_CONFIG:
    case AETHER_ERR_ZERO_HEAD_DIM:
    case AETHER_ERR_BLOCK_SIZE:
    case AETHER_ERR_TOO_MANY_GLOBALS:
        return CLI_EXIT_USAGE;
    case AETHER_ERR_SHAPE_MISMATCH:
    case AETHER_ERR_GQA_RATIO:
    case AETHER_ERR_HEAD_DIM_MISMATCH:
    case AETHER_ERR_KV_HEADS_MISMATCH:
    case AETHER_ERR_MASK_LENGTH:
    case AETHER_ERR_CACHE_FULL:
    case AETHER_ERR_CACHE_EMPTY:
    case AETHER_ERR_SEQ_NOT_ONE:
    case AETHER_ERR_BLOCK_MISMATCH:
    case AETHER_ERR_ALL_PROTECTED:
    case AETHER_ERR_SCORES_LENGTH:
    case AETHER_ERR_BLOB_SHAPE:
    case AETHER_ERR_TRACKS_FULL:
        return CLI_EXIT_MISFIT;
    case AETHER_ERR_NPY_MAGIC:
    case AETHER_ERR_NPY_VERSION:
    case AETHER_ERR_NPY_HEADER:
    case AETHER_ERR_NPY_DTYPE:
    case AETHER_ERR_NPY_FORTRAN:
    case AETHER_ERR_NPY_ENDIAN:
    case AETHER_ERR_NPY_TRUNCATED:
    case AETHER_ERR_NPY_SIZE:
    case AETHER_ERR_BLOB_TOO_SHORT:
    case AETHER_ERR_BLOB_MAGIC:
    case AETHER_ERR_BLOB_VERSION:
    case AETHER_ERR_BLOB_LENGTH:
    case AETHER_ERR_BLOB_CRC:
    case AETHER_ERR_BLOB_ZERO_DIM:
    case AETHER_ERR_BLOB_GQA:
    case AETHER_ERR_BLOB_DEGENERATE:
    case AETHER_ERR_BLOB_ELEM_SIZE:
    case AETHER_ERR_BLOB_LAYOUT:
    case AETHER_ERR_BLOB_NONFINITE:
    case AETHER_ERR_BLOB_EXTENSION:
    case AETHER_ERR_BLOB_METADATA:
    case AETHER_ERR_BLOB_LABELS:
    case AETHER_ERR_BLOB_TEMPERATURE:
    case AETHER_ERR_BLOB_THRESHOLD:
    case AETHER_ERR_PACKET_SIZE:
    case AETHER_ERR_PACKET_MAGIC:
    case AETHER_ERR_PACKET_VERSION:
    case AETHER_ERR_PACKET_CRC:
    case AETHER_ERR_PACKET_CLASSES:
    case AETHER_ERR_PACKET_ARGMAX:
    case AETHER_ERR_PARSE:
    case AETHER_ERR_FRAME_MAGIC:
    case AETHER_ERR_FRAME_LENGTH:
    case AETHER_ERR_FORMAT:
    case AETHER_ERR_ZIP:
        return CLI_EXIT_MALFORMED;
    default:
        return CLI_EXIT_FAILED;
    }
}

void cli_print_exit_statuses(FILE *f)
{
    fprintf(f, "exit status: 0 ok, 1 failed, 2 usage, 3 I/O (missing or unreadable file),\n"
               "  4 malformed input, 5 input that does not fit (shape, width, labels, a full\n"
               "  cache), 6 NaN/Inf in the input\n");
}

/* ---------- files ---------- */

const char *cli_path_problem(const char *path, int err)
{
    struct stat sb;
    if (err == ESPIPE) /* the recording readers: an .npz on a stream */
        return "not seekable: an .npz recording is a zip archive, read from its end, so it "
               "needs a regular file, not standard input, a pipe or a FIFO";
    if (stat(path, &sb) != 0)
        return strerror(errno);
    if (S_ISDIR(sb.st_mode))
        return "is a directory";
    return strerror(err ? err : EIO);
}

int cli_read_error(const char *path, int err)
{
    fprintf(stderr, "aether: %s: cannot read (%s)\n", path, cli_path_problem(path, err));
    return err == ENOMEM ? CLI_EXIT_FAILED : CLI_EXIT_IO;
}

int cli_read_secret(const char *opt, const char *path, const char *env, char *buf, size_t cap)
{
    const char *v;
    FILE *f;
    size_t n;
    if (!path) {
        v = env ? getenv(env) : NULL;
        if (!v)
            return 0;
        snprintf(buf, cap, "%s", v);
        return 1;
    }
    f = cli_open_read(path);
    if (!f) {
        fprintf(stderr, "aether serve: %s %s: %s\n", opt, path, cli_path_problem(path, errno));
        return -1;
    }
    if (!fgets(buf, (int)cap, f))
        buf[0] = '\0';
    fclose(f);
    n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 1;
}

int cli_files_readable(const char *const *opts, const char *const *paths, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        FILE *f = paths[i] ? cli_open_read(paths[i]) : NULL;
        if (paths[i] && !f) {
            fprintf(stderr, "aether serve: %s %s: %s\n", opts[i], paths[i],
                    cli_path_problem(paths[i], errno));
            return 0;
        }
        if (f)
            fclose(f);
    }
    return 1;
}

FILE *cli_open_read(const char *path)
{
    struct stat sb;
    /* fopen succeeds on a directory on some systems; reading it then fails
     * with a less helpful message. */
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        errno = EISDIR;
        return NULL;
    }
    return fopen(path, "rb");
}

unsigned char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = cli_open_read(path);
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, limit = (size_t)-1;
    int stream = 0;
    struct stat sb;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
        if ((uint64_t)sb.st_size > CLI_READ_MAX) {
            fclose(f);
            errno = EFBIG;
            return NULL;
        }
    } else {
        stream = 1; /* a device, pipe or FIFO: /dev/zero never ends */
    }
    for (;;) {
        size_t got, want;
        if (stream && limit == (size_t)-1 && n >= AETHER_BLOB_HEADER_LEN) {
            /* the header's length and one byte more: a longer stream fails
             * to parse (BLOB_LENGTH) as its whole would */
            uint64_t whole = (uint64_t)AETHER_BLOB_OVERHEAD + aether_load_le32(buf + 20) + 1u;
            limit = whole < (uint64_t)((size_t)-1) ? (size_t)whole : (size_t)-1 - 1;
        }
        if (n >= limit)
            break;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 65536;
            unsigned char *nb = ncap > cap ? (unsigned char *)realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        want = cap - n;
        if (stream && n < AETHER_BLOB_HEADER_LEN && want > AETHER_BLOB_HEADER_LEN - n)
            want = AETHER_BLOB_HEADER_LEN - n; /* the header first */
        if (want > limit - n)
            want = limit - n;
        got = fread(buf + n, 1, want, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int err = errno;
        free(buf);
        fclose(f);
        errno = err ? err : EIO;
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

int cli_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    struct stat sb;
    int ok, err;
    if (!f)
        return errno ? errno : EIO;
    errno = 0;
    ok = fwrite(buf, 1, len, f) == len;
    err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (ok)
        return 0;
    /* only a regular file: never a device such as /dev/full, or a FIFO */
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        remove(path);
    return err ? err : EIO;
}

int cli_parse_file_args(const char *name, int argc, char **argv, void (*usage)(FILE *f),
                        const char **path, int *json)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    cli_command c;
    char **pos;
    int opt, rc = CLI_EXIT_OK, n;
    cli_command_init(&c, name, options, usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        if (opt == CLI_STOP)
            return rc;
        *json = 1;
    }
    pos = cli_positionals(&c, 1, 1, &n, &rc);
    if (!pos)
        return rc;
    *path = pos[0];
    return -1;
}

int cli_parse_ull(const char *s, int base, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    /* a digit first: strtoull itself skips blanks and takes a sign after
     * them (" -1" would be ULLONG_MAX) */
    if (!s || *s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno || *end || v > max)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_seconds(const char *s, double max, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return 0;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0) || v > max)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    if (!cli_parse_ull(s, 10, (unsigned long long)(size_t)-1, &v))
        return 0;
    *out = (size_t)v;
    return 1;
}

int cli_split_labels(const char *text, char *buf, size_t cap, char **names, size_t max, size_t *n)
{
    char *p;
    size_t len = strlen(text);
    if (len >= cap)
        return 0;
    memcpy(buf, text, len + 1);
    *n = 0;
    for (p = buf; p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p || *n == max)
            return 0;
        names[(*n)++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return 1;
}

void cli_json_string(const char *s)
{
    putchar('"');
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

void cli_json_float(float x)
{
    if (aether_isfinite(x))
        printf("%.9g", (double)x);
    else
        printf("null");
}
