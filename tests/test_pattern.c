/* Candidate pattern: config validation, worked examples (docs/KERNELS.md section 5.3), the
 * golden candidate lists, edge estimates (docs/KERNELS.md section 12) and overflow safety. */
#include "aether/npy.h"
#include "aether/pattern.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

#define LIST_CAP 4096

static aether_attn_config make_cfg(size_t window, size_t block, const size_t *globals, size_t ng,
                                   int causal, int log_stride, int landmarks)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config c;
    p.window = window;
    p.block_size = block;
    p.globals = globals;
    p.n_globals = ng;
    p.causal = causal;
    p.use_log_stride = log_stride;
    p.use_landmarks = landmarks;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);
    return c;
}

/* Compares the lists of query i with the expected ones (-1 terminated). */
static void expect_lists(const aether_attn_config *c, size_t i, size_t seq, const int *tok,
                         const int *blk)
{
    size_t got[LIST_CAP], n = 0, a, m;
    CHECK_STATUS(aether_pattern_tokens(c, i, seq, got, LIST_CAP, &n), AETHER_OK);
    for (m = 0; tok[m] >= 0; ++m)
        ;
    CHECK_MSG(n == m, "query %zu: %zu tokens, expected %zu", i, n, m);
    for (a = 0; a < n && a < m; ++a)
        CHECK_MSG(got[a] == (size_t)tok[a], "query %zu token %zu: %zu vs %d", i, a, got[a],
                  tok[a]);
    CHECK(n <= aether_pattern_max_tokens(c, seq));

    CHECK_STATUS(aether_pattern_blocks(c, i, seq, got, LIST_CAP, &n), AETHER_OK);
    for (m = 0; blk[m] >= 0; ++m)
        ;
    CHECK_MSG(n == m, "query %zu: %zu blocks, expected %zu", i, n, m);
    for (a = 0; a < n && a < m; ++a)
        CHECK_MSG(got[a] == (size_t)blk[a], "query %zu block %zu: %zu vs %d", i, a, got[a],
                  blk[a]);
    CHECK(n <= aether_pattern_max_blocks(c, seq));
}

static void test_config(void)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config c, before;
    size_t many[AETHER_MAX_GLOBALS + 1] = {0};

    CHECK_EQ_INT(p.window, 128);
    CHECK_EQ_INT(p.block_size, 64);
    CHECK_EQ_INT(p.n_globals, 1);
    CHECK_EQ_INT(p.globals[0], 0);
    CHECK(p.causal && p.use_log_stride && p.use_landmarks && !p.sort_candidates);

    memset(&c, 0, sizeof c);
    CHECK_STATUS(aether_attn_config_check(&c), AETHER_ERR_NOT_INITIALIZED);
    CHECK_STATUS(aether_attn_config_check(NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_config_init(NULL, &p), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_config_init(&c, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);
    CHECK_STATUS(aether_attn_config_check(&c), AETHER_OK);
    CHECK_EQ_INT(c.window, 128);
    CHECK_EQ_INT(c.n_globals, 1);

    /* Failures leave the config untouched. */
    before = c;
    p.block_size = 0;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_ERR_BLOCK_SIZE);
    p.block_size = 4;
    p.globals = many;
    p.n_globals = AETHER_MAX_GLOBALS + 1;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_ERR_TOO_MANY_GLOBALS);
    p.globals = NULL;
    p.n_globals = 2;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_ERR_NULL_ARG);
    CHECK(memcmp(&c, &before, sizeof c) == 0);

    /* No globals with a NULL pointer, and the maximum count, are fine. */
    p.n_globals = 0;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);
    p.globals = many;
    p.n_globals = AETHER_MAX_GLOBALS;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);

    /* Uninitialised configs are rejected by the pattern functions. */
    {
        aether_attn_config z;
        size_t out[4], n = 0;
        memset(&z, 0, sizeof z);
        CHECK_STATUS(aether_pattern_tokens(&z, 0, 1, out, 4, &n), AETHER_ERR_NOT_INITIALIZED);
        CHECK_STATUS(aether_pattern_blocks(&z, 0, 1, out, 4, &n), AETHER_ERR_NOT_INITIALIZED);
        CHECK_EQ_INT(aether_estimate_sparse_edges(&z, 10), 0);
        CHECK_EQ_INT(aether_pattern_max_tokens(&z, 10), 0);
    }
}

