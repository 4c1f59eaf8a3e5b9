// SPDX-License-Identifier: BSD-2-Clause
// Crop layer: offset broadcasting, bounds checks, and the index-map functors.
#include "layers/crop.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& CropLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Crop", 2, 2, 1, 1, false, false, false, {"crop_param"}, CoordMapRule::kCrop};
  return schema;
}

FCN_REGISTER_LAYER(CropLayer)

CropLayer::CropLayer(const LayerParameter& param)
    : Layer(param),
      axis_param_(param.crop_param().axis()),
      offsets_(param.crop_param().offset().begin(), param.crop_param().offset().end()) {}

void CropLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& data = *bottom[0];
  const Blob& reference = *bottom[1];
  const int num_axes = data.num_axes();
  if (reference.num_axes() != num_axes) {
    throw ConfigError(StrCat("Crop bottoms must have the same number of axes: data ",
                             data.shape_string(), ", reference ", reference.shape_string()));
  }
  if (num_axes > kernels::kCropMaxAxes) {
    throw ConfigError(StrCat("Crop supports at most ", kernels::kCropMaxAxes, " axes, got ",
                             num_axes, " (shape ", data.shape_string(), ")"));
  }
  const int axis = data.CanonicalAxisIndex(axis_param_);
  const auto num_offsets = static_cast<int>(offsets_.size());
  if (num_offsets > 1 && num_offsets != num_axes - axis) {
    throw ConfigError(StrCat("crop_param has ", num_offsets,
                             " offsets; give none, one, or one per cropped axis (", num_axes - axis,
                             " for axis ", axis, " of shape ", data.shape_string(), ")"));
  }

  std::vector<std::int64_t> top_shape = data.shape();
  map_.num_axes = num_axes;
  for (int i = 0; i < num_axes; ++i) {
    std::int64_t offset = 0;
    if (i >= axis) {
      if (num_offsets == 1) offset = offsets_[0];
      if (num_offsets > 1) offset = offsets_[static_cast<std::size_t>(i - axis)];
      const std::int64_t size = reference.shape(i);
      if (offset + size > data.shape(i)) {
        throw ConfigError(StrCat("crop on axis ", i, " is out of bounds: offset ", offset,
                                 " + size ", size, " > input ", data.shape(i)));
      }
      top_shape[static_cast<std::size_t>(i)] = size;
    }
    map_.top_shape[i] = top_shape[static_cast<std::size_t>(i)];
    map_.bottom_stride[i] = data.count(i + 1);
    map_.offset[i] = offset;
  }
  top[0]->Reshape(top_shape);
}

std::int64_t CropLayer::RowWidth() const {
  return map_.num_axes > 0 ? map_.top_shape[map_.num_axes - 1] : 0;
}

// A GPU copies element by element (neighbouring threads, neighbouring elements); the CPU row by
// row (kernels::CropRows). Both move the same floats.
void CropLayer::Copy(const ExecContext& ctx, std::int64_t top_count, const float* from, float* to,
                     bool to_bottom) const {
  const std::int64_t width = RowWidth();
  if (ctx.device() == Device::kCpu && width > 0) {
    ForEachIndex(ctx, top_count / width, kernels::CropRows{map_, from, to, to_bottom}, width);
  } else if (to_bottom) {
    ForEachIndex(ctx, top_count, kernels::CropBackward{map_, from, to});
  } else {
    ForEachIndex(ctx, top_count, kernels::CropForward{map_, from, to});
  }
}

void CropLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  Copy(ctx, top[0]->count(), bottom[0]->data(ctx), top[0]->mutable_data(ctx),
       /*to_bottom=*/false);
}

void CropLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                             const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  float* bottom_diff = bottom[0]->mutable_diff(ctx);
  math::Set(ctx, bottom[0]->count(), 0.0f, bottom_diff);
  Copy(ctx, top[0]->count(), top[0]->diff(ctx), bottom_diff, /*to_bottom=*/true);
}

}  // namespace fcn
