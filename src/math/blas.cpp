// SPDX-License-Identifier: BSD-2-Clause
#include "math/blas.h"

#include <cblas.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "backend/for_each_index.h"
#include "fcn/common.h"
#include "math/blas_kernels.h"

#if FCN_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

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

#if FCN_HAVE_DNNL
namespace {

using dnnl::memory;

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A row-major operand as oneDNN sees it: logical rows x cols, stored as given or transposed.
memory::desc Operand(int rows, int cols, bool transposed, memory::data_type type) {
  const memory::dims dims = {rows, cols};
  const memory::dims strides = transposed ? memory::dims{1, rows} : memory::dims{cols, 1};
  return memory::desc(dims, type, strides);
}

// One bf16 product C = alpha op(A) op(B) + beta C: the conversions of A and B to bf16 (same
// strides) and the matmul, made once per shape and kept for the thread.
struct Bf16Matmul {
  memory::desc a32, b32, a16, b16, c32;
  dnnl::reorder to_a16, to_b16;
  dnnl::matmul product;
  std::size_t a_elems = 0, b_elems = 0;
};

using MatmulKey = std::tuple<bool, bool, int, int, int, float, float>;

Bf16Matmul MakeBf16Matmul(const MatmulKey& key) {
  const auto [ta, tb, m, n, k, alpha, beta] = key;
  Bf16Matmul mm;
  mm.a32 = Operand(m, k, ta, memory::data_type::f32);
  mm.b32 = Operand(k, n, tb, memory::data_type::f32);
  mm.a16 = Operand(m, k, ta, memory::data_type::bf16);
  mm.b16 = Operand(k, n, tb, memory::data_type::bf16);
  mm.c32 = Operand(m, n, false, memory::data_type::f32);
  mm.a_elems = static_cast<std::size_t>(m) * static_cast<std::size_t>(k);
  mm.b_elems = static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
  mm.to_a16 = dnnl::reorder(memory(mm.a32, CpuEngine(), DNNL_MEMORY_NONE),
                            memory(mm.a16, CpuEngine(), DNNL_MEMORY_NONE));
  mm.to_b16 = dnnl::reorder(memory(mm.b32, CpuEngine(), DNNL_MEMORY_NONE),
                            memory(mm.b16, CpuEngine(), DNNL_MEMORY_NONE));
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  const dnnl::matmul::desc desc(mm.a16, mm.b16, mm.c32);
  mm.product = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, CpuEngine()));
  return mm;
}

void CpuGemmBf16(Trans trans_a, Trans trans_b, int m, int n, int k, float alpha, const float* a,
                 const float* b, float beta, float* c) {
  // A conv layer's few shapes per image size: the cache is cleared rather than grown when
  // whole images of many sizes pass through.
  thread_local std::map<MatmulKey, Bf16Matmul> cache;
  thread_local std::vector<std::uint16_t> scratch;
  thread_local dnnl::stream stream(CpuEngine());
  const MatmulKey key{trans_a == Trans::kYes, trans_b == Trans::kYes, m, n, k, alpha, beta};
  auto it = cache.find(key);
  if (it == cache.end()) {
    if (cache.size() >= 256) cache.clear();
    it = cache.emplace(key, MakeBf16Matmul(key)).first;
  }
  const Bf16Matmul& mm = it->second;
  if (scratch.size() < mm.a_elems + mm.b_elems) scratch.resize(mm.a_elems + mm.b_elems);
  memory a16(mm.a16, CpuEngine(), scratch.data());
  memory b16(mm.b16, CpuEngine(), scratch.data() + mm.a_elems);
  memory a32(mm.a32, CpuEngine(), const_cast<float*>(a));
  memory b32(mm.b32, CpuEngine(), const_cast<float*>(b));
  mm.to_a16.execute(stream, a32, a16);
  mm.to_b16.execute(stream, b32, b16);
  mm.product.execute(stream, {{DNNL_ARG_SRC, a16},
                              {DNNL_ARG_WEIGHTS, b16},
                              {DNNL_ARG_DST, memory(mm.c32, CpuEngine(), c)}});
  stream.wait();
}

}  // namespace
#endif  // FCN_HAVE_DNNL

void LayerGemm(const ExecContext& ctx, Trans trans_a, Trans trans_b, int m, int n, int k,
               float alpha, const float* a, const float* b, float beta, float* c) {
  if (ctx.options().precision != Precision::kBfloat16) {
    Gemm(ctx, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
    return;
  }
  if (m == 0 || n == 0) return;
  if (OnGpu(ctx)) {
#if FCN_HAVE_CUDA
    // fp32 in and out; cuBLAS rounds the inputs to bf16 and accumulates in fp32 (tensor cores
    // on compute capability 8.0 and later). Column-major: the operands swap as in Gemm.
    const int lda = trans_a == Trans::kNo ? k : m;
    const int ldb = trans_b == Trans::kNo ? n : k;
    FCN_CUBLAS_CHECK(cublasGemmEx(ctx.gpu().cublas, ToCublas(trans_b), ToCublas(trans_a), n, m, k,
                                  &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &beta, c,
                                  CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_16BF,
                                  CUBLAS_GEMM_DEFAULT));
#endif
    return;
  }
#if FCN_HAVE_DNNL
  if (k == 0) {  // no products: C = beta C
    Scal(ctx, static_cast<std::int64_t>(m) * n, beta, c);
    return;
  }
  CpuGemmBf16(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
#else
  (void)trans_a, (void)trans_b, (void)k, (void)alpha, (void)a, (void)b, (void)beta, (void)c;
  throw ConfigError("precision bf16: this build has no oneDNN, whose kernels run bf16 on the CPU");
#endif
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

namespace fcn {

#if FCN_HAVE_DNNL
namespace {
// oneDNN's name (as ONEDNN_MAX_CPU_ISA spells it) of the ISA it runs on.
std::string CpuIsaName(unsigned isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "SSE41";
    case dnnl_cpu_isa_avx:
      return "AVX";
    case dnnl_cpu_isa_avx2:
      return "AVX2";
    case dnnl_cpu_isa_avx2_vnni:
      return "AVX2_VNNI";
    case dnnl_cpu_isa_avx512_mic:
      return "AVX512_MIC";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "AVX512_MIC_4OPS";
    case dnnl_cpu_isa_avx512_core:
      return "AVX512_CORE";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "AVX512_CORE_VNNI";
    default:
      return StrCat("0x", std::hex, isa);
  }
}
}  // namespace
#endif

bool PrecisionAvailableOnCpu(Precision precision, std::string* why) {
  if (precision == Precision::kFloat32) return true;
#if FCN_HAVE_DNNL
  // oneDNN's ISA values are nested bit sets: an ISA includes avx512_core_bf16 when it holds all
  // of its bits (avx512_core_amx does; avx512_core_vnni and avx2_vnni do not).
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  if ((isa & bf16) == bf16) return true;
  if (why) {
    *why = StrCat("this CPU has no bf16 instructions (oneDNN's ISA here is ", CpuIsaName(isa),
                  "; bf16 needs avx512_core_bf16, i.e. AVX512_BF16: Intel Cooper Lake or Sapphire "
                  "Rapids and later, AMD Zen 4 and later; ONEDNN_MAX_CPU_ISA may also limit it)");
  }
#else
  if (why) *why = "this build has no oneDNN, whose kernels run bf16 on the CPU";
#endif
  return false;
}

}  // namespace fcn
