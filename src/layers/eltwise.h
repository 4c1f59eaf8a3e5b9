// SPDX-License-Identifier: BSD-2-Clause
// Eltwise: element-wise SUM (weighted), PROD or MAX of two or more blobs of one shape.
#pragma once

#include <memory>
#include <vector>

#include "fcn/layer.h"
#include "fcn/memory.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

// Over K >= 2 bottoms x_0 .. x_{K-1} of identical shape, element by element:
//   SUM:  y = sum_k c_k x_k  (eltwise_param.coeff: none = all 1, else exactly one per bottom)
//         dx_k = c_k dy
//   PROD: y = prod_k x_k     (coeff is rejected)
//         dx_k = dy * prod_{j != k} x_j   (stable_prod_grad, the default)
//         dx_k = dy * y / x_k             (stable_prod_grad: false; infinite where x_k == 0)
//   MAX:  y = max_k x_k (coeff is ignored). Bottom 0 beats bottom 1 only when strictly
//         greater (a tie goes to bottom 1); each later bottom takes over only when strictly
//         greater. The winner of every element is recorded.
//         dx_k = dy where bottom k won, else 0.
//   bottom[k]: any shape, the same for all k
//   top[0]:    that shape
// Not in place: the gradients read the bottoms' data and the top.
class EltwiseLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit EltwiseLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// The winner buffer of MAX.
  std::size_t internal_bytes() const override { return winner_ ? winner_->size() : 0; }
  /// SUM scales the top gradient and MAX routes it through the winners it kept; PROD reads
  /// the data.
  bool BackwardReadsTopData(int) const override { return op_ == EltwiseParameter::PROD; }
  bool BackwardReadsBottomData(int) const override { return op_ == EltwiseParameter::PROD; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  EltwiseParameter::EltwiseOp op_ = EltwiseParameter::SUM;
  std::vector<float> coeffs_;  // one per bottom (SUM), all 1 unless given
  bool stable_prod_grad_ = true;
  std::unique_ptr<SyncedMemory> winner_;  // MAX: index of the winning bottom, as int
};

}  // namespace fcn
