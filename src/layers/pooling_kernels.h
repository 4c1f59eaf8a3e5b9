// SPDX-License-Identifier: BSD-2-Clause
// MAX and AVE pooling functors: forward per top element, backward per bottom element.
#pragma once

#include <cfloat>
#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// The geometry of one pooling pass over N*C planes of height x width.
struct PoolGeometry {
  std::int64_t height;
  std::int64_t width;
  std::int64_t pooled_height;
  std::int64_t pooled_width;
  std::int64_t kernel_h;
  std::int64_t kernel_w;
  std::int64_t stride_h;
  std::int64_t stride_w;
  std::int64_t pad_h;
  std::int64_t pad_w;
};

FCN_HOST_DEVICE inline std::int64_t MinIndex(std::int64_t a, std::int64_t b) {
  return a < b ? a : b;
}
FCN_HOST_DEVICE inline std::int64_t MaxIndex(std::int64_t a, std::int64_t b) {
  return a > b ? a : b;
}

// The top rows (or columns) whose windows contain bottom row y:
// [PooledStart(y), PooledEnd(y)) with y + pad in [p * stride, p * stride + kernel).
FCN_HOST_DEVICE inline std::int64_t PooledStart(std::int64_t y, std::int64_t pad,
                                                std::int64_t kernel, std::int64_t stride) {
  return y + pad < kernel ? 0 : (y + pad - kernel) / stride + 1;
}
FCN_HOST_DEVICE inline std::int64_t PooledEnd(std::int64_t y, std::int64_t pad, std::int64_t stride,
                                              std::int64_t pooled) {
  return MinIndex((y + pad) / stride + 1, pooled);
}

// How a max-pooling argmax is stored. int (the internal buffer of large windows) and float
// (the optional "mask" top, as Caffe writes it) hold the plane index y * width + x, or -1 for
// an empty window. std::uint8_t (the internal buffer when a window has at most 255 positions,
// every FCN pooling) holds the position within the window, (y - y_start) * kernel_w +
// (x - x_start), or 255 for an empty window: a quarter of the memory (FCN-8s at 500x500: 58 MB
// of argmax in a training step becomes 15 MB).
constexpr int kCompactArgmaxEmpty = 255;
FCN_HOST_DEVICE inline void StoreArgmax(int* argmax, std::int64_t i, std::int64_t index,
                                        std::int64_t /*in_window*/) {
  argmax[i] = static_cast<int>(index);
}
FCN_HOST_DEVICE inline void StoreArgmax(float* argmax, std::int64_t i, std::int64_t index,
                                        std::int64_t /*in_window*/) {
  argmax[i] = static_cast<float>(index);
}
FCN_HOST_DEVICE inline void StoreArgmax(std::uint8_t* argmax, std::int64_t i, std::int64_t index,
                                        std::int64_t in_window) {
  argmax[i] = static_cast<std::uint8_t>(index < 0 ? kCompactArgmaxEmpty : in_window);
}
// The plane index of top element t's argmax (-1: none); t is the element's index in its plane.
template <typename IndexT>
FCN_HOST_DEVICE inline std::int64_t ArgmaxAt(const IndexT* argmax, std::int64_t t,
                                             const PoolGeometry&) {
  return static_cast<std::int64_t>(argmax[t]);
}
template <>
FCN_HOST_DEVICE inline std::int64_t ArgmaxAt(const std::uint8_t* argmax, std::int64_t t,
                                             const PoolGeometry& g) {
  const std::int64_t w = argmax[t];
  if (w == kCompactArgmaxEmpty) return -1;
  const std::int64_t plane_t = t % (g.pooled_height * g.pooled_width);
  const std::int64_t y = (plane_t / g.pooled_width) * g.stride_h - g.pad_h + w / g.kernel_w;
  const std::int64_t x = (plane_t % g.pooled_width) * g.stride_w - g.pad_w + w % g.kernel_w;
  return y * g.width + x;
}

// top[i] = max of the window of top element i, clipped to the image; argmax[i] = the first
// maximum in row-major scan order (a later value wins only when strictly greater), as
// StoreArgmax keeps it for IndexT (null: not kept, a forward-only net).
template <typename IndexT>
struct MaxPoolForward {
  const float* bottom;
  float* top;
  IndexT* argmax;
  PoolGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t px = i % g.pooled_width;
    const std::int64_t py = (i / g.pooled_width) % g.pooled_height;
    const std::int64_t plane = i / (g.pooled_width * g.pooled_height);
    const std::int64_t y_start = py * g.stride_h - g.pad_h;
    const std::int64_t x_start = px * g.stride_w - g.pad_w;
    const std::int64_t y_end = MinIndex(y_start + g.kernel_h, g.height);
    const std::int64_t x_end = MinIndex(x_start + g.kernel_w, g.width);
    const float* in = bottom + plane * g.height * g.width;
    float best = -FLT_MAX;
    std::int64_t best_index = -1, best_in_window = -1;
    for (std::int64_t y = MaxIndex(y_start, 0); y < y_end; ++y) {
      for (std::int64_t x = MaxIndex(x_start, 0); x < x_end; ++x) {
        const std::int64_t k = y * g.width + x;
        if (in[k] > best) {
          best = in[k];
          best_index = k;
          best_in_window = (y - y_start) * g.kernel_w + (x - x_start);
        }
      }
    }
    top[i] = best;
    if (argmax != nullptr) StoreArgmax(argmax, i, best_index, best_in_window);
  }
};

