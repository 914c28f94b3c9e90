/*
 * The K/V cache precisions of `aether bench`'s decode sections: the
 * streaming step (aether_kvcache_append + aether_kvcache_decode_step) over
 * caches of every storage (f32, f16, bf16, int8) at T = 1k, 15k and 256k
 * tokens, optimised and reference kernels. For each T the four caches
 * hold the same rows and are timed in interleaved rounds (storage after
 * storage, fast then reference, round after round), so the ratios to f32
 * are measured side by side.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_kv.h"
#include "bench_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/kvcache.h"
#include "aether/tensor.h"

#define KV_NST BENCH_KV_NST
#define KV_REPS 100
#define KV_MAXR 16

static const aether_kv_storage k_st[KV_NST] = {AETHER_KV_F32, AETHER_KV_F16, AETHER_KV_BF16,
                                               AETHER_KV_I8};
static const char *const k_st_name[KV_NST] = {"f32", "f16", "bf16", "int8"};

/* Rows in [-1, 1) from a fixed xorshift (the same rows for every cache). */
static void kv_fill(float *x, size_t n, unsigned long long *rng)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        x[i] = (float)(*rng >> 40) / (float)(1u << 23) - 1.0f;
    }
}

/* The decode shapes of the two sections. */
typedef struct kv_shape {
    const char *tag; /* CSV / JSON section prefix */
    size_t qh, kvh, dim, window, block;
} kv_shape;

static const kv_shape k_shapes[2] = {{"8x64", 8, 8, 64, 128, 64}, {"temporal", 4, 1, 32, 32, 16}};

/* Steps of one timing: KV_REPS appends + decodes on cache c, mode m. */
static double kv_time(aether_kvcache *c, const aether_attn_config *cfg, aether_tensor *q1,
                      aether_tensor *o1, const float *rows, size_t nrows, size_t row,
                      size_t *next, aether_kernel_mode m, int wall)
{
    aether_tensor k1, v1;
    double t0;
    int r;
    k1 = *q1;
    k1.heads = aether_kvcache_kv_heads(c);
    v1 = k1;
    aether_set_kernel_mode(m);
    t0 = bench_clock_s(wall);
    for (r = 0; r < KV_REPS; ++r) {
        size_t a = (*next)++ % (nrows - 1);
        k1.data = (float *)rows + a * row;
        v1.data = (float *)rows + (a + 1) * row;
        aether_kvcache_append(c, &k1, &v1);
        aether_kvcache_decode_step(cfg, q1, c, o1);
    }
    t0 = bench_clock_s(wall) - t0;
    aether_set_kernel_mode(AETHER_KERNELS_AUTO);
    return t0 / KV_REPS;
}

