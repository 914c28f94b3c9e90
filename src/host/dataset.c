/*
 * Labelled datasets for training: DIR/<label>/ holds .npz and .csi.jsonl
 * recordings. Each recording becomes feature frames (aether_features with a
 * fresh extractor per recording) plus the gain-normalised amplitudes of
 * the 52 canonical tones (for summary-feature baselines and probes).
 */
#define _POSIX_C_SOURCE 200809L /* opendir, readdir */
#include "aether/features.h"
#include "aether/train.h"
#include "aether/recording.h"
#include "aether/dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static double days_from_civil(long y, unsigned m, unsigned d)
{
    long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (long)(m + (m > 2 ? -3 : 9)) + 2) / 5 + (long)d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (double)(era * 146097 + doe - 719468);
}

/* "YYYY-MM-DDTHH:MM:SS[.frac]" -> seconds; -1 if it does not parse. */
static double parse_iso(const char *s)
{
    int y, mo, d, h, mi;
    double sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf", &y, &mo, &d, &h, &mi, &sec) != 6)
        return -1.0;
    return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
}

/* "..._YYYYMMDD_HHMMSS.ext" -> seconds; -1 if absent. */
static double parse_name_time(const char *name)
{
    size_t n = strlen(name), i;
    for (i = 0; i + 15 <= n; ++i) {
        int y, mo, d, h, mi, s;
        char tail;
        if (sscanf(name + i, "%4d%2d%2d_%2d%2d%2d%c", &y, &mo, &d, &h, &mi, &s, &tail) == 7 &&
            name[i + 8] == '_' && mo >= 1 && mo <= 12 && d >= 1 && d <= 31)
            return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 +
                   mi * 60.0 + s;
    }
    return -1.0;
}

/* Gain-normalised amplitudes of the canonical tones (0 where absent). */
static void tone_amps(const aether_csi_frame *f, float *out)
{
    double a[AETHER_DATASET_TONES], sum = 0.0;
    int have[AETHER_DATASET_TONES];
    size_t k, n = 0;
    for (k = 0; k < AETHER_DATASET_TONES; ++k) {
        size_t idx = k < 26 ? k + 1 : k + 12; /* 1..26, 38..63 */
        have[k] = idx < f->n_pairs;
        a[k] = 0.0;
        if (!have[k])
            continue;
        if (f->kind == AETHER_CSI_RAW_IQ) {
            double im = f->iq[2 * idx], re = f->iq[2 * idx + 1];
            a[k] = sqrt(im * im + re * re);
        } else {
            a[k] = f->amp[idx];
        }
        sum += a[k];
        n++;
    }
    for (k = 0; k < AETHER_DATASET_TONES; ++k)
        out[k] = (have[k] && sum > 0.0) ? (float)(a[k] * (double)n / sum) : 0.0f;
}

static aether_status load_file(const char *path, const char *name, size_t label, size_t dim,
                               unsigned recipe, aether_train_recording *rec, float **tones_out)
{
    aether_recording *r = NULL;
    aether_features *fx = NULL;
    aether_features_config fc = aether_features_config_default();
    aether_csi_frame f;
    float *frames = NULL, *tones = NULL;
    size_t n = 0, cap = 0;
    double first_ts = -1.0;
    aether_status st;

    st = aether_recording_open(path, NULL, &r);
    if (st != AETHER_OK)
        return st;
    fc.input_dim = dim;
    fc.recipe = recipe;
    st = aether_features_create(&fc, &fx);
    if (st != AETHER_OK) {
        aether_recording_close(r);
        return st;
    }
    while ((st = aether_recording_next(r, &f)) == AETHER_OK) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            float *a = (float *)realloc(frames, nc * dim * sizeof(float));
            float *b;
            if (!a) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            frames = a;
            b = (float *)realloc(tones, nc * AETHER_DATASET_TONES * sizeof(float));
            if (!b) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            tones = b;
            cap = nc;
        }
        if (aether_features_compute(fx, &f, frames + n * dim, dim) != AETHER_OK)
            continue; /* a frame the extractor rejects is skipped, like the runtime does */
        tone_amps(&f, tones + n * AETHER_DATASET_TONES);
        if (first_ts < 0.0 && (f.flags & AETHER_CSI_HAS_TIME))
            first_ts = f.timestamp;
        n++;
    }
    if (st == AETHER_ERR_END)
        st = AETHER_OK;
    if (st == AETHER_OK) {
        const aether_npz_info *info = aether_recording_npz_info(r);
        double t = info ? parse_iso(info->collected_at) : -1.0;
        if (t < 0.0)
            t = parse_name_time(name);
        if (t < 0.0)
            t = first_ts;
        memset(rec, 0, sizeof *rec);
        rec->frames = frames;
        rec->n_frames = n;
        rec->label = label;
        rec->time = t;
        rec->split = AETHER_SPLIT_TRAIN;
        snprintf(rec->name, sizeof rec->name, "%s", name);
        *tones_out = tones;
    } else {
        free(frames);
        free(tones);
    }
    aether_features_destroy(fx);
    aether_recording_close(r);
    return st;
}

