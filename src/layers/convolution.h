// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionLayer: Caffe's "Convolution" (im2col + GEMM, grouped, dilated, N-d).
#pragma once

#include "layers/base_conv.h"

namespace fcn {

// Convolution (type "Convolution"), per bottom/top pair, image n and group g:
//   top[n, m, o] = sum_{c in g, taps t} W[m, c - g*C/G, t] * bottom[n, c, o*s - p + t*d] + b[m]
// with zero padding outside the bottom (the column layout of math::Im2Col).
// Gradients (W accumulated over images and pairs, bottom overwritten):
//   dW_g += dtop_g * im2col(bottom)_g^T,   db[m] += sum_{n, o} dtop[n, m, o],
//   dbottom = col2im(W_g^T * dtop_g).
// Shapes (axis = 1 shown; the axes before `axis` are batch axes):
//   bottom[i]: N x C x H x W (all bottoms the same shape)
//   top[i]:    N x M x H_out x W_out,  H_out = (H + 2p - (d(k - 1) + 1)) / s + 1
//   blobs: W M x C/G x kh x kw, bias M (when bias_term).
// Not in-place safe (the output has another shape and the input is read throughout).
// A 1x1 kernel with stride 1 and pad 0 skips im2col and multiplies the bottom directly.
class ConvolutionLayer final : public BaseConvolutionLayer {
 public:
  static const LayerSchema& Schema();  // "Convolution", 1+ bottoms, tops = bottoms
  explicit ConvolutionLayer(const LayerParameter& param)
      : BaseConvolutionLayer(param, /*transposed=*/false) {}

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;
};

}  // namespace fcn
