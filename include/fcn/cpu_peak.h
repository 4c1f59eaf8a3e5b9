// SPDX-License-Identifier: BSD-2-Clause
// The CPU's multiply-add peak, measured: a register-only loop of independent FMA (fp32) or
// bf16 dot-product chains on every thread, so that a layer's or a framework's GFLOP/s can be
// read as a share of what this CPU does in the same run (bench/README.md, "The peak loop").
#pragma once

#include <optional>
#include <string>

namespace fcn {

/// What the loop measures.
enum class PeakKind {
  kFp32Fma,  ///< fp32 fused multiply-add: 2 flops per lane (AVX-512 zmm, else AVX2 ymm)
  kBf16Dot,  ///< vdpbf16ps on zmm: 32 bf16 multiply-adds into 16 fp32 lanes = 64 flops
};

/// The widest instruction set the loop may use: kBest picks the widest this CPU runs;
/// kAvx2 keeps an fp32 loop on ymm registers even where AVX-512 exists (bf16 has no AVX2 form).
enum class PeakIsa { kBest, kAvx2 };

struct PeakResult {
  double gflops = 0;   ///< multiply-add flops (2 per FMA lane) of all threads over wall time
  int threads = 0;     ///< the threads that ran the loop
  std::string kernel;  ///< the ISA, instruction and chain count, e.g. "avx512f vfmadd231ps zmm x12"
  double seconds = 0;  ///< the measured wall time
};

/// "fp32" or "bf16".
const char* PeakKindName(PeakKind kind);

/// Whether this CPU (and the OS, for the zmm state) runs AVX512_BF16's vdpbf16ps: CPUID leaf 7
/// subleaf 1, EAX bit 5, with AVX-512F usable.
bool CpuHasAvx512Bf16();

/// Runs the loop for `kind` on `threads` threads (<= 0: one per hardware thread) for about
/// `seconds` (at least 1 ms) and returns the flops over the wall time of all of them.
/// nullopt where this CPU has no such instruction (bf16 without AVX512_BF16; fp32 without
/// FMA, or on a CPU other than x86-64).
std::optional<PeakResult> MeasureFmaPeak(PeakKind kind, int threads, double seconds,
                                         PeakIsa isa = PeakIsa::kBest);

}  // namespace fcn
