// SPDX-License-Identifier: BSD-2-Clause
// ArgMax functor: the top_k (value, index) pairs of one ranked line, by selection.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// (value, index) pairs compare as Caffe's std::greater<std::pair<float, int>>: by value,
// then by index, so the larger index wins a tie.
FCN_HOST_DEVICE inline bool PairGreater(float a, std::int64_t ia, float b, std::int64_t ib) {
  return a > b || (!(b > a) && ia > ib);
}

// Line i: the values bottom[base + j * inner] for j in [0, dim), with
// base = (i / inner) * dim * inner + i % inner. The j-th best pair is the greatest pair below
// the (j-1)-th. It is written at out[(i / inner) * top_k * inner + j * inner + i % inner] (an
// index, or its value when write_value), and with index_and_value (no axis, out_max_val) the
// index goes to out[2 * i * top_k + j] and the value to out[2 * i * top_k + top_k + j].
struct ArgMaxForward {
  const float* bottom;
  float* top;
  std::int64_t dim;
  std::int64_t inner;
  std::int64_t top_k;
  bool write_value;
  bool index_and_value;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t outer = i / inner;
    const std::int64_t in = i % inner;
    const float* x = bottom + outer * dim * inner + in;
    float prev_value = 0.0f;
    std::int64_t prev_index = -1;
    for (std::int64_t j = 0; j < top_k; ++j) {
      std::int64_t best = -1;
      for (std::int64_t d = 0; d < dim; ++d) {
        if (prev_index >= 0 && !PairGreater(prev_value, prev_index, x[d * inner], d)) continue;
        if (best < 0 || PairGreater(x[d * inner], d, x[best * inner], best)) best = d;
      }
      prev_value = x[best * inner];
      prev_index = best;
      if (index_and_value) {
        top[2 * i * top_k + j] = static_cast<float>(best);
        top[2 * i * top_k + top_k + j] = prev_value;
      } else {
        top[(outer * top_k + j) * inner + in] = write_value ? prev_value : static_cast<float>(best);
      }
    }
  }
};

}  // namespace fcn::kernels
