// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in argmax_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/argmax_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ArgMaxForward)
