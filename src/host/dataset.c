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
        recipe > AETHER_FEATURES_V5)
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

/* ---------- gain-step copies for training ---------- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seed of copy k of a recording: from the seed, the label and the file
 * name only, so a recording's copies do not depend on which other
 * recordings are in the set (cross-validation folds, the shipped fit). */
static uint64_t copy_seed(uint64_t seed, const char *label, const char *name, size_t k)
{
    uint64_t h = 0xCBF29CE484222325ull;
    const char *s;
    for (s = label; *s; ++s)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    h = (h ^ '/') * 0x100000001B3ull;
    for (s = name; *s; ++s)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return mix64(mix64(seed) ^ h) ^ mix64((uint64_t)k + 1u);
}

/* One gain-step copy of DIR/<label>/<name>: *added 0 when the recording is
 * not raw I/Q packets of one size (no copy is made). */
static aether_status load_copy(const char *path, const aether_train_recording *src, size_t dim,
                               unsigned recipe, double rate, uint64_t pseed, size_t k,
                               aether_train_recording *rec, float **tones_out, int *added)
{
    aether_recording *r = NULL;
    aether_features *fx = NULL;
    aether_features_config fc = aether_features_config_default();
    aether_csi_frame f, *fr = NULL;
    int8_t *iq = NULL;
    float *frames = NULL, *tones = NULL;
    size_t n = 0, cap = 0, pairs = 0, p, len, m = 0;
    aether_status st;
    *added = 0;
    st = aether_recording_open(path, NULL, &r);
    if (st != AETHER_OK)
        return st;
    while ((st = aether_recording_next(r, &f)) == AETHER_OK) {
        if (f.kind != AETHER_CSI_RAW_IQ || (n > 0 && f.n_pairs != pairs) || f.n_pairs == 0) {
            st = AETHER_ERR_END;
            n = 0; /* not one packet size: no copy */
            break;
        }
        pairs = f.n_pairs;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            aether_csi_frame *a = (aether_csi_frame *)realloc(fr, nc * sizeof *a);
            int8_t *b;
            if (!a) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            fr = a;
            b = (int8_t *)realloc(iq, nc * 2 * pairs);
            if (!b) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            iq = b;
            cap = nc;
        }
        fr[n] = f;
        memcpy(iq + n * 2 * pairs, f.iq, 2 * pairs);
        n++;
    }
    aether_recording_close(r);
    if (st == AETHER_ERR_END)
        st = AETHER_OK;
    if (st == AETHER_OK && n > 0)
        st = aether_train_gain_steps(iq, n, pairs, rate, pseed);
    if (st == AETHER_OK && n > 0) {
        fc.input_dim = dim;
        fc.recipe = recipe;
        st = aether_features_create(&fc, &fx);
    }
    if (st == AETHER_OK && n > 0) {
        frames = (float *)malloc(n * dim * sizeof(float));
        tones = (float *)malloc(n * AETHER_DATASET_TONES * sizeof(float));
        if (!frames || !tones)
            st = AETHER_ERR_NO_MEM;
    }
    len = 2 * pairs;
    for (p = 0; st == AETHER_OK && p < n; ++p) {
        fr[p].iq = iq + p * len;
        if (aether_features_compute(fx, &fr[p], frames + m * dim, dim) != AETHER_OK)
            continue; /* skipped, as when the recording was loaded */
        tone_amps(&fr[p], tones + m * AETHER_DATASET_TONES);
        m++;
    }
    aether_features_destroy(fx);
    free(fr);
    free(iq);
    if (st != AETHER_OK || n == 0) {
        free(frames);
        free(tones);
        return st;
    }
    memset(rec, 0, sizeof *rec);
    rec->frames = frames;
    rec->n_frames = m;
    rec->label = src->label;
    rec->time = src->time;
    rec->split = AETHER_SPLIT_TRAIN;
    {
        char tag[24];
        size_t tl, nl = strlen(src->name);
        snprintf(tag, sizeof tag, "+gain%u", (unsigned)(k + 1));
        tl = strlen(tag);
        if (nl + tl >= sizeof rec->name)
            nl = sizeof rec->name - 1 - tl;
        memcpy(rec->name, src->name, nl);
        memcpy(rec->name + nl, tag, tl + 1);
    }
    *tones_out = tones;
    *added = 1;
    return AETHER_OK;
}

aether_status aether_dataset_gain_step_copies(const char *dir, const aether_dataset *ds,
                                              double max_rate, size_t copies, uint64_t seed,
                                              aether_dataset *out)
{
    aether_dataset o;
    size_t r, k;
    aether_status st = AETHER_OK;
    if (!dir || !ds || !out)
        return AETHER_ERR_NULL_ARG;
    if (!(max_rate >= 0.0 && max_rate <= 1.0) || copies > 64)
        return AETHER_ERR_INVALID_ARG;
    memset(&o, 0, sizeof o);
    o.dim = ds->dim;
    o.recipe = ds->recipe;
    o.n_classes = ds->n_classes;
    memcpy(o.labels, ds->labels, sizeof o.labels);
    for (r = 0; r < ds->n_recs && st == AETHER_OK; ++r) {
        const aether_train_recording *src = &ds->recs[r];
        char path[4096];
        if (src->split != AETHER_SPLIT_TRAIN || src->label >= ds->n_classes)
            continue;
        snprintf(path, sizeof path, "%s/%s/%s", dir, ds->labels[src->label], src->name);
        for (k = 0; k < copies && st == AETHER_OK; ++k) {
            uint64_t s = copy_seed(seed, ds->labels[src->label], src->name, k);
            /* the copy's step rate, uniform in [0, max_rate] */
            double rate = max_rate * (double)(mix64(s) >> 11) * (1.0 / 9007199254740992.0);
            aether_train_recording *nr;
            float **nt;
            int added = 0;
            nr = (aether_train_recording *)realloc(o.recs, (o.n_recs + 1) * sizeof *nr);
            if (!nr) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            o.recs = nr;
            nt = (float **)realloc(o.tones, (o.n_recs + 1) * sizeof *nt);
            if (!nt) {
                st = AETHER_ERR_NO_MEM;
                break;
            }
            o.tones = nt;
            st = load_copy(path, src, ds->dim, ds->recipe, rate, mix64(s ^ 0x5851F42D4C957F2Dull),
                           k, &o.recs[o.n_recs], &o.tones[o.n_recs], &added);
            if (st == AETHER_OK && added)
                o.n_recs++;
        }
    }
    if (st != AETHER_OK) {
        aether_dataset_free(&o);
        return st;
    }
    *out = o;
    return AETHER_OK;
}
