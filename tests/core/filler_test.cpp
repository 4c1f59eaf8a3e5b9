// SPDX-License-Identifier: BSD-2-Clause
// Fillers: the value distribution of every type (exact values for constant and bilinear,
// statistics for the random ones), validation errors, and seeding.
#include "fcn/filler.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

FillerParameter Filler(const std::string& text) {
  FillerParameter param;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  return param;
}

std::vector<float> Fill(const std::string& text, const std::vector<std::int64_t>& shape,
                        std::int64_t seed = 1701) {
  Blob blob(shape);
  Rng rng(static_cast<std::uint64_t>(seed));
  FillBlob(Filler(text), &blob, rng);
  return Data(blob);
}

double Mean(const std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double StdDev(const std::vector<float>& v) {
  const double mean = Mean(v);
  double sum = 0;
  for (float x : v) sum += (x - mean) * (x - mean);
  return std::sqrt(sum / static_cast<double>(v.size()));
}

double MaxAbs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// Types and validation.

TEST(FillerTest, ListsTheKnownTypes) {
  EXPECT_THAT(FillerTypes(),
              ElementsAre("bilinear", "constant", "gaussian", "msra", "uniform", "xavier"));
}

TEST(FillerTest, RejectsUnknownTypeListingTheKnownOnes) {
  const std::string message = ConfigErrorOf([] { Fill(R"pb(type: "gausian")pb", {4}); });
  EXPECT_THAT(message, HasSubstr("unknown filler type \"gausian\""));
  EXPECT_THAT(message, HasSubstr("known: bilinear, constant, gaussian, msra, uniform, xavier"));
}

TEST(FillerTest, RejectsUniformWithMaxBelowMin) {
  EXPECT_THAT(ConfigErrorOf([] { ValidateFiller(Filler(R"pb(type: "uniform" min: 2 max: 1)pb")); }),
              HasSubstr("uniform filler has max 1 < min 2"));
}

TEST(FillerTest, RejectsGaussianWithNegativeStd) {
  EXPECT_THAT(ConfigErrorOf([] { ValidateFiller(Filler(R"pb(type: "gaussian" std: -1)pb")); }),
              HasSubstr("gaussian filler has negative std -1"));
}

TEST(FillerTest, RejectsBilinearOnANonSquareOrNon4DBlob) {
  EXPECT_THAT(ConfigErrorOf([] {
                Fill(R"pb(type: "bilinear")pb", {2, 4, 4});
              }),
              HasSubstr("bilinear filler needs a 4-D blob with a square kernel, got 2x4x4"));
  EXPECT_THAT(ConfigErrorOf([] {
                Fill(R"pb(type: "bilinear")pb", {1, 1, 4, 3});
              }),
              HasSubstr("got 1x1x4x3"));
}

// Values.

TEST(FillerTest, DefaultIsConstantZero) {
  EXPECT_EQ(Fill("", {2, 3}), std::vector<float>(6, 0.0f));
}

TEST(FillerTest, ConstantWritesTheValue) {
  EXPECT_EQ(Fill(R"pb(type: "constant" value: -3.5)pb", {2, 3, 4}), std::vector<float>(24, -3.5f));
}

TEST(FillerTest, UniformCoversTheRange) {
  const std::vector<float> v = Fill(R"pb(type: "uniform" min: -2 max: 5)pb", {100, 1000});
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, -2.0f);
  // Rounding of min + (max - min) * u may reach max; Caffe's range is [min, max] too.
  EXPECT_LE(*hi, 5.0f);
  EXPECT_LT(*lo, -1.99f);
  EXPECT_GT(*hi, 4.99f);
  // Standard errors: mean 7 / sqrt(12e5) = 0.0064, std about 0.0045.
  EXPECT_NEAR(Mean(v), 1.5, 0.03);
  EXPECT_NEAR(StdDev(v), 7.0 / std::sqrt(12.0), 0.03);
}

TEST(FillerTest, GaussianHasTheRequestedMeanAndStd) {
  const std::vector<float> v = Fill(R"pb(type: "gaussian" mean: 1.5 std: 2)pb", {100, 1000});
  // Standard errors: mean 2 / sqrt(1e5) = 0.0063, std 2 / sqrt(2e5) = 0.0045.
  EXPECT_NEAR(Mean(v), 1.5, 0.03);
  EXPECT_NEAR(StdDev(v), 2.0, 0.03);
  // A normal sample of 1e5 has about 4.4 std beyond the mean at its extreme, never 7.
  EXPECT_LT(MaxAbs(v), 1.5 + 2.0 * 7.0);
  EXPECT_GT(MaxAbs(v), 1.5 + 2.0 * 3.0);
}

TEST(FillerTest, SparseGaussianKeepsSparseOverOutputsOfTheWeights) {
  // Kept with probability sparse / shape[0] = 3 / 10.
  const std::vector<float> v = Fill(R"pb(type: "gaussian" std: 1 sparse: 3)pb", {10, 10000});
  const auto zeros = std::count(v.begin(), v.end(), 0.0f);
  EXPECT_NEAR(static_cast<double>(zeros) / 1e5, 0.7, 0.01);
  std::vector<float> kept;
  for (float x : v) {
    if (x != 0.0f) kept.push_back(x);
  }
  EXPECT_NEAR(StdDev(kept), 1.0, 0.03);
}

