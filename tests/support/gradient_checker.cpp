// SPDX-License-Identifier: BSD-2-Clause
#include "support/gradient_checker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fcn/rng.h"

namespace fcn::test {

double GradientChecker::Objective(Layer& layer, const BlobVec& bottom, const BlobVec& top) {
  layer.rng().Seed(static_cast<std::uint64_t>(seed_));
  ExecContext ctx;
  layer.Forward(ctx, bottom, top);
  double loss = 0;
  for (std::size_t t = 0; t < top.size(); ++t) {
    const float* data = top[t]->cpu_data();
    for (std::int64_t i = 0; i < top[t]->count(); ++i)
      loss += weights_[t][static_cast<std::size_t>(i)] * data[i];
  }
  return loss;
}

void GradientChecker::CheckLayer(Layer& layer, const BlobVec& bottom, const BlobVec& top,
                                 std::vector<int> bottoms, bool check_params) {
  ExecContext ctx;
  layer.rng().Seed(static_cast<std::uint64_t>(seed_));
  layer.Forward(ctx, bottom, top);
  // Fixed weights for the objective, one per top element.
  Rng weight_rng(seed_ + 1);
  weights_.assign(top.size(), {});
  for (std::size_t t = 0; t < top.size(); ++t) {
    weights_[t].resize(static_cast<std::size_t>(top[t]->count()));
    for (double& w : weights_[t]) w = weight_rng.Uniform(-1.0f, 1.0f);
  }
  if (bottoms.empty()) {
    for (std::size_t i = 0; i < bottom.size(); ++i) bottoms.push_back(static_cast<int>(i));
  }

  // Blobs to check: chosen bottoms, then parameters.
  std::vector<Blob*> checked;
  std::vector<std::string> labels;
  std::vector<bool> propagate_down(bottom.size(), false);
  for (int b : bottoms) {
    propagate_down[static_cast<std::size_t>(b)] = true;
    checked.push_back(bottom[static_cast<std::size_t>(b)]);
    labels.push_back("bottom " + std::to_string(b));
  }
  if (check_params) {
    for (std::size_t p = 0; p < layer.blobs().size(); ++p) {
      checked.push_back(layer.blobs()[p].get());
      labels.push_back("param " + std::to_string(p));
      layer.blobs()[p]->ZeroDiff();
    }
  }

  // Analytic gradient.
  for (Blob* b : bottom) b->ZeroDiff();
  layer.rng().Seed(static_cast<std::uint64_t>(seed_));
  layer.Forward(ctx, bottom, top);
  for (std::size_t t = 0; t < top.size(); ++t) {
    float* diff = top[t]->mutable_cpu_diff();
    for (std::int64_t i = 0; i < top[t]->count(); ++i)
      diff[i] = static_cast<float>(weights_[t][static_cast<std::size_t>(i)]);
  }
  layer.Backward(ctx, top, propagate_down, bottom);
  std::vector<std::vector<float>> analytic;
  for (Blob* b : checked) analytic.emplace_back(b->cpu_diff(), b->cpu_diff() + b->count());

  int failures = 0;
  for (std::size_t k = 0; k < checked.size(); ++k) {
    Blob* blob = checked[k];
    for (std::int64_t i = 0; i < blob->count(); ++i) {
      float* data = blob->mutable_cpu_data();
      const float original = data[i];
      if (kink_range_ >= 0 && std::fabs(original - kink_) < kink_range_) continue;
      data[i] = static_cast<float>(original + step_);
      const double plus = Objective(layer, bottom, top);
      data = blob->mutable_cpu_data();
      data[i] = static_cast<float>(original - step_);
      const double minus = Objective(layer, bottom, top);
      data = blob->mutable_cpu_data();
      data[i] = original;
      const double numeric = (plus - minus) / (2.0 * step_);
      const double a = analytic[k][static_cast<std::size_t>(i)];
      const double scale = std::max({std::fabs(a), std::fabs(numeric), 1.0});
      if (std::fabs(a - numeric) > threshold_ * scale) {
        if (++failures <= 10) {
          ADD_FAILURE() << "gradient mismatch in " << layer.type() << " layer \"" << layer.name()
                        << "\", " << labels[k] << " index " << i << " (value " << original
                        << "): analytic " << a << ", numeric " << numeric << ", seed " << seed_;
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << "gradient check failed for " << failures << " element(s)";
  // Leave the layer in its forward state.
  Objective(layer, bottom, top);
}

}  // namespace fcn::test
