// SPDX-License-Identifier: BSD-2-Clause
// InnerProduct layer: parameters, shapes and the three GEMMs.
#include "layers/inner_product.h"

#include <climits>
#include <memory>

#include "fcn/filler.h"
#include "fcn/layer_registry.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& InnerProductLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "InnerProduct",     1, 1, 1, 1, false, false, false, {"inner_product_param"},
      CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(InnerProductLayer)

InnerProductLayer::InnerProductLayer(const LayerParameter& param) : Layer(param) {
  const InnerProductParameter& p = param.inner_product_param();
  if (p.num_output() == 0) {
    throw ConfigError("inner_product_param.num_output must be > 0 (it is 0 or missing)");
  }
  if (p.num_output() > static_cast<std::uint32_t>(INT_MAX)) {
    throw ConfigError(StrCat("inner_product_param.num_output ", p.num_output(), " is too large"));
  }
  num_output_ = static_cast<int>(p.num_output());
  bias_term_ = p.bias_term();
  transpose_ = p.transpose();
  axis_param_ = p.axis();
  if (p.has_weight_filler()) ValidateFiller(p.weight_filler());
  if (p.has_bias_filler()) ValidateFiller(p.bias_filler());
}

void InnerProductLayer::LayerSetUp(const BlobVec& bottom, const BlobVec&) {
  axis_ = bottom[0]->CanonicalAxisIndex(axis_param_);
  const std::int64_t k = bottom[0]->count(axis_);
  if (k > INT_MAX) {
    throw ConfigError(StrCat("inner product input size ", k, " (bottom ", bottom[0]->shape_string(),
                             " from axis ", axis_, ") is too large"));
  }
  k_ = static_cast<int>(k);

  const std::vector<std::int64_t> weight_shape = transpose_
                                                     ? std::vector<std::int64_t>{k_, num_output_}
                                                     : std::vector<std::int64_t>{num_output_, k_};
  const std::vector<std::int64_t> bias_shape = {num_output_};
  const InnerProductParameter& p = layer_param_.inner_product_param();
  if (blobs_.empty()) {
    blobs_.push_back(std::make_shared<Blob>(weight_shape));
    FillBlob(p.weight_filler(), blobs_[0].get(), rng());
    if (bias_term_) {
      blobs_.push_back(std::make_shared<Blob>(bias_shape));
      FillBlob(p.bias_filler(), blobs_[1].get(), rng());
    }
  } else {
    // Weights came with the parameter: keep them, but they must fit.
    const std::size_t expected = bias_term_ ? 2 : 1;
    if (blobs_.size() != expected) {
      throw ConfigError(
          StrCat("expected ", expected, " parameter blob(s) (weights", bias_term_ ? ", bias" : "",
                 ") for bias_term: ", bias_term_ ? "true" : "false", ", got ", blobs_.size()));
    }
    if (blobs_[0]->shape() != weight_shape) {
      throw ConfigError(StrCat("incorrect weight shape: expected ", ShapeString(weight_shape),
                               transpose_ ? " (K x N, transpose)" : " (N x K)", ", got ",
                               blobs_[0]->shape_string()));
    }
    if (bias_term_ && blobs_[1]->shape() != bias_shape) {
      throw ConfigError(StrCat("incorrect bias shape: expected ", ShapeString(bias_shape), ", got ",
                               blobs_[1]->shape_string()));
    }
  }
  param_propagate_down_.resize(blobs_.size(), true);
}

void InnerProductLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& x = *bottom[0];
  const int axis = x.CanonicalAxisIndex(axis_param_);
  const std::int64_t k = x.count(axis);
  if (k != k_) {
    throw ConfigError(StrCat("input size changed from ", k_, " to ", k, " (bottom ",
                             x.shape_string(), " from axis ", axis,
                             "); the weights are fixed at set-up"));
  }
  const std::int64_t m = x.count(0, axis);
  if (m > INT_MAX) {
    throw ConfigError(
        StrCat("bottom ", x.shape_string(), " has too many rows (", m, ") for one GEMM"));
  }
  axis_ = axis;
  m_ = static_cast<int>(m);
  std::vector<std::int64_t> top_shape(x.shape().begin(), x.shape().begin() + axis);
  top_shape.push_back(num_output_);
  top[0]->Reshape(top_shape);
  if (bias_term_ && bias_multiplier_.count() != m_) {
    bias_multiplier_.Reshape({m_});
    float* ones = bias_multiplier_.mutable_cpu_data();
    for (int i = 0; i < m_; ++i) ones[i] = 1.0f;
  }
}

void InnerProductLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom,
                                    const BlobVec& top) {
  float* y = top[0]->mutable_data(ctx);
  math::LayerGemm(ctx, math::Trans::kNo, transpose_ ? math::Trans::kNo : math::Trans::kYes, m_,
                  num_output_, k_, 1.0f, bottom[0]->data(ctx), blobs_[0]->data(ctx), 0.0f, y);
  if (bias_term_) {
    math::Gemm(ctx, math::Trans::kNo, math::Trans::kNo, m_, num_output_, 1, 1.0f,
               bias_multiplier_.data(ctx), blobs_[1]->data(ctx), 1.0f, y);
  }
}

void InnerProductLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                     const std::vector<bool>& propagate_down,
                                     const BlobVec& bottom) {
  const float* top_diff = top[0]->diff(ctx);
  const float* x = bottom[0]->data(ctx);
  if (param_propagate_down(0)) {
    float* weight_diff = blobs_[0]->mutable_diff(ctx);
    if (transpose_) {
      math::LayerGemm(ctx, math::Trans::kYes, math::Trans::kNo, k_, num_output_, m_, 1.0f, x,
                      top_diff, 1.0f, weight_diff);
    } else {
      math::LayerGemm(ctx, math::Trans::kYes, math::Trans::kNo, num_output_, k_, m_, 1.0f, top_diff,
                      x, 1.0f, weight_diff);
    }
  }
  if (bias_term_ && param_propagate_down(1)) {
    math::Gemv(ctx, math::Trans::kYes, m_, num_output_, 1.0f, top_diff, bias_multiplier_.data(ctx),
               1.0f, blobs_[1]->mutable_diff(ctx));
  }
  if (propagate_down[0]) {
    math::LayerGemm(ctx, math::Trans::kNo, transpose_ ? math::Trans::kYes : math::Trans::kNo, m_,
                    k_, num_output_, 1.0f, top_diff, blobs_[0]->data(ctx), 0.0f,
                    bottom[0]->mutable_diff(ctx));
  }
}

}  // namespace fcn
