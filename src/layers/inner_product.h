// SPDX-License-Identifier: BSD-2-Clause
// InnerProduct: a fully connected layer, Y = X W^T + b over the flattened trailing axes.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

// inner_product_param { num_output > 0 (N), bias_term (default true), weight_filler and
//                       bias_filler (default constant 0), axis (default 1), transpose }
//   bottom[0]: X, viewed as M x K with M = product of the axes before `axis` and K = product
//              of the axes from `axis` on (row-major, so C x H x W flattens as (c, h, w))
//   top[0]:    Y, bottom.shape[:axis] + [N]
// Parameter blobs: W of shape N x K (K x N when transpose), then b of shape N when bias_term.
// Weights given with the layer parameter are kept (their shapes are checked).
// Forward:  Y = X W^T + 1 b^T            (transpose: Y = X W)
// Backward: dW += dY^T X (transpose: dW += X^T dY); db += column sums of dY;
//           dX = dY W (transpose: dX = dY W^T).
// K is fixed at set-up; a later bottom must flatten to the same K.
// Not in place: the top has another shape and the backward reads X.
class InnerProductLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit InnerProductLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// The ones vector of the bias GEMM.
  std::size_t internal_bytes() const override { return bias_multiplier_.capacity_bytes(); }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  int num_output_ = 0;  // N
  bool bias_term_ = true;
  bool transpose_ = false;
  int axis_param_ = 1;
  int axis_ = 1;
  int k_ = 0;             // inputs per row, fixed at set-up
  int m_ = 0;             // rows of the current bottom
  Blob bias_multiplier_;  // m_ ones
};

}  // namespace fcn
