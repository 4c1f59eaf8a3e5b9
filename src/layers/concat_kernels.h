// SPDX-License-Identifier: BSD-2-Clause
// Concat functors: copy one bottom into (or back out of) its slice of the top.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// The slice of one bottom inside the top: the bottom is num_concats blocks of
// bottom_axis * inner values; block n lands at (n * top_axis + offset) * inner in the top.
struct ConcatSlice {
  std::int64_t bottom_axis;
  std::int64_t top_axis;
  std::int64_t offset;
  std::int64_t inner;

  // Top index of bottom element i.
  FCN_HOST_DEVICE std::int64_t TopIndex(std::int64_t i) const {
    const std::int64_t block = bottom_axis * inner;
    return ((i / block) * top_axis + offset) * inner + i % block;
  }
};

// top[slice.TopIndex(i)] = bottom[i].
struct ConcatForward {
  const float* bottom;
  float* top;
  ConcatSlice slice;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { top[slice.TopIndex(i)] = bottom[i]; }
};

// bottom_diff[i] = top_diff[slice.TopIndex(i)].
struct ConcatBackward {
  const float* top_diff;
  float* bottom_diff;
  ConcatSlice slice;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    bottom_diff[i] = top_diff[slice.TopIndex(i)];
  }
};

}  // namespace fcn::kernels
