# Cortex-M4F, hard float (fpv4-sp-d16). Debian: gcc-arm-none-eabi
# picolibc-arm-none-eabi; runs under qemu-system-arm -machine mps2-an386
# (4 MiB SSRAM1 for code at 0, 4 MiB SSRAM2/3 for data at 0x20000000).
set(CMAKE_SYSTEM_PROCESSOR cortex-m4f)
set(AETHER_BM_CC arm-none-eabi-gcc)
set(AETHER_BM_FLAGS -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16)
set(AETHER_BM_LINK ON)
set(AETHER_BM_FLASH "0x00000000 0x400000")
set(AETHER_BM_RAM "0x20000000 0x400000")
include(${CMAKE_CURRENT_LIST_DIR}/baremetal-common.cmake)
