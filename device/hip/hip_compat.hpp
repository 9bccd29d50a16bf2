// The HIP names the GPU backend uses, for each way it is built:
//  - hipcc (AMD): the real <hip/hip_runtime.h>.
//  - nvcc (NVIDIA): mapped onto the CUDA runtime here, because Debian's HIP 5.2
//    headers for the NVIDIA platform do not compile against CUDA 13.
//  - the host compiler with KVACTOR_GPU_EMULATION: a CPU stand-in used by the
//    tests on machines without a GPU (tests/device_hip/emulation/).
// Only the names below are mapped; a new HIP call needs a line here first.
// Also gives neutral device helpers (warp size, xor shuffle) and a checked-call
// macro that reports file and line through backend_error.
//
// Included only by sources compiled with a GPU compiler (.hip files and
// hip_backend.cpp); plain C++ code uses the launcher and backend headers instead.
#pragma once

#include <string>

#include "device/backend.hpp"

#if defined(KVACTOR_GPU_EMULATION)
#include "tests/device_hip/emulation/gpu_emulation.hpp"
#elif defined(__HIP_PLATFORM_AMD__) || defined(__HIP_PLATFORM_HCC__) || defined(__HIP__)
#include <hip/hip_runtime.h>
#define KVACTOR_GPU_AMD 1
#elif defined(__CUDACC__)
#include <cuda_runtime.h>
#define KVACTOR_GPU_NVIDIA 1

using hipError_t = cudaError_t;
using hipStream_t = cudaStream_t;
using hipDeviceProp_t = cudaDeviceProp;
using hipEvent_t = cudaEvent_t;
#define hipSuccess cudaSuccess
#define hipMalloc cudaMalloc
#define hipFree cudaFree
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipStreamCreate cudaStreamCreate
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipEventCreate cudaEventCreate
#define hipEventDestroy cudaEventDestroy
#define hipEventRecord cudaEventRecord
#define hipEventSynchronize cudaEventSynchronize
#define hipEventElapsedTime cudaEventElapsedTime
#define hipGetDeviceCount cudaGetDeviceCount
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipGetDevice cudaGetDevice
#define hipSetDevice cudaSetDevice
#define hipGetLastError cudaGetLastError
#define hipLaunchKernel cudaLaunchKernel
#define hipGetErrorString cudaGetErrorString
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipMemGetInfo cudaMemGetInfo
#else
#error "device/hip/hip_compat.hpp needs hipcc (AMD) or nvcc (NVIDIA)"
#endif

namespace kvactor::hip {

// Lanes per warp (NVIDIA) or wavefront (AMD) for the code being compiled. AMD's
// device pass knows its target (64 on CDNA such as gfx90a, 32 on RDNA such as
// gfx1030); the host pass never runs device code, so its value is only a
// placeholder. Host code must not size anything by it: launchers use block sizes
// that are multiples of 64, valid for every warp size.
#if defined(KVACTOR_GPU_EMULATION)
inline constexpr int warp_size = ::kvactor::emulation::lanes;  // 32, or 64 (KVACTOR_EMULATED_WARP_SIZE)
#elif defined(KVACTOR_GPU_NVIDIA)
inline constexpr int warp_size = 32;
#elif defined(__AMDGCN_WAVEFRONT_SIZE)
inline constexpr int warp_size = __AMDGCN_WAVEFRONT_SIZE;
#else
inline constexpr int warp_size = 64;
#endif

// Raises backend_error naming the failed call, where it was made and the runtime's
// description of the error.
[[noreturn]] inline void throw_gpu_error(hipError_t error, const char* call, const char* file, int line) {
  throw backend_error(std::string("GPU call failed at ") + file + ":" + std::to_string(line) + ": " + call + ": " +
                      hipGetErrorString(error));
}

// Value of `v` in lane (this lane ^ mask) of the same warp; every lane must call it.
__device__ inline float shfl_xor(float v, int mask) {
#if defined(KVACTOR_GPU_EMULATION)
  return ::kvactor::emulation::shuffle_xor(v, mask);
#elif defined(KVACTOR_GPU_NVIDIA)
  return __shfl_xor_sync(0xffffffffu, v, mask, warp_size);
#else
  return __shfl_xor(v, mask, warp_size);
#endif
}

// Enqueues kernel(args...) on `stream` through the runtime's launch call, which
// takes the kernel by address (so it also works for a kernel passed as a pointer,
// on both compilers) and lets the host compiler build the launchers for the CPU
// emulation. Arguments are first converted to the kernel's parameter types.
template <class... Params>
void launch_converted(void (*kernel)(Params...), dim3 grid, dim3 block, hipStream_t stream, Params... params) {
#if defined(KVACTOR_GPU_EMULATION)
  (void)stream;
  ::kvactor::emulation::launch(grid, block, [&] { kernel(params...); });
#else
  void* arguments[] = {static_cast<void*>(&params)...};
  const hipError_t status = hipLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, arguments, 0, stream);
  if (status != hipSuccess) throw_gpu_error(status, "hipLaunchKernel", __FILE__, __LINE__);
#endif
}

template <class... Params, class... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, hipStream_t stream, Args... args) {
  launch_converted<Params...>(kernel, grid, block, stream, static_cast<Params>(args)...);
}

}  // namespace kvactor::hip

#define KVACTOR_HIP_CHECK(call)                                                       \
  do {                                                                                \
    const hipError_t kvactor_hip_status = (call);                                     \
    if (kvactor_hip_status != hipSuccess)                                             \
      ::kvactor::hip::throw_gpu_error(kvactor_hip_status, #call, __FILE__, __LINE__); \
  } while (0)
