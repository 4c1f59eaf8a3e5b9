// SPDX-License-Identifier: BSD-2-Clause
// Convolution layer: convolution_param validation, output and weight shapes, the forward pass
// against direct convolution loops (groups, dilation, per-axis geometry, the 1x1 path, N-d
// im2col, 3-D, two bottom/top pairs), finite-difference gradients, and the backward flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fcn/layer_registry.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string ConvText(const std::string& conv_param) {
  return R"pb(name: "conv" type: "Convolution" bottom: "x" top: "y" convolution_param {)pb" +
         conv_param + " }";
}

std::string TwoPairConvText(const std::string& conv_param) {
  return R"pb(name: "conv"
              type: "Convolution"
              bottom: "x1"
              bottom: "x2"
              top: "y1"
              top: "y2"
              convolution_param {)pb" +
         conv_param + " }";
}

// The ConfigError of setting up a layer from `text` on one bottom of `shape`.
std::string SetUpError(const std::string& text, const Shape& shape) {
  return ConfigErrorOf([&] {
    auto layer = MakeLayer(text);
    Blob x(shape), y;
    layer->SetUp({&x}, {&y});
  });
}

// Random weights and bias, so that the bias and every tap matter.
void FillParameters(Layer* layer, std::uint32_t seed) {
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), seed++);
}

// 1. Configuration.

TEST(ConvolutionLayerConfig, RejectsMissingOrZeroNumOutput) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("kernel_size: 3")); }),
              HasSubstr("num_output must be > 0"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("num_output: 0 kernel_size: 3")); }),
              HasSubstr("num_output must be > 0"));
}

TEST(ConvolutionLayerConfig, RejectsGroupThatDoesNotDivide) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("num_output: 4 kernel_size: 3 group: 0")); }),
              HasSubstr("group must be > 0"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("num_output: 5 kernel_size: 3 group: 2")); }),
              HasSubstr("num_output 5 is not divisible by group 2"));
  EXPECT_THAT(SetUpError(ConvText("num_output: 4 kernel_size: 3 group: 2"), {1, 3, 5, 5}),
              HasSubstr("input channels 3 (axis 1 of 1x3x5x5) are not divisible by group 2"));
}

TEST(ConvolutionLayerConfig, RequiresAKernel) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("num_output: 2")); }),
              HasSubstr("kernel_size (or kernel_h and kernel_w) is required"));
}

TEST(ConvolutionLayerConfig, RejectsZeroKernelStrideOrDilation) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"kernel_size: 0", "kernel_size must be > 0"},
      {"kernel_size: 3 kernel_size: 0", "kernel_size must be > 0, got 0 (value 2 of 2)"},
      {"kernel_size: 3 stride: 0", "stride must be > 0"},
      {"kernel_size: 3 dilation: 1 dilation: 0", "dilation must be > 0"},
      {"kernel_h: 0 kernel_w: 3", "kernel_h and kernel_w must be > 0, got 0 and 3"},
      {"kernel_size: 3 stride_h: 1 stride_w: 0", "stride_h and stride_w must be > 0, got 1 and 0"},
  };
  for (const auto& [param, message] : cases) {
    EXPECT_THAT(ConfigErrorOf([&] { MakeLayer(ConvText("num_output: 2 " + param)); }),
                HasSubstr(message))
        << param;
  }
}

TEST(ConvolutionLayerConfig, RejectsRepeatedAndHWFormsTogether) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"kernel_size: 3 kernel_h: 3 kernel_w: 3", "either kernel_size or kernel_h/kernel_w"},
      {"kernel_size: 3 stride: 2 stride_h: 2 stride_w: 2", "either stride or stride_h/stride_w"},
      {"kernel_size: 3 pad: 1 pad_w: 1", "either pad or pad_h/pad_w"},
      {"kernel_h: 3", "kernel_h and kernel_w must be given together"},
      {"kernel_size: 3 stride_w: 2", "stride_h and stride_w must be given together"},
  };
  for (const auto& [param, message] : cases) {
    EXPECT_THAT(ConfigErrorOf([&] { MakeLayer(ConvText("num_output: 2 " + param)); }),
                HasSubstr(message))
        << param;
  }
}

