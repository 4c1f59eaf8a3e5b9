// SPDX-License-Identifier: BSD-2-Clause
// Per-position softmax functors, shared by the Softmax and SoftmaxWithLoss layers.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// A blob seen as outer x channels x inner; position i in [0, outer * inner) is the pair
// (i / inner, i % inner), and its class c sits at (i / inner) * channels * inner + c * inner +
// i % inner.
FCN_HOST_DEVICE inline std::int64_t SoftmaxBase(std::int64_t i, std::int64_t channels,
                                                std::int64_t inner) {
  return (i / inner) * channels * inner + i % inner;
}

// top[:, c, :] = exp(x_c - max_c' x_c') / sum_c'' exp(x_c'' - max), at one position.
// In-place safe: the maximum is taken before anything is written, the exponent pass reads
// each element before overwriting it, and the last pass reads only top.
struct SoftmaxForward {
  const float* bottom;
  float* top;
  std::int64_t channels;
  std::int64_t inner;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t base = SoftmaxBase(i, channels, inner);
    float max_value = -FLT_MAX;
    for (std::int64_t c = 0; c < channels; ++c) {
      max_value = fmaxf(max_value, bottom[base + c * inner]);
    }
    float sum = 0.0f;
    for (std::int64_t c = 0; c < channels; ++c) {
      const float e = expf(bottom[base + c * inner] - max_value);
      top[base + c * inner] = e;
      sum += e;
    }
    for (std::int64_t c = 0; c < channels; ++c) top[base + c * inner] /= sum;
  }
};

// bottom_diff = y * (dy - sum_c dy_c * y_c), at one position.
// In-place safe (bottom_diff == top_diff): the dot product is finished before any write, and
// each element is read before it is overwritten.
struct SoftmaxBackward {
  const float* top_data;
  const float* top_diff;
  float* bottom_diff;
  std::int64_t channels;
  std::int64_t inner;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t base = SoftmaxBase(i, channels, inner);
    float dot = 0.0f;
    for (std::int64_t c = 0; c < channels; ++c) {
      dot += top_diff[base + c * inner] * top_data[base + c * inner];
    }
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::int64_t k = base + c * inner;
      bottom_diff[k] = top_data[k] * (top_diff[k] - dot);
    }
  }
};

}  // namespace fcn::kernels
