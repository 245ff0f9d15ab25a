// Error checking for CUDA runtime, cuBLASLt and cuDNN calls. Every call MART makes into these
// libraries goes through one of the macros below, so a failure names the file, the line, the call
// as written, the library's own error name and text, and a hint at the usual cause:
//
//   MART_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, kind, stream));
//   MART_CUBLAS_CHECK(cublasLtMatmul(...));
//   MART_CUDNN_CHECK(cudnnBackendFinalize(desc));
//   MART_CUDA_CHECK_LAUNCH("layernorm_forward");   // after a <<<...>>> launch
//
// They throw mart::Error (common/error.h) like every other MART failure. The *_WARN variants only
// print (for destructors, which must not throw).
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdio>
#include <string>

#include "common/error.h"

namespace mart::cuda_detail {

// The usual cause of a CUDA runtime error, in words a user can act on.
inline const char* cuda_hint(cudaError_t e) {
  switch (e) {
    case cudaErrorMemoryAllocation:
      return "the GPU is out of memory: lower train.micro_batch or memory.device_capacity, or "
             "check "
             "nvidia-smi for other processes on the GPU";
    case cudaErrorNoDevice:
      return "no CUDA GPU is visible (CUDA_VISIBLE_DEVICES, container without --gpus?)";
    case cudaErrorInsufficientDriver:
      return "the NVIDIA driver is missing or older than this CUDA runtime; update the driver";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
      return "this binary has no code for this GPU: rebuild with CMAKE_CUDA_ARCHITECTURES set for "
             "it "
             "(the default is 90a-real;90-virtual, Hopper and newer)";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
      return "a kernel faulted (often out-of-bounds memory). Errors are asynchronous, so the "
             "failing "
             "kernel may be an earlier one: rerun under compute-sanitizer or with "
             "CUDA_LAUNCH_BLOCKING=1";
    case cudaErrorInvalidConfiguration:
      return "bad launch configuration (grid/block size or shared memory over the device limit)";
    case cudaErrorInvalidValue:
      return "an argument is out of range (null or misaligned pointer, zero size, wrong copy kind)";
    case cudaErrorInvalidResourceHandle:
      return "a stream or event from another device or already destroyed was used";
    case cudaErrorNotReady:
      return "work is still pending (query before completion)";
    default:
      return "see the CUDA runtime documentation for this error code";
  }
}

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "CUBLAS_STATUS_<unknown>";
  }
}

inline const char* cublas_hint(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "no cuBLASLt kernel for this shape/layout/epilogue (check leading dimensions and "
             "pointer alignment; bf16 wants multiples of 8 elements and 16-byte alignment)";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an argument is inconsistent (matrix sizes, leading dimensions, workspace size)";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "cuBLASLt could not allocate host or device memory";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the kernel failed to launch or run (an earlier asynchronous error is likely)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "the GPU lacks a feature this call needs";
    default:
      return "see the cuBLAS documentation for this status";
  }
}

inline const char* cudnn_hint(cudnnStatus_t s) {
  switch (s) {
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "cuDNN has no engine for this graph/shape (MART falls back to its own kernels where "
             "it "
             "can; set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's reason)";
    case CUDNN_STATUS_BAD_PARAM:
      return "a descriptor attribute is missing or inconsistent (set CUDNN_LOGERR_DBG=1 "
             "CUDNN_LOGDEST_DBG=stderr for details)";
    case CUDNN_STATUS_EXECUTION_FAILED:
      return "the cuDNN kernel failed (an earlier asynchronous error is likely)";
    case CUDNN_STATUS_NOT_INITIALIZED:
      return "cuDNN could not initialise (driver/library mismatch, or no GPU)";
    default:
      return "set CUDNN_LOGERR_DBG=1 CUDNN_LOGDEST_DBG=stderr for cuDNN's own diagnostics";
  }
}

inline std::string cudnn_last_error() {
  char buf[512] = {0};
  cudnnGetLastErrorString(buf, sizeof(buf));
  return buf[0] ? std::string(" [cuDNN: ") + buf + "]" : std::string();
}

[[noreturn]] inline void cuda_fail(const char* file, int line, const char* call, cudaError_t e) {
  ::mart::throw_error(file, line,
                      ::mart::str(call, " failed: ", cudaGetErrorName(e), " (",
                                  cudaGetErrorString(e), "). Hint: ", cuda_hint(e)));
}
[[noreturn]] inline void cublas_fail(const char* file, int line, const char* call,
                                     cublasStatus_t s) {
  ::mart::throw_error(
      file, line,
      ::mart::str(call, " failed: ", cublas_status_name(s), ". Hint: ", cublas_hint(s)));
}
[[noreturn]] inline void cudnn_fail(const char* file, int line, const char* call, cudnnStatus_t s) {
  ::mart::throw_error(file, line,
                      ::mart::str(call, " failed: ", cudnnGetErrorString(s), cudnn_last_error(),
                                  ". Hint: ", cudnn_hint(s)));
}
inline void cuda_warn(const char* file, int line, const char* call, cudaError_t e) {
  std::fprintf(stderr, "MART warning: %s:%d: %s failed: %s (%s)\n", file, line, call,
               cudaGetErrorName(e), cudaGetErrorString(e));
}

}  // namespace mart::cuda_detail

#define MART_CUDA_CHECK(call)                                               \
  do {                                                                      \
    const cudaError_t mart_err_ = (call);                                   \
    if (mart_err_ != cudaSuccess)                                           \
      ::mart::cuda_detail::cuda_fail(__FILE__, __LINE__, #call, mart_err_); \
  } while (0)

// For destructors and other places that must not throw: prints and carries on.
#define MART_CUDA_CHECK_WARN(call)                                          \
  do {                                                                      \
    const cudaError_t mart_err_ = (call);                                   \
    if (mart_err_ != cudaSuccess)                                           \
      ::mart::cuda_detail::cuda_warn(__FILE__, __LINE__, #call, mart_err_); \
  } while (0)

#define MART_CUBLAS_CHECK(call)                                              \
  do {                                                                       \
    const cublasStatus_t mart_st_ = (call);                                  \
    if (mart_st_ != CUBLAS_STATUS_SUCCESS)                                   \
      ::mart::cuda_detail::cublas_fail(__FILE__, __LINE__, #call, mart_st_); \
  } while (0)

#define MART_CUDNN_CHECK(call)                                              \
  do {                                                                      \
    const cudnnStatus_t mart_st_ = (call);                                  \
    if (mart_st_ != CUDNN_STATUS_SUCCESS)                                   \
      ::mart::cuda_detail::cudnn_fail(__FILE__, __LINE__, #call, mart_st_); \
  } while (0)

// After a kernel launch: catches launch-configuration errors at once (cudaGetLastError does not
// synchronise, so this costs nothing); faults inside the kernel surface at the next checked call.
#define MART_CUDA_CHECK_LAUNCH(kernel_name)                                               \
  do {                                                                                    \
    const cudaError_t mart_err_ = cudaGetLastError();                                     \
    if (mart_err_ != cudaSuccess)                                                         \
      ::mart::cuda_detail::cuda_fail(__FILE__, __LINE__, "launch of kernel " kernel_name, \
                                     mart_err_);                                          \
  } while (0)
