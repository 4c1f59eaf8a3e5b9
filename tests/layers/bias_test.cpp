// SPDX-License-Identifier: BSD-2-Clause
// Bias layer: bias_param validation, parameter shapes, the forward pass and gradients against
// coordinate loops (learned bias, bias from bottom[1], scalar, all axes, negative axis), finite
// differences on every bottom and parameter, and in place == out of place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fcn/layer_registry.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetDiff;

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string BiasText(const std::string& bias_param, int num_bottoms = 1) {
  std::string text = R"pb(name: "bias" type: "Bias" bottom: "x" top: "y")pb";
  if (num_bottoms == 2) text += R"pb(bottom: "b")pb";
  return text + " bias_param { " + bias_param + " }";
}

// The element of an operand of shape bottom.shape[axis : axis + operand_axes] added to bottom
// element i: unravel i into coordinates, then ravel the operand's coordinates.
std::int64_t OperandIndex(const Shape& bottom, int axis, int operand_axes, std::int64_t i) {
  std::vector<std::int64_t> coord(bottom.size());
  for (std::size_t a = bottom.size(); a-- > 0;) {
    coord[a] = i % bottom[a];
    i /= bottom[a];
  }
  std::int64_t index = 0;
  for (int a = axis; a < axis + operand_axes; ++a) {
    index = index * bottom[static_cast<std::size_t>(a)] + coord[static_cast<std::size_t>(a)];
  }
  return index;
}

// 1. Configuration.

TEST(BiasLayerConfig, RejectsNumAxesBelowMinusOne) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(BiasText("num_axes: -3")); }),
              HasSubstr("bias_param.num_axes must be -1 (all remaining axes) or >= 0, got -3"));
}

TEST(BiasLayerConfig, RejectsUnknownFiller) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(BiasText("filler { type: 'nonsense' }")); }),
              HasSubstr("nonsense"));
}

TEST(BiasLayerConfig, RejectsLearnedBiasPastTheLastAxis) {
  auto layer = MakeLayer(BiasText("axis: -1 num_axes: 2"));
  Blob x({2, 3, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("bias axes 2 to 3 (axis + num_axes) extend past the last axis of "
                        "bottom[0] 2x3x4"));
}

TEST(BiasLayerConfig, RejectsBiasBottomThatDoesNotMatch) {
  auto layer = MakeLayer(BiasText("", 2));
  Blob x({2, 3, 4}), b({4}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &b}, {&y});
              }),
              HasSubstr("bias of shape 4 does not match bottom[0] 2x3x4 from axis 1: bias axis "
                        "0 is 4, bottom[0] axis 1 is 3"));
  Blob long_bias({3, 4, 1});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &long_bias}, {&y});
              }),
              HasSubstr("bias of shape 3x4x1 extends past the last axis of bottom[0] 2x3x4 when "
                        "applied from axis 1"));
}

TEST(BiasLayerConfig, RejectsGivenBlobsThatDoNotFit) {
  const auto error_with_blobs = [](const std::vector<Shape>& shapes, int num_bottoms) {
    return ConfigErrorOf([&] {
      LayerParameter param = ParseLayerParam(BiasText("", num_bottoms));
      for (const Shape& shape : shapes) Blob(shape).ToProto(param.add_blobs());
      auto layer = LayerRegistry::Builtin().Create(param);
      Blob x({2, 3, 4}), b({3}), y;
      layer->SetUp(num_bottoms == 1 ? BlobVec{&x} : BlobVec{&x, &b}, {&y});
    });
  };
  EXPECT_THAT(error_with_blobs({{2}}, 1),
              HasSubstr("bias of shape 2 does not match bottom[0] 2x3x4 from axis 1"));
  EXPECT_THAT(error_with_blobs({{3}, {3}}, 1), HasSubstr("Bias expects 1 parameter blob, got 2"));
  EXPECT_THAT(error_with_blobs({{3}}, 2),
              HasSubstr("Bias with 2 bottoms (the bias is bottom[1]) takes no parameter blobs, "
                        "got 1"));
}

