/*
 * `aether train`, `aether eval` and `aether baseline` end to end through the
 * CLI, on small synthetic recordings written into a fresh temp directory
 * (.csi.jsonl amplitude lines in DIR/<label>/): --opt=value gives the same
 * model as --opt value; --help, --version, unknown options, bad values; a
 * trained model and the shipped gesture model are scored (recording and
 * window counts, metrics printed); the whole-recording metrics of eval
 * equal a recomputation through the library; the baseline's time-block
 * cross-validation; cross-validation runs; a missing data
 * folder, missing label folders and a missing model are named with exit
 * status 3.
 *
 * The CLI path comes from argv[1] or from AETHER_CLI_PATH (set by
 * tests/CMakeLists.txt).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aether/blob.h"
#include "aether/dataset.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/train.h"
#include "check.h"

#include "cli_run.h"
#include "test_ws.h"

#define N_TONES 64
#define N_FRAMES 120 /* per synthetic recording */
#define N_PER_CLASS 3

/* One recording: N_FRAMES amplitude lines of N_TONES subcarriers, 100 Hz.
 * moving: a travelling ripple over the tones; else a steady profile with a
 * small deterministic jitter. */
static int write_recording(const char *rel, int moving, unsigned seed, double t0)
{
    char path[512];
    FILE *f;
    size_t t, k;
    path_of(path, sizeof path, rel);
    f = fopen(path, "w");
    if (!f)
        return 0;
    for (t = 0; t < N_FRAMES; ++t) {
        fprintf(f, "{\"timestamp\":%.3f,\"subcarriers\":[", t0 + 0.01 * (double)t);
        for (k = 0; k < N_TONES; ++k) {
            double base = 12.0 + 4.0 * sin(0.21 * (double)k + (double)seed);
            double jitter = (double)((t * 131u + k * 71u + seed * 17u) % 29u) / 29.0 - 0.5;
            double a = moving ? base * (1.0 + 0.35 * sin(0.9 * (double)t + 0.3 * (double)k))
                              : base * (1.0 + 0.01 * jitter);
            fprintf(f, "%s%.4f", k ? "," : "", (k == 0 || (k >= 27 && k <= 37)) ? 0.0 : a);
        }
        fprintf(f, "]}\n");
    }
    return fclose(f) == 0;
}

static int make_dir(const char *rel)
{
    char path[512];
    path_of(path, sizeof path, rel);
    return mkdir(path, 0755) == 0;
}

/* DIR/<a>/ and DIR/<b>/ ... : N_PER_CLASS recordings per label; odd label
 * indices "move". */
static int make_dataset(const char *dir, const char *const *labels, size_t n_labels)
{
    size_t c, i;
    int ok = make_dir(dir);
    for (c = 0; c < n_labels; ++c) {
        char sub[96];
        snprintf(sub, sizeof sub, "%s/%s", dir, labels[c]);
        ok &= make_dir(sub);
        for (i = 0; i < N_PER_CLASS; ++i) {
            char rel[200];
            snprintf(rel, sizeof rel, "%s/%s_%02u_20260101_00%02u00.csi.jsonl", sub, labels[c],
                     (unsigned)i, (unsigned)(10 * c + i));
            ok &= write_recording(rel, (int)(c & 1u), (unsigned)(7 * c + i),
                                  1767225600.0 + 600.0 * (double)(10 * c + i));
        }
    }
    return ok;
}

static int make_inputs(void)
{
    static const char *const two[] = {"still", "moving"};
    static const char *const gesture[] = {"wave", "circle_cw", "no_gesture"};
    int ok = make_dataset("data", two, 2);
    ok &= make_dataset("gdata", gesture, 3);
    ok &= make_dir("empty");
    ok &= write_bytes("plain.txt", "not a folder\n", 13);
    return ok;
}

