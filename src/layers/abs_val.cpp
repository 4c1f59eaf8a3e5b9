// SPDX-License-Identifier: BSD-2-Clause
// AbsVal layer (Caffe's): y = |x|, dx = sign(x) * dy with sign(0) = 0.
//   bottom[0]: any shape; top[0]: the same shape.
// Not in place, as in Caffe: the backward pass needs the input's sign, which |x| loses.
// The class is reached only through the registry, so it has no header.
#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/abs_val_kernels.h"

namespace fcn {

class AbsValLayer final : public Layer {
 public:
  static const LayerSchema& Schema() {
    static const LayerSchema schema{"AbsVal",
                                    /*min_bottoms=*/1,
                                    /*max_bottoms=*/1,
                                    /*min_tops=*/1,
                                    /*max_tops=*/1,
                                    /*in_place=*/false,
                                    /*auto_top=*/false,
                                    /*loss=*/false,
                                    /*params=*/{},      CoordMapRule::kIdentity};
    return schema;
  }
  explicit AbsValLayer(const LayerParameter& param) : Layer(param) {}

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override {
    if (top[0] == bottom[0]) {
      throw ConfigError(
          "AbsVal cannot compute in place: the backward pass needs the input's sign; give the "
          "top another name");
    }
  }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    top[0]->ReshapeLike(*bottom[0]);
  }
  bool RunsOn(Device) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override {
    ForEachIndex(ctx, bottom[0]->count(),
                 kernels::AbsValForward{bottom[0]->data(ctx), top[0]->mutable_data(ctx)});
  }
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override {
    if (!propagate_down[0]) return;
    ForEachIndex(ctx, bottom[0]->count(),
                 kernels::AbsValBackward{top[0]->diff(ctx), bottom[0]->data(ctx),
                                         bottom[0]->mutable_diff(ctx)});
  }
};

FCN_REGISTER_LAYER(AbsValLayer)

}  // namespace fcn
