/*
 * Candidate lists of a query (docs/KERNELS.md section 5) and the edge
 * estimate (docs/KERNELS.md section 12).
 *
 * The reference de-duplicates with an O(seq) stamp array. The lists have
 * enough structure to do without one:
 *   - the window is one contiguous range [lo, hi];
 *   - a global is new unless it lies in that range or repeats an earlier
 *     global (repeats are removed once per call, see unique_globals);
 *   - log-stride offsets i-s / i+s are pairwise distinct, so each one only
 *     needs checking against the window range and the globals;
 *   - block lists are a local range plus pairwise distinct stride blocks.
 * All index arithmetic is overflow-free (i+W saturates, strides stop before
 * doubling past SIZE_MAX).
 *
 * Reference semantics are kept on purpose (docs/KERNELS.md section 5.5): the window
 * is a radius (W+1 keys causal, up to 2W+1 non-causal); landmark blocks that
 * overlap the window are still visited, so their keys count twice; hence a
 * window covering the whole sequence equals dense attention only with
 * landmarks (and, for clarity, log-stride) turned off.
 */
#include "aether/pattern.h"
#include "pattern/pattern_fill.h"

#include <stdint.h>
#include <string.h>

/* Collects indices into out[0..cap) while counting all of them, so a single
 * routine serves both the list builders and the counting-only estimate. */
typedef struct sink {
    size_t *out; /* NULL: count only */
    size_t cap;
    size_t n;
} sink;

static void sink_put(sink *s, size_t x)
{
    if (s->out && s->n < s->cap)
        s->out[s->n] = x;
    s->n++;
}

/* Appends the contiguous run lo..hi (lo <= hi); counting costs O(1). */
static void sink_range(sink *s, size_t lo, size_t hi)
{
    size_t width = hi - lo + 1;
    if (s->out) {
        size_t room = s->n < s->cap ? s->cap - s->n : 0;
        size_t j, m = width < room ? width : room;
        for (j = 0; j < m; ++j)
            s->out[s->n + j] = lo + j;
    }
    s->n += width;
}

static size_t next_stride(size_t s)
{
    return s > SIZE_MAX / 2 ? 0 : s * 2; /* 0 ends the stride loop */
}

/* The globals in config order without repeats (first occurrence kept).
 * Dropping a later repeat never changes a list: its first copy was either
 * appended or rejected for the same reason. */
static size_t unique_globals(const aether_attn_config *cfg, size_t *g)
{
    size_t a, b, n = 0;
    for (a = 0; a < cfg->n_globals; ++a) {
        for (b = 0; b < n; ++b)
            if (g[b] == cfg->globals[a])
                break;
        if (b == n)
            g[n++] = cfg->globals[a];
    }
    return n;
}

static int in_list(const size_t *g, size_t n, size_t x)
{
    size_t a;
    for (a = 0; a < n; ++a)
        if (g[a] == x)
            return 1;
    return 0;
}

static void emit_tokens(const aether_attn_config *cfg, const size_t *ug, size_t nug, size_t i,
                        size_t seq, sink *s)
{
    size_t lo = i >= cfg->window ? i - cfg->window : 0;
    size_t hi, a, st;

    if (cfg->causal)
        hi = i;
    else
        hi = cfg->window >= seq - 1 - i ? seq - 1 : i + cfg->window;
    sink_range(s, lo, hi);

    for (a = 0; a < nug; ++a) {
        size_t g = ug[a];
        if (g >= seq || (cfg->causal && g > i) || (g >= lo && g <= hi))
            continue;
        sink_put(s, g);
    }

    if (!cfg->use_log_stride)
        return;
    /* A stride key equal to a global is always one that was appended (it is
     * < seq and, causal, <= i), so "is a global" means "already present". */
    for (st = 1; st != 0 && st < seq; st = next_stride(st)) {
        if (i >= st) {
            size_t c = i - st;
            if ((c < lo || c > hi) && !in_list(ug, nug, c))
                sink_put(s, c);
        }
        if (!cfg->causal && st < seq - i) {
            size_t c = i + st;
            if ((c < lo || c > hi) && !in_list(ug, nug, c))
                sink_put(s, c);
        }
    }
}

