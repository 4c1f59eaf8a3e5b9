// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionLayer's schema, and Im2colConv: the im2col + GEMM engine of Convolution and
// Deconvolution (a Deconvolution runs the same GEMMs with forward and backward swapped).
#include "layers/convolution.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "math/blas.h"
#include "math/im2col_kernels.h"

namespace fcn {

const LayerSchema& ConvolutionLayer::Schema() {
  static const LayerSchema schema{
      "Convolution",
      /*min_bottoms=*/1,
      /*max_bottoms=*/-1,
      /*min_tops=*/1,
      /*max_tops=*/-1,
      /*in_place=*/false,
      /*auto_top=*/false,
      /*loss=*/false,     {"convolution_param"}, CoordMapRule::kConvolution};
  return schema;
}

FCN_REGISTER_LAYER(ConvolutionLayer)

void Im2colConv::EnsureBiasMultiplier() {
  if (bias_multiplier_.count() == s_.top_spatial_dim) return;
  bias_multiplier_.Reshape({s_.top_spatial_dim});
  float* ones = bias_multiplier_.mutable_cpu_data();
  for (int i = 0; i < s_.top_spatial_dim; ++i) ones[i] = 1.0f;
}

std::size_t Im2colConv::internal_bytes() const {
  return static_cast<std::size_t>(bias_multiplier_.count()) * sizeof(float);
}

void Im2colConv::Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
                         const BlobVec& top) {
  const float* weights = p.weights->data(ctx);
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    const float* bottom_data = bottom[i]->data(ctx);
    float* top_data = top[i]->mutable_data(ctx);
    for (std::int64_t n = 0; n < s_.num; ++n) {
      float* output = top_data + n * s_.top_dim;
      ForwardImage(ctx, bottom_data + n * s_.bottom_dim, weights, col, output);
      if (p.bias) ForwardBias(ctx, p.bias, output);
    }
  }
}

void Im2colConv::Backward(const ExecContext& ctx, const BlobVec& top,
                          const std::vector<bool>& propagate_down, const ConvParams& p,
                          const BlobVec& bottom) {
  const float* weights = p.weights->data(ctx);
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < top.size(); ++i) {
    const float* top_diff = top[i]->diff(ctx);
    if (p.bias_diff) BackwardBiasAll(ctx, top_diff, p.bias_diff);
    const bool data_grad = i < propagate_down.size() && propagate_down[i];
    if (!p.weight_diff && !data_grad) continue;
    const float* bottom_data = bottom[i]->data(ctx);
    float* bottom_diff = data_grad ? bottom[i]->mutable_diff(ctx) : nullptr;
    for (std::int64_t n = 0; n < s_.num; ++n) {
      BackwardImage(ctx, top_diff + n * s_.top_dim, bottom_data + n * s_.bottom_dim, weights, col,
                    p.weight_diff, bottom_diff ? bottom_diff + n * s_.bottom_dim : nullptr);
    }
  }
}

void Im2colConv::ForwardImage(const ExecContext& ctx, const float* bottom, const float* weights,
                              float* col, float* top) {
  if (!s_.transposed) {
    ForwardGemm(ctx, bottom, weights, col, top);
  } else {
    BackwardGemm(ctx, bottom, weights, col, top);
  }
}

void Im2colConv::BackwardImage(const ExecContext& ctx, const float* top_diff, const float* bottom,
                               const float* weights, float* col, float* weight_diff,
                               float* bottom_diff) {
  if (!s_.transposed) {
    if (weight_diff) WeightGemm(ctx, bottom, top_diff, col, weight_diff);
    if (bottom_diff) BackwardGemm(ctx, top_diff, weights, col, bottom_diff);
    return;
  }
  if (weight_diff) WeightGemm(ctx, top_diff, bottom, col, weight_diff);
  // WeightGemm has left im2col(dtop) in the column buffer.
  if (bottom_diff) {
    ForwardGemm(ctx, top_diff, weights, col, bottom_diff, /*col_ready=*/weight_diff != nullptr);
  }
}

float* Im2colConv::ColBuffer(const ExecContext& ctx) const {
  return s_.is_1x1 ? nullptr : ctx.workspace().Get(s_.col_count);
}

