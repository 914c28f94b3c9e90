/* The firmware ABI reads an RVNQ blob's metadata as it reads an RVNE
 * blob's (ruv_temporal.h, docs/FORMATS.md section 3): window_len
 * RUV_TEMPORAL_DEFAULT takes the metadata window_frames, decide applies
 * the blob's temperature and unknown_below, and a calibration value out of
 * range is refused at init. `aether quantize` copies the metadata record,
 * so a .q8 must behave as the .rvne it came from. Also get_info's
 * ctx_bytes for both kinds of blob. */
#include <stdlib.h>
#include <string.h>

#include "aether/decision.h"
#include "aether/quant.h"
#include "check.h"
#include "ruv_temporal.h"

enum { IN = 16, NC = 4, FRAMES = 12 };

/* The default demo blob with `text` as its metadata: *rvne (and, when
 * q is not NULL, its quantized *q); 0 on success. */
static int blobs_with(const char *text, unsigned char **rvne, size_t *rvne_len,
                      unsigned char **q, size_t *q_len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v, m;
    size_t n = 0, mn = 0;
    unsigned char *f = NULL;
    int rc = -1;
    *rvne = NULL;
    if (q)
        *q = NULL;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(f = (unsigned char *)malloc(n)))
        return -1;
    if (aether_blob_demo_write(&p, f, n, NULL) != AETHER_OK ||
        aether_blob_parse(f, n, &v) != AETHER_OK ||
        aether_blob_with_metadata_size(&v, strlen(text), &mn) != AETHER_OK ||
        !(*rvne = (unsigned char *)malloc(mn)) ||
        aether_blob_with_metadata(&v, text, strlen(text), *rvne, mn, rvne_len) != AETHER_OK)
        goto out;
    if (q) {
        if (aether_blob_parse(*rvne, *rvne_len, &m) != AETHER_OK ||
            aether_qblob_quantize_size(&m, q_len) != AETHER_OK ||
            !(*q = (unsigned char *)malloc(*q_len)) ||
            aether_qblob_quantize(&m, *q, *q_len, NULL) != AETHER_OK)
            goto out;
    }
    rc = 0;
out:
    free(f);
    return rc;
}

static void frames_of(float *fr, size_t n)
{
    uint32_t s = 777u;
    size_t i;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        fr[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 2.0f;
    }
}

/* window_len RUV_TEMPORAL_DEFAULT: the metadata window_frames, for an RVNQ
 * blob as for the RVNE blob it was quantized from. */
