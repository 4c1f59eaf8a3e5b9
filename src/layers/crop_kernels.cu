// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in crop_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/crop_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::CropForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::CropBackward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::CropRows)
