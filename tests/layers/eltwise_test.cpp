// SPDX-License-Identifier: BSD-2-Clause
// Eltwise layer: configuration errors, shapes, SUM/PROD/MAX forward and backward against plain
// loops (MAX tie breaking included), and finite differences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fcn/rng.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetValues;

using ::testing::HasSubstr;

std::string EltwiseText(const std::string& eltwise_param, int num_bottoms = 2) {
  std::string text = R"pb(name: "fuse" type: "Eltwise" top: "y")pb";
  for (int i = 0; i < num_bottoms; ++i) text += "bottom: \"x" + std::to_string(i) + "\" ";
  return text + "eltwise_param { " + eltwise_param + " }";
}

// K bottoms of one shape with Gaussian values.
std::vector<std::unique_ptr<Blob>> GaussianBottoms(int k, const std::vector<std::int64_t>& shape,
                                                   std::uint32_t seed) {
  std::vector<std::unique_ptr<Blob>> blobs;
  for (int i = 0; i < k; ++i)
    blobs.push_back(GaussianBlob(shape, seed + static_cast<std::uint32_t>(i)));
  return blobs;
}

BlobVec Pointers(const std::vector<std::unique_ptr<Blob>>& blobs) {
  BlobVec v;
  for (const auto& b : blobs) v.push_back(b.get());
  return v;
}

// The plain definitions, element by element, in double.
std::vector<float> ReferenceSum(const BlobVec& x, const std::vector<float>& coeff) {
  std::vector<float> y;
  for (std::int64_t i = 0; i < x[0]->count(); ++i) {
    double s = 0.0;
    for (std::size_t k = 0; k < x.size(); ++k) s += coeff[k] * x[k]->cpu_data()[i];
    y.push_back(static_cast<float>(s));
  }
  return y;
}

std::vector<float> ReferenceProd(const BlobVec& x) {
  std::vector<float> y;
  for (std::int64_t i = 0; i < x[0]->count(); ++i) {
    double p = 1.0;
    for (const Blob* b : x) p *= b->cpu_data()[i];
    y.push_back(static_cast<float>(p));
  }
  return y;
}

// dx_k = dy * prod_{j != k} x_j.
std::vector<float> ReferenceProdGrad(const BlobVec& x, const std::vector<float>& dy,
                                     std::size_t k) {
  std::vector<float> dx;
  for (std::int64_t i = 0; i < x[0]->count(); ++i) {
    double p = dy[static_cast<std::size_t>(i)];
    for (std::size_t j = 0; j < x.size(); ++j) {
      if (j != k) p *= x[j]->cpu_data()[i];
    }
    dx.push_back(static_cast<float>(p));
  }
  return dx;
}

// The winning bottom of each element: bottom 1 unless bottom 0 is strictly greater, then a
// later bottom only when strictly greater than the running maximum.
std::vector<std::size_t> ReferenceMaxWinner(const BlobVec& x) {
  std::vector<std::size_t> winner;
  for (std::int64_t i = 0; i < x[0]->count(); ++i) {
    std::size_t w = x[0]->cpu_data()[i] > x[1]->cpu_data()[i] ? 0 : 1;
    for (std::size_t k = 2; k < x.size(); ++k) {
      if (x[k]->cpu_data()[i] > x[w]->cpu_data()[i]) w = k;
    }
    winner.push_back(w);
  }
  return winner;
}

struct LayerRun {
  std::unique_ptr<Layer> layer;
  Blob top;
};

// SetUp + Forward, then Backward with top diff dy for every bottom.
void ForwardBackward(LayerRun* run, const BlobVec& x, const std::vector<float>& dy) {
  run->layer->SetUp(x, {&run->top});
  run->layer->Forward(ExecContext(), x, {&run->top});
  SetValues(&run->top, dy, /*diff=*/true);
  run->layer->Backward(ExecContext(), {&run->top}, std::vector<bool>(x.size(), true), x);
}

// 1. Configuration.

