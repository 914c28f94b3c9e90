/*
 * aether conformance [--reference] [--filter SUBSTR] [--verbose] DIR...
 *
 * Runs golden cases through the op handlers of conf_registry.c. A DIR is a
 * case directory (case.json), a golden root (index.json: every case of
 * "cases_op" in name order, then the special directories f16_conversions,
 * edges, rvne and errors when present), or a special directory holding
 * NAME/NAME.json. One line per case, "name op max_abs_err VERDICT", then a
 * summary; a missing or unreadable case is a FAIL line, never an abort.
 * Exit status (commands.h): 0 when nothing failed, 1 otherwise, 2 on a
 * usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/dispatch.h"
#include "cli_util.h"
#include "commands.h"
#include "conformance.h"

typedef struct {
    int reference;
    int verbose;
    const char *filter;
    unsigned long passed, failed, skipped;
} runner;

/* Special golden files that are one case each, named after the directory. */
static const struct {
    const char *dir;
    const char *file;
} k_specials[] = {
    {"f16_conversions", "case.json"},
    {"edges", "edges.json"},
    {"rvne", "rvne.json"},
    {"errors", "errors.json"},
};

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = (char *)malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Whole text file, NUL-terminated; NULL if it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    if (!path || !(f = fopen(path, "rb")))
        return NULL;
    for (;;) {
        if (cap - len < 2) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = ncap > cap ? (char *)realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        buf = NULL;
    } else {
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

static int readable(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    fclose(f);
    return 1;
}

/* Last path component (trailing slashes already removed). */
static const char *base_name(const char *dir)
{
    const char *s = strrchr(dir, '/');
    return s && s[1] ? s + 1 : dir;
}

static void report(runner *rn, const char *name, const char *op, const conf_result *r,
                   const char *dir, double ms)
{
    printf("%s %s %.3g ", name, op, r->max_abs_err);
    if (r->verdict == CONF_PASS) {
        rn->passed++;
        printf("PASS\n");
    } else if (r->verdict == CONF_SKIP) {
        rn->skipped++;
        printf(r->note[0] ? "SKIP(%s)\n" : "SKIP\n", r->note);
    } else {
        rn->failed++;
        printf(r->note[0] ? "FAIL: %s\n" : "FAIL\n", r->note);
    }
    fflush(stdout);
    if (rn->verbose)
        fprintf(stderr, "  %s: %.1f ms cpu%s%s\n", dir, ms,
                r->verdict == CONF_PASS && r->note[0] ? ", " : "",
                r->verdict == CONF_PASS ? r->note : "");
}

static int selected(const runner *rn, const char *name)
{
    return !rn->filter || strstr(name, rn->filter) != NULL;
}

static void fail_line(runner *rn, const char *name, const char *op, const char *dir,
                      const char *note)
{
    conf_result r;
    memset(&r, 0, sizeof r);
    r.verdict = CONF_FAIL;
    snprintf(r.note, sizeof r.note, "%s", note);
    report(rn, name, op, &r, dir, 0.0);
}

/* One case described by the JSON file json_path; fallback_name and op_hint
 * label the line when the file itself is unusable. */
static void run_case(runner *rn, const char *dir, const char *json_path,
                     const char *fallback_name, const char *op_hint)
{
    char *text;
    cJSON *json;
    const cJSON *jname, *jop;
    const char *name = fallback_name, *op;
    conf_case c;
    conf_result r;
    conf_op_fn fn;
    clock_t t0;

    text = read_text(json_path);
    if (!text) {
        if (selected(rn, name))
            fail_line(rn, name, op_hint, dir, "cannot read case description");
        return;
    }
    json = cJSON_Parse(text);
    free(text);
    if (!json) {
        if (selected(rn, name))
            fail_line(rn, name, op_hint, dir, "case description is not valid JSON");
        return;
    }
    jname = cJSON_GetObjectItemCaseSensitive(json, "name");
    if (cJSON_IsString(jname) && jname->valuestring[0])
        name = jname->valuestring;
    if (!selected(rn, name)) {
        cJSON_Delete(json);
        return;
    }
    jop = cJSON_GetObjectItemCaseSensitive(json, "op");
    if (!cJSON_IsString(jop) || !jop->valuestring[0]) {
        fail_line(rn, name, op_hint, dir, "case description has no op");
        cJSON_Delete(json);
        return;
    }
    op = jop->valuestring;

    memset(&r, 0, sizeof r);
    c.dir = dir;
    c.name = name;
    c.op = op;
    c.json = json;
    c.reference = rn->reference;
    /* Optimised kernels are held to the accuracy contract, the reference to bits. */
    conf_set_contract(strcmp(aether_kernel_name(), "reference") ? conf_scale(&c) : 0.0);
    fn = conf_find_op(op);
    t0 = clock();
    if (fn) {
        fn(&c, &r);
    } else {
        r.verdict = CONF_SKIP;
        snprintf(r.note, sizeof r.note, "op not implemented");
    }
    report(rn, name, op, &r, dir, 1000.0 * (double)(clock() - t0) / CLOCKS_PER_SEC);
    cJSON_Delete(json);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void run_special(runner *rn, const char *root, const char *sub, const char *file)
{
    char *dir = join(root, sub);
    char *path = dir ? join(dir, file) : NULL;
    if (!path) {
        if (selected(rn, sub))
            fail_line(rn, sub, "?", root, "out of memory");
    } else if (readable(path)) {
        run_case(rn, dir, path, sub, "?");
    }
    free(path);
    free(dir);
}

/* A golden root: index.json lists the cases. */
static void run_index(runner *rn, const char *root, const char *index_path)
{
    char *text = read_text(index_path);
    cJSON *index = text ? cJSON_Parse(text) : NULL;
    const cJSON *cases, *item;
    const char **names = NULL;
    size_t n = 0, i, k;

    free(text);
    cases = cJSON_GetObjectItemCaseSensitive(index, "cases_op");
    if (!cJSON_IsObject(cases)) {
        fail_line(rn, base_name(root), "index", root, "index.json unreadable or has no cases_op");
        cJSON_Delete(index);
        return;
    }
    cJSON_ArrayForEach(item, cases) n++;
    names = (const char **)malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        fail_line(rn, base_name(root), "index", root, "out of memory");
        cJSON_Delete(index);
        return;
    }
    n = 0;
    cJSON_ArrayForEach(item, cases) if (item->string && item->string[0])
        names[n++] = item->string;
    qsort(names, n, sizeof *names, cmp_str);

    for (i = 0; i < n; ++i) {
        const cJSON *hint = cJSON_GetObjectItemCaseSensitive(cases, names[i]);
        const char *op = cJSON_IsString(hint) ? hint->valuestring : "?";
        char *dir = join(root, names[i]);
        char *path = dir ? join(dir, "case.json") : NULL;
        if (path)
            run_case(rn, dir, path, names[i], op);
        else if (selected(rn, names[i]))
            fail_line(rn, names[i], op, root, "out of memory");
        free(path);
        free(dir);
    }
    /* The special files are not in cases_op (except where listed there). */
    for (k = 0; k < sizeof k_specials / sizeof k_specials[0]; ++k)
        if (!cJSON_GetObjectItemCaseSensitive(cases, k_specials[k].dir))
            run_special(rn, root, k_specials[k].dir, k_specials[k].file);
    free(names);
    cJSON_Delete(index);
}

static void run_dir(runner *rn, const char *arg)
{
    size_t len = strlen(arg);
    char *dir = (char *)malloc(len + 1), *path;
    const char *base;
    if (!dir) {
        fail_line(rn, arg, "?", arg, "out of memory");
        return;
    }
    memcpy(dir, arg, len + 1);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    base = base_name(dir);

    path = join(dir, "case.json");
    if (path && readable(path)) {
        run_case(rn, dir, path, base, "?");
        goto done;
    }
    free(path);
    path = join(dir, "index.json");
    if (path && readable(path)) {
        run_index(rn, dir, path);
        goto done;
    }
    free(path);
    /* A special directory run on its own: edges/edges.json and the like. */
    {
        char *file = (char *)malloc(strlen(base) + 6);
        path = NULL;
        if (file) {
            sprintf(file, "%s.json", base);
            path = join(dir, file);
            free(file);
        }
    }
    if (path && readable(path)) {
        run_case(rn, dir, path, base, "?");
        goto done;
    }
    if (selected(rn, dir))
        fail_line(rn, dir, "?", dir,
                  "no such case directory (no readable case.json or index.json)");
done:
    free(path);
    free(dir);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: aether conformance [--reference] [--filter SUBSTR] [--verbose] DIR...\n"
               "  DIR: a golden case directory (case.json), a golden root (index.json) or a\n"
               "  special directory holding NAME.json (edges, rvne, errors, f16_conversions)\n"
               "  --reference     force the scalar reference kernels (bit-exact comparisons)\n"
               "  --filter SUBSTR run only cases whose name contains SUBSTR\n"
               "  --verbose       per-case directory and time on stderr\n"
               "Prints 'name op max_abs_err PASS|FAIL|SKIP' per case and a summary. With the\n"
               "reference kernels every array must equal its golden bit for bit; optimised\n"
               "kernels are held to the accuracy contract, per element, for inputs of scale s\n"
               "(the case's input_gen.scale): |fast - ref| <= 1e-6 s^2 + 2e-6 |ref|.\n"
               "A missing or unreadable case is a FAIL line (exit 1), never an abort.\n");
    cli_print_exit_statuses(f);
}

