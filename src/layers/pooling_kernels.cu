// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the functors in pooling_kernels.h, the same objects the CPU path runs.
#include "backend/cuda/launch.cuh"
#include "layers/pooling_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolForward<float>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolForward<int>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolForward<std::uint8_t>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackward<float>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackward<int>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackward<std::uint8_t>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackwardPlane<float>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackwardPlane<int>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::MaxPoolBackwardPlane<std::uint8_t>)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AvePoolForward)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AvePoolBackward)