// bottom_diff[i] = sum of the top diffs whose argmax is bottom element i (0 if none).
template <typename IndexT>
struct MaxPoolBackward {
  const float* top_diff;
  const IndexT* argmax;
  float* bottom_diff;
  PoolGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t x = i % g.width;
    const std::int64_t y = (i / g.width) % g.height;
    const std::int64_t plane = i / (g.width * g.height);
    const std::int64_t k = y * g.width + x;
    const std::int64_t offset = plane * g.pooled_height * g.pooled_width;
    const std::int64_t py_end = PooledEnd(y, g.pad_h, g.stride_h, g.pooled_height);
    const std::int64_t px_end = PooledEnd(x, g.pad_w, g.stride_w, g.pooled_width);
    float sum = 0.0f;
    for (std::int64_t py = PooledStart(y, g.pad_h, g.kernel_h, g.stride_h); py < py_end; ++py) {
      for (std::int64_t px = PooledStart(x, g.pad_w, g.kernel_w, g.stride_w); px < px_end; ++px) {
        const std::int64_t t = offset + py * g.pooled_width + px;
        if (ArgmaxAt(argmax, t, g) == k) sum += top_diff[t];
      }
    }
    bottom_diff[i] = sum;
  }
};

// The same gradient as MaxPoolBackward, one plane per index: the plane of bottom_diff is
// zeroed, then every top diff is added at its argmax (windows may overlap, so the planes are
// the unit of parallelism). The CPU runs this: one pass over the tops instead of a window
// search per bottom element. Summation order per bottom element is the top's row-major order,
// as in MaxPoolBackward, so both give the same floats.
template <typename IndexT>
struct MaxPoolBackwardPlane {
  const float* top_diff;
  const IndexT* argmax;
  float* bottom_diff;
  PoolGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t plane) const {
    const std::int64_t size = g.height * g.width;
    const std::int64_t pooled = g.pooled_height * g.pooled_width;
    float* out = bottom_diff + plane * size;
    for (std::int64_t k = 0; k < size; ++k) out[k] = 0.0f;
    const float* diff = top_diff + plane * pooled;
    const IndexT* index = argmax + plane * pooled;
    for (std::int64_t t = 0; t < pooled; ++t) {
      const std::int64_t k = ArgmaxAt(index, t, g);
      if (k >= 0) out[k] += diff[t];
    }
  }
};

// Divisor of the average window starting at (y_start, x_start): its extent within the padded
// input [-pad, size + pad), counted before clipping to the image.
FCN_HOST_DEVICE inline std::int64_t AvePoolSize(const PoolGeometry& g, std::int64_t y_start,
                                                std::int64_t x_start) {
  const std::int64_t y_end = MinIndex(y_start + g.kernel_h, g.height + g.pad_h);
  const std::int64_t x_end = MinIndex(x_start + g.kernel_w, g.width + g.pad_w);
  return (y_end - y_start) * (x_end - x_start);
}

// top[i] = (sum of the window clipped to the image) / AvePoolSize.
struct AvePoolForward {
  const float* bottom;
  float* top;
  PoolGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t px = i % g.pooled_width;
    const std::int64_t py = (i / g.pooled_width) % g.pooled_height;
    const std::int64_t plane = i / (g.pooled_width * g.pooled_height);
    const std::int64_t y_start = py * g.stride_h - g.pad_h;
    const std::int64_t x_start = px * g.stride_w - g.pad_w;
    const std::int64_t pool_size = AvePoolSize(g, y_start, x_start);
    const std::int64_t y_end = MinIndex(y_start + g.kernel_h, g.height);
    const std::int64_t x_end = MinIndex(x_start + g.kernel_w, g.width);
    const float* in = bottom + plane * g.height * g.width;
    float sum = 0.0f;
    for (std::int64_t y = MaxIndex(y_start, 0); y < y_end; ++y) {
      for (std::int64_t x = MaxIndex(x_start, 0); x < x_end; ++x) sum += in[y * g.width + x];
    }
    top[i] = sum / static_cast<float>(pool_size);
  }
};

// bottom_diff[i] = sum over the windows containing bottom element i of top_diff / pool_size.
struct AvePoolBackward {
  const float* top_diff;
  float* bottom_diff;
  PoolGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t x = i % g.width;
    const std::int64_t y = (i / g.width) % g.height;
    const std::int64_t plane = i / (g.width * g.height);
    const float* diff = top_diff + plane * g.pooled_height * g.pooled_width;
    const std::int64_t py_end = PooledEnd(y, g.pad_h, g.stride_h, g.pooled_height);
    const std::int64_t px_end = PooledEnd(x, g.pad_w, g.stride_w, g.pooled_width);
    float sum = 0.0f;
    for (std::int64_t py = PooledStart(y, g.pad_h, g.kernel_h, g.stride_h); py < py_end; ++py) {
      for (std::int64_t px = PooledStart(x, g.pad_w, g.kernel_w, g.stride_w); px < px_end; ++px) {
        const std::int64_t pool_size =
            AvePoolSize(g, py * g.stride_h - g.pad_h, px * g.stride_w - g.pad_w);
        sum += diff[py * g.pooled_width + px] / static_cast<float>(pool_size);
      }
    }
    bottom_diff[i] = sum;
  }
};

}  // namespace fcn::kernels
