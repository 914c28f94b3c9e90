/*
 * ADR-018 frame parser (one datagram) and the header-only length function;
 * a parsed frame re-encodes to the same bytes (reserved bytes excepted).
 * The same bytes are also read as a concatenated ADR-018 stream.
 */
#include <stdlib.h>
#include <string.h>

#include "aether/csi.h"
#include "aether/recording.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aether_csi_frame f, before;
    size_t flen = 0;
    aether_status st, lst;

    memset(&f, 0x77, sizeof f);
    before = f;
    lst = aether_adr018_frame_length(data, size, &flen);
    FUZZ_VALID_STATUS(lst);
    st = aether_adr018_parse(data, size, &f);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(memcmp(&f, &before, sizeof f) == 0);
        FUZZ_ASSERT(st == AETHER_ERR_FRAME_MAGIC || st == AETHER_ERR_FRAME_LENGTH);
    } else {
        unsigned char *out = malloc(size);
        size_t out_len = 0;
        FUZZ_ASSERT(lst == AETHER_OK && flen == size);
        FUZZ_ASSERT(f.kind == AETHER_CSI_RAW_IQ);
        FUZZ_ASSERT(f.n_pairs >= 1 && f.n_pairs <= AETHER_CSI_MAX_PAIRS);
        FUZZ_ASSERT(f.iq == (const int8_t *)(data + AETHER_ADR018_HEADER_BYTES));
        FUZZ_ASSERT(AETHER_ADR018_HEADER_BYTES + 2 * f.n_pairs == size);
        if (out) {
            FUZZ_ASSERT(aether_adr018_encode(&f, out, size, &out_len) == AETHER_OK);
            FUZZ_ASSERT(out_len == size);
            FUZZ_ASSERT(memcmp(out, data, 18) == 0);
            FUZZ_ASSERT(memcmp(out + 20, data + 20, size - 20) == 0);
            if (size > 1)
                FUZZ_ASSERT(aether_adr018_encode(&f, out, size - 1, &out_len) ==
                            AETHER_ERR_BUFFER_TOO_SMALL);
            free(out);
        }
    }
#ifdef AETHER_FUZZ_HOST
    {
        aether_recording *rec = NULL;
        st = aether_recording_open_memory(data, size, NULL, &rec);
        FUZZ_VALID_STATUS(st);
        if (st == AETHER_OK) {
            size_t k;
            for (k = 0; k < 100000; ++k) {
                st = aether_recording_next(rec, &f);
                FUZZ_VALID_STATUS(st);
                if (st != AETHER_OK)
                    break;
                FUZZ_ASSERT(f.n_pairs >= 1 && f.n_pairs <= AETHER_CSI_MAX_PAIRS);
            }
            FUZZ_ASSERT(st == AETHER_ERR_END || st == AETHER_ERR_IO);
            aether_recording_close(rec);
        } else {
            FUZZ_ASSERT(rec == NULL);
        }
    }
#endif
    return 0;
}