/* The number after "\"key\":" in a JSON line, -1 if absent. */
static long json_count(const char *text, const char *key)
{
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = text ? strstr(text, pat) : NULL;
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static int same_file(const char *a, const char *b)
{
    char pa[512], pb[512];
    size_t la = 0, lb = 0;
    unsigned char *x, *y;
    int same;
    path_of(pa, sizeof pa, a);
    path_of(pb, sizeof pb, b);
    x = test_read_file(pa, &la);
    y = test_read_file(pb, &lb);
    same = x && y && la > 0 && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Run, expect status want, return stdout (free it). */
static char *run_out(const char *const *args, int want)
{
    char *out = NULL, *err = NULL;
    int rc = run_cli(args, &out, &err);
    CHECK_MSG(rc == want, "%s %s: exit %d, expected %d (stderr: %.300s)", args[0],
              args[1] ? args[1] : "", rc, want, err ? err : "");
    free(err);
    return out;
}

static void test_help_version_usage(void)
{
    static const char *const cmds[] = {"train", "eval", "baseline"};
    size_t i;
    for (i = 0; i < 3; ++i) {
        const char *help[] = {cmds[i], "--help", NULL};
        const char *h[] = {cmds[i], "-h", NULL};
        const char *ver[] = {cmds[i], "--version", NULL};
        const char *unknown[] = {cmds[i], "--data", "data", "--bogus", NULL};
        const char *novalue[] = {cmds[i], "--data", "data", "--window", NULL};
        const char *badval[] = {cmds[i], "--data=data", "--labels=still,moving", "--stride=-3",
                                NULL};
        const char *badpool[] = {cmds[i], "--data=data", "--labels=still,moving", "--pool=max",
                                 NULL};
        const char *nodata[] = {cmds[i], "--labels=still,moving", NULL};
        char usage[64];
        snprintf(usage, sizeof usage, "usage: aether %s", cmds[i]);
        expect(help, 0, usage);
        expect(help, 0, "exit status: 0 ok");
        expect(help, 0, "one subfolder per label");
        expect(h, 0, usage);
        expect(ver, 0, "aether ");
        expect(unknown, 2, "unknown option '--bogus'");
        expect(novalue, 2, "needs a value");
        expect(badval, 2, "--stride needs a non-negative integer");
        expect(badpool, 2, "--pool is last or mean");
        expect(nodata, 2, "the data folder is required");
    }
    {
        /* each command takes its own options only */
        const char *a[] = {"eval", "--model=m.rvne", "--data=data", "--epochs=3", NULL};
        expect(a, 2, "unknown option '--epochs=3'");
    }
    {
        const char *a[] = {"baseline", "--data=data", "--labels=still,moving", "--out=x", NULL};
        expect(a, 2, "unknown option '--out=x'");
    }
    {
        const char *a[] = {"train", "--data=data", "--labels=still,moving", NULL};
        expect(a, 2, "--out MODEL.rvne (or --cv K) is required");
    }
    {
        const char *a[] = {"train", "--data=data", "--labels=still", "--out=x.rvne", NULL};
        expect(a, 2, "--labels takes 2..");
    }
    {
        const char *a[] = {"train", "--data=data", "--labels=still,,moving", "--out=x.rvne",
                           NULL};
        expect(a, 2, "--labels takes 2..");
    }
    {
        const char *a[] = {"train",        "--data=data", "--labels=still,moving",
                           "--out=x.rvne", "--lr=fast",   NULL};
        expect(a, 2, "--lr needs a non-negative number");
    }
    {
        const char *a[] = {"train", "--data=data", "--labels=still,moving", "--cv=1", NULL};
        expect(a, 2, "--cv needs at least 2 folds");
    }
    {
        const char *a[] = {"train",        "--data=data",     "--labels=still,moving",
                           "--out=x.rvne", "--features=1-40", NULL};
        expect(a, 2, "bad --features list");
    }
    {
        const char *a[] = {"eval", "--data=data", NULL};
        expect(a, 2, "--model MODEL.rvne is required");
    }
    {
        const char *a[] = {"eval", "--model=m.rvne", "--data=data", "data", NULL};
        expect(a, 2, "given twice");
    }
    {
        const char *a[] = {"eval", "--model=m.rvne", "data", "gdata", NULL};
        expect(a, 2, "unexpected argument 'gdata'");
    }
}

/* Train the same small model with --opt=value and with --opt value: same
 * bytes; then score it. */
static void test_train_eval_equals_form(void)
{
    /* at most 30 arguments (cli_run.h) */
    const char *eq[] = {"train",
                        "--data=data",
                        "--labels=still,moving",
                        "--out=m_eq.rvne",
                        "--input-dim=16",
                        "--window=16",
                        "--stride=8",
                        "--epochs=3",
                        "--seed=5",
                        "--lr=0.01",
                        "--pool=mean",
                        "--kv-heads=2",
                        "--features=0-12,15",
                        "--trim-start=4",
                        "--keep-last",
                        "--quiet",
                        NULL};
    const char *sp[] = {"train",
                        "data",
                        "--labels",
                        "still,moving",
                        "--out",
                        "m_sp.rvne",
                        "--input-dim",
                        "16",
                        "--window",
                        "16",
                        "--stride",
                        "8",
                        "--epochs",
                        "3",
                        "--seed",
                        "5",
                        "--lr",
                        "0.01",
                        "--pool",
                        "mean",
                        "--kv-heads",
                        "2",
                        "--features",
                        "0-12,15",
                        "--trim-start",
                        "4",
                        "--keep-last",
                        "--quiet",
                        NULL};
    const char *other[] = {"train",
                           "--data=data",
                           "--labels=still,moving",
                           "--out=m_s6.rvne",
                           "--input-dim=16",
                           "--window=16",
                           "--stride=8",
                           "--epochs=3",
                           "--seed=6",
                           "--lr=0.01",
                           "--pool=mean",
                           "--kv-heads=2",
                           "--features=0-12,15",
                           "--trim-start=4",
                           "--keep-last",
                           "--quiet",
                           NULL};
    const char *ev[] = {"eval", "--model=m_eq.rvne", "--data=data", "--all", "--json", NULL};
    const char *ev_val[] = {"eval", "--model=m_eq.rvne", "data", NULL};
    const char *ev_win[] = {"eval",   "--model=m_eq.rvne", "--data=data", "--all",
                            "--json", "--window=32",       "--stride=16", NULL};
    const char *ev_pf[] = {"eval", "--model=m_eq.rvne", "--data=data", "--per-file", "--all",
                           NULL};
    const char *base[] = {"baseline",    "--data=data", "--labels=still,moving",
                          "--window=16", "--stride=8",  "--all",
                          "--json",      NULL};
    const char *probe[] = {"baseline",    "data",       "--labels=still,moving",
                           "--window=16", "--stride=8", "--probe-means",
                           NULL};
    const char *insp[] = {"inspect", "m_eq.rvne", NULL};
    size_t w16 = aether_train_eval_windows(N_FRAMES, 16, 8);
    size_t w32 = aether_train_eval_windows(N_FRAMES, 32, 16);
    char *out;

    out = run_out(eq, 0);
    free(out);
    out = run_out(sp, 0);
    free(out);
    out = run_out(other, 0);
    free(out);
    CHECK_MSG(same_file("m_eq.rvne", "m_sp.rvne"), "--opt=value and --opt value differ");
    CHECK_MSG(!same_file("m_eq.rvne", "m_s6.rvne"), "--seed=6 gave the --seed=5 model");

    /* the options reached the blob's metadata */
    out = run_out(insp, 0);
    CHECK(out && strstr(out, "labels         still,moving"));
    CHECK(out && strstr(out, "window_frames  16"));
    CHECK(out && strstr(out, "window_stride  8"));
    CHECK(out && strstr(out, "pool           mean"));
    CHECK(out && strstr(out, "kv_heads 2"));
    free(out);

    /* eval takes labels, window and stride from the metadata */
    out = run_out(ev, 0);
    CHECK_MSG(out && strstr(out, "\"what\":\"model\",\"split\":\"all\""), "eval json: %.200s",
              out ? out : "");
    CHECK_EQ_INT(json_count(out, "recordings"), 2 * N_PER_CLASS);
    CHECK_EQ_INT(json_count(out, "windows"), 2 * N_PER_CLASS * w16);
    CHECK(out && strstr(out, "\"labels\":[\"still\",\"moving\"]"));
    CHECK(out && strstr(out, "\"macro_f1\":"));
    free(out);
    /* per class the latest 25 % (rounded, at least 1): 1 of 3 */
    out = run_out(ev_val, 0);
    CHECK_MSG(out && strstr(out, "model on the time-based validation split: 2 recordings"),
              "eval: %.300s", out ? out : "");
    CHECK(out && strstr(out, "accuracy "));
    CHECK(out && strstr(out, "macro-F1 "));
    CHECK(out && strstr(out, "confusion (rows: true, columns: predicted)"));
    free(out);
    /* options given to eval win over the metadata */
    out = run_out(ev_win, 0);
    CHECK_EQ_INT(json_count(out, "windows"), 2 * N_PER_CLASS * w32);
    free(out);
    out = run_out(ev_pf, 0);
    CHECK(out && strstr(out, "still_00_20260101_000000.csi.jsonl"));
    CHECK(out && strstr(out, "moving_02_20260101_001200.csi.jsonl"));
    free(out);

    out = run_out(base, 0);
    CHECK_MSG(out && strstr(out, "\"what\":\"baseline\""), "baseline: %.200s", out ? out : "");
    CHECK_EQ_INT(json_count(out, "recordings"), 2 * N_PER_CLASS);
    CHECK_EQ_INT(json_count(out, "windows"), 2 * N_PER_CLASS * w16);
    free(out);
    out = run_out(probe, 0);
    CHECK(out &&
          strstr(out, "mean-level probe on the time-based validation split: 2 recordings"));
    free(out);
}

/* The shipped gesture model (3 classes, input dim 39, window 64 / stride
 * 16 from its metadata) on a small synthetic folder of its labels. */
static void test_eval_shipped_model(void)
{
    const char *a[] = {"eval",         "--model=" AETHER_SOURCE_DIR "/models/gesture.rvne",
                       "--data=gdata", "--all",
                       "--json",       NULL};
    const char *text[] = {"eval",  "--model", AETHER_SOURCE_DIR "/models/gesture.rvne",
                          "gdata", "--all",   NULL};
    const char *misfit[] = {"eval",         "--model", AETHER_SOURCE_DIR "/models/gesture.rvne",
                            "--data",       "data",    "--labels",
                            "still,moving", NULL};
    size_t w = aether_train_eval_windows(N_FRAMES, 64, 16);
    char *out = run_out(a, 0);
    CHECK_EQ_INT(json_count(out, "recordings"), 3 * N_PER_CLASS);
    CHECK_EQ_INT(json_count(out, "windows"), 3 * N_PER_CLASS * w);
    CHECK(out && strstr(out, "\"labels\":[\"wave\",\"circle_cw\",\"no_gesture\"]"));
    free(out);
    out = run_out(text, 0);
    CHECK(out && strstr(out, "model on every recording: 9 recordings"));
    CHECK(out && strstr(out, "  recall:  wave "));
    CHECK(out && strstr(out, "no_gesture"));
    free(out);
    expect(misfit, 5, "the model has 3 classes, --labels gives 2");
}

/* Whole-recording decisions recomputed through the library: the model's
 * windows (window, stride and pooling of its metadata: 16 / 8 / mean), a
 * vote per recording (ties to the larger probability sum, then the lower
 * index) and the largest mean softmax probability. Fills the two confusion
 * matrices (2 x 2) and each recording's two decisions, in loader order. */
static int expected_recordings(const char *model_rel, aether_dataset *ds, size_t *vote,
                               size_t *prob, size_t *dec_vote, size_t *dec_prob)
{
    static const char *const labels[] = {"still", "moving"};
    char mp[512], dp[512];
    size_t len = 0, r, k, c;
    unsigned char *blob;
    aether_blob_view v;
    aether_model *model = NULL;
    path_of(mp, sizeof mp, model_rel);
    path_of(dp, sizeof dp, "data");
    blob = test_read_file(mp, &len);
    if (!blob)
        return 0;
    CHECK_STATUS(aether_blob_parse(blob, len, &v), AETHER_OK);
    CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &model), AETHER_OK);
    CHECK_STATUS(aether_dataset_load(dp, labels, 2, v.header.input_dim, ds), AETHER_OK);
    memset(vote, 0, 4 * sizeof *vote);
    memset(prob, 0, 4 * sizeof *prob);
    for (r = 0; model && r < ds->n_recs && r < 16; ++r) {
        const aether_train_recording *rec = &ds->recs[r];
        size_t nw = aether_train_eval_windows(rec->n_frames, 16, 8), votes[2] = {0, 0}, bv, bp;
        double ps[2] = {0.0, 0.0};
        for (k = 0; k < nw; ++k) {
            float lg[2];
            double mx, z = 0.0, e[2];
            CHECK_STATUS(ws_model_forward(model, rec->frames + k * 8 * ds->dim, 16,
                                          AETHER_POOL_MEAN, lg, NULL),
                         AETHER_OK);
            votes[lg[1] > lg[0]]++;
            mx = lg[1] > lg[0] ? (double)lg[1] : (double)lg[0];
            for (c = 0; c < 2; ++c)
                z += e[c] = exp((double)lg[c] - mx);
            for (c = 0; c < 2; ++c)
                ps[c] += e[c] / z;
        }
        bv = votes[1] > votes[0] || (votes[1] == votes[0] && ps[1] > ps[0]);
        bp = ps[1] > ps[0];
        vote[rec->label * 2 + bv]++;
        prob[rec->label * 2 + bp]++;
        dec_vote[r] = bv;
        dec_prob[r] = bp;
    }
    aether_model_destroy(model);
    free(blob);
    return model != NULL;
}

