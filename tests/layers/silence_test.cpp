// SPDX-License-Identifier: BSD-2-Clause
// Silence layer: configuration, bottoms left alone by forward, and zero gradients where
// propagate_down is set. There is no top, hence no in-place case, and the finite-difference
// gradient is identically zero: the backward test below checks exactly that value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

// 1. Configuration.

TEST(SilenceLayerConfig, RejectsNoBottom) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Silence")pb"); }),
              HasSubstr("Silence takes at least 1 bottom blob(s), got 0"));
}

TEST(SilenceLayerConfig, RejectsATop) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Silence" bottom: "x" top: "y")pb"); }),
              HasSubstr("Silence takes 0 top blob(s), got 1"));
}

// 2. Shapes: the bottoms keep theirs, whatever their number.

TEST(SilenceLayerShape, LeavesBottomShapesAlone) {
  const std::vector<std::vector<std::vector<std::int64_t>>> cases = {
      {{2, 3}}, {{1, 21, 8, 8}, {1, 1, 8, 8}}, {{4}, {0, 2}, {3, 3, 3}}};
  for (const auto& shapes : cases) {
    std::string text = R"pb(type: "Silence")pb";
    std::vector<Blob> blobs;
    for (const auto& shape : shapes) {
      text += " bottom: \"b" + std::to_string(blobs.size()) + "\"";
      blobs.emplace_back(shape);
    }
    BlobVec bottom;
    for (Blob& b : blobs) bottom.push_back(&b);
    auto layer = MakeLayer(text);
    layer->SetUp(bottom, {});
    layer->Forward(ExecContext(), bottom, {});
    for (std::size_t i = 0; i < shapes.size(); ++i) EXPECT_EQ(blobs[i].shape(), shapes[i]);
  }
}

// 3. Forward and backward.

TEST(SilenceLayerForward, LeavesBottomDataAlone) {
  auto x = GaussianBlob({2, 3, 4}, /*seed=*/1);
  const std::vector<float> before = Data(*x);
  auto layer = MakeLayer(R"pb(type: "Silence" bottom: "x")pb");
  layer->SetUp({x.get()}, {});
  EXPECT_EQ(layer->Forward(ExecContext(), {x.get()}, {}), 0.0f);
  EXPECT_EQ(Data(*x), before);
}

TEST(SilenceLayerBackward, ZeroesOnlyPropagatedBottomDiffs) {
  Blob a({2, 3}), b({4}), c({1, 2, 2});
  for (Blob* blob : {&a, &b, &c}) {
    std::fill(blob->mutable_cpu_diff(), blob->mutable_cpu_diff() + blob->count(), 7.0f);
  }
  auto layer = MakeLayer(R"pb(type: "Silence" bottom: "a" bottom: "b" bottom: "c")pb");
  layer->SetUp({&a, &b, &c}, {});
  layer->Forward(ExecContext(), {&a, &b, &c}, {});
  layer->Backward(ExecContext(), {}, {true, false, true}, {&a, &b, &c});
  EXPECT_EQ(Diff(a), std::vector<float>(6, 0.0f));
  EXPECT_EQ(Diff(b), std::vector<float>(4, 7.0f));
  EXPECT_EQ(Diff(c), std::vector<float>(4, 0.0f));
}

}  // namespace
}  // namespace fcn::test
