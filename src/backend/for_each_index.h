// SPDX-License-Identifier: BSD-2-Clause
// ForEachIndex: the one dispatch point for index-wise functors. A functor with
//   FCN_HOST_DEVICE void operator()(std::int64_t i) const
// is run for i in [0, n) by a CPU loop, or, in a CUDA build on a CUDA context, by a kernel
// (cuda::ForEachIndex, defined in backend/cuda/launch.cuh and instantiated for every functor in
// the layers' .cu files: the CPU tests run the very functor objects the GPU runs). The
// functors are written for a GPU launch, where every i runs concurrently and writes only its
// own outputs, so the CPU loop is split over the OpenMP threads (fcn::SetNumThreads) when n is
// large enough to pay for it; the results do not depend on the thread count.
//
//   ForEachIndex(ctx, top->count(), kernels::ReluForward{x, y, slope});
#pragma once

#include <cstdint>

#include "fcn/common.h"
#include "fcn/exec_context.h"

namespace fcn {

#if FCN_HAVE_CUDA
namespace cuda {
/// Launches op for i in [0, n) on the current device (legacy default stream); throws
/// RuntimeError when the launch fails.
template <class Op>
void ForEachIndex(std::int64_t n, const Op& op);
}  // namespace cuda
#endif

/// Below this many indices the loop stays on the calling thread.
constexpr std::int64_t kParallelMinIndices = 1 << 15;

/// `cost` is the work of one index in units of a simple element-wise operation (a functor that
/// handles a whole plane passes the plane's size), for the decision to split the loop.
template <class Op>
void ForEachIndex(const ExecContext& ctx, std::int64_t n, const Op& op, std::int64_t cost = 1) {
#if FCN_HAVE_CUDA
  if (ctx.device() == Device::kCuda) {
    cuda::ForEachIndex(n, op);
    return;
  }
#endif
  FCN_CHECK(ctx.device() == Device::kCpu, "a CUDA context in a CPU-only build");
#if defined(_OPENMP)
  if (n > 1 && n * cost >= kParallelMinIndices) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) op(i);
    return;
  }
#endif
#if !defined(_OPENMP)
  (void)cost;
#endif
  for (std::int64_t i = 0; i < n; ++i) op(i);
}

}  // namespace fcn
