// SPDX-License-Identifier: BSD-2-Clause
// Bias layer, and the operand/bottom broadcast checks it shares with Scale.
#include "layers/bias.h"

#include <memory>

#include "backend/for_each_index.h"
#include "fcn/filler.h"
#include "fcn/layer_registry.h"
#include "layers/bias_kernels.h"
#include "math/blas.h"

namespace fcn {

BroadcastDims BroadcastOver(const Blob& bottom, const Blob& operand, int axis_param,
                            const char* what) {
  const int axis = operand.num_axes() == 0 ? 0 : bottom.CanonicalAxisIndex(axis_param);
  if (axis + operand.num_axes() > bottom.num_axes()) {
    throw ConfigError(StrCat(what, " of shape ", operand.shape_string(),
                             " extends past the last axis of bottom[0] ", bottom.shape_string(),
                             " when applied from axis ", axis));
  }
  for (int a = 0; a < operand.num_axes(); ++a) {
    if (operand.shape(a) != bottom.shape(axis + a)) {
      throw ConfigError(StrCat(what, " of shape ", operand.shape_string(),
                               " does not match bottom[0] ", bottom.shape_string(), " from axis ",
                               axis, ": ", what, " axis ", a, " is ", operand.shape(a),
                               ", bottom[0] axis ", axis + a, " is ", bottom.shape(axis + a)));
    }
  }
  BroadcastDims dims;
  dims.outer = bottom.count(0, axis);
  dims.dim = operand.count();
  dims.inner = bottom.count(axis + operand.num_axes());
  return dims;
}

std::vector<std::int64_t> OperandShape(const Blob& bottom, int axis_param, int num_axes,
                                       const char* what) {
  const int axis = bottom.CanonicalAxisIndex(axis_param);
  const int end = num_axes == -1 ? bottom.num_axes() : axis + num_axes;
  if (end > bottom.num_axes()) {
    throw ConfigError(StrCat(what, " axes ", axis, " to ", end - 1,
                             " (axis + num_axes) extend past the last axis of bottom[0] ",
                             bottom.shape_string()));
  }
  return std::vector<std::int64_t>(bottom.shape().begin() + axis, bottom.shape().begin() + end);
}

const LayerSchema& BiasLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Bias", 1, 2, 1, 1, true, false, false, {"bias_param"}, CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(BiasLayer)

BiasLayer::BiasLayer(const LayerParameter& param) : Layer(param) {
  const BiasParameter& p = param.bias_param();
  axis_param_ = p.axis();
  num_axes_ = p.num_axes();
  if (num_axes_ < -1) {
    throw ConfigError(
        StrCat("bias_param.num_axes must be -1 (all remaining axes) or >= 0, got ", num_axes_));
  }
  if (p.has_filler()) ValidateFiller(p.filler());
}

void BiasLayer::LayerSetUp(const BlobVec& bottom, const BlobVec&) {
  if (bottom.size() == 2) {
    if (!blobs_.empty()) {
      throw ConfigError(StrCat("Bias with 2 bottoms (the bias is bottom[1]) takes no parameter ",
                               "blobs, got ", blobs_.size()));
    }
  } else if (blobs_.empty()) {
    blobs_.push_back(
        std::make_shared<Blob>(OperandShape(*bottom[0], axis_param_, num_axes_, "bias")));
    FillBlob(layer_param_.bias_param().filler(), blobs_[0].get(), rng());
  } else if (blobs_.size() != 1) {
    throw ConfigError(StrCat("Bias expects 1 parameter blob, got ", blobs_.size()));
  }
  param_propagate_down_.resize(blobs_.size(), true);
}

void BiasLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& bias = bottom.size() > 1 ? *bottom[1] : *blobs_[0];
  dims_ = BroadcastOver(*bottom[0], bias, axis_param_, "bias");
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

void BiasLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const float* bias = (bottom.size() > 1 ? bottom[1] : blobs_[0].get())->data(ctx);
  ForEachIndex(ctx, top[0]->count(),
               kernels::BiasForward{bottom[0]->data(ctx), bias, dims_.dim, dims_.inner,
                                    top[0]->mutable_data(ctx)});
}

void BiasLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                             const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  const float* top_diff = top[0]->diff(ctx);
  if (propagate_down[0] && bottom[0] != top[0]) {
    math::Copy(ctx, top[0]->count(), top_diff, bottom[0]->mutable_diff(ctx));
  }
  const bool learned = bottom.size() == 1;
  if (learned ? param_propagate_down(0) : propagate_down[1]) {
    Blob* bias = learned ? blobs_[0].get() : bottom[1];
    ForEachIndex(ctx, dims_.dim,
                 kernels::BiasParamGrad{top_diff, dims_.outer, dims_.dim, dims_.inner, learned,
                                        bias->mutable_diff(ctx)});
  }
}

}  // namespace fcn
