// SPDX-License-Identifier: BSD-2-Clause
// Options: how a net runs, as one value that travels with its ExecContext (design.md, decision
// 12). The library reads no environment variable for these; fcntool fills them from its flags.
// Two nets in one process may run with different options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fcn {

enum class Device { kCpu, kCuda };

/// The convolution engine of layers whose prototxt says `engine: DEFAULT` (a layer that names
/// its engine keeps it).
enum class ConvEngine {
  kDefault,       ///< the build's fastest tested engine (oneDNN on the CPU, cuDNN on a GPU)
  kCaffe,         ///< im2col + GEMM, as Caffe
  kDnnl,          ///< oneDNN, direct algorithm
  kDnnlWinograd,  ///< oneDNN, Winograd for the 3x3 layers that it supports
};

/// What the convolutions, deconvolutions and inner products multiply in. Everything else
/// (weights, gradients, momentum history, activations between layers, losses, softmax) stays
/// fp32 either way, so snapshots are Caffe's fp32 files whatever runs.
enum class Precision {
  kFloat32,   ///< fp32 throughout, as Caffe
  kBfloat16,  ///< bf16 products with fp32 accumulation (oneDNN's avx512_core_bf16 kernels on
              ///< the CPU, cuBLAS/cuDNN bf16 on a GPU): a ConfigError where the CPU has no
              ///< bf16 instructions (docs/precision.md)
};

/// "fp32" or "bf16".
const char* PrecisionName(Precision precision);
/// The precision a name gives: "fp32" or "bf16" (upper case too: a solver file's enum
/// spelling); false for any other name, for the caller to report where it came from.
bool PrecisionFromName(const std::string& name, Precision* precision);
/// Whether this build and this CPU run `precision` (bf16: oneDNN and a CPU whose ISA includes
/// AVX512_BF16, as oneDNN reports it); otherwise false with the reason in *why. Net checks it
/// at construction for a CPU net.
bool PrecisionAvailableOnCpu(Precision precision, std::string* why);

struct Options {
  /// Where the net runs: the CPU, or CUDA device `device_id`.
  Device device = Device::kCpu;
  int device_id = 0;
  /// Convolution engine for `engine: DEFAULT` layers.
  ConvEngine conv_engine = ConvEngine::kDefault;
  /// oneDNN: keep activations and weights in oneDNN's blocked layouts between layers. Off
  /// reorders at every call (for comparisons only; the results are the same).
  bool dnnl_keep_layouts = true;
  /// oneDNN, in a net that does not train (TEST phase): the most scratch memory a DEFAULT
  /// convolution's algorithm may take. Winograd needs its transformed tiles (FCN-8s at
  /// 500x500: 7 MB for conv1_2, 59-280 MB for the layers after it); a layer whose Winograd
  /// needs more runs the direct algorithm. Training nets are not limited (see base_conv.h).
  std::size_t dnnl_inference_scratch_limit_bytes = std::size_t{16} << 20;
  /// The multiplication precision of convolutions, deconvolutions and inner products.
  Precision precision = Precision::kFloat32;
  /// cuDNN: the largest workspace an algorithm may use, and whether only algorithms that
  /// cuDNN reports as deterministic may run.
  std::size_t cudnn_workspace_limit_bytes = std::size_t{1} << 30;
  bool cudnn_deterministic = false;
  /// The seed of the Rng that a Net owns (fillers, Dropout masks, data order and transforms).
  /// A net built by a Solver shares the Solver's Rng instead, seeded from random_seed. 5489 is
  /// std::mt19937's default seed.
  std::uint64_t random_seed = 5489;
};

/// Compute threads (OpenBLAS, OpenMP) are not an option of a net: those libraries keep one
/// count per process. fcntool sets it once (fcn::SetNumThreads, include/fcn/threads.h).

}  // namespace fcn
