/*
 * Instruction profile of the library on the target (build option
 * AETHER_BM_PROFILE: the library is compiled with -finstrument-functions,
 * this file and main.c are not). Every instrumented function's entry and
 * exit read the instruction counter; the instructions between two hooks go
 * to the function on top of the call stack (exclusive counts). About 15
 * instructions of each hook (call, prologue) land on the caller or callee,
 * so small functions called very often look somewhat more expensive than
 * they are. main.c switches it on around the pushes it profiles and prints
 * "BM PROF address instructions calls"; scripts/baremetal.sh --profile maps
 * the addresses to names.
 */
#include <stdint.h>
#include <stdio.h>

#include "bm_port.h"
#include "bm_profile.h"

#define PROF_SLOTS 512u
#define PROF_DEPTH 64u

static void *prof_fn[PROF_SLOTS];
static uint64_t prof_count[PROF_SLOTS];
static uint32_t prof_calls[PROF_SLOTS];
static uint32_t prof_stack[PROF_DEPTH];
static uint32_t prof_depth;
static uint64_t prof_last;
static int prof_on;

void __cyg_profile_func_enter(void *fn, void *site);
void __cyg_profile_func_exit(void *fn, void *site);

static uint32_t prof_slot(void *fn)
{
    uint32_t h = (uint32_t)((uintptr_t)fn >> 1) % PROF_SLOTS, i;
    for (i = 0; i < PROF_SLOTS; ++i) {
        uint32_t s = (h + i) % PROF_SLOTS;
        if (prof_fn[s] == fn || prof_fn[s] == NULL) {
            prof_fn[s] = fn;
            return s;
        }
    }
    return h;
}

void __cyg_profile_func_enter(void *fn, void *site)
{
    uint64_t now = bm_count();
    uint32_t s;
    (void)site;
    if (!prof_on)
        return;
    if (prof_depth > 0 && prof_depth <= PROF_DEPTH)
        prof_count[prof_stack[prof_depth - 1]] += now - prof_last;
    s = prof_slot(fn);
    prof_calls[s]++;
    if (prof_depth < PROF_DEPTH)
        prof_stack[prof_depth] = s;
    prof_depth++;
    prof_last = bm_count();
}

void __cyg_profile_func_exit(void *fn, void *site)
{
    uint64_t now = bm_count();
    (void)fn;
    (void)site;
    if (!prof_on || prof_depth == 0)
        return;
    if (prof_depth <= PROF_DEPTH)
        prof_count[prof_stack[prof_depth - 1]] += now - prof_last;
    prof_depth--;
    prof_last = bm_count();
}

void bm_profile_start(void)
{
    prof_depth = 0;
    prof_on = 1;
}

void bm_profile_stop(void)
{
    prof_on = 0;
}

void bm_profile_print(void)
{
    uint32_t s;
    for (s = 0; s < PROF_SLOTS; ++s)
        if (prof_fn[s])
            printf("BM PROF %p %lu %lu\n", prof_fn[s], (unsigned long)prof_count[s],
                   (unsigned long)prof_calls[s]);
}
