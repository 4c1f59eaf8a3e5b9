// SPDX-License-Identifier: BSD-2-Clause
// LRN layer: configuration errors, shapes, ACROSS_CHANNELS and WITHIN_CHANNEL forward against
// plain loops (window clipping, Caffe's divisors, k unused within a channel), and finite
// differences for both regions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string LrnText(const std::string& lrn_param) {
  return R"pb(name: "norm1" type: "LRN" bottom: "x" top: "y" lrn_param {)pb" + lrn_param + " }";
}

// y = x * s^-beta with s computed by looping over the window of every element, in double.
//   across: s = k + alpha / n * sum over channels c-r..c+r inside [0, C) of x^2
//   within: s = 1 + alpha / n^2 * sum over the n x n square around (h, w) inside the image
std::vector<float> ReferenceLrn(const Blob& x, int n, double alpha, double beta, double k,
                                bool across) {
  const std::int64_t N = x.shape(0), C = x.shape(1), H = x.shape(2), W = x.shape(3);
  const int r = (n - 1) / 2;
  auto at = [&](std::int64_t a, std::int64_t c, std::int64_t h, std::int64_t w) {
    return static_cast<double>(x.cpu_data()[((a * C + c) * H + h) * W + w]);
  };
  std::vector<float> y;
  for (std::int64_t a = 0; a < N; ++a) {
    for (std::int64_t c = 0; c < C; ++c) {
      for (std::int64_t h = 0; h < H; ++h) {
        for (std::int64_t w = 0; w < W; ++w) {
          double sum = 0.0;
          double s = 0.0;
          if (across) {
            for (std::int64_t cc = c - r; cc <= c + r; ++cc) {
              if (cc >= 0 && cc < C) sum += at(a, cc, h, w) * at(a, cc, h, w);
            }
            s = k + alpha / n * sum;
          } else {
            for (std::int64_t hh = h - r; hh <= h + r; ++hh) {
              for (std::int64_t ww = w - r; ww <= w + r; ++ww) {
                if (hh >= 0 && hh < H && ww >= 0 && ww < W)
                  sum += at(a, c, hh, ww) * at(a, c, hh, ww);
              }
            }
            s = 1.0 + alpha / (n * n) * sum;
          }
          y.push_back(static_cast<float>(at(a, c, h, w) * std::pow(s, -beta)));
        }
      }
    }
  }
  return y;
}

std::vector<float> RunForward(const std::string& param, Blob* x) {
  auto layer = MakeLayer(LrnText(param));
  Blob y;
  layer->SetUp({x}, {&y});
  layer->Forward(ExecContext(), {x}, {&y});
  return Data(y);
}

// 1. Configuration.

TEST(LRNLayerConfig, RejectsEvenLocalSize) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(LrnText("local_size: 4")); }),
              HasSubstr("LRN local_size must be odd, got 4"));
  EXPECT_THAT(
      ConfigErrorOf([] { MakeLayer(LrnText("local_size: 0 norm_region: WITHIN_CHANNEL")); }),
      HasSubstr("LRN local_size must be odd, got 0"));
}

