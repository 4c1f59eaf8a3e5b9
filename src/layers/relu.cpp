// SPDX-License-Identifier: BSD-2-Clause
// ReLU layer: set-up, shapes, and the forward/backward launches of relu_kernels.h.
#include "layers/relu.h"

#include <cmath>

#include "backend/for_each_index.h"
#include "layers/relu_kernels.h"

namespace fcn {

const LayerSchema& ReLULayer::Schema() {
  static const LayerSchema schema{"ReLU",
                                  1,
                                  1,
                                  1,
                                  1,
                                  /*in_place=*/true,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"relu_param"}};
  return schema;
}

ReLULayer::ReLULayer(const LayerParameter& param)
    : Layer(param), negative_slope_(param.relu_param().negative_slope()) {
  if (!std::isfinite(negative_slope_)) {
    throw ConfigError(StrCat("relu_param.negative_slope must be finite, got ", negative_slope_));
  }
}

void ReLULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0] && negative_slope_ < 0.0f) {
    throw ConfigError(StrCat("ReLU with negative_slope ", negative_slope_,
                             " cannot run in place: the backward pass needs the input's sign, "
                             "which the output does not keep; give the layer its own top"));
  }
}

void ReLULayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

void ReLULayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  ForEachIndex(
      ctx, bottom[0]->count(),
      kernels::ReluForward{bottom[0]->data(ctx), top[0]->mutable_data(ctx), negative_slope_});
}

void ReLULayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                             const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  ForEachIndex(ctx, bottom[0]->count(),
               kernels::ReluBackward{top[0]->diff(ctx), bottom[0]->data(ctx),
                                     bottom[0]->mutable_diff(ctx), negative_slope_});
}

}  // namespace fcn
