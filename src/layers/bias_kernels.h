// SPDX-License-Identifier: BSD-2-Clause
// Functors of the Bias layer (and of Scale's bias term): broadcast add and its reduction.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// Over a bottom viewed as outer x dim x inner: y[i] = x[i] + bias[(i / inner) % dim].
// Reads x[i] before writing y[i], so y may alias x (in place).
struct BiasForward {
  const float* x;
  const float* bias;
  std::int64_t dim;
  std::int64_t inner;
  float* y;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = x[i] + bias[(i / inner) % dim]; }
};

// One index d per bias element: bias_diff[d] (+)= sum over (o, i) of top_diff[o, d, i], summed
// in double. accumulate: add to bias_diff (a parameter) instead of overwriting it (a bottom).
struct BiasParamGrad {
  const float* top_diff;
  std::int64_t outer;
  std::int64_t dim;
  std::int64_t inner;
  bool accumulate;
  float* bias_diff;

  FCN_HOST_DEVICE void operator()(std::int64_t d) const {
    double sum = 0.0;
    for (std::int64_t o = 0; o < outer; ++o) {
      const float* row = top_diff + (o * dim + d) * inner;
      for (std::int64_t i = 0; i < inner; ++i) sum += row[i];
    }
    const float total = static_cast<float>(sum);
    bias_diff[d] = accumulate ? bias_diff[d] + total : total;
  }
};

}  // namespace fcn::kernels
