/* ESPectre-style .npz archives (zip container, deflate, .npy members). */
#include "fuzz_recording.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_recording_run(data, size);
    return 0;
}
