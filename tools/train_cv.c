/*
 * `aether train --cv K` / `--cv-field N`: cross-validation inside the
 * training split. The validation split is set aside (never read); each fold
 * in turn is held out, a model is trained on the others with the command's
 * options, and every held-out recording is scored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "train_common.h"
#include "aether/dataset.h"

/* Split codes used only while cross-validating: the outer validation split
 * is set aside (never read) and the current fold is held out. */
#define CV_HELD_OUT 2
#define CV_SET_ASIDE 3

static int rec_earlier(const aether_train_recording *a, const aether_train_recording *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    return strcmp(a->name, b->name) < 0;
}

/* Fold of each TRAIN recording: per class, in (time, name) order, rank i of
 * n goes to fold i * K / n, so every fold is a contiguous block of time and
 * holds recordings of every class that has at least K. */
void train_cv_assign_folds(const aether_dataset *ds, size_t K, size_t *fold)
{
    size_t r, q, c;
    for (r = 0; r < ds->n_recs; ++r) {
        size_t rank = 0, n = 0;
        const aether_train_recording *a = &ds->recs[r];
        fold[r] = (size_t)-1;
        if (a->split != AETHER_SPLIT_TRAIN)
            continue;
        for (q = 0; q < ds->n_recs; ++q) {
            const aether_train_recording *b = &ds->recs[q];
            if (b->split != AETHER_SPLIT_TRAIN || b->label != a->label)
                continue;
            n++;
            rank += rec_earlier(b, a);
        }
        c = rank * K / n;
        fold[r] = c;
    }
}

int train_cv_check_folds(const aether_dataset *ds, size_t K, const char *cmd)
{
    size_t most = 0, c, r;
    for (c = 0; c < ds->n_classes; ++c) {
        size_t n = 0;
        for (r = 0; r < ds->n_recs; ++r)
            n += ds->recs[r].split == AETHER_SPLIT_TRAIN && ds->recs[r].label == c;
        most = n > most ? n : most;
    }
    if (K <= most)
        return 0;
    fprintf(stderr,
            "aether %s: --cv %zu needs at least %zu training recordings of one class (the "
            "most any class has is %zu): folds would be empty\n",
            cmd, K, K, most);
    return CLI_EXIT_MISFIT;
}

/* Train on K-1 folds, score the held-out one; per recording and pooled. */
/* The recording of alt named and labelled like rec, or NULL. */
static aether_train_recording *namesake(aether_dataset *alt, const aether_train_recording *rec)
{
    size_t r;
    for (r = 0; alt && r < alt->n_recs; ++r)
        if (alt->recs[r].label == rec->label && !strcmp(alt->recs[r].name, rec->name))
            return &alt->recs[r];
    return NULL;
}

/* Correct and total windows of one held-out recording; its windows added to
 * conf. */
static aether_status score_one(aether_train_net *net, const aether_train_config *tc,
                               aether_train_recording *rec, size_t C, size_t *conf, size_t *ok,
                               size_t *nw)
{
    size_t one[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES], need = 0, k;
    int split = rec->split;
    void *ws = NULL;
    aether_status st = aether_train_example_ws_size(net, tc->window, &need);
    memset(one, 0, sizeof one);
    *nw = 0;
    if (st == AETHER_OK && !(ws = malloc(need)))
        st = AETHER_ERR_NO_MEM;
    rec->split = CV_HELD_OUT;
    if (st == AETHER_OK)
        st = aether_train_evaluate(net, rec, 1, CV_HELD_OUT, tc->window, tc->stride, tc->pool,
                                   one, NULL, nw, ws, need);
    rec->split = split;
    free(ws);
    *ok = one[rec->label * C + rec->label];
    for (k = 0; k < C * C; ++k)
        conf[k] += one[k];
    return st;
}