TEST(ConvolutionLayerConfig, RejectsHWFormsOutsideTwoD) {
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_h: 3 kernel_w: 3"), {1, 2, 4, 4, 4}),
              HasSubstr("kernel_h/kernel_w apply only to 2-D convolution; bottom 1x2x4x4x4 has "
                        "3 spatial axes"));
  EXPECT_THAT(
      SetUpError(ConvText("num_output: 2 kernel_size: 1 stride_h: 1 stride_w: 1"), {1, 2, 8}),
      HasSubstr("stride_h/stride_w apply only to 2-D convolution"));
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 1 pad_h: 1"), {1, 2, 4, 4, 4}),
              HasSubstr("pad_h/pad_w apply only to 2-D convolution"));
}

TEST(ConvolutionLayerConfig, RejectsPerAxisValuesThatMatchNoAxisCount) {
  const Shape three_d = {1, 2, 5, 5, 5};
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 3 kernel_size: 3"), three_d),
              HasSubstr("kernel_size must be given once or once per spatial axis (3), got 2 "
                        "values"));
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 1 stride: 1 stride: 1"), three_d),
              HasSubstr("stride must be given once or once per spatial axis (3), got 2"));
  EXPECT_THAT(
      SetUpError(ConvText("num_output: 2 kernel_size: 1 pad: 0 pad: 0 pad: 0"), {1, 2, 5, 5}),
      HasSubstr("pad must be given once or once per spatial axis (2), got 3"));
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 1 dilation: 1 dilation: 1"), three_d),
              HasSubstr("dilation must be given once or once per spatial axis (3), got 2"));
}

TEST(ConvolutionLayerConfig, RejectsUnknownFiller) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(ConvText("num_output: 2 kernel_size: 3 weight_filler { type: 'gauss' }"));
              }),
              HasSubstr("unknown filler type \"gauss\""));
}

TEST(ConvolutionLayerConfig, RejectsKernelThatLeavesNoOutput) {
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 5"), {1, 1, 3, 8}),
              HasSubstr("output would be empty on spatial axis 0: input 3 + 2 * pad 0 < dilated "
                        "kernel extent 5"));
  EXPECT_THAT(
      SetUpError(ConvText("num_output: 2 kernel_size: 3 dilation: 3 pad: 0 pad: 1"), {1, 1, 8, 4}),
      HasSubstr("spatial axis 1: input 4 + 2 * pad 1 < dilated kernel extent 7"));
}

TEST(ConvolutionLayerConfig, RejectsEmptyOrOversizedBottomsAndValues) {
  const std::string text = ConvText("num_output: 2 kernel_size: 1");
  EXPECT_THAT(SetUpError(text, {1, 0, 3, 3}),
              HasSubstr("bottom has no channels on axis 1 (shape 1x0x3x3)"));
  EXPECT_THAT(SetUpError(text, {1, 2, 3, 0}),
              HasSubstr("bottom 1x2x3x0 is empty on spatial axis 1"));
  // Blob memory is allocated on first access, so these shapes cost nothing.
  EXPECT_THAT(SetUpError(text, {1, 2, 1, 3000000000}),
              HasSubstr("bottom 1x2x1x3000000000 is too large on spatial axis 1"));
  EXPECT_THAT(SetUpError(text, {1, 2, 50000, 50000}),
              HasSubstr("spatial size of 50000x50000 -> 50000x50000 is too large for one GEMM"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(ConvText("num_output: 3000000000 kernel_size: 1")); }),
              HasSubstr("convolution_param.num_output 3000000000 is too large"));
}

TEST(ConvolutionLayerConfig, RejectsChannelAxisWithoutSpatialAxes) {
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 1 axis: 4"), {1, 2, 3, 3}),
              HasSubstr("axis 4 out of range"));
  EXPECT_THAT(SetUpError(ConvText("num_output: 2 kernel_size: 1 axis: -1"), {1, 2, 3, 3}),
              HasSubstr("needs at least one spatial axis after the channel axis 3"));
}

