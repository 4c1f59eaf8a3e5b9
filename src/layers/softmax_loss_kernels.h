// SPDX-License-Identifier: BSD-2-Clause
// Per-position multinomial logistic loss and its gradient, on softmax probabilities.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "backend/host_device.h"
#include "layers/softmax_kernels.h"

namespace fcn::kernels {

// At position i (see SoftmaxBase): loss[i] = -log(max(prob[label_i], FLT_MIN)) and
// valid[i] = 1, or loss[i] = valid[i] = 0 where the label is the ignore label. The clamp keeps
// an underflowed probability at 87.3365 instead of infinity. Labels are floats holding
// integers in [0, channels) (checked before the launch).
struct SoftmaxLossForward {
  const float* prob;
  const float* label;
  float* loss;
  float* valid;
  std::int64_t channels;
  std::int64_t inner;
  bool has_ignore_label;
  int ignore_label;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const int l = static_cast<int>(label[i]);
    if (has_ignore_label && l == ignore_label) {
      loss[i] = 0.0f;
      valid[i] = 0.0f;
      return;
    }
    const float p = prob[SoftmaxBase(i, channels, inner) + l * inner];
    // As Caffe's std::max(p, FLT_MIN): a NaN probability stays NaN (fmaxf would hide it as
    // FLT_MIN), so a diverging net shows a NaN loss and the solver stops.
    loss[i] = -logf(p < FLT_MIN ? FLT_MIN : p);
    valid[i] = 1.0f;
  }
};

// At position i: bottom_diff[c] = scale * (prob[c] - [c == label_i]), or 0 for every c where
// the label is the ignore label. scale = loss weight / normalizer.
struct SoftmaxLossBackward {
  const float* prob;
  const float* label;
  float* bottom_diff;
  std::int64_t channels;
  std::int64_t inner;
  bool has_ignore_label;
  int ignore_label;
  float scale;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t base = SoftmaxBase(i, channels, inner);
    const int l = static_cast<int>(label[i]);
    const bool ignored = has_ignore_label && l == ignore_label;
    for (std::int64_t c = 0; c < channels; ++c) {
      const std::int64_t k = base + c * inner;
      bottom_diff[k] = ignored ? 0.0f : scale * (prob[k] - (c == l ? 1.0f : 0.0f));
    }
  }
};

}  // namespace fcn::kernels