TEST(EltwiseLayerConfig, RejectsCoeffForProduct) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(EltwiseText("operation: PROD coeff: 1 coeff: 2")); }),
              HasSubstr("Eltwise coeff applies only to SUM, not PROD"));
}

TEST(EltwiseLayerConfig, RejectsCoeffCountOtherThanBottomCount) {
  auto layer = MakeLayer(EltwiseText("coeff: 1 coeff: 2 coeff: 3"));
  Blob a({2, 3}), b({2, 3}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b}, {&y});
              }),
              HasSubstr("Eltwise takes one coeff per bottom: 3 coeff for 2 bottoms"));
}

TEST(EltwiseLayerConfig, RejectsBottomsOfDifferentShapes) {
  auto layer = MakeLayer(EltwiseText("", /*num_bottoms=*/3));
  Blob a({1, 21, 34, 34}), b({1, 21, 34, 34}), c({1, 21, 36, 34}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b, &c}, {&y});
              }),
              HasSubstr("Eltwise bottoms must have identical shapes: bottom 0 is 1x21x34x34, "
                        "bottom 2 is 1x21x36x34"));
}

TEST(EltwiseLayerConfig, RejectsShapeChangeOfOneBottomOnForward) {
  auto layer = MakeLayer(EltwiseText(""));
  Blob a({2, 3}), b({2, 3}), y;
  layer->SetUp({&a, &b}, {&y});
  b.Reshape({3, 2});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&a, &b}, {&y});
              }),
              HasSubstr("bottom 0 is 2x3, bottom 1 is 3x2"));
}

TEST(EltwiseLayerConfig, RejectsSingleBottom) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(EltwiseText("", /*num_bottoms=*/1)); }),
              HasSubstr("Eltwise takes at least 2 bottom blob(s), got 1"));
}

// 2. Shapes.

TEST(EltwiseLayerShape, TopTakesTheCommonBottomShape) {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {2, 3, 4, 5}, {127}, {1, 21, 13, 127}, {3, 0, 2}};
  for (const char* op : {"SUM", "PROD", "MAX"}) {
    for (const auto& shape : shapes) {
      auto layer = MakeLayer(EltwiseText(std::string("operation: ") + op, /*num_bottoms=*/3));
      Blob a(shape), b(shape), c(shape), y({9});
      layer->SetUp({&a, &b, &c}, {&y});
      EXPECT_EQ(y.shape(), shape) << op << " " << ShapeString(shape);
    }
  }
}

// 3. Forward and backward against the reference.

TEST(EltwiseLayerForward, SumWithoutCoeffAddsBottoms) {
  auto x = GaussianBottoms(3, {2, 3, 4, 5}, /*seed=*/1701);
  const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4, 5}, /*seed=*/99));
  LayerRun run{MakeLayer(EltwiseText("", 3)), Blob()};
  ForwardBackward(&run, Pointers(x), dy);
  EXPECT_TRUE(AllNear(Data(run.top), ReferenceSum(Pointers(x), {1, 1, 1}), 1e-6f, 1e-6f));
  for (const auto& b : x) EXPECT_EQ(Diff(*b), dy);
}

TEST(EltwiseLayerForward, SumWithCoeffWeighsBottoms) {
  // NYUD late fusion uses 0.5/0.5; negative and larger weights are allowed too.
  auto x = GaussianBottoms(3, {2, 3, 4, 5}, /*seed=*/2);
  const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4, 5}, /*seed=*/98));
  LayerRun run{MakeLayer(EltwiseText("coeff: 0.5 coeff: -2 coeff: 3", 3)), Blob()};
  ForwardBackward(&run, Pointers(x), dy);
  EXPECT_TRUE(AllNear(Data(run.top), ReferenceSum(Pointers(x), {0.5f, -2.0f, 3.0f}), 1e-5f, 1e-6f));
  const std::vector<float> coeff = {0.5f, -2.0f, 3.0f};
  for (std::size_t k = 0; k < 3; ++k) {
    std::vector<float> expected;
    for (float d : dy) expected.push_back(coeff[k] * d);
    EXPECT_EQ(Diff(*x[k]), expected) << "bottom " << k;
  }
}

