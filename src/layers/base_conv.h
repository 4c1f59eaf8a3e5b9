// SPDX-License-Identifier: BSD-2-Clause
// BaseConvolutionLayer: what Convolution and Deconvolution share (not a registered type).
//
// Both are written in the frame of one convolution: its "input" is the image that im2col
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
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/layer.h"
#include "layers/cudnn_conv.h"
#include "layers/dnnl_conv.h"
#include "math/im2col.h"

namespace fcn {

class BaseConvolutionLayer : public Layer {
 public:
  /// Reads and validates what convolution_param says without the bottom shape.
  BaseConvolutionLayer(const LayerParameter& param, bool transposed);

  /// Resolves per-axis geometry from the bottom's axes, creates or checks the weights.
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  /// Checks the bottoms against the set-up, computes the top shape and the im2col geometry.
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  std::size_t internal_bytes() const override;

  /// The oneDNN engine for the current shape, or null when the im2col path runs.
  DnnlConv* dnnl() const { return dnnl_.get(); }
  /// Runs on a GPU too: cuDNN, or the im2col path's GEMMs on cuBLAS (not the N-d im2col).
  bool RunsOn(Device device) const override { return device == Device::kCpu || !use_nd_; }
  /// "DNNL (<oneDNN implementation>)" or "CAFFE (im2col + GEMM)" (for logs and tests).
  std::string engine_name() const override;

 protected:
  // One image at a time, all groups. `col` is the im2col buffer (col_count() floats from the
  // shared workspace), unused (may be null) on the 1x1 path.

  /// output = W * im2col(input). With col_ready, `col` already holds im2col(input).
  void ForwardGemm(const ExecContext& ctx, const float* input, const float* weights, float* col,
                   float* output, bool col_ready = false);
  /// output[m, :] += bias[m] over the top's spatial positions.
  void ForwardBias(const ExecContext& ctx, const float* bias, float* output);
  /// input = col2im(W^T * output); input is overwritten.
  void BackwardGemm(const ExecContext& ctx, const float* output, const float* weights, float* col,
                    float* input);
  /// weight_diff += output * im2col(input)^T; leaves im2col(input) in `col`.
  void WeightGemm(const ExecContext& ctx, const float* input, const float* output, float* col,
                  float* weight_diff);
  /// bias_diff[m] += sum over the top's spatial positions of top_diff[m, :].
  void BackwardBias(const ExecContext& ctx, const float* top_diff, float* bias_diff);
  /// bias_diff[m] += sum over every image and position of top_diff[n, m, :]: the im2col
  /// path's per-image GEMVs, or, where oneDNN runs (which keeps no ones vector), a plain loop.
  void BackwardBiasAll(const ExecContext& ctx, const float* top_diff, float* bias_diff);

  /// The engine that runs on ctx: oneDNN (CPU contexts) or cuDNN (CUDA contexts, made on
  /// first use for the current shape); null means the im2col path.
  DnnlConv* dnnl(const ExecContext& ctx) const;
  CudnnConv* cudnn(const ExecContext& ctx);

  /// Runs the pass on oneDNN or cuDNN when one of them serves ctx (the engines take the
  /// layer's own direction: a deconvolution's engine runs the transposed convolution) and
  /// returns true; false means the im2col path is the caller's to run.
  bool EngineForward(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top);
  bool EngineBackward(const ExecContext& ctx, const BlobVec& top,
                      const std::vector<bool>& propagate_down, const BlobVec& bottom);

  /// The im2col buffer for the current shape, or nullptr on the 1x1 path.
  float* ColBuffer(const ExecContext& ctx) const;

  bool bias_term() const { return bias_term_; }
  /// Images in the batch (product of the axes before the channel axis).
  std::int64_t num() const { return num_; }
  /// Elements per image of each bottom and each top.
  std::int64_t bottom_dim() const { return bottom_dim_; }
  std::int64_t top_dim() const { return top_dim_; }

 private:
  void ResolveGeometry(const Blob& bottom);
  void ReshapeEngine(const Blob& bottom, const std::vector<int>& in_spatial,
                     const std::vector<int>& out_spatial);
  void SetUpBlobs();
  void EnsureBiasMultiplier();
  void Im2ColInput(const ExecContext& ctx, const float* input, float* col) const;
  void Col2ImInput(const ExecContext& ctx, const float* col, float* input) const;

  const bool transposed_;
  // From convolution_param.
  int num_output_ = 0;
  int group_ = 1;
  bool bias_term_ = true;
  bool force_nd_im2col_ = false;
  int axis_param_ = 1;
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
  // From the bottom shape at each Reshape.
  std::int64_t num_ = 0;
  std::int64_t bottom_dim_ = 0;
  std::int64_t top_dim_ = 0;
  int conv_out_spatial_dim_ = 0;    // columns of the im2col buffer
  int top_spatial_dim_ = 0;         // positions the bias is added to
  std::int64_t col_offset_ = 0;     // col entries per group
  std::int64_t output_offset_ = 0;  // conv output entries per group
  std::int64_t col_count_ = 0;
  math::ConvGeometry2d geometry_;
  std::vector<int> conv_input_shape_;  // [conv_in_channels, spatial...] for the N-d path
  std::vector<int> col_shape_;         // [kernel_dim * group, conv output spatial...]
  Blob bias_multiplier_;               // ones, top_spatial_dim_ long
  // The engine: convolution_param.engine (DEFAULT: oneDNN wherever it can run, else im2col;
  // the environment variable FCN_CONV_ENGINE=CAFFE|DNNL overrides DEFAULT).
  enum class Engine { kDefault, kCaffe, kDnnl, kDnnlWinograd };
  Engine engine_ = Engine::kDefault;
  std::unique_ptr<DnnlConv> dnnl_;
  // The 2-D geometry of the current shape (when have_geometry_), for oneDNN and cuDNN.
  bool have_geometry_ = false;
  DnnlConvGeometry geometry2d_;
  std::unique_ptr<CudnnConv> cudnn_;
};

}  // namespace fcn
