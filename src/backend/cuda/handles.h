// SPDX-License-Identifier: BSD-2-Clause
// GpuHandles: the library handles of one CUDA ExecContext. All work goes to the legacy
// default stream, so host<->device copies (cudaMemcpy) order themselves after the kernels.
#pragma once

#include "fcn/exec_context.h"

#if FCN_HAVE_CUDA
#include <cublas_v2.h>
#if FCN_HAVE_CUDNN
#include <cudnn.h>
#endif
#endif

namespace fcn {

struct GpuHandles {
#if FCN_HAVE_CUDA
  GpuHandles();
  ~GpuHandles();
  GpuHandles(const GpuHandles&) = delete;
  GpuHandles& operator=(const GpuHandles&) = delete;
  cublasHandle_t cublas = nullptr;
#if FCN_HAVE_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
#endif
};

}  // namespace fcn
