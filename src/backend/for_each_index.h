// SPDX-License-Identifier: BSD-2-Clause
// ForEachIndex: the one dispatch point for index-wise functors. A functor with
//   FCN_HOST_DEVICE void operator()(std::int64_t i) const
// is run for i in [0, n) by a CPU loop (or, in a CUDA build on a GPU context, a kernel).
//
//   ForEachIndex(ctx, top->count(), kernels::ReluForward{x, y, slope});
#pragma once

#include <cstdint>

#include "fcn/common.h"
#include "fcn/exec_context.h"

namespace fcn {

template <class Op>
void ForEachIndex(const ExecContext& ctx, std::int64_t n, const Op& op) {
  FCN_CHECK(ctx.device() == Device::kCpu, "only the CPU device is built");
  for (std::int64_t i = 0; i < n; ++i) op(i);
}

}  // namespace fcn
