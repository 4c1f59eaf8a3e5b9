// SPDX-License-Identifier: BSD-2-Clause
// ReLU layer: configuration, shapes, forward/backward against plain loops, finite-difference
// gradients away from the kink at 0, and in place against out of place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

const char kPlainRelu[] = R"pb(name: "relu" type: "ReLU" bottom: "x" top: "y")pb";
const char kLeakyRelu[] = R"pb(name: "relu"
                               type: "ReLU"
                               bottom: "x"
                               top: "y"
                               relu_param { negative_slope: 0.25 })pb";
const char kLeakyReluInPlace[] = R"pb(name: "relu"
                                      type: "ReLU"
                                      bottom: "x"
                                      top: "x"
                                      relu_param { negative_slope: 0.25 })pb";

// Reference forward: y = max(x, 0) + slope * min(x, 0).
std::vector<float> ReferenceForward(const std::vector<float>& x, float slope) {
  std::vector<float> y;
  for (float v : x) y.push_back(v > 0 ? v : slope * v);
  return y;
}

// Reference backward: dx = dy where x > 0, slope * dy where x <= 0.
std::vector<float> ReferenceBackward(const std::vector<float>& x, const std::vector<float>& dy,
                                     float slope) {
  std::vector<float> dx;
  for (std::size_t i = 0; i < x.size(); ++i) dx.push_back(x[i] > 0 ? dy[i] : slope * dy[i]);
  return dx;
}

// 1. Configuration.

TEST(ReLULayerConfig, RejectsNegativeSlopeInPlace) {
  auto layer = MakeLayer(R"pb(type: "ReLU"
                              bottom: "x"
                              top: "x"
                              relu_param { negative_slope: -0.5 })pb");
  Blob x({2, 3});
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&x}); }),
              HasSubstr("negative_slope -0.5 cannot run in place"));
}

TEST(ReLULayerConfig, AcceptsNegativeSlopeOutOfPlace) {
  auto layer = MakeLayer(R"pb(type: "ReLU"
                              bottom: "x"
                              top: "y"
                              relu_param { negative_slope: -0.5 })pb");
  Blob x({1, 2}), y;
  SetValues(&x, {-2.0f, 3.0f}, /*diff=*/false);
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(Data(y), (std::vector<float>{1.0f, 3.0f}));
}

TEST(ReLULayerConfig, RejectsNonFiniteSlope) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "ReLU"
                               bottom: "x"
                               top: "y"
                               relu_param { negative_slope: nan })pb");
              }),
              HasSubstr("negative_slope must be finite"));
}

TEST(ReLULayerConfig, RejectsTwoBottoms) {
  EXPECT_THAT(
      ConfigErrorOf([] { MakeLayer(R"pb(type: "ReLU" bottom: "a" bottom: "b" top: "y")pb"); }),
      HasSubstr("ReLU takes 1 bottom blob(s), got 2"));
}

TEST(ReLULayerConfig, RejectsParametersOfAnotherType) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "ReLU"
                               bottom: "x"
                               top: "y"
                               dropout_param { dropout_ratio: 0.1 })pb");
              }),
              HasSubstr("dropout_param does not apply to a ReLU layer"));
}

// 2. Shapes.

TEST(ReLULayerShape, TopTakesTheBottomShape) {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {2, 3, 4, 5}, {127}, {1, 1, 13, 127}, {3, 0, 2}, {}};
  for (const auto& shape : shapes) {
    auto layer = MakeLayer(kPlainRelu);
    Blob x(shape), y({9, 9});
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), shape) << ShapeString(shape);
    // Forward reshapes again after the bottom changed.
    x.Reshape({4, 2});
    layer->Forward(ExecContext(), {&x}, {&y});
    EXPECT_EQ(y.shape(), (std::vector<std::int64_t>{4, 2}));
  }
}

// 3. Forward and backward against the reference.

TEST(ReLULayerForward, ZeroesNegativesAndKeepsPositives) {
  auto x = GaussianBlob({2, 3, 5, 7}, /*seed=*/1701);
  x->mutable_cpu_data()[4] = 0.0f;
  Blob y;
  auto layer = MakeLayer(kPlainRelu);
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  EXPECT_TRUE(AllNear(Data(y), ReferenceForward(Data(*x), 0.0f), 0.0f));
}

