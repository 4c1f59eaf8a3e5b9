// SPDX-License-Identifier: BSD-2-Clause
// Input layer: declares the net's input blobs, which the caller fills.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

// Input: no bottoms, >= 1 tops. input_param.shape is given 0 times (the caller shapes every
// top), once (the shape of every top) or once per top. The declared shapes are applied once
// at set-up; Reshape leaves the tops alone, so a caller that reshapes an input blob and then
// the net keeps its shape (as Caffe's InputLayer). Forward and backward do nothing.
class InputLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit InputLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;

 private:
  // One shape per top, or empty when none was declared.
  std::vector<std::vector<std::int64_t>> shapes_;
};

}  // namespace fcn
