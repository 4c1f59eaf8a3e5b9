// SPDX-License-Identifier: BSD-2-Clause
#include "math/blas.h"

#include <cblas.h>

#include <cstring>

#include "fcn/common.h"

namespace fcn::math {

namespace {
CBLAS_TRANSPOSE ToCblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }
void RequireCpu(const ExecContext& ctx) {
  FCN_CHECK(ctx.device() == Device::kCpu, "CPU math called on a non-CPU context");
}
}  // namespace

void Gemm(const ExecContext& ctx, Trans trans_a, Trans trans_b, int m, int n, int k, float alpha,
          const float* a, const float* b, float beta, float* c) {
  RequireCpu(ctx);
  const int lda = trans_a == Trans::kNo ? k : m;
  const int ldb = trans_b == Trans::kNo ? n : k;
  cblas_sgemm(CblasRowMajor, ToCblas(trans_a), ToCblas(trans_b), m, n, k, alpha, a, lda, b, ldb,
              beta, c, n);
}

void Gemv(const ExecContext& ctx, Trans trans_a, int m, int n, float alpha, const float* a,
          const float* x, float beta, float* y) {
  RequireCpu(ctx);
  cblas_sgemv(CblasRowMajor, ToCblas(trans_a), m, n, alpha, a, n, x, 1, beta, y, 1);
}

void Axpy(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float* y) {
  RequireCpu(ctx);
  for (std::int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void Axpby(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float beta,
           float* y) {
  RequireCpu(ctx);
  for (std::int64_t i = 0; i < n; ++i) y[i] = alpha * x[i] + beta * y[i];
}

void Scal(const ExecContext& ctx, std::int64_t n, float alpha, float* x) {
  RequireCpu(ctx);
  for (std::int64_t i = 0; i < n; ++i) x[i] *= alpha;
}

void Copy(const ExecContext& ctx, std::int64_t n, const float* x, float* y) {
  RequireCpu(ctx);
  if (x != y && n > 0) std::memcpy(y, x, static_cast<std::size_t>(n) * sizeof(float));
}

void Set(const ExecContext& ctx, std::int64_t n, float value, float* x) {
  RequireCpu(ctx);
  if (value == 0.0f) {
    if (n > 0) std::memset(x, 0, static_cast<std::size_t>(n) * sizeof(float));
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) x[i] = value;
}

double Asum(const ExecContext& ctx, std::int64_t n, const float* x) {
  RequireCpu(ctx);
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += x[i] < 0 ? -x[i] : x[i];
  return s;
}

double Dot(const ExecContext& ctx, std::int64_t n, const float* x, const float* y) {
  RequireCpu(ctx);
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * y[i];
  return s;
}

int BlasThreads() { return openblas_get_num_threads(); }
void SetBlasThreads(int threads) { openblas_set_num_threads(threads); }

}  // namespace fcn::math
