# The optimised kernels: the template sources src/simd/{tile,decode,probe,ops,batch}.c
# compiled once per ISA over that ISA's vector primitives (src/simd/isa_<isa>.h).
#
# aether_simd_add(target) adds to `target` one object library per ISA below,
# compiled with -DAE_ISA=<isa> -DAE_ISA_HEADER="simd/isa_<isa>.h", the
# target's own options, include directories and definitions, and, when the
# target processor matches and the compiler is GCC or Clang, the ISA's flags.
# Only these objects get ISA flags: the rest of the library stays baseline and
# src/dispatch picks a path at run time. Where the compiler does not target an
# ISA, its primitives header leaves it off and its objects hold only the
# getters (returning NULL), so every build has every getter the dispatch table
# names. Used by CMakeLists.txt and by the ESP-IDF component
# (cmake/esp_idf_component.cmake).
#
# Adding an ISA: its primitives header, one aether_simd_isa line here, one row
# (and its getters) in src/dispatch/mode.c, its feature bit in
# src/dispatch/cpu.c.

set(AETHER_SIMD_DIR ${CMAKE_CURRENT_LIST_DIR}/../src/simd)
get_filename_component(AETHER_SIMD_DIR ${AETHER_SIMD_DIR} ABSOLUTE)
set(AETHER_SIMD_TEMPLATES ${AETHER_SIMD_DIR}/tile.c ${AETHER_SIMD_DIR}/decode.c
                          ${AETHER_SIMD_DIR}/probe.c ${AETHER_SIMD_DIR}/ops.c
                          ${AETHER_SIMD_DIR}/batch.c)
set(AETHER_SIMD_ISAS "")

# aether_simd_isa(name processor-regex [flags...])
macro(aether_simd_isa name processors)
  list(APPEND AETHER_SIMD_ISAS ${name})
  set(AETHER_SIMD_PROC_${name} "${processors}")
  set(AETHER_SIMD_FLAGS_${name} ${ARGN})
endmacro()

set(AETHER_SIMD_X86 "^(x86_64|AMD64|amd64)$")
#               name    processors          flags
aether_simd_isa(avx2    ${AETHER_SIMD_X86}  -mavx2 -mfma -mf16c)
aether_simd_isa(avx512  ${AETHER_SIMD_X86}  -mavx512f -mavx512dq -mavx2 -mfma)
aether_simd_isa(neon    "^(aarch64|arm64|ARM64)$") # no flag needed on AArch64

function(aether_simd_add target)
  foreach(isa IN LISTS AETHER_SIMD_ISAS)
    set(obj ${target}_simd_${isa})
    add_library(${obj} OBJECT ${AETHER_SIMD_TEMPLATES})
    target_compile_definitions(${obj} PRIVATE AE_ISA=${isa}
      "AE_ISA_HEADER=\"simd/isa_${isa}.h\""
      $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>)
    target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
    target_compile_options(${obj} PRIVATE $<TARGET_PROPERTY:${target},COMPILE_OPTIONS>)
    if(CMAKE_SYSTEM_PROCESSOR MATCHES "${AETHER_SIMD_PROC_${isa}}"
       AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
      target_compile_options(${obj} PRIVATE ${AETHER_SIMD_FLAGS_${isa}})
    endif()
    foreach(prop POSITION_INDEPENDENT_CODE C_VISIBILITY_PRESET VISIBILITY_INLINES_HIDDEN)
      get_target_property(value ${target} ${prop})
      if(NOT value STREQUAL "value-NOTFOUND")
        set_target_properties(${obj} PROPERTIES ${prop} "${value}")
      endif()
    endforeach()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
endfunction()
