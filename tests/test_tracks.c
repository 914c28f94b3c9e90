/* Per-track sessions (aether/tracks.h): bit-exact equality with standalone
 * sessions, eviction by age and by count (LRU order), the FAIL policy,
 * erasure that overwrites memory, a fixed memory block, and errors that
 * leave every byte of the table unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/tracks.h"
#include "check.h"

#if defined(AETHER_WRAP_MALLOC)
/* Linked with -Wl,--wrap=malloc,...: every heap call is counted. */
static long g_heap_calls;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n)
{
    g_heap_calls++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    g_heap_calls++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    g_heap_calls++;
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (p)
        g_heap_calls++;
    __real_free(p);
}
#define HEAP_CALLS() g_heap_calls
#define WRAPPED 1
#else
#define HEAP_CALLS() 0L
#define WRAPPED 0
#endif

#define IN 16u
#define CLASSES 3u

/* ---------- fixtures ---------- */

static unsigned char *g_blob;
static aether_blob_view g_view;
static aether_model *g_model;

static const aether_model *model(void)
{
    if (!g_model) {
        aether_blob_demo_params p = aether_blob_demo_default();
        size_t len = 0, n = 0;
        p.input_dim = IN;
        p.n_q_heads = 4;
        p.n_kv_heads = 1;
        p.head_dim = 8;
        p.n_layers = 2;
        p.n_classes = CLASSES;
        if (aether_blob_demo_size(&p, &len) != AETHER_OK)
            return NULL;
        g_blob = (unsigned char *)malloc(len);
        if (!g_blob || aether_blob_demo_write(&p, g_blob, len, &n) != AETHER_OK ||
            aether_blob_parse(g_blob, n, &g_view) != AETHER_OK ||
            aether_model_create(&g_view, NULL, AETHER_MODEL_COPY, &g_model) != AETHER_OK)
            return NULL;
    }
    return g_model;
}

static aether_tracks_params params(size_t max_tracks, double max_age)
{
    aether_tracks_params p = aether_tracks_params_default();
    p.max_tracks = max_tracks;
    p.max_age = max_age;
    p.session.capacity = 24; /* small: sliding eviction happens in the tests */
    return p;
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return ((float)(g_rng >> 40) / 16777216.0f) * 2.0f - 1.0f;
}

static void random_frame(float *x)
{
    size_t i;
    for (i = 0; i < IN; ++i)
        x[i] = frand();
}

/* A table on a caller buffer with canary bytes after it. */
typedef struct table {
    unsigned char *buf;
    size_t len;
    aether_tracks *t;
} table;

#define CANARY 256u

static int table_open(table *tb, const aether_tracks_params *p)
{
    memset(tb, 0, sizeof *tb);
    if (aether_tracks_size(model(), p, &tb->len) != AETHER_OK)
        return 0;
    /* +1: init at an odd address (any alignment is accepted). */
    tb->buf = (unsigned char *)malloc(tb->len + 1 + CANARY);
    if (!tb->buf)
        return 0;
    memset(tb->buf, 0xA5, tb->len + 1 + CANARY);
    return aether_tracks_init(tb->buf + 1, tb->len, model(), p, &tb->t) == AETHER_OK;
}

static int canary_intact(const table *tb)
{
    size_t i;
    if (tb->buf[0] != 0xA5)
        return 0;
    for (i = 0; i < CANARY; ++i)
        if (tb->buf[1 + tb->len + i] != 0xA5)
            return 0;
    return 1;
}

static unsigned char *snapshot(const table *tb)
{
    unsigned char *s = (unsigned char *)malloc(tb->len);
    if (s)
        memcpy(s, tb->buf + 1, tb->len);
    return s;
}

static int unchanged(const table *tb, const unsigned char *snap)
{
    return snap && memcmp(tb->buf + 1, snap, tb->len) == 0;
}

static void table_close(table *tb)
{
    free(tb->buf);
    memset(tb, 0, sizeof *tb);
}

static aether_status step(aether_tracks *t, uint64_t id, double ts, int *created)
{
    float x[IN], lg[CLASSES];
    random_frame(x);
    return aether_tracks_step(t, id, ts, x, lg, NULL, created);
}

static int slot_nonzero(const aether_tracks *t, size_t slot)
{
    const unsigned char *b = NULL;
    size_t n = 0, i, nz = 0;
    if (aether_tracks_slot_memory(t, slot, &b, &n) != AETHER_OK)
        return 0;
    for (i = 0; i < n; ++i)
        nz += b[i] != 0;
    return nz > 0;
}

/* ---------- tests ---------- */