// 2. Shapes.

TEST(BiasLayerShape, ParameterBlobFollowsAxisAndNumAxes) {
  struct Case {
    std::string param;
    Shape bottom;
    Shape bias;
  };
  const std::vector<Case> cases = {
      {"", {2, 3, 4, 5}, {3}},
      {"axis: 0", {2, 3, 4, 5}, {2}},
      {"axis: 2 num_axes: 2", {2, 3, 4, 5}, {4, 5}},
      {"num_axes: -1", {2, 3, 4, 5}, {3, 4, 5}},
      {"axis: -2", {2, 3, 4, 5}, {4}},
      {"num_axes: 0", {2, 3, 4, 5}, {}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(BiasText(c.param));
    Blob x(c.bottom), y;
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.bottom) << c.param;
    ASSERT_EQ(layer->blobs().size(), 1u) << c.param;
    EXPECT_EQ(layer->blobs()[0]->shape(), c.bias) << c.param;
    EXPECT_EQ(Data(*layer->blobs()[0]), std::vector<float>(layer->blobs()[0]->count(), 0.0f));
  }
  auto two = MakeLayer(BiasText("", 2));
  Blob x({2, 3, 4}), b({3, 4}), y;
  two->SetUp({&x, &b}, {&y});
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_TRUE(two->blobs().empty());
}

// 3. Forward and backward against the coordinate loops.

struct BiasCase {
  std::string param;
  int num_bottoms;
  Shape bottom;
  int axis;  // canonical axis of the operand (0 for a scalar)
  Shape bias_shape;
};

void PrintTo(const BiasCase& c, std::ostream* os) { *os << "\"" << c.param << "\""; }

class BiasLayerForward : public ::testing::TestWithParam<BiasCase> {};

TEST_P(BiasLayerForward, MatchesCoordinateLoops) {
  const BiasCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 21);
  auto bottom_bias = GaussianBlob(c.bias_shape, 22);
  const std::vector<float> dy = Data(*GaussianBlob(c.bottom, 23));
  auto layer = MakeLayer(BiasText(c.param, c.num_bottoms));
  const bool learned = c.num_bottoms == 1;
  const BlobVec bottom = learned ? BlobVec{x.get()} : BlobVec{x.get(), bottom_bias.get()};
  Blob y;
  layer->SetUp(bottom, {&y});
  Blob* bias = learned ? layer->blobs()[0].get() : bottom_bias.get();
  if (learned) FillGaussian(bias, 24);
  // A parameter gradient accumulates onto what is there; bottom[1]'s is overwritten.
  SetDiff(bias, std::vector<float>(bias->count(), 1.0f));

  layer->Forward(ExecContext(), bottom, {&y});
  SetDiff(&y, dy);
  layer->Backward(ExecContext(), {&y}, std::vector<bool>(bottom.size(), true), bottom);

  std::vector<float> expected_y;
  std::vector<double> db(static_cast<std::size_t>(bias->count()), learned ? 1.0 : 0.0);
  for (std::int64_t i = 0; i < x->count(); ++i) {
    const auto d = static_cast<std::size_t>(
        OperandIndex(c.bottom, c.axis, static_cast<int>(c.bias_shape.size()), i));
    expected_y.push_back(x->cpu_data()[i] + bias->cpu_data()[d]);
    db[d] += dy[static_cast<std::size_t>(i)];
  }
  EXPECT_TRUE(AllNear(Data(y), expected_y, 1e-6f, 1e-6f));
  EXPECT_EQ(Diff(*x), dy);
  EXPECT_TRUE(AllNear(Diff(*bias), std::vector<float>(db.begin(), db.end()), 1e-5f, 1e-5f));
}

