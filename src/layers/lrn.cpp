// SPDX-License-Identifier: BSD-2-Clause
// LRN layer: parameter validation and the functor launches of both normalisation regions.
#include "layers/lrn.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"

namespace fcn {

const LayerSchema& LRNLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "LRN", 1, 1, 1, 1, false, false, false, {"lrn_param"}, CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(LRNLayer)

LRNLayer::LRNLayer(const LayerParameter& param) : Layer(param) {
  const LRNParameter& p = param.lrn_param();
  if (p.local_size() % 2 != 1) {
    throw ConfigError(StrCat("LRN local_size must be odd, got ", p.local_size()));
  }
  size_ = p.local_size();
  region_ = p.norm_region();
  alpha_ = p.alpha();
  beta_ = p.beta();
  k_ = p.k();
}

void LRNLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (bottom[0]->num_axes() != 4) {
    throw ConfigError(StrCat("LRN input must have 4 axes (N x C x H x W), got ",
                             bottom[0]->num_axes(), " (shape ", bottom[0]->shape_string(), ")"));
  }
  top[0]->ReshapeLike(*bottom[0]);
  scale_.ReshapeLike(*bottom[0]);
}

kernels::LrnWindow LRNLayer::Window(const Blob& x) const {
  return kernels::LrnWindow{x.shape(1), x.shape(2), x.shape(3), (size_ - 1) / 2,
                            region_ == LRNParameter::ACROSS_CHANNELS};
}

float LRNLayer::Coeff() const {
  const auto n = static_cast<float>(size_);
  return region_ == LRNParameter::ACROSS_CHANNELS ? alpha_ / n : alpha_ / (n * n);
}

void LRNLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  ForEachIndex(ctx, x.count(),
               kernels::LrnForward{x.data(ctx), scale_.mutable_data(ctx), top[0]->mutable_data(ctx),
                                   Window(x), region_ == LRNParameter::ACROSS_CHANNELS ? k_ : 1.0f,
                                   Coeff(), beta_});
}

void LRNLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                            const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const Blob& x = *bottom[0];
  ForEachIndex(
      ctx, x.count(),
      kernels::LrnBackward{x.data(ctx), top[0]->data(ctx), scale_.data(ctx), top[0]->diff(ctx),
                           bottom[0]->mutable_diff(ctx), Window(x), Coeff(), beta_});
}

}  // namespace fcn
