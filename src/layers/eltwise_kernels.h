// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functors of the Eltwise layer (SUM, PROD, MAX and their gradients).
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// y[i] = coeff * x[i].
struct EltwiseScale {
  const float* x;
  float coeff;
  float* y;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = coeff * x[i]; }
};

// y[i] += coeff * x[i].
struct EltwiseAxpy {
  const float* x;
  float coeff;
  float* y;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] += coeff * x[i]; }
};

// y[i] = a[i] * b[i]. Safe when y aliases a or b.
struct EltwiseMul {
  const float* a;
  const float* b;
  float* y;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = a[i] * b[i]; }
};

// dx[i] = dy[i] * y[i] / x[i]: the product gradient without the other factors (the
// unstable form, which divides by zero where x[i] == 0).
struct EltwiseProdGradByDivision {
  const float* top_diff;
  const float* top_data;
  const float* bottom_data;
  float* bottom_diff;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    bottom_diff[i] = top_diff[i] * top_data[i] / bottom_data[i];
  }
};

// The first two bottoms of MAX: bottom 0 wins only when strictly greater, so a tie goes to
// bottom 1.
struct EltwiseMaxFirstPair {
  const float* a;
  const float* b;
  float* y;
  int* winner;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    if (a[i] > b[i]) {
      y[i] = a[i];
      winner[i] = 0;
    } else {
      y[i] = b[i];
      winner[i] = 1;
    }
  }
};

// A later bottom of MAX replaces the running maximum only when strictly greater.
struct EltwiseMaxUpdate {
  const float* x;
  int index;
  float* y;
  int* winner;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    if (x[i] > y[i]) {
      y[i] = x[i];
      winner[i] = index;
    }
  }
};

// dx[i] = dy[i] where bottom `index` won element i, else 0.
struct EltwiseMaxGrad {
  const float* top_diff;
  const int* winner;
  int index;
  float* bottom_diff;

  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    bottom_diff[i] = winner[i] == index ? top_diff[i] : 0.0f;
  }
};

}  // namespace fcn::kernels
