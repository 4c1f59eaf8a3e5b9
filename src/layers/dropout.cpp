// SPDX-License-Identifier: BSD-2-Clause
// Dropout layer: set-up, the TRAIN-phase mask, and the launches of dropout_kernels.h.
#include "layers/dropout.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "fcn/rng.h"
#include "layers/dropout_kernels.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& DropoutLayer::Schema() {
  static const LayerSchema schema{"Dropout",
                                  1,
                                  1,
                                  1,
                                  1,
                                  /*in_place=*/true,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"dropout_param"},
                                  CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(DropoutLayer)

DropoutLayer::DropoutLayer(const LayerParameter& param)
    : Layer(param), ratio_(param.dropout_param().dropout_ratio()) {
  // The negated test also rejects NaN.
  if (!(ratio_ >= 0.0f && ratio_ < 1.0f)) {
    throw ConfigError(StrCat("dropout_param.dropout_ratio must be in [0, 1), got ", ratio_));
  }
  scale_ = 1.0f / (1.0f - ratio_);
}

void DropoutLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
  if (phase_ == TRAIN) mask_.ReshapeLike(*bottom[0]);
}

void DropoutLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const std::int64_t count = bottom[0]->count();
  if (phase_ != TRAIN) {
    math::Copy(ctx, count, bottom[0]->data(ctx), top[0]->mutable_data(ctx));
    return;
  }
  // The draws are sequential on the host so that a seed gives one mask on every device.
  float* mask = mask_.mutable_data(ctx);
  Rng& rng = this->rng();
  const float keep = 1.0f - ratio_;
  for (std::int64_t i = 0; i < count; ++i) mask[i] = rng.Bernoulli(keep) ? 1.0f : 0.0f;
  ForEachIndex(ctx, count,
               kernels::ApplyDropoutMask{bottom[0]->data(ctx), mask_.data(ctx),
                                         top[0]->mutable_data(ctx), scale_});
}

void DropoutLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const std::int64_t count = bottom[0]->count();
  if (phase_ != TRAIN) {
    math::Copy(ctx, count, top[0]->diff(ctx), bottom[0]->mutable_diff(ctx));
    return;
  }
  ForEachIndex(ctx, count,
               kernels::ApplyDropoutMask{top[0]->diff(ctx), mask_.data(ctx),
                                         bottom[0]->mutable_diff(ctx), scale_});
}

}  // namespace fcn