void Im2colConv::Im2ColInput(const ExecContext& ctx, const float* input, float* col) const {
  const math::ConvGeometry& g = s_.geometry;
  if (ctx.device() == Device::kCuda) {
    FCN_CHECK(!s_.use_nd, "the N-d im2col runs on the host only");
    ForEachIndex(ctx, static_cast<std::int64_t>(g.image_channels()) * g.col_h() * g.col_w(),
                 kernels::Im2ColIndex{input, col, g});
  } else if (s_.use_nd) {
    math::Im2ColNd(input, static_cast<int>(s_.kernel.size()), s_.image_shape, s_.col_shape,
                   s_.kernel, s_.pad, s_.stride, s_.dilation, col);
  } else {
    math::Im2Col(input, g, col);
  }
}

void Im2colConv::Col2ImInput(const ExecContext& ctx, const float* col, float* input) const {
  const math::ConvGeometry& g = s_.geometry;
  if (ctx.device() == Device::kCuda) {
    FCN_CHECK(!s_.use_nd, "the N-d col2im runs on the host only");
    ForEachIndex(ctx, static_cast<std::int64_t>(g.image_channels()) * g.image_h() * g.image_w(),
                 kernels::Col2ImIndex{col, input, g});
  } else if (s_.use_nd) {
    math::Col2ImNd(col, static_cast<int>(s_.kernel.size()), s_.image_shape, s_.col_shape, s_.kernel,
                   s_.pad, s_.stride, s_.dilation, input);
  } else {
    math::Col2Im(col, g, input);
  }
}

void Im2colConv::ForwardGemm(const ExecContext& ctx, const float* input, const float* weights,
                             float* col, float* output, bool col_ready) {
  const float* col_data = input;
  if (!s_.is_1x1) {
    if (!col_ready) Im2ColInput(ctx, input, col);
    col_data = col;
  }
  const int group_out = s_.conv_out_channels / s_.group;
  for (int g = 0; g < s_.group; ++g) {
    math::LayerGemm(ctx, math::Trans::kNo, math::Trans::kNo, group_out, s_.conv_out_spatial_dim,
                    s_.kernel_dim, 1.0f, weights + s_.weight_offset * g,
                    col_data + s_.col_offset * g, 0.0f, output + s_.output_offset * g);
  }
}

void Im2colConv::ForwardBias(const ExecContext& ctx, const float* bias, float* output) {
  EnsureBiasMultiplier();
  math::Gemm(ctx, math::Trans::kNo, math::Trans::kNo, s_.num_output, s_.top_spatial_dim, 1, 1.0f,
             bias, bias_multiplier_.data(ctx), 1.0f, output);
}

void Im2colConv::BackwardGemm(const ExecContext& ctx, const float* output, const float* weights,
                              float* col, float* input) {
  float* col_data = s_.is_1x1 ? input : col;
  const int group_out = s_.conv_out_channels / s_.group;
  for (int g = 0; g < s_.group; ++g) {
    math::LayerGemm(ctx, math::Trans::kYes, math::Trans::kNo, s_.kernel_dim,
                    s_.conv_out_spatial_dim, group_out, 1.0f, weights + s_.weight_offset * g,
                    output + s_.output_offset * g, 0.0f, col_data + s_.col_offset * g);
  }
  if (!s_.is_1x1) Col2ImInput(ctx, col, input);
}

void Im2colConv::WeightGemm(const ExecContext& ctx, const float* input, const float* output,
                            float* col, float* weight_diff) {
  const float* col_data = input;
  if (!s_.is_1x1) {
    Im2ColInput(ctx, input, col);
    col_data = col;
  }
  const int group_out = s_.conv_out_channels / s_.group;
  for (int g = 0; g < s_.group; ++g) {
    math::LayerGemm(ctx, math::Trans::kNo, math::Trans::kYes, group_out, s_.kernel_dim,
                    s_.conv_out_spatial_dim, 1.0f, output + s_.output_offset * g,
                    col_data + s_.col_offset * g, 1.0f, weight_diff + s_.weight_offset * g);
  }
}

void Im2colConv::BackwardBiasAll(const ExecContext& ctx, const float* top_diff, float* bias_diff) {
  for (std::int64_t n = 0; n < s_.num; ++n) {
    BackwardBias(ctx, top_diff + n * s_.top_dim, bias_diff);
  }
}

void Im2colConv::BackwardBias(const ExecContext& ctx, const float* top_diff, float* bias_diff) {
  EnsureBiasMultiplier();
  math::Gemv(ctx, math::Trans::kNo, s_.num_output, s_.top_spatial_dim, 1.0f, top_diff,
             bias_multiplier_.data(ctx), 1.0f, bias_diff);
}

}  // namespace fcn
