// SPDX-License-Identifier: BSD-2-Clause
// The parameter update of Caffe's SGDSolver and NesterovSolver, in Caffe's order and float
// arithmetic: ClipGradients, then per parameter Normalize, Regularize, ComputeUpdateValue,
// then W -= update.
#include <glog/logging.h>

#include <cmath>

#include "fcn/solver.h"

namespace fcn {

void Solver::ApplyUpdate() {
  const float rate = GetLearningRate();
  if (param_.display() > 0 && iter_ % param_.display() == 0) {
    LOG(INFO) << "Iteration " << iter_ << ", lr = " << rate;
  }
  ClipGradients();
  for (std::size_t i = 0; i < net_->learnable_params().size(); ++i) {
    Normalize(i);
    Regularize(i);
    ComputeUpdateValue(i, rate);
  }
  // Net::Update: data -= diff for every owned parameter.
  for (Blob* p : net_->learnable_params()) {
    float* w = p->mutable_cpu_data();
    const float* g = p->cpu_diff();
    for (std::int64_t k = 0; k < p->count(); ++k) w[k] -= g[k];
  }
}

void Solver::ClipGradients() {
  const float clip = param_.clip_gradients();
  if (clip < 0) return;
  float sumsq = 0;
  for (Blob* p : net_->learnable_params()) sumsq += static_cast<float>(p->sumsq_diff());
  const float l2norm = std::sqrt(sumsq);
  if (l2norm > clip) {
    const float scale = clip / l2norm;
    LOG(INFO) << "Gradient clipping: scaling down gradients (L2 norm " << l2norm << " > " << clip
              << ") by scale factor " << scale;
    for (Blob* p : net_->learnable_params()) p->scale_diff(scale);
  }
}

void Solver::Normalize(std::size_t param_id) {
  if (param_.iter_size() == 1) return;
  const float factor = 1.0f / static_cast<float>(param_.iter_size());
  net_->learnable_params()[param_id]->scale_diff(factor);
}

void Solver::Regularize(std::size_t param_id) {
  Blob* p = net_->learnable_params()[param_id];
  const float local_decay = param_.weight_decay() * net_->params_weight_decay()[param_id];
  if (local_decay == 0) return;
  const float* w = p->cpu_data();
  float* g = p->mutable_cpu_diff();
  if (param_.regularization_type() == "L2") {
    for (std::int64_t k = 0; k < p->count(); ++k) g[k] = local_decay * w[k] + g[k];
  } else {
    for (std::int64_t k = 0; k < p->count(); ++k) {
      const float sign = static_cast<float>((0.0f < w[k]) - (w[k] < 0.0f));
      g[k] = local_decay * sign + g[k];
    }
  }
}

void Solver::ComputeUpdateValue(std::size_t param_id, float rate) {
  Blob* p = net_->learnable_params()[param_id];
  const float momentum = param_.momentum();
  const float local_rate = rate * net_->params_lr()[param_id];
  float* g = p->mutable_cpu_diff();
  float* h = history_[param_id]->mutable_cpu_data();
  const std::int64_t n = p->count();
  if (!nesterov_) {
    // h = local_rate * g + momentum * h; g = h
    for (std::int64_t k = 0; k < n; ++k) {
      h[k] = local_rate * g[k] + momentum * h[k];
      g[k] = h[k];
    }
    return;
  }
  // Nesterov: u = h; h = local_rate * g + momentum * h; g = (1 + momentum) * h - momentum * u
  const float one_plus = 1.0f + momentum;
  for (std::int64_t k = 0; k < n; ++k) {
    const float previous = h[k];
    h[k] = local_rate * g[k] + momentum * h[k];
    g[k] = one_plus * h[k] + (-momentum) * previous;
  }
}

}  // namespace fcn
