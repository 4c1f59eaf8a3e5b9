// SPDX-License-Identifier: BSD-2-Clause
// Index-wise im2col / col2im for 2-D convolution, in the column layout of im2col.h, run by
// ForEachIndex: the GPU's im2col engine launches these; the CPU's own math::Im2Col/Col2Im are
// faster loops over rows, and the tests hold these functors to them on the CPU.
#pragma once

#include <cstdint>

#include "backend/host_device.h"
#include "math/im2col.h"

namespace fcn::kernels {

// One index per (channel, output row, output column): writes that position's kernel_h *
// kernel_w column entries (zero where the tap falls into the padding).
struct Im2ColIndex {
  const float* image;
  float* col;
  math::ConvGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t index) const {
    const int height = g.image_h(), width = g.image_w(), out_h = g.col_h(), out_w = g.col_w();
    const std::int64_t w_out = index % out_w;
    const std::int64_t h_index = index / out_w;
    const std::int64_t h_out = h_index % out_h;
    const std::int64_t c = h_index / out_h;
    const std::int64_t h_offset = h_out * g.stride_h - g.pad_h;
    const std::int64_t w_offset = w_out * g.stride_w - g.pad_w;
    const std::int64_t plane = static_cast<std::int64_t>(out_h) * out_w;
    float* out = col + (c * g.kernel_h * g.kernel_w * out_h + h_out) * out_w + w_out;
    const float* in = image + c * height * width;
    for (int i = 0; i < g.kernel_h; ++i) {
      const std::int64_t h = h_offset + static_cast<std::int64_t>(i) * g.dilation_h;
      for (int j = 0; j < g.kernel_w; ++j) {
        const std::int64_t w = w_offset + static_cast<std::int64_t>(j) * g.dilation_w;
        *out = (h >= 0 && w >= 0 && h < height && w < width) ? in[h * width + w] : 0.0f;
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
  math::ConvGeometry g;

  FCN_HOST_DEVICE void operator()(std::int64_t index) const {
    const int height = g.image_h(), width = g.image_w(), out_h = g.col_h(), out_w = g.col_w();
    const std::int64_t w_im = index % width + g.pad_w;
    const std::int64_t h_im = (index / width) % height + g.pad_h;
    const std::int64_t c = index / (static_cast<std::int64_t>(width) * height);
    const std::int64_t extent_w = static_cast<std::int64_t>(g.kernel_w - 1) * g.dilation_w + 1;
    const std::int64_t extent_h = static_cast<std::int64_t>(g.kernel_h - 1) * g.dilation_h + 1;
    // The output positions whose window covers this element.
    const std::int64_t w_start = w_im < extent_w ? 0 : (w_im - extent_w) / g.stride_w + 1;
    const std::int64_t h_start = h_im < extent_h ? 0 : (h_im - extent_h) / g.stride_h + 1;
    const std::int64_t w_end = w_im / g.stride_w + 1 < out_w ? w_im / g.stride_w + 1 : out_w;
    const std::int64_t h_end = h_im / g.stride_h + 1 < out_h ? h_im / g.stride_h + 1 : out_h;
    float sum = 0.0f;
    for (std::int64_t h_col = h_start; h_col < h_end; ++h_col) {
      for (std::int64_t w_col = w_start; w_col < w_end; ++w_col) {
        std::int64_t h_k = h_im - h_col * g.stride_h;
        std::int64_t w_k = w_im - w_col * g.stride_w;
        if (h_k % g.dilation_h != 0 || w_k % g.dilation_w != 0) continue;
        h_k /= g.dilation_h;
        w_k /= g.dilation_w;
        const std::int64_t row = (c * g.kernel_h + h_k) * g.kernel_w + w_k;
        sum += col[(row * out_h + h_col) * out_w + w_col];
      }
    }
    image[index] = sum;
  }
};

}  // namespace fcn::kernels
