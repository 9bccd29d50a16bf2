# The GPU backend (device/hip/). Included from device/CMakeLists.txt once
# kvactor_device exists. KVACTOR_HIP (top-level cache variable) picks the compiler:
#   auto   - nvcc (/usr/local/cuda/bin/nvcc or PATH) and/or hipcc, whichever work
#   nvidia - nvcc, required;  amd - hipcc, required;  off - no GPU backend
# The .hip sources are compiled with custom commands rather than a CMake GPU
# language: nvcc builds them as CUDA through device/hip/hip_compat.hpp, hipcc as
# HIP, with the same flags on every machine, and a machine without either still
# configures and builds (kvactor_device then links hip_backend_unavailable.cpp).
# When both compilers work, both compile the kernels (so CI catches errors for
# each) and the NVIDIA build is the one linked, unless KVACTOR_HIP=amd.

set(KVACTOR_HIP_NVIDIA_ARCHS "90a" CACHE STRING "NVIDIA architectures for nvcc (sm_XX without the prefix), ;-list")
set(KVACTOR_HIP_AMD_ARCHS "gfx90a;gfx1030" CACHE STRING "AMD architectures for hipcc (--offload-arch), ;-list")
set(_hip_root ${PROJECT_SOURCE_DIR}/device/hip)
set(_hip_mode "${KVACTOR_HIP}")
if(NOT _hip_mode MATCHES "^(auto|amd|nvidia|off)$")
  message(FATAL_ERROR "KVACTOR_HIP must be auto, amd, nvidia or off (got '${KVACTOR_HIP}')")
endif()