static void test_params_and_size(void)
{
    aether_tracks_params p = params(4, 0.0), d = aether_tracks_params_default();
    aether_session_params sd = aether_model_session_params_default();
    size_t a = 0, b = 0, s1 = 0, s = 0;
    aether_tracks *t = NULL;
    unsigned char small[64];
    long heap0;
    CHECK(model() != NULL);
    CHECK_EQ_INT(d.max_tracks, 16);
    CHECK(d.max_age == 0.0);
    CHECK_EQ_INT(d.full, AETHER_TRACKS_FULL_EVICT_LRU);
    CHECK_EQ_INT(d.session.capacity, sd.capacity);

    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_OK);
    CHECK_STATUS(aether_model_session_size(model(), &p.session, &s), AETHER_OK);
    /* max_tracks + 1 slots of at least one session each. */
    CHECK(a >= 5 * s);
    p.max_tracks = 5;
    CHECK_STATUS(aether_tracks_size(model(), &p, &b), AETHER_OK);
    CHECK(b > a);
    s1 = b - a; /* one more slot (+ its table entry and alignment) */
    {
        /* Below 64 tracks, one more row of the batch entry's scratch too:
         * the batched step's per-session workspace, the gathered session
         * pointer, frame, pooled row, logits, entry and status (at most
         * 64 bytes of alignment each). */
        size_t w4 = 0, w5 = 0, row;
        aether_model_info mi;
        CHECK_STATUS(aether_model_get_info(model(), &mi), AETHER_OK);
        CHECK_STATUS(aether_model_step_batch_workspace_size(model(), 4, &w4), AETHER_OK);
        CHECK_STATUS(aether_model_step_batch_workspace_size(model(), 5, &w5), AETHER_OK);
        row = (w5 - w4) + sizeof(void *) + 2 * mi.input_dim * sizeof(float) +
              mi.n_classes * sizeof(float) + sizeof(size_t) + sizeof(aether_status) + 7 * 64;
        CHECK(s1 >= s && s1 <= s + 256 + row);
    }
    CHECK_STATUS(aether_tracks_size(model(), NULL, &a), AETHER_OK);

    CHECK_STATUS(aether_tracks_size(NULL, &p, &a), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_size(model(), &p, NULL), AETHER_ERR_NULL_ARG);
    p = params(0, 0.0);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params(2, -1.0);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params(2, NAN);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params(2, HUGE_VAL);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params(2, 0.0);
    p.full = (aether_tracks_full_policy)7;
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params(2, 0.0);
    p.session.capacity = 0;
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params((size_t)-1, 0.0);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_INVALID_ARG);
    p = params((size_t)-1 / 64, 0.0);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_ERR_OVERFLOW);

    p = params(2, 0.0);
    CHECK_STATUS(aether_tracks_init(small, sizeof small, model(), &p, &t),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(t == NULL);
    CHECK_STATUS(aether_tracks_init(NULL, 1000, model(), &p, &t), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_create(model(), &p, NULL), AETHER_ERR_NULL_ARG);
    heap0 = HEAP_CALLS();
    CHECK_STATUS(aether_tracks_create(model(), &p, &t), AETHER_OK);
    /* With the wrapper linked in, it does see the library's calls. */
    CHECK(!WRAPPED || HEAP_CALLS() > heap0);
    CHECK_STATUS(aether_tracks_size(model(), &p, &a), AETHER_OK);
    CHECK_EQ_INT(aether_tracks_bytes(t), a);
    CHECK_EQ_INT(aether_tracks_slot_count(t), 3);
    CHECK_EQ_INT(aether_tracks_slot_count(NULL), 0);
    CHECK_EQ_INT(aether_tracks_bytes(NULL), 0);
    CHECK(aether_tracks_slot_is_clear(t, 0) && aether_tracks_slot_is_clear(t, 2));
    CHECK(!aether_tracks_slot_is_clear(t, 3));
    aether_tracks_destroy(t);
    aether_tracks_destroy(NULL);
}

/* Three ids interleaved irregularly: every step's logits and pooled state
 * are bit-identical to a standalone session per id fed the same frames,
 * including after the sessions' sliding caches have evicted. */
