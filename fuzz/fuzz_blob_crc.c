/*
 * RVNE blob with weights_len and the CRC recomputed after mutation, so that
 * mutated headers and payloads get past the format checks and exercise model
 * validation, model init, forward and streaming on whatever shape they
 * declare (bounded by the input size, since the payload must match it).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_blob_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf;
    if (size < AETHER_BLOB_OVERHEAD || size - AETHER_BLOB_OVERHEAD > 0xFFFFFFFFu) {
        fuzz_blob_run(data, size);
        return 0;
    }
    buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    aether_store_le32(buf + 20, (uint32_t)(size - AETHER_BLOB_OVERHEAD));
    aether_store_le32(buf + size - 4, aether_crc32(buf, size - 4));
    fuzz_blob_run(buf, size);
    free(buf);
    return 0;
}
