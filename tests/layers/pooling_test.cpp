// SPDX-License-Identifier: BSD-2-Clause
// Pooling layer: configuration errors, Caffe's output sizes (ceil rounding, pad clipping),
// MAX/AVE forward and backward against plain loops, tie breaking, and finite differences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fcn/rng.h"
#include "layers/pooling_kernels.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetValues;

using ::testing::HasSubstr;

std::string PoolingText(const std::string& pooling_param, int num_tops = 1) {
  std::string text = R"pb(name: "pool" type: "Pooling" bottom: "x" top: "y")pb";
  if (num_tops > 1) text += R"pb(top: "mask")pb";
  return text + "pooling_param { " + pooling_param + " }";
}

// Distinct values (a shuffled grid spaced 0.1 apart), so that no window has a tie and a
// finite-difference step below 0.05 never changes a window's maximum.
std::unique_ptr<Blob> DistinctBlob(const std::vector<std::int64_t>& shape, std::uint32_t seed) {
  auto blob = std::make_unique<Blob>(shape);
  const std::int64_t n = blob->count();
  std::vector<float> values;
  for (std::int64_t i = 0; i < n; ++i) values.push_back(0.1f * static_cast<float>(i - n / 2));
  Rng rng(seed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.UniformInt(static_cast<std::uint32_t>(i + 1)));
    std::swap(values[static_cast<std::size_t>(i)], values[static_cast<std::size_t>(j)]);
  }
  SetValues(blob.get(), values, /*diff=*/false);
  return blob;
}

// The plain definition of the pooling windows, written independently of the layer.
struct Window {
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

struct Pooled {
  std::vector<float> top;
  std::vector<float> argmax;  // MAX only: plane index y * W + x, or -1
};

// Top (ph, pw) looks at padded rows [ph*s - p, ph*s - p + k). MAX scans the in-image cells
// row by row and keeps a value only when strictly greater. AVE sums the in-image cells and
// divides by the number of cells of the window inside [-p, H + p) x [-p, W + p).
Pooled ReferencePool(const Blob& x, const Window& w, std::int64_t pooled_h, std::int64_t pooled_w,
                     bool average) {
  const std::int64_t planes = x.shape(0) * x.shape(1), h = x.shape(2), wd = x.shape(3);
  const float* in = x.cpu_data();
  Pooled out;
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    for (std::int64_t ph = 0; ph < pooled_h; ++ph) {
      for (std::int64_t pw = 0; pw < pooled_w; ++pw) {
        float best = -FLT_MAX;
        std::int64_t best_index = -1;
        double sum = 0.0;
        int cells = 0;
        for (std::int64_t i = 0; i < w.kernel_h; ++i) {
          for (std::int64_t j = 0; j < w.kernel_w; ++j) {
            const std::int64_t y = ph * w.stride_h - w.pad_h + i;
            const std::int64_t c = pw * w.stride_w - w.pad_w + j;
            if (y < h + w.pad_h && c < wd + w.pad_w) ++cells;
            if (y < 0 || y >= h || c < 0 || c >= wd) continue;
            const float v = in[(plane * h + y) * wd + c];
            sum += v;
            if (v > best) {
              best = v;
              best_index = y * wd + c;
            }
          }
        }
        out.top.push_back(average ? static_cast<float>(sum / cells) : best);
        out.argmax.push_back(static_cast<float>(best_index));
      }
    }
  }
  return out;
}

// Backward by scattering every top diff into its window.
std::vector<float> ReferencePoolBackward(const Blob& x, const Window& w, const Pooled& fwd,
                                         const std::vector<float>& dy, std::int64_t pooled_h,
                                         std::int64_t pooled_w, bool average) {
  const std::int64_t planes = x.shape(0) * x.shape(1), h = x.shape(2), wd = x.shape(3);
  std::vector<double> dx(static_cast<std::size_t>(x.count()), 0.0);
  std::size_t t = 0;
  for (std::int64_t plane = 0; plane < planes; ++plane) {
    for (std::int64_t ph = 0; ph < pooled_h; ++ph) {
      for (std::int64_t pw = 0; pw < pooled_w; ++pw, ++t) {
        if (!average) {
          dx[static_cast<std::size_t>(plane * h * wd) + static_cast<std::size_t>(fwd.argmax[t])] +=
              dy[t];
          continue;
        }
        int cells = 0;
        for (std::int64_t i = 0; i < w.kernel_h; ++i) {
          for (std::int64_t j = 0; j < w.kernel_w; ++j) {
            const std::int64_t y = ph * w.stride_h - w.pad_h + i;
            const std::int64_t c = pw * w.stride_w - w.pad_w + j;
            if (y < h + w.pad_h && c < wd + w.pad_w) ++cells;
          }
        }
        for (std::int64_t i = 0; i < w.kernel_h; ++i) {
          for (std::int64_t j = 0; j < w.kernel_w; ++j) {
            const std::int64_t y = ph * w.stride_h - w.pad_h + i;
            const std::int64_t c = pw * w.stride_w - w.pad_w + j;
            if (y < 0 || y >= h || c < 0 || c >= wd) continue;
            dx[static_cast<std::size_t>((plane * h + y) * wd + c)] += dy[t] / cells;
          }
        }
      }
    }
  }
  return std::vector<float>(dx.begin(), dx.end());
}

// 1. Configuration.

TEST(PoolingLayerConfig, RejectsEachInvalidParameterSet) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"kernel_size: 2 kernel_h: 2 kernel_w: 2", "kernel_size or kernel_h and kernel_w, not both"},
      {"stride: 2", "pooling needs kernel_size, or kernel_h and kernel_w"},
      {"kernel_h: 2", "kernel_h and kernel_w must be given together"},
      {"kernel_size: 0", "pooling kernel must be positive, got 0x0"},
      {"kernel_size: 3 pad: 1 pad_h: 1 pad_w: 1", "give pad or pad_h and pad_w, not both"},
      {"kernel_size: 3 pad_w: 1", "pad_h and pad_w must be given together"},
      {"kernel_size: 3 stride: 2 stride_h: 2 stride_w: 2",
       "give stride or stride_h and stride_w, not both"},
      {"kernel_size: 3 stride_h: 2", "stride_h and stride_w must be given together"},
      {"kernel_size: 3 stride_h: 0 stride_w: 1", "pooling stride must be positive, got 0x1"},
      {"global_pooling: true kernel_size: 3", "global_pooling takes the kernel from the input"},
      {"global_pooling: true stride: 2",
       "global_pooling requires pad 0 and stride 1, got pad 0x0 and stride 2x2"},
      {"global_pooling: true pad: 1", "global_pooling requires pad 0 and stride 1"},
      {"kernel_size: 3 pad: 3", "pad must be smaller than the kernel: pad 3x3, kernel 3x3"},
      {"kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2", "pad 1x2, kernel 3x2"},
      {"pool: STOCHASTIC kernel_size: 3 pad: 1",
       "padding is implemented only for MAX and AVE pooling, not STOCHASTIC"},
      {"pool: STOCHASTIC kernel_size: 3", "STOCHASTIC pooling is not supported"},
  };
  for (const auto& [param, message] : cases) {
    EXPECT_THAT(ConfigErrorOf([&] { MakeLayer(PoolingText(param)); }), HasSubstr(message)) << param;
  }
}

TEST(PoolingLayerConfig, RejectsMaskTopForAveragePooling) {
  auto layer = MakeLayer(PoolingText("pool: AVE kernel_size: 2", /*num_tops=*/2));
  Blob x({1, 1, 4, 4}), y, mask;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x}, {&y, &mask});
              }),
              HasSubstr("the second top (the argmax mask) exists only for MAX pooling, not AVE"));
}

TEST(PoolingLayerConfig, RejectsInputWithoutFourAxes) {
  auto layer = MakeLayer(PoolingText("kernel_size: 2"));
  Blob x({2, 3, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("Pooling input must have 4 axes (N x C x H x W), got 3 (shape 2x3x4)"));
}

TEST(PoolingLayerConfig, RejectsKernelLargerThanPaddedInput) {
  auto layer = MakeLayer(PoolingText("kernel_size: 5 pad: 1"));
  Blob x({1, 1, 6, 2}), y;
  EXPECT_THAT(
      ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
      HasSubstr("pooling kernel 5 is larger than the padded input 4 (width 2 + 2 * pad 1)"));
}

TEST(PoolingLayerConfig, RejectsThreeTops) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "Pooling"
                               bottom: "x"
                               top: "a"
                               top: "b"
                               top: "c"
                               pooling_param { kernel_size: 2 })pb");
              }),
              HasSubstr("Pooling takes 1 to 2 top blob(s), got 3"));
}

// 2. Shapes.

