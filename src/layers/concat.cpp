// SPDX-License-Identifier: BSD-2-Clause
// Concat layer: axis resolution, shape agreement checks and the slice copies.
#include "layers/concat.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/concat_kernels.h"

namespace fcn {

const LayerSchema& ConcatLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Concat", 1, -1, 1, 1, false, false, false, {"concat_param"}, CoordMapRule::kConcat};
  return schema;
}

FCN_REGISTER_LAYER(ConcatLayer)

ConcatLayer::ConcatLayer(const LayerParameter& param) : Layer(param) {
  const ConcatParameter& p = param.concat_param();
  if (p.has_axis() && p.has_concat_dim()) {
    throw ConfigError(StrCat("give concat_param axis or the deprecated concat_dim, not both (axis ",
                             p.axis(), ", concat_dim ", p.concat_dim(), ")"));
  }
  use_concat_dim_ = p.has_concat_dim();
  concat_dim_ = p.concat_dim();
  axis_param_ = p.axis();
}

void ConcatLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& first = *bottom[0];
  if (use_concat_dim_) {
    if (concat_dim_ >= first.num_axes()) {
      throw ConfigError(StrCat("concat_dim ", concat_dim_, " out of range for a ", first.num_axes(),
                               "-D bottom 0 of shape ", first.shape_string()));
    }
    axis_ = static_cast<int>(concat_dim_);
  } else {
    axis_ = first.CanonicalAxisIndex(axis_param_);
  }
  std::vector<std::int64_t> top_shape = first.shape();
  for (std::size_t i = 1; i < bottom.size(); ++i) {
    const Blob& b = *bottom[i];
    bool agree = b.num_axes() == first.num_axes();
    for (int j = 0; agree && j < first.num_axes(); ++j) {
      agree = j == axis_ || b.shape(j) == first.shape(j);
    }
    if (!agree) {
      throw ConfigError(StrCat(
          "Concat bottoms must have the same number of axes and equal sizes "
          "except on axis ",
          axis_, ": bottom 0 is ", first.shape_string(), ", bottom ", i, " is ", b.shape_string()));
    }
    top_shape[static_cast<std::size_t>(axis_)] += b.shape(axis_);
  }
  top[0]->Reshape(top_shape);
  inner_ = first.count(axis_ + 1);
  if (bottom.size() == 1) {
    top[0]->ShareData(first);
    top[0]->ShareDiff(first);
  }
}

void ConcatLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  if (bottom.size() == 1) return;
  float* y = top[0]->mutable_data(ctx);
  const std::int64_t top_axis = top[0]->shape(axis_);
  std::int64_t offset = 0;
  for (const Blob* b : bottom) {
    const kernels::ConcatSlice slice{b->shape(axis_), top_axis, offset, inner_};
    ForEachIndex(ctx, b->count(), kernels::ConcatForward{b->data(ctx), y, slice});
    offset += b->shape(axis_);
  }
}

void ConcatLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                               const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (bottom.size() == 1) return;
  const float* dy = top[0]->diff(ctx);
  const std::int64_t top_axis = top[0]->shape(axis_);
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < bottom.size(); ++k) {
    Blob* b = bottom[k];
    if (propagate_down[k]) {
      const kernels::ConcatSlice slice{b->shape(axis_), top_axis, offset, inner_};
      ForEachIndex(ctx, b->count(), kernels::ConcatBackward{dy, b->mutable_diff(ctx), slice});
    }
    offset += b->shape(axis_);
  }
}

}  // namespace fcn
