// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/layer.h"

namespace fcn {

Layer::Layer(const LayerParameter& param) : layer_param_(param), phase_(param.phase()) {
  // Weights given in the parameter (e.g. a layer copied out of a caffemodel) are kept.
  for (const BlobProto& proto : param.blobs()) {
    auto blob = std::make_shared<Blob>();
    blob->FromProto(proto);
    blobs_.push_back(std::move(blob));
  }
}

void Layer::LayerSetUp(const BlobVec&, const BlobVec&) {}

void Layer::SetUp(const BlobVec& bottom, const BlobVec& top) {
  // A loss layer weighs its first top by 1 unless told otherwise (Caffe's LossLayer); the
  // weight is written into the parameter, so snapshots carry it as Caffe's do.
  if (schema_ != nullptr && schema_->loss && layer_param_.loss_weight_size() == 0) {
    layer_param_.add_loss_weight(1.0f);
  }
  LayerSetUp(bottom, top);
  Reshape(bottom, top);
  SetLossWeights(top);
}

void Layer::SetLossWeights(const BlobVec& top) {
  const int num_loss_weights = layer_param_.loss_weight_size();
  if (num_loss_weights) {
    if (num_loss_weights != static_cast<int>(top.size())) {
      throw ConfigError(StrCat("loss_weight must be given 0 times or once per top: ",
                               num_loss_weights, " values for ", top.size(), " tops"));
    }
    loss_.assign(top.size(), 0.0f);
    for (int i = 0; i < num_loss_weights; ++i) {
      const float w = layer_param_.loss_weight(i);
      loss_[static_cast<std::size_t>(i)] = w;
      if (w == 0) continue;
      Blob* t = top[static_cast<std::size_t>(i)];
      float* diff = t->mutable_cpu_diff();
      for (std::int64_t j = 0; j < t->count(); ++j) diff[j] = w;
    }
  }
}

float Layer::Forward(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  Reshape(bottom, top);
  ForwardImpl(RunsOn(ctx.device()) ? ctx : ctx.host(), bottom, top);
  float loss = 0;
  for (std::size_t i = 0; i < top.size() && i < loss_.size(); ++i) {
    if (loss_[i] == 0) continue;
    const float* data = top[i]->cpu_data();
    const float* weights = top[i]->cpu_diff();
    double sum = 0;
    for (std::int64_t j = 0; j < top[i]->count(); ++j)
      sum += static_cast<double>(data[j]) * weights[j];
    loss += static_cast<float>(sum);
  }
  return loss;
}

void Layer::Backward(const ExecContext& ctx, const BlobVec& top,
                     const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  BackwardImpl(RunsOn(ctx.device()) ? ctx : ctx.host(), top, propagate_down, bottom);
}

void Layer::BackwardImpl(const ExecContext&, const BlobVec&,
                         const std::vector<bool>& propagate_down, const BlobVec&) {
  for (bool p : propagate_down) {
    if (p) throw ConfigError(StrCat("layer type ", type(), " cannot back-propagate to its inputs"));
  }
}

void Layer::RestoreState(const std::string& state) {
  if (!state.empty()) {
    throw ConfigError(StrCat("saved state given for layer type ", type(), ", which keeps none"));
  }
}

void Layer::SetDataShard(int, int) {}

bool Layer::AllowForceBackward(int bottom_index) const {
  // Loss layers never take a gradient for their labels.
  return !(schema_ != nullptr && schema_->loss && bottom_index == 1);
}

float Layer::loss(int top_index) const {
  const auto i = static_cast<std::size_t>(top_index);
  return i < loss_.size() ? loss_[i] : 0.0f;
}

void Layer::set_loss(int top_index, float weight) {
  const auto i = static_cast<std::size_t>(top_index);
  if (loss_.size() <= i) loss_.resize(i + 1, 0.0f);
  loss_[i] = weight;
}

bool Layer::param_propagate_down(int index) const {
  const auto i = static_cast<std::size_t>(index);
  return i < param_propagate_down_.size() && param_propagate_down_[i];
}

void Layer::set_param_propagate_down(int index, bool value) {
  const auto i = static_cast<std::size_t>(index);
  if (param_propagate_down_.size() <= i) param_propagate_down_.resize(i + 1, true);
  param_propagate_down_[i] = value;
}

}  // namespace fcn
