// SPDX-License-Identifier: BSD-2-Clause
// Functors of the Scale layer: broadcast multiply and the scale's gradient reduction.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// Over a bottom viewed as outer x dim x inner: y[i] = x[i] * scale[(i / inner) % dim]. Used
// for the forward (x = bottom data) and the bottom gradient (x = top diff). Reads x[i] before
// writing y[i], so y may alias x (in place).
struct ScaleForward {
  const float* x;
  const float* scale;
  std::int64_t dim;
  std::int64_t inner;
  float* y;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = x[i] * scale[(i / inner) % dim]; }
};

// One index d per scale element: scale_diff[d] (+)= sum over (o, i) of
// top_diff[o, d, i] * bottom_data[o, d, i], summed in double. accumulate: add to scale_diff
// (a parameter) instead of overwriting it (bottom[1]).
struct ScaleParamGrad {
  const float* top_diff;
  const float* bottom_data;
  std::int64_t outer;
  std::int64_t dim;
  std::int64_t inner;
  bool accumulate;
  float* scale_diff;

  FCN_HOST_DEVICE void operator()(std::int64_t d) const {
    double sum = 0.0;
    for (std::int64_t o = 0; o < outer; ++o) {
      const std::int64_t offset = (o * dim + d) * inner;
      for (std::int64_t i = 0; i < inner; ++i) {
        sum += static_cast<double>(top_diff[offset + i]) * bottom_data[offset + i];
      }
    }
    const float total = static_cast<float>(sum);
    scale_diff[d] = accumulate ? scale_diff[d] + total : total;
  }
};

}  // namespace fcn::kernels
