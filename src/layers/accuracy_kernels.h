// SPDX-License-Identifier: BSD-2-Clause
// Accuracy functor: classifies one position as ignored, wrong or correct.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// For position i = o * inner + j with label l = (int)label[i]:
//   hit[i] = -1 when l is the ignore label, else 1 when fewer than top_k other classes score
//   >= scores(o, l, j), else 0. The count stops as soon as it reaches top_k.
struct AccuracyHit {
  const float* scores;
  const float* label;
  int* hit;
  std::int64_t channels;
  std::int64_t inner;
  std::int64_t top_k;
  bool has_ignore_label;
  int ignore_label;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const int l = static_cast<int>(label[i]);
    if (has_ignore_label && l == ignore_label) {
      hit[i] = -1;
      return;
    }
    const float* s = scores + (i / inner) * channels * inner + i % inner;
    const float truth = s[l * inner];
    std::int64_t better = -1;  // the true class scores >= itself and is not counted
    for (std::int64_t c = 0; c < channels && better < top_k; ++c) {
      if (s[c * inner] >= truth) ++better;
    }
    hit[i] = better < top_k ? 1 : 0;
  }
};

}  // namespace fcn::kernels
