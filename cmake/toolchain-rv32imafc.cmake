# RV32IMAFC, single-precision FPU (ilp32f). Debian: gcc-riscv64-unknown-elf
# picolibc-riscv64-unknown-elf; runs under qemu-system-riscv32 -machine virt.
set(CMAKE_SYSTEM_PROCESSOR rv32imafc)
set(AETHER_BM_CC riscv64-unknown-elf-gcc)
set(AETHER_BM_FLAGS -march=rv32imafc -mabi=ilp32f)
set(AETHER_BM_LINK ON)
set(AETHER_BM_FLASH "0x80000000 0x200000")
set(AETHER_BM_RAM "0x80200000 0x600000")
include(${CMAKE_CURRENT_LIST_DIR}/baremetal-common.cmake)