TEST(ConvolutionLayerConfig, NeedsOneTopPerBottomAndNoInPlace) {
  EXPECT_THAT(ConfigErrorOf([] {
                auto layer = MakeLayer(
                    R"pb(type: "Convolution"
                         bottom: "a"
                         bottom: "b"
                         top: "c"
                         convolution_param { num_output: 2 kernel_size: 1 })pb");
                Blob a({1, 2, 3, 3}), b({1, 2, 3, 3}), c;
                layer->SetUp({&a, &b}, {&c});
              }),
              HasSubstr("Convolution needs one top per bottom: 2 bottom(s), 1 top(s)"));
  EXPECT_THAT(ConfigErrorOf([] {
                auto layer = MakeLayer(ConvText("num_output: 2 kernel_size: 1"));
                Blob x({1, 2, 3, 3});
                layer->SetUp({&x}, {&x});
              }),
              HasSubstr("Convolution cannot run in place (top 0 is bottom 0)"));
}

TEST(ConvolutionLayerConfig, RejectsBottomsOfDifferentShapes) {
  EXPECT_THAT(ConfigErrorOf([] {
                auto layer = MakeLayer(TwoPairConvText("num_output: 2 kernel_size: 3"));
                Blob x1({1, 2, 5, 5}), x2({1, 2, 5, 6}), y1, y2;
                layer->SetUp({&x1, &x2}, {&y1, &y2});
              }),
              HasSubstr("all bottoms must have the same shape: bottom 0 is 1x2x5x5, bottom 1 is "
                        "1x2x5x6"));
}

TEST(ConvolutionLayerConfig, RejectsBottomThatChangesChannelsOrAxesAfterSetUp) {
  auto layer = MakeLayer(ConvText("num_output: 2 kernel_size: 3"));
  Blob x({1, 2, 5, 5}), y;
  layer->SetUp({&x}, {&y});
  x.Reshape({1, 3, 5, 5});
  EXPECT_THAT(ConfigErrorOf([&] { layer->Forward(ExecContext(), {&x}, {&y}); }),
              HasSubstr("bottom 0 has 3 channels; this layer was set up for 2"));
  x.Reshape({1, 2, 5, 5, 5});
  EXPECT_THAT(ConfigErrorOf([&] { layer->Forward(ExecContext(), {&x}, {&y}); }),
              HasSubstr("bottom 0 has 5 axes; this layer was set up for 4"));
}

TEST(ConvolutionLayerConfig, RejectsGivenWeightsThatDoNotFit) {
  const auto error_with_blobs = [](const std::string& conv_param,
                                   const std::vector<Shape>& shapes) {
    return ConfigErrorOf([&] {
      LayerParameter param = ParseLayerParam(ConvText(conv_param));
      for (const Shape& shape : shapes) Blob(shape).ToProto(param.add_blobs());
      auto layer = LayerRegistry::Builtin().Create(param);
      Blob x({1, 3, 5, 5}), y;
      layer->SetUp({&x}, {&y});
    });
  };
  EXPECT_THAT(error_with_blobs("num_output: 4 kernel_size: 3", {{4, 2, 3, 3}, {4}}),
              HasSubstr("incorrect weight shape: expected 4x3x3x3, got 4x2x3x3"));
  EXPECT_THAT(error_with_blobs("num_output: 4 kernel_size: 3", {{4, 3, 3, 3}, {3}}),
              HasSubstr("incorrect bias shape: expected 4, got 3"));
  EXPECT_THAT(
      error_with_blobs("num_output: 4 kernel_size: 3 bias_term: false", {{4, 3, 3, 3}, {4}}),
      HasSubstr("expected 1 parameter blob(s) (weights) for bias_term: false, got 2"));
}

TEST(ConvolutionLayerConfig, KeepsWeightsGivenWithTheParameter) {
  LayerParameter param = ParseLayerParam(
      ConvText("num_output: 2 kernel_size: 1 weight_filler { type: 'constant' value: 5 }"));
  auto weights = GaussianBlob({2, 3, 1, 1}, 3);
  auto bias = GaussianBlob({2}, 4);
  weights->ToProto(param.add_blobs());
  bias->ToProto(param.add_blobs());
  auto layer = LayerRegistry::Builtin().Create(param);
  Blob x({1, 3, 2, 2}), y;
  layer->SetUp({&x}, {&y});
  EXPECT_EQ(Data(*layer->blobs()[0]), Data(*weights));
  EXPECT_EQ(Data(*layer->blobs()[1]), Data(*bias));
}

// 2. Shapes.