enum { OPT_REFERENCE = 1, OPT_FILTER, OPT_VERBOSE };

static const struct option k_options[] = {
    {"reference", no_argument, NULL, OPT_REFERENCE},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {NULL, 0, NULL, 0},
};

int cmd_conformance(int argc, char **argv)
{
    runner rn;
    cli_command c;
    char **dirs;
    int opt, rc = CLI_EXIT_OK, ndirs = 0, i;

    memset(&rn, 0, sizeof rn);
    cli_command_init(&c, "conformance", k_options, usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc;
        case OPT_REFERENCE:
            rn.reference = 1;
            break;
        case OPT_VERBOSE:
            rn.verbose = 1;
            break;
        case OPT_FILTER:
            rn.filter = c.optarg;
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    dirs = cli_positionals(&c, 1, argc, &ndirs, &rc);
    if (!dirs)
        return rc;
    if (rn.reference && aether_set_kernel_mode(AETHER_KERNELS_REFERENCE) != AETHER_OK) {
        fprintf(stderr, "aether conformance: cannot select the reference kernels\n");
        return CLI_EXIT_FAILED;
    }
    printf("kernels: %s%s\n", aether_kernel_name(),
           strcmp(aether_kernel_name(), "reference") ? " (accuracy contract)"
                                                     : " (bit-exact comparisons)");
    for (i = 0; i < ndirs; ++i)
        run_dir(&rn, dirs[i]);
    printf("%lu passed, %lu failed, %lu skipped\n", rn.passed, rn.failed, rn.skipped);
    return rn.failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}
