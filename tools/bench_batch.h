/*
 * The batched session step in `aether bench` (section "model"): the demo
 * temporal model's sessions stepped one frame each, one by one
 * (aether_model_session_step) and through aether_model_step_batch in
 * batches of 16, 64 and 256, interleaved round by round over the same
 * sessions in their steady evicting state, on the active kernel path.
 */
#ifndef AETHER_TOOLS_BENCH_BATCH_H
#define AETHER_TOOLS_BENCH_BATCH_H

#include <stdio.h>

#define BENCH_BATCH_NW 4 /* one by one, batches of 16, 64, 256 */

/* The medians of a run, for the picture of `aether bench --png`. */
typedef struct bench_batch_result {
    unsigned sessions;                   /* stepped per round (256) */
    unsigned long batch[BENCH_BATCH_NW]; /* 1 (one by one), 16, 64, 256 */
    double step_s[BENCH_BATCH_NW];       /* seconds per frame; 0: not measured */
} bench_batch_result;

/* now: the benchmark's clock (seconds). quick: fewer sessions' history and
 * rounds. fc/fj: CSV/JSON outputs or NULL (*first: the JSON row separator
 * state). res: the medians printed and written (all 0 when the run could
 * not be made), or NULL. Prints its rows; 0, or -1 when the model or
 * memory is unavailable (a message is printed). */
int bench_batch_run(double (*now)(void), int quick, FILE *fc, FILE *fj, int *first,
                    bench_batch_result *res);

#endif