TEST(ConvolutionLayerShape, ComputesTopAndParameterShapes) {
  struct Case {
    Shape bottom;
    std::string param;
    Shape top;
    Shape weights;
  };
  const std::vector<Case> cases = {
      {{1, 3, 5, 5}, "num_output: 4 kernel_size: 3", {1, 4, 3, 3}, {4, 3, 3, 3}},
      {{2, 3, 7, 8},
       "num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 3",
       {2, 6, 4, 4},
       {6, 1, 3, 3}},
      {{1, 2, 9, 9}, "num_output: 2 kernel_size: 3 dilation: 2", {1, 2, 5, 5}, {2, 2, 3, 3}},
      {{1, 2, 10, 7},
       "num_output: 3 kernel_h: 4 kernel_w: 2 stride_h: 3 stride_w: 1 pad_h: 1",
       {1, 3, 3, 6},
       {3, 2, 4, 2}},
      {{1, 2, 10, 7},
       "num_output: 3 kernel_size: 4 kernel_size: 2 stride: 3 stride: 1 pad: 1 pad: 0",
       {1, 3, 3, 6},
       {3, 2, 4, 2}},
      // FCN's conv1_1: pad 100 on a 500x500 image.
      {{1, 3, 500, 500}, "num_output: 2 kernel_size: 3 pad: 100", {1, 2, 698, 698}, {2, 3, 3, 3}},
      {{2, 3, 4, 5, 6},
       "num_output: 2 kernel_size: 3 kernel_size: 2 kernel_size: 3 pad: 1 pad: 0 pad: 1 "
       "stride: 1 stride: 2 stride: 1",
       {2, 2, 4, 2, 6},
       {2, 3, 3, 2, 3}},
      {{2, 3, 4, 5, 5}, "num_output: 6 kernel_size: 3 axis: 2", {2, 3, 6, 3, 3}, {6, 4, 3, 3}},
      {{2, 3, 11}, "num_output: 5 kernel_size: 3 stride: 2", {2, 5, 5}, {5, 3, 3}},
      {{1, 3, 5, 5}, "num_output: 4 kernel_size: 1 bias_term: false", {1, 4, 5, 5}, {4, 3, 1, 1}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(ConvText(c.param));
    Blob x(c.bottom), y;
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.top) << c.param;
    const bool bias = c.param.find("bias_term: false") == std::string::npos;
    ASSERT_EQ(layer->blobs().size(), bias ? 2u : 1u) << c.param;
    EXPECT_EQ(layer->blobs()[0]->shape(), c.weights) << c.param;
    if (bias) {
      EXPECT_EQ(layer->blobs()[1]->shape(), Shape{c.weights[0]}) << c.param;
    }
  }
}

TEST(ConvolutionLayerShape, FollowsTheBottomWhenItsSizeChanges) {
  auto layer = MakeLayer(ConvText("num_output: 3 kernel_size: 3"));
  Blob x({1, 2, 5, 5}), y;
  layer->SetUp({&x}, {&y});
  EXPECT_EQ(y.shape(), (Shape{1, 3, 3, 3}));
  x.Reshape({2, 2, 9, 7});
  layer->Forward(ExecContext(), {&x}, {&y});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 7, 5}));
}

// 3. Forward against direct convolution.

// Geometry of the reference, written out independently of the layer's parsing.
struct Geometry {
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int group = 1;
};

