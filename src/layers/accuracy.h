// SPDX-License-Identifier: BSD-2-Clause
// Accuracy: the fraction of positions whose label is among the top_k scores.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

// Scores x of shape outer x C x inner (C on accuracy_param.axis, default 1) and one label per
// position (outer * inner labels, truncated to int). A position whose label equals
// ignore_label is skipped; every other position is valid. A valid position with label l is
// correct when fewer than top_k OTHER classes c != l have x(c) >= x(l): a tie with the true
// class counts against it.
//   top[0] = correct / valid (0 when nothing is valid)
//   top[1] = per class l: correct / valid among positions labelled l (0 when none)
// No gradient: AllowForceBackward is false for both bottoms and Backward throws if asked. Not a
// loss (loss weight 0 unless set).
//   bottom[0]: scores, d_0 x ... x C x ... x d_{n-1}
//   bottom[1]: labels, outer * inner values in [0, C) or ignore_label (any shape)
//   top[0]:    scalar (shape ())
//   top[1]:    C (optional)
// Not in place.
class AccuracyLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit AccuracyLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  bool AllowForceBackward(int bottom_index) const override;

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;

 private:
  void CheckLabels(const Blob& label) const;

  std::int64_t top_k_ = 1;
  int axis_param_ = 1;
  bool has_ignore_label_ = false;
  int ignore_label_ = 0;

  std::int64_t outer_ = 0;
  std::int64_t channels_ = 0;
  std::int64_t inner_ = 0;
};

}  // namespace fcn
