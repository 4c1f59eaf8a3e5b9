// SPDX-License-Identifier: BSD-2-Clause
// Scale layer: scale_param validation, parameter shapes, the forward pass and gradients against
// coordinate loops (learned scale, scale from bottom[1], bias term, scalar, all axes, negative
// axis), finite differences on every bottom and parameter, and in place == out of place.
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

std::string ScaleText(const std::string& scale_param, int num_bottoms = 1) {
  std::string text = R"pb(name: "scale" type: "Scale" bottom: "x" top: "y")pb";
  if (num_bottoms == 2) text += R"pb(bottom: "s")pb";
  return text + " scale_param { " + scale_param + " }";
}

// The element of an operand of shape bottom.shape[axis : axis + operand_axes] that multiplies
// bottom element i: unravel i into coordinates, then ravel the operand's coordinates.
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

struct Reference {
  std::vector<float> y, dx, ds, db;
};

// y = x * s (+ b), dx = dy * s, ds = sum dy * x, db = sum dy, in double.
Reference ScaleReference(const Blob& x, const std::vector<float>& s, const std::vector<float>& b,
                         const std::vector<float>& dy, int axis, int operand_axes) {
  Reference r;
  std::vector<double> ds(s.size(), 0.0), db(s.size(), 0.0);
  for (std::int64_t i = 0; i < x.count(); ++i) {
    const auto d = static_cast<std::size_t>(OperandIndex(x.shape(), axis, operand_axes, i));
    const double xi = x.cpu_data()[i];
    const double dyi = dy[static_cast<std::size_t>(i)];
    r.y.push_back(static_cast<float>(xi * s[d] + (b.empty() ? 0.0 : b[d])));
    r.dx.push_back(static_cast<float>(dyi * s[d]));
    ds[d] += dyi * xi;
    db[d] += dyi;
  }
  for (std::size_t d = 0; d < s.size(); ++d) {
    r.ds.push_back(static_cast<float>(ds[d]));
    r.db.push_back(static_cast<float>(db[d]));
  }
  return r;
}

void RandomizeParameters(Layer* layer, std::uint32_t seed) {
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), seed++);
}

// 1. Configuration.

TEST(ScaleLayerConfig, RejectsNumAxesBelowMinusOne) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ScaleText("num_axes: -2")); }),
              HasSubstr("scale_param.num_axes must be -1 (all remaining axes) or >= 0, got -2"));
}

TEST(ScaleLayerConfig, RejectsUnknownFiller) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ScaleText("filler { type: 'nonsense' }")); }),
              HasSubstr("nonsense"));
  EXPECT_THAT(ConfigErrorOf(
                  [] { MakeLayer(ScaleText("bias_term: true bias_filler { type: 'nonsense' }")); }),
              HasSubstr("nonsense"));
}

TEST(ScaleLayerConfig, RejectsLearnedScalePastTheLastAxis) {
  auto layer = MakeLayer(ScaleText("axis: 2 num_axes: 3"));
  Blob x({2, 3, 4, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("scale axes 2 to 4 (axis + num_axes) extend past the last axis of "
                        "bottom[0] 2x3x4x5"));
}

TEST(ScaleLayerConfig, RejectsAxisOutOfRange) {
  auto layer = MakeLayer(ScaleText("axis: 4"));
  Blob x({2, 3, 4, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("axis 4 out of range for a 4-D blob of shape 2x3x4x5"));
}

TEST(ScaleLayerConfig, RejectsScaleBottomThatDoesNotMatch) {
  auto layer = MakeLayer(ScaleText("axis: 1", 2));
  Blob x({2, 3, 4, 5}), s({3, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &s}, {&y});
              }),
              HasSubstr("scale of shape 3x5 does not match bottom[0] 2x3x4x5 from axis 1: "
                        "scale axis 1 is 5, bottom[0] axis 2 is 4"));
  Blob long_scale({4, 5, 6});
  auto layer2 = MakeLayer(ScaleText("axis: 2", 2));
  EXPECT_THAT(ConfigErrorOf([&] {
                layer2->SetUp({&x, &long_scale}, {&y});
              }),
              HasSubstr("scale of shape 4x5x6 extends past the last axis of bottom[0] 2x3x4x5 "
                        "when applied from axis 2"));
}

TEST(ScaleLayerConfig, RejectsBottomWhoseShapeNoLongerFitsTheLearnedScale) {
  auto layer = MakeLayer(ScaleText(""));
  Blob x({2, 3, 4}), y;
  layer->SetUp({&x}, {&y});
  x.Reshape({2, 5, 4});
  EXPECT_THAT(ConfigErrorOf([&] { layer->Forward(ExecContext(), {&x}, {&y}); }),
              HasSubstr("scale of shape 3 does not match bottom[0] 2x5x4 from axis 1"));
}

