// SPDX-License-Identifier: BSD-2-Clause
// Softmax layer: configuration errors, shapes, forward and backward against plain loops on
// several axes, overflow safety, finite differences, and in place against out of place.
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

using test::SetValues;

using ::testing::HasSubstr;

std::string SoftmaxText(const std::string& softmax_param, const std::string& top = "y") {
  return R"pb(name: "prob" type: "Softmax" bottom: "x")pb" + ("top: \"" + top + "\" ") +
         "softmax_param { " + softmax_param + " }";
}

// The blob seen as outer x C x inner around `axis` (already canonical).
struct Split3 {
  std::int64_t outer = 1, channels = 1, inner = 1;
};

Split3 SplitAt(const std::vector<std::int64_t>& shape, int axis) {
  Split3 s;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    const std::int64_t d = shape[static_cast<std::size_t>(i)];
    if (i < axis) s.outer *= d;
    if (i == axis) s.channels = d;
    if (i > axis) s.inner *= d;
  }
  return s;
}

// y = exp(x) / sum exp(x) in double (x - max for safety).
std::vector<float> ReferenceSoftmax(const std::vector<float>& x, const Split3& s) {
  std::vector<float> y(x.size());
  for (std::int64_t o = 0; o < s.outer; ++o) {
    for (std::int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](std::int64_t c) {
        return static_cast<std::size_t>((o * s.channels + c) * s.inner + i);
      };
      double m = x[at(0)];
      for (std::int64_t c = 1; c < s.channels; ++c) m = std::max(m, static_cast<double>(x[at(c)]));
      double sum = 0.0;
      for (std::int64_t c = 0; c < s.channels; ++c) sum += std::exp(x[at(c)] - m);
      for (std::int64_t c = 0; c < s.channels; ++c)
        y[at(c)] = static_cast<float>(std::exp(x[at(c)] - m) / sum);
    }
  }
  return y;
}

// dx_c = y_c * (dy_c - sum_c' dy_c' y_c').
std::vector<float> ReferenceSoftmaxBackward(const std::vector<float>& y,
                                            const std::vector<float>& dy, const Split3& s) {
  std::vector<float> dx(y.size());
  for (std::int64_t o = 0; o < s.outer; ++o) {
    for (std::int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](std::int64_t c) {
        return static_cast<std::size_t>((o * s.channels + c) * s.inner + i);
      };
      double dot = 0.0;
      for (std::int64_t c = 0; c < s.channels; ++c)
        dot += static_cast<double>(dy[at(c)]) * y[at(c)];
      for (std::int64_t c = 0; c < s.channels; ++c)
        dx[at(c)] = static_cast<float>(y[at(c)] * (dy[at(c)] - dot));
    }
  }
  return dx;
}

// 1. Configuration.

TEST(SoftmaxLayerConfig, RejectsAxisOutOfRange) {
  for (const char* axis : {"axis: 4", "axis: -5"}) {
    auto layer = MakeLayer(SoftmaxText(axis));
    Blob x({2, 3, 4, 5}), y;
    EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
                HasSubstr("out of range for a 4-D blob of shape 2x3x4x5"))
        << axis;
  }
}

TEST(SoftmaxLayerConfig, RejectsTwoBottoms) {
  EXPECT_THAT(
      ConfigErrorOf([] { MakeLayer(R"pb(type: "Softmax" bottom: "a" bottom: "b" top: "y")pb"); }),
      HasSubstr("Softmax takes 1 bottom blob(s), got 2"));
}

TEST(SoftmaxLayerConfig, RejectsParametersOfAnotherType) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "Softmax"
                               bottom: "x"
                               top: "y"
                               loss_param { ignore_label: 1 })pb");
              }),
              HasSubstr("loss_param does not apply to a Softmax layer"));
}

// 2. Shapes.

TEST(SoftmaxLayerShape, TopTakesTheBottomShapeForAnyAxis) {
  struct Case {
    std::vector<std::int64_t> shape;
    std::string param;
  };
  const std::vector<Case> cases = {{{2, 21, 4, 5}, ""},
                                   {{2, 21, 4, 5}, "axis: -1"},
                                   {{7, 10}, "axis: 0"},
                                   {{1, 21, 1, 1}, "axis: 3"},
                                   {{3, 0, 2}, ""}};
  for (const Case& c : cases) {
    auto layer = MakeLayer(SoftmaxText(c.param));
    Blob x(c.shape), y({3});
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.shape) << c.param;
    // Forward reshapes again after the bottom changed.
    x.Reshape({2, 3, 1, 2});
    layer->Forward(ExecContext(), {&x}, {&y});
    EXPECT_EQ(y.shape(), (std::vector<std::int64_t>{2, 3, 1, 2})) << c.param;
  }
}

