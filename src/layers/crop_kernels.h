// SPDX-License-Identifier: BSD-2-Clause
// Crop functors: an index map from a top element to the bottom element it copies.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// The most axes a cropped blob may have (Caffe's kMaxBlobAxes).
constexpr int kCropMaxAxes = 32;

// Maps a top index to the index of the bottom element at coordinates (top coordinates +
// offset) on every axis. Axes that are not cropped have offset 0.
struct CropIndexMap {
  int num_axes;
  std::int64_t top_shape[kCropMaxAxes];
  std::int64_t bottom_stride[kCropMaxAxes];
  std::int64_t offset[kCropMaxAxes];

  FCN_HOST_DEVICE std::int64_t Source(std::int64_t top_index) const {
    std::int64_t source = 0;
    for (int a = num_axes - 1; a >= 0; --a) {
      source += (top_index % top_shape[a] + offset[a]) * bottom_stride[a];
      top_index /= top_shape[a];
    }
    return source;
  }
};

// top[i] = bottom[map.Source(i)].
struct CropForward {
  CropIndexMap map;
  const float* bottom;
  float* top;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { top[i] = bottom[map.Source(i)]; }
};

// bottom_diff[map.Source(i)] = top_diff[i]. Distinct i have distinct sources, so the writes
// never collide; the rest of bottom_diff is zeroed beforehand.
// The CPU's form: one index per row of the top's last axis (top count / its extent rows),
// contiguous in both blobs, so a row is one copy and one Source() per row rather than per
// element (FCN-8s's score crop of 21 x 500 x 500: 21 ms -> 1). Forward gathers the rows from the
// bottom (`from` is the bottom, `to` the top); backward (to_bottom) scatters the top diff's
// rows into the bottom diff.
struct CropRows {
  CropIndexMap map;
  const float* from;
  float* to;
  bool to_bottom;

  FCN_HOST_DEVICE void operator()(std::int64_t row) const {
    const std::int64_t width = map.top_shape[map.num_axes - 1];
    const std::int64_t bottom_start = map.Source(row * width), top_start = row * width;
    const float* src = from + (to_bottom ? top_start : bottom_start);
    float* dst = to + (to_bottom ? bottom_start : top_start);
    for (std::int64_t j = 0; j < width; ++j) dst[j] = src[j];
  }
};

struct CropBackward {
  CropIndexMap map;
  const float* top_diff;
  float* bottom_diff;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    bottom_diff[map.Source(i)] = top_diff[i];
  }
};

}  // namespace fcn::kernels
