/*
 * The accuracy contract of the reduced K/V cache storages
 * (include/aether/kvcache.h, aether_kv_storage), shared by the tests that
 * check it: the bound on |out - out_f32| per output element for inputs
 * with |q| <= sq, |k| <= sk, |v| <= sv and head dim d.
 */
#ifndef AETHER_TESTS_KV_PREC_BOUND_H
#define AETHER_TESTS_KV_PREC_BOUND_H

#include <math.h>
#include <stddef.h>

#include "aether/kvcache.h"

/* Per stored element: |stored - x| <= eps * s + eta. */
static inline void kv_prec_eps(aether_kv_storage st, double *eps, double *eta)
{
    switch (st) {
    case AETHER_KV_F16:
        *eps = ldexp(1.0, -11);
        *eta = ldexp(1.0, -25);
        break;
    case AETHER_KV_BF16:
        *eps = ldexp(1.0, -8);
        *eta = ldexp(1.0, -133);
        break;
    case AETHER_KV_I8:
        *eps = 1.0 / 127.0;
        *eta = ldexp(1.0, -16);
        break;
    default:
        *eps = 0.0;
        *eta = 0.0;
        break;
    }
}

static inline double kv_prec_bound(aether_kv_storage st, size_t d, double sq, double sk,
                                   double sv)
{
    double eps, eta;
    kv_prec_eps(st, &eps, &eta);
    return (eps * sv + eta) + sv * expm1(2.0 * sqrt((double)d) * sq * (eps * sk + eta));
}

#endif /* AETHER_TESTS_KV_PREC_BOUND_H */
