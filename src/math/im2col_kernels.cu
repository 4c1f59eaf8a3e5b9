// SPDX-License-Identifier: BSD-2-Clause
// GPU launches of the im2col / col2im functors (the GPU im2col engine of Convolution and
// Deconvolution).
#include "backend/cuda/launch.cuh"
#include "math/im2col_kernels.h"

FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::Im2ColIndex)
FCN_CUDA_FOR_EACH_INDEX(fcn::kernels::Col2ImIndex)
