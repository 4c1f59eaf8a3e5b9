// SPDX-License-Identifier: BSD-2-Clause
// Eltwise layer: validation and the sequence of element-wise functor launches.
#include "layers/eltwise.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/eltwise_kernels.h"

namespace fcn {

const LayerSchema& EltwiseLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Eltwise", 2, -1, 1, 1, false, false, false, {"eltwise_param"}, CoordMapRule::kIdentity};
  return schema;
}

FCN_REGISTER_LAYER(EltwiseLayer)

EltwiseLayer::EltwiseLayer(const LayerParameter& param) : Layer(param) {
  const EltwiseParameter& p = param.eltwise_param();
  op_ = p.operation();
  stable_prod_grad_ = p.stable_prod_grad();
  if (op_ == EltwiseParameter::PROD && p.coeff_size() > 0) {
    throw ConfigError("Eltwise coeff applies only to SUM, not PROD");
  }
}

void EltwiseLayer::LayerSetUp(const BlobVec& bottom, const BlobVec&) {
  const EltwiseParameter& p = layer_param_.eltwise_param();
  if (p.coeff_size() > 0 && static_cast<std::size_t>(p.coeff_size()) != bottom.size()) {
    throw ConfigError(StrCat("Eltwise takes one coeff per bottom: ", p.coeff_size(), " coeff for ",
                             bottom.size(), " bottoms"));
  }
  coeffs_.assign(bottom.size(), 1.0f);
  for (int i = 0; i < p.coeff_size(); ++i) coeffs_[static_cast<std::size_t>(i)] = p.coeff(i);
}

void EltwiseLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  for (std::size_t i = 1; i < bottom.size(); ++i) {
    if (bottom[i]->shape() != bottom[0]->shape()) {
      throw ConfigError(StrCat("Eltwise bottoms must have identical shapes: bottom 0 is ",
                               bottom[0]->shape_string(), ", bottom ", i, " is ",
                               bottom[i]->shape_string()));
    }
  }
  top[0]->ReshapeLike(*bottom[0]);
  if (op_ == EltwiseParameter::MAX) {
    const auto bytes = static_cast<std::size_t>(top[0]->count()) * sizeof(int);
    if (!winner_ || winner_->size() < bytes) winner_ = std::make_unique<SyncedMemory>(bytes);
  }
}

void EltwiseLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  const std::int64_t n = top[0]->count();
  float* y = top[0]->mutable_data(ctx);
  switch (op_) {
    case EltwiseParameter::SUM:
      ForEachIndex(ctx, n, kernels::EltwiseScale{bottom[0]->data(ctx), coeffs_[0], y});
      for (std::size_t k = 1; k < bottom.size(); ++k) {
        ForEachIndex(ctx, n, kernels::EltwiseAxpy{bottom[k]->data(ctx), coeffs_[k], y});
      }
      break;
    case EltwiseParameter::PROD:
      ForEachIndex(ctx, n, kernels::EltwiseMul{bottom[0]->data(ctx), bottom[1]->data(ctx), y});
      for (std::size_t k = 2; k < bottom.size(); ++k) {
        ForEachIndex(ctx, n, kernels::EltwiseMul{y, bottom[k]->data(ctx), y});
      }
      break;
    case EltwiseParameter::MAX: {
      auto* winner = static_cast<int*>(winner_->mutable_data(ctx));
      ForEachIndex(
          ctx, n,
          kernels::EltwiseMaxFirstPair{bottom[0]->data(ctx), bottom[1]->data(ctx), y, winner});
      for (std::size_t k = 2; k < bottom.size(); ++k) {
        ForEachIndex(
            ctx, n,
            kernels::EltwiseMaxUpdate{bottom[k]->data(ctx), static_cast<int>(k), y, winner});
      }
      break;
    }
  }
}

void EltwiseLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  const std::int64_t n = top[0]->count();
  const float* dy = top[0]->diff(ctx);
  for (std::size_t k = 0; k < bottom.size(); ++k) {
    if (!propagate_down[k]) continue;
    float* dx = bottom[k]->mutable_diff(ctx);
    switch (op_) {
      case EltwiseParameter::SUM:
        ForEachIndex(ctx, n, kernels::EltwiseScale{dy, coeffs_[k], dx});
        break;
      case EltwiseParameter::PROD:
        if (stable_prod_grad_) {
          // The other factors in bottom order, then dy (Caffe's order of rounding).
          bool first = true;
          for (std::size_t j = 0; j < bottom.size(); ++j) {
            if (j == k) continue;
            if (first) {
              ForEachIndex(ctx, n, kernels::EltwiseScale{bottom[j]->data(ctx), 1.0f, dx});
              first = false;
            } else {
              ForEachIndex(ctx, n, kernels::EltwiseMul{dx, bottom[j]->data(ctx), dx});
            }
          }
          ForEachIndex(ctx, n, kernels::EltwiseMul{dx, dy, dx});
        } else {
          ForEachIndex(
              ctx, n,
              kernels::EltwiseProdGradByDivision{dy, top[0]->data(ctx), bottom[k]->data(ctx), dx});
        }
        break;
      case EltwiseParameter::MAX:
        ForEachIndex(ctx, n,
                     kernels::EltwiseMaxGrad{dy, static_cast<const int*>(winner_->data(ctx)),
                                             static_cast<int>(k), dx});
        break;
    }
  }
}

}  // namespace fcn