static void emit_blocks(const aether_attn_config *cfg, size_t i, size_t seq, sink *s)
{
    size_t nb, cur, pivot, lo, hi, b, st;

    if (!cfg->use_landmarks || seq == 0)
        return;
    nb = aether_ceil_div(seq, cfg->block_size);
    cur = i / cfg->block_size;

    if (cfg->causal) {
        /* Only complete blocks ending at or before i are visible. */
        size_t avail = (i + 1) / cfg->block_size;
        if (avail == 0)
            return;
        pivot = avail - 1;
        lo = pivot > 0 ? pivot - 1 : 0;
        sink_range(s, lo, pivot);
        if (!cfg->use_log_stride)
            return;
        for (st = 1; st != 0 && st < nb; st = next_stride(st))
            if (pivot >= st && pivot - st < lo)
                sink_put(s, pivot - st);
        return;
    }

    /* Non-causal: the query's own block is never a candidate. */
    pivot = cur < nb - 1 ? cur : nb - 1;
    lo = pivot > 0 ? pivot - 1 : 0;
    hi = pivot + 1 < nb ? pivot + 1 : nb - 1;
    for (b = lo; b <= hi; ++b)
        if (b != cur)
            sink_put(s, b);
    if (!cfg->use_log_stride)
        return;
    for (st = 1; st != 0 && st < nb; st = next_stride(st)) {
        if (pivot >= st) {
            size_t c = pivot - st;
            if (c != cur && c < lo)
                sink_put(s, c);
        }
        if (st < nb - pivot) {
            size_t c = pivot + st;
            if (c != cur && c > hi)
                sink_put(s, c);
        }
    }
}

/* Number of strides 1, 2, 4, ... below n. */
static size_t stride_count(size_t n)
{
    size_t st, c = 0;
    for (st = 1; st != 0 && st < n; st = next_stride(st))
        ++c;
    return c;
}

static size_t sat_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t aether_pattern_max_tokens(const aether_attn_config *cfg, size_t seq)
{
    size_t win, strides, total;
    if (aether_attn_config_check(cfg) != AETHER_OK || seq == 0)
        return 0;
    win = sat_add(cfg->window, 1);
    if (!cfg->causal)
        win = sat_add(win, cfg->window);
    strides = cfg->use_log_stride ? stride_count(seq) : 0;
    if (!cfg->causal)
        strides = sat_add(strides, strides);
    total = sat_add(sat_add(win, cfg->n_globals), strides);
    /* Every list is a duplicate-free subset of [0, seq). */
    return total < seq ? total : seq;
}

size_t aether_pattern_max_blocks(const aether_attn_config *cfg, size_t seq)
{
    size_t nb, total;
    if (aether_attn_config_check(cfg) != AETHER_OK || seq == 0 || !cfg->use_landmarks)
        return 0;
    nb = aether_ceil_div(seq, cfg->block_size);
    total = cfg->use_log_stride ? stride_count(nb) : 0;
    if (!cfg->causal)
        total *= 2; /* at most 2 * bits(size_t): cannot overflow */
    total += 2;     /* local blocks: pivot-1, pivot (or the two neighbours) */
    return total < nb ? total : nb;
}

static aether_status check_query(const aether_attn_config *cfg, size_t i, size_t seq,
                                 const size_t *out, size_t cap, const size_t *n_out)
{
    aether_status st;
    if (!cfg || !n_out || (!out && cap > 0))
        return AETHER_ERR_NULL_ARG;
    st = aether_attn_config_check(cfg);
    if (st != AETHER_OK)
        return st;
    if (i >= seq)
        return AETHER_ERR_INVALID_ARG;
    return AETHER_OK;
}