TEST(ScaleLayerConfig, RejectsGivenBlobsThatDoNotFit) {
  const auto error_with_blobs = [](const std::string& scale_param, const std::vector<Shape>& shapes,
                                   int num_bottoms) {
    return ConfigErrorOf([&] {
      LayerParameter param = ParseLayerParam(ScaleText(scale_param, num_bottoms));
      for (const Shape& shape : shapes) Blob(shape).ToProto(param.add_blobs());
      auto layer = LayerRegistry::Builtin().Create(param);
      Blob x({2, 3, 4}), s({3}), y;
      layer->SetUp(num_bottoms == 1 ? BlobVec{&x} : BlobVec{&x, &s}, {&y});
    });
  };
  EXPECT_THAT(error_with_blobs("", {{4}}, 1),
              HasSubstr("scale of shape 4 does not match bottom[0] 2x3x4 from axis 1"));
  EXPECT_THAT(error_with_blobs("bias_term: true", {{3}, {2}}, 1),
              HasSubstr("bias of shape 2 does not match bottom[0] 2x3x4 from axis 1"));
  EXPECT_THAT(error_with_blobs("", {{3}, {3}}, 1),
              HasSubstr("Scale with 1 bottom(s) and bias_term: false takes at most 1 parameter "
                        "blob(s), got 2"));
  EXPECT_THAT(error_with_blobs("", {{3}}, 2),
              HasSubstr("Scale with 2 bottom(s) and bias_term: false takes at most 0 parameter "
                        "blob(s), got 1"));
}

TEST(ScaleLayerConfig, KeepsGivenScaleAndFillsMissingBias) {
  LayerParameter param = ParseLayerParam(ScaleText("bias_term: true"));
  auto scale = GaussianBlob({3}, 5);
  scale->ToProto(param.add_blobs());
  auto layer = LayerRegistry::Builtin().Create(param);
  Blob x({2, 3, 4}), y;
  layer->SetUp({&x}, {&y});
  ASSERT_EQ(layer->blobs().size(), 2u);
  EXPECT_EQ(Data(*layer->blobs()[0]), Data(*scale));
  EXPECT_EQ(Data(*layer->blobs()[1]), std::vector<float>(3, 0.0f));
}

// 2. Shapes.

TEST(ScaleLayerShape, ParameterBlobsFollowAxisAndNumAxes) {
  struct Case {
    std::string param;
    int num_bottoms;
    Shape bottom;
    Shape scale_bottom;  // bottom[1] when num_bottoms == 2
    std::vector<Shape> blobs;
  };
  const std::vector<Case> cases = {
      {"", 1, {2, 3, 4, 5}, {}, {{3}}},
      {"axis: 0", 1, {2, 3, 4, 5}, {}, {{2}}},
      {"axis: 2 num_axes: 2", 1, {2, 3, 4, 5}, {}, {{4, 5}}},
      {"axis: 1 num_axes: -1", 1, {2, 3, 4, 5}, {}, {{3, 4, 5}}},
      {"axis: -1", 1, {2, 3, 4, 5}, {}, {{5}}},
      {"num_axes: 0", 1, {2, 3, 4, 5}, {}, {{}}},
      {"axis: 3 num_axes: 0", 1, {2, 3, 4, 5}, {}, {{}}},
      {"bias_term: true", 1, {1, 512, 7, 9}, {}, {{512}, {512}}},
      {"axis: 0 num_axes: -1 bias_term: true", 1, {3, 2}, {}, {{3, 2}, {3, 2}}},
      {"", 2, {2, 3, 4, 5}, {3, 4}, {}},
      {"bias_term: true", 2, {2, 3, 4, 5}, {3, 4}, {{3, 4}}},
      {"bias_term: true axis: 2", 2, {2, 3, 4, 5}, {}, {{}}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(ScaleText(c.param, c.num_bottoms));
    Blob x(c.bottom), s(c.scale_bottom), y;
    layer->SetUp(c.num_bottoms == 1 ? BlobVec{&x} : BlobVec{&x, &s}, {&y});
    EXPECT_EQ(y.shape(), c.bottom) << c.param;
    ASSERT_EQ(layer->blobs().size(), c.blobs.size()) << c.param;
    for (std::size_t i = 0; i < c.blobs.size(); ++i) {
      EXPECT_EQ(layer->blobs()[i]->shape(), c.blobs[i]) << c.param << " blob " << i;
    }
  }
}

TEST(ScaleLayerShape, FillsScaleWithOneUnlessAFillerIsGiven) {
  Blob x({1, 4, 2}), y;
  auto plain = MakeLayer(ScaleText(""));
  plain->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*plain->blobs()[0]), std::vector<float>(4, 1.0f));
  // FCN at-once: a fixed per-channel scale of 0.01.
  auto fixed =
      MakeLayer(ScaleText("filler { type: 'constant' value: 0.01 }") + " param { lr_mult: 0 }");
  fixed->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*fixed->blobs()[0]), std::vector<float>(4, 0.01f));
  auto biased = MakeLayer(ScaleText("bias_term: true bias_filler { type: 'constant' value: 0.5 }"));
  biased->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*biased->blobs()[1]), std::vector<float>(4, 0.5f));
}

