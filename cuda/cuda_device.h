// The CUDA device (cuda/cuda_device.cu). Outside cuda/ it is reached through the backend
// interface (device/cuda_backend.h: make_cuda_device, cuda_unavailable_reason in device.h).
#pragma once
#include <memory>
#include <string>

#include "device/device.h"

namespace mart::cuda {

// "" when a CUDA device is usable, else why not.
std::string unavailable_reason();
// Throws mart::Error naming the reason when the device cannot be used.
std::unique_ptr<Device> make_device(int ordinal);

}  // namespace mart::cuda
