// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functors of the SGD update (Caffe's SGDSolver / NesterovSolver arithmetic, in
// float and in Caffe's order), run by ForEachIndex on the CPU or a GPU.
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// L2: g = decay * w + g.  L1: g = decay * sign(w) + g.
struct RegularizeL2 {
  float decay;
  const float* w;
  float* g;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { g[i] = decay * w[i] + g[i]; }
};

struct RegularizeL1 {
  float decay;
  const float* w;
  float* g;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float sign = static_cast<float>((0.0f < w[i]) - (w[i] < 0.0f));
    g[i] = decay * sign + g[i];
  }
};

// h = rate * g + momentum * h; g = h
struct SgdMomentum {
  float rate;
  float momentum;
  float* g;
  float* h;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    h[i] = rate * g[i] + momentum * h[i];
    g[i] = h[i];
  }
};

// u = h; h = rate * g + momentum * h; g = (1 + momentum) * h - momentum * u
struct NesterovMomentum {
  float rate;
  float momentum;
  float* g;
  float* h;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float previous = h[i];
    h[i] = rate * g[i] + momentum * h[i];
    g[i] = (1.0f + momentum) * h[i] + (-momentum) * previous;
  }
};

// w -= g (Caffe's Net::Update)
struct ApplyStep {
  const float* g;
  float* w;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { w[i] -= g[i]; }
};

}  // namespace fcn::kernels
