/* The calibration keys' decimal numbers (aether/blob.h: [digits][.digits]
 * [e[+-]digits], at least one digit) are read whatever their length: a
 * long mantissa or an exponent with leading zeros is the same number, and
 * a value in range is accepted, one outside refused, by both the typed
 * reader and the calibration-only reader. */
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "check.h"

/* The demo blob with `text` as its metadata (malloc'd, *len bytes). */
static unsigned char *blob_with(const char *text, size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v;
    size_t n = 0, mn = 0;
    unsigned char *f = NULL, *out = NULL;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(f = (unsigned char *)malloc(n)))
        return NULL;
    if (aether_blob_demo_write(&p, f, n, NULL) == AETHER_OK &&
        aether_blob_parse(f, n, &v) == AETHER_OK &&
        aether_blob_with_metadata_size(&v, strlen(text), &mn) == AETHER_OK &&
        (out = (unsigned char *)malloc(mn)) != NULL &&
        aether_blob_with_metadata(&v, text, strlen(text), out, mn, len) != AETHER_OK) {
        free(out);
        out = NULL;
    }
    free(f);
    return out;
}

static void test_long_decimals(void)
{
    static const struct {
        const char *text;
        aether_status want;
        float temperature, unknown_below;
    } cases[] = {
        /* 45 mantissa digits */
        {"temperature=2.50000000000000000000000000000000000000000000\n", AETHER_OK, 2.5f, 0},
        {"temperature=000000000000000000000000000000000000000000002.5\n", AETHER_OK, 2.5f, 0},
        /* exponent with leading zeros */
        {"temperature=25e-00001\n", AETHER_OK, 2.5f, 0},
        {"unknown_below=5e-000000000000000001\n", AETHER_OK, 0, 0.5f},
        {"unknown_below=0.75E+0000000\n", AETHER_OK, 0, 0.75f},
        /* long but out of range: refused with the key's status */
        {"temperature=2.5e000000000000000000000000000000000000000009\n",
         AETHER_ERR_BLOB_TEMPERATURE, 0, 0},
        {"temperature=1e-99999999\n", AETHER_ERR_BLOB_TEMPERATURE, 0, 0},
        {"temperature=1e99999999\n", AETHER_ERR_BLOB_TEMPERATURE, 0, 0},
        {"unknown_below=1.000000000000000000000000000000000000000000000\n", AETHER_OK, 0, 1.0f},
        {"unknown_below=1.0000000000001\n", AETHER_ERR_BLOB_THRESHOLD, 0, 0},
        /* not a decimal number */
        {"temperature=2.5e\n", AETHER_ERR_BLOB_TEMPERATURE, 0, 0},
        {"temperature=.\n", AETHER_ERR_BLOB_TEMPERATURE, 0, 0},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        size_t len = 0;
        unsigned char *b = blob_with(cases[i].text, &len);
        aether_blob_view v;
        aether_blob_model_meta *m = (aether_blob_model_meta *)malloc(sizeof *m);
        aether_blob_calibration c;
        aether_status st;
        if (!b || !m || aether_blob_parse(b, len, &v) != AETHER_OK) {
            CHECK_MSG(0, "fixture %s", cases[i].text);
            free(b);
            free(m);
            continue;
        }
        st = aether_blob_model_meta_read(&v, m);
        CHECK_MSG(st == cases[i].want, "%s: %s, want %s", cases[i].text, aether_strerror(st),
                  aether_strerror(cases[i].want));
        st = aether_blob_model_calibration(&v, &c);
        CHECK_MSG(st == cases[i].want, "%s (calibration): %s", cases[i].text,
                  aether_strerror(st));
        if (st == AETHER_OK && cases[i].want == AETHER_OK) {
            if (cases[i].temperature > 0) {
                CHECK(c.have_temperature && c.temperature == cases[i].temperature);
                CHECK(m->have_temperature && m->temperature == cases[i].temperature);
            }
            if (cases[i].unknown_below > 0) {
                CHECK(c.have_unknown_below && c.unknown_below == cases[i].unknown_below);
                CHECK(m->have_unknown_below && m->unknown_below == cases[i].unknown_below);
            }
        }
        free(b);
        free(m);
    }
}

TEST_MAIN(test_long_decimals)
