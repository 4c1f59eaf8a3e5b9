// SPDX-License-Identifier: BSD-2-Clause
// Silence layer: consumes blobs that would otherwise be net outputs.
#pragma once

#include "fcn/layer.h"

namespace fcn {

// Silence: any number (>= 1) of bottoms of any shapes, no tops.
//   forward:  nothing
//   backward: bottom_i.diff = 0 where propagate_down[i]
// No tops, so in place does not arise.
class SilenceLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit SilenceLayer(const LayerParameter& param) : Layer(param) {}

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;
};

}  // namespace fcn