TEST(PoolingLayerShape, FollowsCaffeRoundingAndPadClipping) {
  struct Case {
    std::vector<std::int64_t> input;
    std::string param;
    std::vector<std::int64_t> output;
  };
  const std::vector<Case> cases = {
      // VGG's 2x2/2 rounds up: 349 -> 175.
      {{1, 64, 349, 349}, "kernel_size: 2 stride: 2", {1, 64, 175, 175}},
      {{1, 64, 350, 348}, "kernel_size: 2 stride: 2", {1, 64, 175, 174}},
      {{1, 64, 349, 349}, "kernel_size: 2 stride: 2 round_mode: FLOOR", {1, 64, 174, 174}},
      // AlexNet's 3x3/2: 55 -> 27, and ceil adds a partial window at 56 -> 28.
      {{2, 96, 55, 56}, "kernel_size: 3 stride: 2", {2, 96, 27, 28}},
      // Padding without clipping: windows start at -1, 1, 3 in a 5-row input.
      {{1, 1, 5, 5}, "kernel_size: 3 stride: 2 pad: 1", {1, 1, 3, 3}},
      // Ceil would add a 4th window starting at row 5, inside the trailing pad: clipped.
      {{1, 1, 5, 5}, "kernel_size: 2 stride: 2 pad: 1", {1, 1, 3, 3}},
      {{1, 1, 5, 5}, "kernel_size: 2 stride: 2 pad: 1 round_mode: FLOOR", {1, 1, 3, 3}},
      // Caffe clips both axes as soon as any pad is non-zero (here only pad_w).
      {{1, 1, 5, 4},
       "kernel_h: 1 kernel_w: 2 stride_h: 3 stride_w: 1 pad_h: 0 pad_w: 1",
       {1, 1, 2, 5}},
      {{1, 1, 5, 4}, "kernel_h: 1 kernel_w: 2 stride_h: 3 stride_w: 1", {1, 1, 3, 3}},
      {{3, 2, 7, 5}, "global_pooling: true", {3, 2, 1, 1}},
      {{3, 2, 7, 5}, "pool: AVE global_pooling: true", {3, 2, 1, 1}},
      {{1, 2, 9, 8}, "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3", {1, 2, 4, 3}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(PoolingText(c.param));
    Blob x(c.input), y;
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.output) << c.param << " on " << ShapeString(c.input);
  }
}

TEST(PoolingLayerShape, MaskTopTakesTheTopShapeAndReshapesOnForward) {
  auto layer = MakeLayer(PoolingText("kernel_size: 3 stride: 2", /*num_tops=*/2));
  Blob x({1, 2, 7, 7}), y, mask;
  layer->SetUp({&x}, {&y, &mask});
  EXPECT_EQ(mask.shape(), (std::vector<std::int64_t>{1, 2, 3, 3}));
  x.Reshape({2, 2, 9, 4});
  layer->Forward(ExecContext(), {&x}, {&y, &mask});
  EXPECT_EQ(y.shape(), (std::vector<std::int64_t>{2, 2, 4, 2}));
  EXPECT_EQ(mask.shape(), y.shape());
}

TEST(PoolingLayerShape, ReportsInternalArgmaxBytesOnlyWithoutMaskTop) {
  Blob x({2, 3, 8, 8}), y, mask;
  auto max_layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2"));
  max_layer->SetUp({&x}, {&y});
  // A window of at most 255 positions keeps one byte per argmax (its position in the window).
  EXPECT_EQ(max_layer->internal_bytes(), 2u * 3u * 4u * 4u * sizeof(std::uint8_t));
  Blob wide({2, 3, 16, 17}), one;
  auto global_layer = MakeLayer(PoolingText("global_pooling: true"));
  global_layer->SetUp({&wide}, {&one});
  EXPECT_EQ(global_layer->internal_bytes(), 2u * 3u * sizeof(int));  // 272 positions
  auto mask_layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2", /*num_tops=*/2));
  mask_layer->SetUp({&x}, {&y, &mask});
  EXPECT_EQ(mask_layer->internal_bytes(), 0u);
  auto ave_layer = MakeLayer(PoolingText("pool: AVE kernel_size: 2 stride: 2"));
  ave_layer->SetUp({&x}, {&y});
  EXPECT_EQ(ave_layer->internal_bytes(), 0u);
}

// 3. Forward and backward against the reference.

