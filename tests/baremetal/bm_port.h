/*
 * The target-specific part of the bare-metal program: an instruction
 * counter. Under qemu-system with -icount shift=0 every instruction takes
 * exactly 1 ns of virtual time.
 *
 *   RISC-V: the minstret/minstreth CSRs (machine mode: -bios none starts
 *     the program in M mode). Exact.
 *   Cortex-M (mps2-an386): qemu does not model the DWT cycle counter
 *     (CYCCNT reads 0), so the count comes from the virtual clock: the
 *     CMSDK APB timer 0 counts down at the 25 MHz system clock, 40 ns = 40
 *     instructions per tick. Resolution 40 instructions.
 *   Host builds (the same program run natively): no counter, 0.
 */
#ifndef AETHER_BM_PORT_H
#define AETHER_BM_PORT_H

#include <stdint.h>

#if defined(__riscv)
#define BM_COUNTER_NAME "minstret"
static inline uint32_t bm_csr_instret(void)
{
    uint32_t v;
    /* the assembler wants Zicsr named in -march; enable it for one line */
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstret\n.option pop"
                     : "=r"(v));
    return v;
}
static inline uint32_t bm_csr_instreth(void)
{
    uint32_t v;
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstreth\n.option pop"
                     : "=r"(v));
    return v;
}
static inline void bm_counter_start(void)
{
}
static inline uint64_t bm_count(void)
{
    uint32_t hi, lo, hi2;
    do {
        hi = bm_csr_instreth();
        lo = bm_csr_instret();
        hi2 = bm_csr_instreth();
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}
#elif defined(__ARM_ARCH) && defined(__ARM_ARCH_7EM__)
#define BM_COUNTER_NAME "virtual clock (CMSDK timer, 40-instruction ticks)"
#define BM_TIMER0 ((volatile uint32_t *)0x40000000u)
static inline void bm_counter_start(void)
{
    BM_TIMER0[0] = 0u;          /* CTRL: stop */
    BM_TIMER0[2] = 0xFFFFFFFFu; /* RELOAD */
    BM_TIMER0[1] = 0xFFFFFFFFu; /* VALUE */
    BM_TIMER0[0] = 1u;          /* CTRL: enable */
}
static inline uint64_t bm_count(void)
{
    /* Down counter from 2^32 - 1: 2^32 ticks = 171 s of virtual time. */
    return (uint64_t)(0xFFFFFFFFu - BM_TIMER0[1]) * 40u;
}
#else
#define BM_COUNTER_NAME "none"
static inline void bm_counter_start(void)
{
}
static inline uint64_t bm_count(void)
{
    return 0;
}
#endif

#endif
