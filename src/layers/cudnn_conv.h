// SPDX-License-Identifier: BSD-2-Clause
// CudnnConv: a 2-D convolution or deconvolution run by cuDNN's legacy C API (forward, backward
// data, backward weights and bias), the `CUDNN` engine of Convolution and Deconvolution on a GPU.
//
// The layer's blobs stay in Caffe's layouts (NCHW data; weights M x C/G x kh x kw for
// Convolution, C x M/G x kh x kw for Deconvolution) and are handed to cuDNN as they are. A
// Deconvolution is the convolution run backwards, as in Caffe's CuDNNDeconvolutionLayer: its
// forward is cuDNN's backward data, its backward data is cuDNN's forward. Groups are one cuDNN
// call (a group count on the convolution descriptor), and the math is plain FP32 FMA (no TF32
// tensor ops), so results match the CPU engines to rounding.
//
// The algorithm of each direction comes from cuDNN's heuristics on its first use: the first
// one that runs, fits the workspace limit and (when asked) is deterministic. Its workspace is
// carved from the net's shared Workspace for the duration of one call. An object serves one
// geometry; the layer makes a new one when a blob of another shape arrives.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fcn/exec_context.h"
#include "layers/dnnl_conv.h"

namespace fcn {

struct CudnnConvOptions {
  /// The largest cuDNN workspace an algorithm may use.
  std::size_t workspace_limit_bytes = std::size_t{1} << 30;
  /// Only algorithms that cuDNN reports as CUDNN_DETERMINISTIC.
  bool deterministic = false;
};

/// Options from the environment: FCN_CUDNN_WORKSPACE_MB (integer MiB, default 1024) and
/// FCN_CUDNN_DETERMINISTIC (1 or 0, default 0). Throws ConfigError on malformed values.
CudnnConvOptions CudnnConvOptionsFromEnv();

class CudnnConv {
 public:
  /// Whether this build has cuDNN at all (FCN_HAVE_CUDNN).
  static bool Available();
  /// Whether cuDNN can run this geometry (the winograd flag is ignored); otherwise `why` says
  /// why not. Padding is symmetric, as in Caffe.
  static bool Supported(const DnnlConvGeometry& g, std::string* why);

  /// Creates the descriptors (no GPU work). Throws ConfigError when unsupported.
  CudnnConv(const DnnlConvGeometry& g, const CudnnConvOptions& options);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  const DnnlConvGeometry& geometry() const { return g_; }
  /// The algorithms chosen so far, e.g. "fwd IMPLICIT_PRECOMP_GEMM, bwd data ALGO_1, bwd filter
  /// ALGO_1" (for logs).
  std::string AlgorithmNames() const;

  // All pointers are device pointers on ctx's GPU, in Caffe's layouts.

  /// top = conv(bottom, weights) + bias (bias may be null when the geometry has none).
  void Forward(const ExecContext& ctx, const float* bottom, const float* weights, const float* bias,
               float* top);
  /// bottom_diff = the gradient w.r.t. the bottom (overwritten).
  void BackwardData(const ExecContext& ctx, const float* top_diff, const float* weights,
                    float* bottom_diff);
  /// weight_diff += dL/dW and (when bias_diff is not null) bias_diff += dL/db.
  void BackwardWeights(const ExecContext& ctx, const float* bottom, const float* top_diff,
                       float* weight_diff, float* bias_diff);

 private:
  struct Impl;
  DnnlConvGeometry g_;
  CudnnConvOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcn
