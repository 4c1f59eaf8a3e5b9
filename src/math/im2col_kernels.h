// SPDX-License-Identifier: BSD-2-Clause
// Index-wise im2col / col2im for 2-D convolution, in the column layout of im2col.h, run by
// ForEachIndex: the GPU's im2col engine launches these; the CPU's own math::Im2Col/Col2Im are
// faster loops over rows, and the tests hold these functors to them on the CPU.
#pragma once

#include <cstdint>

#include "backend/host_device.h"
#include "math/im2col.h"

namespace fcn::kernels {

/// ConvGeometry2d with the output size computed, as a plain struct a kernel can take.
struct Im2ColShape {
  int channels, height, width;
  int kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
  int out_h, out_w;

  static Im2ColShape From(const math::ConvGeometry2d& g) {
    return {g.channels, g.height,   g.width,      g.kernel_h,   g.kernel_w, g.pad_h,  g.pad_w,
            g.stride_h, g.stride_w, g.dilation_h, g.dilation_w, g.out_h(),  g.out_w()};
  }
};

// One index per (channel, output row, output column): writes that position's kernel_h *
// kernel_w column entries (zero where the tap falls into the padding).
struct Im2ColIndex {
  const float* image;
  float* col;
  Im2ColShape s;

  FCN_HOST_DEVICE void operator()(std::int64_t index) const {
    const std::int64_t w_out = index % s.out_w;
    const std::int64_t h_index = index / s.out_w;
    const std::int64_t h_out = h_index % s.out_h;
    const std::int64_t c = h_index / s.out_h;
    const std::int64_t h_offset = h_out * s.stride_h - s.pad_h;
    const std::int64_t w_offset = w_out * s.stride_w - s.pad_w;
    const std::int64_t plane = static_cast<std::int64_t>(s.out_h) * s.out_w;
    float* out = col + (c * s.kernel_h * s.kernel_w * s.out_h + h_out) * s.out_w + w_out;
    const float* in = image + c * s.height * s.width;
    for (int i = 0; i < s.kernel_h; ++i) {
      const std::int64_t h = h_offset + static_cast<std::int64_t>(i) * s.dilation_h;
      for (int j = 0; j < s.kernel_w; ++j) {
        const std::int64_t w = w_offset + static_cast<std::int64_t>(j) * s.dilation_w;
        *out = (h >= 0 && w >= 0 && h < s.height && w < s.width) ? in[h * s.width + w] : 0.0f;
        out += plane;
      }
    }
  }
};

// One index per image element (channel, row, column): the sum of every column entry that
// im2col copied from it (the adjoint of Im2ColIndex), gathered, so no two indices write the
// same element.
struct Col2ImIndex {
  const float* col;
  float* image;
  Im2ColShape s;

  FCN_HOST_DEVICE void operator()(std::int64_t index) const {
    const std::int64_t w_im = index % s.width + s.pad_w;
    const std::int64_t h_im = (index / s.width) % s.height + s.pad_h;
    const std::int64_t c = index / (static_cast<std::int64_t>(s.width) * s.height);
    const std::int64_t extent_w = static_cast<std::int64_t>(s.kernel_w - 1) * s.dilation_w + 1;
    const std::int64_t extent_h = static_cast<std::int64_t>(s.kernel_h - 1) * s.dilation_h + 1;
    // The output positions whose window covers this element.
    const std::int64_t w_start = w_im < extent_w ? 0 : (w_im - extent_w) / s.stride_w + 1;
    const std::int64_t h_start = h_im < extent_h ? 0 : (h_im - extent_h) / s.stride_h + 1;
    const std::int64_t w_end = w_im / s.stride_w + 1 < s.out_w ? w_im / s.stride_w + 1 : s.out_w;
    const std::int64_t h_end = h_im / s.stride_h + 1 < s.out_h ? h_im / s.stride_h + 1 : s.out_h;
    float sum = 0.0f;
    for (std::int64_t h_col = h_start; h_col < h_end; ++h_col) {
      for (std::int64_t w_col = w_start; w_col < w_end; ++w_col) {
        std::int64_t h_k = h_im - h_col * s.stride_h;
        std::int64_t w_k = w_im - w_col * s.stride_w;
        if (h_k % s.dilation_h != 0 || w_k % s.dilation_w != 0) continue;
        h_k /= s.dilation_h;
        w_k /= s.dilation_w;
        const std::int64_t row = (c * s.kernel_h + h_k) * s.kernel_w + w_k;
        sum += col[(row * s.out_h + h_col) * s.out_w + w_col];
      }
    }
    image[index] = sum;
  }
};

}  // namespace fcn::kernels