// 3. Forward and backward against the reference.

TEST(SoftmaxLayerForward, MatchesReferenceOnEveryAxis) {
  const std::vector<std::int64_t> shape = {2, 5, 3, 4};
  for (int axis : {0, 1, 2, 3, -1}) {
    auto x = GaussianBlob(shape, /*seed=*/1701, 0.0f, 3.0f);
    Blob y;
    auto layer = MakeLayer(SoftmaxText("axis: " + std::to_string(axis)));
    layer->SetUp({x.get()}, {&y});
    layer->Forward(ExecContext(), {x.get()}, {&y});
    const Split3 s = SplitAt(shape, axis < 0 ? axis + 4 : axis);
    EXPECT_TRUE(AllNear(Data(y), ReferenceSoftmax(Data(*x), s), 1e-6f, 1e-5f)) << "axis " << axis;
  }
}

TEST(SoftmaxLayerForward, LargeScoresDoNotOverflow) {
  Blob x({1, 3, 1, 2}), y;
  SetValues(&x, {1000, -1000, 1001, 0, 999, 1000}, /*diff=*/false);
  auto layer = MakeLayer(SoftmaxText(""));
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  // Position 0: scores 1000, 1001, 999; position 1: -1000, 0, 1000.
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0);
  const std::vector<float> expected = {static_cast<float>(e1 / (1 + e1 + e2)), 0.0f,
                                       static_cast<float>(1 / (1 + e1 + e2)),  0.0f,
                                       static_cast<float>(e2 / (1 + e1 + e2)), 1.0f};
  EXPECT_TRUE(AllNear(Data(y), expected, 1e-7f, 1e-6f));
}

TEST(SoftmaxLayerBackward, MatchesReference) {
  const std::vector<std::int64_t> shape = {2, 4, 3, 5};
  auto x = GaussianBlob(shape, /*seed=*/2);
  Blob y;
  auto layer = MakeLayer(SoftmaxText(""));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  const std::vector<float> dy = Data(*GaussianBlob(shape, /*seed=*/3));
  SetValues(&y, dy, /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_TRUE(
      AllNear(Diff(*x), ReferenceSoftmaxBackward(Data(y), dy, SplitAt(shape, 1)), 1e-6f, 1e-5f));
}

TEST(SoftmaxLayerBackward, LeavesBottomDiffWhenNotPropagating) {
  auto x = GaussianBlob({2, 3}, /*seed=*/4);
  Blob y;
  auto layer = MakeLayer(SoftmaxText(""));
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetValues(x.get(), std::vector<float>(6, 9.0f), /*diff=*/true);
  SetValues(&y, std::vector<float>(6, 1.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(6, 9.0f));
}

// 4. Finite differences.

TEST(SoftmaxLayerGradient, ChannelAxisMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 4, 3, 2}, /*seed=*/5);
  Blob y;
  auto layer = MakeLayer(SoftmaxText(""));
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(SoftmaxLayerGradient, LastAxisMatchesFiniteDifferences) {
  auto x = GaussianBlob({3, 2, 5}, /*seed=*/6);
  Blob y;
  auto layer = MakeLayer(SoftmaxText("axis: -1"));
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

// 5. In place equals out of place.

TEST(SoftmaxLayerInPlace, MatchesOutOfPlace) {
  const std::vector<std::int64_t> shape = {2, 5, 3, 4};
  auto x = GaussianBlob(shape, /*seed=*/7);
  const std::vector<float> dy = Data(*GaussianBlob(shape, /*seed=*/8));

  Blob y;
  auto out_of_place = MakeLayer(SoftmaxText(""));
  out_of_place->SetUp({x.get()}, {&y});
  out_of_place->Forward(ExecContext(), {x.get()}, {&y});
  SetValues(&y, dy, /*diff=*/true);
  out_of_place->Backward(ExecContext(), {&y}, {true}, {x.get()});

  Blob z(shape);
  SetValues(&z, Data(*x), /*diff=*/false);
  auto in_place = MakeLayer(SoftmaxText("", /*top=*/"x"));
  ASSERT_TRUE(in_place->schema().in_place);
  in_place->SetUp({&z}, {&z});
  in_place->Forward(ExecContext(), {&z}, {&z});
  EXPECT_EQ(Data(z), Data(y));
  SetValues(&z, dy, /*diff=*/true);
  in_place->Backward(ExecContext(), {&z}, {true}, {&z});
  EXPECT_EQ(Diff(z), Diff(*x));
}

}  // namespace
}  // namespace fcn::test
