// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionEngine: what every convolution engine (im2col + GEMM, oneDNN, cuDNN) implements, so that
// Convolution and Deconvolution run one body whichever engine the options chose.
#pragma once

#include <string>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

/// The layer's parameters at one call.
struct ConvParams {
  Blob* weights = nullptr;
  const float* bias = nullptr;  // null without bias_term
  // Backward only: where the gradients accumulate; null when not wanted (no bias_term, or a
  // frozen parameter).
  float* weight_diff = nullptr;
  float* bias_diff = nullptr;
};

/// One engine set up for the layer's current shape. An engine runs the layer's own direction:
/// a Deconvolution's engine runs the transposed convolution.
class ConvolutionEngine {
 public:
  virtual ~ConvolutionEngine() = default;
  /// "CAFFE (im2col + GEMM)", "DNNL (<oneDNN implementation>)", "CUDNN (<algorithms>)".
  virtual std::string name() const = 0;
  /// top[i] = the layer's function of bottom[i] (+ bias), for every bottom/top pair.
  virtual void Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
                       const BlobVec& top) = 0;
  /// Adds the weight and bias gradients of every pair into p.weight_diff / p.bias_diff (where
  /// not null) and overwrites bottom[i]'s diff where propagate_down[i].
  virtual void Backward(const ExecContext& ctx, const BlobVec& top,
                        const std::vector<bool>& propagate_down, const ConvParams& p,
                        const BlobVec& bottom) = 0;
};

}  // namespace fcn
