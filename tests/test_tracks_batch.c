/*
 * aether_tracks_step_batch against aether_tracks_step called entry by
 * entry on a twin table: random workloads with repeated ids, new ids past
 * max_tracks (LRU eviction or refusal), tracks aging out, timestamps going
 * back, NaN frames and timestamps, full non-evicting caches; session
 * tables in the reference and the default kernel mode, and a window
 * table. After every batch: the same statuses, created flags, logits and
 * pooled rows (bit for bit), statistics, active ids and per-track state.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/tracks.h"
#include "check.h"

#define IN 16u
#define NC 4u
#define NMAX 80u

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}

static float frand(void)
{
    return ((float)urand() / 4294967296.0f - 0.5f) * 2.0f;
}

static unsigned char *g_blob;
static aether_model *g_model;

static int open_model(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v;
    size_t len = 0, n = 0;
    if (aether_blob_demo_size(&p, &len) != AETHER_OK || !(g_blob = (unsigned char *)malloc(len)))
        return 0;
    return aether_blob_demo_write(&p, g_blob, len, &n) == AETHER_OK &&
           aether_blob_parse(g_blob, n, &v) == AETHER_OK &&
           aether_model_create(&v, NULL, AETHER_MODEL_COPY, &g_model) == AETHER_OK;
}

/* Same statistics, ids, per-track info and session frame counts. */
static int tables_equal(const aether_tracks *a, const aether_tracks *b)
{
    aether_tracks_stats sa, sb;
    uint64_t ia[128], ib[128];
    size_t na = 0, nb = 0, i;
    if (aether_tracks_get_stats(a, &sa) != AETHER_OK ||
        aether_tracks_get_stats(b, &sb) != AETHER_OK || memcmp(&sa, &sb, sizeof sa) != 0)
        return 0;
    if (aether_tracks_list(a, ia, 128, &na) != AETHER_OK ||
        aether_tracks_list(b, ib, 128, &nb) != AETHER_OK || na != nb ||
        memcmp(ia, ib, na * sizeof ia[0]) != 0)
        return 0;
    for (i = 0; i < na; ++i) {
        aether_track_info fa, fb;
        if (aether_tracks_info(a, ia[i], &fa) != AETHER_OK ||
            aether_tracks_info(b, ia[i], &fb) != AETHER_OK || memcmp(&fa, &fb, sizeof fa) != 0)
            return 0;
        if (aether_model_session_frames(aether_tracks_session(a, ia[i])) !=
            aether_model_session_frames(aether_tracks_session(b, ia[i])))
            return 0;
    }
    return 1;
}

/* rounds batches of random sizes through both tables; 1 when they agree
 * throughout. counts[s] counts the statuses seen (s < 128). */
static int run_workload(const aether_tracks_params *p, int rounds, size_t id_pool,
                        unsigned *counts)
{
    static const size_t sizes[] = {1, 3, 17, 64, 80};
    aether_tracks *a = NULL, *b = NULL;
    uint64_t ids[NMAX];
    double ts[NMAX], clock = 0.0;
    float frames[NMAX * IN], la[NMAX * NC], lb[NMAX * NC], pa[NMAX * IN], pb[NMAX * IN];
    aether_status sa[NMAX], sb[NMAX];
    int ca[NMAX], cb[NMAX], ok = 1, r;
    size_t j, k;
    if (aether_tracks_create(g_model, p, &a) != AETHER_OK ||
        aether_tracks_create(g_model, p, &b) != AETHER_OK)
        return 0;
    for (r = 0; r < rounds && ok; ++r) {
        size_t n = sizes[urand() % 5];
        for (j = 0; j < n; ++j) {
            uint32_t u = urand() % 1000;
            ids[j] = 100 + urand() % id_pool;
            /* mostly forward in time, sometimes a late frame */
            clock += u < 900 ? 0.01 * (double)(urand() % 4) : 0.0;
            ts[j] = u < 950 ? clock : clock - 0.3;
            for (k = 0; k < IN; ++k)
                frames[j * IN + k] = frand();
            if (u == 990)
                frames[j * IN + u % IN] = NAN;
            if (u == 991)
                ts[j] = NAN;
        }
        memset(la, 0x33, sizeof la);
        memset(lb, 0x33, sizeof lb);
        memset(pa, 0x44, sizeof pa);
        memset(pb, 0x44, sizeof pb);
        memset(ca, 0x55, sizeof ca);
        memset(cb, 0x55, sizeof cb);
        for (j = 0; j < n; ++j)
            sa[j] = aether_tracks_step(a, ids[j], ts[j], frames + j * IN, la + j * NC,
                                       pa + j * IN, &ca[j]);
        ok &= aether_tracks_step_batch(b, ids, ts, frames, n, lb, pb, sb, cb) == AETHER_OK;
        ok &= memcmp(sa, sb, n * sizeof sa[0]) == 0;
        ok &= memcmp(ca, cb, n * sizeof ca[0]) == 0;
        ok &= memcmp(la, lb, n * NC * sizeof(float)) == 0;
        ok &= memcmp(pa, pb, n * IN * sizeof(float)) == 0;
        ok &= tables_equal(a, b);
        for (j = 0; j < n; ++j)
            counts[(unsigned)sa[j] & 127u]++;
    }
    aether_tracks_destroy(a);
    aether_tracks_destroy(b);
    return ok;
}