static void test_default_window_from_metadata(void)
{
    static const char *text = "pool=last\nwindow_frames=7\n";
    unsigned char *f = NULL, *q = NULL;
    size_t flen = 0, qlen = 0;
    ruv_temporal_ctx_t *cf = NULL, *cq = NULL;
    ruv_temporal_info_t fi, qi;
    ruv_temporal_config_t c = ruv_temporal_config_default();
    size_t bytes7 = 0, bytesd = 0;
    if (blobs_with(text, &f, &flen, &q, &qlen) != 0) {
        CHECK_MSG(0, "fixture");
        goto out;
    }
    CHECK_EQ_INT(ruv_temporal_init(f, flen, RUV_TEMPORAL_DEFAULT, RUV_TEMPORAL_DEFAULT,
                                   RUV_TEMPORAL_DEFAULT, &cf),
                 ESP_OK);
    CHECK_EQ_INT(ruv_temporal_init(q, qlen, RUV_TEMPORAL_DEFAULT, RUV_TEMPORAL_DEFAULT,
                                   RUV_TEMPORAL_DEFAULT, &cq),
                 ESP_OK);
    if (!cf || !cq)
        goto out;
    CHECK_EQ_INT(ruv_temporal_get_info(cf, &fi), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_get_info(cq, &qi), ESP_OK);
    CHECK_EQ_INT((int)fi.window_len, 7);
    CHECK_EQ_INT((int)qi.window_len, 7);
    /* the ring holds the trained window: after 12 pushes 7 frames */
    {
        static float fr[FRAMES * IN];
        size_t t;
        frames_of(fr, FRAMES * IN);
        for (t = 0; t < FRAMES; ++t)
            CHECK_EQ_INT(ruv_temporal_push(cq, fr + t * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_get_info(cq, &qi), ESP_OK);
        CHECK_EQ_INT((int)qi.frames_held, 7);
    }
    /* the size query and the static init resolve the default the same way */
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
    CHECK_EQ_INT(ruv_temporal_ctx_size_ex(q, qlen, IN, 7, NC, &c, &bytes7), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_ctx_size_ex(q, qlen, IN, RUV_TEMPORAL_DEFAULT, NC, &c, &bytesd),
                 ESP_OK);
    CHECK(bytes7 > 0 && bytesd == bytes7);
out:
    ruv_temporal_destroy(cf);
    ruv_temporal_destroy(cq);
    free(f);
    free(q);
}

/* window_frames as the typed metadata reader reads it (aether/blob.h:
 * decimal digits, leading zeros allowed): the same window in the firmware. */
static void test_default_window_digits(void)
{
    static const struct {
        const char *text;
        int window;
    } cases[] = {{"window_frames=00007\n", 7},
                 {"window_frames=0000000064\n", 64},
                 {"window_frames=1024\n", 1024},
                 {"window_frames=1025\n", (int)RUV_TEMPORAL_FALLBACK_WINDOW_LEN},
                 {"window_frames=4294967295\n", (int)RUV_TEMPORAL_FALLBACK_WINDOW_LEN}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        unsigned char *f = NULL, *q = NULL;
        size_t flen = 0, qlen = 0;
        aether_blob_view v;
        aether_blob_model_meta *meta = (aether_blob_model_meta *)malloc(sizeof *meta);
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        int k;
        if (!meta || blobs_with(cases[i].text, &f, &flen, &q, &qlen) != 0) {
            CHECK_MSG(0, "fixture %s", cases[i].text);
            goto next;
        }
        CHECK_STATUS(aether_blob_parse(f, flen, &v), AETHER_OK);
        CHECK_STATUS(aether_blob_model_meta_read(&v, meta), AETHER_OK);
        CHECK(meta->have_window_frames);
        c.mode = RUV_TEMPORAL_MODE_STREAMING; /* a small context for any window */
        for (k = 0; k < 2; ++k) {
            CHECK_EQ_INT(ruv_temporal_init_ex(k ? q : f, k ? qlen : flen, IN,
                                              RUV_TEMPORAL_DEFAULT, NC, &c, &ctx),
                         ESP_OK);
            if (!ctx)
                continue;
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_MSG((int)info.window_len == cases[i].window, "%s (%s): %u, want %d",
                      cases[i].text, k ? "RVNQ" : "RVNE", (unsigned)info.window_len,
                      cases[i].window);
            ruv_temporal_destroy(ctx);
            ctx = NULL;
        }
    next:
        free(meta);
        free(f);
        free(q);
    }
}

/* decide on an RVNQ context: probability = softmax(logits / T)[top] with
 * the blob's temperature, unknown below its unknown_below - in both
 * modes, equal to aether_decide on the same logits. */
static void test_decide_uses_calibration(void)
{
    static const char *text = "temperature=2.5\nunknown_below=0.9\n";
    unsigned char *f = NULL, *q = NULL;
    size_t flen = 0, qlen = 0;
    int mode;
    static float fr[FRAMES * IN];
    if (blobs_with(text, &f, &flen, &q, &qlen) != 0) {
        CHECK_MSG(0, "fixture");
        goto out;
    }
    frames_of(fr, FRAMES * IN);
    for (mode = 0; mode < 2; ++mode) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_decision_t d;
        aether_decision_params p = aether_decision_params_default();
        aether_decision want;
        float logits[NC], probs[NC];
        size_t t;
        c.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
        CHECK_EQ_INT(ruv_temporal_init_ex(q, qlen, IN, 8, NC, &c, &ctx), ESP_OK);
        if (!ctx)
            continue;
        for (t = 0; t < FRAMES; ++t)
            CHECK_EQ_INT(ruv_temporal_push(ctx, fr + t * IN), ESP_OK);
        memset(&d, 0, sizeof d);
        CHECK_EQ_INT(ruv_temporal_decide(ctx, logits, NC, &d), ESP_OK);
        p.temperature = 2.5f;
        p.unknown_below = 0.9f;
        CHECK_STATUS(aether_decide(logits, NC, &p, -1.0f, &want), AETHER_OK);
        CHECK_STATUS(aether_decision_probabilities(logits, NC, 2.5f, probs), AETHER_OK);
        CHECK_EQ_INT((int)d.class_id, (int)want.top);
        CHECK_MSG(d.probability == want.probability, "mode %d: %.9g, want %.9g (T = 2.5)", mode,
                  (double)d.probability, (double)want.probability);
        CHECK(d.probability == probs[want.top]);
        /* the demo model's logits are close together: at T = 2.5 no class
         * reaches 0.9 */
        CHECK(want.probability < 0.9f);
        CHECK_EQ_INT(d.unknown, 1);
        CHECK_EQ_INT(d.out_of_distribution, 0);
        ruv_temporal_destroy(ctx);
    }
out:
    free(f);
    free(q);
}

