// SPDX-License-Identifier: BSD-2-Clause
// LRN functors: the scale s, the output, and the gradient, per element of an N x C x H x W blob.
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// Where the window of element i lies. Across channels it spans the channels c-r .. c+r at
// (n, h, w); within a channel it spans rows h-r .. h+r and columns w-r .. w+r of plane (n, c).
// Both are clipped to the blob and are symmetric: j is in the window of i iff i is in j's.
struct LrnWindow {
  std::int64_t channels;
  std::int64_t height;
  std::int64_t width;
  std::int64_t radius;
  bool across;

  // Calls fn(j) for every element j in the window of element i.
  template <class Fn>
  FCN_HOST_DEVICE void ForEach(std::int64_t i, Fn&& fn) const {
    const std::int64_t plane = height * width;
    if (across) {
      const std::int64_t c = (i / plane) % channels;
      const std::int64_t first = c - radius < 0 ? 0 : c - radius;
      const std::int64_t last = c + radius >= channels ? channels - 1 : c + radius;
      for (std::int64_t cc = first; cc <= last; ++cc) fn(i + (cc - c) * plane);
    } else {
      const std::int64_t w = i % width;
      const std::int64_t h = (i / width) % height;
      const std::int64_t h0 = h - radius < 0 ? 0 : h - radius;
      const std::int64_t h1 = h + radius >= height ? height - 1 : h + radius;
      const std::int64_t w0 = w - radius < 0 ? 0 : w - radius;
      const std::int64_t w1 = w + radius >= width ? width - 1 : w + radius;
      for (std::int64_t hh = h0; hh <= h1; ++hh) {
        for (std::int64_t ww = w0; ww <= w1; ++ww) fn(i + (hh - h) * width + (ww - w));
      }
    }
  }
};

// scale[i] = offset + coeff * sum_{j in window(i)} x[j]^2; top[i] = x[i] * scale[i]^-beta.
struct LrnForward {
  const float* x;
  float* scale;
  float* top;
  LrnWindow window;
  float offset;  // k (across) or 1 (within)
  float coeff;   // alpha / n (across) or alpha / n^2 (within)
  float beta;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    float sum = 0.0f;
    window.ForEach(i, [this, &sum](std::int64_t j) { sum += x[j] * x[j]; });
    const float s = offset + coeff * sum;
    scale[i] = s;
    top[i] = x[i] * powf(s, -beta);
  }
};

// bottom_diff[i] = top_diff[i] * scale[i]^-beta
//                  - 2 * coeff * beta * x[i] * sum_{j in window(i)} top_diff[j] * top[j] / scale[j].
struct LrnBackward {
  const float* x;
  const float* top;
  const float* scale;
  const float* top_diff;
  float* bottom_diff;
  LrnWindow window;
  float coeff;
  float beta;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    float sum = 0.0f;
    window.ForEach(i, [this, &sum](std::int64_t j) { sum += top_diff[j] * top[j] / scale[j]; });
    bottom_diff[i] = top_diff[i] * powf(scale[i], -beta) - 2.0f * coeff * beta * x[i] * sum;
  }
};

}  // namespace fcn::kernels
