// SPDX-License-Identifier: BSD-2-Clause
// Bias: adds a learned (or second-bottom) blob to bottom[0], broadcast along the other axes.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

// How a Scale or Bias operand b lands on bottom[0]: b's shape must equal
// bottom[0].shape[axis : axis + b.num_axes], and bottom[0] is viewed as outer x dim x inner
// with dim = b.count(). A scalar b (no axes) uses axis 0, whatever the parameter says.
struct BroadcastDims {
  std::int64_t outer = 0;
  std::int64_t dim = 0;
  std::int64_t inner = 0;
};

/// Checks `operand` (named `what` in messages, e.g. "scale") against bottom from axis_param
/// and returns the view. Throws ConfigError naming both shapes on a mismatch.
BroadcastDims BroadcastOver(const Blob& bottom, const Blob& operand, int axis_param,
                            const char* what);
/// bottom.shape[axis : axis + num_axes] (num_axes -1: through the last axis), the shape of a
/// learned operand; num_axes >= -1 (the constructors check it). Throws ConfigError when the
/// range passes the last axis of bottom.
std::vector<std::int64_t> OperandShape(const Blob& bottom, int axis_param, int num_axes,
                                       const char* what);

// bias_param { axis (default 1), num_axes (default 1; -1: all remaining; 0: scalar),
//              filler (default constant 0) }
//   bottom[0]: x, any shape, viewed as outer x dim x inner (see BroadcastDims)
//   bottom[1]: optional, the bias b itself (no parameter blob); otherwise blobs[0] is b of
//              shape x.shape[axis : axis + num_axes], filled from `filler`
//   top[0]:    y, the shape of x
// Forward:  y[o, d, i] = x[o, d, i] + b[d]
// Backward: dx = dy; db[d] = sum_{o,i} dy[o, d, i] (accumulated into a parameter blob,
//           written to bottom[1]'s diff).
// In place: safe (the gradient does not read x).
class BiasLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit BiasLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  int axis_param_ = 1;
  int num_axes_ = 1;
  BroadcastDims dims_;
};

}  // namespace fcn
