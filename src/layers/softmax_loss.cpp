// SPDX-License-Identifier: BSD-2-Clause
// SoftmaxWithLoss layer: softmax, per-position loss, normalisation and gradient.
#include "layers/softmax_loss.h"

#include <algorithm>
#include <cmath>

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/softmax_kernels.h"
#include "layers/softmax_loss_kernels.h"
#include "math/blas.h"

namespace fcn {

const LayerSchema& SoftmaxWithLossLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "SoftmaxWithLoss",  2, 2, 1, 2, false, true, true, {"loss_param", "softmax_param"},
      CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(SoftmaxWithLossLayer)

SoftmaxWithLossLayer::SoftmaxWithLossLayer(const LayerParameter& param)
    : Layer(param), axis_param_(param.softmax_param().axis()) {
  const LossParameter& loss_param = param.loss_param();
  normalization_ = loss_param.normalization();
  // The deprecated `normalize` only counts when `normalization` is absent (BVLC/caffe#3296).
  if (!loss_param.has_normalization() && loss_param.has_normalize()) {
    normalization_ = loss_param.normalize() ? LossParameter::VALID : LossParameter::BATCH_SIZE;
  }
  has_ignore_label_ = loss_param.has_ignore_label();
  ignore_label_ = loss_param.ignore_label();
}

void SoftmaxWithLossLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& scores = *bottom[0];
  const Blob& label = *bottom[1];
  const int axis = scores.CanonicalAxisIndex(axis_param_);
  outer_ = scores.count(0, axis);
  channels_ = scores.shape(axis);
  inner_ = scores.count(axis + 1);
  if (scores.num_axes() > 0 && label.num_axes() > 0 && scores.shape(0) != label.shape(0)) {
    throw ConfigError(StrCat("scores and labels must have the same first dimension: scores ",
                             scores.shape_string(), ", labels ", label.shape_string()));
  }
  if (label.count() != outer_ * inner_) {
    throw ConfigError(StrCat("label count ", label.count(), " (shape ", label.shape_string(),
                             ") must equal the number of score positions ", outer_ * inner_,
                             " (scores ", scores.shape_string(), " without softmax axis ", axis,
                             ")"));
  }
  prob_.ReshapeLike(scores);
  top[0]->Reshape({});
  if (top.size() > 1) top[1]->ReshapeLike(scores);
}

void SoftmaxWithLossLayer::CheckLabels(const Blob& label) const {
  const float* labels = label.cpu_data();
  const auto num_classes = static_cast<float>(channels_);
  for (std::int64_t i = 0; i < label.count(); ++i) {
    const float v = labels[i];
    // A class index is a whole number: Caffe would truncate 2.5 to class 2 without a word.
    if (v != std::floor(v)) {
      throw ConfigError(StrCat("label ", v, " at position ", i, " (outer ", i / inner_, ", inner ",
                               i % inner_, ") of the label blob ", label.shape_string(),
                               " is not a whole number (labels are class indices)"));
    }
    // The comparisons come before any cast because converting an out-of-range float to int
    // is undefined.
    if (v > -1.0f && v < num_classes) continue;
    if (has_ignore_label_ && v > -2e9f && v < 2e9f && static_cast<int>(v) == ignore_label_) {
      continue;
    }
    throw ConfigError(StrCat("label ", v, " at position ", i, " (outer ", i / inner_, ", inner ",
                             i % inner_, ") of the label blob ", label.shape_string(),
                             " is outside [0, ", channels_, ")",
                             has_ignore_label_ ? StrCat(" and is not ignore_label ", ignore_label_)
                                               : std::string(" and no ignore_label is set")));
  }
}

float SoftmaxWithLossLayer::Normalizer() const {
  double z = 1.0;
  switch (normalization_) {
    case LossParameter::FULL:
      z = static_cast<double>(outer_ * inner_);
      break;
    case LossParameter::VALID:
      z = static_cast<double>(valid_count_);
      break;
    case LossParameter::BATCH_SIZE:
      z = static_cast<double>(outer_);
      break;
    case LossParameter::NONE:
      z = 1.0;
      break;
  }
  return static_cast<float>(std::max(1.0, z));
}

void SoftmaxWithLossLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom,
                                       const BlobVec& top) {
  CheckLabels(*bottom[1]);
  const std::int64_t positions = outer_ * inner_;
  float* prob = prob_.mutable_data(ctx);
  ForEachIndex(ctx, positions,
               kernels::SoftmaxForward{bottom[0]->data(ctx), prob, channels_, inner_});
  float* loss = ctx.workspace().Get(2 * positions);
  float* valid = loss + positions;
  ForEachIndex(ctx, positions,
               kernels::SoftmaxLossForward{prob, bottom[1]->data(ctx), loss, valid, channels_,
                                           inner_, has_ignore_label_, ignore_label_});
  // Both are sums of non-negative values (per-position losses, 0/1 flags).
  const double loss_sum = math::Asum(ctx, positions, loss);
  const double valid_sum = math::Asum(ctx, positions, valid);
  valid_count_ = static_cast<std::int64_t>(valid_sum);
  top[0]->mutable_cpu_data()[0] = static_cast<float>(loss_sum / Normalizer());
  if (top.size() > 1) math::Copy(ctx, prob_.count(), prob, top[1]->mutable_data(ctx));
}

void SoftmaxWithLossLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                        const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  if (propagate_down[1]) {
    throw ConfigError("SoftmaxWithLoss cannot back-propagate to its label input (bottom 1)");
  }
  if (!propagate_down[0]) return;
  // Caffe: the loss weight is the first value of top[0]'s diff.
  const float scale = top[0]->cpu_diff()[0] / Normalizer();
  ForEachIndex(ctx, outer_ * inner_,
               kernels::SoftmaxLossBackward{prob_.data(ctx), bottom[1]->data(ctx),
                                            bottom[0]->mutable_diff(ctx), channels_, inner_,
                                            has_ignore_label_, ignore_label_, scale});
}

}  // namespace fcn
