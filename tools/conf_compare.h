/*
 * The conformance runner's verdicts and its float comparator, apart from the
 * case loading (no JSON here), so that a unit test can compile them in.
 *
 * Two ways to compare an output with its golden array:
 *   - bit for bit: the scalar reference kernels are the definition and must
 *     reproduce the goldens exactly (`aether conformance --reference`, or
 *     whenever the active kernels are the reference);
 *   - the accuracy contract of the optimised kernels (include/aether/dispatch.h),
 *     per element, for inputs of scale s:
 *         |fast - ref| <= 1e-6 * s^2 + 2e-6 * |ref|
 *     selected for a case by conf_set_contract(s) with s > 0.
 */
#ifndef AETHER_TOOLS_CONF_COMPARE_H
#define AETHER_TOOLS_CONF_COMPARE_H

#include <stddef.h>

enum { CONF_PASS = 0, CONF_FAIL = 1, CONF_SKIP = 2 };

typedef struct conf_result {
    int verdict;        /* CONF_PASS / CONF_FAIL / CONF_SKIP */
    double max_abs_err; /* largest |aether - golden| over all compared arrays */
    char note[256];     /* short reason for FAIL/SKIP (optional) */
} conf_result;

/* Record a failure in r; the first note wins because it is usually the cause. */
void conf_fail(conf_result *r, const char *fmt, ...);
/* PASS unless something recorded a FAIL. */
void conf_finish(conf_result *r);

/* The contract's bound on |fast - ref| for one element: 1e-6 s^2 + 2e-6 |ref|. */
double conf_contract_bound(double scale, double ref);

/* How the "exact" comparisons of the following cases are made: scale > 0
 * holds them to the contract for inputs of that scale; 0 (the start) to
 * bit-for-bit equality. */
void conf_set_contract(double scale);

/* Compare n floats: updates r->max_abs_err; returns 1 if all are within,
 * else 0 with a FAIL note naming the first difference. exact: bit for bit,
 * or the contract after conf_set_contract(s > 0) (NaN matches NaN of any
 * payload there); not exact: |got - want| <= tol (NaN never matches). */
int conf_compare(const float *got, const float *want, size_t n, int exact, double tol,
                 const char *what, conf_result *r);

#endif
