// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in concat_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/concat_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ConcatForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ConcatBackward)