// Direct 2-D convolution: x is N x C x H x W (leading batch axes flattened into N), w is
// M x C/G x kh x kw, bias (or null) M.
std::vector<float> DirectConv2d(const std::vector<float>& x, std::int64_t n_count, int channels,
                                int height, int width, const std::vector<float>& w, int num_output,
                                const float* bias, const Geometry& s) {
  const int out_h = (height + 2 * s.pad_h - (s.dilation_h * (s.kernel_h - 1) + 1)) / s.stride_h + 1;
  const int out_w = (width + 2 * s.pad_w - (s.dilation_w * (s.kernel_w - 1) + 1)) / s.stride_w + 1;
  const int group_in = channels / s.group;
  const int group_out = num_output / s.group;
  std::vector<float> y(static_cast<std::size_t>(n_count * num_output * out_h * out_w));
  for (std::int64_t n = 0; n < n_count; ++n) {
    for (int m = 0; m < num_output; ++m) {
      const int g = m / group_out;
      for (int oy = 0; oy < out_h; ++oy) {
        for (int ox = 0; ox < out_w; ++ox) {
          double sum = bias ? bias[m] : 0.0;
          for (int cg = 0; cg < group_in; ++cg) {
            const int c = g * group_in + cg;
            for (int i = 0; i < s.kernel_h; ++i) {
              for (int j = 0; j < s.kernel_w; ++j) {
                const int iy = oy * s.stride_h - s.pad_h + i * s.dilation_h;
                const int ix = ox * s.stride_w - s.pad_w + j * s.dilation_w;
                if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                sum += static_cast<double>(w[static_cast<std::size_t>(
                           ((m * group_in + cg) * s.kernel_h + i) * s.kernel_w + j)]) *
                       x[static_cast<std::size_t>(((n * channels + c) * height + iy) * width + ix)];
              }
            }
          }
          y[static_cast<std::size_t>(((n * num_output + m) * out_h + oy) * out_w + ox)] =
              static_cast<float>(sum);
        }
      }
    }
  }
  return y;
}

struct ForwardCase {
  std::string name;
  Shape bottom;
  int axis;
  std::string param;
  int num_output;
  bool bias;
  Geometry geometry;
};

// Reference output for a layer whose parameters are already set.
std::vector<float> Reference(const ForwardCase& c, const Blob& x, const Layer& layer) {
  std::int64_t n_count = 1;
  for (int a = 0; a < c.axis; ++a) n_count *= c.bottom[static_cast<std::size_t>(a)];
  const auto axis = static_cast<std::size_t>(c.axis);
  const std::vector<float> bias = c.bias ? Data(*layer.blobs()[1]) : std::vector<float>();
  return DirectConv2d(Data(x), n_count, static_cast<int>(c.bottom[axis]),
                      static_cast<int>(c.bottom[axis + 1]), static_cast<int>(c.bottom[axis + 2]),
                      Data(*layer.blobs()[0]), c.num_output, c.bias ? bias.data() : nullptr,
                      c.geometry);
}

class ConvolutionForwardTest : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(ConvolutionForwardTest, MatchesDirectConvolution) {
  const ForwardCase& c = GetParam();
  auto layer = MakeLayer(ConvText(c.param));
  auto x = GaussianBlob(c.bottom, 11);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  ASSERT_EQ(layer->blobs().size(), c.bias ? 2u : 1u);
  FillParameters(layer.get(), 12);
  layer->Forward(ExecContext(), {x.get()}, {&y});
  EXPECT_TRUE(AllNear(Data(y), Reference(c, *x, *layer), 1e-4f, 1e-4f));
}

// Fields: name, bottom, axis, param, num_output, bias, {kh, kw, ph, pw, sh, sw, dh, dw, group}.
INSTANTIATE_TEST_SUITE_P(
    Cases, ConvolutionForwardTest,
    ::testing::Values(
        ForwardCase{"Pad1WithBias",
                    {2, 3, 6, 5},
                    1,
                    "num_output: 4 kernel_size: 3 pad: 1",
                    4,
                    true,
                    {3, 3, 1, 1, 1, 1, 1, 1, 1}},
        ForwardCase{"Stride2WithoutBias",
                    {2, 3, 7, 7},
                    1,
                    "num_output: 3 kernel_size: 3 stride: 2 pad: 1 bias_term: false",
                    3,
                    false,
                    {3, 3, 1, 1, 2, 2, 1, 1, 1}},
        ForwardCase{"TwoGroups",
                    {2, 4, 5, 6},
                    1,
                    "num_output: 6 kernel_size: 3 group: 2 pad: 1",
                    6,
                    true,
                    {3, 3, 1, 1, 1, 1, 1, 1, 2}},
        ForwardCase{"Dilation2",
                    {1, 2, 9, 8},
                    1,
                    "num_output: 3 kernel_size: 3 dilation: 2 pad: 2",
                    3,
                    true,
                    {3, 3, 2, 2, 1, 1, 2, 2, 1}},
        ForwardCase{"HWForms",
                    {2, 2, 8, 7},
                    1,
                    "num_output: 3 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 2 "
                    "stride_w: 1",
                    3,
                    true,
                    {3, 2, 1, 0, 2, 1, 1, 1, 1}},
        ForwardCase{"RepeatedPerAxis",
                    {1, 2, 9, 7},
                    1,
                    "num_output: 2 kernel_size: 2 kernel_size: 3 pad: 0 pad: 2 stride: 1 "
                    "stride: 3 dilation: 3 dilation: 1",
                    2,
                    true,
                    {2, 3, 0, 2, 1, 3, 3, 1, 1}},
        ForwardCase{"StrideLargerThanKernel",
                    {1, 2, 9, 9},
                    1,
                    "num_output: 2 kernel_size: 2 stride: 3",
                    2,
                    true,
                    {2, 2, 0, 0, 3, 3, 1, 1, 1}},
        ForwardCase{"ForcedNdIm2col",
                    {2, 4, 7, 6},
                    1,
                    "num_output: 4 kernel_size: 3 stride: 2 pad: 1 dilation: 2 group: 2 "
                    "force_nd_im2col: true",
                    4,
                    true,
                    {3, 3, 1, 1, 2, 2, 2, 2, 2}},
        ForwardCase{"OneByOneGrouped",
                    {2, 4, 3, 5},
                    1,
                    "num_output: 6 kernel_size: 1 group: 2",
                    6,
                    true,
                    {1, 1, 0, 0, 1, 1, 1, 1, 2}},
        ForwardCase{"ChannelAxis2",
                    {2, 3, 4, 5, 5},
                    2,
                    "num_output: 3 kernel_size: 3 axis: 2",
                    3,
                    true,
                    {3, 3, 0, 0, 1, 1, 1, 1, 1}}),
    [](const ::testing::TestParamInfo<ForwardCase>& case_info) { return case_info.param.name; });

