// SPDX-License-Identifier: BSD-2-Clause
// Element-wise functors behind math::Axpy, Axpby, Scal and Set (run by ForEachIndex on the
// CPU or a GPU).
#pragma once

#include <cstdint>

#include "backend/host_device.h"

namespace fcn::kernels {

// y[i] += alpha * x[i]
struct AxpyOp {
  float alpha;
  const float* x;
  float* y;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] += alpha * x[i]; }
};

// y[i] = alpha * x[i] + beta * y[i]
struct AxpbyOp {
  float alpha;
  const float* x;
  float beta;
  float* y;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = alpha * x[i] + beta * y[i]; }
};

// x[i] *= alpha
struct ScalOp {
  float alpha;
  float* x;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { x[i] *= alpha; }
};

// x[i] = value
struct SetOp {
  float value;
  float* x;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { x[i] = value; }
};

}  // namespace fcn::kernels
