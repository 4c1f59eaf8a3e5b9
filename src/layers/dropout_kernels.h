// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functor of the Dropout layer (run by ForEachIndex on the CPU or a GPU).
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// out[i] = in[i] * mask[i] * scale, mask[i] in {0, 1}. Serves the forward pass (in = bottom
// data, out = top data) and the backward pass (in = top diff, out = bottom diff).
// In-place safe: element i is read before it is written, and nothing else is touched.
struct ApplyDropoutMask {
  const float* in;
  const float* mask;
  float* out;
  float scale;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { out[i] = in[i] * mask[i] * scale; }
};

}  // namespace fcn::kernels
