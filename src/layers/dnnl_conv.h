// SPDX-License-Identifier: BSD-2-Clause
// DnnlConv: a 2-D convolution or deconvolution run by oneDNN (forward, backward data,
// backward weights and bias), the `DNNL` engine of Convolution and Deconvolution.
//
// The weights stay in Caffe's layouts (M x C/G x kh x kw for Convolution, C x M/G x kh x kw
// for Deconvolution). oneDNN picks its own (blocked) layouts for the primitives
// (format_tag::any). Activations (bottom and top, data and diff) stay in oneDNN's layout in the
// blobs' own buffers when that layout holds exactly the tensor's elements (SyncedMemory's host
// layouts): the next oneDNN layer reads them as they are, and any other reader gets plain NCHW
// on access. In a net that does not train, the forward weights stay in oneDNN's layout the same
// way. Other weights, and activations whose channels oneDNN would pad, are reordered at the
// call into scratch carved from the net's shared Workspace. Primitives are made for one
// geometry and rebuilt by the layer when a blob of another shape arrives (a whole image of a
// new size).
//
// A layer whose weights are large (FCN's fc6: 4096 x 512 x 7 x 7, 411 MB) would need a second
// weight-sized buffer for oneDNN's weight layout on every pass of a training net (forward and
// backward data read the weights reordered, backward weights writes its gradient in that layout
// before it is added into Caffe's). Such a layer runs in slices of its output channels, each
// a set of primitives over the whole bottom and a contiguous run of the weights (Caffe's layout
// keeps an output channel's weights together), so the scratch holds one slice's weights. A
// sliced layer reads and writes its top and its bottom diff in plain order (they are small
// beside such weights: fc6's top is 4 MB at 500x500). The backward-data results of the slices
// are added up.
//
// Differences from the im2col path are rounding only (another summation order): the tests hold
// both engines to a relative tolerance of about 1e-5 of the magnitudes summed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/exec_context.h"
#include "fcn/memory.h"
#include "layers/conv_engine.h"
#include "math/im2col.h"

namespace fcn {

class DnnlConv final : public ConvolutionEngine {
 public:
  /// True when oneDNN is compiled in and can run this geometry (2-D; for convolution the
  /// right/bottom padding that Caffe's floor implies must not be negative). Otherwise `why`
  /// says what is missing.
  /// `winograd` asks for algorithm::convolution_winograd (3x3, stride 1, no groups).
  static bool Supported(const math::ConvGeometry& g, bool winograd, std::string* why);
  /// Whether this build has oneDNN at all.
  static bool Available();

  /// keep_layouts: activations and weights may stay in oneDNN's layouts between layers
  /// (Options::dnnl_keep_layouts); off reorders at every call.
  /// bf16 (Precision::kBfloat16): the primitives multiply in bf16 and accumulate in fp32. The
  /// sources, weights and incoming gradients are rounded to bf16 on the way in (reordered
  /// into scratch); the outputs (top, bottom diff, weight and bias gradients) stay fp32, so the
  /// blobs, the solver and the snapshots never see bf16. Direct algorithm only (oneDNN has no
  /// bf16 Winograd).
  /// weight_slice_bytes: the most bytes of fp32 weights one slice may hold; a layer whose weights
  /// exceed it runs in the fewest slices of output channels (a multiple of 16 channels each)
  /// that fit, when its output channels divide so (SlicesFor). 0: never sliced.
  DnnlConv(const math::ConvGeometry& g, bool winograd, bool keep_layouts, bool bf16 = false,
           std::size_t weight_slice_bytes = 0);
  ~DnnlConv() override;
  DnnlConv(const DnnlConv&) = delete;
  DnnlConv& operator=(const DnnlConv&) = delete;

  /// The weight bytes above which a training net's layers run in slices: 64 MiB. FCN-8s's fc6
  /// (411 MB) runs in 8 slices; fc7 (exactly 64 MiB) and every other layer in one.
  static constexpr std::size_t kTrainingWeightSliceBytes = std::size_t{64} << 20;
  /// How many output-channel slices a layer of geometry g runs in under the limit (1: whole).
  /// Convolutions without groups only: a deconvolution's or a grouped layer's slices of output
  /// channels are not contiguous in Caffe's weight layout.
  static int SlicesFor(const math::ConvGeometry& g, std::size_t weight_slice_bytes);

  const math::ConvGeometry& geometry() const { return g_; }
  /// The output-channel slices this layer runs in (1: the whole layer at once).
  int slices() const;
  /// oneDNN's implementation name for the forward primitive (e.g. "jit:avx512_core").
  std::string ForwardImplementation() const;
  /// Bytes of scratch the forward primitive takes beyond the layer's buffers (the algorithm's
  /// own, such as Winograd's transformed tiles; layout reorders not counted). The primitives
  /// take it from the net's Workspace (oneDNN's user scratchpad mode), not from a global
  /// buffer of oneDNN's.
  std::size_t ForwardScratchpadBytes() const;

  /// In a net that does not train, the weights' buffer is converted to oneDNN's forward layout
  /// once and read there on every later pass (see WeightPort); off by default.
  void set_keep_weight_layout(bool keep) { keep_weight_layout_ = keep; }

  /// Whether this runs algorithm::convolution_winograd (else convolution_direct).
  bool winograd() const { return winograd_; }
  /// Whether the primitives multiply in bf16.
  bool bf16() const { return bf16_; }
  /// "DNNL (winograd: <ForwardImplementation()>)", "DNNL (direct: ...)",
  /// "DNNL (direct, bf16: ...)"; a sliced layer adds ", N slices" ("DNNL (direct, 8 slices: ...)").
  std::string name() const override;
  /// top = conv(bottom, weights) + bias, for every pair.
  void Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
               const BlobVec& top) override;
  /// The bias alone (frozen weights) is summed in a plain loop: oneDNN has no bias-only pass.
  void Backward(const ExecContext& ctx, const BlobVec& top, const std::vector<bool>& propagate_down,
                const ConvParams& p, const BlobVec& bottom) override;

 private:
  struct Impl;
  // One bottom/top pair. The activations and weights are the blobs' buffers (any host layout
  // on the way in; oneDNN's on the way out where it can stay there), the bias a plain host
  // array.
  void ForwardPair(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& weights,
                   const float* bias, SyncedMemory& top);
  /// bottom_diff = the gradient w.r.t. the bottom (overwritten).
  void BackwardDataPair(Workspace& workspace, SyncedMemory& top_diff, SyncedMemory& weights,
                        SyncedMemory& bottom_diff);
  /// weight_diff += dL/dW and (when bias_diff is not null) bias_diff += dL/db.
  void BackwardWeightsPair(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& top_diff,
                           float* weight_diff, float* bias_diff);
  /// bias_diff[m] += sum over images and positions of top_diff[n, m, :].
  void BackwardBiasOnly(const float* top_diff, float* bias_diff) const;

  math::ConvGeometry g_;
  bool winograd_ = false;
  bool bf16_ = false;
  bool keep_weight_layout_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcn
