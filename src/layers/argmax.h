// SPDX-License-Identifier: BSD-2-Clause
// ArgMax: the top_k largest values (or their indices) along one axis or per image.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

// Values are ranked as (value, index) pairs in descending order, so equal values are ordered
// by DESCENDING index (Caffe's partial_sort with std::greater): with all scores equal the
// first result is the highest index. Indices are written as floats.
//   With argmax_param.axis = a (negative counts from the end): for every position of the
//   other axes, the top_k best entries along a:
//     top(.., j, ..) = index of the j-th best (or its value when out_max_val)
//     top shape: the bottom's shape with axis a replaced by top_k
//   Without axis: per image i over its flattened d_1 * ... * d_{n-1} values:
//     top(i, 0, j) = index of the j-th best; with out_max_val also top(i, 1, j) = its value
//     top shape: max(n, 3) axes, all 1 except (N, 1 or 2 with out_max_val, top_k)
// 1 <= top_k <= the size of the ranked axis (or of the flattened image).
// No gradient: AllowForceBackward is false and Backward throws if asked.
//   bottom[0]: any shape with >= 1 axis
//   top[0]:    as above
// Not in place.
class ArgMaxLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit ArgMaxLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  bool AllowForceBackward(int bottom_index) const override;

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;

 private:
  bool out_max_val_ = false;
  std::int64_t top_k_ = 1;
  bool has_axis_ = false;
  int axis_param_ = 0;

  std::int64_t dim_ = 0;    // length of the ranked axis (or of the flattened image)
  std::int64_t inner_ = 1;  // stride of the ranked axis (1 without axis)
};

}  // namespace fcn
