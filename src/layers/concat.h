// SPDX-License-Identifier: BSD-2-Clause
// Concat: joins blobs along one axis.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

// Over K >= 1 bottoms x_0 .. x_{K-1} that agree in every axis but the concatenation axis a
// (concat_param.axis, default 1, negative counts from the end; or the deprecated concat_dim,
// never both):
//   y = [x_0, x_1, ..., x_{K-1}] along axis a; x_k occupies y's slice
//       [o_k, o_k + x_k.shape(a)) with o_k = sum_{j < k} x_j.shape(a).
//   dx_k = dy restricted to that slice (copied where propagate_down[k]).
// With a single bottom the top shares the bottom's data and diff (nothing is copied).
//   bottom[k]: d_0 x ... x d_a(k) x ... x d_{n-1} (same n and same d_j, j != a, for all k)
//   top[0]:    d_0 x ... x (sum_k d_a(k)) x ... x d_{n-1}
// Not in place (the top differs in shape from every bottom but a single one).
class ConcatLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit ConcatLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  bool use_concat_dim_ = false;
  int axis_param_ = 1;           // concat_param.axis
  std::int64_t concat_dim_ = 1;  // concat_param.concat_dim, when use_concat_dim_

  int axis_ = 1;            // canonical concatenation axis of the current bottoms
  std::int64_t inner_ = 0;  // product of the dimensions after the axis
};

}  // namespace fcn
