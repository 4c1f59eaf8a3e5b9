// SPDX-License-Identifier: BSD-2-Clause
// Crop layer: configuration errors, output shapes, the copied window against plain loops
// (FCN's offsets included), the backward copy that never touches the reference bottom, and
// finite differences.
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

std::string CropText(const std::string& crop_param) {
  return R"pb(name: "crop" type: "Crop" bottom: "x" bottom: "like" top: "y")pb" +
         ("crop_param { " + crop_param + " }");
}

// Row-major strides of a shape.
std::vector<std::int64_t> Strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

// For every top coordinate, the bottom index at coordinate + offset (offsets given for all
// axes, 0 on the uncropped ones). Walks the top coordinates with an odometer.
std::vector<std::int64_t> ReferenceSourceIndices(const std::vector<std::int64_t>& bottom_shape,
                                                 const std::vector<std::int64_t>& top_shape,
                                                 const std::vector<std::int64_t>& offsets) {
  const std::vector<std::int64_t> strides = Strides(bottom_shape);
  std::vector<std::int64_t> coord(top_shape.size(), 0);
  std::int64_t count = 1;
  for (std::int64_t d : top_shape) count *= d;
  std::vector<std::int64_t> sources;
  for (std::int64_t t = 0; t < count; ++t) {
    std::int64_t source = 0;
    for (std::size_t a = 0; a < coord.size(); ++a) source += (coord[a] + offsets[a]) * strides[a];
    sources.push_back(source);
    for (std::size_t a = coord.size(); a-- > 0;) {
      if (++coord[a] < top_shape[a]) break;
      coord[a] = 0;
    }
  }
  return sources;
}

std::vector<float> ReferenceCrop(const Blob& x, const std::vector<std::int64_t>& top_shape,
                                 const std::vector<std::int64_t>& offsets) {
  std::vector<float> y;
  for (std::int64_t s : ReferenceSourceIndices(x.shape(), top_shape, offsets)) {
    y.push_back(x.cpu_data()[s]);
  }
  return y;
}

// 1. Configuration.

TEST(CropLayerConfig, RejectsWindowPastTheEdge) {
  auto layer = MakeLayer(CropText("axis: 2 offset: 5"));
  Blob x({1, 21, 34, 34}), like({1, 21, 36, 36}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &like}, {&y});
              }),
              HasSubstr("crop on axis 2 is out of bounds: offset 5 + size 36 > input 34"));
}

TEST(CropLayerConfig, RejectsOffsetPastTheEdgeOnOneAxis) {
  auto layer = MakeLayer(CropText("axis: 2 offset: 1 offset: 3"));
  Blob x({1, 2, 6, 7}), like({1, 2, 4, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &like}, {&y});
              }),
              HasSubstr("crop on axis 3 is out of bounds: offset 3 + size 5 > input 7"));
}

TEST(CropLayerConfig, RejectsOutOfBoundsFoundOnLaterForward) {
  auto layer = MakeLayer(CropText("offset: 2"));
  Blob x({1, 1, 8, 8}), like({1, 1, 4, 4}), y;
  layer->SetUp({&x, &like}, {&y});
  x.Reshape({1, 1, 5, 8});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&x, &like}, {&y});
              }),
              HasSubstr("crop on axis 2 is out of bounds: offset 2 + size 4 > input 5"));
}

TEST(CropLayerConfig, RejectsWrongNumberOfOffsets) {
  auto layer = MakeLayer(CropText("axis: 1 offset: 0 offset: 1"));
  Blob x({1, 4, 6, 6}), like({1, 2, 4, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &like}, {&y});
              }),
              HasSubstr("crop_param has 2 offsets; give none, one, or one per cropped axis (3 "
                        "for axis 1 of shape 1x4x6x6)"));
}

TEST(CropLayerConfig, RejectsBottomsWithDifferentAxisCounts) {
  auto layer = MakeLayer(CropText("axis: 1"));
  Blob x({1, 4, 6, 6}), like({4, 6}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &like}, {&y});
              }),
              HasSubstr("Crop bottoms must have the same number of axes: data 1x4x6x6, "
                        "reference 4x6"));
}

TEST(CropLayerConfig, RejectsAxisOutOfRange) {
  auto layer = MakeLayer(CropText("axis: 4"));
  Blob x({1, 4, 6, 6}), like({1, 4, 6, 6}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &like}, {&y});
              }),
              HasSubstr("axis 4 out of range for a 4-D blob"));
}

TEST(CropLayerConfig, RejectsOneBottom) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Crop" bottom: "x" top: "y")pb"); }),
              HasSubstr("Crop takes 2 bottom blob(s), got 1"));
}

// 2. Shapes.

