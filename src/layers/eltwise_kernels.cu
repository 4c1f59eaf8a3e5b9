// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in eltwise_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/eltwise_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseScale)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseAxpy)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseMul)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseProdGradByDivision)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseMaxFirstPair)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseMaxUpdate)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::EltwiseMaxGrad)