TEST(EltwiseLayerForward, ProductMultipliesBottomsWithStableGradient) {
  auto x = GaussianBottoms(3, {2, 3, 4, 5}, /*seed=*/3);
  const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4, 5}, /*seed=*/97));
  LayerRun run{MakeLayer(EltwiseText("operation: PROD", 3)), Blob()};
  ForwardBackward(&run, Pointers(x), dy);
  EXPECT_TRUE(AllNear(Data(run.top), ReferenceProd(Pointers(x)), 1e-6f, 1e-6f));
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(AllNear(Diff(*x[k]), ReferenceProdGrad(Pointers(x), dy, k), 1e-6f, 1e-5f))
        << "bottom " << k;
  }
}

TEST(EltwiseLayerForward, StableProductGradientIsFiniteAtZero) {
  Blob a({2}), b({2}), y;
  SetValues(&a, {0.0f, 2.0f}, /*diff=*/false);
  SetValues(&b, {3.0f, 0.0f}, /*diff=*/false);
  LayerRun run{MakeLayer(EltwiseText("operation: PROD")), Blob()};
  ForwardBackward(&run, {&a, &b}, {1.0f, 1.0f});
  EXPECT_EQ(Diff(a), (std::vector<float>{3.0f, 0.0f}));
  EXPECT_EQ(Diff(b), (std::vector<float>{0.0f, 2.0f}));
}

TEST(EltwiseLayerForward, UnstableProductGradientDividesTheTop) {
  auto x = GaussianBottoms(3, {3, 4, 5}, /*seed=*/4);
  const std::vector<float> dy = Data(*GaussianBlob({3, 4, 5}, /*seed=*/96));
  LayerRun run{MakeLayer(EltwiseText("operation: PROD stable_prod_grad: false", 3)), Blob()};
  ForwardBackward(&run, Pointers(x), dy);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_TRUE(AllNear(Diff(*x[k]), ReferenceProdGrad(Pointers(x), dy, k), 1e-5f, 1e-4f))
        << "bottom " << k;
  }
}

TEST(EltwiseLayerForward, MaxRoutesGradientToTheWinner) {
  auto x = GaussianBottoms(4, {2, 3, 4, 5}, /*seed=*/5);
  const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4, 5}, /*seed=*/95));
  LayerRun run{MakeLayer(EltwiseText("operation: MAX", 4)), Blob()};
  ForwardBackward(&run, Pointers(x), dy);
  const std::vector<std::size_t> winner = ReferenceMaxWinner(Pointers(x));
  for (std::size_t i = 0; i < winner.size(); ++i) {
    ASSERT_EQ(Data(run.top)[i], x[winner[i]]->cpu_data()[i]) << "element " << i;
    for (std::size_t k = 0; k < 4; ++k) {
      ASSERT_EQ(Diff(*x[k])[i], k == winner[i] ? dy[i] : 0.0f)
          << "bottom " << k << " element " << i;
    }
  }
}

TEST(EltwiseLayerForward, MaxTieGoesToBottomOneThenOnlyToStrictlyGreater) {
  Blob a({5}), b({5}), c({5});
  SetValues(&a, {1, 2, 1, 1, 3}, /*diff=*/false);
  SetValues(&b, {1, 1, 2, 1, 1}, /*diff=*/false);
  SetValues(&c, {1, 2, 2, 3, 1}, /*diff=*/false);
  LayerRun run{MakeLayer(EltwiseText("operation: MAX", 3)), Blob()};
  ForwardBackward(&run, {&a, &b, &c}, {1, 2, 3, 4, 5});
  EXPECT_EQ(Data(run.top), (std::vector<float>{1, 2, 2, 3, 3}));
  // Winners: 1 (three-way tie), 0 (bottom 2 only ties), 1 (bottom 2 only ties), 2, 0.
  EXPECT_EQ(Diff(a), (std::vector<float>{0, 2, 0, 0, 5}));
  EXPECT_EQ(Diff(b), (std::vector<float>{1, 0, 3, 0, 0}));
  EXPECT_EQ(Diff(c), (std::vector<float>{0, 0, 0, 4, 0}));
}

