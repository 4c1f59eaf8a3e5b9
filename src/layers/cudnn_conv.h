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
//
// With Options::precision bf16 each call rounds its operands (activations, weights, incoming
// gradients) to bf16 in that scratch, cuDNN multiplies them on the tensor cores with fp32
// accumulation (PSEUDO_BFLOAT16: bf16 tensors, fp32 compute type) and writes a bf16 result,
// which is widened back into the fp32 blob (a weight gradient is added to it). The bias, its
// gradient and every blob stay fp32 (docs/precision.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/exec_context.h"
#include "fcn/options.h"
#include "layers/conv_engine.h"
#include "math/im2col.h"

namespace fcn {

class Im2colConv;

class CudnnConv final : public ConvolutionEngine {
 public:
  /// Whether this build has cuDNN at all (FCN_HAVE_CUDNN).
  static bool Available();
  /// Whether cuDNN can run this geometry; otherwise `why` says why not. Padding is symmetric, as in Caffe.
  static bool Supported(const math::ConvGeometry& g, std::string* why);

  /// Creates the descriptors (no GPU work). Throws ConfigError when unsupported. The algorithms
  /// keep within options.cudnn_workspace_limit_bytes (and options.cudnn_deterministic). A
  /// backward pass with frozen weights sums the bias with `bias_only` (the layer's im2col
  /// engine, same shape), whose GEMVs it shares.
  CudnnConv(const math::ConvGeometry& g, const Options& options, Im2colConv* bias_only);
  ~CudnnConv() override;
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  const math::ConvGeometry& geometry() const { return g_; }
  /// The algorithms chosen so far, e.g. "fwd IMPLICIT_PRECOMP_GEMM, bwd data ALGO_1, bwd filter
  /// ALGO_1" (for logs).
  std::string AlgorithmNames() const;

  /// "CUDNN (<AlgorithmNames()>)", or "CUDNN (bf16: <AlgorithmNames()>)".
  std::string name() const override;
  /// top = conv(bottom, weights) + bias, for every pair.
  void Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
               const BlobVec& top) override;
  void Backward(const ExecContext& ctx, const BlobVec& top, const std::vector<bool>& propagate_down,
                const ConvParams& p, const BlobVec& bottom) override;

 private:
  struct Impl;
  // One pair. All pointers are device pointers on ctx's GPU, in Caffe's layouts.
  /// top = conv(bottom, weights) + bias (bias may be null when the geometry has none).
  void ForwardPair(const ExecContext& ctx, const float* bottom, const float* weights,
                   const float* bias, float* top);
  /// bottom_diff = the gradient w.r.t. the bottom (overwritten).
  void BackwardDataPair(const ExecContext& ctx, const float* top_diff, const float* weights,
                        float* bottom_diff);
  /// weight_diff += dL/dW and (when bias_diff is not null) bias_diff += dL/db.
  void BackwardWeightsPair(const ExecContext& ctx, const float* bottom, const float* top_diff,
                           float* weight_diff, float* bias_diff);

  // One cuDNN call's operands: the fp32 blobs, or (bf16) their bf16 copies in the call's
  // scratch, with the algorithm's workspace; Finish widens a bf16 result into `out`.
  struct Operands;
  Operands Prepare(const ExecContext& ctx, std::size_t algo_bytes, const float* a,
                   std::int64_t a_count, const float* b, std::int64_t b_count, float* out,
                   std::int64_t out_count, bool accumulate);
  void Finish(const ExecContext& ctx, const Operands& o);

  math::ConvGeometry g_;
  Options options_;  // the cuDNN workspace limit and determinism
  Im2colConv* bias_only_ = nullptr;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcn
