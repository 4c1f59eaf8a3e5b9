// SPDX-License-Identifier: BSD-2-Clause
// Concat layer: configuration errors, shapes, forward and backward against plain index loops,
// the shared single-bottom case, and finite differences on every bottom.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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

std::string ConcatText(const std::string& concat_param, int num_bottoms) {
  std::string text = R"pb(name: "cat" type: "Concat" top: "y")pb";
  for (int i = 0; i < num_bottoms; ++i) text += "bottom: \"x" + std::to_string(i) + "\" ";
  return text + "concat_param { " + concat_param + " }";
}

std::vector<std::unique_ptr<Blob>> GaussianBlobs(const std::vector<Shape>& shapes,
                                                 std::uint32_t seed) {
  std::vector<std::unique_ptr<Blob>> blobs;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    blobs.push_back(GaussianBlob(shapes[i], seed + static_cast<std::uint32_t>(i)));
  }
  return blobs;
}

BlobVec Pointers(const std::vector<std::unique_ptr<Blob>>& blobs) {
  BlobVec v;
  for (const auto& b : blobs) v.push_back(b.get());
  return v;
}

// Row-major flat index of a multi-index.
std::int64_t FlatIndex(const Shape& shape, const Shape& index) {
  std::int64_t flat = 0;
  for (std::size_t a = 0; a < shape.size(); ++a) flat = flat * shape[a] + index[a];
  return flat;
}

// Visits every element of bottom k and hands fn its flat index in the bottom and the flat
// index of the same element in the top (its axis coordinate shifted by the earlier bottoms).
template <class Fn>
void ForEachBottomElement(const BlobVec& x, int axis, std::size_t k, Fn fn) {
  std::int64_t offset = 0;
  for (std::size_t j = 0; j < k; ++j) offset += x[j]->shape(axis);
  Shape top_shape = x[0]->shape();
  top_shape[static_cast<std::size_t>(axis)] = 0;
  for (const Blob* b : x) top_shape[static_cast<std::size_t>(axis)] += b->shape(axis);
  const Shape& shape = x[k]->shape();
  for (std::int64_t i = 0; i < x[k]->count(); ++i) {
    Shape index(shape.size());
    std::int64_t rest = i;
    for (std::size_t a = shape.size(); a-- > 0;) {
      index[a] = rest % shape[a];
      rest /= shape[a];
    }
    index[static_cast<std::size_t>(axis)] += offset;
    fn(i, FlatIndex(top_shape, index));
  }
}

// Concatenation by definition: every top element comes from exactly one bottom element.
std::vector<float> ReferenceConcat(const BlobVec& x, int axis, std::int64_t top_count) {
  std::vector<float> y(static_cast<std::size_t>(top_count), -999.0f);
  for (std::size_t k = 0; k < x.size(); ++k) {
    ForEachBottomElement(x, axis, k, [&](std::int64_t i, std::int64_t t) {
      y[static_cast<std::size_t>(t)] = x[k]->cpu_data()[i];
    });
  }
  return y;
}

std::vector<float> ReferenceSlice(const BlobVec& x, int axis, std::size_t k,
                                  const std::vector<float>& dy) {
  std::vector<float> dx(static_cast<std::size_t>(x[k]->count()));
  ForEachBottomElement(x, axis, k, [&](std::int64_t i, std::int64_t t) {
    dx[static_cast<std::size_t>(i)] = dy[static_cast<std::size_t>(t)];
  });
  return dx;
}

// 1. Configuration.

TEST(ConcatLayerConfig, RejectsAxisTogetherWithConcatDim) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConcatText("axis: 1 concat_dim: 1", 2)); }),
              HasSubstr("give concat_param axis or the deprecated concat_dim, not both (axis 1, "
                        "concat_dim 1)"));
}

TEST(ConcatLayerConfig, RejectsBottomsDifferingOffTheAxis) {
  auto layer = MakeLayer(ConcatText("", 3));
  Blob a({1, 3, 5, 5}), b({1, 1, 5, 5}), c({1, 2, 5, 6}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b, &c}, {&y});
              }),
              HasSubstr("Concat bottoms must have the same number of axes and equal sizes except "
                        "on axis 1: bottom 0 is 1x3x5x5, bottom 2 is 1x2x5x6"));
}

