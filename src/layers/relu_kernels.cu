// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in relu_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/relu_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ReluForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ReluBackward)
