// SPDX-License-Identifier: BSD-2-Clause
// im2col / col2im for 2-D convolution (and their N-d generalisation) in Caffe's layout.
//
// For one image of C x H x W, the column buffer has C*kh*kw rows and out_h*out_w columns.
// Row r = (c*kh + i)*kw + j, column oh*out_w + ow, value
//   x[c, oh*stride_h - pad_h + i*dil_h, ow*stride_w - pad_w + j*dil_w]   (0 outside).
// col2im is the adjoint: it sums every column entry back into its image position.
#pragma once

#include <cstdint>
#include <vector>

namespace fcn::math {

struct ConvGeometry2d {
  int channels = 0;
  int height = 0, width = 0;
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;

  int out_h() const {
    return (height + 2 * pad_h - (dilation_h * (kernel_h - 1) + 1)) / stride_h + 1;
  }
  int out_w() const {
    return (width + 2 * pad_w - (dilation_w * (kernel_w - 1) + 1)) / stride_w + 1;
  }
};

void Im2Col(const float* image, const ConvGeometry2d& g, float* col);
/// Overwrites `image` (C x H x W) with the sum of the column contributions.
void Col2Im(const float* col, const ConvGeometry2d& g, float* image);

/// N spatial axes: shapes are [C, d1, ..., dN] for the image; kernel/pad/stride/dilation have
/// N entries; col_shape is [C*prod(kernel), out1, ..., outN].
void Im2ColNd(const float* image, int num_spatial_axes, const std::vector<int>& image_shape,
              const std::vector<int>& col_shape, const std::vector<int>& kernel,
              const std::vector<int>& pad, const std::vector<int>& stride,
              const std::vector<int>& dilation, float* col);
void Col2ImNd(const float* col, int num_spatial_axes, const std::vector<int>& image_shape,
              const std::vector<int>& col_shape, const std::vector<int>& kernel,
              const std::vector<int>& pad, const std::vector<int>& stride,
              const std::vector<int>& dilation, float* image);

}  // namespace fcn::math
