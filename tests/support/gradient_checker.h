// SPDX-License-Identifier: BSD-2-Clause
// GradientChecker: compares a layer's analytic gradients with central finite differences.
//
// The objective is L = sum_t sum_i w[t][i] * top[t][i] with fixed random weights w (seeded),
// computed in double. For every element x of every checked bottom and parameter blob:
//   numeric = (L(x + h) - L(x - h)) / 2h,   analytic from one Backward with top diff = w,
// and |analytic - numeric| <= threshold * max(|analytic|, |numeric|, 1) must hold.
// Elements within kink_range of kink are skipped (non-differentiable points such as ReLU's
// 0 or max pooling ties). The global RNG is reseeded before every Forward, so layers that
// draw random numbers (Dropout) see the same draws each time.
//
//   GradientChecker checker(1e-2, 1e-3);
//   checker.CheckLayer(*layer, bottom, top);           // every bottom and every parameter
//   checker.CheckLayer(*layer, bottom, top, {0});      // bottom 0 only (+ parameters)
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"

namespace fcn::test {

class GradientChecker {
 public:
  GradientChecker(double step, double threshold, std::uint32_t seed = 1701, double kink = 0.0,
                  double kink_range = -1.0)
      : step_(step), threshold_(threshold), seed_(seed), kink_(kink), kink_range_(kink_range) {}

  /// SetUp must have been called. `bottoms` lists the bottoms to check (empty: all);
  /// parameters are checked when check_params is true.
  void CheckLayer(Layer& layer, const BlobVec& bottom, const BlobVec& top,
                  std::vector<int> bottoms = {}, bool check_params = true);

 private:
  double Objective(Layer& layer, const BlobVec& bottom, const BlobVec& top);

  double step_;
  double threshold_;
  std::uint32_t seed_;
  double kink_;
  double kink_range_;
  std::vector<std::vector<double>> weights_;
};

}  // namespace fcn::test
