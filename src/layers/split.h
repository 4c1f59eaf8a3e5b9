// SPDX-License-Identifier: BSD-2-Clause
// Split layer: hands one blob to several consumers (the Net inserts it automatically).
#pragma once

#include "fcn/layer.h"

namespace fcn {

// Split: every top shares the bottom's data buffer (no copy); each top keeps its own diff.
//   forward:  nothing to compute (top_k.data is bottom.data)
//   backward: bottom.diff = Σ_k top_k.diff (a copy when there is one top)
// Shapes: bottom[0] any shape; every top has the same shape.
// In place is not allowed: a top that is the bottom would lose the sum of the other diffs.
class SplitLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit SplitLayer(const LayerParameter& param) : Layer(param) {}

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// Backward sums the top gradients: it reads no data.
  bool BackwardReadsTopData(int) const override { return false; }
  bool BackwardReadsBottomData(int) const override { return false; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;
};

}  // namespace fcn
