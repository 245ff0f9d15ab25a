// Picks the Ops implementation that matches a Device.
#pragma once
#include <memory>

#include "device/device.h"
#include "kernels/ops.h"

namespace mart {

std::unique_ptr<Ops> make_ops(Device& dev);

}  // namespace mart
