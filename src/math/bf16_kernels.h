// SPDX-License-Identifier: BSD-2-Clause
// fp32 <-> bf16 conversions (run by ForEachIndex on the CPU or a GPU): the cuDNN engine's bf16
// path rounds its operands to bf16 in scratch memory and widens cuDNN's bf16 results back into
// the fp32 blobs. A bf16 value is held as its 16 bits (the top half of the fp32 pattern).
#pragma once

#include <cstdint>
#include <cstring>

#include "backend/host_device.h"

namespace fcn::kernels {

// The bf16 nearest to x, ties to even (as oneDNN, cuDNN's __float2bfloat16_rn and PyTorch
// round): values past bf16's largest finite value round to infinity; NaN stays a quiet NaN of
// the same sign.
FCN_HOST_DEVICE inline std::uint16_t Bf16Bits(float x) {
  std::uint32_t u = 0;
  std::memcpy(&u, &x, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

// The fp32 value of bf16 bits (exact).
FCN_HOST_DEVICE inline float Bf16Value(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float x = 0.0f;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

// out[i] = bf16(in[i])
struct RoundToBf16 {
  const float* in;
  std::uint16_t* out;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const { out[i] = Bf16Bits(in[i]); }
};

// out[i] = float(in[i]) (beta 0: out is never read), or out[i] += float(in[i]) when accumulate.
struct WidenBf16 {
  const std::uint16_t* in;
  float* out;
  bool accumulate;
  FCN_HOST_DEVICE void operator()(std::int64_t i) const {
    out[i] = accumulate ? out[i] + Bf16Value(in[i]) : Bf16Value(in[i]);
  }
};

}  // namespace fcn::kernels
