// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functors of the AbsVal layer (run by ForEachIndex on the CPU or a GPU).
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// top[i] = |bottom[i]| (fabsf: |-0| is +0, as Caffe's caffe_abs). In-place safe.
struct AbsValForward {
  const float* bottom;
  float* top;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { top[i] = fabsf(bottom[i]); }
};

// bottom_diff[i] = sign(x) * top_diff[i], x = bottom_data[i], sign(0) = 0 (as Caffe).
// bottom_diff may be top_diff; bottom_data must be the input (not the output), which is why
// the layer does not run in place.
struct AbsValBackward {
  const float* top_diff;
  const float* bottom_data;
  float* bottom_diff;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float x = bottom_data[i];
    const float sign = x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    bottom_diff[i] = sign * top_diff[i];
  }
};

}  // namespace fcn::kernels