TEST(EltwiseLayerForward, MaxIgnoresCoeffAndReportsWinnerBytes) {
  auto x = GaussianBottoms(2, {2, 3}, /*seed=*/6);
  auto layer = MakeLayer(EltwiseText("operation: MAX coeff: 5 coeff: 7"));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  layer->Forward(ExecContext(), Pointers(x), {&y});
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(Data(y)[i], std::max(x[0]->cpu_data()[i], x[1]->cpu_data()[i]));
  }
  EXPECT_EQ(layer->internal_bytes(), 6u * sizeof(int));
}

TEST(EltwiseLayerBackward, WritesOnlyBottomsThatPropagate) {
  auto x = GaussianBottoms(3, {2, 3}, /*seed=*/7);
  for (const char* op : {"SUM", "PROD", "MAX"}) {
    auto layer = MakeLayer(EltwiseText(std::string("operation: ") + op, 3));
    Blob y;
    layer->SetUp(Pointers(x), {&y});
    layer->Forward(ExecContext(), Pointers(x), {&y});
    SetValues(&y, std::vector<float>(6, 1.0f), /*diff=*/true);
    for (const auto& b : x) SetValues(b.get(), std::vector<float>(6, 9.0f), /*diff=*/true);
    layer->Backward(ExecContext(), {&y}, {false, true, false}, Pointers(x));
    EXPECT_EQ(Diff(*x[0]), std::vector<float>(6, 9.0f)) << op;
    EXPECT_NE(Diff(*x[1]), std::vector<float>(6, 9.0f)) << op;
    EXPECT_EQ(Diff(*x[2]), std::vector<float>(6, 9.0f)) << op;
  }
}

// 4. Finite differences on every bottom.

TEST(EltwiseLayerGradient, SumWithCoeffMatchesFiniteDifferences) {
  auto x = GaussianBottoms(3, {2, 3, 3, 2}, /*seed=*/11);
  auto layer = MakeLayer(EltwiseText("coeff: 0.5 coeff: -2 coeff: 3", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

TEST(EltwiseLayerGradient, StableProductMatchesFiniteDifferences) {
  auto x = GaussianBottoms(3, {2, 3, 3, 2}, /*seed=*/12);
  auto layer = MakeLayer(EltwiseText("operation: PROD", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

TEST(EltwiseLayerGradient, UnstableProductMatchesFiniteDifferencesAwayFromZero) {
  std::vector<std::unique_ptr<Blob>> x;
  for (std::uint32_t s = 0; s < 3; ++s) x.push_back(UniformBlob({2, 3, 3, 2}, 13 + s, 0.5f, 1.5f));
  auto layer = MakeLayer(EltwiseText("operation: PROD stable_prod_grad: false", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

TEST(EltwiseLayerGradient, MaxMatchesFiniteDifferencesAwayFromTies) {
  // Bottom k holds a shuffled grid offset by k/3 * 0.1, so values of different bottoms are at
  // least 0.033 apart and a 1e-2 step never changes a winner.
  const std::vector<std::int64_t> shape = {2, 3, 3, 2};
  std::vector<std::unique_ptr<Blob>> x;
  Rng rng(17);
  for (int k = 0; k < 3; ++k) {
    auto b = std::make_unique<Blob>(shape);
    std::vector<float> values;
    for (int i = 0; i < 36; ++i) values.push_back(0.1f * static_cast<float>(i - 18) + 0.1f * k / 3);
    for (std::size_t i = values.size() - 1; i > 0; --i) {
      std::swap(values[i], values[rng.UniformInt(static_cast<std::uint32_t>(i + 1))]);
    }
    SetValues(b.get(), values, /*diff=*/false);
    x.push_back(std::move(b));
  }
  auto layer = MakeLayer(EltwiseText("operation: MAX", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

// 5. In place: not allowed (the gradients read the bottoms' data).

TEST(EltwiseLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(EltwiseText(""))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