TEST(LRNLayerConfig, RejectsInputWithoutFourAxes) {
  auto layer = MakeLayer(LrnText(""));
  Blob x({2, 3, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("LRN input must have 4 axes (N x C x H x W), got 3 (shape 2x3x4)"));
}

// 2. Shapes.

TEST(LRNLayerShape, TopTakesTheBottomShape) {
  const std::vector<Shape> shapes = {{1, 96, 55, 55}, {2, 3, 4, 5}, {1, 1, 1, 1}, {2, 7, 1, 3}};
  for (const char* region : {"ACROSS_CHANNELS", "WITHIN_CHANNEL"}) {
    for (const Shape& shape : shapes) {
      auto layer = MakeLayer(LrnText(std::string("norm_region: ") + region));
      Blob x(shape), y({3});
      layer->SetUp({&x}, {&y});
      EXPECT_EQ(y.shape(), shape) << region << " " << ShapeString(shape);
    }
  }
}

// 3. Forward against the reference.

TEST(LRNLayerForward, AcrossChannelsMatchesLoopsForFcnAlexNetParameters) {
  // FCN-AlexNet's norm1/norm2: local_size 5, alpha 1e-4, beta 0.75 (k 1). Large inputs so that
  // the normalisation is visible at this alpha.
  auto x = GaussianBlob({2, 7, 3, 4}, /*seed=*/1, 0.0f, 30.0f);
  const std::vector<float> y = RunForward("local_size: 5 alpha: 1e-4 beta: 0.75", x.get());
  EXPECT_TRUE(AllNear(y, ReferenceLrn(*x, 5, 1e-4, 0.75, 1.0, true), 1e-5f, 1e-5f));
  EXPECT_FALSE(AllNear(y, Data(*x), 1e-3f, 1e-3f));
}

TEST(LRNLayerForward, AcrossChannelsUsesKAndClipsTheChannelWindow) {
  for (int n : {1, 3, 5, 9}) {
    auto x = GaussianBlob({2, 6, 3, 2}, /*seed=*/2);
    const std::string param = "local_size: " + std::to_string(n) + " alpha: 2 beta: 0.6 k: 3";
    EXPECT_TRUE(
        AllNear(RunForward(param, x.get()), ReferenceLrn(*x, n, 2.0, 0.6, 3.0, true), 1e-6f, 1e-5f))
        << "local_size " << n;
  }
}

TEST(LRNLayerForward, AcrossChannelsKnownValues) {
  // One position, channels {1, 2, 3}, local_size 3, alpha 3 (alpha / n = 1), beta 1, k 1:
  // s = {1 + 1 + 4, 1 + 1 + 4 + 9, 1 + 4 + 9} = {6, 15, 14}.
  Blob x({1, 3, 1, 1});
  for (int c = 0; c < 3; ++c) x.mutable_cpu_data()[c] = static_cast<float>(c + 1);
  const std::vector<float> y = RunForward("local_size: 3 alpha: 3 beta: 1", &x);
  EXPECT_TRUE(AllNear(y, {1.0f / 6, 2.0f / 15, 3.0f / 14}, 1e-7f, 1e-6f));
}

TEST(LRNLayerForward, WithinChannelMatchesLoopsAndIgnoresK) {
  for (int n : {1, 3, 5}) {
    auto x = GaussianBlob({2, 3, 5, 4}, /*seed=*/3);
    const std::string param =
        "norm_region: WITHIN_CHANNEL local_size: " + std::to_string(n) + " alpha: 2 beta: 0.75";
    const std::vector<float> expected = ReferenceLrn(*x, n, 2.0, 0.75, 1.0, false);
    EXPECT_TRUE(AllNear(RunForward(param, x.get()), expected, 1e-6f, 1e-5f)) << "local_size " << n;
    // Caffe builds WITHIN_CHANNEL as (1 + alpha * avepool(x^2))^-beta: k never enters.
    EXPECT_TRUE(AllNear(RunForward(param + " k: 7", x.get()), expected, 1e-6f, 1e-5f))
        << "local_size " << n;
  }
}

TEST(LRNLayerForward, WithinChannelDividesByTheFullWindowAtBorders) {
  // A 1x1 image with local_size 3: the window holds 1 cell, but the divisor stays 3 * 3 (AVE
  // pooling counts the padding): s = 1 + alpha * 4 / 9 with x = 2, alpha 9/4 -> s = 2.
  Blob x({1, 1, 1, 1});
  x.mutable_cpu_data()[0] = 2.0f;
  const std::vector<float> y =
      RunForward("norm_region: WITHIN_CHANNEL local_size: 3 alpha: 2.25 beta: 1", &x);
  EXPECT_TRUE(AllNear(y, {1.0f}, 1e-6f, 1e-6f));
}

// 4. Finite differences.

TEST(LRNLayerGradient, AcrossChannelsMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 7, 3, 3}, /*seed=*/11);
  auto layer = MakeLayer(LrnText("local_size: 5 alpha: 1 beta: 0.75 k: 2"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(LRNLayerGradient, AcrossChannelsFcnAlexNetParametersMatchFiniteDifferences) {
  auto x = GaussianBlob({1, 6, 3, 3}, /*seed=*/12, 0.0f, 20.0f);
  auto layer = MakeLayer(LrnText("local_size: 5 alpha: 1e-4 beta: 0.75"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(LRNLayerGradient, WithinChannelMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 2, 4, 5}, /*seed=*/13);
  auto layer = MakeLayer(LrnText("norm_region: WITHIN_CHANNEL local_size: 3 alpha: 3 beta: 0.75"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(LRNLayerBackward, SkipsBottomThatDoesNotPropagate) {
  auto x = GaussianBlob({1, 3, 2, 2}, /*seed=*/14);
  auto layer = MakeLayer(LrnText("local_size: 3"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  std::fill(y.mutable_cpu_diff(), y.mutable_cpu_diff() + y.count(), 1.0f);
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), 9.0f);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(12, 9.0f));
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_NE(Diff(*x), std::vector<float>(12, 9.0f));
}

// 5. In place: not allowed (the gradient reads both x and y).

TEST(LRNLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(LrnText(""))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
