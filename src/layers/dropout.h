// SPDX-License-Identifier: BSD-2-Clause
// Dropout layer: zeroes random units while training and rescales the rest.
#pragma once

#include <cstddef>

#include "fcn/layer.h"

namespace fcn {

// Dropout with ratio r = dropout_param.dropout_ratio (default 0.5, must lie in [0, 1)) and
// scale s = 1 / (1 - r).
//   TRAIN: a fresh mask m ~ Bernoulli(1 - r) per element on every forward pass, drawn from
//          the global RNG;  forward y = x·m·s,  backward dx = dy·m·s.
//   TEST:  identity forward and backward.
// The phase is the layer's (LayerParameter.phase).
// Shapes: bottom[0] any shape; top[0] has the same shape.
// In place (FCN's drop6/drop7) is safe: the mask is kept separately and neither pass reads
// the original input after writing the output.
class DropoutLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit DropoutLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }
  /// Backward applies the mask it kept: it reads no data.
  bool BackwardReadsTopData(int) const override { return false; }
  bool BackwardReadsBottomData(int) const override { return false; }
  /// The mask (TRAIN only).
  std::size_t internal_bytes() const override { return mask_.capacity_bytes(); }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  float ratio_ = 0.5f;
  float scale_ = 2.0f;
  // 1 where the unit is kept, 0 where it is dropped (data half only).
  Blob mask_;
};

}  // namespace fcn
