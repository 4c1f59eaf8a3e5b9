// SPDX-License-Identifier: BSD-2-Clause
#include "math/blas.h"

#include <cblas.h>

#include <cstring>

#include "backend/for_each_index.h"
#include "fcn/common.h"
#include "math/blas_kernels.h"

#if FCN_HAVE_CUDA
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/handles.h"
#include "backend/device_memory.h"
#endif

namespace fcn::math {

namespace {

CBLAS_TRANSPOSE ToCblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }

bool OnGpu(const ExecContext& ctx) {
#if FCN_HAVE_CUDA
  return ctx.device() == Device::kCuda;
#else
  FCN_CHECK(ctx.device() == Device::kCpu, "a CUDA context in a CPU-only build");
  return false;
#endif
}

#if FCN_HAVE_CUDA
cublasOperation_t ToCublas(Trans t) { return t == Trans::kYes ? CUBLAS_OP_T : CUBLAS_OP_N; }
#endif

}  // namespace

void Gemm(const ExecContext& ctx, Trans trans_a, Trans trans_b, int m, int n, int k, float alpha,
          const float* a, const float* b, float beta, float* c) {
  const int lda = trans_a == Trans::kNo ? k : m;
  const int ldb = trans_b == Trans::kNo ? n : k;
  if (OnGpu(ctx)) {
#if FCN_HAVE_CUDA
    // cuBLAS is column-major: the row-major C = op(A) op(B) is the column-major
    // C^T = op(B)^T op(A)^T, i.e. the same buffers with the operands swapped.
    FCN_CUBLAS_CHECK(cublasSgemm(ctx.gpu().cublas, ToCublas(trans_b), ToCublas(trans_a), n, m, k,
                                 &alpha, b, ldb, a, lda, &beta, c, n));
#endif
    return;
  }
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, n);
}

void Gemv(const ExecContext& ctx, Trans trans_a, int m, int n, float alpha, const float* a,
          const float* x, float beta, float* y) {
  if (OnGpu(ctx)) {
#if FCN_HAVE_CUDA
    // The row-major M x N matrix is the column-major N x M one: transposes flip.
    const cublasOperation_t op = trans_a == Trans::kNo ? CUBLAS_OP_T : CUBLAS_OP_N;
    FCN_CUBLAS_CHECK(cublasSgemv(ctx.gpu().cublas, op, n, m, &alpha, a, n, x, 1, &beta, y, 1));
#endif
    return;
  }
  cblas_sgemv(CblasRowMajor, ToCblas(trans_a), m, n, alpha, a, n, x, 1, beta, y, 1);
}

void Axpy(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float* y) {
  ForEachIndex(ctx, n, kernels::AxpyOp{alpha, x, y});
}

void Axpby(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float beta,
           float* y) {
  ForEachIndex(ctx, n, kernels::AxpbyOp{alpha, x, beta, y});
}

void Scal(const ExecContext& ctx, std::int64_t n, float alpha, float* x) {
  ForEachIndex(ctx, n, kernels::ScalOp{alpha, x});
}

void Copy(const ExecContext& ctx, std::int64_t n, const float* x, float* y) {
  if (x == y || n <= 0) return;
  const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
  if (OnGpu(ctx)) {
#if FCN_HAVE_CUDA
    device::CopyDeviceToDevice(y, x, bytes);
#endif
    return;
  }
  std::memcpy(y, x, bytes);
}

void Set(const ExecContext& ctx, std::int64_t n, float value, float* x) {
  if (n <= 0) return;
  if (value == 0.0f) {
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float);
    if (OnGpu(ctx)) {
#if FCN_HAVE_CUDA
      device::Zero(x, bytes);
#endif
      return;
    }
    std::memset(x, 0, bytes);
    return;
  }
  ForEachIndex(ctx, n, kernels::SetOp{value, x});
}

double Asum(const ExecContext& ctx, std::int64_t n, const float* x) {
  if (OnGpu(ctx)) {
    float result = 0;
#if FCN_HAVE_CUDA
    FCN_CHECK(n <= INT32_MAX, "cuBLAS asum over more than 2^31 elements");
    FCN_CUBLAS_CHECK(cublasSasum(ctx.gpu().cublas, static_cast<int>(n), x, 1, &result));
#endif
    return result;
  }
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += x[i] < 0 ? -x[i] : x[i];
  return s;
}

double Dot(const ExecContext& ctx, std::int64_t n, const float* x, const float* y) {
  if (OnGpu(ctx)) {
    float result = 0;
#if FCN_HAVE_CUDA
    FCN_CHECK(n <= INT32_MAX, "cuBLAS dot over more than 2^31 elements");
    FCN_CUBLAS_CHECK(cublasSdot(ctx.gpu().cublas, static_cast<int>(n), x, 1, y, 1, &result));
#endif
    return result;
  }
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

int BlasThreads() { return openblas_get_num_threads(); }
void SetBlasThreads(int threads) { openblas_set_num_threads(threads); }

}  // namespace fcn::math