static void test_bit_exact_vs_standalone(void)
{
    aether_tracks_params p = params(3, 0.0);
    aether_model_session *ref[3] = {NULL, NULL, NULL};
    static const uint64_t ids[3] = {7, 0xFFFFFFFFFFFFFFFFull, 42};
    table tb;
    size_t i, k, mismatches = 0, created = 0;
    CHECK(table_open(&tb, &p));
    for (k = 0; k < 3; ++k)
        CHECK_STATUS(aether_model_session_create(model(), &p.session, &ref[k]), AETHER_OK);
    for (i = 0; i < 200; ++i) {
        float x[IN], lg[CLASSES], lr[CLASSES], pl[IN], pr[IN];
        int c = -1;
        k = (i * 7 + i / 3) % 3;
        random_frame(x);
        CHECK_STATUS(aether_tracks_step(tb.t, ids[k], 0.01 * (double)i, x, lg, pl, &c),
                     AETHER_OK);
        CHECK_STATUS(aether_model_session_step(ref[k], x, lr, pr), AETHER_OK);
        if (memcmp(lg, lr, sizeof lg) != 0 || memcmp(pl, pr, sizeof pl) != 0)
            mismatches++;
        created += c == 1;
    }
    CHECK_EQ_INT(mismatches, 0);
    CHECK_EQ_INT(created, 3);
    for (k = 0; k < 3; ++k) {
        aether_track_info info;
        const aether_model_session *s = aether_tracks_session(tb.t, ids[k]);
        CHECK(s != NULL);
        CHECK_EQ_INT(aether_model_session_frames(s), aether_model_session_frames(ref[k]));
        CHECK_EQ_INT(aether_model_session_evicted(s), 1); /* > 24 frames each */
        CHECK_STATUS(aether_tracks_info(tb.t, ids[k], &info), AETHER_OK);
        CHECK_EQ_INT(info.frames, aether_model_session_frames(ref[k]));
        CHECK_EQ_INT(info.id, ids[k]);
        aether_model_session_destroy(ref[k]);
    }
    CHECK(aether_tracks_session(tb.t, 8) == NULL);
    CHECK(canary_intact(&tb));
    table_close(&tb);
}

