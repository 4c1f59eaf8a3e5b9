// SPDX-License-Identifier: BSD-2-Clause
// Crop: cuts the window of bottom[0] that has bottom[1]'s extent, starting at an offset.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"
#include "layers/crop_kernels.h"

namespace fcn {

// With a = crop_param.axis (default 2; negative counts from the end) and one offset per axis
// >= a (crop_param.offset: none = 0 everywhere, one value = the same on every cropped axis,
// or exactly one per cropped axis):
//   top[..., i_a, ..., i_last] = bottom0[..., i_a + offset_a, ..., i_last + offset_last]
// The crop starts at the offset from the top-left corner; it is not centred. FCN uses it to
// remove the border that its pad-100 input adds (e.g. 568 -> 500 at offset 31 in FCN-8s);
// the offsets come from the coordinate maps of the layers in between.
// Gradient: bottom0 diff is zeroed, then top diff is copied back at the offset. No gradient
// is ever written to bottom[1], whose diff stays as it was.
//   bottom[0]: data       D_0 x ... x D_last
//   bottom[1]: reference  same number of axes; only its sizes on the axes >= a are read
//   top[0]:    bottom0's sizes on the axes < a, bottom1's sizes on the axes >= a
// A window that does not fit (offset + bottom1 size > bottom0 size) is a ConfigError.
// Not in place.
class CropLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit CropLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }
  /// Backward copies the top gradient into place: it reads no data.
  bool BackwardReadsTopData(int) const override { return false; }
  bool BackwardReadsBottomData(int) const override { return false; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  /// The top's last extent: the length of the rows the CPU copies (0 without axes).
  std::int64_t RowWidth() const;
  /// Forward (from the bottom to the top) or, to_bottom, backward (the top diff into the bottom
  /// diff): the window's elements, in the device's form.
  void Copy(const ExecContext& ctx, std::int64_t top_count, const float* from, float* to,
            bool to_bottom) const;

  int axis_param_ = 2;                 // as written; made canonical in Reshape
  std::vector<std::int64_t> offsets_;  // as written: empty, one, or one per cropped axis
  kernels::CropIndexMap map_{};        // top index -> bottom[0] index, set in Reshape
};

}  // namespace fcn
