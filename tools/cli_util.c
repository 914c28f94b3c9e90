#include "cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/core.h"

unsigned char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t got;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 65536;
            unsigned char *nb = ncap > cap ? (unsigned char *)realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

int cli_parse_file_args(int argc, char **argv, void (*usage)(FILE *f), const char **path,
                        int *json)
{
    int i;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (argv[i][0] != '-' && !*path)
            *path = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!*path) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cli_parse_ull(const char *s, int base, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-' || *s == '+')
        return 0;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno || *end || v > max)
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