// The 1x1 path (no im2col) against the im2col path of a 3x3 kernel whose only non-zero tap is
// the centre, forward and backward.
TEST(ConvolutionLayerForward, OneByOneFastPathEqualsIm2colPath) {
  auto one = MakeLayer(ConvText("num_output: 5 kernel_size: 1"));
  auto three = MakeLayer(ConvText("num_output: 5 kernel_size: 3 pad: 1"));
  auto x = GaussianBlob({2, 3, 4, 6}, 21);
  Blob y_one, y_three;
  one->SetUp({x.get()}, {&y_one});
  three->SetUp({x.get()}, {&y_three});
  FillParameters(one.get(), 22);
  const float* w1 = one->blobs()[0]->cpu_data();
  float* w3 = three->blobs()[0]->mutable_cpu_data();
  for (int k = 0; k < 5 * 3; ++k) {
    for (int t = 0; t < 9; ++t) w3[k * 9 + t] = t == 4 ? w1[k] : 0.0f;
  }
  three->blobs()[1]->CopyFrom(*one->blobs()[1]);

  const ExecContext ctx;
  one->Forward(ctx, {x.get()}, {&y_one});
  const std::vector<float> via_one = Data(y_one);
  three->Forward(ctx, {x.get()}, {&y_three});
  EXPECT_TRUE(AllNear(Data(y_three), via_one, 1e-5f, 1e-5f));

  FillGaussian(&y_one, 23);
  std::vector<float> top_diff = Data(y_one);
  std::copy(top_diff.begin(), top_diff.end(), y_one.mutable_cpu_diff());
  std::copy(top_diff.begin(), top_diff.end(), y_three.mutable_cpu_diff());
  for (auto* layer : {one.get(), three.get()}) {
    for (auto& blob : layer->blobs()) blob->ZeroDiff();
  }
  one->Backward(ctx, {&y_one}, {true}, {x.get()});
  const std::vector<float> dx_one = Diff(*x);
  three->Backward(ctx, {&y_three}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), dx_one, 1e-5f, 1e-5f));
  EXPECT_TRUE(AllNear(Diff(*three->blobs()[1]), Diff(*one->blobs()[1]), 1e-4f, 1e-5f));
  std::vector<float> centre_diff;
  for (int k = 0; k < 5 * 3; ++k) centre_diff.push_back(three->blobs()[0]->cpu_diff()[k * 9 + 4]);
  EXPECT_TRUE(AllNear(centre_diff, Diff(*one->blobs()[0]), 1e-4f, 1e-5f));
}