TEST(PoolingLayerForward, MaxWithPadMatchesReferenceAndMask) {
  auto x = GaussianBlob({2, 3, 7, 6}, /*seed=*/1701);
  Blob y, mask;
  auto layer = MakeLayer(PoolingText("kernel_size: 3 stride: 2 pad: 1", /*num_tops=*/2));
  layer->SetUp({x.get()}, {&y, &mask});
  layer->Forward(ExecContext(), {x.get()}, {&y, &mask});
  ASSERT_EQ(y.shape(), (std::vector<std::int64_t>{2, 3, 4, 4}));
  const Pooled expected = ReferencePool(*x, {3, 3, 2, 2, 1, 1}, 4, 4, /*average=*/false);
  EXPECT_TRUE(AllNear(Data(y), expected.top, 0.0f));
  EXPECT_EQ(Data(mask), expected.argmax);
}

TEST(PoolingLayerForward, MaxPaddingNeverWinsOverNegativeValues) {
  Blob x({1, 1, 3, 3}), y;
  SetValues(&x, std::vector<float>(9, -5.0f), /*diff=*/false);
  auto layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2 pad: 1"));
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(Data(y), std::vector<float>(4, -5.0f));
}

TEST(PoolingLayerForward, VggPoolingOfOddSizeMatchesReference) {
  auto x = GaussianBlob({1, 2, 349, 349}, /*seed=*/3);
  Blob y;
  auto layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  ASSERT_EQ(y.shape(), (std::vector<std::int64_t>{1, 2, 175, 175}));
  const Pooled expected = ReferencePool(*x, {2, 2, 2, 2, 0, 0}, 175, 175, /*average=*/false);
  EXPECT_TRUE(AllNear(Data(y), expected.top, 0.0f));
  // The last row and column pool a single input row or column.
  EXPECT_EQ(Data(y)[174], std::max(x->cpu_data()[348], x->cpu_data()[349 + 348]));
}

TEST(PoolingLayerForward, MaxTieKeepsFirstInScanOrder) {
  Blob x({1, 1, 2, 4}), y, mask;
  SetValues(&x,
            {1, 3, 3, 0,  //
             3, 2, 1, 3},
            /*diff=*/false);
  auto layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2", /*num_tops=*/2));
  layer->SetUp({&x}, {&y, &mask});
  layer->Forward(ExecContext(), {&x}, {&y, &mask});
  EXPECT_EQ(Data(y), (std::vector<float>{3, 3}));
  // Window 0 holds 3 at indices 1 and 4, window 1 at indices 2 and 7: the first one wins.
  EXPECT_EQ(Data(mask), (std::vector<float>{1, 2}));
  SetValues(&y, {10, 20}, /*diff=*/true);
  layer->Backward(ExecContext(), {&y, &mask}, {true}, {&x});
  EXPECT_EQ(Diff(x), (std::vector<float>{0, 10, 20, 0, 0, 0, 0, 0}));
}

TEST(PoolingLayerForward, AverageDivisorCountsPadButNotCeilOverhang) {
  // 4x4 ones, 3x3/2 pad 1: windows start at -1, 1, 3; the last one reaches row 5 but the
  // padded input ends at H + pad = 5, so it counts 2 rows, of which 1 is in the image.
  Blob x({1, 1, 4, 4}), y;
  SetValues(&x, std::vector<float>(16, 1.0f), /*diff=*/false);
  auto layer = MakeLayer(PoolingText("pool: AVE kernel_size: 3 stride: 2 pad: 1"));
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  const std::vector<float> expected = {4.0f / 9, 6.0f / 9, 2.0f / 6,  //
                                       6.0f / 9, 1.0f,     3.0f / 6,  //
                                       2.0f / 6, 3.0f / 6, 1.0f / 4};
  EXPECT_TRUE(AllNear(Data(y), expected, 1e-6f));
}