TEST(ConcatLayerConfig, RejectsBottomsWithDifferentAxisCounts) {
  auto layer = MakeLayer(ConcatText("", 2));
  Blob a({2, 3, 4}), b({2, 3, 4, 1}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b}, {&y});
              }),
              HasSubstr("bottom 0 is 2x3x4, bottom 1 is 2x3x4x1"));
}

TEST(ConcatLayerConfig, RejectsAxisOutOfRange) {
  auto layer = MakeLayer(ConcatText("axis: -4", 2));
  Blob a({2, 3, 4}), b({2, 3, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b}, {&y});
              }),
              HasSubstr("axis -4 out of range for a 3-D blob of shape 2x3x4"));
}

TEST(ConcatLayerConfig, RejectsConcatDimOutOfRange) {
  auto layer = MakeLayer(ConcatText("concat_dim: 3", 2));
  Blob a({2, 3, 4}), b({2, 3, 4}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&a, &b}, {&y});
              }),
              HasSubstr("concat_dim 3 out of range for a 3-D bottom 0 of shape 2x3x4"));
}

TEST(ConcatLayerConfig, RejectsShapeChangeOnForward) {
  auto layer = MakeLayer(ConcatText("", 2));
  Blob a({1, 3, 4, 4}), b({1, 1, 4, 4}), y;
  layer->SetUp({&a, &b}, {&y});
  b.Reshape({1, 1, 5, 4});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&a, &b}, {&y});
              }),
              HasSubstr("bottom 0 is 1x3x4x4, bottom 1 is 1x1x5x4"));
}

// 2. Shapes.

TEST(ConcatLayerShape, TopSumsTheAxisAndKeepsTheRest) {
  struct Case {
    std::string param;
    std::vector<Shape> bottoms;
    Shape top;
  };
  const std::vector<Case> cases = {
      {"", {{1, 3, 5, 7}, {1, 1, 5, 7}}, {1, 4, 5, 7}},  // NYUD color + log-depth
      {"axis: 0", {{2, 3, 4}, {5, 3, 4}, {1, 3, 4}}, {8, 3, 4}},
      {"axis: -1", {{2, 3, 4}, {2, 3, 1}}, {2, 3, 5}},
      {"axis: 2", {{2, 3, 0, 2}, {2, 3, 4, 2}}, {2, 3, 4, 2}},
      {"concat_dim: 0", {{2, 3}, {4, 3}}, {6, 3}},
      {"concat_dim: 1", {{2, 3}, {2, 4}}, {2, 7}},
      {"", {{2, 6, 3}}, {2, 6, 3}},
  };
  for (const Case& c : cases) {
    auto x = GaussianBlobs(c.bottoms, /*seed=*/1);
    auto layer = MakeLayer(ConcatText(c.param, static_cast<int>(c.bottoms.size())));
    Blob y;
    layer->SetUp(Pointers(x), {&y});
    EXPECT_EQ(y.shape(), c.top) << c.param << " -> " << ShapeString(y.shape());
  }
}

// 3. Forward and backward against the reference.

TEST(ConcatLayerForward, CopiesEachBottomIntoItsSliceForEveryAxis) {
  struct Case {
    std::string param;
    int axis;
    std::vector<Shape> bottoms;
  };
  const std::vector<Case> cases = {
      {"", 1, {{2, 3, 4, 5}, {2, 1, 4, 5}, {2, 2, 4, 5}}},
      {"axis: 0", 0, {{2, 3, 4}, {1, 3, 4}}},
      {"axis: -1", 3, {{2, 3, 4, 2}, {2, 3, 4, 3}, {2, 3, 4, 1}}},
      {"concat_dim: 2", 2, {{2, 3, 1, 5}, {2, 3, 4, 5}}},
  };
  for (const Case& c : cases) {
    auto x = GaussianBlobs(c.bottoms, /*seed=*/7);
    auto layer = MakeLayer(ConcatText(c.param, static_cast<int>(c.bottoms.size())));
    Blob y;
    layer->SetUp(Pointers(x), {&y});
    layer->Forward(ExecContext(), Pointers(x), {&y});
    EXPECT_EQ(Data(y), ReferenceConcat(Pointers(x), c.axis, y.count())) << c.param;

    FillGaussian(&y, /*seed=*/99);
    float* dy = y.mutable_cpu_diff();
    for (std::int64_t i = 0; i < y.count(); ++i) dy[i] = y.cpu_data()[i];
    layer->Backward(ExecContext(), {&y}, std::vector<bool>(x.size(), true), Pointers(x));
    for (std::size_t k = 0; k < x.size(); ++k) {
      EXPECT_EQ(Diff(*x[k]), ReferenceSlice(Pointers(x), c.axis, k, Diff(y)))
          << c.param << " bottom " << k;
    }
  }
}

TEST(ConcatLayerForward, TwoBottomsAlongChannelsGiveKnownValues) {
  Blob a({1, 2, 1, 2}), b({1, 1, 1, 2}), y;
  const std::vector<float> av = {1, 2, 3, 4}, bv = {5, 6};
  std::copy(av.begin(), av.end(), a.mutable_cpu_data());
  std::copy(bv.begin(), bv.end(), b.mutable_cpu_data());
  auto layer = MakeLayer(ConcatText("", 2));
  layer->SetUp({&a, &b}, {&y});
  layer->Forward(ExecContext(), {&a, &b}, {&y});
  EXPECT_EQ(Data(y), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  auto layer0 = MakeLayer(ConcatText("axis: -1", 2));
  Blob c({1, 2, 1, 1}), z;
  c.mutable_cpu_data()[0] = 7;
  c.mutable_cpu_data()[1] = 8;
  Blob d({1, 2, 1, 2});
  std::copy(av.begin(), av.end(), d.mutable_cpu_data());
  layer0->SetUp({&d, &c}, {&z});
  layer0->Forward(ExecContext(), {&d, &c}, {&z});
  EXPECT_EQ(Data(z), (std::vector<float>{1, 2, 7, 3, 4, 8}));
}

TEST(ConcatLayerForward, SingleBottomSharesDataAndDiff) {
  auto x = GaussianBlob({2, 3, 4}, /*seed=*/3);
  auto layer = MakeLayer(ConcatText("", 1));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  EXPECT_TRUE(y.SharesDataWith(*x));
  EXPECT_EQ(y.shape(), x->shape());
  EXPECT_EQ(Data(y), Data(*x));
  y.mutable_cpu_diff()[5] = 42.0f;
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_EQ(x->cpu_diff()[5], 42.0f);
}

TEST(ConcatLayerBackward, WritesOnlyBottomsThatPropagate) {
  auto x = GaussianBlobs({{2, 1, 3}, {2, 2, 3}, {2, 3, 3}}, /*seed=*/5);
  auto layer = MakeLayer(ConcatText("", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  layer->Forward(ExecContext(), Pointers(x), {&y});
  FillGaussian(&y, /*seed=*/6);
  std::copy(y.cpu_data(), y.cpu_data() + y.count(), y.mutable_cpu_diff());
  for (const auto& b : x) std::fill(b->mutable_cpu_diff(), b->mutable_cpu_diff() + b->count(), 9);
  layer->Backward(ExecContext(), {&y}, {false, false, true}, Pointers(x));
  EXPECT_EQ(Diff(*x[0]), std::vector<float>(6, 9.0f));
  EXPECT_EQ(Diff(*x[1]), std::vector<float>(12, 9.0f));
  EXPECT_EQ(Diff(*x[2]), ReferenceSlice(Pointers(x), 1, 2, Diff(y)));
}

// 4. Finite differences on every bottom.

TEST(ConcatLayerGradient, ChannelAxisMatchesFiniteDifferences) {
  auto x = GaussianBlobs({{2, 3, 2, 3}, {2, 1, 2, 3}, {2, 2, 2, 3}}, /*seed=*/11);
  auto layer = MakeLayer(ConcatText("", 3));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

TEST(ConcatLayerGradient, FirstAxisMatchesFiniteDifferences) {
  auto x = GaussianBlobs({{1, 3, 2, 3}, {2, 3, 2, 3}}, /*seed=*/12);
  auto layer = MakeLayer(ConcatText("axis: 0", 2));
  Blob y;
  layer->SetUp(Pointers(x), {&y});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, Pointers(x), {&y});
}

// 5. In place: not allowed (the top's shape differs from the bottoms').

TEST(ConcatLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(ConcatText("", 2))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
