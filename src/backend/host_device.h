// SPDX-License-Identifier: BSD-2-Clause
// FCN_HOST_DEVICE marks functors that run both in a CPU loop and in a CUDA kernel.
#pragma once

#if defined(__CUDACC__)
#define FCN_HOST_DEVICE __host__ __device__
#else
#define FCN_HOST_DEVICE
#endif
