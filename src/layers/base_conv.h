// SPDX-License-Identifier: BSD-2-Clause
// BaseConvolutionLayer: the one body of Convolution and Deconvolution (not a registered type).
//
// Both layers are written in the frame of one convolution: its "input" is the image that im2col
// reads (conv_in_channels_ channels) and its "output" is the GEMM result
// (conv_out_channels_ channels). Convolution maps bottom = input to top = output;
// Deconvolution (transposed = true) maps bottom = output to top = input, so its weights have
// the same shape with the channel roles swapped. See Note [Deconvolution as transposed GEMM]
// in deconvolution.h.
//
// convolution_param, as Caffe reads it:
//   num_output > 0; bias_term (default true); group (default 1) divides the input channels
//   and num_output; axis (default 1) is the channel axis, the axes before it are batch axes
//   and the axes after it spatial; kernel_size / stride / pad / dilation are given once (for
//   every spatial axis) or once per spatial axis, or as kernel_h/kernel_w, stride_h/stride_w,
//   pad_h/pad_w (2-D only, exclusive with the repeated forms); weight_filler and bias_filler
//   default to constant 0; force_nd_im2col selects the N-d im2col path for 2-D input.
// Parameter blobs: weights conv_out_channels x conv_in_channels/group x kernel..., then bias
// (num_output) when bias_term. Weights given with the layer parameter are kept (their shapes
// are checked) instead of being filled.
// Every bottom/top pair shares the weights; all bottoms must have the same shape.
//
// The engine (ConvolutionEngine, conv_engine.h) is chosen once per layer at set-up: the layer's own
// convolution_param.engine, or for `engine: DEFAULT` the net's Options::conv_engine. On the
// CPU, DEFAULT runs oneDNN wherever it can run the current shape and im2col elsewhere; on a
// GPU it runs cuDNN where it can, else the GPU im2col path. CAFFE always runs im2col.
//
// Engine choice on the CPU (which oneDNN algorithm): DEFAULT runs Winograd
// (algorithm::convolution_winograd, forward, backward data and backward weights) on 3x3
// stride-1 undilated ungrouped convolutions wherever oneDNN makes the Winograd primitives on
// this CPU, and the direct algorithm elsewhere (oneDNN 2.6 has no Winograd kernel for
// conv1_1's 3 input channels). DNNL (the layer's engine, or the options') forces direct;
// DNNL_WINOGRAD named by the layer forces Winograd (a ConfigError where it cannot run), from
// the options it is the same as DEFAULT. Winograd's error against a double-precision
// reference on FCN-8s's shapes is bounded in tests/layers/winograd_accuracy_test.cpp.
// In a net that does not train (TEST phase), DEFAULT takes Winograd only where its scratch
// (Options::dnnl_inference_scratch_limit_bytes) fits: on FCN-8s at 500x500 that is conv1_2
// alone, and inference peaks at the weights plus the largest activations. A training net's
// Workspace already holds its largest layer's weight reorders (fc6: 411 MB), which Winograd's
// scratch shares, so training is not limited.
// Under Options::precision bf16 oneDNN runs the direct algorithm in bf16 (DnnlConv), Winograd
// is never chosen (a layer that names DNNL_WINOGRAD is a ConfigError), and the im2col path's
// GEMMs multiply in bf16 too (math::LayerGemm).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fcn/layer.h"
#include "layers/conv_engine.h"
#include "layers/cudnn_conv.h"
#include "layers/dnnl_conv.h"
#include "math/im2col.h"

namespace fcn {

class Im2colConv;  // convolution.h

class BaseConvolutionLayer : public Layer {
 public:
  /// Reads and validates what convolution_param says without the bottom shape.
  BaseConvolutionLayer(const LayerParameter& param, bool transposed);
  ~BaseConvolutionLayer() override;

