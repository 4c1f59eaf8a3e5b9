// SPDX-License-Identifier: BSD-2-Clause
// bf16 on a GPU: the cuDNN engine (engine DEFAULT) and the im2col path's cuBLAS GEMMs (engine
// CAFFE) held to the bf16 reference of tests/support/bf16_reference.h, every direction of the
// FCN layer shapes. cuDNN's bf16 path writes bf16 results (PSEUDO_BFLOAT16), so its results may
// also be off by their own rounding to bf16 (2^-9 of the value; 2^-8 allowed). Skipped without
// a CUDA device, and on a device older than compute capability 8.0, where bf16 is a
// ConfigError (checked here too).
#include <gtest/gtest.h>

#include <string>

#include "fcn/gpu.h"
#include "fcn/net.h"
#include "fcn/options.h"
#include "support/bf16_reference.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

Options GpuBf16Options() {
  Options options;
  options.device = Device::kCuda;
  options.device_id = 0;
  options.precision = Precision::kBfloat16;
  return options;
}

// Whether device 0 runs bf16; otherwise the reason to skip.
bool HaveGpuBf16(std::string* why) {
  if (gpu::DeviceCount(why) == 0) {
    *why = "no CUDA device: " + *why;
    return false;
  }
  const int cc = gpu::ComputeCapability(0);
  if (cc < 80) {
    *why = StrCat("device 0 has compute capability ", cc / 10, ".", cc % 10, " (bf16 needs 8.0)");
    return false;
  }
  return true;
}

TEST(Bf16Gpu, CudnnAndCublasEqualTheBf16RoundedReference) {
  std::string why;
  if (!HaveGpuBf16(&why)) GTEST_SKIP() << why;
  constexpr double kBf16ResultRounding = 1.0 / 256;
  for (const LayerCase& lc : kBf16LayerCases) {
    CheckBf16Layer(lc, GpuBf16Options(), kBf16ResultRounding);
  }
  // The CPU's DEFAULT cases run on cuDNN here; the same shapes through the CAFFE engine too.
  for (LayerCase lc : kBf16LayerCases) {
    lc.engine = "CAFFE";
    CheckBf16Layer(lc, GpuBf16Options(), kBf16ResultRounding);
  }
}

TEST(Bf16Gpu, ADeviceOlderThanAmpereIsAClearError) {
  std::string why;
  if (gpu::DeviceCount(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  const int cc = gpu::ComputeCapability(0);
  const std::string net =
      "name: 'n' layer { name: 'x' type: 'Input' top: 'x' "
      "input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }";
  if (cc >= 80) {
    EXPECT_NO_THROW(MakeNet(net, GpuBf16Options()));
    return;
  }
  EXPECT_THAT(ConfigErrorOf([&] { MakeNet(net, GpuBf16Options()); }),
              ::testing::HasSubstr("bf16 needs 8.0 or later"));
}

}  // namespace
}  // namespace fcn::test
