// SPDX-License-Identifier: BSD-2-Clause
// ArgMax layer: top_k validation, Caffe's top shapes, and the per-line selection.
#include "layers/argmax.h"

#include <algorithm>

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/argmax_kernels.h"

namespace fcn {

const LayerSchema& ArgMaxLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "ArgMax", 1, 1, 1, 1, false, false, false, {"argmax_param"}, CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(ArgMaxLayer)

ArgMaxLayer::ArgMaxLayer(const LayerParameter& param) : Layer(param) {
  const ArgMaxParameter& p = param.argmax_param();
  out_max_val_ = p.out_max_val();
  top_k_ = p.top_k();
  has_axis_ = p.has_axis();
  axis_param_ = p.axis();
  if (top_k_ < 1) throw ConfigError(StrCat("ArgMax top_k must be at least 1, got ", top_k_));
}

bool ArgMaxLayer::AllowForceBackward(int) const { return false; }

void ArgMaxLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  std::vector<std::int64_t> shape(static_cast<std::size_t>(std::max(x.num_axes(), 3)), 1);
  if (has_axis_) {
    const int axis = x.CanonicalAxisIndex(axis_param_);
    dim_ = x.shape(axis);
    inner_ = x.count(axis + 1);
    if (top_k_ > dim_) {
      throw ConfigError(StrCat("ArgMax top_k ", top_k_, " exceeds the size ", dim_, " of axis ",
                               axis, " of the bottom ", x.shape_string()));
    }
    shape = x.shape();
    shape[static_cast<std::size_t>(axis)] = top_k_;
  } else {
    if (x.num_axes() < 1) {
      throw ConfigError("ArgMax without axis needs a bottom with at least 1 axis, got a scalar");
    }
    dim_ = x.count(1);
    inner_ = 1;
    if (top_k_ > dim_) {
      throw ConfigError(StrCat("ArgMax top_k ", top_k_, " exceeds the ", dim_,
                               " values per image of the bottom ", x.shape_string()));
    }
    shape[0] = x.shape(0);
    shape[1] = out_max_val_ ? 2 : 1;
    shape[2] = top_k_;
  }
  top[0]->Reshape(shape);
}

void ArgMaxLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const std::int64_t lines = dim_ == 0 ? 0 : bottom[0]->count() / dim_;
  ForEachIndex(
      ctx, lines,
      kernels::ArgMaxForward{bottom[0]->cpu_data(), top[0]->mutable_cpu_data(), dim_, inner_,
                             top_k_, out_max_val_ && has_axis_, out_max_val_ && !has_axis_});
}

}  // namespace fcn