// 3. Forward and backward against the coordinate loops.

struct ForwardCase {
  std::string param;
  int num_bottoms;
  Shape bottom;
  int axis;           // canonical axis of the operand (0 for a scalar)
  Shape scale_shape;  // the operand's shape
};

void PrintTo(const ForwardCase& c, std::ostream* os) { *os << "\"" << c.param << "\""; }

class ScaleLayerForward : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(ScaleLayerForward, MatchesCoordinateLoops) {
  const ForwardCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 21);
  auto s = GaussianBlob(c.scale_shape, 22);
  const std::vector<float> dy = Data(*GaussianBlob(c.bottom, 23));
  auto layer = MakeLayer(ScaleText(c.param, c.num_bottoms));
  const BlobVec bottom = c.num_bottoms == 1 ? BlobVec{x.get()} : BlobVec{x.get(), s.get()};
  Blob y;
  layer->SetUp(bottom, {&y});
  RandomizeParameters(layer.get(), 24);
  const bool learned = c.num_bottoms == 1;
  const bool bias = layer->blobs().size() > (learned ? 1u : 0u);
  const std::vector<float> scale = learned ? Data(*layer->blobs()[0]) : Data(*s);
  const std::vector<float> b = bias ? Data(*layer->blobs().back()) : std::vector<float>();
  // Parameter gradients accumulate onto what is there; bottom[1]'s is overwritten.
  for (auto& blob : layer->blobs()) SetDiff(blob.get(), std::vector<float>(blob->count(), 1.0f));
  SetDiff(s.get(), std::vector<float>(s->count(), 7.0f));

  layer->Forward(ExecContext(), bottom, {&y});
  SetDiff(&y, dy);
  layer->Backward(ExecContext(), {&y}, std::vector<bool>(bottom.size(), true), bottom);

  const Reference r =
      ScaleReference(*x, scale, b, dy, c.axis, static_cast<int>(c.scale_shape.size()));
  EXPECT_TRUE(AllNear(Data(y), r.y, 1e-6f, 1e-6f));
  EXPECT_TRUE(AllNear(Diff(*x), r.dx, 1e-6f, 1e-6f));
  std::vector<float> ds_expected = r.ds;
  if (learned) {
    for (float& v : ds_expected) v += 1.0f;
  }
  EXPECT_TRUE(AllNear(Diff(learned ? *layer->blobs()[0] : *s), ds_expected, 1e-5f, 1e-5f));
  if (bias) {
    std::vector<float> db_expected = r.db;
    for (float& v : db_expected) v += 1.0f;
    EXPECT_TRUE(AllNear(Diff(*layer->blobs().back()), db_expected, 1e-5f, 1e-5f));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScaleLayerForward,
    ::testing::Values(ForwardCase{"", 1, {2, 3, 4, 5}, 1, {3}},
                      ForwardCase{"bias_term: true", 1, {2, 3, 4, 5}, 1, {3}},
                      ForwardCase{"num_axes: 0", 1, {2, 3, 4}, 0, {}},
                      ForwardCase{"num_axes: 0 bias_term: true", 1, {2, 3, 4}, 0, {}},
                      ForwardCase{"axis: 1 num_axes: -1", 1, {2, 3, 4}, 1, {3, 4}},
                      ForwardCase{"axis: 0 num_axes: -1", 1, {2, 3, 4}, 0, {2, 3, 4}},
                      ForwardCase{"axis: 1 num_axes: 2", 1, {2, 3, 4, 5}, 1, {3, 4}},
                      ForwardCase{"axis: -1", 1, {2, 3, 4, 5}, 3, {5}},
                      ForwardCase{"", 2, {2, 3, 4, 5}, 1, {3, 4}},
                      ForwardCase{"bias_term: true", 2, {2, 3, 4, 5}, 1, {3, 4}},
                      ForwardCase{"axis: 0", 2, {2, 3, 4}, 0, {2, 3, 4}},
                      ForwardCase{"axis: 2", 2, {2, 3, 4}, 0, {}},
                      ForwardCase{"axis: -2", 2, {2, 3, 4, 5}, 2, {4}}));

