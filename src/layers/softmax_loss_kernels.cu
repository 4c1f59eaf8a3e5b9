// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in softmax_loss_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/softmax_loss_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::SoftmaxLossForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::SoftmaxLossBackward)
