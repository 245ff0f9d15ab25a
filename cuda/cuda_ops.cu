// CudaOps infrastructure: construction (handles, fixed workspaces), the lazily grown scratch
// buffer, host/device id staging, and the factory. The ops themselves live in the sibling files
// listed in cuda_ops_impl.cuh.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/units.h"
#include "cuda/cuda_ops.h"
#include "cuda/cuda_ops_impl.cuh"
#include "cuda/cudnn_policy.h"

namespace mart::cuda {

namespace {
std::string env_or(const char* name, const char* dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(dflt);
}

// Once per process, on stderr: which cuDNN is loaded (it decides which attention shapes run on
// cuDNN, see cudnn_policy.h) and which one MART was compiled against, since the wheel or system
// library found at run time need not be the build's.
void say_cudnn_version() {
  static std::once_flag once;
  std::call_once(once, [] {
    const size_t v = cudnnGetVersion();
    std::fprintf(stderr, "MART: cuDNN %s loaded (built against %s)%s\n",
                 cudnn_version_string(v).c_str(), cudnn_version_string(CUDNN_VERSION).c_str(),
                 cudnn_sdpa_backward_is_broken(v)
                     ? "; its bf16 attention backward is known to be wrong, MART's kernels run it"
                     : "");
  });
}
}  // namespace

CudaOps::CudaOps(Device& dev) : dev_(dev) {
  MART_CHECK(dev.backend() == Backend::CUDA, "make_cuda_ops needs a CUDA device, got '", dev.name(),
             "' (create it with make_cuda_device or make_device(\"cuda\"))");
  stream_ = static_cast<cudaStream_t>(dev.native_stream(kComputeStream));
  int ordinal = 0;
  MART_CUDA_CHECK(cudaGetDevice(&ordinal));
  MART_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, ordinal));

  MART_CUBLAS_CHECK(cublasLtCreate(&lt_));
  lt_ws_ = dev_.raw_malloc(kLtWorkspaceBytes);
  small_ = dev_.raw_malloc(kSmallBytes);

  // cuDNN is optional at run time: without it attention runs on MART's own kernels.
  const cudnnStatus_t st = cudnnCreate(&dnn_);
  if (st == CUDNN_STATUS_SUCCESS) {
    say_cudnn_version();
    MART_CUDNN_CHECK(cudnnSetStream(dnn_, stream_));
  } else {
    dnn_ = nullptr;
    dnn_error_ = str("cudnnCreate failed: ", cudnnGetErrorString(st));
  }
  const std::string mode = env_or("MART_ATTENTION", "auto");
  MART_CHECK(mode == "auto" || mode == "cudnn" || mode == "fallback", "MART_ATTENTION='", mode,
             "' is not one of auto, cudnn, fallback");
  attention_mode_ = mode == "auto" ? 0 : mode == "cudnn" ? 1 : 2;
  if (attention_mode_ == 1)
    MART_CHECK(dnn_ != nullptr, "MART_ATTENTION=cudnn but cuDNN is unavailable: ", dnn_error_);
  cudnn_deterministic_ = env_or("MART_CUDNN_DETERMINISTIC", "0") == "1";
}

CudaOps::~CudaOps() {
  // Work queued by the ops may still reference the workspaces.
  MART_CUDA_CHECK_WARN(cudaStreamSynchronize(stream_));
  sdpa_.reset();
  lt_cache_.reset();
  if (dnn_) cudnnDestroy(dnn_);
  if (lt_) cublasLtDestroy(lt_);
  dev_.raw_free(scratch_, scratch_bytes_);
  dev_.raw_free(small_, kSmallBytes);
  dev_.raw_free(lt_ws_, kLtWorkspaceBytes);
}

void* CudaOps::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  // Grow: earlier ops may still be using the old buffer on the stream.
  MART_CUDA_CHECK(cudaStreamSynchronize(stream_));
  dev_.raw_free(scratch_, scratch_bytes_);
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  const size_t want = round_up(bytes, size_t(2) << 20);
  scratch_ = dev_.raw_malloc(want);
  scratch_bytes_ = want;
  return scratch_;
}

size_t loaded_cudnn_version() {
  return cudnnGetVersion();
}

size_t CudaOps::private_bytes() const {
  return kLtWorkspaceBytes + kSmallBytes + scratch_bytes_;
}

const int32_t* CudaOps::device_ids(const int32_t* p, size_t n, int32_t* staging) {
  cudaPointerAttributes attr{};
  MART_CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  switch (attr.type) {
    case cudaMemoryTypeDevice:
    case cudaMemoryTypeManaged:
      return p;
    case cudaMemoryTypeHost:  // pinned: mapped into the device's address space (UVA)
      return static_cast<const int32_t*>(attr.devicePointer);
    default:  // pageable host memory: stage it
      MART_CUDA_CHECK(
          cudaMemcpyAsync(staging, p, n * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));
      return staging;
  }
}

}  // namespace mart::cuda

namespace mart {

std::unique_ptr<Ops> make_cuda_ops(Device& dev) {
  return std::make_unique<cuda::CudaOps>(dev);
}

size_t cuda_ops_private_bytes(const Ops& ops) {
  const auto* c = dynamic_cast<const cuda::CudaOps*>(&ops);
  return c ? c->private_bytes() : 0;
}

std::string cuda_attention_status(Ops& ops, bool backward, int B, int T, int NH, int NKV, int HS) {
  auto* c = dynamic_cast<cuda::CudaOps*>(&ops);
  return c ? c->attention_status(backward, B, T, NH, NKV, HS) : std::string("not CUDA ops");
}

}  // namespace mart
