// SPDX-License-Identifier: BSD-2-Clause
// Split layer: data sharing and the summed backward pass.
#include "layers/split.h"

#include "fcn/layer_registry.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& SplitLayer::Schema() {
  static const LayerSchema schema{"Split",
                                  1,
                                  1,
                                  1,
                                  -1,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {},
                                  CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(SplitLayer)

void SplitLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  for (std::size_t k = 0; k < top.size(); ++k) {
    if (top[k] == bottom[0]) {
      throw ConfigError(StrCat("Split cannot run in place: top ", k, " is its bottom"));
    }
  }
}

void SplitLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  for (Blob* t : top) {
    t->ReshapeLike(*bottom[0]);
    t->ShareData(*bottom[0]);
  }
}

void SplitLayer::ForwardImpl(const ExecContext&, const BlobVec&, const BlobVec&) {}

void SplitLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                              const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const std::int64_t count = bottom[0]->count();
  float* bottom_diff = bottom[0]->mutable_diff(ctx);
  math::Copy(ctx, count, top[0]->diff(ctx), bottom_diff);
  for (std::size_t k = 1; k < top.size(); ++k) {
    math::Axpy(ctx, count, 1.0f, top[k]->diff(ctx), bottom_diff);
  }
}

}  // namespace fcn
