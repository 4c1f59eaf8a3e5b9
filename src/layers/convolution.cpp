// SPDX-License-Identifier: BSD-2-Clause
// ConvolutionLayer: forward and backward passes over the GEMMs of BaseConvolutionLayer.
#include "layers/convolution.h"

#include "fcn/layer_registry.h"

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

void ConvolutionLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom,
                                   const BlobVec& top) {
  if (EngineForward(ctx, bottom, top)) return;
  const float* weights = blobs_[0]->data(ctx);
  const float* bias = bias_term() ? blobs_[1]->data(ctx) : nullptr;
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    const float* bottom_data = bottom[i]->data(ctx);
    float* top_data = top[i]->mutable_data(ctx);
    for (std::int64_t n = 0; n < num(); ++n) {
      float* output = top_data + n * top_dim();
      ForwardGemm(ctx, bottom_data + n * bottom_dim(), weights, col, output);
      if (bias) ForwardBias(ctx, bias, output);
    }
  }
}

void ConvolutionLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                    const std::vector<bool>& propagate_down,
                                    const BlobVec& bottom) {
  if (EngineBackward(ctx, top, propagate_down, bottom)) return;
  const float* weights = blobs_[0]->data(ctx);
  const bool weight_grad = param_propagate_down(0);
  const bool bias_grad = bias_term() && param_propagate_down(1);
  float* weight_diff = weight_grad ? blobs_[0]->mutable_diff(ctx) : nullptr;
  float* bias_diff = bias_grad ? blobs_[1]->mutable_diff(ctx) : nullptr;
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < top.size(); ++i) {
    const float* top_diff = top[i]->diff(ctx);
    if (bias_grad) BackwardBiasAll(ctx, top_diff, bias_diff);
    const bool data_grad = i < propagate_down.size() && propagate_down[i];
    if (!weight_grad && !data_grad) continue;
    const float* bottom_data = bottom[i]->data(ctx);
    float* bottom_diff = data_grad ? bottom[i]->mutable_diff(ctx) : nullptr;
    for (std::int64_t n = 0; n < num(); ++n) {
      const float* output_diff = top_diff + n * top_dim();
      if (weight_grad) {
        WeightGemm(ctx, bottom_data + n * bottom_dim(), output_diff, col, weight_diff);
      }
      if (data_grad) BackwardGemm(ctx, output_diff, weights, col, bottom_diff + n * bottom_dim());
    }
  }
}

}  // namespace fcn
