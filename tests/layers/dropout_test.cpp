// SPDX-License-Identifier: BSD-2-Clause
// Dropout layer: ratio validation, shapes, the TRAIN mask (fraction, scale, seeding), the TEST
// identity, finite-difference gradients with a reseeded RNG, and in place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/rng.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

std::string DropoutText(const std::string& extra, const std::string& top = "y") {
  return R"pb(name: "drop" type: "Dropout" bottom: "x" top: ")pb" + top + "\" " + extra;
}

// Runs a fresh layer's forward pass on x with the layer's RNG seeded to `seed`.
std::vector<float> ForwardWithSeed(const std::string& text, Blob* x, std::int64_t seed) {
  auto layer = MakeLayer(text);
  Blob y;
  layer->SetUp({x}, {&y});
  layer->rng().Seed(static_cast<std::uint64_t>(seed));
  layer->Forward(ExecContext(), {x}, {&y});
  return Data(y);
}

// 1. Configuration.

TEST(DropoutLayerConfig, RejectsRatioOutsideZeroToOne) {
  for (const char* ratio : {"1", "1.5", "-0.1", "nan"}) {
    EXPECT_THAT(
        ConfigErrorOf([&] {
          MakeLayer(DropoutText(std::string("dropout_param { dropout_ratio: ") + ratio + " }"));
        }),
        HasSubstr("dropout_ratio must be in [0, 1), got"))
        << ratio;
  }
}

TEST(DropoutLayerConfig, NamesTheRejectedRatio) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(DropoutText("dropout_param { dropout_ratio: 2 }")); }),
              HasSubstr("got 2"));
}

// 2. Shapes.

TEST(DropoutLayerShape, TopTakesTheBottomShapeInBothPhases) {
  const std::vector<std::vector<std::int64_t>> shapes = {{2, 3, 4, 5}, {127}, {1, 4096, 1, 1}};
  for (const char* phase : {"phase: TRAIN", "phase: TEST"}) {
    for (const auto& shape : shapes) {
      auto layer = MakeLayer(DropoutText(phase));
      Blob x(shape), y;
      layer->SetUp({&x}, {&y});
      EXPECT_EQ(y.shape(), shape) << phase << " " << ShapeString(shape);
    }
  }
}

TEST(DropoutLayerShape, OnlyTrainingKeepsAMask) {
  Blob x({2, 3, 4, 5}), y;
  auto train = MakeLayer(DropoutText("phase: TRAIN"));
  train->SetUp({&x}, {&y});
  EXPECT_EQ(train->internal_bytes(), 120 * sizeof(float));
  auto test = MakeLayer(DropoutText("phase: TEST"));
  test->SetUp({&x}, {&y});
  EXPECT_EQ(test->internal_bytes(), 0u);
}

// 3. Forward and backward.

TEST(DropoutLayerForward, TrainKeepsAboutOneMinusRatioScaled) {
  // 100000 inputs in [1, 2): a zero output can only come from the mask.
  auto x = UniformBlob({1, 2, 200, 250}, /*seed=*/5, 1.0f, 2.0f);
  const std::vector<float> y =
      ForwardWithSeed(DropoutText("dropout_param { dropout_ratio: 0.3 }"), x.get(), 1701);
  const std::vector<float> in = Data(*x);
  const float scale = 1.0f / 0.7f;
  std::int64_t kept = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f) continue;
    ++kept;
    ASSERT_NEAR(y[i], in[i] * scale, 1e-6f * in[i] * scale) << "element " << i;
  }
  // The kept fraction's standard error is sqrt(0.7 * 0.3 / 1e5) = 0.0015.
  EXPECT_NEAR(static_cast<double>(kept) / static_cast<double>(y.size()), 0.7, 0.01);
}

TEST(DropoutLayerForward, DefaultRatioIsOneHalf) {
  auto x = UniformBlob({1, 1, 100, 100}, /*seed=*/6, 1.0f, 2.0f);
  const std::vector<float> y = ForwardWithSeed(DropoutText(""), x.get(), 3);
  const std::vector<float> in = Data(*x);
  std::int64_t kept = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 0.0f) continue;
    ++kept;
    ASSERT_FLOAT_EQ(y[i], 2.0f * in[i]);
  }
  EXPECT_NEAR(static_cast<double>(kept) / 1e4, 0.5, 0.03);
}

TEST(DropoutLayerForward, ZeroRatioKeepsEverything) {
  auto x = GaussianBlob({3, 7}, /*seed=*/9);
  EXPECT_EQ(ForwardWithSeed(DropoutText("dropout_param { dropout_ratio: 0 }"), x.get(), 4),
            Data(*x));
}