void aether_dataset_free(aether_dataset *ds)
{
    size_t i;
    if (!ds)
        return;
    for (i = 0; i < ds->n_recs; ++i) {
        free(ds->recs[i].frames);
        if (ds->tones)
            free(ds->tones[i]);
    }
    free(ds->recs);
    free(ds->tones);
    memset(ds, 0, sizeof *ds);
}

aether_status aether_dataset_load(const char *dir, const char *const *labels, size_t n_labels,
                                  size_t dim, aether_dataset *out)
{
    return aether_dataset_load_recipe(dir, labels, n_labels, dim, AETHER_FEATURES_V1, out);
}

aether_status aether_dataset_load_recipe(const char *dir, const char *const *labels,
                                         size_t n_labels, size_t dim, unsigned recipe,
                                         aether_dataset *out)
{
    aether_dataset ds;
    size_t c;
    aether_status st = AETHER_OK;
    if (!dir || !labels || !out)
        return AETHER_ERR_NULL_ARG;
    if (n_labels < 2 || n_labels > AETHER_TRAIN_MAX_CLASSES || aether_features_groups(dim) == 0 ||
        recipe > AETHER_FEATURES_V4)
        return AETHER_ERR_INVALID_ARG;
    memset(&ds, 0, sizeof ds);
    ds.dim = dim;
    ds.recipe = recipe ? recipe : AETHER_FEATURES_V1;
    ds.n_classes = n_labels;
    for (c = 0; c < n_labels && st == AETHER_OK; ++c) {
        char path[4096];
        DIR *d;
        struct dirent *e;
        char **names = NULL;
        size_t nn = 0, i;
        if (!labels[c] || strlen(labels[c]) >= sizeof ds.labels[c] || !labels[c][0]) {
            st = AETHER_ERR_INVALID_ARG;
            break;
        }
        snprintf(ds.labels[c], sizeof ds.labels[c], "%s", labels[c]);
        snprintf(path, sizeof path, "%s/%s", dir, labels[c]);
        d = opendir(path);
        if (!d) {
            st = AETHER_ERR_IO;
            break;
        }
        while ((e = readdir(d)) != NULL) {
            char **nm;
            if (!has_suffix(e->d_name, ".npz") && !has_suffix(e->d_name, ".csi.jsonl"))
                continue;
            nm = (char **)realloc(names, (nn + 1) * sizeof(char *));
            if (!nm) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            names = nm;
            names[nn] = (char *)malloc(strlen(e->d_name) + 1);
            if (!names[nn]) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            strcpy(names[nn++], e->d_name);
        }
        closedir(d);
        if (nn > 1)
            qsort(names, nn, sizeof(char *), cmp_str);
        for (i = 0; i < nn && st == AETHER_OK; ++i) {
            aether_train_recording *nr;
            float **nt;
            char fpath[8192];
            nr = (aether_train_recording *)realloc(ds.recs, (ds.n_recs + 1) * sizeof *nr);
            if (!nr) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            ds.recs = nr;
            nt = (float **)realloc(ds.tones, (ds.n_recs + 1) * sizeof *nt);
            if (!nt) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            ds.tones = nt;
            snprintf(fpath, sizeof fpath, "%s/%s", path, names[i]);
            st = load_file(fpath, names[i], c, dim, recipe, &ds.recs[ds.n_recs],
                           &ds.tones[ds.n_recs]);
            if (st == AETHER_OK)
                ds.n_recs++;
        }
        for (i = 0; i < nn; ++i)
            free(names[i]);
        free(names);
    }
    if (st != AETHER_OK) {
        aether_dataset_free(&ds);
        return st;
    }
    *out = ds;
    return AETHER_OK;
}
