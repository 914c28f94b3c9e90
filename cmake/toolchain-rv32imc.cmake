# RV32IMC, soft float (ilp32): the ESP32-C3 / C6 instruction set. Debian:
# gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf; runs under
# qemu-system-riscv32 -machine virt (RAM at 0x80000000).
set(CMAKE_SYSTEM_PROCESSOR rv32imc)
set(AETHER_BM_CC riscv64-unknown-elf-gcc)
set(AETHER_BM_FLAGS -march=rv32imc -mabi=ilp32)
set(AETHER_BM_LINK ON)
set(AETHER_BM_FLASH "0x80000000 0x200000")
set(AETHER_BM_RAM "0x80200000 0x600000")
include(${CMAKE_CURRENT_LIST_DIR}/baremetal-common.cmake)