// Direct 3-D convolution, groups of 1: x N x C x D x H x W, w M x C x kd x kh x kw.
TEST(ConvolutionLayerForward, ThreeDimensionalMatchesDirectConvolution) {
  const int n_count = 2, channels = 2, num_output = 3;
  const int in[3] = {4, 5, 6};
  const int kernel[3] = {3, 2, 3}, pad[3] = {1, 0, 2}, stride[3] = {1, 2, 1}, dil[3] = {1, 1, 2};
  auto layer = MakeLayer(
      ConvText("num_output: 3 kernel_size: 3 kernel_size: 2 kernel_size: 3 pad: 1 pad: 0 pad: 2 "
               "stride: 1 stride: 2 stride: 1 dilation: 1 dilation: 1 dilation: 2"));
  auto x = GaussianBlob({n_count, channels, in[0], in[1], in[2]}, 31);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  FillParameters(layer.get(), 32);
  layer->Forward(ExecContext(), {x.get()}, {&y});

  int out[3];
  for (int a = 0; a < 3; ++a) {
    out[a] = (in[a] + 2 * pad[a] - (dil[a] * (kernel[a] - 1) + 1)) / stride[a] + 1;
  }
  ASSERT_EQ(y.shape(), (Shape{n_count, num_output, out[0], out[1], out[2]}));
  const std::vector<float> xs = Data(*x), w = Data(*layer->blobs()[0]),
                           b = Data(*layer->blobs()[1]);
  std::vector<float> expected;
  for (int n = 0; n < n_count; ++n) {
    for (int m = 0; m < num_output; ++m) {
      for (int o0 = 0; o0 < out[0]; ++o0) {
        for (int o1 = 0; o1 < out[1]; ++o1) {
          for (int o2 = 0; o2 < out[2]; ++o2) {
            double sum = b[static_cast<std::size_t>(m)];
            for (int c = 0; c < channels; ++c) {
              for (int t0 = 0; t0 < kernel[0]; ++t0) {
                for (int t1 = 0; t1 < kernel[1]; ++t1) {
                  for (int t2 = 0; t2 < kernel[2]; ++t2) {
                    const int i0 = o0 * stride[0] - pad[0] + t0 * dil[0];
                    const int i1 = o1 * stride[1] - pad[1] + t1 * dil[1];
                    const int i2 = o2 * stride[2] - pad[2] + t2 * dil[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2]) {
                      continue;
                    }
                    const int wi =
                        (((m * channels + c) * kernel[0] + t0) * kernel[1] + t1) * kernel[2] + t2;
                    const int xi = (((n * channels + c) * in[0] + i0) * in[1] + i1) * in[2] + i2;
                    sum += static_cast<double>(w[static_cast<std::size_t>(wi)]) *
                           xs[static_cast<std::size_t>(xi)];
                  }
                }
              }
            }
            expected.push_back(static_cast<float>(sum));
          }
        }
      }
    }
  }
  EXPECT_TRUE(AllNear(Data(y), expected, 1e-4f, 1e-4f));
}

TEST(ConvolutionLayerForward, TwoBottomTopPairsShareTheWeights) {
  auto layer = MakeLayer(TwoPairConvText("num_output: 3 kernel_size: 3 stride: 2 pad: 1"));
  auto x1 = GaussianBlob({2, 2, 5, 6}, 41);
  auto x2 = GaussianBlob({2, 2, 5, 6}, 42);
  Blob y1, y2;
  layer->SetUp({x1.get(), x2.get()}, {&y1, &y2});
  FillParameters(layer.get(), 43);
  layer->Forward(ExecContext(), {x1.get(), x2.get()}, {&y1, &y2});
  const ForwardCase c{"", {2, 2, 5, 6}, 1, "", 3, true, {3, 3, 1, 1, 2, 2, 1, 1, 1}};
  EXPECT_TRUE(AllNear(Data(y1), Reference(c, *x1, *layer), 1e-4f, 1e-4f));
  EXPECT_TRUE(AllNear(Data(y2), Reference(c, *x2, *layer), 1e-4f, 1e-4f));
}

// 4. Gradients (convolution is linear, so central differences are exact up to rounding).