/* `aether eval` prints the whole-recording metrics next to the window ones:
 * the same decisions as the library recomputation, in JSON, in the text
 * summary and per file. */
static void test_eval_whole_recordings(void)
{
    static const char *const labels[] = {"still", "moving"};
    const char *js[] = {"eval", "--model=m_eq.rvne", "--data=data", "--all", "--json", NULL};
    const char *pf[] = {"eval", "--model=m_eq.rvne", "--data=data", "--all", "--per-file", NULL};
    size_t vote[4], prob[4], dv[16], dp[16], r;
    char want[160];
    aether_dataset ds;
    char *out;
    memset(&ds, 0, sizeof ds);
    if (!expected_recordings("m_eq.rvne", &ds, vote, prob, dv, dp))
        return;
    CHECK_EQ_INT(ds.n_recs, 2 * N_PER_CLASS);
    CHECK_EQ_INT(vote[0] + vote[1] + vote[2] + vote[3], 2 * N_PER_CLASS);

    out = run_out(js, 0);
    snprintf(want, sizeof want, "\"recording_vote\":{\"accuracy\":%.6f,",
             (double)(vote[0] + vote[3]) / (double)(2 * N_PER_CLASS));
    CHECK_MSG(out && strstr(out, want), "want %s in %.600s", want, out ? out : "");
    snprintf(want, sizeof want, "\"confusion\":[[%zu,%zu],[%zu,%zu]]},\"recording_mean_prob\"",
             vote[0], vote[1], vote[2], vote[3]);
    CHECK_MSG(out && strstr(out, want), "want %s in %.600s", want, out ? out : "");
    snprintf(want, sizeof want, "\"recording_mean_prob\":{\"accuracy\":%.6f,",
             (double)(prob[0] + prob[3]) / (double)(2 * N_PER_CLASS));
    CHECK_MSG(out && strstr(out, want), "want %s in %.600s", want, out ? out : "");
    snprintf(want, sizeof want, "\"confusion\":[[%zu,%zu],[%zu,%zu]]}}", prob[0], prob[1],
             prob[2], prob[3]);
    CHECK_MSG(out && strstr(out, want), "want %s in %.600s", want, out ? out : "");
    free(out);

    out = run_out(pf, 0);
    CHECK(out && strstr(out, "whole recordings (6), one decision each"));
    snprintf(want, sizeof want, "majority vote of windows   accuracy %.4f",
             (double)(vote[0] + vote[3]) / (double)(2 * N_PER_CLASS));
    CHECK_MSG(out && strstr(out, want), "want %s in %.600s", want, out ? out : "");
    snprintf(want, sizeof want, "confusion %zu %zu | %zu %zu\n", prob[0], prob[1], prob[2],
             prob[3]);
    CHECK_MSG(out && strstr(out, want), "want %s in %.900s", want, out ? out : "");
    for (r = 0; r < ds.n_recs && r < 16; ++r) {
        const char *line = out ? strstr(out, ds.recs[r].name) : NULL;
        const char *eol = line ? strchr(line, '\n') : NULL;
        char tail[96];
        snprintf(tail, sizeof tail, "vote %s  mean-p %s", labels[dv[r]], labels[dp[r]]);
        CHECK_MSG(line && eol && (size_t)(eol - line) > strlen(tail) &&
                      !strncmp(eol - strlen(tail), tail, strlen(tail)),
                  "%s: want \"%s\"", ds.recs[r].name, tail);
    }
    free(out);
    aether_dataset_free(&ds);
}

