// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in abs_val_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/abs_val_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AbsValForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AbsValBackward)