  /// Chooses the engine, resolves per-axis geometry from the bottom's axes, creates or checks
  /// the weights.
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  /// Checks the bottoms against the set-up, computes the top shape and sets up the engines.
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  std::size_t internal_bytes() const override;
  std::string engine_name() const override;
  /// Backward reads the bottoms, the weights and the top gradients, never the tops.
  bool BackwardReadsTopData(int) const override { return false; }

  /// The oneDNN engine for the current shape, or null when it does not run on the CPU.
  DnnlConv* dnnl() const { return dnnl_.get(); }
  /// Whether dnnl() runs oneDNN's Winograd algorithm (else its direct one).
  bool dnnl_winograd() const { return dnnl_ != nullptr && dnnl_winograd_; }
  /// Runs on a GPU too: cuDNN, or the im2col path's GEMMs on cuBLAS (not the N-d im2col).
  bool RunsOn(Device device) const override { return device == Device::kCpu || !use_nd_; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  /// The engine this layer runs: its own convolution_param.engine, or for DEFAULT the
  /// options' conv_engine (once, at set-up).
  void ChooseEngine();
  void ValidateWindowFields() const;
  void ResolveGeometry(const Blob& bottom);
  void SetUpBlobs();
  void CheckBottoms(const BlobVec& bottom) const;
  /// The bottom's and the top's spatial sizes (refusing empty or oversized ones).
  std::vector<int> InputSpatial(const Blob& bottom) const;
  std::vector<int> OutputSpatial(const std::vector<int>& in_spatial) const;
  /// The im2col engine's sizes for the current shape.
  void ReshapeIm2col(const Blob& bottom, const Blob& top, const std::vector<int>& in_spatial,
                     const std::vector<int>& out_spatial);
  math::ConvGeometry Geometry2d(const Blob& bottom, const std::vector<int>& in_spatial,
                                const std::vector<int>& out_spatial) const;
  /// Sets up oneDNN for the current shape where the engine choice and the shape allow it.
  void ReshapeDnnl(const Blob& bottom);
  /// The engine that runs on ctx: oneDNN or im2col on the CPU; cuDNN (made on first use for
  /// the current shape) or im2col on a GPU.
  ConvolutionEngine& EngineFor(const ExecContext& ctx);
  ConvParams Params(const ExecContext& ctx, bool backward);

  const bool transposed_;
  // From convolution_param.
  int num_output_ = 0;
  int group_ = 1;
  bool bias_term_ = true;
  bool force_nd_im2col_ = false;
  int axis_param_ = 1;
  ConvEngine engine_ = ConvEngine::kDefault;  // the prototxt's, then chosen at set-up
  bool engine_explicit_ = false;              // the prototxt names the engine
  // From the bottom shape at set-up.
  int channel_axis_ = 1;
  int num_spatial_axes_ = 0;
  int channels_ = 0;
  int conv_in_channels_ = 0;
  int conv_out_channels_ = 0;
  std::vector<int> kernel_, stride_, pad_, dilation_;
  bool is_1x1_ = false;
  bool use_nd_ = false;
  int kernel_dim_ = 0;              // conv_in_channels / group * prod(kernel)
  std::int64_t weight_offset_ = 0;  // weights per group
  // The engines for the current shape.
  std::unique_ptr<Im2colConv> im2col_;
  // The 2-D geometry of the current shape (when have_geometry_), for oneDNN and cuDNN.
  bool have_geometry_ = false;
  math::ConvGeometry geometry_;
  std::unique_ptr<DnnlConv> dnnl_;
  bool dnnl_winograd_ = false;  // dnnl_ runs Winograd
  // The geometry for which DEFAULT does not run Winograd (oneDNN has no kernel on this CPU,
  // or in a net that does not train its scratch is over the limit): Reshape, which runs before
  // every forward, then keeps the direct primitives it made instead of making Winograd's
  // again each time.
  std::optional<math::ConvGeometry> winograd_unavailable_;
  std::unique_ptr<CudnnConv> cudnn_;
  const ConvolutionEngine* last_engine_ = nullptr;  // the one that ran last (engine_name)
};

}  // namespace fcn