/* `aether baseline --cv K`: the folds of `aether train --cv K` (every
 * training recording held out once, the validation recordings never
 * read), for the baseline and the level-only probe. */
static void test_baseline_cv(void)
{
    const char *a[] = {"baseline",    "--data=data", "--labels=still,moving",
                       "--window=16", "--stride=8",  "--cv=2",
                       NULL};
    const char *js[] = {"baseline",      "--data=data", "--labels=still,moving",
                        "--window=16",   "--stride=8",  "--cv=2",
                        "--probe-means", "--json",      NULL};
    const char *one[] = {"baseline", "--data=data", "--labels=still,moving", "--cv=1", NULL};
    size_t w16 = aether_train_eval_windows(N_FRAMES, 16, 8);
    char want[160];
    char *out = run_out(a, 0);
    /* 2 of 3 recordings per class are training ones, one per fold */
    snprintf(want, sizeof want, "fold 1: 2 recordings, %zu windows", 2 * w16);
    CHECK_MSG(out && strstr(out, want), "want %s in %.500s", want, out ? out : "");
    snprintf(want, sizeof want, "fold 2: 2 recordings, %zu windows", 2 * w16);
    CHECK_MSG(out && strstr(out, want), "want %s in %.500s", want, out ? out : "");
    snprintf(want, sizeof want,
             "baseline on 2-fold time-block cross-validation (every training recording held "
             "out once): 4 recordings, %zu windows",
             4 * w16);
    CHECK_MSG(out && strstr(out, want), "want %s in %.500s", want, out ? out : "");
    CHECK(out && strstr(out, "majority vote of windows"));
    CHECK(out && !strstr(out, "largest mean probability"));
    free(out);
    out = run_out(js, 0);
    CHECK_MSG(out && strstr(out, "\"what\":\"mean-level probe\",\"split\":\"cv\""), "%.300s",
              out ? out : "");
    CHECK_EQ_INT(json_count(out, "recordings"), 4);
    CHECK_EQ_INT(json_count(out, "windows"), 4 * w16);
    CHECK(out && strstr(out, "\"recording_vote\":{"));
    free(out);
    expect(one, 2, "--cv needs at least 2 folds");
}

static void test_cross_validation(void)
{
    const char *a[] = {"train",      "--data=data",    "--labels=still,moving",
                       "--cv=2",     "--input-dim=16", "--window=16",
                       "--stride=8", "--epochs=2",     "--batch=8",
                       NULL};
    char *out = run_out(a, 0);
    CHECK_MSG(out && strstr(out, "cv 2 folds, seed 1: pooled accuracy"), "cv: %.300s",
              out ? out : "");
    CHECK(out && strstr(out, "fold 1: accuracy"));
    CHECK(out && strstr(out, "fold 2: accuracy"));
    /* the validation recordings (the latest of each class) are never read */
    CHECK(out && !strstr(out, "still_02_"));
    CHECK(out && strstr(out, "still_00_") && strstr(out, "moving_01_"));
    free(out);
    {
        /* --cv-score-data on the same folder scores every held-out recording
         * the same way twice */
        const char *b[] = {"train",
                           "--data=data",
                           "--labels=still,moving",
                           "--cv=2",
                           "--input-dim=16",
                           "--window=16",
                           "--stride=8",
                           "--epochs=2",
                           "--batch=8",
                           "--cv-score-data=data",
                           NULL};
        const char *bad[] = {"train",        "--data=data",          "--labels=still,moving",
                             "--out=x.rvne", "--cv-score-data=data", NULL};
        const char *p, *q;
        char acc[64];
        out = run_out(b, 0);
        p = out ? strstr(out, "pooled accuracy ") : NULL;
        q = out ? strstr(out, "cv score-data data: pooled accuracy ") : NULL;
        CHECK_MSG(p && q, "cv score-data: %.600s", out ? out : "");
        if (p && q) {
            snprintf(acc, sizeof acc, "%.6s", p + strlen("pooled accuracy "));
            CHECK_MSG(!strncmp(q + strlen("cv score-data data: pooled accuracy "), acc, 6),
                      "%.600s", out);
        }
        CHECK(out && strstr(out, "windows right   score-data "));
        free(out);
        expect(bad, 2, "--cv-score-data needs --cv K or --cv-field N");
    }
}

