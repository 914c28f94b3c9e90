/* Deterministic random numbers for initialisation, shuffling and
 * augmentation (xorshift64*, the generator the demo blob uses). */
#include "train/train_internal.h"

#include <math.h>

void aether_train_rng_seed_(aether_train_rng *r, uint64_t seed)
{
    /* splitmix step so that nearby seeds give unrelated streams, and the
     * state is never the fixed point 0 */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t aether_train_rng_next_(aether_train_rng *r)
{
    uint64_t s = r->s;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    r->s = s;
    return s * 2685821657736338717ull;
}

double aether_train_rng_unit_(aether_train_rng *r)
{
    return (double)(aether_train_rng_next_(r) >> 11) * (1.0 / 9007199254740992.0);
}

double aether_train_rng_normal_(aether_train_rng *r)
{
    /* Box-Muller; u1 in (0, 1] keeps the log finite */
    double u1 = 1.0 - aether_train_rng_unit_(r);
    double u2 = aether_train_rng_unit_(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

size_t aether_train_rng_below_(aether_train_rng *r, size_t n)
{
    return (size_t)(aether_train_rng_unit_(r) * (double)n) % n;
}

void aether_train_matvec_(const float *x, size_t rows, const float *w, size_t cols, float *y)
{
    size_t i, j;
    for (j = 0; j < cols; ++j)
        y[j] = 0.0f;
    for (i = 0; i < rows; ++i) {
        const float xi = x[i];
        const float *wr = w + i * cols;
        for (j = 0; j < cols; ++j)
            y[j] = y[j] + xi * wr[j];
    }
}
