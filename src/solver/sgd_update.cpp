// SPDX-License-Identifier: BSD-2-Clause
// The parameter update of Caffe's SGDSolver and NesterovSolver, in Caffe's order and float
// arithmetic: ClipGradients, then per parameter Normalize, Regularize, ComputeUpdateValue,
// then W -= update.
#include <glog/logging.h>

#include <cmath>

#include "backend/for_each_index.h"
#include "fcn/solver.h"
#include "math/blas.h"
#include "solver/sgd_kernels.h"

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
  const ExecContext& ctx = net_->context();
  for (Blob* p : net_->learnable_params()) {
    ForEachIndex(ctx, p->count(), kernels::ApplyStep{p->diff(ctx), p->mutable_data(ctx)});
  }
}

void Solver::ClipGradients() {
  const float clip = param_.clip_gradients();
  if (clip < 0) return;
  const ExecContext& ctx = net_->context();
  float sumsq = 0;
  for (Blob* p : net_->learnable_params()) {
    sumsq += static_cast<float>(math::Dot(ctx, p->count(), p->diff(ctx), p->diff(ctx)));
  }
  const float l2norm = std::sqrt(sumsq);
  if (l2norm > clip) {
    const float scale = clip / l2norm;
    LOG(INFO) << "Gradient clipping: scaling down gradients (L2 norm " << l2norm << " > " << clip
              << ") by scale factor " << scale;
    for (Blob* p : net_->learnable_params())
      math::Scal(ctx, p->count(), scale, p->mutable_diff(ctx));
  }
}

void Solver::Normalize(std::size_t param_id) {
  // Of several ranks the gradient is the sum over every pass of every rank (Caffe's NCCL
  // scales by 1/ranks as well), so N ranks equal one process with iter_size x N.
  const int passes = param_.iter_size() * world_size();
  if (passes == 1) return;
  const float factor = 1.0f / static_cast<float>(passes);
  const ExecContext& ctx = net_->context();
  Blob* p = net_->learnable_params()[param_id];
  math::Scal(ctx, p->count(), factor, p->mutable_diff(ctx));
}

void Solver::Regularize(std::size_t param_id) {
  Blob* p = net_->learnable_params()[param_id];
  const float local_decay = param_.weight_decay() * net_->params_weight_decay()[param_id];
  if (local_decay == 0) return;
  const ExecContext& ctx = net_->context();
  const float* w = p->data(ctx);
  float* g = p->mutable_diff(ctx);
  if (param_.regularization_type() == "L2") {
    ForEachIndex(ctx, p->count(), kernels::RegularizeL2{local_decay, w, g});
  } else {
    ForEachIndex(ctx, p->count(), kernels::RegularizeL1{local_decay, w, g});
  }
}

void Solver::ComputeUpdateValue(std::size_t param_id, float rate) {
  Blob* p = net_->learnable_params()[param_id];
  const float momentum = param_.momentum();
  const float local_rate = rate * net_->params_lr()[param_id];
  const ExecContext& ctx = net_->context();
  float* g = p->mutable_diff(ctx);
  float* h = history_[param_id]->mutable_data(ctx);
  if (!nesterov_) {
    ForEachIndex(ctx, p->count(), kernels::SgdMomentum{local_rate, momentum, g, h});
  } else {
    ForEachIndex(ctx, p->count(), kernels::NesterovMomentum{local_rate, momentum, g, h});
  }
}

}  // namespace fcn