static void test_missing_folders(void)
{
    {
        const char *a[] = {"eval", "--model=m_eq.rvne", "--labels=still,jump", "data", NULL};
        expect(a, 3, "data: no folder for label jump/ (1 of the 2 label folders missing)");
        expect(a, 3,
               "expected one subfolder per label, data/<label>/, holding that label's "
               ".npz or .csi.jsonl recordings\n  data has subfolders moving/, still/\n");
    }
    {
        const char *a[] = {"eval", "--model=m_eq.rvne", "--labels=walk,jump", "--data=gdata",
                           NULL};
        expect(a, 3, "gdata: no folder for labels walk/, jump/ (2 of the 2 label folders");
        expect(a, 3, "gdata has subfolders circle_cw/, no_gesture/, wave/");
    }
    {
        const char *a[] = {"train", "--data=empty", "--labels=still,moving", "--out=x.rvne",
                           NULL};
        expect(a, 3, "empty: no folder for labels still/, moving/");
        expect(a, 3, "empty has no subfolders");
    }
    {
        /* a trailing slash is not doubled */
        const char *a[] = {"eval", "--model=m_eq.rvne", "--labels=still,jump", "data/", NULL};
        expect(a, 3, "aether eval: data: no folder for label jump/");
        expect(a, 3, "data/<label>/");
    }
    {
        /* label folders without recordings: noted; nothing to train on */
        const char *a[] = {"baseline", "--data=gdata/wave", "--labels=nothing,none", NULL};
        make_dir("gdata/wave/nothing");
        make_dir("gdata/wave/none");
        expect(a, 5, "gdata/wave: no training recordings");
        expect(a, 5, "note: gdata/wave/none/ holds no .npz or .csi.jsonl recordings");
    }
    {
        const char *a[] = {"baseline", "--data=data", "--labels=still,movin", NULL};
        expect(a, 3, "no folder for label movin/");
    }
    {
        /* a label "folder" that is a file is not a folder */
        const char *a[] = {"baseline", "--data=.", "--labels=data,plain.txt", NULL};
        expect(a, 3, "no folder for label plain.txt/");
    }
    {
        const char *a[] = {"eval", "--model=m_eq.rvne", "--data=nowhere", NULL};
        expect(a, 3, "aether: nowhere: cannot read (No such file or directory)");
    }
    {
        const char *a[] = {"train", "--data=plain.txt", "--labels=a,b", "--out=x.rvne", NULL};
        expect(a, 3, "aether: plain.txt: cannot read (Not a directory)");
    }
    {
        const char *a[] = {"baseline", "nowhere", "--labels=a,b", NULL};
        expect(a, 3, "nowhere: cannot read");
    }
    {
        const char *a[] = {"eval", "--model=nothere.rvne", "--data=data", NULL};
        expect(a, 3, "aether: nothere.rvne: cannot read (No such file or directory)");
    }
    {
        const char *a[] = {"eval", "--model=data", "--data=data", NULL};
        expect(a, 3, "aether: data: cannot read (is a directory)");
    }
    {
        const char *a[] = {"eval", "--model=plain.txt", "--data=data", NULL};
        expect(a, 4, "plain.txt");
    }
}

