// SPDX-License-Identifier: BSD-2-Clause
// Scale: multiplies bottom[0] by a learned (or second-bottom) blob, broadcast along the other
// axes, optionally followed by a learned bias.
#pragma once

#include <vector>

#include "fcn/layer.h"
#include "layers/bias.h"

namespace fcn {

// scale_param { axis (default 1), num_axes (default 1; -1: all remaining; 0: scalar),
//               filler (default constant 1), bias_term (default false),
//               bias_filler (default constant 0) }
//   bottom[0]: x, any shape, viewed as outer x dim x inner (see BroadcastDims)
//   bottom[1]: optional, the scale s itself; otherwise blobs[0] is s of shape
//              x.shape[axis : axis + num_axes], filled from `filler`
//   top[0]:    y, the shape of x
// Parameter blobs: [s] (one bottom only), then [b] when bias_term, always last, of shape
// x.shape[axis : axis + num_axes] (with two bottoms: axis + bottom[1]'s number of axes).
// Forward:  y[o, d, i] = x[o, d, i] * s[d] (+ b[d])
// Backward: dx = dy * s[d]; ds[d] = sum_{o,i} dy * x (accumulated into a parameter blob,
//           written to bottom[1]'s diff); db[d] += sum_{o,i} dy.
// In place: safe; the forward first saves x to an internal buffer for ds.
class ScaleLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit ScaleLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// The saved input of an in-place layer.
  std::size_t internal_bytes() const override { return saved_bottom_.capacity_bytes(); }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  int axis_param_ = 1;
  int num_axes_ = 1;
  bool bias_term_ = false;
  BroadcastDims scale_dims_;
  BroadcastDims bias_dims_;
  Blob saved_bottom_;  // x, when computed in place
};

}  // namespace fcn
