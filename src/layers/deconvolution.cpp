// SPDX-License-Identifier: BSD-2-Clause
// DeconvolutionLayer: convolution's GEMMs with the roles of forward and backward swapped.
#include "layers/deconvolution.h"

namespace fcn {

const LayerSchema& DeconvolutionLayer::Schema() {
  static const LayerSchema schema{"Deconvolution",
                                  /*min_bottoms=*/1,
                                  /*max_bottoms=*/-1,
                                  /*min_tops=*/1,
                                  /*max_tops=*/-1,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,     {"convolution_param"}};
  return schema;
}

void DeconvolutionLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom,
                                     const BlobVec& top) {
  if (DnnlConv* engine = dnnl()) {
    const float* weights = blobs_[0]->cpu_data();
    const float* bias = bias_term() ? blobs_[1]->cpu_data() : nullptr;
    for (std::size_t i = 0; i < bottom.size(); ++i) {
      engine->Forward(ctx.workspace(), bottom[i]->cpu_data(), weights, bias,
                      top[i]->mutable_cpu_data());
    }
    return;
  }
  const float* weights = blobs_[0]->cpu_data();
  const float* bias = bias_term() ? blobs_[1]->cpu_data() : nullptr;
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    const float* bottom_data = bottom[i]->cpu_data();
    float* top_data = top[i]->mutable_cpu_data();
    for (std::int64_t n = 0; n < num(); ++n) {
      float* output = top_data + n * top_dim();
      BackwardGemm(ctx, bottom_data + n * bottom_dim(), weights, col, output);
      if (bias) ForwardBias(ctx, bias, output);
    }
  }
}

void DeconvolutionLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                      const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  if (DnnlConv* engine = dnnl()) {
    const float* weights = blobs_[0]->cpu_data();
    const bool weight_grad = param_propagate_down(0);
    const bool bias_grad = bias_term() && param_propagate_down(1);
    float* weight_diff = weight_grad ? blobs_[0]->mutable_cpu_diff() : nullptr;
    float* bias_diff = bias_grad ? blobs_[1]->mutable_cpu_diff() : nullptr;
    for (std::size_t i = 0; i < top.size(); ++i) {
      const float* top_diff = top[i]->cpu_diff();
      if (weight_grad || bias_grad) {
        // oneDNN computes both; a frozen weight (lr_mult 0) still skips the accumulation.
        if (weight_grad) {
          engine->BackwardWeights(ctx.workspace(), bottom[i]->cpu_data(), top_diff, weight_diff,
                                  bias_diff);
        } else {
          BackwardBiasAll(top_diff, bias_diff);
        }
      }
      if (i < propagate_down.size() && propagate_down[i]) {
        engine->BackwardData(ctx.workspace(), top_diff, weights, bottom[i]->mutable_cpu_diff());
      }
    }
    return;
  }
  const float* weights = blobs_[0]->cpu_data();
  const bool weight_grad = param_propagate_down(0);
  const bool bias_grad = bias_term() && param_propagate_down(1);
  float* weight_diff = weight_grad ? blobs_[0]->mutable_cpu_diff() : nullptr;
  float* bias_diff = bias_grad ? blobs_[1]->mutable_cpu_diff() : nullptr;
  float* col = ColBuffer(ctx);
  for (std::size_t i = 0; i < top.size(); ++i) {
    const float* top_diff = top[i]->cpu_diff();
    if (bias_grad) {
      for (std::int64_t n = 0; n < num(); ++n)
        BackwardBias(ctx, top_diff + n * top_dim(), bias_diff);
    }
    const bool data_grad = i < propagate_down.size() && propagate_down[i];
    if (!weight_grad && !data_grad) continue;
    const float* bottom_data = bottom[i]->cpu_data();
    float* bottom_diff = data_grad ? bottom[i]->mutable_cpu_diff() : nullptr;
    for (std::int64_t n = 0; n < num(); ++n) {
      const float* input_diff = top_diff + n * top_dim();
      if (weight_grad) {
        WeightGemm(ctx, input_diff, bottom_data + n * bottom_dim(), col, weight_diff);
      }
      if (data_grad) {
        // WeightGemm has left im2col(dtop) in the column buffer.
        ForwardGemm(ctx, input_diff, weights, col, bottom_diff + n * bottom_dim(),
                    /*col_ready=*/weight_grad);
      }
    }
  }
}

}  // namespace fcn