struct FanCase {
  const char* norm;
  double n;
};

// fan_in = count / shape[0] = 32 * 9, fan_out = count / shape[1] = 64 * 9.
const FanCase kFanCases[] = {{"FAN_IN", 288.0}, {"FAN_OUT", 576.0}, {"AVERAGE", 432.0}};

TEST(FillerTest, XavierIsUniformWithinSqrtThreeOverN) {
  for (const FanCase& c : kFanCases) {
    const std::vector<float> v =
        Fill(std::string("type: \"xavier\" variance_norm: ") + c.norm, {64, 32, 3, 3});
    const double bound = std::sqrt(3.0 / c.n);
    EXPECT_LE(MaxAbs(v), bound) << c.norm;
    EXPECT_GT(MaxAbs(v), 0.99 * bound) << c.norm;
    // U(-a, a) has std a / sqrt(3) = 1 / sqrt(n); 18432 samples give about 0.5 %.
    EXPECT_NEAR(StdDev(v) * std::sqrt(c.n), 1.0, 0.03) << c.norm;
    EXPECT_NEAR(Mean(v) / bound, 0.0, 0.03) << c.norm;
  }
}

TEST(FillerTest, XavierDefaultsToFanIn) {
  EXPECT_EQ(Fill(R"pb(type: "xavier")pb", {64, 32, 3, 3}),
            Fill(R"pb(type: "xavier" variance_norm: FAN_IN)pb", {64, 32, 3, 3}));
}

TEST(FillerTest, MsraIsGaussianWithStdSqrtTwoOverN) {
  for (const FanCase& c : kFanCases) {
    const std::vector<float> v =
        Fill(std::string("type: \"msra\" variance_norm: ") + c.norm, {64, 32, 3, 3});
    EXPECT_NEAR(StdDev(v) / std::sqrt(2.0 / c.n), 1.0, 0.03) << c.norm;
    EXPECT_NEAR(Mean(v) / std::sqrt(2.0 / c.n), 0.0, 0.03) << c.norm;
  }
}

TEST(FillerTest, BilinearKernelOfFourHasTheQuarterProfile) {
  const std::vector<float> v = Fill(R"pb(type: "bilinear")pb", {2, 3, 4, 4});
  const float profile[4] = {0.25f, 0.75f, 0.75f, 0.25f};
  // The same kernel in every (output, input) channel pair.
  for (int pair = 0; pair < 6; ++pair) {
    for (int y = 0; y < 4; ++y) {
      for (int x = 0; x < 4; ++x) {
        EXPECT_FLOAT_EQ(v[static_cast<std::size_t>(pair * 16 + y * 4 + x)], profile[y] * profile[x])
            << "pair " << pair << " y " << y << " x " << x;
      }
    }
  }
}

// FCN's surgery.interp kernel, which fcn-reference §4.7 shows equal to Caffe's bilinear filler
// w(y, x) = (1 - |x/f - c|)(1 - |y/f - c|), f = ceil(K/2), c = (K - 1) / (2f).
double InterpWeight(int k, int y, int x) {
  const int factor = (k + 1) / 2;
  const double center = k % 2 == 1 ? factor - 1 : factor - 0.5;
  return (1 - std::fabs(y - center) / factor) * (1 - std::fabs(x - center) / factor);
}

TEST(FillerTest, BilinearMatchesTheInterpolationKernel) {
  for (int k : {3, 5, 16, 63}) {
    const std::vector<float> v = Fill(R"pb(type: "bilinear")pb", {1, 1, k, k});
    for (int y = 0; y < k; ++y) {
      for (int x = 0; x < k; ++x) {
        ASSERT_NEAR(v[static_cast<std::size_t>(y * k + x)], InterpWeight(k, y, x), 1e-6)
            << "K " << k << " y " << y << " x " << x;
      }
    }
  }
  // K = 3 spelled out: profile [0.5, 1, 0.5].
  EXPECT_THAT(Fill(R"pb(type: "bilinear")pb", {1, 1, 3, 3}),
              ElementsAre(0.25f, 0.5f, 0.25f, 0.5f, 1.0f, 0.5f, 0.25f, 0.5f, 0.25f));
}

// Seeding.

TEST(FillerTest, SameSeedGivesSameValues) {
  for (const char* text : {R"pb(type: "gaussian")pb", R"pb(type: "uniform")pb",
                           R"pb(type: "xavier")pb", R"pb(type: "msra")pb", R"pb(type: "gaussian"
                                                                                sparse: 2)pb"}) {
    const std::vector<float> first = Fill(text, {8, 4, 3, 3}, /*seed=*/11);
    EXPECT_EQ(Fill(text, {8, 4, 3, 3}, /*seed=*/11), first) << text;
    EXPECT_NE(Fill(text, {8, 4, 3, 3}, /*seed=*/12), first) << text;
  }
}

}  // namespace
}  // namespace fcn::test