/* On AETHER_ERR_BUFFER_TOO_SMALL, *n_out receives the needed length and
 * `out` is left untouched (the count is taken before anything is written). */
aether_status aether_pattern_tokens(const aether_attn_config *cfg, size_t i, size_t seq,
                                    size_t *out, size_t cap, size_t *n_out)
{
    size_t ug[AETHER_MAX_GLOBALS], nug;
    sink count = {NULL, 0, 0}, fill;
    aether_status st = check_query(cfg, i, seq, out, cap, n_out);
    if (st != AETHER_OK)
        return st;
    nug = unique_globals(cfg, ug);
    emit_tokens(cfg, ug, nug, i, seq, &count);
    *n_out = count.n;
    if (count.n > cap)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    fill.out = out;
    fill.cap = cap;
    fill.n = 0;
    emit_tokens(cfg, ug, nug, i, seq, &fill);
    return AETHER_OK;
}

aether_status aether_pattern_blocks(const aether_attn_config *cfg, size_t i, size_t seq,
                                    size_t *out, size_t cap, size_t *n_out)
{
    sink count = {NULL, 0, 0}, fill;
    aether_status st = check_query(cfg, i, seq, out, cap, n_out);
    if (st != AETHER_OK)
        return st;
    emit_blocks(cfg, i, seq, &count);
    *n_out = count.n;
    if (count.n > cap)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    fill.out = out;
    fill.cap = cap;
    fill.n = 0;
    emit_blocks(cfg, i, seq, &fill);
    return AETHER_OK;
}

void aether_pattern_tokens_fill_(const aether_attn_config *cfg, size_t i, size_t seq, size_t *out,
                                 size_t cap, size_t *n_out)
{
    size_t ug[AETHER_MAX_GLOBALS], nug = unique_globals(cfg, ug);
    sink fill;
    fill.out = out;
    fill.cap = cap;
    fill.n = 0;
    emit_tokens(cfg, ug, nug, i, seq, &fill);
    *n_out = fill.n;
}

void aether_pattern_blocks_fill_(const aether_attn_config *cfg, size_t i, size_t seq, size_t *out,
                                 size_t cap, size_t *n_out)
{
    sink fill;
    fill.out = out;
    fill.cap = cap;
    fill.n = 0;
    emit_blocks(cfg, i, seq, &fill);
    *n_out = fill.n;
}

static void sift_down(size_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1, t;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            ++child;
        if (a[root] >= a[child])
            return;
        t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Insertion sort for short lists (candidate lists are mostly ascending
 * already); heapsort keeps long ones O(n log n) without recursion. */
void aether_pattern_sort(size_t *idx, size_t n)
{
    size_t a;
    if (!idx || n < 2)
        return;
    if (n <= 48) {
        for (a = 1; a < n; ++a) {
            size_t x = idx[a], b = a;
            while (b > 0 && idx[b - 1] > x) {
                idx[b] = idx[b - 1];
                --b;
            }
            idx[b] = x;
        }
        return;
    }
    for (a = n / 2; a-- > 0;)
        sift_down(idx, a, n);
    for (a = n - 1; a > 0; --a) {
        size_t t = idx[0];
        idx[0] = idx[a];
        idx[a] = t;
        sift_down(idx, 0, a);
    }
}

uint64_t aether_estimate_sparse_edges(const aether_attn_config *cfg, size_t seq)
{
    size_t ug[AETHER_MAX_GLOBALS], nug, i;
    uint64_t total = 0;
    if (aether_attn_config_check(cfg) != AETHER_OK || seq == 0)
        return 0;
    nug = unique_globals(cfg, ug);
    for (i = 0; i < seq; ++i) {
        sink s = {NULL, 0, 0};
        emit_tokens(cfg, ug, nug, i, seq, &s);
        emit_blocks(cfg, i, seq, &s);
        total += (uint64_t)s.n;
    }
    return total;
}
