// SPDX-License-Identifier: BSD-2-Clause
// ArgMax layer: configuration errors, Caffe's top shapes with and without axis, indices and
// values against a plain sort, tie breaking toward the highest index, and no gradient.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetValues;

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string ArgMaxText(const std::string& argmax_param) {
  return R"pb(name: "argmax" type: "ArgMax" bottom: "score" top: "pred" argmax_param {)pb" +
         argmax_param + " }";
}

std::vector<float> RunForward(const std::string& param, Blob* x, Shape* top_shape = nullptr) {
  auto layer = MakeLayer(ArgMaxText(param));
  Blob y;
  layer->SetUp({x}, {&y});
  layer->Forward(ExecContext(), {x}, {&y});
  if (top_shape != nullptr) *top_shape = y.shape();
  return Data(y);
}

// The k best (value, index) pairs of a list: sorted by value, larger first, and by index, larger
// first, among equal values.
std::vector<std::pair<float, std::int64_t>> Best(const std::vector<float>& values, int k) {
  std::vector<std::pair<float, std::int64_t>> pairs;
  for (std::size_t i = 0; i < values.size(); ++i) {
    pairs.emplace_back(values[i], static_cast<std::int64_t>(i));
  }
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  pairs.resize(static_cast<std::size_t>(k));
  return pairs;
}

// With axis: for every (outer, inner) line along `axis`, top(outer, j, inner) = index or value
// of the j-th best.
std::vector<float> ReferenceWithAxis(const Blob& x, int axis, int k, bool values) {
  const std::int64_t outer = x.count(0, axis), dim = x.shape(axis), inner = x.count(axis + 1);
  std::vector<float> y(static_cast<std::size_t>(outer * k * inner));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t in = 0; in < inner; ++in) {
      std::vector<float> line;
      for (std::int64_t d = 0; d < dim; ++d)
        line.push_back(x.cpu_data()[(o * dim + d) * inner + in]);
      const auto best = Best(line, k);
      for (int j = 0; j < k; ++j) {
        const auto& p = best[static_cast<std::size_t>(j)];
        y[static_cast<std::size_t>((o * k + j) * inner + in)] =
            values ? p.first : static_cast<float>(p.second);
      }
    }
  }
  return y;
}

// Without axis: per image, the k best indices, then (with values) the k best values.
std::vector<float> ReferenceFlat(const Blob& x, int k, bool values) {
  const std::int64_t per_image = x.count(1);
  std::vector<float> y;
  for (std::int64_t n = 0; n < x.shape(0); ++n) {
    const std::vector<float> image(x.cpu_data() + n * per_image,
                                   x.cpu_data() + (n + 1) * per_image);
    const auto best = Best(image, k);
    for (const auto& p : best) y.push_back(static_cast<float>(p.second));
    if (values) {
      for (const auto& p : best) y.push_back(p.first);
    }
  }
  return y;
}

// 1. Configuration.

TEST(ArgMaxLayerConfig, RejectsTopKZero) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ArgMaxText("top_k: 0")); }),
              HasSubstr("ArgMax top_k must be at least 1, got 0"));
}

TEST(ArgMaxLayerConfig, RejectsTopKAboveTheAxisSize) {
  auto layer = MakeLayer(ArgMaxText("axis: 1 top_k: 4"));
  Blob x({2, 3, 5, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("ArgMax top_k 4 exceeds the size 3 of axis 1 of the bottom 2x3x5x5"));
}

TEST(ArgMaxLayerConfig, RejectsTopKAboveTheImageSize) {
  auto layer = MakeLayer(ArgMaxText("top_k: 7"));
  Blob x({2, 3, 2}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("ArgMax top_k 7 exceeds the 6 values per image of the bottom 2x3x2"));
}

TEST(ArgMaxLayerConfig, RejectsAxisOutOfRange) {
  auto layer = MakeLayer(ArgMaxText("axis: 4"));
  Blob x({2, 3, 5, 5}), y;
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&y}); }),
              HasSubstr("axis 4 out of range for a 4-D blob of shape 2x3x5x5"));
}

// 2. Shapes.