/* A calibration value out of range is refused at init for an RVNQ blob
 * as for an RVNE blob: ESP_ERR_INVALID_ARG, no context. */
static void test_bad_calibration_refused(void)
{
    static const char *const texts[] = {"temperature=0\n", "temperature=2000000\n",
                                        "unknown_below=1.5\n", "ood_above=x\n"};
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; ++i) {
        unsigned char *f = NULL, *q = NULL;
        size_t flen = 0, qlen = 0, bytes = 1;
        ruv_temporal_ctx_t *ctx = NULL;
        if (blobs_with(texts[i], &f, &flen, &q, &qlen) != 0) {
            CHECK_MSG(0, "fixture %s", texts[i]);
        } else {
            CHECK_EQ_INT(ruv_temporal_init(f, flen, IN, 8, NC, &ctx), ESP_ERR_INVALID_ARG);
            CHECK(ctx == NULL);
            CHECK_EQ_INT(ruv_temporal_init(q, qlen, IN, 8, NC, &ctx), ESP_ERR_INVALID_ARG);
            CHECK(ctx == NULL);
            CHECK_EQ_INT(ruv_temporal_ctx_size_ex(q, qlen, IN, 8, NC, NULL, &bytes),
                         ESP_ERR_INVALID_ARG);
            ruv_temporal_destroy(ctx);
        }
        free(f);
        free(q);
    }
}

/* get_info's ctx_bytes is the context's memory: ruv_temporal_ctx_size for a
 * static context at any buffer alignment and length, and the block a
 * malloc'd context holds (the same count), for RVNE and RVNQ blobs in both
 * modes. */
static void test_info_ctx_bytes(void)
{
    static const char *text = "pool=mean\n";
    unsigned char *f = NULL, *q = NULL, *mem = NULL;
    size_t flen = 0, qlen = 0;
    int k, mode, off;
    if (blobs_with(text, &f, &flen, &q, &qlen) != 0) {
        CHECK_MSG(0, "fixture");
        goto out;
    }
    for (k = 0; k < 2; ++k)
        for (mode = 0; mode < 2; ++mode) {
            const unsigned char *b = k ? q : f;
            const size_t blen = k ? qlen : flen;
            ruv_temporal_config_t c = ruv_temporal_config_default();
            ruv_temporal_ctx_t *ctx = NULL;
            ruv_temporal_info_t info;
            size_t bytes = 0;
            c.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
            CHECK_EQ_INT(ruv_temporal_ctx_size_ex(b, blen, IN, 16, NC, &c, &bytes), ESP_OK);
            free(mem);
            mem = (unsigned char *)malloc(bytes + 64);
            if (!mem || bytes == 0) {
                CHECK_MSG(0, "size");
                continue;
            }
            for (off = 0; off < 3; ++off) {
                size_t len = off == 2 ? bytes + 40 : bytes;
                CHECK_EQ_INT(ruv_temporal_init_static_ex(mem + off, len, b, blen, IN, 16, NC, &c,
                                                         &ctx),
                             ESP_OK);
                CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
                CHECK_MSG(info.ctx_bytes == bytes, "%s mode %d offset %d: %lu, ctx_size %lu",
                          k ? "RVNQ" : "RVNE", mode, off, (unsigned long)info.ctx_bytes,
                          (unsigned long)bytes);
                ruv_temporal_destroy(ctx);
                ctx = NULL;
            }
            CHECK_EQ_INT(ruv_temporal_init_ex(b, blen, IN, 16, NC, &c, &ctx), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_MSG(info.ctx_bytes == bytes, "%s mode %d malloc'd: %lu, ctx_size %lu",
                      k ? "RVNQ" : "RVNE", mode, (unsigned long)info.ctx_bytes,
                      (unsigned long)bytes);
            ruv_temporal_destroy(ctx);
        }
out:
    free(mem);
    free(f);
    free(q);
}

TEST_MAIN(test_default_window_from_metadata, test_default_window_digits, test_info_ctx_bytes,
          test_decide_uses_calibration,
          test_bad_calibration_refused)
