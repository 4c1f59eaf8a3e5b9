// SPDX-License-Identifier: BSD-2-Clause
// InnerProduct layer: inner_product_param validation, top and weight shapes, the forward pass
// and gradients against dot-product loops (axis, transpose, no bias), finite differences, and
// the fc -> conv reinterpretation that FCN's weight transplant relies on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
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

std::string IpText(const std::string& ip_param) {
  return R"pb(name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param {)pb" +
         ip_param + " }";
}

std::string SetUpError(const std::string& text, const Shape& shape) {
  return ConfigErrorOf([&] {
    auto layer = MakeLayer(text);
    Blob x(shape), y;
    layer->SetUp({&x}, {&y});
  });
}

// 1. Configuration.

TEST(InnerProductLayerConfig, RejectsMissingOrZeroNumOutput) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(IpText("")); }),
              HasSubstr("inner_product_param.num_output must be > 0 (it is 0 or missing)"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(IpText("num_output: 0")); }),
              HasSubstr("num_output must be > 0"));
}

TEST(InnerProductLayerConfig, RejectsUnknownFiller) {
  EXPECT_THAT(
      ConfigErrorOf([] { MakeLayer(IpText("num_output: 2 weight_filler { type: 'nonsense' }")); }),
      HasSubstr("nonsense"));
}

TEST(InnerProductLayerConfig, RejectsAxisOutOfRange) {
  EXPECT_THAT(SetUpError(IpText("num_output: 2 axis: 3"), {2, 3, 4}),
              HasSubstr("axis 3 out of range for a 3-D blob of shape 2x3x4"));
}

TEST(InnerProductLayerConfig, RejectsInputSizeChange) {
  auto layer = MakeLayer(IpText("num_output: 2"));
  Blob x({2, 3, 4}), y;
  layer->SetUp({&x}, {&y});
  x.Reshape({5, 12});  // the same K is fine, whatever the shape
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(y.shape(), (Shape{5, 2}));
  x.Reshape({2, 3, 5});
  EXPECT_THAT(ConfigErrorOf([&] { layer->Forward(ExecContext(), {&x}, {&y}); }),
              HasSubstr("input size changed from 12 to 15 (bottom 2x3x5 from axis 1)"));
}

TEST(InnerProductLayerConfig, RejectsGivenWeightsThatDoNotFit) {
  const auto error_with_blobs = [](const std::string& ip_param, const std::vector<Shape>& shapes) {
    return ConfigErrorOf([&] {
      LayerParameter param = ParseLayerParam(IpText(ip_param));
      for (const Shape& shape : shapes) Blob(shape).ToProto(param.add_blobs());
      auto layer = LayerRegistry::Builtin().Create(param);
      Blob x({2, 3, 2, 2}), y;
      layer->SetUp({&x}, {&y});
    });
  };
  EXPECT_THAT(error_with_blobs("num_output: 4", {{4, 3, 2, 2}, {4}}),
              HasSubstr("incorrect weight shape: expected 4x12 (N x K), got 4x3x2x2"));
  EXPECT_THAT(error_with_blobs("num_output: 4 transpose: true", {{4, 12}, {4}}),
              HasSubstr("incorrect weight shape: expected 12x4 (K x N, transpose), got 4x12"));
  EXPECT_THAT(error_with_blobs("num_output: 4", {{4, 12}, {3}}),
              HasSubstr("incorrect bias shape: expected 4, got 3"));
  EXPECT_THAT(error_with_blobs("num_output: 4 bias_term: false", {{4, 12}, {4}}),
              HasSubstr("expected 1 parameter blob(s) (weights) for bias_term: false, got 2"));
  EXPECT_THAT(error_with_blobs("num_output: 4", {{4, 12}}),
              HasSubstr("expected 2 parameter blob(s) (weights, bias) for bias_term: true, got 1"));
}

TEST(InnerProductLayerConfig, KeepsWeightsGivenWithTheParameter) {
  LayerParameter param =
      ParseLayerParam(IpText("num_output: 2 weight_filler { type: 'constant' value: 5 }"));
  auto weights = GaussianBlob({2, 6}, 3);
  auto bias = GaussianBlob({2}, 4);
  weights->ToProto(param.add_blobs());
  bias->ToProto(param.add_blobs());
  auto layer = LayerRegistry::Builtin().Create(param);
  Blob x({1, 6}), y;
  layer->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*layer->blobs()[0]), Data(*weights));
  EXPECT_EQ(Data(*layer->blobs()[1]), Data(*bias));
}

// 2. Shapes.

