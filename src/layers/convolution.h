// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionLayer: Caffe's "Convolution" (grouped, dilated, N-d), and Im2colConv, the
// im2col + GEMM engine that Convolution and Deconvolution share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "layers/base_conv.h"
#include "layers/conv_engine.h"
#include "math/im2col.h"

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
};

/// Caffe's engine: per image, im2col (or col2im) and one GEMM per group, on the CPU (OpenBLAS)
/// or a GPU (cuBLAS; 2-D only). A 1x1 kernel with stride 1 and pad 0 skips im2col.
class Im2colConv final : public ConvolutionEngine {
 public:
  /// What one image of the current shape needs, in the convolution's frame.
  struct Shape {
    bool transposed = false;
    int group = 1;
    int num_output = 0;
    int conv_out_channels = 0;
    bool is_1x1 = false;
    bool use_nd = false;             // the N-d im2col (host only)
    int kernel_dim = 0;              // conv_in_channels / group * prod(kernel)
    std::int64_t weight_offset = 0;  // weights per group
    std::int64_t num = 0;            // images (product of the axes before the channel axis)
    std::int64_t bottom_dim = 0, top_dim = 0;  // elements per image
    int conv_out_spatial_dim = 0;              // columns of the im2col buffer
    int top_spatial_dim = 0;                   // positions the bias is added to
    std::int64_t col_offset = 0;               // col entries per group
    std::int64_t output_offset = 0;            // conv output entries per group
    std::int64_t col_count = 0;
    math::ConvGeometry geometry;  // 2-D
    // N-d: [conv_in_channels, spatial...], [kernel_dim * group, conv output spatial...] and
    // the per-axis window.
    std::vector<int> image_shape, col_shape, kernel, pad, stride, dilation;
  };

  void set_shape(const Shape& shape) { s_ = shape; }
  /// The ones vector of the bias GEMMs for the current shape (made on first use otherwise).
  void EnsureBiasMultiplier();
  std::size_t internal_bytes() const;

  std::string name() const override {
    return bf16_ ? "CAFFE (im2col + GEMM, bf16)" : "CAFFE (im2col + GEMM)";
  }
  /// Whether its GEMMs multiply in bf16 (the net's Options::precision; math::LayerGemm).
  void set_bf16(bool bf16) { bf16_ = bf16; }
  void Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
               const BlobVec& top) override;
  void Backward(const ExecContext& ctx, const BlobVec& top, const std::vector<bool>& propagate_down,
                const ConvParams& p, const BlobVec& bottom) override;

  /// bias_diff[m] += sum over every image and position of top_diff[n, m, :] (per-image GEMVs
  /// against the ones vector). cuDNN's bias-only backward pass runs this too.
  void BackwardBiasAll(const ExecContext& ctx, const float* top_diff, float* bias_diff);

 private:
  // One image, all groups. `col` is the im2col buffer (col_count floats from the shared
  // workspace), unused (may be null) on the 1x1 path.
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
  /// The image-to-column transforms of the convolution's input, on ctx's device.
  void Im2ColInput(const ExecContext& ctx, const float* input, float* col) const;
  void Col2ImInput(const ExecContext& ctx, const float* col, float* input) const;
  /// The im2col buffer for the current shape, or nullptr on the 1x1 path.
  float* ColBuffer(const ExecContext& ctx) const;
  /// The layer's forward pass: Convolution's is the convolution, Deconvolution's its adjoint.
  void ForwardImage(const ExecContext& ctx, const float* bottom, const float* weights, float* col,
                    float* top);
  /// The gradients of one image: weights (where weight_diff) and bottom (where bottom_diff).
  void BackwardImage(const ExecContext& ctx, const float* top_diff, const float* bottom,
                     const float* weights, float* col, float* weight_diff, float* bottom_diff);

  Shape s_;
  bool bf16_ = false;
  Blob bias_multiplier_;  // ones, top_spatial_dim long
};

}  // namespace fcn
