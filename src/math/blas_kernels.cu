// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of math::Axpy, Axpby, Scal and Set: the functors of blas_kernels.h.
#include "backend/cuda/launch.cuh"
#include "math/blas_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AxpyOp)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::AxpbyOp)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::ScalOp)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::SetOp)