TEST(CropLayerShape, KeepsLeadingAxesAndTakesReferenceSizesFromAxis) {
  struct Case {
    std::vector<std::int64_t> data;
    std::vector<std::int64_t> reference;
    std::string param;
    std::vector<std::int64_t> output;
  };
  const std::vector<Case> cases = {
      // FCN: the score keeps its 21 classes and takes the image's 500x500.
      {{1, 21, 568, 568}, {1, 3, 500, 500}, "axis: 2 offset: 31", {1, 21, 500, 500}},
      {{1, 21, 568, 568}, {1, 3, 500, 500}, "offset: 31", {1, 21, 500, 500}},
      {{1, 21, 568, 568}, {1, 3, 500, 500}, "axis: -2 offset: 31", {1, 21, 500, 500}},
      {{1, 21, 568, 568}, {1, 3, 500, 500}, "axis: 1", {1, 3, 500, 500}},
      {{2, 5, 9, 8}, {1, 3, 4, 6}, "axis: 3 offset: 2", {2, 5, 9, 6}},
      {{2, 5, 9, 8}, {1, 3, 4, 6}, "axis: 0", {1, 3, 4, 6}},
      {{2, 5, 9, 8}, {1, 3, 4, 6}, "axis: 1 offset: 1 offset: 5 offset: 2", {2, 3, 4, 6}},
      {{2, 5, 9, 8}, {1, 3, 9, 8}, "", {2, 5, 9, 8}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(CropText(c.param));
    Blob x(c.data), like(c.reference), y;
    layer->SetUp({&x, &like}, {&y});
    EXPECT_EQ(y.shape(), c.output) << c.param;
  }
}

// 3. Forward and backward against the reference.

TEST(CropLayerForward, FcnScoreCropAtOffset31MatchesReference) {
  auto x = GaussianBlob({1, 2, 568, 568}, /*seed=*/1701);
  Blob like({1, 3, 500, 500}), y;
  auto layer = MakeLayer(CropText("axis: 2 offset: 31"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  EXPECT_EQ(Data(y), ReferenceCrop(*x, {1, 2, 500, 500}, {0, 0, 31, 31}));
  // The first element is the bottom's (31, 31): the crop is not centred.
  EXPECT_EQ(Data(y)[0], x->cpu_data()[31 * 568 + 31]);
}

TEST(CropLayerForward, OneOffsetPerAxisMatchesReference) {
  auto x = GaussianBlob({2, 5, 9, 8}, /*seed=*/2);
  Blob like({1, 3, 4, 6}), y;
  auto layer = MakeLayer(CropText("axis: 1 offset: 1 offset: 5 offset: 2"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  EXPECT_EQ(Data(y), ReferenceCrop(*x, {2, 3, 4, 6}, {0, 1, 5, 2}));
}

TEST(CropLayerForward, ChannelAxisWithOneOffsetCropsEveryAxisFromIt) {
  auto x = GaussianBlob({2, 6, 5, 7}, /*seed=*/3);
  Blob like({9, 4, 3, 3}), y;
  auto layer = MakeLayer(CropText("axis: 1 offset: 2"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  EXPECT_EQ(Data(y), ReferenceCrop(*x, {2, 4, 3, 3}, {0, 2, 2, 2}));
}

TEST(CropLayerForward, WorksOnThreeAxes) {
  auto x = GaussianBlob({3, 7, 4}, /*seed=*/4);
  Blob like({3, 2, 2}), y;
  auto layer = MakeLayer(CropText("axis: -2 offset: 4 offset: 1"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  EXPECT_EQ(Data(y), ReferenceCrop(*x, {3, 2, 2}, {0, 4, 1}));
}

TEST(CropLayerBackward, CopiesTopDiffAtOffsetAndZeroesTheRest) {
  auto x = GaussianBlob({2, 3, 7, 6}, /*seed=*/5);
  Blob like({1, 1, 4, 3}), y;
  auto layer = MakeLayer(CropText("axis: 2 offset: 2 offset: 1"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  FillGaussian(&y, /*seed=*/6);
  const std::vector<float> dy = Data(y);
  SetValues(&y, dy, /*diff=*/true);
  SetValues(x.get(), std::vector<float>(static_cast<std::size_t>(x->count()), 9.0f), true);
  SetValues(&like, std::vector<float>(12, 7.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {true, true}, {x.get(), &like});
  std::vector<float> expected(static_cast<std::size_t>(x->count()), 0.0f);
  const std::vector<std::int64_t> sources =
      ReferenceSourceIndices(x->shape(), y.shape(), {0, 0, 2, 1});
  for (std::size_t t = 0; t < sources.size(); ++t) {
    expected[static_cast<std::size_t>(sources[t])] = dy[t];
  }
  EXPECT_EQ(Diff(*x), expected);
  EXPECT_EQ(Diff(like), std::vector<float>(12, 7.0f)) << "the reference diff is never written";
}

TEST(CropLayerBackward, LeavesBottomDiffWhenNotPropagating) {
  auto x = GaussianBlob({1, 1, 4, 4}, /*seed=*/7);
  Blob like({1, 1, 2, 2}), y;
  auto layer = MakeLayer(CropText("offset: 1"));
  layer->SetUp({x.get(), &like}, {&y});
  layer->Forward(ExecContext(), {x.get(), &like}, {&y});
  SetValues(x.get(), std::vector<float>(16, 9.0f), /*diff=*/true);
  SetValues(&y, std::vector<float>(4, 1.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&y}, {false, false}, {x.get(), &like});
  EXPECT_EQ(Diff(*x), std::vector<float>(16, 9.0f));
}

// 4. Finite differences (bottom 0; bottom 1 only supplies a shape).

TEST(CropLayerGradient, MatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 2, 5, 6}, /*seed=*/8);
  Blob like({1, 1, 3, 3}), y;
  auto layer = MakeLayer(CropText("axis: 2 offset: 1 offset: 2"));
  layer->SetUp({x.get(), &like}, {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get(), &like}, {&y}, /*bottoms=*/{0});
}

// 5. In place: not allowed (the top has another shape than the bottom).

TEST(CropLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(CropText("offset: 1"))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