TEST(DropoutLayerForward, SameSeedGivesSameMask) {
  auto x = UniformBlob({4, 5, 6, 7}, /*seed=*/10, 1.0f, 2.0f);
  const std::string text = DropoutText("dropout_param { dropout_ratio: 0.4 }");
  const std::vector<float> first = ForwardWithSeed(text, x.get(), 42);
  EXPECT_EQ(ForwardWithSeed(text, x.get(), 42), first);
  EXPECT_NE(ForwardWithSeed(text, x.get(), 43), first);
}

TEST(DropoutLayerForward, DrawsANewMaskEveryPass) {
  auto x = UniformBlob({4, 5, 6, 7}, /*seed=*/11, 1.0f, 2.0f);
  auto layer = MakeLayer(DropoutText(""));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->rng().Seed(1);
  layer->Forward(ExecContext(), {x.get()}, {&y});
  const std::vector<float> first = Data(y);
  layer->Forward(ExecContext(), {x.get()}, {&y});
  EXPECT_NE(Data(y), first);
}

TEST(DropoutLayerForward, TestPhaseIsIdentity) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/12);
  EXPECT_EQ(
      ForwardWithSeed(DropoutText("phase: TEST dropout_param { dropout_ratio: 0.9 }"), x.get(), 5),
      Data(*x));
}

TEST(DropoutLayerBackward, TrainAppliesTheForwardMaskAndScale) {
  auto x = UniformBlob({2, 3, 8, 9}, /*seed=*/13, 1.0f, 2.0f);
  auto layer = MakeLayer(DropoutText("dropout_param { dropout_ratio: 0.25 }"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->rng().Seed(14);
  layer->Forward(ExecContext(), {x.get()}, {&y});
  const std::vector<float> out = Data(y);
  auto dy = GaussianBlob(y.shape(), /*seed=*/15);
  std::copy(dy->cpu_data(), dy->cpu_data() + dy->count(), y.mutable_cpu_diff());
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  // Reference: the mask is where the output is non-zero (every input is >= 1).
  std::vector<float> expected;
  for (std::size_t i = 0; i < out.size(); ++i) {
    expected.push_back(out[i] != 0.0f ? Data(*dy)[i] / 0.75f : 0.0f);
  }
  EXPECT_TRUE(AllNear(Diff(*x), expected, 0.0f, 1e-6f));
}

TEST(DropoutLayerBackward, TestPhaseCopiesTheTopDiff) {
  auto x = GaussianBlob({2, 3, 4}, /*seed=*/16);
  auto layer = MakeLayer(DropoutText("phase: TEST"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  FillGaussian(&y, /*seed=*/17);
  std::copy(y.cpu_data(), y.cpu_data() + y.count(), y.mutable_cpu_diff());
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_EQ(Diff(*x), Diff(y));
}

// 4. Finite differences; the checker reseeds the layer's RNG before every forward pass, so
// every evaluation sees the same mask.

TEST(DropoutLayerGradient, TrainMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/18);
  auto layer = MakeLayer(DropoutText("dropout_param { dropout_ratio: 0.3 }"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(DropoutLayerGradient, TestMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/19);
  auto layer = MakeLayer(DropoutText("phase: TEST"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

// 5. In place.

TEST(DropoutLayerInPlace, MatchesOutOfPlace) {
  const std::string extra = "dropout_param { dropout_ratio: 0.4 }";
  auto x = GaussianBlob({3, 4, 5, 6}, /*seed=*/20);
  auto x_in_place = GaussianBlob({3, 4, 5, 6}, /*seed=*/20);
  auto dy = GaussianBlob({3, 4, 5, 6}, /*seed=*/21);
  auto out_of_place = MakeLayer(DropoutText(extra));
  auto in_place = MakeLayer(DropoutText(extra, "x"));
  Blob y;
  out_of_place->SetUp({x.get()}, {&y});
  in_place->SetUp({x_in_place.get()}, {x_in_place.get()});

  out_of_place->rng().Seed(22);
  out_of_place->Forward(ExecContext(), {x.get()}, {&y});
  in_place->rng().Seed(22);
  in_place->Forward(ExecContext(), {x_in_place.get()}, {x_in_place.get()});
  EXPECT_EQ(Data(*x_in_place), Data(y));

  std::copy(dy->cpu_data(), dy->cpu_data() + dy->count(), y.mutable_cpu_diff());
  std::copy(dy->cpu_data(), dy->cpu_data() + dy->count(), x_in_place->mutable_cpu_diff());
  out_of_place->Backward(ExecContext(), {&y}, {true}, {x.get()});
  in_place->Backward(ExecContext(), {x_in_place.get()}, {true}, {x_in_place.get()});
  EXPECT_EQ(Diff(*x_in_place), Diff(*x));
}

}  // namespace
}  // namespace fcn::test
