/*
 * RVNQ quantized blob (aether/quant.h) on raw bytes, and the same bytes with
 * payload_len and the CRC patched so that mutations reach the record checks.
 * Checks: the status is one of the documented set, a failed parse leaves the
 * view untouched, and a blob that parses runs through the integer model
 * (window forward LAST and MEAN, a sliding session past its first
 * eviction) with OK statuses on bounded shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "aether/quant.h"
#include "fuzz_common.h"

static void run_model(const aether_qblob_view *v)
{
    const aether_blob_header *h = &v->header;
    size_t need = 0, n = 0, I = h->input_dim, t, i;
    unsigned char *mb;
    aether_qmodel *m = NULL;
    aether_qsession *s = NULL;
    int32_t *fr, *logits;
    void *ws, *sb;
    if ((size_t)h->n_layers * I * h->n_q_heads * h->head_dim > (1u << 20))
        return; /* keep one input fast */
    if (aether_qmodel_size(v, NULL, &need) != AETHER_OK)
        return;
    mb = malloc(need);
    FUZZ_ASSERT(mb != NULL && aether_qmodel_init(mb, need, v, NULL, &m) == AETHER_OK);
    fr = malloc(20 * I * sizeof(int32_t));
    logits = malloc(h->n_classes * sizeof(int32_t));
    FUZZ_ASSERT(fr && logits);
    for (i = 0; i < 20 * I; ++i)
        fr[i] = (int32_t)((i * 2654435761u) ^ 0x5A5A5A5Au);
    FUZZ_ASSERT(aether_qmodel_forward_workspace_size(m, 20, &n) == AETHER_OK);
    ws = malloc(n);
    FUZZ_ASSERT(ws != NULL);
    FUZZ_ASSERT(aether_qmodel_forward_q16(m, fr, 20, AETHER_POOL_LAST, logits, NULL, ws, n) == AETHER_OK);
    FUZZ_ASSERT(aether_qmodel_forward_q16(m, fr, 7, AETHER_POOL_MEAN, logits, NULL, ws, n) == AETHER_OK);
    FUZZ_ASSERT(aether_qsession_size(m, 17, AETHER_KV_EVICT_SLIDING, &n) == AETHER_OK);
    sb = malloc(n);
    FUZZ_ASSERT(sb && aether_qsession_init(sb, n, m, 17, AETHER_KV_EVICT_SLIDING, &s) == AETHER_OK);
    for (t = 0; t < 20; ++t)
        FUZZ_ASSERT(aether_qsession_step_q16(s, fr + t * I, logits, NULL) == AETHER_OK);
    FUZZ_ASSERT(aether_qsession_evicted(s) == 1);
    free(sb);
    free(ws);
    free(logits);
    free(fr);
    free(mb);
}

static void run(const uint8_t *data, size_t size)
{
    aether_qblob_view v, before;
    aether_status st;
    memset(&v, 0xA5, sizeof v);
    before = v;
    st = aether_qblob_parse(data, size, &v);
    switch (st) {
    case AETHER_OK:
        run_model(&v);
        return;
    case AETHER_ERR_BLOB_TOO_SHORT:
    case AETHER_ERR_BLOB_MAGIC:
    case AETHER_ERR_BLOB_VERSION:
    case AETHER_ERR_BLOB_LENGTH:
    case AETHER_ERR_BLOB_CRC:
    case AETHER_ERR_BLOB_ZERO_DIM:
    case AETHER_ERR_BLOB_GQA:
    case AETHER_ERR_BLOB_DEGENERATE:
    case AETHER_ERR_BLOB_EXTENSION:
    case AETHER_ERR_BLOB_LAYOUT:
    case AETHER_ERR_QBLOB_SHAPE:
    case AETHER_ERR_QBLOB_SCALE:
    case AETHER_ERR_QBLOB_ZERO_POINT:
    case AETHER_ERR_QBLOB_RANGE:
        FUZZ_ASSERT(memcmp(&v, &before, sizeof v) == 0);
        return;
    default:
        FUZZ_ASSERT(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    run(data, size);
    if (size < 28 || size - 28 > 0xFFFFFFFFu)
        return 0;
    buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    aether_store_le32(buf, AETHER_QBLOB_MAGIC);
    aether_store_le16(buf + 4, AETHER_QBLOB_VERSION);
    aether_store_le32(buf + 20, (uint32_t)(size - 28));
    aether_store_le32(buf + size - 4, aether_crc32(buf, size - 4));
    run(buf, size);
    free(buf);
    return 0;
}