static void test_evict_by_age(void)
{
    aether_tracks_params p = params(4, 1.0);
    aether_tracks_stats st;
    aether_track_info info;
    size_t slot_a, n = 9;
    int c = -1;
    table tb;
    CHECK(table_open(&tb, &p));
    CHECK_STATUS(step(tb.t, 1, 100.0, &c), AETHER_OK);
    CHECK_EQ_INT(c, 1);
    CHECK_STATUS(aether_tracks_info(tb.t, 1, &info), AETHER_OK);
    slot_a = info.slot;
    CHECK(slot_nonzero(tb.t, slot_a));
    CHECK_STATUS(step(tb.t, 2, 101.0, &c), AETHER_OK);
    /* Age exactly max_age is not too old. */
    CHECK_STATUS(step(tb.t, 3, 101.0, &c), AETHER_OK);
    CHECK(aether_tracks_contains(tb.t, 1));
    /* 101.5: track 1 is 1.5 s old -> erased; 2 and 3 are 0.5 s old. */
    CHECK_STATUS(step(tb.t, 3, 101.5, &c), AETHER_OK);
    CHECK_EQ_INT(c, 0);
    CHECK(!aether_tracks_contains(tb.t, 1));
    CHECK(aether_tracks_contains(tb.t, 2) && aether_tracks_contains(tb.t, 3));
    CHECK(aether_tracks_slot_is_clear(tb.t, slot_a));
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 2);
    CHECK_EQ_INT(st.created, 3);
    CHECK_EQ_INT(st.evicted_age, 1);
    CHECK_EQ_INT(st.evicted_count, 0);
    CHECK_EQ_INT(st.steps, 4);

    /* A timestamp from the past neither rewinds the clock nor saves a track. */
    CHECK_STATUS(step(tb.t, 2, 50.0, &c), AETHER_OK);
    CHECK_STATUS(aether_tracks_info(tb.t, 2, &info), AETHER_OK);
    CHECK(info.last_seen == 101.0 && info.first_seen == 101.0 && info.frames == 2);

    /* Its own id too old: it starts over as a new track. */
    CHECK_STATUS(step(tb.t, 3, 103.0, &c), AETHER_OK);
    CHECK_EQ_INT(c, 1);
    CHECK_STATUS(aether_tracks_info(tb.t, 3, &info), AETHER_OK);
    CHECK_EQ_INT(info.frames, 1);
    CHECK(info.first_seen == 103.0);
    CHECK(!aether_tracks_contains(tb.t, 2));
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 1);
    CHECK_EQ_INT(st.created, 4);
    CHECK_EQ_INT(st.evicted_age, 3);

    /* Explicit expiry. */
    CHECK_STATUS(aether_tracks_expire(tb.t, 103.5, &n), AETHER_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(aether_tracks_expire(tb.t, 104.5, &n), AETHER_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_STATUS(aether_tracks_expire(tb.t, NAN, &n), AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_tracks_expire(NULL, 1.0, &n), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 0);
    CHECK_EQ_INT(st.evicted_age, 4);
    for (n = 0; n < aether_tracks_slot_count(tb.t); ++n)
        CHECK(aether_tracks_slot_is_clear(tb.t, n));
    CHECK(canary_intact(&tb));
    table_close(&tb);

    /* max_age 0: never by age. */
    p = params(2, 0.0);
    CHECK(table_open(&tb, &p));
    CHECK_STATUS(step(tb.t, 1, 0.0, &c), AETHER_OK);
    CHECK_STATUS(step(tb.t, 2, 1e9, &c), AETHER_OK);
    CHECK_STATUS(aether_tracks_expire(tb.t, 2e9, &n), AETHER_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(aether_tracks_contains(tb.t, 1));
    table_close(&tb);
}

static void test_evict_by_count_lru(void)
{
    aether_tracks_params p = params(3, 0.0);
    aether_tracks_stats st;
    aether_track_info info;
    uint64_t ids[4];
    size_t n = 0, slot2;
    table tb;
    CHECK(table_open(&tb, &p));
    CHECK_STATUS(step(tb.t, 1, 0.0, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 2, 0.1, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 3, 0.2, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 1, 0.3, NULL), AETHER_OK); /* 1 is now the most recent */
    CHECK_STATUS(aether_tracks_info(tb.t, 2, &info), AETHER_OK);
    slot2 = info.slot;
    CHECK(slot_nonzero(tb.t, slot2));
    CHECK_STATUS(step(tb.t, 4, 0.4, NULL), AETHER_OK); /* evicts 2 */
    CHECK(!aether_tracks_contains(tb.t, 2));
    CHECK(aether_tracks_contains(tb.t, 1) && aether_tracks_contains(tb.t, 3) &&
          aether_tracks_contains(tb.t, 4));
    CHECK(aether_tracks_slot_is_clear(tb.t, slot2));
    CHECK_STATUS(step(tb.t, 5, 0.5, NULL), AETHER_OK); /* evicts 3 */
    CHECK(!aether_tracks_contains(tb.t, 3));
    CHECK_STATUS(step(tb.t, 2, 0.6, NULL), AETHER_OK); /* evicts 1 */
    CHECK(!aether_tracks_contains(tb.t, 1));
    CHECK_STATUS(aether_tracks_list(tb.t, ids, 4, &n), AETHER_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(aether_tracks_list(tb.t, ids, 2, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 3);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 3);
    CHECK_EQ_INT(st.max_tracks, 3);
    CHECK_EQ_INT(st.created, 6);
    CHECK_EQ_INT(st.evicted_count, 3);
    CHECK_EQ_INT(st.evicted_age, 0);
    CHECK_EQ_INT(st.steps, 7);
    /* Exactly one slot (the spare) is free and clear. */
    {
        size_t s, clear = 0;
        for (s = 0; s < aether_tracks_slot_count(tb.t); ++s)
            clear += (size_t)aether_tracks_slot_is_clear(tb.t, s);
        CHECK_EQ_INT(clear, 1);
    }
    CHECK_STATUS(aether_tracks_reset_stats(tb.t), AETHER_OK);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 3);
    CHECK_EQ_INT(st.created + st.evicted_count + st.steps, 0);
    CHECK(canary_intact(&tb));
    table_close(&tb);
}

static void test_full_policy_fail(void)
{
    aether_tracks_params p = params(2, 5.0);
    aether_tracks_stats st;
    unsigned char *snap;
    int c = -1;
    table tb;
    p.full = AETHER_TRACKS_FULL_FAIL;
    CHECK(table_open(&tb, &p));
    CHECK_STATUS(step(tb.t, 10, 0.0, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 11, 1.0, NULL), AETHER_OK);
    snap = snapshot(&tb);
    CHECK_STATUS(step(tb.t, 12, 2.0, &c), AETHER_ERR_TRACKS_FULL);
    CHECK_EQ_INT(c, -1);
    CHECK(unchanged(&tb, snap));
    free(snap);
    /* Known ids still step. */
    CHECK_STATUS(step(tb.t, 10, 3.0, &c), AETHER_OK);
    CHECK_EQ_INT(c, 0);
    /* Once track 11 is older than 5 s, its room is free again. */
    CHECK_STATUS(step(tb.t, 12, 6.5, &c), AETHER_OK);
    CHECK_EQ_INT(c, 1);
    CHECK(!aether_tracks_contains(tb.t, 11));
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.evicted_age, 1);
    CHECK_EQ_INT(st.evicted_count, 0);
    CHECK_EQ_INT(st.active, 2);
    table_close(&tb);
}

static void test_forget_erases(void)
{
    aether_tracks_params p = params(4, 0.0);
    aether_tracks_stats st;
    aether_track_info info;
    const unsigned char *b = NULL;
    size_t len = 0, i, slot, nonzero = 0;
    unsigned char *snap;
    table tb;
    CHECK(table_open(&tb, &p));
    for (i = 0; i < 30; ++i)
        CHECK_STATUS(step(tb.t, 77, 0.05 * (double)i, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 78, 2.0, NULL), AETHER_OK);
    CHECK_STATUS(aether_tracks_info(tb.t, 77, &info), AETHER_OK);
    slot = info.slot;
    CHECK(!aether_tracks_slot_is_clear(tb.t, slot));
    CHECK_STATUS(aether_tracks_slot_memory(tb.t, slot, &b, &len), AETHER_OK);
    CHECK(len > 0);
    for (i = 0; i < len; ++i)
        nonzero += b[i] != 0;
    CHECK(nonzero > 24 * 8); /* the cached K/V rows at least */

    /* Unknown id: TRACK_NOT_FOUND and not a byte changes. */
    snap = snapshot(&tb);
    CHECK_STATUS(aether_tracks_forget(tb.t, 79), AETHER_ERR_TRACK_NOT_FOUND);
    CHECK(unchanged(&tb, snap));
    free(snap);

    CHECK_STATUS(aether_tracks_forget(tb.t, 77), AETHER_OK);
    CHECK(!aether_tracks_contains(tb.t, 77));
    CHECK(aether_tracks_session(tb.t, 77) == NULL);
    CHECK(aether_tracks_slot_is_clear(tb.t, slot));
    nonzero = 0;
    for (i = 0; i < len; ++i)
        nonzero += b[i] != 0;
    CHECK_EQ_INT(nonzero, 0);
    CHECK_STATUS(aether_tracks_forget(tb.t, 77), AETHER_ERR_TRACK_NOT_FOUND);
    CHECK_STATUS(aether_tracks_info(tb.t, 77, &info), AETHER_ERR_TRACK_NOT_FOUND);
    CHECK(aether_tracks_contains(tb.t, 78));

    /* A forgotten id starts from nothing. */
    CHECK_STATUS(step(tb.t, 77, 3.0, NULL), AETHER_OK);
    CHECK_STATUS(aether_tracks_info(tb.t, 77, &info), AETHER_OK);
    CHECK_EQ_INT(info.frames, 1);

    CHECK_STATUS(aether_tracks_forget_all(tb.t), AETHER_OK);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, 0);
    CHECK_EQ_INT(st.forgotten, 3);
    for (i = 0; i < aether_tracks_slot_count(tb.t); ++i)
        CHECK(aether_tracks_slot_is_clear(tb.t, i));
    CHECK_STATUS(aether_tracks_forget(NULL, 1), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_slot_memory(tb.t, 5, &b, &len), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_tracks_slot_memory(tb.t, 0, NULL, &len), AETHER_ERR_NULL_ARG);
    CHECK(canary_intact(&tb));
    table_close(&tb);
}

