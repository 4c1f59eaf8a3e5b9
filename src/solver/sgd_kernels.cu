// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the SGD update functors (sgd_kernels.h), the same objects the CPU runs.
#include "backend/cuda/launch.cuh"
#include "solver/sgd_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::RegularizeL2)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::RegularizeL1)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::SgdMomentum)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::NesterovMomentum)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ApplyStep)
