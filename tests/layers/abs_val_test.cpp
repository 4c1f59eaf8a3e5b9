// SPDX-License-Identifier: BSD-2-Clause
// AbsVal layer: schema and registration, shapes, forward/backward against plain loops,
// finite-difference gradients away from the kink at 0, and its coordinate map (identity).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "fcn/coord_map.h"
#include "fcn/io.h"
#include "fcn/layer_registry.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

const char kAbsVal[] = R"pb(name: "abs" type: "AbsVal" bottom: "x" top: "y")pb";

std::vector<float> ReferenceForward(const std::vector<float>& x) {
  std::vector<float> y;
  for (float v : x) y.push_back(std::fabs(v));
  return y;
}

// dx = dy where x > 0, -dy where x < 0, 0 where x == 0 (Caffe's sign(0) = 0).
std::vector<float> ReferenceBackward(const std::vector<float>& x, const std::vector<float>& dy) {
  std::vector<float> dx;
  for (std::size_t i = 0; i < x.size(); ++i) {
    dx.push_back(x[i] > 0 ? dy[i] : x[i] < 0 ? -dy[i] : 0.0f);
  }
  return dx;
}

void Set(float* p, const std::vector<float>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
}

TEST(AbsValLayerConfig, IsRegisteredWithAnIdentityCoordinateMap) {
  const LayerSchema* schema = LayerRegistry::Builtin().Find("AbsVal");
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->coord_map, CoordMapRule::kIdentity);
  EXPECT_FALSE(schema->in_place);
  EXPECT_TRUE(MakeLayer(kAbsVal)->RunsOn(Device::kCuda));
}

TEST(AbsValLayerConfig, RejectsInPlaceAndParameters) {
  auto layer = MakeLayer(R"pb(type: "AbsVal" bottom: "x" top: "x")pb");
  Blob x({2, 3});
  EXPECT_THAT(ConfigErrorOf([&] { layer->SetUp({&x}, {&x}); }),
              HasSubstr("AbsVal cannot compute in place"));
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "AbsVal"
                               bottom: "x"
                               top: "y"
                               relu_param {})pb");
              }),
              HasSubstr("relu_param does not apply to a AbsVal layer"));
  EXPECT_THAT(ConfigErrorOf([] {
                MakeNet(R"(layer { name: "in" type: "Input" top: "x"
                                   input_param { shape { dim: 2 } } }
                           layer { name: "a" type: "AbsVal" bottom: "x" top: "x" })");
              }),
              HasSubstr("AbsVal cannot compute in place"));
}

TEST(AbsValLayerShape, TopTakesTheBottomShape) {
  for (const std::vector<std::int64_t>& shape :
       std::vector<std::vector<std::int64_t>>{{2, 3, 4, 5}, {127}, {3, 0, 2}}) {
    auto layer = MakeLayer(kAbsVal);
    Blob x(shape), y({9, 9});
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), shape);
  }
}

TEST(AbsValLayerForward, TakesTheAbsoluteValue) {
  Blob x({6}), y;
  Set(x.mutable_cpu_data(), {-4.0f, -0.5f, -0.0f, 0.0f, 0.25f, 8.0f});
  auto layer = MakeLayer(kAbsVal);
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(Data(y), (std::vector<float>{4.0f, 0.5f, 0.0f, 0.0f, 0.25f, 8.0f}));
  EXPECT_FALSE(std::signbit(Data(y)[2])) << "|-0| is +0";

  auto r = GaussianBlob({2, 3, 5, 7}, /*seed=*/31);
  auto big = MakeLayer(kAbsVal);
  big->SetUp({r.get()}, {&y});
  big->Forward(ExecContext(), {r.get()}, {&y});
  EXPECT_TRUE(AllNear(Data(y), ReferenceForward(Data(*r)), 0.0f));
}

TEST(AbsValLayerBackward, MultipliesBySignWithZeroAtZero) {
  Blob x({5}), y;
  Set(x.mutable_cpu_data(), {-2.0f, 0.0f, 1e-6f, 0.5f, -1e-6f});
  auto layer = MakeLayer(kAbsVal);
  layer->SetUp({&x}, {&y});
  layer->Forward(ExecContext(), {&x}, {&y});
  const std::vector<float> dy = {1.0f, 2.0f, 3.0f, -4.0f, 5.0f};
  Set(y.mutable_cpu_diff(), dy);
  layer->Backward(ExecContext(), {&y}, {true}, {&x});
  EXPECT_EQ(Diff(x), (std::vector<float>{-1.0f, 0.0f, 3.0f, -4.0f, -5.0f}));
  EXPECT_EQ(Diff(x), ReferenceBackward(Data(x), dy));
}

TEST(AbsValLayerBackward, MatchesReferenceAndRespectsPropagateDown) {
  auto x = GaussianBlob({3, 4, 6, 9}, /*seed=*/7);
  Blob y;
  auto layer = MakeLayer(kAbsVal);
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  FillGaussian(&y, /*seed=*/8);
  const std::vector<float> dy = Data(y);
  Set(y.mutable_cpu_diff(), dy);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), ReferenceBackward(Data(*x), dy), 0.0f));

  Set(x->mutable_cpu_diff(), std::vector<float>(static_cast<std::size_t>(x->count()), 9.0f));
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(static_cast<std::size_t>(x->count()), 9.0f));
}

TEST(AbsValLayerGradient, MatchesFiniteDifferences) {
  auto x = GaussianBlob({2, 3, 4, 5}, /*seed=*/11);
  Blob y;
  auto layer = MakeLayer(kAbsVal);
  layer->SetUp({x.get()}, {&y});
  GradientChecker checker(/*step=*/1e-3, /*threshold=*/1e-3, /*seed=*/1701, /*kink=*/0.0,
                          /*kink_range=*/1e-2);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

// The crop analysis sees through AbsVal as through ReLU: the derived offset equals the one
// derived without it.
TEST(AbsValLayerCoordMap, CropOffsetsAreDerivedThroughIt) {
  const NetParameter param = ReadNetParamFromTextString(R"(
    layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 32 dim: 32 } } }
    layer { name: "c" type: "Convolution" bottom: "data" top: "c"
            convolution_param { num_output: 1 kernel_size: 3 pad: 10 } }
    layer { name: "a" type: "AbsVal" bottom: "c" top: "a" }
    layer { name: "k" type: "Crop" bottom: "a" bottom: "data" top: "k" crop_param { offset: 0 } })",
                                                        "absval.prototxt");
  const CoordMapAnalysis analysis(param);
  ASSERT_EQ(analysis.crops().size(), 1u);
  EXPECT_EQ(analysis.crops()[0].problem, "");
  EXPECT_EQ(analysis.crops()[0].derived, (std::vector<int>{9, 9}));
}

}  // namespace
}  // namespace fcn::test
