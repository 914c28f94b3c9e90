# ESP-IDF component definition of the portable aether library (ruv_temporal
# firmware ABI included). The root CMakeLists.txt includes this file and
# returns when ESP_PLATFORM is set, so the repository itself is the
# component directory. Host-only readers (src/host), the CLI (tools) and the
# tests are not part of the component.
#
# Options live in esp-idf/Kconfig; the component directory's Kconfig (the
# repository root) pulls them in with `rsource "esp-idf/Kconfig"` (see
# esp-idf/README.md). They set the defaults in ruv_temporal.h and, with
# CONFIG_AETHER_USE_ESP_DSP, esp-dsp's dot product for the on-target check
# of ruv_temporal_kernel_self_test.

get_filename_component(AETHER_COMPONENT_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

file(GLOB AETHER_COMPONENT_SRCS "${AETHER_COMPONENT_ROOT}/src/*/*.c")
list(FILTER AETHER_COMPONENT_SRCS EXCLUDE REGEX "/src/host/")
# src/simd holds the per-ISA template sources, compiled once per ISA below
# (aether_simd_add). No ISA targets the ESP32 cores: they compile to getters
# returning NULL, which keeps the dispatch table complete.
list(FILTER AETHER_COMPONENT_SRCS EXCLUDE REGEX "/src/simd/")
include(${CMAKE_CURRENT_LIST_DIR}/aether_simd.cmake)

# Requirements cannot depend on Kconfig (they are expanded before the
# configuration exists), so esp-dsp is linked as a weak dependency below,
# only when the option is on and the component is part of the build.
idf_component_register(
  SRCS ${AETHER_COMPONENT_SRCS}
  INCLUDE_DIRS "include"
  PRIV_INCLUDE_DIRS "src")

if(NOT CMAKE_BUILD_EARLY_EXPANSION)
  # The reference arithmetic must not be contracted into FMAs (the ESP32-S3
  # FPU has madd.s) nor reassociated: results stay bit-identical with the
  # host and the goldens.
  target_compile_options(${COMPONENT_LIB} PRIVATE -ffp-contract=off -fno-fast-math)
  aether_simd_add(${COMPONENT_LIB})
  if(CONFIG_AETHER_USE_ESP_DSP)
    idf_build_get_property(_aether_build_components BUILD_COMPONENTS)
    set(_aether_dsp "")
    foreach(_name espressif__esp-dsp esp-dsp)
      if(NOT _aether_dsp AND _name IN_LIST _aether_build_components)
        set(_aether_dsp ${_name})
      endif()
    endforeach()
    if(_aether_dsp)
      target_link_libraries(${COMPONENT_LIB} PRIVATE idf::${_aether_dsp})
      target_compile_definitions(${COMPONENT_LIB} PRIVATE AETHER_USE_ESP_DSP=1)
    else()
      message(WARNING "CONFIG_AETHER_USE_ESP_DSP is set but esp-dsp is not in the build "
                      "(add espressif/esp-dsp to the project's idf_component.yml); "
                      "using the reference dot product")
    endif()
  endif()
endif()
