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

/* now: the benchmark's clock (seconds). quick: fewer sessions' history and
 * rounds. fc/fj: CSV/JSON outputs or NULL (*first: the JSON row separator
 * state). Prints its rows; 0, or -1 when the model or memory is
 * unavailable (a message is printed). */
int bench_batch_run(double (*now)(void), int quick, FILE *fc, FILE *fj, int *first);

#endif