static void test_worked_examples(void)
{
    static const size_t g02[2] = {0, 2};
    aether_attn_config c = make_cfg(4, 4, g02, 2, 1, 1, 1);
    aether_attn_config nc = make_cfg(4, 4, g02, 2, 0, 1, 1);

    expect_lists(&c, 0, 32, (const int[]){0, -1}, (const int[]){-1});
    expect_lists(&c, 3, 32, (const int[]){0, 1, 2, 3, -1}, (const int[]){0, -1});
    expect_lists(&c, 7, 32, (const int[]){3, 4, 5, 6, 7, 0, 2, -1}, (const int[]){0, 1, -1});
    expect_lists(&c, 13, 32, (const int[]){9, 10, 11, 12, 13, 0, 2, 5, -1},
                 (const int[]){1, 2, 0, -1});
    expect_lists(&c, 20, 32, (const int[]){16, 17, 18, 19, 20, 0, 2, 12, 4, -1},
                 (const int[]){3, 4, 2, 0, -1});
    expect_lists(&c, 31, 32, (const int[]){27, 28, 29, 30, 31, 0, 2, 23, 15, -1},
                 (const int[]){6, 7, 5, 3, -1});

    expect_lists(&nc, 0, 32, (const int[]){0, 1, 2, 3, 4, 8, 16, -1}, (const int[]){1, 2, 4, -1});
    expect_lists(&nc, 5, 32, (const int[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 13, 21, -1},
                 (const int[]){0, 2, 3, 5, -1});
    expect_lists(&nc, 13, 32,
                 (const int[]){9, 10, 11, 12, 13, 14, 15, 16, 17, 0, 2, 5, 21, 29, -1},
                 (const int[]){2, 4, 1, 5, 7, -1});
    expect_lists(&nc, 31, 32, (const int[]){27, 28, 29, 30, 31, 0, 2, 23, 15, -1},
                 (const int[]){6, 5, 3, -1});
    expect_lists(&nc, 29, 30, (const int[]){25, 26, 27, 28, 29, 0, 2, 21, 13, -1},
                 (const int[]){6, 5, 3, -1});

    CHECK_EQ_INT(aether_estimate_sparse_edges(&c, 32), 326);
}

static void test_default_examples(void)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config c;
    size_t tok[LIST_CAP], blk[LIST_CAP], n = 0, nb = 0, j;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);

    CHECK_STATUS(aether_pattern_tokens(&c, 1023, 1024, tok, LIST_CAP, &n), AETHER_OK);
    CHECK_EQ_INT(n, 132);
    for (j = 0; j < 129; ++j)
        CHECK_EQ_INT(tok[j], 895 + j);
    CHECK_EQ_INT(tok[129], 0);
    CHECK_EQ_INT(tok[130], 767);
    CHECK_EQ_INT(tok[131], 511);
    CHECK_STATUS(aether_pattern_blocks(&c, 1023, 1024, blk, LIST_CAP, &nb), AETHER_OK);
    CHECK_EQ_INT(nb, 5);
    CHECK(nb == 5 && blk[0] == 14 && blk[1] == 15 && blk[2] == 13 && blk[3] == 11 && blk[4] == 7);

    CHECK_STATUS(aether_pattern_tokens(&c, 127, 1024, tok, LIST_CAP, &n), AETHER_OK);
    CHECK_EQ_INT(n, 128);
    CHECK_STATUS(aether_pattern_blocks(&c, 127, 1024, blk, LIST_CAP, &nb), AETHER_OK);
    CHECK(nb == 2 && blk[0] == 0 && blk[1] == 1);
}

