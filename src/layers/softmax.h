// SPDX-License-Identifier: BSD-2-Clause
// Softmax: normalised exponentials over one axis.
#pragma once

#include <cstdint>

#include "fcn/layer.h"

namespace fcn {

// Softmax over `softmax_param.axis` (default 1, the channel axis; negative counts from the
// end). The bottom is seen as outer x C x inner, and at every (outer, inner) position
//   y_c = exp(x_c - max_c' x_c') / sum_c'' exp(x_c'' - max_c' x_c')
// (the maximum is subtracted so that large scores do not overflow).
// Gradient: dx_c = y_c * (dy_c - sum_c' dy_c' * y_c').
//   bottom[0]: any shape with the softmax axis
//   top[0]:    same shape as bottom[0]
// In place (top[0] == bottom[0]) is safe: each position is computed from its own values only.
class SoftmaxLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit SoftmaxLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  int axis_param_ = 1;  // as written; made canonical against the bottom in Reshape
  std::int64_t outer_ = 0;
  std::int64_t channels_ = 0;
  std::int64_t inner_ = 0;
};

}  // namespace fcn
