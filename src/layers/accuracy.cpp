// SPDX-License-Identifier: BSD-2-Clause
// Accuracy layer: shape and label checks, the per-position functor and the host reduction.
#include "layers/accuracy.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"
#include "layers/accuracy_kernels.h"

namespace fcn {

const LayerSchema& AccuracyLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Accuracy", 2, 2, 1, 2, false, false, false, {"accuracy_param"}, CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(AccuracyLayer)

AccuracyLayer::AccuracyLayer(const LayerParameter& param) : Layer(param) {
  const AccuracyParameter& p = param.accuracy_param();
  top_k_ = p.top_k();
  axis_param_ = p.axis();
  has_ignore_label_ = p.has_ignore_label();
  ignore_label_ = p.ignore_label();
}

bool AccuracyLayer::AllowForceBackward(int) const { return false; }

void AccuracyLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& scores = *bottom[0];
  const Blob& label = *bottom[1];
  const int axis = scores.CanonicalAxisIndex(axis_param_);
  outer_ = scores.count(0, axis);
  channels_ = scores.shape(axis);
  inner_ = scores.count(axis + 1);
  if (label.count() != outer_ * inner_) {
    throw ConfigError(StrCat("label count ", label.count(), " (shape ", label.shape_string(),
                             ") must equal the number of score positions ", outer_ * inner_,
                             " (scores ", scores.shape_string(), " without class axis ", axis,
                             ")"));
  }
  if (top_k_ > channels_) {
    throw ConfigError(StrCat("Accuracy top_k ", top_k_, " exceeds the number of classes ",
                             channels_, " (scores ", scores.shape_string(), ", axis ", axis, ")"));
  }
  top[0]->Reshape({});
  if (top.size() > 1) top[1]->Reshape({channels_});
}

void AccuracyLayer::CheckLabels(const Blob& label) const {
  const float* labels = label.cpu_data();
  const auto num_classes = static_cast<float>(channels_);
  for (std::int64_t i = 0; i < label.count(); ++i) {
    const float v = labels[i];
    // Labels are truncated to int, so (-1, C) is in range; compare before any cast, since
    // converting an out-of-range float to int is undefined.
    if (v > -1.0f && v < num_classes) continue;
    if (has_ignore_label_ && v > -2e9f && v < 2e9f && static_cast<int>(v) == ignore_label_) {
      continue;
    }
    throw ConfigError(StrCat("label ", v, " at position ", i, " of the label blob ",
                             label.shape_string(), " is outside [0, ", channels_, ")",
                             has_ignore_label_ ? StrCat(" and is not ignore_label ", ignore_label_)
                                               : std::string(" and no ignore_label is set")));
  }
}

void AccuracyLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  CheckLabels(*bottom[1]);
  const std::int64_t positions = outer_ * inner_;
  // One int per position, in the float workspace (same size, and it only grows).
  auto* hit = reinterpret_cast<int*>(ctx.workspace().Get(positions));
  const float* label = bottom[1]->cpu_data();
  ForEachIndex(ctx, positions,
               kernels::AccuracyHit{bottom[0]->cpu_data(), label, hit, channels_, inner_, top_k_,
                                    has_ignore_label_, ignore_label_});
  std::int64_t valid = 0;
  std::int64_t correct = 0;
  std::vector<std::int64_t> class_valid(static_cast<std::size_t>(channels_), 0);
  std::vector<std::int64_t> class_correct(static_cast<std::size_t>(channels_), 0);
  for (std::int64_t i = 0; i < positions; ++i) {
    if (hit[i] < 0) continue;
    const auto l = static_cast<std::size_t>(static_cast<int>(label[i]));
    ++valid;
    correct += hit[i];
    ++class_valid[l];
    class_correct[l] += hit[i];
  }
  top[0]->mutable_cpu_data()[0] =
      valid == 0 ? 0.0f : static_cast<float>(correct) / static_cast<float>(valid);
  if (top.size() > 1) {
    float* per_class = top[1]->mutable_cpu_data();
    for (std::size_t c = 0; c < class_valid.size(); ++c) {
      per_class[c] = class_valid[c] == 0 ? 0.0f
                                         : static_cast<float>(class_correct[c]) /
                                               static_cast<float>(class_valid[c]);
    }
  }
}

}  // namespace fcn
