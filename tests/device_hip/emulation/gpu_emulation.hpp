// A CPU stand-in for the GPU, so the HIP kernels and launchers can be compiled by
// the host compiler and run in the tests on machines without a GPU (CI included).
//
// Each GPU thread of a block is a fiber (ucontext) on the calling thread; blocks
// run one after another. __syncthreads waits for every live thread of the block,
// a warp shuffle for all lanes of the warp; a shuffle or barrier that not all
// of them reach is reported as a deadlock instead of hanging. The warp size is
// KVACTOR_EMULATED_WARP_SIZE: 32 (NVIDIA, AMD RDNA) by default, 64 for an AMD CDNA
// wavefront; the tests run at both. __shared__ variables become function statics
// in one linker section, which is exact because blocks never overlap; before each
// block that section is filled with a poison pattern (every byte 0xFF: NaN floats,
// -1 integers), as real shared memory starts with whatever the last block left, so
// a kernel that reads shared memory it did not write fails its test. The runtime
// calls (hipMalloc, hipMemcpy, streams, events) work on host memory.
//
// It checks the kernels' logic (indexing, reductions, the split-K merge, batch
// invariance), not a real device's memory model, timing or code generation.
// Included by device/hip/hip_compat.hpp when KVACTOR_GPU_EMULATION is defined.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define __global__
#define __device__
#define __host__
// GCC wants every variable of one section from the same kind of function: the
// kernels (plain, non-inline functions) are.
#define __shared__ __attribute__((section("kvactor_gpu_shared"))) static
#define __launch_bounds__(threads)

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct float4 {
  float x, y, z, w;
};
struct uint2 {
  unsigned x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float __uint_as_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
using std::isnan;  // expf, fmaf, fmaxf, sqrtf: the C library's, from <cmath>
template <class T>
T min(T a, T b) {
  return b < a ? b : a;
}

namespace kvactor::emulation {

#ifndef KVACTOR_EMULATED_WARP_SIZE
#define KVACTOR_EMULATED_WARP_SIZE 32
#endif
static_assert(KVACTOR_EMULATED_WARP_SIZE == 32 || KVACTOR_EMULATED_WARP_SIZE == 64, "warp size 32 or 64");
inline constexpr int lanes = KVACTOR_EMULATED_WARP_SIZE;
inline constexpr unsigned char shared_poison_byte = 0xFF;

const dim3& thread_idx();
const dim3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();
void sync_block();
float shuffle_xor(float value, int lane_mask);
// Fills every __shared__ variable with shared_poison_byte (launch does, before each
// block); returns how many bytes that is.
std::size_t poison_shared_memory();
// Runs `body` once per thread of every block of `grid`.
void launch(dim3 grid, dim3 block, const std::function<void()>& body);

}  // namespace kvactor::emulation

#define threadIdx (::kvactor::emulation::thread_idx())
#define blockIdx (::kvactor::emulation::block_idx())
#define blockDim (::kvactor::emulation::block_dim())
#define gridDim (::kvactor::emulation::grid_dim())
#define __syncthreads() ::kvactor::emulation::sync_block()

// The runtime API subset hip_compat.hpp names, over host memory.
enum hipError_t { hipSuccess = 0, hipErrorOutOfMemory = 2, hipErrorInvalidValue = 1 };
enum hipMemcpyKind { hipMemcpyHostToDevice, hipMemcpyDeviceToHost, hipMemcpyDeviceToDevice };
using hipStream_t = struct emulated_stream*;
using hipEvent_t = struct emulated_event*;
struct hipDeviceProp_t {
  char name[64];
  std::size_t totalGlobalMem;
  int warpSize;
};
hipError_t hipMalloc(void** pointer, std::size_t bytes);
hipError_t hipFree(void* pointer);
hipError_t hipMemcpy(void* dst, const void* src, std::size_t bytes, hipMemcpyKind kind);
hipError_t hipMemcpyAsync(void* dst, const void* src, std::size_t bytes, hipMemcpyKind kind, hipStream_t stream);
hipError_t hipMemset(void* dst, int value, std::size_t bytes);
hipError_t hipStreamCreate(hipStream_t* stream);
hipError_t hipStreamDestroy(hipStream_t stream);
hipError_t hipStreamSynchronize(hipStream_t stream);
hipError_t hipEventCreate(hipEvent_t* event);
hipError_t hipEventDestroy(hipEvent_t event);
hipError_t hipEventRecord(hipEvent_t event, hipStream_t stream);
hipError_t hipEventSynchronize(hipEvent_t event);
hipError_t hipEventElapsedTime(float* ms, hipEvent_t start, hipEvent_t stop);
hipError_t hipGetDeviceCount(int* count);
hipError_t hipGetDevice(int* device);
hipError_t hipGetDeviceProperties(hipDeviceProp_t* props, int device);
hipError_t hipGetLastError();
const char* hipGetErrorString(hipError_t error);