TEST(ArgMaxLayerShape, FollowsCaffeWithAndWithoutAxis) {
  struct Case {
    std::string param;
    Shape bottom;
    Shape top;
  };
  const std::vector<Case> cases = {
      {"axis: 1", {1, 21, 5, 7}, {1, 1, 5, 7}},  // segmentation
      {"axis: 1 top_k: 3", {2, 21, 5, 7}, {2, 3, 5, 7}},
      {"axis: -1 top_k: 2 out_max_val: true", {2, 3, 4}, {2, 3, 2}},
      {"axis: 0", {4, 3}, {1, 3}},
      {"", {2, 21, 5, 7}, {2, 1, 1, 1}},
      {"top_k: 4", {2, 21, 5, 7}, {2, 1, 4, 1}},
      {"top_k: 4 out_max_val: true", {2, 21, 5, 7}, {2, 2, 4, 1}},
      {"top_k: 2", {3, 10}, {3, 1, 2}},
      {"out_max_val: true", {5}, {5, 2, 1}},
      {"top_k: 3", {2, 3, 1, 1, 2}, {2, 1, 3, 1, 1}},
  };
  for (const Case& c : cases) {
    Blob x(c.bottom), y;
    auto layer = MakeLayer(ArgMaxText(c.param));
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.top) << c.param << " on " << ShapeString(c.bottom) << " gave "
                                << ShapeString(y.shape());
  }
}

// 3. Forward against the reference.

TEST(ArgMaxLayerForward, WithAxisMatchesSortedLines) {
  struct Case {
    std::string param;
    int axis;
    int top_k;
    bool values;
  };
  const std::vector<Case> cases = {
      {"axis: 1", 1, 1, false},
      {"axis: 1 top_k: 3", 1, 3, false},
      {"axis: 1 top_k: 2 out_max_val: true", 1, 2, true},
      {"axis: -1 top_k: 4", 3, 4, false},
      {"axis: 0 top_k: 2 out_max_val: true", 0, 2, true},
      {"axis: 2", 2, 1, false},
  };
  auto x = GaussianBlob({2, 5, 3, 4}, /*seed=*/31);
  for (const Case& c : cases) {
    EXPECT_EQ(RunForward(c.param, x.get()), ReferenceWithAxis(*x, c.axis, c.top_k, c.values))
        << c.param;
  }
}

TEST(ArgMaxLayerForward, WithoutAxisMatchesSortedImages) {
  auto x = GaussianBlob({3, 4, 2, 3}, /*seed=*/32);
  for (int k : {1, 5}) {
    for (bool values : {false, true}) {
      const std::string param =
          "top_k: " + std::to_string(k) + (values ? " out_max_val: true" : "");
      EXPECT_EQ(RunForward(param, x.get()), ReferenceFlat(*x, k, values)) << param;
    }
  }
}

TEST(ArgMaxLayerForward, KnownIndicesAndValues) {
  Blob x({2, 4});
  SetValues(&x, {0.5f, 3.0f, -1.0f, 2.0f, 7.0f, 1.0f, 8.0f, 0.0f});
  EXPECT_EQ(RunForward("axis: 1", &x), (std::vector<float>{1, 2}));
  EXPECT_EQ(RunForward("axis: 1 top_k: 2 out_max_val: true", &x),
            (std::vector<float>{3.0f, 2.0f, 8.0f, 7.0f}));
  EXPECT_EQ(RunForward("top_k: 2 out_max_val: true", &x),
            (std::vector<float>{1, 3, 3.0f, 2.0f, 2, 0, 8.0f, 7.0f}));
}

TEST(ArgMaxLayerForward, TiesGoToTheHighestIndex) {
  // All-equal scores (e.g. zero-initialised score layers) give the HIGHEST class, unlike
  // numpy's argmax; further ties follow in descending index order.
  Blob x({1, 4, 1, 2});
  SetValues(&x, {0, 1, 0, 5, 0, 5, 0, 1});  // column 0 all zero; column 1: classes 1, 2 tie at 5
  EXPECT_EQ(RunForward("axis: 1", &x), (std::vector<float>{3, 2}));
  EXPECT_EQ(RunForward("axis: 1 top_k: 3", &x), (std::vector<float>{3, 2, 2, 1, 1, 3}));
  Blob flat({1, 5});
  SetValues(&flat, {2, 2, 2, 2, 2});
  EXPECT_EQ(RunForward("top_k: 3 out_max_val: true", &flat),
            (std::vector<float>{4, 3, 2, 2, 2, 2}));
}

// 4. No gradient.

TEST(ArgMaxLayerBackward, RefusesForcedBackwardAndThrowsWhenAsked) {
  auto layer = MakeLayer(ArgMaxText("axis: 1"));
  EXPECT_FALSE(layer->AllowForceBackward(0));
  Blob x({1, 3, 2, 2}), y;
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  layer->Backward(ExecContext(), {&y}, {false}, {&x});
  EXPECT_THAT(ConfigErrorOf([&] { layer->Backward(ExecContext(), {&y}, {true}, {&x}); }),
              HasSubstr("cannot back-propagate"));
}

// 5. In place: not allowed.

TEST(ArgMaxLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(ArgMaxText("axis: 1"))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
