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

#include "backend/host_device.h"

namespace fcn::math {

/// The one description of a 2-D convolution or deconvolution (the layer's frame: in = the
/// bottom, out = the top), read by every engine: im2col + GEMM, oneDNN and cuDNN. A plain
/// value, so GPU kernels take it as an argument.
///
/// im2col works in the frame of the convolution: its image is what the convolution reads
/// (the bottom of a Convolution, the top of a Deconvolution) and its columns span the
/// convolution's output positions; image_*() and col_*() give that frame.
struct ConvGeometry {
  bool transposed = false;                  // Deconvolution
  std::int64_t num = 1;                     // images (oneDNN and cuDNN run the whole batch at once)
  int in_channels = 0, in_h = 0, in_w = 0;  // the bottom
  int out_channels = 0, out_h = 0, out_w = 0;  // the top
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int group = 1;
  bool bias = true;

  /// A convolution of one channels x height x width image, the output size Caffe's (floored).
  static ConvGeometry Convolution(int channels, int height, int width, int kernel_h, int kernel_w,
                                  int pad_h, int pad_w, int stride_h, int stride_w, int dilation_h,
                                  int dilation_w) {
    ConvGeometry g;
    g.in_channels = channels;
    g.in_h = height;
    g.in_w = width;
    g.kernel_h = kernel_h;
    g.kernel_w = kernel_w;
    g.pad_h = pad_h;
    g.pad_w = pad_w;
    g.stride_h = stride_h;
    g.stride_w = stride_w;
    g.dilation_h = dilation_h;
    g.dilation_w = dilation_w;
    g.out_h = (height + 2 * pad_h - (dilation_h * (kernel_h - 1) + 1)) / stride_h + 1;
    g.out_w = (width + 2 * pad_w - (dilation_w * (kernel_w - 1) + 1)) / stride_w + 1;
    return g;
  }

  // im2col's frame. The image: channels (all groups), rows and columns.
  FCN_HOST_DEVICE int image_channels() const { return transposed ? out_channels : in_channels; }
  FCN_HOST_DEVICE int image_h() const { return transposed ? out_h : in_h; }
  FCN_HOST_DEVICE int image_w() const { return transposed ? out_w : in_w; }
  // The convolution's output positions (the columns of the column buffer).
  FCN_HOST_DEVICE int col_h() const { return transposed ? in_h : out_h; }
  FCN_HOST_DEVICE int col_w() const { return transposed ? in_w : out_w; }

  bool operator==(const ConvGeometry& o) const {
    return transposed == o.transposed && num == o.num && in_channels == o.in_channels &&
           in_h == o.in_h && in_w == o.in_w && out_channels == o.out_channels && out_h == o.out_h &&
           out_w == o.out_w && kernel_h == o.kernel_h && kernel_w == o.kernel_w &&
           pad_h == o.pad_h && pad_w == o.pad_w && stride_h == o.stride_h &&
           stride_w == o.stride_w && dilation_h == o.dilation_h && dilation_w == o.dilation_w &&
           group == o.group && bias == o.bias;
  }
  bool operator!=(const ConvGeometry& o) const { return !(*this == o); }
};

/// Writes the column buffer of one image (image_channels() x image_h() x image_w()).
void Im2Col(const float* image, const ConvGeometry& g, float* col);
/// Overwrites `image` (C x H x W) with the sum of the column contributions.
void Col2Im(const float* col, const ConvGeometry& g, float* image);

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