# Sources compiled by the GPU compiler; the launchers include the kernel files.
set(_hip_gpu_sources device_memory.hip dense_launchers.hip attention_launchers.hip)
file(GLOB _hip_gpu_headers CONFIGURE_DEPENDS ${_hip_root}/*.hip ${_hip_root}/*.hpp)

# Compiles a trivial kernel with `compiler` and `flags`; sets `result` to TRUE/FALSE
# and `log` to the compiler's output. Cached per compiler so configure stays fast.
function(_kvactor_gpu_compiler_works compiler flags cache_name result log)
  if(DEFINED ${cache_name})
    set(${result} ${${cache_name}} PARENT_SCOPE)
    set(${log} "" PARENT_SCOPE)
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/kvactor_gpu_probe)
  file(MAKE_DIRECTORY ${dir})
  # hipcc needs the HIP runtime header for threadIdx; nvcc gets it from the CUDA language.
  file(WRITE ${dir}/probe.hip "#if defined(__HIP__)\n#include <hip/hip_runtime.h>\n#endif\n"
       "__global__ void kvactor_probe(float* x) { x[threadIdx.x] = 1.0f; }\nint main() { return 0; }\n")
  execute_process(COMMAND ${compiler} ${flags} -c ${dir}/probe.hip -o ${dir}/probe.o
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(status EQUAL 0)
    set(${cache_name} TRUE CACHE INTERNAL "")
    set(${result} TRUE PARENT_SCOPE)
  else()
    set(${result} FALSE PARENT_SCOPE)
  endif()
  set(${log} "exit status: ${status}\n${out}${err}" PARENT_SCOPE)
endfunction()

# nvcc flags: CUDA language for .hip files, no contraction of a*b+c into fma (the
# kernels write fmaf where they mean it, so every build computes the same thing),
# host code as position-independent C++17 with the project's warnings.
set(_nvcc_flags -x cu -std=c++17 -O3 --fmad=false -Xcompiler=-fPIC,-Wall,-Wextra --Werror all-warnings
    -I${PROJECT_SOURCE_DIR})
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND _nvcc_flags -ccbin ${CMAKE_CXX_COMPILER})
endif()
foreach(arch ${KVACTOR_HIP_NVIDIA_ARCHS})
  list(APPEND _nvcc_flags -gencode arch=compute_${arch},code=sm_${arch})
endforeach()
set(_hipcc_flags -x hip -std=c++17 -O3 -ffp-contract=off -fPIC -Wall -Wextra -I${PROJECT_SOURCE_DIR})
foreach(arch ${KVACTOR_HIP_AMD_ARCHS})
  list(APPEND _hipcc_flags --offload-arch=${arch})
endforeach()

set(_hip_nvidia FALSE)
set(_hip_amd FALSE)
set(_hip_reason "KVACTOR_HIP=off")
if(NOT _hip_mode STREQUAL "off")
  if(_hip_mode MATCHES "^(auto|nvidia)$")
    find_program(KVACTOR_NVCC_EXECUTABLE nvcc HINTS /usr/local/cuda/bin)
    find_library(KVACTOR_CUDART_LIBRARY cudart HINTS /usr/local/cuda/lib64 /usr/local/cuda/lib)
    if(KVACTOR_NVCC_EXECUTABLE AND KVACTOR_CUDART_LIBRARY)
      _kvactor_gpu_compiler_works(${KVACTOR_NVCC_EXECUTABLE} "${_nvcc_flags}" KVACTOR_NVCC_WORKS _ok _log)
      if(_ok)
        set(_hip_nvidia TRUE)
      elseif(_hip_mode STREQUAL "nvidia")
        message(FATAL_ERROR "KVACTOR_HIP=nvidia: ${KVACTOR_NVCC_EXECUTABLE} cannot compile a test kernel:\n${_log}")
      else()
        message(WARNING "KVACTOR_HIP=auto: ${KVACTOR_NVCC_EXECUTABLE} cannot compile a test kernel; skipping NVIDIA:\n${_log}")
      endif()
    elseif(_hip_mode STREQUAL "nvidia")
      message(FATAL_ERROR "KVACTOR_HIP=nvidia needs nvcc and libcudart (looked in /usr/local/cuda and PATH): "
                          "nvcc='${KVACTOR_NVCC_EXECUTABLE}', cudart='${KVACTOR_CUDART_LIBRARY}'. "
                          "Set KVACTOR_NVCC_EXECUTABLE, or use -DKVACTOR_HIP=off.")
    endif()
  endif()
  if(_hip_mode MATCHES "^(auto|amd)$")
    find_program(KVACTOR_HIPCC_EXECUTABLE hipcc HINTS /opt/rocm/bin)
    find_library(KVACTOR_AMDHIP_LIBRARY amdhip64 HINTS /opt/rocm/lib)
    if(KVACTOR_HIPCC_EXECUTABLE AND KVACTOR_AMDHIP_LIBRARY)
      _kvactor_gpu_compiler_works(${KVACTOR_HIPCC_EXECUTABLE} "${_hipcc_flags}" KVACTOR_HIPCC_WORKS _ok _log)
      if(_ok)
        set(_hip_amd TRUE)
      elseif(_hip_mode STREQUAL "amd")
        message(FATAL_ERROR "KVACTOR_HIP=amd: ${KVACTOR_HIPCC_EXECUTABLE} cannot compile a test kernel for "
                            "${KVACTOR_HIP_AMD_ARCHS}:\n${_log}")
      else()
        message(WARNING "KVACTOR_HIP=auto: ${KVACTOR_HIPCC_EXECUTABLE} cannot compile a test kernel; skipping AMD:\n${_log}")
      endif()
    elseif(_hip_mode STREQUAL "amd")
      message(FATAL_ERROR "KVACTOR_HIP=amd needs hipcc and libamdhip64 (Debian: apt install hipcc libamdhip64-dev): "
                          "hipcc='${KVACTOR_HIPCC_EXECUTABLE}', amdhip64='${KVACTOR_AMDHIP_LIBRARY}'. "
                          "Set KVACTOR_HIPCC_EXECUTABLE, or use -DKVACTOR_HIP=off.")
    endif()
  endif()
  if(NOT _hip_nvidia AND NOT _hip_amd)
    set(_hip_reason "KVACTOR_HIP=${_hip_mode}: no working nvcc or hipcc found")
  endif()
endif()

# Compiles the GPU sources with one compiler into objects; returns their paths.
function(_kvactor_gpu_objects kind compiler launcher flags out_var)
  set(objects)
  foreach(src ${_hip_gpu_sources})
    get_filename_component(stem ${src} NAME_WE)
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/hip_${kind}/${stem}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/hip_${kind}
      COMMAND ${launcher} ${compiler} ${flags} -c ${_hip_root}/${src} -o ${obj}
      DEPENDS ${_hip_root}/${src} ${_hip_gpu_headers} ${PROJECT_SOURCE_DIR}/device/backend.hpp
              ${PROJECT_SOURCE_DIR}/device/sampling.hpp ${PROJECT_SOURCE_DIR}/model/model.hpp
      COMMENT "Compiling ${src} for ${kind} (${compiler})"
      VERBATIM)
    set_source_files_properties(${obj} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    list(APPEND objects ${obj})
  endforeach()
  set(${out_var} ${objects} PARENT_SCOPE)
endfunction()

set(_ccache_launcher)
if(CCACHE_PROGRAM)
  set(_ccache_launcher ${CCACHE_PROGRAM})
endif()

set(_hip_linked "")
if(_hip_nvidia)
  _kvactor_gpu_objects(nvidia ${KVACTOR_NVCC_EXECUTABLE} "${_ccache_launcher}" "${_nvcc_flags}" _nvidia_objects)
endif()
if(_hip_amd)
  _kvactor_gpu_objects(amd ${KVACTOR_HIPCC_EXECUTABLE} "" "${_hipcc_flags}" _amd_objects)
endif()
if(_hip_nvidia AND NOT _hip_mode STREQUAL "amd")
  set(_hip_linked nvidia)
elseif(_hip_amd)
  set(_hip_linked amd)
endif()

if(_hip_linked STREQUAL "nvidia")
  string(REPLACE ";" "," _archs "${KVACTOR_HIP_NVIDIA_ARCHS}")
  target_sources(kvactor_device PRIVATE ${_nvidia_objects} ${_hip_root}/hip_backend.cpp ${_hip_root}/attention_plan.cpp)
  target_compile_definitions(kvactor_device PRIVATE "KVACTOR_HIP_TARGET=\"nvidia: nvcc, sm_${_archs}\"")
  target_link_libraries(kvactor_device PUBLIC ${KVACTOR_CUDART_LIBRARY})
  if(_hip_amd)  # compiled to check the sources, not linked
    add_custom_target(kvactor_hip_amd_objects ALL DEPENDS ${_amd_objects})
  endif()
elseif(_hip_linked STREQUAL "amd")
  target_sources(kvactor_device PRIVATE ${_amd_objects} ${_hip_root}/hip_backend.cpp ${_hip_root}/attention_plan.cpp)
  string(REPLACE ";" "," _archs "${KVACTOR_HIP_AMD_ARCHS}")
  target_compile_definitions(kvactor_device PRIVATE "KVACTOR_HIP_TARGET=\"amd: hipcc, ${_archs}\"")
  target_link_libraries(kvactor_device PUBLIC ${KVACTOR_AMDHIP_LIBRARY})
  if(_hip_nvidia)
    add_custom_target(kvactor_hip_nvidia_objects ALL DEPENDS ${_nvidia_objects})
  endif()
else()
  target_sources(kvactor_device PRIVATE ${_hip_root}/hip_backend_unavailable.cpp)
  target_compile_definitions(kvactor_device PRIVATE "KVACTOR_HIP_UNAVAILABLE_REASON=\"${_hip_reason}\"")
endif()

# Read by tests/device_hip and bench/: which GPU build kvactor_device carries ("" = none).
set_property(GLOBAL PROPERTY KVACTOR_HIP_LINKED "${_hip_linked}")
if(_hip_linked)
  message(STATUS "kvactor GPU backend: ${_hip_linked} (nvcc: ${_hip_nvidia}, hipcc: ${_hip_amd})")
else()
  message(STATUS "kvactor GPU backend: none (${_hip_reason})")
endif()
