// SPDX-License-Identifier: BSD-2-Clause
// Silence layer: no output; zero gradients for its bottoms.
#include "layers/silence.h"

#include "fcn/layer_registry.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& SilenceLayer::Schema() {
  static const LayerSchema schema{"Silence",
                                  1,
                                  -1,
                                  0,
                                  0,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {},
                                  CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(SilenceLayer)

void SilenceLayer::Reshape(const BlobVec&, const BlobVec&) {}

void SilenceLayer::ForwardImpl(const ExecContext&, const BlobVec&, const BlobVec&) {}

void SilenceLayer::BackwardImpl(const ExecContext& ctx, const BlobVec&,
                                const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    if (propagate_down[i]) math::Set(ctx, bottom[i]->count(), 0.0f, bottom[i]->mutable_diff(ctx));
  }
}

}  // namespace fcn
