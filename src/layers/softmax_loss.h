// SPDX-License-Identifier: BSD-2-Clause
// SoftmaxWithLoss: softmax followed by the multinomial logistic loss, in one layer.
#pragma once

#include <cstdint>

#include "fcn/layer.h"

namespace fcn {

// The scores bottom[0] are seen as outer x C x inner around `softmax_param.axis` (default 1);
// bottom[1] holds one integer label per (outer, inner) position, stored as float, in any
// shape with outer * inner elements (FCN: N x 1 x H x W). With p = softmax(scores) and V the
// positions whose label is not `loss_param.ignore_label`:
//   loss = -(1/Z) * sum_{i in V} log(max(p[i, label_i], FLT_MIN))
// where Z (clamped to >= 1) follows loss_param.normalization: FULL = outer * inner,
// VALID (default) = |V|, BATCH_SIZE = outer, NONE = 1. When `normalization` is absent, the
// legacy `normalize` decides: true = VALID, false = BATCH_SIZE.
// Gradient, with w = top[0]'s diff (the loss weight, 1 by default):
//   d scores[i, c] = (w / Z) * (p[i, c] - [c == label_i]) for i in V, and 0 for ignored i.
// There is no gradient for the labels: asking for one is a ConfigError.
//   bottom[0]: scores        outer x C x inner (e.g. N x C x H x W)
//   bottom[1]: labels        outer * inner values, same first dimension as the scores
//   top[0]:    loss          scalar (0 axes)
//   top[1]:    probabilities same shape as the scores (optional; needs one loss_weight per top)
// A label outside [0, C) that is not the ignore label is bad data rather than bad
// configuration, so it can only be seen at forward time: Forward throws ConfigError naming
// the value and its position instead of reading out of bounds.
// Not in place.
class SoftmaxWithLossLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit SoftmaxWithLossLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }
  std::size_t internal_bytes() const override { return prob_.capacity_bytes(); }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  // Z for the last forward pass, clamped to >= 1.
  float Normalizer() const;
  // Throws ConfigError for a label outside [0, C) that is not the ignore label.
  void CheckLabels(const Blob& label) const;

  int axis_param_ = 1;
  LossParameter::NormalizationMode normalization_ = LossParameter::VALID;
  bool has_ignore_label_ = false;
  int ignore_label_ = 0;

  std::int64_t outer_ = 0;
  std::int64_t channels_ = 0;
  std::int64_t inner_ = 0;
  std::int64_t valid_count_ = 0;  // positions not ignored in the last forward pass
  Blob prob_;                     // softmax of the scores
};

}  // namespace fcn
