// SPDX-License-Identifier: BSD-2-Clause
// Error checks for CUDA runtime, cuBLAS and cuDNN calls: a failure throws RuntimeError with
// the call and the library's own message (never an abort).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "fcn/common.h"

#if FCN_HAVE_CUDNN
#include <cudnn.h>
#endif

namespace fcn::cuda {

const char* CublasStatusName(cublasStatus_t status);

}  // namespace fcn::cuda

#define FCN_CUDA_CHECK(call)                                                        \
  do {                                                                              \
    const cudaError_t fcn_cuda_status_ = (call);                                    \
    if (fcn_cuda_status_ != cudaSuccess) {                                          \
      throw ::fcn::RuntimeError(                                                    \
          ::fcn::StrCat(#call, " failed: ", cudaGetErrorString(fcn_cuda_status_))); \
    }                                                                               \
  } while (false)

#define FCN_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                           \
    const cublasStatus_t fcn_cublas_status_ = (call);                                            \
    if (fcn_cublas_status_ != CUBLAS_STATUS_SUCCESS) {                                           \
      throw ::fcn::RuntimeError(                                                                 \
          ::fcn::StrCat(#call, " failed: ", ::fcn::cuda::CublasStatusName(fcn_cublas_status_))); \
    }                                                                                            \
  } while (false)

#if FCN_HAVE_CUDNN
#define FCN_CUDNN_CHECK(call)                                                         \
  do {                                                                                \
    const cudnnStatus_t fcn_cudnn_status_ = (call);                                   \
    if (fcn_cudnn_status_ != CUDNN_STATUS_SUCCESS) {                                  \
      throw ::fcn::RuntimeError(                                                      \
          ::fcn::StrCat(#call, " failed: ", cudnnGetErrorString(fcn_cudnn_status_))); \
    }                                                                                 \
  } while (false)
#endif