static void test_list_errors(void)
{
    aether_attn_params p = aether_attn_params_default();
    aether_attn_config c;
    size_t tok[8] = {0}, n = 0;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);

    CHECK_STATUS(aether_pattern_tokens(NULL, 0, 1, tok, 8, &n), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_pattern_tokens(&c, 0, 1, tok, 8, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_pattern_tokens(&c, 0, 1, NULL, 8, &n), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_pattern_tokens(&c, 5, 5, tok, 8, &n), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_pattern_blocks(&c, 5, 5, tok, 8, &n), AETHER_ERR_INVALID_ARG);
    /* Too small: the needed length is reported and out is untouched. */
    tok[0] = 777;
    CHECK_STATUS(aether_pattern_tokens(&c, 200, 1024, tok, 8, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 129 + 1 + 0); /* window 72..200, global 0; strides all inside */
    CHECK_EQ_INT(tok[0], 777);
    CHECK_STATUS(aether_pattern_tokens(&c, 0, 1024, NULL, 0, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(n, 1);
    /* Landmarks off: empty block list, bound 0. */
    p.use_landmarks = 0;
    CHECK_STATUS(aether_attn_config_init(&c, &p), AETHER_OK);
    CHECK_STATUS(aether_pattern_blocks(&c, 1000, 1024, NULL, 0, &n), AETHER_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(aether_pattern_max_blocks(&c, 1024), 0);
}

static void test_sort(void)
{
    size_t a[200], i;
    size_t small[6] = {5, 1, 4, 1, 0, 9};
    aether_pattern_sort(small, 6);
    CHECK(small[0] == 0 && small[1] == 1 && small[2] == 1 && small[3] == 4 && small[4] == 5 &&
          small[5] == 9);
    for (i = 0; i < 200; ++i)
        a[i] = (i * 7919u) % 211u;
    aether_pattern_sort(a, 200);
    for (i = 1; i < 200; ++i)
        CHECK(a[i - 1] <= a[i]);
    aether_pattern_sort(NULL, 3); /* tolerated */
}

typedef struct golden_cand {
    const char *name;
    size_t window, block;
    size_t globals[2];
    size_t ng;
    int causal, log_stride;
    size_t seq;
    uint64_t total;
} golden_cand;

static int load_i32(const char *dir, const char *file, aether_npy *a)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", AETHER_GOLDEN_DIR, dir, file);
    if (aether_npy_load(path, a) != AETHER_OK || a->dtype != AETHER_DTYPE_I32) {
        fprintf(stderr, "cannot load %s\n", path);
        return -1;
    }
    return 0;
}

static void check_golden_case(const golden_cand *g)
{
    aether_attn_config c = make_cfg(g->window, g->block, g->globals, g->ng, g->causal,
                                    g->log_stride, 1);
    aether_npy tf, to, bf, bo;
    size_t got[LIST_CAP], i;
    uint64_t total = 0;
    int ok = 1;

    memset(&tf, 0, sizeof tf);
    memset(&to, 0, sizeof to);
    memset(&bf, 0, sizeof bf);
    memset(&bo, 0, sizeof bo);
    if (load_i32(g->name, "tok_flat.npy", &tf) || load_i32(g->name, "tok_offsets.npy", &to) ||
        load_i32(g->name, "blk_flat.npy", &bf) || load_i32(g->name, "blk_offsets.npy", &bo)) {
        CHECK_MSG(0, "%s: golden arrays missing", g->name);
        goto done;
    }
    CHECK_EQ_INT(to.count, g->seq + 1);
    CHECK_EQ_INT(bo.count, g->seq + 1);
    for (i = 0; i < g->seq && ok; ++i) {
        const int32_t *toff = (const int32_t *)to.data, *boff = (const int32_t *)bo.data;
        const int32_t *tflat = (const int32_t *)tf.data, *bflat = (const int32_t *)bf.data;
        size_t n = 0, a;
        CHECK_STATUS(aether_pattern_tokens(&c, i, g->seq, got, LIST_CAP, &n), AETHER_OK);
        if (n != (size_t)(toff[i + 1] - toff[i]))
            ok = 0;
        for (a = 0; ok && a < n; ++a)
            if (got[a] != (size_t)tflat[toff[i] + (int32_t)a])
                ok = 0;
        CHECK(n <= aether_pattern_max_tokens(&c, g->seq));
        total += n;
        CHECK_STATUS(aether_pattern_blocks(&c, i, g->seq, got, LIST_CAP, &n), AETHER_OK);
        if (n != (size_t)(boff[i + 1] - boff[i]))
            ok = 0;
        for (a = 0; ok && a < n; ++a)
            if (got[a] != (size_t)bflat[boff[i] + (int32_t)a])
                ok = 0;
        CHECK(n <= aether_pattern_max_blocks(&c, g->seq));
        total += n;
        CHECK_MSG(ok, "%s: query %zu differs", g->name, i);
    }
    CHECK_EQ_INT(total, g->total);
    CHECK_EQ_INT(aether_estimate_sparse_edges(&c, g->seq), g->total);
done:
    aether_npy_free(&tf);
    aether_npy_free(&to);
    aether_npy_free(&bf);
    aether_npy_free(&bo);
}

static void test_golden_candidates(void)
{
    REQUIRE_GOLDEN();
    static const golden_cand cases[] = {
        {"candidates_c_aether_w32_b16_g0_log_lm_s300", 32, 16, {0, 0}, 1, 1, 1, 300, 11302},
        {"candidates_c_w128_b64_g0_log_lm_s1000", 128, 64, {0, 0}, 1, 1, 1, 1000, 126570},
        {"candidates_c_w4_b16_g03_log_lm_sort_s257", 4, 16, {0, 3}, 2, 1, 1, 257, 3773},
        {"candidates_c_w8_b4_g0_log_lm_s100", 8, 4, {0, 0}, 1, 1, 1, 100, 1598},
        {"candidates_nc_w4_b1_g0_log_lm_s40", 4, 1, {0, 0}, 1, 0, 1, 40, 854},
        {"candidates_nc_w64_b64_gnone_lm_s257", 64, 64, {0, 0}, 0, 0, 0, 257, 29442},
        {"candidates_nc_w8_b4_g0_log_lm_s100", 8, 4, {0, 0}, 1, 0, 1, 100, 2844},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        check_golden_case(&cases[i]);
}

typedef struct edge_row {
    size_t seq;
    uint64_t edges;
} edge_row;

static void check_edges(const aether_attn_config *c, const edge_row *rows, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        CHECK_MSG(aether_estimate_sparse_edges(c, rows[i].seq) == rows[i].edges,
                  "seq %zu: %llu vs %llu", rows[i].seq,
                  (unsigned long long)aether_estimate_sparse_edges(c, rows[i].seq),
                  (unsigned long long)rows[i].edges);
}

static void test_edges(void)
{
    static const size_t g0[1] = {0}, g03[2] = {0, 3};
    /* edges/edges.json plus the docs/KERNELS.md section 12 vectors. */
    static const edge_row upstream[] = {{0, 0},         {1, 1},           {2, 3},
                                        {3, 6},         {8, 36},          {100, 5087},
                                        {1000, 126570}, {8192, 1146498},  {16384, 2334274},
                                        {512, 59778},   {1024, 129858},   {2048, 272130},
                                        {4096, 560834}, {32768, 4742658}, {65536, 9625026}};
    static const edge_row aether_def[] = {{0, 0},        {1, 1},         {2, 3},
                                          {3, 6},        {8, 36},        {100, 3102},
                                          {1000, 42362}, {8192, 400770}, {16384, 834930}};
    static const edge_row nc16[] = {{0, 0},        {1, 1},         {2, 4},
                                    {3, 9},        {8, 64},        {100, 3971},
                                    {1000, 54665}, {8192, 548619}, {16384, 1163017}};
    static const edge_row nolm[] = {{0, 0},        {1, 1},         {2, 3},
                                    {3, 6},        {8, 36},        {100, 1140},
                                    {1000, 14941}, {8192, 147418}, {16384, 311257}};
    static const edge_row default_nc[] = {{1, 1}, {100, 10100}, {512, 118142}};
    aether_attn_config c;

    c = make_cfg(128, 64, g0, 1, 1, 1, 1);
    check_edges(&c, upstream, sizeof upstream / sizeof upstream[0]);
    c = make_cfg(32, 16, g0, 1, 1, 1, 1);
    check_edges(&c, aether_def, sizeof aether_def / sizeof aether_def[0]);
    c = make_cfg(16, 8, g03, 2, 0, 1, 1);
    check_edges(&c, nc16, sizeof nc16 / sizeof nc16[0]);
    c = make_cfg(8, 4, g0, 1, 1, 1, 0);
    check_edges(&c, nolm, sizeof nolm / sizeof nolm[0]);
    c = make_cfg(128, 64, g0, 1, 0, 1, 1);
    check_edges(&c, default_nc, sizeof default_nc / sizeof default_nc[0]);
}

/* Duplicate and out-of-range globals are legal and never duplicate a key. */
static void test_globals_dedup(void)
{
    static const size_t g[5] = {3, 50, 3, 0, 200};
    aether_attn_config c = make_cfg(2, 8, g, 5, 1, 1, 1);
    aether_attn_config nc = make_cfg(2, 8, g, 5, 0, 1, 1);
    /* causal i=40, seq 100: window 38..40, globals 3, 0 (50 is future,
     * 200 out of range), strides 39 38 dup, 36, 32, 24, 8 */
    expect_lists(&c, 40, 100, (const int[]){38, 39, 40, 3, 0, 36, 32, 24, 8, -1},
                 (const int[]){3, 4, 2, 0, -1});
    /* non-causal i=48 seq 100: window 46..50, globals 3, 50 (in window), 0;
     * strides 47,49 / 46,50 dup / 44,52 / 40,56 / 32,64 / 16,80 / (none),- */
    expect_lists(&nc, 48, 100,
                 (const int[]){46, 47, 48, 49, 50, 3, 0, 44, 52, 40, 56, 32, 64, 16, 80, -1},
                 (const int[]){5, 7, 4, 8, 2, 10, -1});
}

static void test_huge_window(void)
{
    static const size_t g0[1] = {0};
    aether_attn_config c = make_cfg(SIZE_MAX / 2, 4, g0, 1, 0, 1, 1);
    aether_attn_config cmax = make_cfg(SIZE_MAX, 4, g0, 1, 0, 1, 0);
    size_t tok[64], n = 0, j;
    int ok = 1;

    /* Non-causal i+W would wrap without saturation. */
    CHECK_STATUS(aether_pattern_tokens(&c, 10, 40, tok, 64, &n), AETHER_OK);
    CHECK_EQ_INT(n, 40);
    for (j = 0; j < n; ++j)
        ok &= tok[j] == j;
    CHECK(ok);
    CHECK_STATUS(aether_pattern_tokens(&cmax, 39, 40, tok, 64, &n), AETHER_OK);
    CHECK_EQ_INT(n, 40);
    CHECK_EQ_INT(aether_pattern_max_tokens(&cmax, 40), 40);
    CHECK_EQ_INT(aether_pattern_max_tokens(&c, SIZE_MAX), SIZE_MAX);
    /* Dense count: window covers everything, nothing else is new. */
    CHECK_EQ_INT(aether_estimate_sparse_edges(&cmax, 40), 40 * 40);
    /* Landmarks on: all tokens plus, per block of 4 queries, the blocks at
     * distance 1, 2, 4, 8 (50 over the 10 blocks). */
    CHECK_EQ_INT(aether_estimate_sparse_edges(&c, 40), 40 * 40 + 4 * 50);
    /* Causal huge window at a huge seq (i near SIZE_MAX). */
    {
        aether_attn_config cc = make_cfg(SIZE_MAX, 4, g0, 1, 1, 1, 1);
        size_t blk[256], nb = 0;
        CHECK_STATUS(aether_pattern_tokens(&cc, 5, SIZE_MAX, tok, 64, &n), AETHER_OK);
        CHECK_EQ_INT(n, 6);
        CHECK_STATUS(aether_pattern_blocks(&cc, SIZE_MAX - 1, SIZE_MAX, blk, 256, &nb),
                     AETHER_OK);
        CHECK(nb >= 2 && nb <= aether_pattern_max_blocks(&cc, SIZE_MAX));
        CHECK_EQ_INT(blk[1], (SIZE_MAX) / 4 - 1);
    }
}

/* Bounds hold for every query over a spread of configs; the estimate equals
 * the sum of the list lengths. */
static void test_bounds_sweep(void)
{
    static const size_t g[3] = {0, 7, 7};
    static const size_t windows[4] = {0, 1, 5, 33};
    static const size_t blocks[3] = {1, 3, 16};
    size_t wi, bi, mode, seq, i;
    size_t tok[LIST_CAP], blk[LIST_CAP];
    int ok = 1;
    for (wi = 0; wi < 4; ++wi)
        for (bi = 0; bi < 3; ++bi)
            for (mode = 0; mode < 4; ++mode)
                for (seq = 1; seq <= 70; seq += 23) {
                    aether_attn_config c = make_cfg(windows[wi], blocks[bi], g, 3,
                                                    (int)(mode & 1), (int)(mode >> 1), 1);
                    size_t mt = aether_pattern_max_tokens(&c, seq);
                    size_t mb = aether_pattern_max_blocks(&c, seq);
                    uint64_t sum = 0;
                    for (i = 0; i < seq; ++i) {
                        size_t nt = 0, nb = 0, a, b2;
                        ok &= aether_pattern_tokens(&c, i, seq, tok, LIST_CAP, &nt) == AETHER_OK;
                        ok &= aether_pattern_blocks(&c, i, seq, blk, LIST_CAP, &nb) == AETHER_OK;
                        ok &= nt <= mt && nb <= mb;
                        /* duplicate-free, in range, causal never looks ahead */
                        for (a = 0; a < nt; ++a) {
                            ok &= tok[a] < seq;
                            if (mode & 1)
                                ok &= tok[a] <= i;
                            for (b2 = 0; b2 < a; ++b2)
                                ok &= tok[a] != tok[b2];
                        }
                        for (a = 0; a < nb; ++a)
                            for (b2 = 0; b2 < a; ++b2)
                                ok &= blk[a] != blk[b2];
                        sum += nt + nb;
                    }
                    ok &= sum == aether_estimate_sparse_edges(&c, seq);
                }
    CHECK(ok);
}

TEST_MAIN(test_config, test_worked_examples, test_default_examples, test_list_errors, test_sort,
          test_golden_candidates, test_edges, test_globals_dedup, test_huge_window,
          test_bounds_sweep)
