/*
 * Recording reader body shared by the JSONL and NPZ targets: open the bytes
 * as a recording (format detection included) and read every frame, checking
 * each frame and the counters.
 */
#ifndef AETHER_FUZZ_RECORDING_H
#define AETHER_FUZZ_RECORDING_H

#include <math.h>
#include <string.h>

#include "aether/csi.h"
#include "aether/recording.h"
#include "fuzz_common.h"

static void fuzz_recording_run(const uint8_t *data, size_t size)
{
    aether_recording *rec = NULL;
    aether_recording_options opt;
    aether_csi_frame f;
    const aether_recording_stats *stats;
    aether_status st;
    uint64_t frames = 0;
    size_t k, i;

    memset(&opt, 0, sizeof opt);
    opt.max_line = 8192; /* small enough that the fuzzer reaches the too-long path */
    st = aether_recording_open_memory(data, size, &opt, &rec);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(rec == NULL);
        return;
    }
    for (k = 0; k < 1000000; ++k) {
        st = aether_recording_next(rec, &f);
        FUZZ_VALID_STATUS(st);
        if (st != AETHER_OK)
            break;
        frames++;
        FUZZ_ASSERT(f.n_pairs >= 1 && f.n_pairs <= AETHER_CSI_MAX_PAIRS);
        FUZZ_ASSERT(f.node_id <= 255);
        if (f.kind == AETHER_CSI_RAW_IQ) {
            volatile int8_t acc = 0;
            FUZZ_ASSERT(f.iq != NULL);
            for (i = 0; i < 2 * f.n_pairs; ++i) /* every byte must be readable */
                acc = (int8_t)(acc ^ f.iq[i]);
            (void)acc;
        } else {
            FUZZ_ASSERT(f.kind == AETHER_CSI_AMPLITUDE && f.amp != NULL);
            for (i = 0; i < f.n_pairs; ++i)
                FUZZ_ASSERT(aether_isfinite(f.amp[i]) && f.amp[i] >= 0.0f);
        }
    }
    FUZZ_ASSERT(st == AETHER_ERR_END || st == AETHER_ERR_IO);
    /* END is sticky. */
    if (st == AETHER_ERR_END)
        FUZZ_ASSERT(aether_recording_next(rec, &f) == AETHER_ERR_END);
    stats = aether_recording_get_stats(rec);
    FUZZ_ASSERT(stats != NULL);
    FUZZ_ASSERT(stats->frames[AETHER_CSI_RAW_IQ] + stats->frames[AETHER_CSI_AMPLITUDE] == frames);
    FUZZ_ASSERT(stats->n_errors <= AETHER_CSI_KEEP_ERRORS);
    FUZZ_ASSERT(stats->n_errors <= stats->malformed);
    for (i = 0; i < stats->n_errors; ++i)
        FUZZ_ASSERT(memchr(stats->errors[i].reason, '\0', sizeof stats->errors[i].reason) !=
                    NULL);
    FUZZ_ASSERT(aether_recording_get_format(rec) < AETHER_REC_FORMAT_COUNT);
    aether_recording_close(rec);
}

#endif /* AETHER_FUZZ_RECORDING_H */
