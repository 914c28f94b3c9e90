# Xtensa LX106 (the ESP8266 core; the only Xtensa compiler Debian ships),
# soft float. Debian: gcc-xtensa-lx106 picolibc-xtensa-lx106-elf. Compile
# and size only: the toolchain's libgcc lacks routines a full link needs.
set(CMAKE_SYSTEM_PROCESSOR lx106)
set(AETHER_BM_CC xtensa-lx106-elf-gcc)
set(AETHER_BM_FLAGS -mlongcalls)
set(AETHER_BM_LINK OFF)
# Debian installs this picolibc's specs outside the compiler's search path.
set(AETHER_BM_SPECS /usr/lib/xtensa-lx106-elf/picolibc.specs)
include(${CMAKE_CURRENT_LIST_DIR}/baremetal-common.cmake)