static void test_sessions(void)
{
    static const aether_kernel_mode modes[] = {AETHER_KERNELS_REFERENCE, AETHER_KERNELS_AUTO};
    size_t mi;
    for (mi = 0; mi < 2; ++mi) {
        aether_tracks_params p = aether_tracks_params_default();
        unsigned counts[128];
        aether_tracks_stats st;
        aether_tracks *t = NULL;
        CHECK(aether_set_kernel_mode(modes[mi]) == AETHER_OK);
        /* Evicting caches, LRU eviction, aging out. */
        memset(counts, 0, sizeof counts);
        p.max_tracks = 8;
        p.max_age = 0.25;
        p.session.capacity = 24;
        CHECK_MSG(run_workload(&p, 120, 12, counts), "mode %d lru", (int)modes[mi]);
        CHECK(counts[AETHER_OK] > 1000);
        CHECK(counts[AETHER_ERR_NONFINITE] > 0);
        /* Refusal when full, non-evicting caches that fill up. */
        memset(counts, 0, sizeof counts);
        p.full = AETHER_TRACKS_FULL_FAIL;
        p.max_age = 0.5;
        p.session.capacity = 30;
        p.session.evict = AETHER_KV_EVICT_NONE;
        CHECK_MSG(run_workload(&p, 120, 10, counts), "mode %d fail", (int)modes[mi]);
        CHECK(counts[AETHER_ERR_TRACKS_FULL] > 0);
        CHECK(counts[AETHER_ERR_CACHE_FULL] > 0);
        /* More tracks than one batched call holds (64), no aging. */
        memset(counts, 0, sizeof counts);
        p = aether_tracks_params_default();
        p.max_tracks = 100;
        p.session.capacity = 16;
        CHECK_MSG(run_workload(&p, 40, 90, counts), "mode %d wide", (int)modes[mi]);
        /* The statistics of a batch: every step counted once. */
        CHECK(aether_tracks_create(g_model, &p, &t) == AETHER_OK);
        {
            uint64_t ids[4] = {1, 2, 1, 3};
            double ts[4] = {0.0, 0.0, 0.1, 0.1};
            float frames[4 * IN], lg[4 * NC];
            aether_status s[4];
            int c[4];
            size_t k;
            for (k = 0; k < 4 * IN; ++k)
                frames[k] = frand();
            CHECK(aether_tracks_step_batch(t, ids, ts, frames, 4, lg, NULL, s, c) == AETHER_OK);
            CHECK(s[0] == AETHER_OK && s[1] == AETHER_OK && s[2] == AETHER_OK &&
                  s[3] == AETHER_OK);
            CHECK(c[0] == 1 && c[1] == 1 && c[2] == 0 && c[3] == 1);
            CHECK(aether_tracks_get_stats(t, &st) == AETHER_OK);
            CHECK(st.steps == 4 && st.created == 3 && st.active == 3);
            CHECK(aether_tracks_step_batch(t, ids, ts, frames, 4, lg, NULL, s, c) == AETHER_OK);
            CHECK(aether_tracks_get_stats(t, &st) == AETHER_OK);
            CHECK(st.steps == 8 && st.created == 3);
            /* the call's own errors change nothing */
            CHECK(aether_tracks_step_batch(NULL, ids, ts, frames, 4, lg, NULL, s, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, NULL, ts, frames, 4, lg, NULL, s, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, ids, NULL, frames, 4, lg, NULL, s, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, ids, ts, NULL, 4, lg, NULL, s, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, ids, ts, frames, 4, NULL, NULL, s, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, ids, ts, frames, 4, lg, NULL, NULL, c) ==
                  AETHER_ERR_NULL_ARG);
            CHECK(aether_tracks_step_batch(t, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL) ==
                  AETHER_OK);
            CHECK(aether_tracks_get_stats(t, &st) == AETHER_OK);
            CHECK(st.steps == 8);
        }
        aether_tracks_destroy(t);
    }
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
}

static void test_windows(void)
{
    aether_tracks_params p = aether_tracks_params_default();
    unsigned counts[128];
    memset(counts, 0, sizeof counts);
    p.max_tracks = 6;
    p.max_age = 0.3;
    p.window.frames = 8;
    CHECK(run_workload(&p, 60, 9, counts));
    CHECK(counts[AETHER_OK] > 500);
}

static void test_all(void)
{
    CHECK(open_model());
    if (!g_model)
        return;
    test_sessions();
    test_windows();
    aether_model_destroy(g_model);
    free(g_blob);
}

TEST_MAIN(test_all)