TEST(ScaleLayerBackward, SkipsGradientsThatAreNotRequested) {
  auto x = GaussianBlob({2, 3, 4}, 31);
  auto layer = MakeLayer(ScaleText("bias_term: true"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetDiff(&y, std::vector<float>(24, 1.0f));
  SetDiff(x.get(), std::vector<float>(24, 9.0f));
  for (auto& blob : layer->blobs()) blob->ZeroDiff();
  layer->set_param_propagate_down(0, false);
  layer->set_param_propagate_down(1, false);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(24, 9.0f));
  EXPECT_EQ(Diff(*layer->blobs()[0]), std::vector<float>(3, 0.0f));
  EXPECT_EQ(Diff(*layer->blobs()[1]), std::vector<float>(3, 0.0f));
  layer->set_param_propagate_down(1, true);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*layer->blobs()[0]), std::vector<float>(3, 0.0f));
  EXPECT_EQ(Diff(*layer->blobs()[1]), std::vector<float>(3, 8.0f));
}

// 4. Finite differences on every bottom and parameter.

class ScaleLayerGradient : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(ScaleLayerGradient, MatchesFiniteDifferences) {
  const ForwardCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 41);
  auto s = GaussianBlob(c.scale_shape, 42);
  auto layer = MakeLayer(ScaleText(c.param, c.num_bottoms));
  const BlobVec bottom = c.num_bottoms == 1 ? BlobVec{x.get()} : BlobVec{x.get(), s.get()};
  Blob y;
  layer->SetUp(bottom, {&y});
  RandomizeParameters(layer.get(), 43);
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, bottom, {&y});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ScaleLayerGradient,
    ::testing::Values(ForwardCase{"", 1, {2, 3, 3, 2}, 1, {3}},
                      ForwardCase{"bias_term: true", 1, {2, 3, 3, 2}, 1, {3}},
                      ForwardCase{"num_axes: 0 bias_term: true", 1, {2, 3, 2}, 0, {}},
                      ForwardCase{"axis: 0 num_axes: -1", 1, {2, 3, 2}, 0, {2, 3, 2}},
                      ForwardCase{"axis: 1 num_axes: 2", 1, {2, 3, 2, 2}, 1, {3, 2}},
                      ForwardCase{"axis: -1 bias_term: true", 1, {2, 3, 2, 3}, 3, {3}},
                      ForwardCase{"", 2, {2, 3, 3, 2}, 1, {3, 3}},
                      ForwardCase{"bias_term: true", 2, {2, 3, 3, 2}, 1, {3, 3}},
                      ForwardCase{"axis: 3", 2, {2, 3, 2}, 0, {}}));

// 5. In place == out of place.

TEST(ScaleLayerInPlace, MatchesOutOfPlaceIncludingGradients) {
  for (const std::string param : {"", "bias_term: true", "axis: 0 num_axes: -1"}) {
    auto x = GaussianBlob({2, 3, 4}, 51);
    const std::vector<float> dy = Data(*GaussianBlob({2, 3, 4}, 52));
    auto apart = MakeLayer(ScaleText(param));
    auto inplace = MakeLayer(ScaleText(param));
    Blob y;
    apart->SetUp({x.get()}, {&y});
    RandomizeParameters(apart.get(), 53);
    apart->Forward(ExecContext(), {x.get()}, {&y});
    SetDiff(&y, dy);
    for (auto& blob : apart->blobs()) blob->ZeroDiff();
    apart->Backward(ExecContext(), {&y}, {true}, {x.get()});

    Blob z;
    z.CopyFrom(*x, /*copy_diff=*/false, /*reshape=*/true);
    inplace->SetUp({&z}, {&z});
    RandomizeParameters(inplace.get(), 53);
    inplace->Forward(ExecContext(), {&z}, {&z});
    EXPECT_EQ(Data(z), Data(y)) << param;
    EXPECT_GT(inplace->internal_bytes(), 0u);
    SetDiff(&z, dy);
    for (auto& blob : inplace->blobs()) blob->ZeroDiff();
    inplace->Backward(ExecContext(), {&z}, {true}, {&z});
    EXPECT_EQ(Diff(z), Diff(*x)) << param;
    for (std::size_t i = 0; i < apart->blobs().size(); ++i) {
      EXPECT_EQ(Diff(*inplace->blobs()[i]), Diff(*apart->blobs()[i])) << param << " blob " << i;
    }
  }
}

}  // namespace
}  // namespace fcn::test
