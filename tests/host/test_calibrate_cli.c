/*
 * Calibrated decisions end to end: `aether eval --calibrate --out` on the
 * ESPectre gesture recordings writes a model whose metadata holds a
 * temperature, unknown_below and ood_above that the library reads back;
 * `aether eval` of that model reports coverage and accuracy at its own
 * threshold; `aether run` of it on the shipped two-node capture (not a
 * gesture session, another chip and room) answers `unknown` (out of range)
 * for every decision, while a window of the training data stays in range.
 * Usage errors: --calibrate without --out, a target accuracy out of (0, 1].
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aether/blob.h"
#include "aether/decision.h"
#include "check.h"

#include "cli_run.h"

#define GESTURE AETHER_SOURCE_DIR "/models/gesture.rvne"
#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"
#define ESPECTRE AETHER_DATA_DIR "/espectre"

static int count(const char *text, const char *needle)
{
    int n = 0;
    const char *p = text;
    while (p && (p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void test_calibrate_and_abstain(void)
{
    char out_path[512], *out = NULL, *err = NULL;
    unsigned char *bytes;
    size_t len = 0;
    aether_blob_view v;
    aether_blob_model_meta m;
    REQUIRE_PATH(ESPECTRE "/wave");
    path_of(out_path, sizeof out_path, "cal.rvne");
    {
        const char *a[] = {"eval",        "--model", GESTURE,  "--data", ESPECTRE,
                           "--calibrate", "--out",   out_path, NULL};
        CHECK_EQ_INT(run_cli(a, &out, &err), 0);
        CHECK(out && strstr(out, "calibration on ") && strstr(out, "(the model's)"));
        printf("%s", out ? strstr(out, "calibration on ") : "");
        free(out);
        free(err);
    }
    bytes = test_read_file(out_path, &len);
    CHECK(bytes != NULL);
    if (!bytes)
        return;
    CHECK_STATUS(aether_blob_parse(bytes, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_model_meta_read(&v, &m), AETHER_OK);
    CHECK(m.have_temperature && m.temperature > 0.0f);
    CHECK(m.have_unknown_below && m.unknown_below >= 0.0f && m.unknown_below < 1.0f);
    CHECK(m.have_ood_above && m.ood_above > 1.0f);
    CHECK_EQ_INT((int)m.n_labels, 3); /* the other keys kept */
    CHECK(m.have_window_frames && m.window_frames == 64);
    printf("  temperature %g, unknown below %g, out of range above %g\n", (double)m.temperature,
           (double)m.unknown_below, (double)m.ood_above);
    /* the calibrated model's own report */
    {
        const char *a[] = {"eval", "--model", out_path, "--data", ESPECTRE, "--json", NULL};
        CHECK_EQ_INT(run_cli(a, &out, &err), 0);
        CHECK(out && strstr(out, "\"what\":\"calibration\"") && strstr(out, "\"model\":true"));
        free(out);
        free(err);
    }
    /* another chip and room: every decision unknown, for being out of range */
    {
        const char *a[] = {"run", "--model", out_path, "--input", EXCERPT, "--json", NULL};
        int decisions, unknown;
        CHECK_EQ_INT(run_cli(a, &out, &err), 0);
        decisions = count(out, "\"type\":\"decision\"");
        unknown = count(out, "\"decision\":\"unknown\"");
        CHECK(decisions > 0);
        CHECK_EQ_INT(unknown, decisions);
        printf("  the two-node capture: %d of %d decisions unknown\n", unknown, decisions);
        free(out);
        free(err);
    }
    free(bytes);
}

static void test_usage(void)
{
    {
        const char *a[] = {"eval", "--model", GESTURE, "--data", "x", "--calibrate", NULL};
        expect(a, 2, "--out");
    }
    {
        const char *a[] = {"eval", "--model",           GESTURE, "--data",
                           "x",    "--target-accuracy", "1.5",   NULL};
        expect(a, 2, "--target-accuracy");
    }
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_calibrate_and_abstain, test_usage};
    static const char *const names[] = {"test_calibrate_and_abstain", "test_usage"};
    const char *tmp = getenv("TMPDIR");
    char p[512];
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_calibrate_cli: no CLI (pass its path as argv[1])\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "%s/aether_calibrate_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        return 1;
    rc = check_run(__FILE__, tests, names, 2);
    path_of(p, sizeof p, "cal.rvne");
    remove(p);
    path_of(p, sizeof p, "stdout.txt");
    remove(p);
    path_of(p, sizeof p, "stderr.txt");
    remove(p);
    rmdir(g_dir);
    return rc;
}
