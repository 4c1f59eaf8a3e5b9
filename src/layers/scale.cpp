// SPDX-License-Identifier: BSD-2-Clause
// Scale layer: parameter blobs, shape checks and the broadcast multiply (+ bias).
#include "layers/scale.h"

#include <memory>

#include "backend/for_each_index.h"
#include "fcn/filler.h"
#include "fcn/layer_registry.h"
#include "layers/bias_kernels.h"
#include "layers/scale_kernels.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& ScaleLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Scale", 1, 2, 1, 1, true, false, false, {"scale_param"}, CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(ScaleLayer)

ScaleLayer::ScaleLayer(const LayerParameter& param) : Layer(param) {
  const ScaleParameter& p = param.scale_param();
  axis_param_ = p.axis();
  num_axes_ = p.num_axes();
  bias_term_ = p.bias_term();
  if (num_axes_ < -1) {
    throw ConfigError(
        StrCat("scale_param.num_axes must be -1 (all remaining axes) or >= 0, got ", num_axes_));
  }
  if (p.has_filler()) ValidateFiller(p.filler());
  if (p.has_bias_filler()) ValidateFiller(p.bias_filler());
}

void ScaleLayer::LayerSetUp(const BlobVec& bottom, const BlobVec&) {
  const ScaleParameter& p = layer_param_.scale_param();
  const bool learned = bottom.size() == 1;
  const std::size_t expected = (learned ? 1 : 0) + (bias_term_ ? 1 : 0);
  if (blobs_.size() > expected) {
    throw ConfigError(StrCat(
        "Scale with ", bottom.size(), " bottom(s) and bias_term: ", bias_term_ ? "true" : "false",
        " takes at most ", expected, " parameter blob(s), got ", blobs_.size()));
  }
  if (learned && blobs_.empty()) {
    blobs_.push_back(
        std::make_shared<Blob>(OperandShape(*bottom[0], axis_param_, num_axes_, "scale")));
    FillerParameter filler = p.filler();
    if (!p.has_filler()) {
      filler.set_type("constant");
      filler.set_value(1.0f);
    }
    FillBlob(filler, blobs_[0].get(), rng());
  }
  // A given scale without its bias (Caffe accepts that): the bias is filled.
  if (bias_term_ && blobs_.size() < expected) {
    const int bias_axes = learned ? num_axes_ : bottom[1]->num_axes();
    blobs_.push_back(
        std::make_shared<Blob>(OperandShape(*bottom[0], axis_param_, bias_axes, "bias")));
    FillBlob(p.bias_filler(), blobs_.back().get(), rng());
  }
  param_propagate_down_.resize(blobs_.size(), true);
}

void ScaleLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& scale = bottom.size() > 1 ? *bottom[1] : *blobs_[0];
  scale_dims_ = BroadcastOver(*bottom[0], scale, axis_param_, "scale");
  if (bias_term_) bias_dims_ = BroadcastOver(*bottom[0], *blobs_.back(), axis_param_, "bias");
  if (top[0] == bottom[0]) {
    saved_bottom_.ReshapeLike(*bottom[0]);
  } else {
    top[0]->ReshapeLike(*bottom[0]);
  }
}

void ScaleLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const std::int64_t n = top[0]->count();
  const float* x = bottom[0]->data(ctx);
  if (top[0] == bottom[0]) math::Copy(ctx, n, x, saved_bottom_.mutable_data(ctx));
  const float* scale = (bottom.size() > 1 ? bottom[1] : blobs_[0].get())->data(ctx);
  float* y = top[0]->mutable_data(ctx);
  ForEachIndex(ctx, n, kernels::ScaleForward{x, scale, scale_dims_.dim, scale_dims_.inner, y});
  if (bias_term_) {
    ForEachIndex(
        ctx, n,
        kernels::BiasForward{y, blobs_.back()->data(ctx), bias_dims_.dim, bias_dims_.inner, y});
  }
}

void ScaleLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                              const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  const float* top_diff = top[0]->diff(ctx);
  if (bias_term_ && param_propagate_down(static_cast<int>(blobs_.size()) - 1)) {
    ForEachIndex(
        ctx, bias_dims_.dim,
        kernels::BiasParamGrad{top_diff, bias_dims_.outer, bias_dims_.dim, bias_dims_.inner,
                               /*accumulate=*/true, blobs_.back()->mutable_diff(ctx)});
  }
  const bool learned = bottom.size() == 1;
  Blob* scale = learned ? blobs_[0].get() : bottom[1];
  if (learned ? param_propagate_down(0) : propagate_down[1]) {
    const float* x = (top[0] == bottom[0] ? &saved_bottom_ : bottom[0])->data(ctx);
    ForEachIndex(ctx, scale_dims_.dim,
                 kernels::ScaleParamGrad{top_diff, x, scale_dims_.outer, scale_dims_.dim,
                                         scale_dims_.inner, learned, scale->mutable_diff(ctx)});
  }
  // Last: in place, this overwrites the top diff read above.
  if (propagate_down[0]) {
    ForEachIndex(ctx, top[0]->count(),
                 kernels::ScaleForward{top_diff, scale->data(ctx), scale_dims_.dim,
                                       scale_dims_.inner, bottom[0]->mutable_diff(ctx)});
  }
}

}  // namespace fcn
