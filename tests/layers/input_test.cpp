// SPDX-License-Identifier: BSD-2-Clause
// Input layer: configuration, the declared shapes (none, one for all tops, one per top), and
// the rule that a shape set by the caller survives Reshape. Input has no bottoms, hence no
// gradient to check and no in-place case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

using Shape = std::vector<std::int64_t>;

// 1. Configuration.

TEST(InputLayerConfig, RejectsShapeCountOtherThanZeroOneOrPerTop) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "Input"
                               top: "a"
                               top: "b"
                               top: "c"
                               input_param {
                                 shape { dim: 1 }
                                 shape { dim: 2 }
                               })pb");
              }),
              HasSubstr("once per top (3 tops); got 2 shapes"));
}

TEST(InputLayerConfig, RejectsNegativeDimension) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "Input"
                               top: "a"
                               top: "b"
                               input_param {
                                 shape { dim: 1 dim: 3 }
                                 shape { dim: 2 dim: -1 }
                               })pb");
              }),
              HasSubstr("shape for top 1 has a negative dimension: 2x-1"));
}

TEST(InputLayerConfig, RejectsABottom) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Input" bottom: "x" top: "y")pb"); }),
              HasSubstr("Input takes 0 bottom blob(s), got 1"));
}

TEST(InputLayerConfig, RejectsNoTop) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Input")pb"); }),
              HasSubstr("Input takes at least 1 top blob(s), got 0"));
}

// 2. Shapes.

TEST(InputLayerShape, AppliesTheDeclaredShapes) {
  struct Case {
    std::string text;
    std::vector<Shape> expected;  // per top, after set-up from tops shaped 5x5
  };
  const std::vector<Case> cases = {
      {R"pb(type: "Input" top: "a" top: "b")pb", {{5, 5}, {5, 5}}},
      {R"pb(type: "Input"
            top: "a"
            top: "b"
            input_param { shape { dim: 1 dim: 3 dim: 500 dim: 500 } })pb",
       {{1, 3, 500, 500}, {1, 3, 500, 500}}},
      {R"pb(type: "Input"
            top: "a"
            top: "b"
            input_param {
              shape { dim: 2 dim: 3 dim: 8 dim: 9 }
              shape { dim: 2 dim: 1 dim: 8 dim: 9 }
            })pb",
       {{2, 3, 8, 9}, {2, 1, 8, 9}}},
      {R"pb(type: "Input"
            top: "a"
            input_param { shape { dim: 7 } })pb",
       {{7}}},
      {R"pb(type: "Input"
            top: "a"
            input_param { shape {} })pb",
       {{}}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(c.text);
    std::vector<std::unique_ptr<Blob>> blobs;
    BlobVec top;
    for (std::size_t i = 0; i < c.expected.size(); ++i) {
      blobs.push_back(std::make_unique<Blob>(Shape{5, 5}));
      top.push_back(blobs.back().get());
    }
    layer->SetUp({}, top);
    for (std::size_t i = 0; i < blobs.size(); ++i) {
      EXPECT_EQ(blobs[i]->shape(), c.expected[i]) << c.text << "\ntop " << i;
    }
  }
}

TEST(InputLayerShape, CallerShapeSurvivesReshapeAndForward) {
  auto layer = MakeLayer(R"pb(type: "Input"
                              top: "data"
                              input_param { shape { dim: 1 dim: 3 dim: 500 dim: 500 } })pb");
  Blob data;
  layer->SetUp({}, {&data});
  data.Reshape({1, 3, 375, 281});
  layer->Reshape({}, {&data});
  EXPECT_EQ(data.shape(), (Shape{1, 3, 375, 281}));
  layer->Forward(ExecContext(), {}, {&data});
  EXPECT_EQ(data.shape(), (Shape{1, 3, 375, 281}));
}

TEST(InputLayerShape, NetReshapeKeepsTheCallerInputShape) {
  auto net = MakeNet(R"pb(
    name: "n"
    layer {
      name: "data"
      type: "Input"
      top: "data"
      input_param { shape { dim: 1 dim: 3 dim: 5 dim: 5 } }
    }
    layer { name: "relu" type: "ReLU" bottom: "data" top: "out" })pb");
  ASSERT_EQ(net->input_blobs().size(), 1u);
  net->input_blobs()[0]->Reshape({2, 3, 7, 9});
  net->Reshape();
  EXPECT_EQ(net->input_blobs()[0]->shape(), (Shape{2, 3, 7, 9}));
  EXPECT_EQ(net->blob_by_name("out")->shape(), (Shape{2, 3, 7, 9}));
}

// 3. Forward: the caller's values pass through untouched.

TEST(InputLayerForward, LeavesTheCallerDataAlone) {
  auto layer = MakeLayer(R"pb(type: "Input"
                              top: "data"
                              input_param { shape { dim: 2 dim: 3 dim: 4 } })pb");
  Blob data;
  layer->SetUp({}, {&data});
  FillGaussian(&data, /*seed=*/1);
  const std::vector<float> before = Data(data);
  EXPECT_EQ(layer->Forward(ExecContext(), {}, {&data}), 0.0f);
  EXPECT_EQ(Data(data), before);
}

}  // namespace
}  // namespace fcn::test
