// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functors of the ReLU layer (run by ForEachIndex on the CPU or a GPU).
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// top[i] = bottom[i] if bottom[i] > 0, else negative_slope * bottom[i].
// In-place safe: element i is read before it is written, and nothing else is touched.
struct ReluForward {
  const float* bottom;
  float* top;
  float negative_slope;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float x = bottom[i];
    top[i] = x > 0.0f ? x : negative_slope * x;
  }
};

// bottom_diff[i] = top_diff[i] * (1 if x > 0, else negative_slope), x = bottom_data[i].
// In-place safe (bottom_diff may be top_diff; bottom_data may be the forward output when
// negative_slope >= 0, since the output then has the sign of the input, 0 staying 0).
struct ReluBackward {
  const float* top_diff;
  const float* bottom_data;
  float* bottom_diff;
  float negative_slope;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    bottom_diff[i] = bottom_data[i] > 0.0f ? top_diff[i] : negative_slope * top_diff[i];
  }
};

}  // namespace fcn::kernels