int bench_kv_run(int which, int quick, int wall, FILE *fc, FILE *fj, int *first,
                 bench_kv_result *res)
{
    static const size_t Ts[BENCH_KV_NT] = {1000, 15000, 262144};
    const kv_shape *sh = &k_shapes[which ? 1 : 0];
    int rounds = quick ? 5 : 11, ref_rounds = quick ? 1 : 3;
    size_t row = sh->kvh * sh->dim, chunk = 4096, ti;
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    static const size_t g0[1] = {0};
    float *rows = malloc(chunk * row * sizeof(float));
    aether_tensor q1, o1;
    unsigned long long rng = 0x9E3779B97F4A7C15ull;
    if (res) {
        memset(res, 0, sizeof *res);
        for (ti = 0; ti < BENCH_KV_NT; ++ti)
            res->T[ti] = (unsigned long)Ts[ti];
        for (ti = 0; ti < KV_NST; ++ti)
            res->storage[ti] = k_st_name[ti];
    }
    if (!rows)
        return 1;
    ap.window = sh->window;
    ap.block_size = sh->block;
    ap.globals = g0;
    ap.n_globals = 1;
    aether_attn_config_init(&cfg, &ap);
    kv_fill(rows, chunk * row, &rng);
    if (aether_tensor_zeros(&q1, 1, sh->qh, sh->dim) != AETHER_OK ||
        aether_tensor_zeros(&o1, 1, sh->qh, sh->dim) != AETHER_OK) {
        free(rows);
        return 1;
    }
    kv_fill(q1.data, sh->qh * sh->dim, &rng);
    printf("  cache precisions (same rows, interleaved rounds; x = time / f32's):\n");
    for (ti = 0; ti < BENCH_KV_NT; ++ti) {
        size_t T = Ts[ti], next[KV_NST], s, done;
        aether_kvcache *c[KV_NST] = {NULL, NULL, NULL, NULL};
        double tf[KV_NST][KV_MAXR], tr[KV_NST][KV_MAXR], mf[KV_NST], mr[KV_NST];
        int r, ok = 1;
        for (s = 0; s < KV_NST && ok; ++s) {
            aether_kvcache_params p =
                aether_kvcache_params_default(&cfg, T + (size_t)(rounds + ref_rounds) * KV_REPS,
                                              sh->kvh, sh->dim);
            aether_tensor k, v;
            p.storage = k_st[s];
            if (aether_kvcache_create(&p, &c[s]) != AETHER_OK) {
                ok = 0;
                break;
            }
            /* The prefill: the chunk of rows over and over (K and V offset
             * by one row). */
            for (done = 0; done < T && ok;) {
                size_t m = T - done < chunk - 1 ? T - done : chunk - 1;
                if (aether_tensor_view(&k, rows, m * row, m, sh->kvh, sh->dim) != AETHER_OK ||
                    aether_tensor_view(&v, rows + row, m * row, m, sh->kvh, sh->dim) !=
                        AETHER_OK ||
                    aether_kvcache_append_all(c[s], &k, &v) != AETHER_OK)
                    ok = 0;
                done += m;
            }
            next[s] = 0;
        }
        for (r = 0; r < rounds && ok; ++r)
            for (s = 0; s < KV_NST; ++s) {
                tf[s][r] = kv_time(c[s], &cfg, &q1, &o1, rows, chunk, row, &next[s],
                                   AETHER_KERNELS_AUTO, wall);
                if (r < ref_rounds)
                    tr[s][r] = kv_time(c[s], &cfg, &q1, &o1, rows, chunk, row, &next[s],
                                       AETHER_KERNELS_REFERENCE, wall);
            }
        for (s = 0; s < KV_NST; ++s)
            aether_kvcache_destroy(c[s]);
        if (!ok) {
            printf("  T=%-7lu (caches could not be built)\n", (unsigned long)T);
            continue;
        }
        for (s = 0; s < KV_NST; ++s) {
            mf[s] = bench_median(tf[s], rounds);
            mr[s] = bench_median(tr[s], ref_rounds);
            if (res) {
                res->fast_s[ti][s] = mf[s];
                res->reference_s[ti][s] = mr[s];
            }
        }
        printf("  T=%-7lu", (unsigned long)T);
        for (s = 0; s < KV_NST; ++s)
            printf("  %s %6.2f (%.2fx) ref %7.2f (%.2fx)", k_st_name[s], mf[s] * 1e6,
                   mf[s] / mf[0], mr[s] * 1e6, mr[s] / mr[0]);
        printf("\n");
        for (s = 0; s < KV_NST; ++s) {
            if (fc)
                fprintf(fc, "decode_%s_%s,T,%lu,%.9g,%.9g,,,%.3f\n", sh->tag, k_st_name[s],
                        (unsigned long)T, mf[s], mr[s], mr[s] / mf[s]);
            if (fj)
                fprintf(fj,
                        "%s{\"section\":\"decode_%s_kv\",\"storage\":\"%s\",\"T\":%lu,"
                        "\"fast_s\":%.9g,\"reference_s\":%.9g,\"fast_vs_f32\":%.4f,"
                        "\"reference_vs_f32\":%.4f}",
                        *first ? "" : ",\n", sh->tag, k_st_name[s], (unsigned long)T, mf[s],
                        mr[s], mf[s] / mf[0], mr[s] / mr[0]);
            if (fj)
                *first = 0;
        }
    }
    aether_tensor_free(&q1);
    aether_tensor_free(&o1);
    free(rows);
    return 0;
}
