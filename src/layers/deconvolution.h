// SPDX-License-Identifier: BSD-2-Clause
// DeconvolutionLayer: Caffe's "Deconvolution", the transpose (adjoint) of Convolution.
#pragma once

#include "layers/base_conv.h"

namespace fcn {

// Note [Deconvolution as transposed GEMM]
// Deconvolution with weights W (C x M/G x kh x kw) and geometry (k, s, p, d, G) is the adjoint
// of the Convolution with the same W and geometry that maps an M-channel H_out x W_out image
// to the C-channel H x W bottom. So its forward pass is that convolution's backward-data pass,
// and its backward-data pass is that convolution's forward pass:
//   forward:   top_g = col2im(W_g^T * bottom_g) + b      (scatter form, per input (c, h, w),
//              in-group output o' and tap (i, j):
//              top[g*M/G + o', h*s - p + i*d, w*s - p + j*d] += W[c, o', i, j] * bottom[c, h, w],
//              targets outside the top dropped)
//   dbottom_g = W_g * im2col(dtop)_g                      (overwritten)
//   dW_g     += bottom_g * im2col(dtop)_g^T,  db[m] += sum_{n, o} dtop[n, m, o]
// Shapes (axis = 1 shown; the axes before `axis` are batch axes):
//   bottom[i]: N x C x H x W (all bottoms the same shape)
//   top[i]:    N x M x H_out x W_out,  H_out = s(H - 1) + d(k - 1) + 1 - 2p
//   blobs: W C x M/G x kh x kw (input channels first, the reverse of Convolution), bias M.
// Not in-place safe. FCN's upsampling layers: G = 1, no bias, bilinear weights, lr_mult 0.
class DeconvolutionLayer final : public BaseConvolutionLayer {
 public:
  static const LayerSchema& Schema();  // "Deconvolution", 1+ bottoms, tops = bottoms
  explicit DeconvolutionLayer(const LayerParameter& param)
      : BaseConvolutionLayer(param, /*transposed=*/true) {}
};

}  // namespace fcn
