// SPDX-License-Identifier: BSD-2-Clause
// ReLU layer: the rectified linear unit, optionally leaky.
#pragma once

#include "fcn/layer.h"

namespace fcn {

// ReLU with slope ν = relu_param.negative_slope (default 0):
//   forward:  y = x if x > 0, else ν·x
//   backward: dx = dy if x > 0, else ν·dy (the slope at x = 0 is ν, as in Caffe)
// Shapes: bottom[0] any shape; top[0] has the same shape.
// In place (top[0] == bottom[0], as FCN writes every ReLU) is safe for ν >= 0: the backward
// pass then reads the output, which has the input's sign. A negative ν flips the sign, so an
// in-place ReLU with ν < 0 is rejected with a ConfigError.
class ReLULayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit ReLULayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// Backward reads the bottom (which is the top when in place).
  bool BackwardReadsTopData(int) const override { return false; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  float negative_slope_ = 0.0f;
};

}  // namespace fcn
