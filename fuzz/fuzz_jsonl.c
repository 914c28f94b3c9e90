/* .csi.jsonl recordings (raw_csi and amplitude lines) through the reader. */
#include "fuzz_recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_recording_run(data, size);
    return 0;
}
