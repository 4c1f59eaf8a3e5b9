// SPDX-License-Identifier: BSD-2-Clause
// Softmax layer: shape bookkeeping around the per-position functors of softmax_kernels.h.
#include "layers/softmax.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/softmax_kernels.h"

namespace fcn {

const LayerSchema& SoftmaxLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Softmax", 1, 1, 1, 1, true, false, false, {"softmax_param"}, CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(SoftmaxLayer)

SoftmaxLayer::SoftmaxLayer(const LayerParameter& param)
    : Layer(param), axis_param_(param.softmax_param().axis()) {}

void SoftmaxLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const int axis = bottom[0]->CanonicalAxisIndex(axis_param_);
  outer_ = bottom[0]->count(0, axis);
  channels_ = bottom[0]->shape(axis);
  inner_ = bottom[0]->count(axis + 1);
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

void SoftmaxLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  ForEachIndex(
      ctx, outer_ * inner_,
      kernels::SoftmaxForward{bottom[0]->data(ctx), top[0]->mutable_data(ctx), channels_, inner_});
}

void SoftmaxLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  ForEachIndex(ctx, outer_ * inner_,
               kernels::SoftmaxBackward{top[0]->data(ctx), top[0]->diff(ctx),
                                        bottom[0]->mutable_diff(ctx), channels_, inner_});
}

}  // namespace fcn