/* Thousands of steps over many ids churning through a small table: the
 * table's size never changes, nothing is written outside its block, and
 * (with the allocator wrapped) nothing is allocated after init. */
static void test_memory_bound(void)
{
    aether_tracks_params p = params(4, 0.5);
    aether_tracks_stats st;
    size_t bytes0, i;
    long heap0;
    table tb;
    CHECK(table_open(&tb, &p));
    bytes0 = aether_tracks_bytes(tb.t);
    CHECK_EQ_INT(bytes0, tb.len);
    heap0 = HEAP_CALLS();
    for (i = 0; i < 3000; ++i) {
        float x[IN], lg[CLASSES], pooled[IN];
        uint64_t id = (i * 2654435761u) % 11;
        random_frame(x);
        CHECK_STATUS(aether_tracks_step(tb.t, id, 0.01 * (double)i, x, lg, pooled, NULL),
                     AETHER_OK);
        if (i % 500 == 499)
            CHECK_STATUS(aether_tracks_forget(tb.t, id), AETHER_OK);
    }
    CHECK_EQ_INT(HEAP_CALLS() - heap0, 0);
    CHECK_EQ_INT(aether_tracks_bytes(tb.t), bytes0);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK(st.active <= 4);
    CHECK_EQ_INT(st.steps, 3000);
    CHECK_EQ_INT(st.forgotten, 6);
    CHECK(st.evicted_count > 0);
    /* every track that ever existed has left or is active */
    CHECK_EQ_INT(st.created, st.active + st.evicted_age + st.evicted_count + st.forgotten);
    CHECK(canary_intact(&tb));
    table_close(&tb);
}

