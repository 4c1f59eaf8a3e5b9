// SPDX-License-Identifier: BSD-2-Clause
// Dense linear algebra on row-major float arrays (OpenBLAS on the CPU).
#pragma once

#include <cstdint>

#include "fcn/exec_context.h"

namespace fcn::math {

enum class Trans { kNo, kYes };

/// C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C, all row-major.
void Gemm(const ExecContext& ctx, Trans trans_a, Trans trans_b, int m, int n, int k, float alpha,
          const float* a, const float* b, float beta, float* c);
/// Gemm in ctx.options().precision: the multiplications of the convolution, deconvolution and
/// inner product layers. fp32 is Gemm. bf16 rounds A and B to bf16 (round to nearest even) and
/// accumulates the products in fp32: oneDNN's matmul on the CPU (a ConfigError in a build
/// without oneDNN), cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF on a GPU. C stays fp32.
void LayerGemm(const ExecContext& ctx, Trans trans_a, Trans trans_b, int m, int n, int k,
               float alpha, const float* a, const float* b, float beta, float* c);
/// y = alpha * op(A) * x + beta * y, A is M x N row-major.
void Gemv(const ExecContext& ctx, Trans trans_a, int m, int n, float alpha, const float* a,
          const float* x, float beta, float* y);
/// y += alpha * x
void Axpy(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float* y);
/// y = alpha * x + beta * y
void Axpby(const ExecContext& ctx, std::int64_t n, float alpha, const float* x, float beta,
           float* y);
/// x *= alpha
void Scal(const ExecContext& ctx, std::int64_t n, float alpha, float* x);
/// y = x
void Copy(const ExecContext& ctx, std::int64_t n, const float* x, float* y);
/// x = value
void Set(const ExecContext& ctx, std::int64_t n, float value, float* x);
/// sum |x|, and the dot product, accumulated in double.
double Asum(const ExecContext& ctx, std::int64_t n, const float* x);
double Dot(const ExecContext& ctx, std::int64_t n, const float* x, const float* y);

/// Number of threads OpenBLAS uses.
int BlasThreads();
void SetBlasThreads(int threads);

}  // namespace fcn::math
