/* The integer model and session live in caller memory of any alignment,
 * as every other object built by *_size + *_init
 * (docs/ARCHITECTURE.md section 4): at offsets 1..7 of a buffer of exactly
 * the queried size they are placed aligned (the model and session were
 * written at the buffer's first byte, a misaligned object: undefined
 * behaviour, a fault on cores without unaligned access) and give the same
 * logits as at an aligned buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/quant.h"
#include "check.h"

enum { IN = 16, NC = 4, CAP = 12, STEPS = 20 };

static int aligned(const void *p)
{
    return (uintptr_t)p % sizeof(uint64_t) == 0 && (uintptr_t)p % sizeof(void *) == 0;
}

static void test_any_alignment(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v;
    aether_qblob_view qv;
    size_t n = 0, qn = 0, mb = 0, sb = 0, wb = 0, t, i;
    unsigned char *f = NULL, *q = NULL, *mbuf = NULL, *sbuf = NULL, *ws = NULL;
    int32_t ref_step[STEPS][NC], ref_fwd[NC];
    static int32_t frames[STEPS * IN];
    int off;
    p.input_norm = 1;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(f = (unsigned char *)malloc(n)) ||
        aether_blob_demo_write(&p, f, n, NULL) != AETHER_OK ||
        aether_blob_parse(f, n, &v) != AETHER_OK ||
        aether_qblob_quantize_size(&v, &qn) != AETHER_OK || !(q = (unsigned char *)malloc(qn)) ||
        aether_qblob_quantize(&v, q, qn, NULL) != AETHER_OK ||
        aether_qblob_parse(q, qn, &qv) != AETHER_OK) {
        CHECK_MSG(0, "fixture");
        goto out;
    }
    for (i = 0; i < STEPS * IN; ++i)
        frames[i] = (int32_t)((i * 2654435761u) % 262144u) - 131072;
    CHECK_STATUS(aether_qmodel_size(&qv, NULL, &mb), AETHER_OK);
    mbuf = (unsigned char *)malloc(mb + 8);
    if (!mbuf)
        goto out;
    for (off = 0; off < 8; ++off) {
        aether_qmodel *m = NULL;
        aether_qsession *s = NULL;
        int32_t l[NC];
        CHECK_STATUS(aether_qmodel_init(mbuf + off, mb, &qv, NULL, &m), AETHER_OK);
        if (!m)
            continue;
        CHECK_MSG(aligned(m), "model at buffer offset %d placed at %p", off, (void *)m);
        CHECK(aether_qmodel_header(m) != NULL && aether_qmodel_header(m)->input_dim == IN);
        if (off == 0) {
            CHECK_STATUS(aether_qsession_size(m, CAP, AETHER_KV_EVICT_SLIDING, &sb), AETHER_OK);
            CHECK_STATUS(aether_qmodel_forward_workspace_size(m, STEPS, &wb), AETHER_OK);
            sbuf = (unsigned char *)malloc(sb + 8);
            ws = (unsigned char *)malloc(wb);
            if (!sbuf || !ws)
                goto out;
        }
        CHECK_STATUS(aether_qsession_init(sbuf + off, sb, m, CAP, AETHER_KV_EVICT_SLIDING, &s),
                     AETHER_OK);
        if (!s)
            continue;
        CHECK_MSG(aligned(s), "session at buffer offset %d placed at %p", off, (void *)s);
        for (t = 0; t < STEPS; ++t) {
            CHECK_STATUS(aether_qsession_step_q16(s, frames + t * IN, l, NULL), AETHER_OK);
            if (off == 0)
                memcpy(ref_step[t], l, sizeof l);
            else
                CHECK(memcmp(ref_step[t], l, sizeof l) == 0);
        }
        CHECK_EQ_INT((int)aether_qsession_frames(s), STEPS);
        CHECK_EQ_INT(aether_qsession_evicted(s), 1);
        CHECK_STATUS(aether_qmodel_forward_q16(m, frames, STEPS, AETHER_POOL_MEAN, l, NULL, ws, wb),
                     AETHER_OK);
        if (off == 0)
            memcpy(ref_fwd, l, sizeof l);
        else
            CHECK(memcmp(ref_fwd, l, sizeof l) == 0);
    }
out:
    free(f);
    free(q);
    free(mbuf);
    free(sbuf);
    free(ws);
}

TEST_MAIN(test_any_alignment)