TEST(InnerProductLayerShape, TopAndBlobsFollowAxisAndTranspose) {
  struct Case {
    std::string param;
    Shape bottom;
    Shape top;
    Shape weights;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"num_output: 10", {2, 3, 4, 5}, {2, 10}, {10, 60}, true},
      {"num_output: 10 axis: 2", {2, 3, 4, 5}, {2, 3, 10}, {10, 20}, true},
      {"num_output: 10 axis: -1", {2, 3, 4, 5}, {2, 3, 4, 10}, {10, 5}, true},
      {"num_output: 10 axis: 0", {2, 3}, {10}, {10, 6}, true},
      {"num_output: 7 transpose: true", {2, 3, 4}, {2, 7}, {12, 7}, true},
      {"num_output: 7 bias_term: false", {1, 4096}, {1, 7}, {7, 4096}, false},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(IpText(c.param));
    Blob x(c.bottom), y;
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.top) << c.param;
    ASSERT_EQ(layer->blobs().size(), c.bias ? 2u : 1u) << c.param;
    EXPECT_EQ(layer->blobs()[0]->shape(), c.weights) << c.param;
    if (c.bias) {
      EXPECT_EQ(layer->blobs()[1]->shape(), Shape{c.top.back()}) << c.param;
    }
  }
}

TEST(InnerProductLayerShape, FillsFromTheFillers) {
  auto layer = MakeLayer(IpText(
      "num_output: 3 weight_filler { type: 'constant' value: 2 } bias_filler { type: 'constant' "
      "value: -1 }"));
  Blob x({1, 4}), y;
  layer->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*layer->blobs()[0]), std::vector<float>(12, 2.0f));
  EXPECT_EQ(Data(*layer->blobs()[1]), std::vector<float>(3, -1.0f));
}

// 3. Forward and backward against dot-product loops.

struct IpCase {
  std::string param;
  Shape bottom;
  int axis;
  int num_output;
  bool transpose;
  bool bias;
};

void PrintTo(const IpCase& c, std::ostream* os) { *os << "\"" << c.param << "\""; }

class InnerProductLayerForward : public ::testing::TestWithParam<IpCase> {};

TEST_P(InnerProductLayerForward, MatchesDotProductLoops) {
  const IpCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 21);
  auto layer = MakeLayer(IpText(c.param));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  std::uint32_t seed = 22;
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), seed++);
  for (auto& blob : layer->blobs()) SetDiff(blob.get(), std::vector<float>(blob->count(), 1.0f));
  layer->Forward(ExecContext(), {x.get()}, {&y});
  const std::vector<float> dy = Data(*GaussianBlob(y.shape(), 25));
  SetDiff(&y, dy);
  layer->Backward(ExecContext(), {&y}, {true}, {x.get()});

  const std::int64_t m = x->count(0, c.axis), k = x->count(c.axis), n = c.num_output;
  const float* w = layer->blobs()[0]->cpu_data();
  const auto weight = [&](std::int64_t out, std::int64_t in) {
    return static_cast<double>(c.transpose ? w[in * n + out] : w[out * k + in]);
  };
  const float* xs = x->cpu_data();
  std::vector<float> expected_y, expected_dx;
  std::vector<double> dw(static_cast<std::size_t>(n * k), 1.0),
      db(static_cast<std::size_t>(n), 1.0);
  for (std::int64_t r = 0; r < m; ++r) {
    for (std::int64_t o = 0; o < n; ++o) {
      double sum = c.bias ? layer->blobs()[1]->cpu_data()[o] : 0.0;
      for (std::int64_t i = 0; i < k; ++i) sum += xs[r * k + i] * weight(o, i);
      expected_y.push_back(static_cast<float>(sum));
      const double g = dy[static_cast<std::size_t>(r * n + o)];
      db[static_cast<std::size_t>(o)] += g;
      for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t wi = c.transpose ? i * n + o : o * k + i;
        dw[static_cast<std::size_t>(wi)] += g * xs[r * k + i];
      }
    }
    for (std::int64_t i = 0; i < k; ++i) {
      double sum = 0.0;
      for (std::int64_t o = 0; o < n; ++o)
        sum += dy[static_cast<std::size_t>(r * n + o)] * weight(o, i);
      expected_dx.push_back(static_cast<float>(sum));
    }
  }
  EXPECT_TRUE(AllNear(Data(y), expected_y, 1e-5f, 1e-5f));
  EXPECT_TRUE(AllNear(Diff(*x), expected_dx, 1e-5f, 1e-5f));
  EXPECT_TRUE(
      AllNear(Diff(*layer->blobs()[0]), std::vector<float>(dw.begin(), dw.end()), 1e-5f, 1e-5f));
  if (c.bias) {
    EXPECT_TRUE(
        AllNear(Diff(*layer->blobs()[1]), std::vector<float>(db.begin(), db.end()), 1e-5f, 1e-5f));
  }
}