INSTANTIATE_TEST_SUITE_P(Cases, BiasLayerForward,
                         ::testing::Values(BiasCase{"", 1, {2, 3, 4, 5}, 1, {3}},
                                           BiasCase{"num_axes: 0", 1, {2, 3, 4}, 0, {}},
                                           BiasCase{"num_axes: -1", 1, {2, 3, 4}, 1, {3, 4}},
                                           BiasCase{"axis: 0 num_axes: 2", 1, {2, 3, 4}, 0, {2, 3}},
                                           BiasCase{"axis: -1", 1, {2, 3, 4, 5}, 3, {5}},
                                           BiasCase{"", 2, {2, 3, 4, 5}, 1, {3, 4}},
                                           BiasCase{"axis: 2", 2, {2, 3, 4}, 0, {}},
                                           BiasCase{"axis: -2", 2, {2, 3, 4, 5}, 2, {4}}));

TEST(BiasLayerBackward, SkipsGradientsThatAreNotRequested) {
  auto x = GaussianBlob({2, 3, 4}, 31);
  auto layer = MakeLayer(BiasText(""));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetDiff(&y, std::vector<float>(24, 1.0f));
  SetDiff(x.get(), std::vector<float>(24, 9.0f));
  layer->blobs()[0]->ZeroDiff();
  layer->set_param_propagate_down(0, false);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(24, 9.0f));
  EXPECT_EQ(Diff(*layer->blobs()[0]), std::vector<float>(3, 0.0f));
}

// 4. Finite differences on every bottom and parameter.

class BiasLayerGradient : public ::testing::TestWithParam<BiasCase> {};

TEST_P(BiasLayerGradient, MatchesFiniteDifferences) {
  const BiasCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 41);
  auto b = GaussianBlob(c.bias_shape, 42);
  auto layer = MakeLayer(BiasText(c.param, c.num_bottoms));
  const BlobVec bottom = c.num_bottoms == 1 ? BlobVec{x.get()} : BlobVec{x.get(), b.get()};
  Blob y;
  layer->SetUp(bottom, {&y});
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), 43);
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, bottom, {&y});
}

INSTANTIATE_TEST_SUITE_P(Cases, BiasLayerGradient,
                         ::testing::Values(BiasCase{"", 1, {2, 3, 3, 2}, 1, {3}},
                                           BiasCase{"num_axes: 0", 1, {2, 3, 2}, 0, {}},
                                           BiasCase{
                                               "axis: 1 num_axes: 2", 1, {2, 3, 2, 2}, 1, {3, 2}},
                                           BiasCase{"axis: -1", 1, {2, 3, 3}, 2, {3}},
                                           BiasCase{"", 2, {2, 3, 3, 2}, 1, {3, 3}},
                                           BiasCase{"axis: 1", 2, {2, 3, 2}, 0, {}}));

// 5. In place == out of place.

TEST(BiasLayerInPlace, MatchesOutOfPlaceIncludingGradients) {
  auto x = GaussianBlob({2, 3, 4}, 51);
  const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4}, 52));
  auto apart = MakeLayer(BiasText(""));
  auto inplace = MakeLayer(BiasText(""));
  Blob y;
  apart->SetUp({x.get()}, {&y});
  FillGaussian(apart->blobs()[0].get(), 53);
  apart->Forward(ExecContext(), {x.get()}, {&y});
  SetDiff(&y, dy);
  apart->blobs()[0]->ZeroDiff();
  apart->Backward(ExecContext(), {&y}, {true}, {x.get()});

  Blob z;
  z.CopyFrom(*x, /*copy_diff=*/false, /*reshape=*/true);
  inplace->SetUp({&z}, {&z});
  FillGaussian(inplace->blobs()[0].get(), 53);
  inplace->Forward(ExecContext(), {&z}, {&z});
  EXPECT_EQ(Data(z), Data(y));
  SetDiff(&z, dy);
  inplace->blobs()[0]->ZeroDiff();
  inplace->Backward(ExecContext(), {&z}, {true}, {&z});
  EXPECT_EQ(Diff(z), Diff(*x));
  EXPECT_EQ(Diff(*inplace->blobs()[0]), Diff(*apart->blobs()[0]));
}

}  // namespace
}  // namespace fcn::test