/* Errors leave every byte of the table unchanged. */
static void test_errors_leave_state(void)
{
    aether_tracks_params p = params(2, 0.0);
    float x[IN], lg[CLASSES];
    unsigned char *snap;
    int c = -7;
    size_t i;
    table tb;
    CHECK(table_open(&tb, &p));
    CHECK_STATUS(step(tb.t, 1, 0.0, NULL), AETHER_OK);
    CHECK_STATUS(step(tb.t, 2, 0.1, NULL), AETHER_OK);
    snap = snapshot(&tb);
    random_frame(x);
    x[5] = NAN;
    /* existing id, new id (which would otherwise evict the LRU track) */
    CHECK_STATUS(aether_tracks_step(tb.t, 1, 0.2, x, lg, NULL, &c), AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_tracks_step(tb.t, 3, 0.2, x, lg, NULL, &c), AETHER_ERR_NONFINITE);
    x[5] = -INFINITY;
    CHECK_STATUS(aether_tracks_step(tb.t, 3, 0.2, x, lg, NULL, &c), AETHER_ERR_NONFINITE);
    random_frame(x);
    CHECK_STATUS(aether_tracks_step(tb.t, 3, NAN, x, lg, NULL, &c), AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_tracks_step(tb.t, 3, HUGE_VAL, x, lg, NULL, &c), AETHER_ERR_NONFINITE);
    CHECK_STATUS(aether_tracks_step(tb.t, 3, 0.2, NULL, lg, NULL, &c), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_step(tb.t, 3, 0.2, x, NULL, NULL, &c), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_tracks_step(NULL, 3, 0.2, x, lg, NULL, &c), AETHER_ERR_NULL_ARG);
    CHECK_EQ_INT(c, -7);
    CHECK(unchanged(&tb, snap));
    free(snap);
    table_close(&tb);

    /* A full EVICT_NONE session refuses the frame and stays as it was. */
    p = params(2, 0.0);
    p.session.capacity = 3;
    p.session.evict = AETHER_KV_EVICT_NONE;
    CHECK(table_open(&tb, &p));
    for (i = 0; i < 3; ++i)
        CHECK_STATUS(step(tb.t, 9, (double)i, NULL), AETHER_OK);
    snap = snapshot(&tb);
    CHECK_STATUS(step(tb.t, 9, 4.0, NULL), AETHER_ERR_CACHE_FULL);
    CHECK(unchanged(&tb, snap));
    free(snap);
    table_close(&tb);

    /* An uninitialised (zeroed) table. */
    {
        void *junk = calloc(1, 4096);
        aether_tracks_stats st;
        CHECK_STATUS(aether_tracks_get_stats((const aether_tracks *)junk, &st),
                     AETHER_ERR_NOT_INITIALIZED);
        CHECK(!aether_tracks_contains((const aether_tracks *)junk, 1));
        CHECK_STATUS(aether_tracks_forget((aether_tracks *)junk, 1), AETHER_ERR_NOT_INITIALIZED);
        free(junk);
    }
}

static void test_teardown(void)
{
    aether_model_destroy(g_model);
    free(g_blob);
    g_model = NULL;
    g_blob = NULL;
    CHECK(1);
}

/* Window mode: each track is a window classifier; logits equal standalone
 * windows fed the same frames, a push without logits runs no forward, no
 * heap call after init, and forget zero-fills the track's memory. */
