// SPDX-License-Identifier: BSD-2-Clause
// Split layer: configuration, shapes, data sharing, the summed backward pass against a plain
// loop, and finite-difference gradients with three tops. In place is forbidden (tested in 1).
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

using test::SetDiff;

using ::testing::HasSubstr;

const char kThreeTops[] =
    R"pb(name: "split" type: "Split" bottom: "x" top: "a" top: "b" top: "c")pb";

std::string SplitText(int num_tops) {
  std::string text = R"pb(name: "split" type: "Split" bottom: "x")pb";
  for (int k = 0; k < num_tops; ++k) text += " top: \"t" + std::to_string(k) + "\"";
  return text;
}

// 1. Configuration.

TEST(SplitLayerConfig, RejectsInPlace) {
  auto layer = MakeLayer(R"pb(type: "Split" bottom: "x" top: "y" top: "x")pb");
  Blob x({2, 3}), y;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x}, {&y, &x});
              }),
              HasSubstr("Split cannot run in place: top 1 is its bottom"));
}

TEST(SplitLayerConfig, RejectsTwoBottoms) {
  EXPECT_THAT(
      ConfigErrorOf([] { MakeLayer(R"pb(type: "Split" bottom: "a" bottom: "b" top: "y")pb"); }),
      HasSubstr("Split takes 1 bottom blob(s), got 2"));
}

TEST(SplitLayerConfig, RejectsNoTop) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "Split" bottom: "a")pb"); }),
              HasSubstr("Split takes at least 1 top blob(s), got 0"));
}

// 2. Shapes.

TEST(SplitLayerShape, EveryTopTakesTheBottomShape) {
  struct Case {
    std::vector<std::int64_t> shape;
    int num_tops;
  };
  const std::vector<Case> cases = {{{2, 3, 4, 5}, 1}, {{7}, 2}, {{1, 21, 16, 16}, 3}};
  for (const Case& c : cases) {
    auto layer = MakeLayer(SplitText(c.num_tops));
    Blob x(c.shape);
    std::vector<Blob> tops(static_cast<std::size_t>(c.num_tops));
    BlobVec top;
    for (Blob& t : tops) top.push_back(&t);
    layer->SetUp({&x}, top);
    for (const Blob& t : tops) EXPECT_EQ(t.shape(), c.shape) << ShapeString(c.shape);
  }
}

// 3. Forward and backward.

TEST(SplitLayerForward, TopsShareTheBottomData) {
  auto x = GaussianBlob({2, 3, 4}, /*seed=*/1);
  Blob a, b, c;
  auto layer = MakeLayer(kThreeTops);
  layer->SetUp({x.get()}, {&a, &b, &c});
  layer->Forward(ExecContext(), {x.get()}, {&a, &b, &c});
  for (const Blob* t : {&a, &b, &c}) {
    EXPECT_TRUE(t->SharesDataWith(*x));
    EXPECT_EQ(Data(*t), Data(*x));
  }
  // Sharing, not copying: a later write to the bottom shows in every top.
  x->mutable_cpu_data()[5] = 123.0f;
  EXPECT_EQ(b.cpu_data()[5], 123.0f);
}

TEST(SplitLayerForward, FollowsABottomThatGrew) {
  Blob x({2, 3}), a, b;
  auto layer = MakeLayer(R"pb(type: "Split" bottom: "x" top: "a" top: "b")pb");
  layer->SetUp({&x}, {&a, &b});
  x.Reshape({4, 5, 6});
  FillGaussian(&x, /*seed=*/2);
  layer->Forward(ExecContext(), {&x}, {&a, &b});
  for (const Blob* t : {&a, &b}) {
    EXPECT_EQ(t->shape(), x.shape());
    EXPECT_EQ(Data(*t), Data(x));
  }
}

TEST(SplitLayerBackward, SumsTheTopDiffs) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/3);
  Blob a, b, c;
  auto layer = MakeLayer(kThreeTops);
  layer->SetUp({x.get()}, {&a, &b, &c});
  layer->Forward(ExecContext(), {x.get()}, {&a, &b, &c});
  const std::vector<float> da = Data(*GaussianBlob(x->shape(), 4));
  const std::vector<float> db = Data(*GaussianBlob(x->shape(), 5));
  const std::vector<float> dc = Data(*GaussianBlob(x->shape(), 6));
  SetDiff(&a, da);
  SetDiff(&b, db);
  SetDiff(&c, dc);
  layer->Backward(ExecContext(), {&a, &b, &c}, {true}, {x.get()});
  std::vector<float> expected;
  for (std::size_t i = 0; i < da.size(); ++i) expected.push_back(da[i] + db[i] + dc[i]);
  EXPECT_TRUE(AllNear(Diff(*x), expected, 1e-6f, 1e-6f));
}

TEST(SplitLayerBackward, CopiesASingleTopDiff) {
  auto x = GaussianBlob({3, 4}, /*seed=*/7);
  Blob a;
  auto layer = MakeLayer(SplitText(1));
  layer->SetUp({x.get()}, {&a});
  const std::vector<float> da = Data(*GaussianBlob(x->shape(), 8));
  SetDiff(&a, da);
  SetDiff(x.get(), std::vector<float>(12, 5.0f));
  layer->Backward(ExecContext(), {&a}, {true}, {x.get()});
  EXPECT_EQ(Diff(*x), da);
}

TEST(SplitLayerBackward, LeavesBottomDiffWhenNotPropagating) {
  auto x = GaussianBlob({3, 4}, /*seed=*/9);
  Blob a, b;
  auto layer = MakeLayer(SplitText(2));
  layer->SetUp({x.get()}, {&a, &b});
  SetDiff(&a, std::vector<float>(12, 1.0f));
  SetDiff(&b, std::vector<float>(12, 2.0f));
  SetDiff(x.get(), std::vector<float>(12, 5.0f));
  layer->Backward(ExecContext(), {&a, &b}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(12, 5.0f));
}

// 4. Finite differences.

TEST(SplitLayerGradient, ThreeTopsMatchFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/10);
  Blob a, b, c;
  auto layer = MakeLayer(kThreeTops);
  layer->SetUp({x.get()}, {&a, &b, &c});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&a, &b, &c});
}

}  // namespace
}  // namespace fcn::test
