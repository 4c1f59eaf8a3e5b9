// SPDX-License-Identifier: BSD-2-Clause
// DummyData layer: tops of declared shapes filled by fillers (for tests and benchmarks).
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

// DummyData: no bottoms, >= 1 tops. dummy_data_param declares
//   - the shapes: `shape` once (every top) or once per top, or the legacy 4-D fields
//     num/channels/height/width, each once or once per top (never both forms);
//   - the fillers: data_filler 0 times (constant 0), once (every top) or once per top.
// A top with a "constant" filler is filled once at set-up; every other top is refilled from
// the global RNG on each forward pass, top 0 first. Reshape keeps the set-up shapes (Caffe).
// No backward.
class DummyDataLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit DummyDataLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;

 private:
  std::vector<std::vector<std::int64_t>> shapes_;  // one per top
  std::vector<FillerParameter> fillers_;           // one per top
  std::vector<bool> refill_;                       // one per top: false for constant fillers
};

}  // namespace fcn
