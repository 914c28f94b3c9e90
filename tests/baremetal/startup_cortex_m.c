/*
 * Reset for the newlib build on Cortex-M (cmake/toolchain-cortex-m4f-newlib.cmake):
 * newlib's semihosting start-up (rdimon) has no M-profile vector table and
 * leaves the FPU off, which picolibc's does for its builds. The core reads
 * the initial stack pointer and the reset handler from address 0
 * (tests/baremetal/mps2-an386-newlib.ld puts the table there).
 */
#include <stdint.h>

void _start(void);
void bm_reset(void);
extern char __stack[];

void bm_reset(void)
{
    /* CPACR: full access to CP10 and CP11 (the FPU) before any float code */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    _start();
    for (;;) {
    }
}

static void bm_fault(void)
{
    for (;;) {
    }
}

/* initial SP, reset, NMI, HardFault, MemManage, BusFault, UsageFault,
 * 4 reserved, SVCall, DebugMonitor, reserved, PendSV, SysTick */
__attribute__((section(".vectors"), used)) static void (*const bm_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack, bm_reset, bm_fault, bm_fault, bm_fault, bm_fault, bm_fault,
    0, 0, 0, 0, bm_fault, bm_fault, 0, bm_fault, bm_fault};
