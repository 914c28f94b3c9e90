/*
 * The stage-by-stage timing of the sparse forward (`aether bench --only
 * 'sparse stages'`): the 8x64 W128 B64 seq 8192 forward on the active
 * kernel path with the window alone, then adding the far tokens (global
 * and log-stride), then the landmarks, interleaved round by round; plus
 * the landmark means alone.
 */
#ifndef AETHER_TOOLS_BENCH_SPARSE_H
#define AETHER_TOOLS_BENCH_SPARSE_H

#include <stdio.h>

/* quick: fewer rounds; wall: wall-clock instead of thread CPU time.
 * fc/fj: CSV/JSON outputs or NULL (sep(first) gives the JSON row
 * separator). 0, or 1 when it could not run (memory, configuration). */
int bench_sparse_stages(int quick, int wall, FILE *fc, FILE *fj, const char *(*sep)(int *),
                        int *first);

#endif