const IpCase kCases[] = {
    {"num_output: 5", {2, 3, 2, 2}, 1, 5, false, true},
    {"num_output: 5 transpose: true", {2, 3, 2, 2}, 1, 5, true, true},
    {"num_output: 4 axis: 2", {2, 3, 2, 3}, 2, 4, false, true},
    {"num_output: 4 axis: 2 transpose: true", {2, 3, 2, 3}, 2, 4, true, true},
    {"num_output: 3 axis: -1 bias_term: false", {2, 3, 4}, 2, 3, false, false},
    {"num_output: 3 axis: 0", {2, 3}, 0, 3, false, true},
};

INSTANTIATE_TEST_SUITE_P(Cases, InnerProductLayerForward, ::testing::ValuesIn(kCases));

TEST(InnerProductLayerBackward, SkipsGradientsThatAreNotRequested) {
  auto x = GaussianBlob({2, 6}, 31);
  auto layer = MakeLayer(IpText("num_output: 3"));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  layer->Forward(ExecContext(), {x.get()}, {&y});
  SetDiff(&y, std::vector<float>(6, 1.0f));
  SetDiff(x.get(), std::vector<float>(12, 9.0f));
  for (auto& blob : layer->blobs()) blob->ZeroDiff();
  layer->set_param_propagate_down(0, false);
  layer->set_param_propagate_down(1, false);
  layer->Backward(ExecContext(), {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(12, 9.0f));
  EXPECT_EQ(Diff(*layer->blobs()[0]), std::vector<float>(18, 0.0f));
  EXPECT_EQ(Diff(*layer->blobs()[1]), std::vector<float>(3, 0.0f));
}

// 4. Finite differences on the bottom and every parameter.

class InnerProductLayerGradient : public ::testing::TestWithParam<IpCase> {};

TEST_P(InnerProductLayerGradient, MatchesFiniteDifferences) {
  const IpCase& c = GetParam();
  auto x = GaussianBlob(c.bottom, 41);
  auto layer = MakeLayer(IpText(c.param));
  Blob y;
  layer->SetUp({x.get()}, {&y});
  std::uint32_t seed = 42;
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), seed++);
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {x.get()}, {&y});
}

INSTANTIATE_TEST_SUITE_P(Cases, InnerProductLayerGradient, ::testing::ValuesIn(kCases));

// The fc -> conv transplant (fcn-reference §3.7): an InnerProduct over N x C x H x W equals a
// Convolution with an H x W kernel whose weights are the same numbers read as O x C x H x W.

TEST(InnerProductLayerTransplant, EqualsConvolutionWithWholeImageKernel) {
  auto x = GaussianBlob({2, 3, 4, 5}, 61);
  auto fc = MakeLayer(IpText("num_output: 6"));
  auto conv = MakeLayer(
      R"pb(name: "fc_conv"
           type: "Convolution"
           bottom: "x"
           top: "y"
           convolution_param { num_output: 6 kernel_h: 4 kernel_w: 5 })pb");
  Blob y_fc, y_conv;
  fc->SetUp({x.get()}, {&y_fc});
  conv->SetUp({x.get()}, {&y_conv});
  FillGaussian(fc->blobs()[0].get(), 62);
  FillGaussian(fc->blobs()[1].get(), 63);
  ASSERT_EQ(conv->blobs()[0]->shape(), (Shape{6, 3, 4, 5}));
  ASSERT_EQ(conv->blobs()[0]->count(), fc->blobs()[0]->count());
  const std::vector<float> weights = Data(*fc->blobs()[0]);  // 6 x 60, rows flattened (c, h, w)
  std::copy(weights.begin(), weights.end(), conv->blobs()[0]->mutable_cpu_data());
  conv->blobs()[1]->CopyFrom(*fc->blobs()[1]);

  fc->Forward(ExecContext(), {x.get()}, {&y_fc});
  conv->Forward(ExecContext(), {x.get()}, {&y_conv});
  EXPECT_EQ(y_fc.shape(), (Shape{2, 6}));
  EXPECT_EQ(y_conv.shape(), (Shape{2, 6, 1, 1}));
  EXPECT_TRUE(AllNear(Data(y_conv), Data(y_fc), 1e-5f, 1e-5f));
}

}  // namespace
}  // namespace fcn::test