static int cv_fold(train_opts *o, aether_dataset *ds, aether_dataset *alt, const size_t *fold,
                   const int *orig, size_t f, size_t *conf_all, size_t *conf_alt, double *f1_out)
{
    aether_train_config tc = o->tc;
    aether_train_net *net = NULL;
    aether_train_recording *view;
    aether_dataset aug;
    size_t n_view = 0;
    aether_train_result res;
    aether_metrics m;
    size_t C = ds->n_classes, conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    size_t r, k;
    aether_status st;
    for (r = 0; r < ds->n_recs; ++r)
        ds->recs[r].split = orig[r] != AETHER_SPLIT_TRAIN ? CV_SET_ASIDE
                            : fold[r] == f                ? CV_HELD_OUT
                                                          : AETHER_SPLIT_TRAIN;
    view = train_fit_view(o, ds, &aug, &n_view, &st);
    if (view)
        st = train_make_net(o, ds, view, n_view, &tc, &net);
    if (st == AETHER_OK)
        st = aether_train_fit(net, view, n_view, &tc, NULL, &res);
    free(view);
    aether_dataset_free(&aug);
    memset(conf, 0, sizeof conf);
    for (r = 0; r < ds->n_recs && st == AETHER_OK; ++r) {
        aether_train_recording *twin;
        size_t nw = 0, ok = 0;
        if (ds->recs[r].split != CV_HELD_OUT)
            continue;
        st = score_one(net, &tc, &ds->recs[r], C, conf, &ok, &nw);
        printf("  fold %zu  %-44s %-12s %3zu/%-3zu windows right", f + 1, ds->recs[r].name,
               ds->labels[ds->recs[r].label], ok, nw);
        twin = alt ? namesake(alt, &ds->recs[r]) : NULL;
        if (st == AETHER_OK && twin) {
            st = score_one(net, &tc, twin, C, conf_alt, &ok, &nw);
            printf("   score-data %3zu/%-3zu", ok, nw);
        } else if (alt) {
            printf("   score-data: no namesake");
        }
        printf("\n");
    }
    aether_train_net_destroy(net);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether train --cv: %s\n", aether_strerror(st));
        return cli_exit_status(st);
    }
    aether_metrics_compute(conf, C, &m);
    printf("fold %zu: accuracy %.4f  macro-F1 %.4f\n", f + 1, m.accuracy, m.macro_f1);
    fflush(stdout);
    for (k = 0; k < C * C; ++k)
        conf_all[k] += conf[k];
    *f1_out = m.macro_f1;
    return CLI_EXIT_OK;
}

/* Field `field` of a file name split at '_' into buf ("" if absent). */
static void name_field(const char *name, long field, char *buf, size_t cap)
{
    size_t n = 0;
    for (; field > 0 && *name; ++name)
        if (*name == '_')
            field--;
    while (*name && *name != '_' && *name != '.' && n + 1 < cap)
        buf[n++] = *name++;
    buf[n] = '\0';
}

/* Folds by a name field: fold = index of the field's value among the
 * distinct values in recording order. Returns the number of folds, or
 * (size_t)-1 (reported) when there are more than TRAIN_CV_MAX_FIELD_FOLDS. */
static size_t assign_field_folds(const aether_dataset *ds, long field, size_t *fold)
{
    char keys[TRAIN_CV_MAX_FIELD_FOLDS][32], key[32];
    size_t r, k, n = 0;
    for (r = 0; r < ds->n_recs; ++r) {
        fold[r] = (size_t)-1;
        if (ds->recs[r].split != AETHER_SPLIT_TRAIN)
            continue;
        name_field(ds->recs[r].name, field, key, sizeof key);
        for (k = 0; k < n && strcmp(keys[k], key); ++k)
            ;
        if (k == n) {
            if (n == TRAIN_CV_MAX_FIELD_FOLDS) {
                fprintf(stderr,
                        "aether train --cv-field %ld: the training split has more than %d "
                        "distinct values of field %ld (at most %d folds); %s is the first "
                        "one over\n",
                        field, TRAIN_CV_MAX_FIELD_FOLDS, field, TRAIN_CV_MAX_FIELD_FOLDS,
                        ds->recs[r].name);
                return (size_t)-1;
            }
            strcpy(keys[n++], key);
        }
        fold[r] = k;
    }
    for (k = 0; k < n; ++k)
        printf("fold %zu: %s\n", k + 1, keys[k]);
    return n;
}

