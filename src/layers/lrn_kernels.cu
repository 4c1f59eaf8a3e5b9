// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in lrn_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/lrn_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::LrnForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::LrnBackward)
