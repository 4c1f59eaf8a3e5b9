// SPDX-License-Identifier: BSD-2-Clause
// The CPU's compute resources: SetNumThreads (OpenBLAS and OpenMP, for oneDNN, told the same
// count) and the FMA peak loop (include/fcn/cpu_peak.h).
//
// The FMA peak loop: each kernel keeps kChains independent
// accumulators in registers, each started from its own value, and runs the same instruction
// on all of them in turn: no result feeds the next instruction for kChains steps, which covers
// an FMA's latency (4 cycles) times the FMA units of any current x86 core (2), so the loop is
// bound by the units' throughput alone. The kernels are compiled with function-level target
// attributes and chosen at run time, so the library itself needs no -mavx512f.
#include "fcn/threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "fcn/cpu_peak.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define FCN_PEAK_X86 1
#else
#define FCN_PEAK_X86 0
#endif

#if FCN_HAVE_OPENMP
#include <omp.h>
#endif

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace fcn {

int SetNumThreads(int n) {
  if (n <= 0) {
    const unsigned cores = std::thread::hardware_concurrency();
    n = cores > 0 ? static_cast<int>(cores) : 1;
  }
  openblas_set_num_threads(n);
#if FCN_HAVE_OPENMP
  omp_set_num_threads(n);
#endif
  return n;
}

int NumThreads() { return openblas_get_num_threads(); }

}  // namespace fcn

namespace fcn {

namespace {

constexpr int kChains = 12;
// Loop trips per kernel call: 12 x 8192 instructions, some tens of microseconds, so that
// reading the clock between calls costs nothing measurable.
constexpr std::uint64_t kTrips = 8192;

using Kernel = void (*)(std::uint64_t trips, volatile float* sink);

struct KernelInfo {
  Kernel run = nullptr;
  double flops_per_instruction = 0;
  std::string name;
};

#if FCN_PEAK_X86

// Twelve statements, one per chain: written out so that each accumulator is a register.
#define FCN_PEAK_CHAINS(OP) \
  OP(a0);                   \
  OP(a1);                   \
  OP(a2);                   \
  OP(a3);                   \
  OP(a4);                   \
  OP(a5);                   \
  OP(a6);                   \
  OP(a7);                   \
  OP(a8);                   \
  OP(a9);                   \
  OP(a10);                  \
  OP(a11)

template <std::size_t N>
float SumLanes(const float (&lanes)[N]) {
  float total = 0;
  for (const float lane : lanes) total += lane;
  return total;
}

// acc = acc * m + c with m just below 1 converges to c / (1 - m): every value stays a normal
// float however long the loop runs, and no chain can be computed ahead of time.
__attribute__((target("avx512f"))) void Avx512Fp32(std::uint64_t trips, volatile float* sink) {
  const __m512 m = _mm512_set1_ps(0.99999994f);
  const __m512 c = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
         a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
         a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
         a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  for (std::uint64_t i = 0; i < trips; ++i) {
#define FCN_PEAK_FMA512(a) a = _mm512_fmadd_ps(a, m, c)
    FCN_PEAK_CHAINS(FCN_PEAK_FMA512);
#undef FCN_PEAK_FMA512
  }
  const __m512 sum =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                  _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
                    _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  // Stored and summed here: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  *sink = SumLanes(lanes);
}

__attribute__((target("avx2,fma"))) void Avx2Fp32(std::uint64_t trips, volatile float* sink) {
  const __m256 m = _mm256_set1_ps(0.99999994f);
  const __m256 c = _mm256_set1_ps(1e-7f);
  __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
         a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
         a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
         a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
  for (std::uint64_t i = 0; i < trips; ++i) {
#define FCN_PEAK_FMA256(a) a = _mm256_fmadd_ps(a, m, c)
    FCN_PEAK_CHAINS(FCN_PEAK_FMA256);
#undef FCN_PEAK_FMA256
  }
  const __m256 sum =
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                  _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                    _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  *sink = SumLanes(lanes);
}

// acc += x . y over bf16 pairs: each lane grows by 2 x 1e-3 x 1e-3 per instruction, so a
// chain stays a small normal float for any run this loop makes.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void Avx512Bf16(std::uint64_t trips,
                                                                       volatile float* sink) {
  const __m512 small = _mm512_set1_ps(1e-3f);
  const __m512bh x = _mm512_cvtne2ps_pbh(small, small);
  const __m512bh y = _mm512_cvtne2ps_pbh(small, _mm512_set1_ps(2e-3f));
  __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
         a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
         a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
         a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  for (std::uint64_t i = 0; i < trips; ++i) {
#define FCN_PEAK_DOT(a) a = _mm512_dpbf16_ps(a, x, y)
    FCN_PEAK_CHAINS(FCN_PEAK_DOT);
#undef FCN_PEAK_DOT
  }
  const __m512 sum =
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                  _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
                    _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  // Stored and summed here: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  *sink = SumLanes(lanes);
}

#undef FCN_PEAK_CHAINS

bool CpuHas(bool avx512f, bool avx2_fma) {
  __builtin_cpu_init();
  // __builtin_cpu_supports checks the OS's XSAVE state (XCR0) along with CPUID.
  if (avx512f && !__builtin_cpu_supports("avx512f")) return false;
  if (avx2_fma && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return false;
  return true;
}

#endif  // FCN_PEAK_X86

std::optional<KernelInfo> ChooseKernel(PeakKind kind, PeakIsa isa) {
#if FCN_PEAK_X86
  const std::string chains = " x" + std::to_string(kChains);
  if (kind == PeakKind::kBf16Dot) {
    if (isa != PeakIsa::kBest || !CpuHasAvx512Bf16()) return std::nullopt;
    return KernelInfo{&Avx512Bf16, 64.0, "avx512_bf16 vdpbf16ps zmm" + chains};
  }
  if (isa == PeakIsa::kBest && CpuHas(true, false)) {
    return KernelInfo{&Avx512Fp32, 32.0, "avx512f vfmadd231ps zmm" + chains};
  }
  if (CpuHas(false, true)) return KernelInfo{&Avx2Fp32, 16.0, "avx2 vfmadd231ps ymm" + chains};
#else
  (void)kind;
  (void)isa;
#endif
  return std::nullopt;
}

}  // namespace

const char* PeakKindName(PeakKind kind) { return kind == PeakKind::kBf16Dot ? "bf16" : "fp32"; }

bool CpuHasAvx512Bf16() {
#if FCN_PEAK_X86
  if (!CpuHas(true, false)) return false;
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (eax & (1u << 5)) != 0;
#else
  return false;
#endif
}

std::optional<PeakResult> MeasureFmaPeak(PeakKind kind, int threads, double seconds, PeakIsa isa) {
  const std::optional<KernelInfo> kernel = ChooseKernel(kind, isa);
  if (!kernel) return std::nullopt;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  using Clock = std::chrono::steady_clock;
  const auto duration = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::max(seconds, 1e-3)));

  // Every thread waits for `go`, then calls the kernel until the shared deadline.
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point deadline;
  std::vector<std::uint64_t> calls(static_cast<std::size_t>(threads), 0);
  std::vector<float> sinks(static_cast<std::size_t>(threads), 0.0f);
  std::vector<std::thread> workers;
  workers.reserve(calls.size());
  try {
    for (std::size_t t = 0; t < calls.size(); ++t) {
      workers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        std::uint64_t n = 0;
        volatile float* sink = &sinks[t];
        do {
          kernel->run(kTrips, sink);
          ++n;
        } while (Clock::now() < deadline);
        calls[t] = n;
      });
    }
  } catch (...) {
    // A thread that could not start: release the ones that did, then report it.
    deadline = Clock::now();
    go.store(true, std::memory_order_release);
    for (std::thread& worker : workers) worker.join();
    throw;
  }
  while (ready.load() < threads) std::this_thread::yield();
  const Clock::time_point start = Clock::now();
  deadline = start + duration;
  go.store(true, std::memory_order_release);
  for (std::thread& worker : workers) worker.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();

  double flops = 0;
  for (const std::uint64_t n : calls) {
    flops += static_cast<double>(n) * kTrips * kChains * kernel->flops_per_instruction;
  }
  return PeakResult{flops / wall / 1e9, threads, kernel->name, wall};
}

}  // namespace fcn
