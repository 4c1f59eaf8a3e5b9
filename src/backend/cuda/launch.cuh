// SPDX-License-Identifier: BSD-2-Clause
// The CUDA side of ForEachIndex: a grid-stride kernel that runs a functor for every index,
// and FCN_CUDA_FOR_EACH_INDEX(Op), which instantiates it for one functor type. Each layer's
// .cu file includes its *_kernels.h (the functors the CPU path runs) and instantiates them;
// a functor that a layer launches but no .cu instantiates is a link error in the CUDA build.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/for_each_index.h"

namespace fcn::cuda {

constexpr int kThreadsPerBlock = 256;
/// Enough blocks to fill any current device; larger n loops inside the kernel.
constexpr std::int64_t kMaxBlocks = 65535;

template <class Op>
__global__ void ForEachIndexKernel(std::int64_t n, Op op) {
  const std::int64_t step = static_cast<std::int64_t>(blockDim.x) * gridDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    op(i);
  }
}

template <class Op>
void ForEachIndex(std::int64_t n, const Op& op) {
  if (n <= 0) return;
  const std::int64_t blocks =
      std::min<std::int64_t>((n + kThreadsPerBlock - 1) / kThreadsPerBlock, kMaxBlocks);
  ForEachIndexKernel<Op><<<static_cast<unsigned>(blocks), kThreadsPerBlock>>>(n, op);
  FCN_CUDA_CHECK(cudaPeekAtLastError());
}

}  // namespace fcn::cuda

#define FCN_CUDA_FOR_EACH_INDEX(Op) \
  template void fcn::cuda::ForEachIndex<Op>(std::int64_t, const Op&);