int train_run_cv(train_opts *o, aether_dataset *ds)
{
    size_t K = o->cv_folds, f, r, C = ds->n_classes;
    size_t conf[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    size_t conf_alt[AETHER_TRAIN_MAX_CLASSES * AETHER_TRAIN_MAX_CLASSES];
    aether_dataset alt_ds, *alt = NULL;
    size_t *fold = (size_t *)malloc((ds->n_recs ? ds->n_recs : 1) * sizeof(size_t));
    int *orig = (int *)malloc((ds->n_recs ? ds->n_recs : 1) * sizeof(int));
    double f1 = 0.0, sum = 0.0, lo = 1.0;
    aether_metrics m;
    int rc = CLI_EXIT_OK;
    if (!fold || !orig) {
        fprintf(stderr, "aether train --cv: %s\n", aether_strerror(AETHER_ERR_NO_MEM));
        free(fold);
        free(orig);
        return CLI_EXIT_FAILED;
    }
    for (r = 0; r < ds->n_recs; ++r)
        orig[r] = ds->recs[r].split;
    if (o->cv_field >= 0) {
        K = assign_field_folds(ds, o->cv_field, fold);
        if (K == (size_t)-1) {
            free(fold);
            free(orig);
            return CLI_EXIT_MISFIT;
        }
    } else if ((rc = train_cv_check_folds(ds, K, "train --cv")) != CLI_EXIT_OK) {
        free(fold);
        free(orig);
        return rc;
    } else {
        train_cv_assign_folds(ds, K, fold);
    }
    if (K < 2) {
        fprintf(stderr, "aether train --cv: the training split gives fewer than 2 folds\n");
        free(fold);
        free(orig);
        return CLI_EXIT_MISFIT;
    }
    memset(conf, 0, sizeof conf);
    memset(conf_alt, 0, sizeof conf_alt);
    if (o->cv_score_data) {
        train_opts ao = *o;
        ao.data = o->cv_score_data;
        if ((rc = train_load_data(&ao, "train --cv-score-data", &alt_ds)) != CLI_EXIT_OK) {
            free(fold);
            free(orig);
            return rc;
        }
        alt = &alt_ds;
    }
    for (f = 0; f < K && rc == CLI_EXIT_OK; ++f) {
        rc = cv_fold(o, ds, alt, fold, orig, f, conf, conf_alt, &f1);
        sum += f1;
        lo = f1 < lo ? f1 : lo;
    }
    for (r = 0; r < ds->n_recs; ++r)
        ds->recs[r].split = orig[r];
    if (rc == CLI_EXIT_OK) {
        aether_metrics_compute(conf, C, &m);
        printf("cv %zu folds, seed %llu: pooled accuracy %.4f  pooled macro-F1 %.4f  "
               "fold mean %.4f  fold min %.4f\n",
               K, (unsigned long long)o->tc.seed, m.accuracy, m.macro_f1, sum / (double)K, lo);
        printf("  pooled confusion (rows: true):");
        for (r = 0; r < C * C; ++r)
            printf("%s%zu", r % C ? " " : (r ? " | " : " "), conf[r]);
        printf("\n");
        if (alt) {
            aether_metrics_compute(conf_alt, C, &m);
            printf("cv score-data %s: pooled accuracy %.4f  pooled macro-F1 %.4f\n  pooled "
                   "confusion (rows: true):",
                   o->cv_score_data, m.accuracy, m.macro_f1);
            for (r = 0; r < C * C; ++r)
                printf("%s%zu", r % C ? " " : (r ? " | " : " "), conf_alt[r]);
            printf("\n");
        }
    }
    if (alt)
        aether_dataset_free(alt);
    free(fold);
    free(orig);
    return rc;
}