TEST(ReLULayerForward, LeakyScalesNegatives) {
  Blob x({6}), y;
  SetValues(&x, {-4.0f, -1.0f, -0.0f, 0.0f, 0.5f, 8.0f}, /*diff=*/false);
  auto layer = MakeLayer(kLeakyRelu);
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(Data(y), (std::vector<float>{-1.0f, -0.25f, 0.0f, 0.0f, 0.5f, 8.0f}));
}

TEST(ReLULayerBackward, UsesSlopeAtAndBelowZero) {
  for (float slope : {0.0f, 0.25f}) {
    auto layer = MakeLayer(slope == 0.0f ? kPlainRelu : kLeakyRelu);
    Blob x({5}), y;
    SetValues(&x, {-2.0f, 0.0f, 1e-6f, 0.5f, -1e-6f}, /*diff=*/false);
    layer->SetUp({&x}, {&y});
    layer->Forward(ExecContext(), {&x}, {&y});
    const std::vector<float> dy = {1.0f, 2.0f, 3.0f, -4.0f, 5.0f};
    SetValues(&y, dy, /*diff=*/true);
    layer->Backward(ExecContext(), {&y}, {true}, {&x});
    EXPECT_EQ(Diff(x), ReferenceBackward(Data(x), dy, slope)) << "slope " << slope;
    EXPECT_EQ(Diff(x)[1], slope * 2.0f) << "the slope at exactly 0 is negative_slope";
  }
}

TEST(ReLULayerBackward, MatchesReferenceOnRandomInput) {
  auto x = GaussianBlob({3, 4, 6, 9}, /*seed=*/7);
  Blob y;
  auto layer = MakeLayer(kLeakyRelu);
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  FillGaussian(&y, /*seed=*/8);
  const std::vector<float> dy = Data(y);
  SetValues(&y, dy, /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), ReferenceBackward(Data(*x), dy, 0.25f), 0.0f));
}

TEST(ReLULayerBackward, LeavesBottomDiffWhenNotPropagating) {
  auto x = GaussianBlob({2, 3}, /*seed=*/3);
  Blob y;
  auto layer = MakeLayer(kPlainRelu);
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetValues(x.get(), std::vector<float>(6, 9.0f), /*diff=*/true);
  SetValues(&y, std::vector<float>(6, 1.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(6, 9.0f));
}

// 4. Finite differences, skipping inputs within 0.01 of the kink at 0.

TEST(ReLULayerGradient, PlainMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/11);
  Blob y;
  auto layer = MakeLayer(kPlainRelu);
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-3, /*threshold=*/1e-3, /*seed=*/1701, /*kink=*/0.0,
                          /*kink_range=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

TEST(ReLULayerGradient, LeakyMatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/12);
  Blob y;
  auto layer = MakeLayer(kLeakyRelu);
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-3, /*threshold=*/1e-3, /*seed=*/1701, /*kink=*/0.0,
                          /*kink_range=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

// 5. In place.

TEST(ReLULayerInPlace, MatchesOutOfPlace) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/21);
  x->mutable_cpu_data()[0] = 0.0f;
  auto x_in_place = GaussianBlob({2, 3, 4, 5}, /*seed=*/21);
  x_in_place->mutable_cpu_data()[0] = 0.0f;
  Blob y;
  auto out_of_place = MakeLayer(kLeakyRelu);
  auto in_place = MakeLayer(kLeakyReluInPlace);
  out_of_place->SetUp({x.get()}, {&y});
  in_place->SetUp({x_in_place.get()}, {x_in_place.get()});
  out_of_place->Forward(ExecContext(), {x.get()}, {&y});
  in_place->Forward(ExecContext(), {x_in_place.get()}, {x_in_place.get()});
  EXPECT_EQ(Data(*x_in_place), Data(y));

  auto dy = GaussianBlob({2, 3, 4, 5}, /*seed=*/22);
  SetValues(&y, Data(*dy), /*diff=*/true);
  SetValues(x_in_place.get(), Data(*dy), /*diff=*/true);
  out_of_place->Backward(ExecContext(), {&y}, {true}, {x.get()});
  in_place->Backward(ExecContext(), {x_in_place.get()}, {true}, {x_in_place.get()});
  EXPECT_EQ(Diff(*x_in_place), Diff(*x));
}

}  // namespace
}  // namespace fcn::test
