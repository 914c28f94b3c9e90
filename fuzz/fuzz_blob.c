/* RVNE blob parser on raw bytes: every format-level rejection path. */
#include "fuzz_blob_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_blob_run(data, size);
    return 0;
}