static void test_window_mode(void)
{
    aether_tracks_params p = params(3, 0.0);
    aether_window_params wp = {5, AETHER_POOL_MEAN, 0};
    aether_window *solo[3] = {NULL, NULL, NULL};
    table tb;
    size_t i, k;
    long heap;
    p.window = wp;
    p.session.capacity = 0; /* unused in window mode */
    CHECK(table_open(&tb, &p));
    for (k = 0; k < 3; ++k)
        CHECK_STATUS(aether_window_create(model(), &wp, &solo[k]), AETHER_OK);
    if (!tb.t || !solo[0] || !solo[1] || !solo[2])
        return;
    /* the first steps create the tracks (heap calls counted from here) */
    heap = HEAP_CALLS();
    for (i = 0; i < 40; ++i) {
        float x[IN], got[CLASSES], want[CLASSES];
        size_t id = (i * 7u) % 3u;
        int due = i % 4 == 3, created = -1;
        random_frame(x);
        CHECK_STATUS(aether_window_push(solo[id], x), AETHER_OK);
        CHECK_STATUS(aether_tracks_step(tb.t, 100 + id, (double)i, x, due ? got : NULL, NULL,
                                        &created),
                     AETHER_OK);
        CHECK(created == (i < 3));
        if (!due)
            continue;
        CHECK_STATUS(aether_window_classify(solo[id], want, NULL), AETHER_OK);
        CHECK(memcmp(got, want, sizeof got) == 0);
    }
    if (WRAPPED)
        CHECK_EQ_INT(HEAP_CALLS() - heap, 0);
    {
        aether_track_info info;
        CHECK_STATUS(aether_tracks_info(tb.t, 101, &info), AETHER_OK);
        CHECK_EQ_INT(info.frames, 13);
        CHECK(aether_tracks_session(tb.t, 101) == NULL); /* windows, not sessions */
        CHECK_STATUS(aether_tracks_forget(tb.t, 101), AETHER_OK);
        CHECK(!slot_nonzero(tb.t, info.slot));
    }
    CHECK(canary_intact(&tb));
    table_close(&tb);
    for (k = 0; k < 3; ++k)
        aether_window_destroy(solo[k]);
    /* session mode still needs logits */
    p = params(2, 0.0);
    CHECK(table_open(&tb, &p));
    if (tb.t) {
        float x[IN];
        random_frame(x);
        CHECK_STATUS(aether_tracks_step(tb.t, 1, 0.0, x, NULL, NULL, NULL), AETHER_ERR_NULL_ARG);
    }
    table_close(&tb);
}

/* The index against a reference: random steps (timestamps mostly rising,
 * sometimes late), forgets and expiries over 48 ids on tables of 5 tracks
 * (16 buckets: ids share buckets, so probing and backward-shift deletion
 * run all the time), with and without max_age; after every call the table
 * holds exactly the reference's tracks with its frame counts and times,
 * and every free slot is clear. */
typedef struct ref_track {
    int present;
    uint64_t frames, lru;
    double first, last;
} ref_track;

static uint64_t ref_id(size_t k)
{
    /* small ids, ids apart by 2^32, and ids near 2^64 */
    return k % 3 == 0 ? (uint64_t)k : k % 3 == 1 ? ((uint64_t)k << 32) : ~(uint64_t)k;
}

static int ref_due(const ref_track *r, double now, double max_age)
{
    return r->present && max_age > 0.0 && now - r->last > max_age;
}

static void test_index_vs_reference(void)
{
    enum { IDS = 48, OPS = 3000 };
    const double ages[2] = {0.0, 2.5};
    size_t a;
    for (a = 0; a < 2; ++a) {
        const size_t max_tracks = 5;
        aether_tracks_params p = params(max_tracks, ages[a]);
        ref_track ref[IDS];
        double rnow = -HUGE_VAL, ts = 0.0;
        uint64_t tick = 0;
        size_t op, k, bad = 0;
        table tb;
        memset(ref, 0, sizeof ref);
        CHECK(table_open(&tb, &p));
        if (!tb.t)
            return;
        for (op = 0; op < OPS; ++op) {
            size_t id = (size_t)(frand() * 0.5f * IDS + 0.5f * IDS) % IDS, active = 0;
            float what = frand();
            aether_status st;
            if (what < 0.7f) { /* step */
                double now;
                size_t due = 0;
                ts += frand() < -0.8f ? -0.7 : 0.05 + 0.3 * (double)(frand() + 1.0f);
                now = rnow > ts ? rnow : ts;
                st = step(tb.t, ref_id(id), ts, NULL);
                bad += st != AETHER_OK;
                if (ref[id].present && !ref_due(&ref[id], now, ages[a])) {
                    ref[id].frames++;
                    ref[id].last = ref[id].last > ts ? ref[id].last : ts;
                    ref[id].lru = ++tick;
                    for (k = 0; k < IDS; ++k)
                        if (ref_due(&ref[k], now, ages[a]))
                            ref[k].present = 0;
                } else {
                    size_t victim = IDS;
                    for (k = 0; k < IDS; ++k) {
                        active += (size_t)ref[k].present;
                        due += (size_t)ref_due(&ref[k], now, ages[a]);
                    }
                    if (active - due >= max_tracks)
                        for (k = 0; k < IDS; ++k)
                            if (ref[k].present && !ref_due(&ref[k], now, ages[a]) &&
                                (victim == IDS || ref[k].lru < ref[victim].lru))
                                victim = k;
                    for (k = 0; k < IDS; ++k)
                        if (ref_due(&ref[k], now, ages[a]))
                            ref[k].present = 0;
                    if (victim < IDS)
                        ref[victim].present = 0;
                    ref[id].present = 1;
                    ref[id].frames = 1;
                    ref[id].first = ref[id].last = ts;
                    ref[id].lru = ++tick;
                }
                rnow = now;
            } else if (what < 0.9f) { /* forget */
                st = aether_tracks_forget(tb.t, ref_id(id));
                bad += st != (ref[id].present ? AETHER_OK : AETHER_ERR_TRACK_NOT_FOUND);
                ref[id].present = 0;
            } else { /* expire a little later than the newest time */
                double when = (rnow > ts ? rnow : ts) + 0.5;
                size_t n = 0, want = 0;
                CHECK_STATUS(aether_tracks_expire(tb.t, when, &n), AETHER_OK);
                for (k = 0; k < IDS; ++k)
                    if (ref_due(&ref[k], when, ages[a])) {
                        ref[k].present = 0;
                        want++;
                    }
                bad += n != want;
                rnow = when;
            }
            active = 0;
            for (k = 0; k < IDS; ++k) {
                aether_track_info info;
                int in = aether_tracks_contains(tb.t, ref_id(k));
                active += (size_t)ref[k].present;
                bad += in != ref[k].present;
                if (in && ref[k].present) {
                    bad += aether_tracks_info(tb.t, ref_id(k), &info) != AETHER_OK;
                    bad += info.frames != ref[k].frames || info.first_seen != ref[k].first ||
                           info.last_seen != ref[k].last || info.id != ref_id(k);
                }
            }
            {
                aether_tracks_stats st2;
                size_t s, clear = 0;
                CHECK_STATUS(aether_tracks_get_stats(tb.t, &st2), AETHER_OK);
                bad += st2.active != active;
                for (s = 0; s < aether_tracks_slot_count(tb.t); ++s)
                    clear += (size_t)aether_tracks_slot_is_clear(tb.t, s);
                bad += clear != aether_tracks_slot_count(tb.t) - active;
            }
            if (bad) {
                printf("  max_age %g: first mismatch at op %lu\n", ages[a], (unsigned long)op);
                break;
            }
        }
        CHECK_EQ_INT(bad, 0);
        CHECK(canary_intact(&tb));
        table_close(&tb);
    }
}

