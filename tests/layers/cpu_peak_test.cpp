// SPDX-License-Identifier: BSD-2-Clause
// The FMA peak loop: which kernel runs where (checked against the kernel's own CPU flags in
// /proc/cpuinfo), and that a short run reports a finite, positive rate that no CPU could
// exceed (a miscounted loop would). No speed is asserted: speed belongs to bench/.
#include "fcn/cpu_peak.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

// The flags of the first CPU in /proc/cpuinfo; nullopt where the file cannot be read.
std::optional<std::set<std::string>> CpuinfoFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string word; words >> word;) flags.insert(word);
    return flags;
  }
  return std::nullopt;
}

// Ceiling of any x86 core today: two 512-bit units doing vdpbf16ps (128 flops per cycle) at
// 6 GHz.
constexpr double kMaxGflopsPerThread = 128 * 6.0;

void ExpectSaneRun(const PeakResult& r, int threads, double seconds) {
  EXPECT_EQ(r.threads, threads);
  EXPECT_TRUE(std::isfinite(r.gflops)) << r.gflops;
  EXPECT_GT(r.gflops, 0.0);
  EXPECT_LE(r.gflops, kMaxGflopsPerThread * threads) << r.kernel;
  EXPECT_GE(r.seconds, seconds);  // every thread runs until the deadline
  EXPECT_LT(r.seconds, seconds + 5.0);
}

#if defined(__x86_64__)

TEST(CpuPeakTest, Fp32UsesTheWidestFmaThisCpuHas) {
  const std::optional<PeakResult> r = MeasureFmaPeak(PeakKind::kFp32Fma, 1, 0.02);
  const auto flags = CpuinfoFlags();
  if (!flags) GTEST_SKIP() << "no /proc/cpuinfo to compare with";
  if (flags->count("avx512f")) {
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->kernel, "avx512f vfmadd231ps zmm x12");
  } else if (flags->count("avx2") && flags->count("fma")) {
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->kernel, "avx2 vfmadd231ps ymm x12");
  } else {
    EXPECT_FALSE(r.has_value()) << r->kernel;
    return;
  }
  ExpectSaneRun(*r, 1, 0.02);
}

TEST(CpuPeakTest, Bf16ExactlyWhereTheCpuHasAvx512Bf16) {
  const auto flags = CpuinfoFlags();
  if (flags) {
    EXPECT_EQ(CpuHasAvx512Bf16(), flags->count("avx512_bf16") == 1 && flags->count("avx512f"));
  }
  const std::optional<PeakResult> r = MeasureFmaPeak(PeakKind::kBf16Dot, 2, 0.02);
  EXPECT_EQ(r.has_value(), CpuHasAvx512Bf16());
  if (r) {
    EXPECT_EQ(r->kernel, "avx512_bf16 vdpbf16ps zmm x12");
    ExpectSaneRun(*r, 2, 0.02);
  }
  // vdpbf16ps has no ymm-only form here: asking for AVX2 gives nothing.
  EXPECT_FALSE(MeasureFmaPeak(PeakKind::kBf16Dot, 1, 0.01, PeakIsa::kAvx2).has_value());
}

TEST(CpuPeakTest, Avx2LoopRunsWhereAvx512Exists) {
  const auto flags = CpuinfoFlags();
  if (!flags || !flags->count("avx2") || !flags->count("fma")) {
    GTEST_SKIP() << "this CPU has no AVX2 FMA";
  }
  const std::optional<PeakResult> r = MeasureFmaPeak(PeakKind::kFp32Fma, 2, 0.02, PeakIsa::kAvx2);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->kernel, HasSubstr("avx2"));
  ExpectSaneRun(*r, 2, 0.02);
}

TEST(CpuPeakTest, NoThreadCountMeansOnePerHardwareThread) {
  const std::optional<PeakResult> r = MeasureFmaPeak(PeakKind::kFp32Fma, 0, 0.01);
  if (!r) GTEST_SKIP() << "no FMA on this CPU";
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(r->threads, hardware > 0 ? hardware : 1);
  ExpectSaneRun(*r, r->threads, 0.01);
}

#else

TEST(CpuPeakTest, NoLoopOutsideX86) {
  EXPECT_FALSE(MeasureFmaPeak(PeakKind::kFp32Fma, 1, 0.01).has_value());
  EXPECT_FALSE(CpuHasAvx512Bf16());
}

#endif

TEST(CpuPeakTest, KindNames) {
  EXPECT_STREQ(PeakKindName(PeakKind::kFp32Fma), "fp32");
  EXPECT_STREQ(PeakKindName(PeakKind::kBf16Dot), "bf16");
}

}  // namespace
}  // namespace fcn::test
