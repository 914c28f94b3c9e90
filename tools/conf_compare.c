/* The conformance comparator (conf_compare.h). */
#include "conf_compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "aether/core.h"

void conf_fail(conf_result *r, const char *fmt, ...)
{
    va_list ap;
    r->verdict = CONF_FAIL;
    if (r->note[0])
        return;
    va_start(ap, fmt);
    vsnprintf(r->note, sizeof r->note, fmt, ap);
    va_end(ap);
}

void conf_finish(conf_result *r)
{
    if (r->verdict != CONF_FAIL)
        r->verdict = CONF_PASS;
}

double conf_contract_bound(double scale, double ref)
{
    return 1e-6 * scale * scale + 2e-6 * fabs(ref);
}

/* > 0: the input scale s of the contract; 0: bit for bit. */
static double g_scale;

void conf_set_contract(double scale)
{
    g_scale = scale > 0.0 && isfinite(scale) ? scale : 0.0;
}

int conf_compare(const float *got, const float *want, size_t n, int exact, double tol,
                 const char *what, conf_result *r)
{
    size_t i, bad = 0, first = 0;
    int contract = exact && g_scale > 0.0;
    if (n && (!got || !want)) {
        conf_fail(r, "%s: missing data", what);
        return 0;
    }
    for (i = 0; i < n; ++i) {
        uint32_t gb = aether_f32_bits(got[i]), wb = aether_f32_bits(want[i]);
        int gnan = got[i] != got[i], wnan = want[i] != want[i];
        double diff;
        int ok;
        if (gnan || wnan) {
            /* NaN never matches within a tolerance; bitwise it may. */
            ok = exact && gnan && wnan && (gb == wb || contract);
            diff = ok ? 0.0 : HUGE_VAL;
        } else {
            /* The difference of two finite floats is exact in double. */
            diff = got[i] == want[i] ? 0.0 : fabs((double)got[i] - (double)want[i]);
            if (contract && (isinf(got[i]) || isinf(want[i])))
                ok = got[i] == want[i]; /* the bound is not defined there */
            else if (contract)
                ok = diff <= conf_contract_bound(g_scale, (double)want[i]);
            else if (exact)
                ok = gb == wb;
            else
                ok = diff <= tol;
        }
        if (diff > r->max_abs_err)
            r->max_abs_err = diff;
        if (!ok && bad++ == 0)
            first = i;
    }
    if (bad) {
        conf_fail(r, "%s: %lu of %lu differ, first [%lu] got %.9g (0x%08lx) want %.9g (0x%08lx)",
                  what, (unsigned long)bad, (unsigned long)n, (unsigned long)first,
                  (double)got[first], (unsigned long)aether_f32_bits(got[first]),
                  (double)want[first], (unsigned long)aether_f32_bits(want[first]));
        return 0;
    }
    return 1;
}
