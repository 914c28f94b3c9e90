# Cortex-M4F, hard float, with newlib instead of picolibc (Debian:
# gcc-arm-none-eabi libnewlib-arm-none-eabi; newlib is ESP-IDF's C library):
# semihosting through newlib's rdimon, the reset and vector table of
# tests/baremetal/startup_cortex_m.c, tests/baremetal/mps2-an386-newlib.ld.
# Runs under qemu-system-arm -machine mps2-an386.
set(CMAKE_SYSTEM_PROCESSOR cortex-m4f)
set(AETHER_BM_CC arm-none-eabi-gcc)
set(AETHER_BM_FLAGS -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
set(AETHER_BM_LINK ON)
set(AETHER_BM_LIBC newlib)
set(AETHER_BM_STARTUP ${CMAKE_CURRENT_LIST_DIR}/../tests/baremetal/startup_cortex_m.c)
set(AETHER_BM_LDSCRIPT ${CMAKE_CURRENT_LIST_DIR}/../tests/baremetal/mps2-an386-newlib.ld)
include(${CMAKE_CURRENT_LIST_DIR}/baremetal-common.cmake)
