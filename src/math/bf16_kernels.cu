// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the fp32 <-> bf16 conversions of bf16_kernels.h (the cuDNN engine's bf16
// path).
#include "backend/cuda/launch.cuh"
#include "math/bf16_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::RoundToBf16)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::WidenBf16)