/* A large table: 1,000 ids (more than the feature extractor's old bound)
 * all present at once, each found again by its next step (no creation), the
 * next new id evicting exactly the least recently stepped one, and forget
 * of every other id leaving the rest in place. */
static void test_many_tracks(void)
{
    enum { N = 1000 };
    aether_tracks_params p = params(N, 0.0);
    aether_tracks_stats st;
    size_t i, bad = 0;
    int created = -1;
    table tb;
    p.session.capacity = 4;
    CHECK(table_open(&tb, &p));
    if (!tb.t)
        return;
    for (i = 0; i < N; ++i)
        bad += step(tb.t, 0x5000000000ull + i * 4096u, (double)i, &created) != AETHER_OK ||
               created != 1;
    for (i = 0; i < N; ++i) /* again, in reverse: the oldest step is now id N-1's */
        bad += step(tb.t, 0x5000000000ull + (N - 1 - i) * 4096u, (double)(N + i), &created) !=
                   AETHER_OK ||
               created != 0;
    CHECK_EQ_INT(bad, 0);
    CHECK_STATUS(step(tb.t, 7, 3.0 * N, &created), AETHER_OK);
    CHECK(created == 1);
    CHECK(!aether_tracks_contains(tb.t, 0x5000000000ull + (N - 1) * 4096u));
    CHECK(aether_tracks_contains(tb.t, 0x5000000000ull));
    for (i = 0; i + 1 < N; i += 2)
        CHECK_STATUS(aether_tracks_forget(tb.t, 0x5000000000ull + i * 4096u), AETHER_OK);
    for (i = 1; i + 1 < N; i += 2)
        bad += !aether_tracks_contains(tb.t, 0x5000000000ull + i * 4096u);
    CHECK_EQ_INT(bad, 0);
    CHECK_STATUS(aether_tracks_get_stats(tb.t, &st), AETHER_OK);
    CHECK_EQ_INT(st.active, N / 2);
    CHECK_EQ_INT(st.evicted_count, 1);
    CHECK_EQ_INT(st.forgotten, N / 2);
    CHECK(canary_intact(&tb));
    table_close(&tb);
}

TEST_MAIN(test_window_mode, test_params_and_size, test_bit_exact_vs_standalone, test_evict_by_age,
          test_evict_by_count_lru, test_full_policy_fail, test_forget_erases, test_memory_bound,
          test_errors_leave_state, test_index_vs_reference, test_many_tracks, test_teardown)
