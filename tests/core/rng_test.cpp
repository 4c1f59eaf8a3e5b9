// SPDX-License-Identifier: BSD-2-Clause
// Rng: determinism per seed, exact save/restore (including a pending Gaussian), the ranges
// and rough uniformity of the distributions, and rejection of malformed saved states.
#include "fcn/rng.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace fcn::test {
namespace {

// A mixed sequence touching every distribution, for comparisons.
std::vector<double> Draws(Rng& rng, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(rng.NextU32());
    out.push_back(rng.Uniform01());
    out.push_back(rng.Gaussian(0.0f, 1.0f));
    out.push_back(rng.UniformInt(1000));
    out.push_back(rng.Bernoulli(0.5f) ? 1.0 : 0.0);
  }
  return out;
}

// Determinism.

TEST(RngTest, SameSeedGivesSameSequence) {
  Rng a(1701), b(1701), c(1702);
  const std::vector<double> first = Draws(a, 50);
  EXPECT_EQ(Draws(b, 50), first);
  EXPECT_NE(Draws(c, 50), first);
}

TEST(RngTest, SeedRestartsTheSequenceAndDropsThePendingGaussian) {
  Rng rng(7);
  const float first = rng.Gaussian(0.0f, 1.0f);  // leaves its pair pending
  rng.Seed(7);
  EXPECT_EQ(rng.Gaussian(0.0f, 1.0f), first);
}

TEST(RngTest, SeedFromSettingKeepsAGivenSeedAndDrawsANegativeOne) {
  EXPECT_EQ(SeedFromSetting(99), 99u);
  Rng seeded(SeedFromSetting(99)), expected(99);
  EXPECT_EQ(Draws(seeded, 10), Draws(expected, 10));
  // Two draws from std::random_device that agree in 64 bits would be a broken device.
  EXPECT_NE(SeedFromSetting(-1), SeedFromSetting(-1));
}

TEST(RngTest, HighSeedBitsMatter) {
  Rng low(5), high((std::uint64_t{1} << 40) + 5);
  EXPECT_NE(Draws(low, 5), Draws(high, 5));
}

// Save and restore.

TEST(RngTest, LoadStateContinuesExactly) {
  Rng rng(123);
  Draws(rng, 17);
  rng.Gaussian(0.0f, 1.0f);  // a spare normal is now pending
  const std::string state = rng.SaveState();
  const std::vector<double> expected = Draws(rng, 40);
  Rng restored(555);
  ASSERT_TRUE(restored.LoadState(state));
  EXPECT_EQ(Draws(restored, 40), expected);
}

TEST(RngTest, LoadStateRestoresThePendingGaussianBitForBit) {
  Rng rng(321);
  rng.Gaussian(0.0f, 1.0f);
  const std::string state = rng.SaveState();
  const float spare = rng.Gaussian(2.0f, 3.0f);
  Rng restored;
  ASSERT_TRUE(restored.LoadState(state));
  EXPECT_EQ(restored.Gaussian(2.0f, 3.0f), spare);
  // The spare was consumed, not repeated.
  EXPECT_EQ(restored.Gaussian(0.0f, 1.0f), rng.Gaussian(0.0f, 1.0f));
}

TEST(RngTest, LoadStateRejectsGarbageAndKeepsItsState) {
  Rng reference(77), rng(77);
  const std::string good = Rng(5).SaveState();
  const std::vector<std::string> bad = {
      "",
      "hello",
      "mt19937",
      "mt19937 1 2 3",
      good.substr(0, good.size() / 2),
      good.substr(0, good.find(" spare")) + " extra 0 0",
      "pcg32" + good.substr(good.find(' ')),
  };
  for (const std::string& state : bad) {
    EXPECT_FALSE(rng.LoadState(state)) << "'" << state.substr(0, 40) << "'";
  }
  EXPECT_EQ(Draws(rng, 10), Draws(reference, 10));
}

// Distributions.

TEST(RngTest, Uniform01LiesInZeroOneWithTwentyFourBits) {
  Rng rng(1);
  double sum = 0;
  float lo = 1.0f, hi = 0.0f;
  for (int i = 0; i < 100000; ++i) {
    const float u = rng.Uniform01();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    ASSERT_EQ(u * 16777216.0f, std::floor(u * 16777216.0f)) << u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  EXPECT_NEAR(sum / 1e5, 0.5, 0.005);
  EXPECT_LT(lo, 1e-4f);
  EXPECT_GT(hi, 1.0f - 1e-4f);
}

TEST(RngTest, UniformStaysInItsInterval) {
  Rng rng(2);
  for (int i = 0; i < 10000; ++i) {
    const float x = rng.Uniform(-3.0f, -1.0f);
    ASSERT_GE(x, -3.0f);
    ASSERT_LE(x, -1.0f);
  }
}

TEST(RngTest, UniformIntStaysBelowN) {
  Rng rng(3);
  for (std::uint32_t n : {1u, 2u, 3u, 7u, 1000u, 0x80000001u, 0xFFFFFFFFu}) {
    std::uint32_t hi = 0;
    for (int i = 0; i < 2000; ++i) {
      const std::uint32_t r = rng.UniformInt(n);
      ASSERT_LT(r, n) << "n " << n;
      hi = std::max(hi, r);
    }
    // Large ranges reach their upper half.
    if (n > 1) {
      EXPECT_GE(hi, n / 2) << "n " << n;
    }
  }
}

TEST(RngTest, UniformIntIsRoughlyUniform) {
  Rng rng(4);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.UniformInt(7)];
  // Each count is 10000 with a standard error of about 93.
  for (int k = 0; k < 7; ++k) EXPECT_NEAR(counts[static_cast<std::size_t>(k)], 10000, 500) << k;
}

TEST(RngTest, GaussianHasTheRequestedMoments) {
  Rng rng(5);
  double sum = 0, sum_sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.Gaussian(-1.0f, 0.5f);
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, -1.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 0.5, 0.01);
}

TEST(RngTest, BernoulliHitsWithProbabilityP) {
  Rng rng(6);
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += rng.Bernoulli(0.3f) ? 1 : 0;
  EXPECT_NEAR(hits / 1e5, 0.3, 0.01);
  EXPECT_FALSE(rng.Bernoulli(0.0f));
  EXPECT_TRUE(rng.Bernoulli(1.0f));
}

}  // namespace
}  // namespace fcn::test