/* aether_dataset_gain_step_copies on the ESPectre gesture recordings: one
 * copy per TRAIN recording and copy number, named and labelled after it;
 * the same bytes on every call; a recording's copy does not depend on the
 * other recordings; another seed gives other copies; amplitude recordings
 * get none. Then --augment-gain-steps through the CLI. */
static void test_gain_step_copies(void)
{
    static const char *const lab[] = {"wave", "circle_cw", "no_gesture"};
    aether_dataset ds, a, b, one;
    size_t r, n_train = 0, dim;
    REQUIRE_PATH(AETHER_DATA_DIR "/espectre/dataset_info.json");
    CHECK_STATUS(aether_dataset_load_recipe(AETHER_DATA_DIR "/espectre", lab, 3, 17,
                                            AETHER_FEATURES_V1, &ds),
                 AETHER_OK);
    CHECK_STATUS(aether_train_split_by_time(ds.recs, ds.n_recs, 3, 0.25), AETHER_OK);
    dim = ds.dim;
    for (r = 0; r < ds.n_recs; ++r)
        n_train += ds.recs[r].split == AETHER_SPLIT_TRAIN;
    CHECK_STATUS(aether_dataset_gain_step_copies(AETHER_DATA_DIR "/espectre", &ds, 0.5, 2, 1, &a),
                 AETHER_OK);
    CHECK_EQ_INT(a.n_recs, 2 * n_train);
    CHECK_EQ_INT(a.dim, dim);
    CHECK_STATUS(aether_dataset_gain_step_copies(AETHER_DATA_DIR "/espectre", &ds, 0.5, 2, 1, &b),
                 AETHER_OK);
    CHECK_EQ_INT(b.n_recs, a.n_recs);
    for (r = 0; r < a.n_recs && r < b.n_recs; ++r) {
        const aether_train_recording *c = &a.recs[r];
        CHECK(c->split == AETHER_SPLIT_TRAIN);
        CHECK(c->n_frames == b.recs[r].n_frames &&
              !memcmp(c->frames, b.recs[r].frames, c->n_frames * dim * sizeof(float)));
        CHECK(strstr(c->name, r % 2 ? "+gain2" : "+gain1") != NULL);
    }
    /* the first copy of the first TRAIN recording, next to its source */
    for (r = 0; r < ds.n_recs && ds.recs[r].split != AETHER_SPLIT_TRAIN; ++r)
        ;
    if (r < ds.n_recs && a.n_recs > 0) {
        const aether_train_recording *src = &ds.recs[r];
        size_t k;
        CHECK(!strncmp(a.recs[0].name, src->name, strlen(src->name)));
        CHECK_EQ_INT(a.recs[0].label, src->label);
        CHECK(a.recs[0].time == src->time);
        CHECK_EQ_INT(a.recs[0].n_frames, src->n_frames);
        /* with only that recording in TRAIN: the same copies */
        for (k = 0; k < ds.n_recs; ++k)
            if (k != r && ds.recs[k].split == AETHER_SPLIT_TRAIN)
                ds.recs[k].split = AETHER_SPLIT_VAL;
        CHECK_STATUS(
            aether_dataset_gain_step_copies(AETHER_DATA_DIR "/espectre", &ds, 0.5, 2, 1, &one),
            AETHER_OK);
        CHECK_EQ_INT(one.n_recs, 2);
        if (one.n_recs == 2) {
            CHECK(!memcmp(one.recs[0].frames, a.recs[0].frames,
                          a.recs[0].n_frames * dim * sizeof(float)));
            CHECK(!memcmp(one.recs[1].frames, a.recs[1].frames,
                          a.recs[1].n_frames * dim * sizeof(float)));
            /* the copy differs from the recording (steps removed / added) */
            CHECK(memcmp(one.recs[0].frames, src->frames, src->n_frames * dim * sizeof(float)));
        }
        aether_dataset_free(&one);
        CHECK_STATUS(
            aether_dataset_gain_step_copies(AETHER_DATA_DIR "/espectre", &ds, 0.5, 1, 2, &one),
            AETHER_OK);
        CHECK_EQ_INT(one.n_recs, 1);
        if (one.n_recs == 1)
            CHECK(memcmp(one.recs[0].frames, a.recs[0].frames,
                         a.recs[0].n_frames * dim * sizeof(float)));
        aether_dataset_free(&one);
    }
    CHECK_STATUS(aether_dataset_gain_step_copies(AETHER_DATA_DIR "/espectre", &ds, 1.5, 1, 1, &one),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_dataset_gain_step_copies(NULL, &ds, 0.5, 1, 1, &one),
                 AETHER_ERR_NULL_ARG);
    aether_dataset_free(&a);
    aether_dataset_free(&b);
    aether_dataset_free(&ds);
    {
        /* amplitude frames (the synthetic set): no copies, so the blob is the
         * one trained without augmentation; a rate above 1 is refused */
        const char *plain[] = {"train",          "--data=data",  "--labels=still,moving",
                               "--input-dim=16", "--window=16",  "--stride=8",
                               "--epochs=2",     "--batch=8",    "--out=aug0.rvne",
                               "--quiet",        NULL};
        const char *aug[] = {"train",          "--data=data",  "--labels=still,moving",
                             "--input-dim=16", "--window=16",  "--stride=8",
                             "--epochs=2",     "--batch=8",    "--out=aug1.rvne",
                             "--quiet",        "--augment-gain-steps=0.5", NULL};
        const char *bad[] = {"train", "--data=data", "--labels=still,moving", "--out=x.rvne",
                             "--augment-gain-steps=1.5", NULL};
        const char *badn[] = {"train", "--data=data", "--labels=still,moving", "--out=x.rvne",
                              "--augment-copies=65", NULL};
        free(run_out(plain, 0));
        free(run_out(aug, 0));
        CHECK(same_file("aug0.rvne", "aug1.rvne"));
        expect(bad, 2, "--augment-gain-steps is a rate in [0, 1]");
        expect(badn, 2, "--augment-copies is 0..64");
    }
}

/* rm -r of the scratch directory (it holds only what this test wrote). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    if (!d) {
        remove(path);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[1024];
        struct stat sb;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(sub);
        else
            remove(sub);
    }
    closedir(d);
    rmdir(path);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_help_version_usage,    test_train_eval_equals_form,
                                          test_eval_whole_recordings, test_eval_shipped_model,
                                          test_baseline_cv,           test_cross_validation,
                                          test_missing_folders,       test_gain_step_copies};
    static const char *const names[] = {"test_help_version_usage",
                                        "test_train_eval_equals_form",
                                        "test_eval_whole_recordings",
                                        "test_eval_shipped_model",
                                        "test_baseline_cv",
                                        "test_cross_validation",
                                        "test_missing_folders",
                                        "test_gain_step_copies"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_cli_train: no CLI (pass its path as argv[1]); skipped\n");
        return 0;
    }
    snprintf(g_dir, sizeof g_dir, "%s/aether_train_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    if (!make_inputs()) {
        fprintf(stderr, "cannot write the inputs\n");
        remove_tree(g_dir);
        return 1;
    }
    rc = check_run(__FILE__, tests, names, 8);
    remove_tree(g_dir);
    return rc;
}
