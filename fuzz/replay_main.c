/*
 * Replay driver: runs every file named on the command line (directories are
 * walked one level deep) through LLVMFuzzerTestOneInput. Lets a non-clang
 * compiler, valgrind or a plain ctest run the committed corpus and any crash
 * reproducer. Exit status 0 when every input ran; an input that violates an
 * invariant aborts the process.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return 1;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    /* A fresh exact-size copy so that ASan/valgrind see reads past the end. */
    {
        unsigned char *exact = malloc(len ? len : 1);
        if (!exact) {
            free(buf);
            return 1;
        }
        if (len)
            memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int run_path(const char *path, size_t *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s\n", path);
        return 1;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0, i;
        int rc = 0;
        if (!d)
            return 1;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                char **nn = realloc(names, ncap * sizeof *nn);
                if (!nn)
                    break;
                names = nn;
                cap = ncap;
            }
            names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
            if (!names[n])
                break;
            sprintf(names[n], "%s/%s", path, e->d_name);
            n++;
        }
        closedir(d);
        if (n)
            qsort(names, n, sizeof *names, cmp_names); /* deterministic order */
        for (i = 0; i < n; ++i) {
            struct stat fst;
            if (stat(names[i], &fst) == 0 && S_ISREG(fst.st_mode)) {
                rc |= run_file(names[i]);
                (*count)++;
            }
            free(names[i]);
        }
        free(names);
        return rc;
    }
    (*count)++;
    return run_file(path);
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0, i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; ++i)
        rc |= run_path(argv[i], &count);
    printf("replayed %zu inputs\n", count);
    return rc;
}