void CheckGradients(const std::string& text, const std::vector<Shape>& bottom_shapes) {
  auto layer = MakeLayer(text);
  std::vector<std::unique_ptr<Blob>> bottoms, tops;
  BlobVec bottom, top;
  std::uint32_t seed = 51;
  for (const Shape& shape : bottom_shapes) {
    bottoms.push_back(GaussianBlob(shape, seed++));
    tops.push_back(std::make_unique<Blob>());
    bottom.push_back(bottoms.back().get());
    top.push_back(tops.back().get());
  }
  layer->SetUp(bottom, top);
  FillParameters(layer.get(), seed);
  GradientChecker checker(1e-2, 1e-3);
  checker.CheckLayer(*layer, bottom, top);
}

TEST(ConvolutionLayerGradient, GroupedStridedWithBias) {
  CheckGradients(ConvText("num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2"),
                 {{2, 4, 5, 5}});
}

TEST(ConvolutionLayerGradient, DilatedWithHWForms) {
  CheckGradients(ConvText("num_output: 3 kernel_h: 3 kernel_w: 2 pad_h: 2 pad_w: 1 stride_h: 1 "
                          "stride_w: 2 dilation: 2"),
                 {{1, 2, 6, 5}});
}

TEST(ConvolutionLayerGradient, OneByOneWithoutBias) {
  CheckGradients(ConvText("num_output: 2 kernel_size: 1 bias_term: false"), {{2, 3, 3, 4}});
}

TEST(ConvolutionLayerGradient, ThreeDimensional) {
  CheckGradients(ConvText("num_output: 2 kernel_size: 2 pad: 1 stride: 2"), {{1, 2, 3, 4, 4}});
}

TEST(ConvolutionLayerGradient, TwoBottomTopPairs) {
  CheckGradients(TwoPairConvText("num_output: 2 kernel_size: 3 pad: 1"),
                 {{1, 2, 4, 4}, {1, 2, 4, 4}});
}

TEST(ConvolutionLayerBackward, AccumulatesParameterGradientsAndOverwritesBottomDiff) {
  auto layer = MakeLayer(ConvText("num_output: 3 kernel_size: 3 pad: 1"));
  auto x = GaussianBlob({2, 2, 4, 4}, 61);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  FillParameters(layer.get(), 62);
  const ExecContext ctx;
  layer->Forward(ctx, {x.get()}, {&y});
  FillGaussian(&y, 63);
  std::copy(y.cpu_data(), y.cpu_data() + y.count(), y.mutable_cpu_diff());
  for (auto& blob : layer->blobs()) blob->ZeroDiff();

  layer->Backward(ctx, {&y}, {true}, {x.get()});
  const std::vector<float> dx = Diff(*x);
  const std::vector<float> dw = Diff(*layer->blobs()[0]);
  const std::vector<float> db = Diff(*layer->blobs()[1]);
  layer->Backward(ctx, {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), dx, 0.0f));
  std::vector<float> dw2 = dw, db2 = db;
  for (float& v : dw2) v *= 2;
  for (float& v : db2) v *= 2;
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[0]), dw2, 1e-5f, 1e-5f));
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[1]), db2, 1e-5f, 1e-5f));
}

TEST(ConvolutionLayerBackward, SkipsGradientsThatAreNotRequested) {
  auto layer = MakeLayer(ConvText("num_output: 3 kernel_size: 3 pad: 1"));
  auto x = GaussianBlob({1, 2, 4, 4}, 71);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  EXPECT_TRUE(layer->param_propagate_down(0));
  EXPECT_TRUE(layer->param_propagate_down(1));
  FillParameters(layer.get(), 72);
  const ExecContext ctx;
  layer->Forward(ctx, {x.get()}, {&y});
  FillGaussian(&y, 73);
  std::copy(y.cpu_data(), y.cpu_data() + y.count(), y.mutable_cpu_diff());
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), 42.0f);
  for (auto& blob : layer->blobs()) {
    std::fill(blob->mutable_cpu_diff(), blob->mutable_cpu_diff() + blob->count(), 7.0f);
  }
  layer->set_param_propagate_down(0, false);
  layer->set_param_propagate_down(1, false);
  layer->Backward(ctx, {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(static_cast<std::size_t>(x->count()), 42.0f));
  for (auto& blob : layer->blobs()) {
    EXPECT_EQ(Diff(*blob), std::vector<float>(static_cast<std::size_t>(blob->count()), 7.0f));
  }
}

}  // namespace
}  // namespace fcn::test
