// SPDX-License-Identifier: BSD-2-Clause
// ReLU layer: set-up, shapes, and the forward/backward launches of relu_kernels.h.
#include "layers/relu.h"

#include <cmath>

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/relu_kernels.h"

namespace fcn {

const LayerSchema& ReLULayer::Schema() {
  static const LayerSchema schema{"ReLU",
                                  1,
                                  1,
                                  1,
                                  1,
                                  /*in_place=*/true,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"relu_param"},
                                  CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(ReLULayer)

ReLULayer::ReLULayer(const LayerParameter& param)
    : Layer(param), negative_slope_(param.relu_param().negative_slope()) {
  if (!std::isfinite(negative_slope_)) {
    throw ConfigError(StrCat("relu_param.negative_slope must be finite, got ", negative_slope_));
  }
}

void ReLULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0] && negative_slope_ < 0.0f) {
    throw ConfigError(StrCat("ReLU with negative_slope ", negative_slope_,
                             " cannot run in place: the backward pass needs the input's sign, "
                             "which the output does not keep; give the layer its own top"));
  }
}

void ReLULayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] != bottom[0]) top[0]->ReshapeLike(*bottom[0]);
}

namespace {

// The host layout a buffer is in when it is one an element-wise pass can run in (exactly the
// blob's elements, as the layouts of oneDNN's convolutions are), else plain order (null).
HostLayoutPtr ElementwiseLayout(const Blob& blob, const SyncedMemory& memory) {
  const HostLayoutPtr& layout = memory.host_layout();
  const auto bytes = static_cast<std::size_t>(blob.count()) * sizeof(float);
  return layout && layout->bytes() == bytes ? layout : nullptr;
}

}  // namespace

// On the host, ReLU runs in the layout its input is in: between two oneDNN convolutions the
// activations stay in oneDNN's blocked layout (an element-wise pass gives the same values in
// any layout its operands share), so neither convolution reorders them.
void ReLULayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  if (ctx.device() != Device::kCpu) {
    ForEachIndex(
        ctx, bottom[0]->count(),
        kernels::ReluForward{bottom[0]->data(ctx), top[0]->mutable_data(ctx), negative_slope_});
    return;
  }
  SyncedMemory& in = bottom[0]->data_memory();
  const HostLayoutPtr layout = ElementwiseLayout(*bottom[0], in);
  float* out = static_cast<float*>(
      top[0]->data_memory().mutable_host_data_in(layout, /*overwrite=*/top[0] != bottom[0]));
  const auto* x = top[0] == bottom[0] ? out : static_cast<const float*>(in.host_data_in(layout));
  ForEachIndex(ctx, bottom[0]->count(), kernels::ReluForward{x, out, negative_slope_});
}

void ReLULayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                             const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  if (ctx.device() != Device::kCpu) {
    ForEachIndex(ctx, bottom[0]->count(),
                 kernels::ReluBackward{top[0]->diff(ctx), bottom[0]->data(ctx),
                                       bottom[0]->mutable_diff(ctx), negative_slope_});
    return;
  }
  // The top diff's layout (the next convolution's), else the data's.
  SyncedMemory& top_diff = top[0]->diff_memory();
  SyncedMemory& data = bottom[0]->data_memory();
  HostLayoutPtr layout = ElementwiseLayout(*top[0], top_diff);
  if (!layout) layout = ElementwiseLayout(*bottom[0], data);
  const auto* x = static_cast<const float*>(data.host_data_in(layout));
  const bool in_place = top[0] == bottom[0];
  float* bottom_diff = static_cast<float*>(
      bottom[0]->diff_memory().mutable_host_data_in(layout, /*overwrite=*/!in_place));
  const auto* dy =
      in_place ? bottom_diff : static_cast<const float*>(top_diff.host_data_in(layout));
  ForEachIndex(ctx, bottom[0]->count(), kernels::ReluBackward{dy, x, bottom_diff, negative_slope_});
}

}  // namespace fcn