TEST(PoolingLayerForward, AverageWithPadMatchesReference) {
  auto x = GaussianBlob({2, 3, 7, 6}, /*seed=*/5);
  Blob y;
  auto layer = MakeLayer(
      PoolingText("pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 2 pad_h: 1 pad_w: 1"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  ASSERT_EQ(y.shape(), (std::vector<std::int64_t>{2, 3, 4, 4}));
  const Pooled expected = ReferencePool(*x, {3, 2, 2, 2, 1, 1}, 4, 4, /*average=*/true);
  EXPECT_TRUE(AllNear(Data(y), expected.top, 1e-6f, 1e-6f));
}

TEST(PoolingLayerForward, GlobalPoolingTakesWholePlane) {
  auto x = GaussianBlob({2, 3, 5, 4}, /*seed=*/9);
  Blob y_max, y_ave;
  auto max_layer = MakeLayer(PoolingText("global_pooling: true"));
  auto ave_layer = MakeLayer(PoolingText("pool: AVE global_pooling: true"));
  max_layer->SetUp({x.get()}, {&y_max});
  ave_layer->SetUp({x.get()}, {&y_ave});
  max_layer->Forward(ExecContext(), {x.get()}, {&y_max});
  ave_layer->Forward(ExecContext(), {x.get()}, {&y_ave});
  EXPECT_TRUE(AllNear(Data(y_max), ReferencePool(*x, {5, 4, 1, 1, 0, 0}, 1, 1, false).top, 0.0f));
  EXPECT_TRUE(
      AllNear(Data(y_ave), ReferencePool(*x, {5, 4, 1, 1, 0, 0}, 1, 1, true).top, 1e-6f, 1e-6f));
}

TEST(PoolingLayerBackward, MaxOverlappingWindowsAccumulate) {
  auto x = DistinctBlob({2, 2, 7, 7}, /*seed=*/11);
  Blob y;
  auto layer = MakeLayer(PoolingText("kernel_size: 3 stride: 2 pad: 1"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  FillGaussian(&y, /*seed=*/12);
  const std::vector<float> dy = Data(y);
  SetValues(&y, dy, /*diff=*/true);
  SetValues(x.get(), std::vector<float>(static_cast<std::size_t>(x->count()), 9.0f), true);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  const Window w{3, 3, 2, 2, 1, 1};
  const Pooled fwd = ReferencePool(*x, w, 4, 4, /*average=*/false);
  EXPECT_TRUE(AllNear(Diff(*x), ReferencePoolBackward(*x, w, fwd, dy, 4, 4, false), 1e-6f));
}

TEST(PoolingLayerBackward, AverageWithPadMatchesReference) {
  auto x = GaussianBlob({2, 2, 6, 7}, /*seed=*/13);
  Blob y;
  auto layer = MakeLayer(PoolingText("pool: AVE kernel_size: 3 stride: 2 pad: 1"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  ASSERT_EQ(y.shape(), (std::vector<std::int64_t>{2, 2, 4, 4}));
  FillGaussian(&y, /*seed=*/14);
  const std::vector<float> dy = Data(y);
  SetValues(&y, dy, /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  const Window w{3, 3, 2, 2, 1, 1};
  const Pooled fwd = ReferencePool(*x, w, 4, 4, /*average=*/true);
  EXPECT_TRUE(AllNear(Diff(*x), ReferencePoolBackward(*x, w, fwd, dy, 4, 4, true), 1e-6f, 1e-5f));
}

TEST(PoolingLayerBackward, LeavesBottomDiffWhenNotPropagating) {
  auto x = GaussianBlob({1, 1, 4, 4}, /*seed=*/15);
  Blob y;
  auto layer = MakeLayer(PoolingText("kernel_size: 2 stride: 2"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetValues(x.get(), std::vector<float>(16, 9.0f), /*diff=*/true);
  SetValues(&y, std::vector<float>(4, 1.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(16, 9.0f));
}

// 4. Finite differences. MAX inputs are spaced 0.1 apart, far from ties for a 1e-2 step.

TEST(PoolingLayerGradient, MaxMatchesFiniteDifferences) {
  auto x = DistinctBlob({2, 2, 6, 5}, /*seed=*/21);
  Blob y;
  auto layer = MakeLayer(PoolingText("kernel_size: 3 stride: 2 pad: 1"));
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(PoolingLayerGradient, MaxWithMaskTopMatchesFiniteDifferences) {
  auto x = DistinctBlob({1, 2, 5, 6}, /*seed=*/22);
  Blob y, mask;
  auto layer = MakeLayer(PoolingText("kernel_h: 3 kernel_w: 2 stride: 1", /*num_tops=*/2));
  layer->SetUp({x.get()}, {&y, &mask});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y, &mask});
}

TEST(PoolingLayerGradient, AverageWithPadMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 2, 6, 5}, /*seed=*/23);
  Blob y;
  auto layer = MakeLayer(PoolingText("pool: AVE kernel_size: 3 stride: 2 pad: 1"));
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(PoolingLayerGradient, GlobalAverageMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 3}, /*seed=*/24);
  Blob y;
  auto layer = MakeLayer(PoolingText("pool: AVE global_pooling: true"));
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

// 5. In place: not allowed (the top is smaller than the bottom).

TEST(PoolingLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(PoolingText("kernel_size: 2"))->schema().in_place);
}

// The CPU's per-plane scatter and the per-element gather (the GPU's) give the same floats,
// with overlapping windows (kernel 3, stride 2), padding and ties.
TEST(PoolingKernels, PlaneScatterEqualsElementGather) {
  kernels::PoolGeometry g{9, 8, 5, 4, 3, 3, 2, 2, 1, 1};
  const std::int64_t planes = 3;
  auto bottom = GaussianBlob({1, planes, g.height, g.width}, 11);
  float* b = bottom->mutable_cpu_data();
  b[5] = b[6];  // a tie inside one window
  const std::int64_t pooled = planes * g.pooled_height * g.pooled_width;
  std::vector<float> top(static_cast<std::size_t>(pooled));
  std::vector<int> argmax(top.size());
  const kernels::MaxPoolForward<int> forward{b, top.data(), argmax.data(), g};
  for (std::int64_t i = 0; i < pooled; ++i) forward(i);
  auto top_diff = GaussianBlob({pooled}, 12);
  const std::int64_t count = planes * g.height * g.width;
  std::vector<float> gathered(static_cast<std::size_t>(count), -1.0f);
  std::vector<float> scattered(static_cast<std::size_t>(count), -1.0f);
  const kernels::MaxPoolBackward<int> gather{top_diff->cpu_data(), argmax.data(), gathered.data(),
                                             g};
  for (std::int64_t i = 0; i < count; ++i) gather(i);
  const kernels::MaxPoolBackwardPlane<int> scatter{top_diff->cpu_data(), argmax.data(),
                                                   scattered.data(), g};
  for (std::int64_t p = 0; p < planes; ++p) scatter(p);
  EXPECT_EQ(scattered, gathered);
  EXPECT_GT(std::count(gathered.begin(), gathered.end(), 0.0f), 0);  // some never chosen

  // The compact argmax (each window position in a byte) names the same elements, and both
  // backward forms give the same floats from it.
  std::vector<std::uint8_t> compact(top.size());
  std::vector<float> top_again(top.size());
  const kernels::MaxPoolForward<std::uint8_t> compact_forward{b, top_again.data(), compact.data(),
                                                              g};
  for (std::int64_t i = 0; i < pooled; ++i) compact_forward(i);
  EXPECT_EQ(top_again, top);
  for (std::int64_t i = 0; i < pooled; ++i) {
    EXPECT_EQ(kernels::ArgmaxAt(compact.data(), i, g), argmax[static_cast<std::size_t>(i)]) << i;
    EXPECT_LT(compact[static_cast<std::size_t>(i)], 9) << i;
  }
  std::vector<float> compact_gathered(static_cast<std::size_t>(count), -1.0f);
  std::vector<float> compact_scattered(static_cast<std::size_t>(count), -1.0f);
  const kernels::MaxPoolBackward<std::uint8_t> compact_gather{top_diff->cpu_data(), compact.data(),
                                                              compact_gathered.data(), g};
  for (std::int64_t i = 0; i < count; ++i) compact_gather(i);
  const kernels::MaxPoolBackwardPlane<std::uint8_t> compact_scatter{
      top_diff->cpu_data(), compact.data(), compact_scattered.data(), g};
  for (std::int64_t p = 0; p < planes; ++p) compact_scatter(p);
  EXPECT_EQ(compact_gathered, gathered);
  EXPECT_EQ(compact_scattered, gathered);
}

// A window of more than 255 positions keeps the plane index as int: global max pooling of a
// 16x17 plane, forward and backward against the reference.
TEST(PoolingLayerBackward, GlobalMaxOfALargePlaneMatchesReference) {
  auto x = DistinctBlob({2, 2, 16, 17}, /*seed=*/21);
  Blob y;
  auto layer = MakeLayer(PoolingText("global_pooling: true"));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  const Window w{16, 17, 1, 1, 0, 0};
  const Pooled fwd = ReferencePool(*x, w, 1, 1, /*average=*/false);
  EXPECT_EQ(Data(y), fwd.top);
  FillGaussian(&y, /*seed=*/22);
  const std::vector<float> dy = Data(y);
  SetValues(&y, dy, /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), ReferencePoolBackward(*x, w, fwd, dy, 1, 1, false), 0.0f));
}

}  // namespace
}  // namespace fcn::test
