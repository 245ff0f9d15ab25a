// Picks the Ops implementation that matches a Device.
#pragma once
#include <memory>

#include "kernels/ops.h"
#include "device/device.h"

namespace mart {

std::unique_ptr<Ops> make_ops(Device& dev);

}  // namespace mart
