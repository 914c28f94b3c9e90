# Shared part of the bare-metal toolchain files (cmake/toolchain-rv32imc.cmake,
# -rv32imafc, -cortex-m4f, -cortex-m4f-newlib, -lx106): a freestanding ELF
# target with picolibc (Debian picolibc-<triplet>) or newlib. The including file sets
#   AETHER_BM_CC      the compiler
#   AETHER_BM_FLAGS   its target flags
#   AETHER_BM_LIBC    picolibc (default) or newlib
#   AETHER_BM_SPECS   the C library's specs file (default picolibc.specs, or
#                     rdimon.specs for newlib)
#   AETHER_BM_STARTUP, AETHER_BM_LDSCRIPT   newlib only: reset code and
#                     linker script
#   AETHER_BM_LINK    ON: link a program for a qemu-system machine with
#                     semihosting; OFF: compile only
#   AETHER_BM_FLASH / AETHER_BM_RAM   "origin size" of the machine's memories
# scripts/baremetal.sh configures these builds with -DAETHER_BUILD_BAREMETAL=ON:
# the portable library (the same source list as every other build) plus
# tests/baremetal.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_C_COMPILER ${AETHER_BM_CC})
if(NOT AETHER_BM_SPECS)
  if(AETHER_BM_LIBC STREQUAL "newlib")
    set(AETHER_BM_SPECS rdimon.specs)
  else()
    set(AETHER_BM_SPECS picolibc.specs)
  endif()
endif()
string(REPLACE ";" " " _aether_bm_flags "${AETHER_BM_FLAGS}")
set(CMAKE_C_FLAGS_INIT "${_aether_bm_flags} --specs=${AETHER_BM_SPECS}")
set(CMAKE_ASM_FLAGS_INIT "${_aether_bm_flags} --specs=${AETHER_BM_SPECS}")
if(AETHER_BM_LINK AND AETHER_BM_LIBC STREQUAL "newlib")
  # newlib: semihosting through rdimon; the start-up file and linker
  # script come from the including file (AETHER_BM_STARTUP, AETHER_BM_LDSCRIPT)
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-T${AETHER_BM_LDSCRIPT}")
elseif(AETHER_BM_LINK)
  string(REPLACE " " ";" _aether_bm_flash "${AETHER_BM_FLASH}")
  string(REPLACE " " ";" _aether_bm_ram "${AETHER_BM_RAM}")
  list(GET _aether_bm_flash 0 _f0)
  list(GET _aether_bm_flash 1 _f1)
  list(GET _aether_bm_ram 0 _r0)
  list(GET _aether_bm_ram 1 _r1)
  # picolibc.ld places the stack at the top of RAM, the heap below it.
  set(CMAKE_EXE_LINKER_FLAGS_INIT "--oslib=semihost --crt0=semihost -Wl,--defsym=__flash=${_f0} -Wl,--defsym=__flash_size=${_f1} -Wl,--defsym=__ram=${_r0} -Wl,--defsym=__ram_size=${_r1} -Wl,--defsym=__stack_size=0x4000")
endif()
# No executable can run during configuration checks.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
