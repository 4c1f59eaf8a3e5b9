// SPDX-License-Identifier: BSD-2-Clause
// Deconvolution layer: validation, output and weight shapes, the forward pass against the
// scatter form (groups, dilation, per-axis geometry, the 1x1 path, N-d im2col, 3-D, two
// bottom/top pairs), the adjoint of Convolution, bilinear upsampling, and gradients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/layer_registry.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string DeconvText(const std::string& conv_param) {
  return R"pb(name: "up" type: "Deconvolution" bottom: "x" top: "y" convolution_param {)pb" +
         conv_param + " }";
}

std::string TwoPairDeconvText(const std::string& conv_param) {
  return R"pb(name: "up"
              type: "Deconvolution"
              bottom: "x1"
              bottom: "x2"
              top: "y1"
              top: "y2"
              convolution_param {)pb" +
         conv_param + " }";
}

std::string SetUpError(const std::string& text, const Shape& shape) {
  return ConfigErrorOf([&] {
    auto layer = MakeLayer(text);
    Blob x(shape), y;
    layer->SetUp({&x}, {&y});
  });
}

void FillParameters(Layer* layer, std::uint32_t seed) {
  for (auto& blob : layer->blobs()) FillGaussian(blob.get(), seed++);
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// 1. Configuration (convolution_param parsing is shared with Convolution and tested there in
// full; these are the checks whose outcome depends on the transposed roles).

TEST(DeconvolutionLayerConfig, RejectsMissingNumOutputAndIndivisibleGroups) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(DeconvText("kernel_size: 4")); }),
              HasSubstr("num_output must be > 0"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(DeconvText("num_output: 3 kernel_size: 4 group: 2")); }),
              HasSubstr("num_output 3 is not divisible by group 2"));
  EXPECT_THAT(SetUpError(DeconvText("num_output: 4 kernel_size: 4 group: 2"), {1, 3, 5, 5}),
              HasSubstr("input channels 3 (axis 1 of 1x3x5x5) are not divisible by group 2"));
}

TEST(DeconvolutionLayerConfig, RejectsPadThatLeavesNoOutput) {
  EXPECT_THAT(SetUpError(DeconvText("num_output: 2 kernel_size: 1 pad: 1"), {1, 2, 1, 4}),
              HasSubstr("output would be empty on spatial axis 0: stride 1 * (input 1 - 1) + "
                        "dilated kernel extent 1 - 2 * pad 1 = -1"));
}

TEST(DeconvolutionLayerConfig, RejectsHWFormsOutsideTwoD) {
  EXPECT_THAT(SetUpError(DeconvText("num_output: 2 kernel_h: 2 kernel_w: 2"), {1, 2, 3, 3, 3}),
              HasSubstr("kernel_h/kernel_w apply only to 2-D convolution"));
}

TEST(DeconvolutionLayerConfig, NeedsOneTopPerBottomAndNoInPlace) {
  EXPECT_THAT(ConfigErrorOf([] {
                auto layer = MakeLayer(
                    R"pb(type: "Deconvolution"
                         bottom: "a"
                         bottom: "b"
                         top: "c"
                         convolution_param { num_output: 2 kernel_size: 2 })pb");
                Blob a({1, 2, 3, 3}), b({1, 2, 3, 3}), c;
                layer->SetUp({&a, &b}, {&c});
              }),
              HasSubstr("Deconvolution needs one top per bottom: 2 bottom(s), 1 top(s)"));
  EXPECT_THAT(ConfigErrorOf([] {
                auto layer = MakeLayer(DeconvText("num_output: 2 kernel_size: 1"));
                Blob x({1, 2, 3, 3});
                layer->SetUp({&x}, {&x});
              }),
              HasSubstr("Deconvolution cannot run in place (top 0 is bottom 0)"));
}

TEST(DeconvolutionLayerConfig, RejectsGivenWeightsInConvolutionLayout) {
  // Deconvolution weights are C_in x M/G x kh x kw; the convolution layout M x C_in/G does not
  // fit when M != C_in.
  LayerParameter param = ParseLayerParam(DeconvText("num_output: 4 kernel_size: 2 group: 2"));
  Blob({4, 1, 2, 2}).ToProto(param.add_blobs());
  Blob({4}).ToProto(param.add_blobs());
  EXPECT_THAT(ConfigErrorOf([&] {
                auto layer = LayerRegistry::Builtin().Create(param);
                Blob x({1, 2, 3, 3}), y;
                layer->SetUp({&x}, {&y});
              }),
              HasSubstr("incorrect weight shape: expected 2x2x2x2, got 4x1x2x2"));
}

// 2. Shapes.

TEST(DeconvolutionLayerShape, ComputesTopAndParameterShapes) {
  struct Case {
    Shape bottom;
    std::string param;
    Shape top;
    Shape weights;
    Shape bias;  // empty: no bias blob
  };
  const std::vector<Case> cases = {
      {{1, 3, 5, 5},
       "num_output: 3 kernel_size: 4 stride: 2 pad: 1",
       {1, 3, 10, 10},
       {3, 3, 4, 4},
       {3}},
      // FCN-32s' upscore: kernel 64, stride 32, no pad.
      {{1, 2, 16, 16},
       "num_output: 2 kernel_size: 64 stride: 32 bias_term: false",
       {1, 2, 544, 544},
       {2, 2, 64, 64},
       {}},
      {{2, 4, 3, 5},
       "num_output: 6 kernel_size: 3 group: 2 dilation: 2 pad: 1 stride: 3",
       {2, 6, 9, 15},
       {4, 3, 3, 3},
       {6}},
      {{1, 2, 4, 5},
       "num_output: 3 kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_w: 1",
       {1, 3, 8, 5},
       {2, 3, 2, 3},
       {3}},
      {{1, 2, 3, 4, 5},
       "num_output: 2 kernel_size: 2 stride: 2",
       {1, 2, 6, 8, 10},
       {2, 2, 2, 2, 2},
       {2}},
      {{1, 3, 4, 4}, "num_output: 2 kernel_size: 1", {1, 2, 4, 4}, {3, 2, 1, 1}, {2}},
      {{2, 3, 4, 5, 5},
       "num_output: 2 kernel_size: 2 stride: 2 axis: 2",
       {2, 3, 2, 10, 10},
       {4, 2, 2, 2},
       {2}},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(DeconvText(c.param));
    Blob x(c.bottom), y;
    layer->SetUp({&x}, {&y});
    EXPECT_EQ(y.shape(), c.top) << c.param;
    ASSERT_EQ(layer->blobs().size(), c.bias.empty() ? 1u : 2u) << c.param;
    EXPECT_EQ(layer->blobs()[0]->shape(), c.weights) << c.param;
    if (!c.bias.empty()) {
      EXPECT_EQ(layer->blobs()[1]->shape(), c.bias) << c.param;
    }
  }
}

// 3. Forward against the scatter form.

struct Geometry {
  int kernel_h = 1, kernel_w = 1;
  int pad_h = 0, pad_w = 0;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int group = 1;
};

// Scatter form: every input x[n, c, h, w] of group g adds W[c, o', i, j] * x to
// y[n, g*M/G + o', h*s - p + i*d, w*s - p + j*d] (targets outside dropped); then the bias.
// x is N x C x H x W (leading batch axes flattened into N), w C x M/G x kh x kw.
std::vector<float> ScatterDeconv2d(const std::vector<float>& x, std::int64_t n_count, int channels,
                                   int height, int width, const std::vector<float>& w,
                                   int num_output, const float* bias, const Geometry& s) {
  const int out_h = s.stride_h * (height - 1) + s.dilation_h * (s.kernel_h - 1) + 1 - 2 * s.pad_h;
  const int out_w = s.stride_w * (width - 1) + s.dilation_w * (s.kernel_w - 1) + 1 - 2 * s.pad_w;
  const int group_in = channels / s.group;
  const int group_out = num_output / s.group;
  std::vector<double> y(static_cast<std::size_t>(n_count * num_output * out_h * out_w), 0.0);
  for (std::int64_t n = 0; n < n_count; ++n) {
    for (int c = 0; c < channels; ++c) {
      const int g = c / group_in;
      for (int h = 0; h < height; ++h) {
        for (int v = 0; v < width; ++v) {
          const double value =
              x[static_cast<std::size_t>(((n * channels + c) * height + h) * width + v)];
          for (int o = 0; o < group_out; ++o) {
            for (int i = 0; i < s.kernel_h; ++i) {
              for (int j = 0; j < s.kernel_w; ++j) {
                const int oy = h * s.stride_h - s.pad_h + i * s.dilation_h;
                const int ox = v * s.stride_w - s.pad_w + j * s.dilation_w;
                if (oy < 0 || oy >= out_h || ox < 0 || ox >= out_w) continue;
                const int m = g * group_out + o;
                y[static_cast<std::size_t>(((n * num_output + m) * out_h + oy) * out_w + ox)] +=
                    w[static_cast<std::size_t>(((c * group_out + o) * s.kernel_h + i) * s.kernel_w +
                                               j)] *
                    value;
              }
            }
          }
        }
      }
    }
  }
  std::vector<float> result(y.size());
  const std::int64_t plane = static_cast<std::int64_t>(out_h) * out_w;
  for (std::size_t k = 0; k < y.size(); ++k) {
    const auto m = static_cast<std::size_t>((static_cast<std::int64_t>(k) / plane) % num_output);
    result[k] = static_cast<float>(y[k] + (bias ? bias[m] : 0.0f));
  }
  return result;
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

std::vector<float> Reference(const ForwardCase& c, const Blob& x, const Layer& layer) {
  std::int64_t n_count = 1;
  for (int a = 0; a < c.axis; ++a) n_count *= c.bottom[static_cast<std::size_t>(a)];
  const auto axis = static_cast<std::size_t>(c.axis);
  const std::vector<float> bias = c.bias ? Data(*layer.blobs()[1]) : std::vector<float>();
  return ScatterDeconv2d(Data(x), n_count, static_cast<int>(c.bottom[axis]),
                         static_cast<int>(c.bottom[axis + 1]), static_cast<int>(c.bottom[axis + 2]),
                         Data(*layer.blobs()[0]), c.num_output, c.bias ? bias.data() : nullptr,
                         c.geometry);
}

class DeconvolutionForwardTest : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(DeconvolutionForwardTest, MatchesScatterForm) {
  const ForwardCase& c = GetParam();
  auto layer = MakeLayer(DeconvText(c.param));
  auto x = GaussianBlob(c.bottom, 11);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  ASSERT_EQ(layer->blobs().size(), c.bias ? 2u : 1u);
  FillParameters(layer.get(), 12);
  // Garbage in the top: the forward pass must overwrite it.
  std::fill(y.mutable_cpu_data(), y.mutable_cpu_data() + y.count(), 99.0f);
  layer->Forward(ExecContext(), {x.get()}, {&y});
  EXPECT_TRUE(AllNear(Data(y), Reference(c, *x, *layer), 1e-4f, 1e-4f));
}

// Fields: name, bottom, axis, param, num_output, bias, {kh, kw, ph, pw, sh, sw, dh, dw, group}.
INSTANTIATE_TEST_SUITE_P(
    Cases, DeconvolutionForwardTest,
    ::testing::Values(
        ForwardCase{"Stride2Pad1WithBias",
                    {2, 3, 4, 5},
                    1,
                    "num_output: 2 kernel_size: 4 stride: 2 pad: 1",
                    2,
                    true,
                    {4, 4, 1, 1, 2, 2, 1, 1, 1}},
        ForwardCase{"FcnStyleNoPadNoBias",
                    {1, 3, 3, 3},
                    1,
                    "num_output: 3 kernel_size: 4 stride: 2 bias_term: false",
                    3,
                    false,
                    {4, 4, 0, 0, 2, 2, 1, 1, 1}},
        ForwardCase{"TwoGroups",
                    {2, 4, 3, 4},
                    1,
                    "num_output: 6 kernel_size: 3 stride: 2 group: 2",
                    6,
                    true,
                    {3, 3, 0, 0, 2, 2, 1, 1, 2}},
        ForwardCase{"Dilation2",
                    {1, 2, 4, 5},
                    1,
                    "num_output: 3 kernel_size: 3 dilation: 2 pad: 1",
                    3,
                    true,
                    {3, 3, 1, 1, 1, 1, 2, 2, 1}},
        ForwardCase{"HWForms",
                    {2, 2, 3, 4},
                    1,
                    "num_output: 3 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 2 "
                    "stride_w: 3",
                    3,
                    true,
                    {3, 2, 1, 0, 2, 3, 1, 1, 1}},
        ForwardCase{"RepeatedPerAxis",
                    {1, 2, 4, 3},
                    1,
                    "num_output: 2 kernel_size: 2 kernel_size: 3 pad: 0 pad: 1 stride: 3 "
                    "stride: 1 dilation: 1 dilation: 2",
                    2,
                    true,
                    {2, 3, 0, 1, 3, 1, 1, 2, 1}},
        ForwardCase{"ForcedNdIm2col",
                    {2, 4, 3, 4},
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
                    {2, 3, 2, 3, 3},
                    2,
                    "num_output: 3 kernel_size: 3 stride: 2 axis: 2",
                    3,
                    true,
                    {3, 3, 0, 0, 2, 2, 1, 1, 1}}),
    [](const ::testing::TestParamInfo<ForwardCase>& case_info) { return case_info.param.name; });

// The 1x1 path (no col2im) against the col2im path of a 3x3 kernel with only the centre tap.
TEST(DeconvolutionLayerForward, OneByOneFastPathEqualsCol2imPath) {
  auto one = MakeLayer(DeconvText("num_output: 4 kernel_size: 1"));
  auto three = MakeLayer(DeconvText("num_output: 4 kernel_size: 3 pad: 1"));
  auto x = GaussianBlob({2, 3, 4, 5}, 21);
  Blob y_one, y_three;
  one->SetUp({x.get()}, {&y_one});
  three->SetUp({x.get()}, {&y_three});
  ASSERT_EQ(y_one.shape(), y_three.shape());
  FillParameters(one.get(), 22);
  const float* w1 = one->blobs()[0]->cpu_data();
  float* w3 = three->blobs()[0]->mutable_cpu_data();
  for (int k = 0; k < 3 * 4; ++k) {
    for (int t = 0; t < 9; ++t) w3[k * 9 + t] = t == 4 ? w1[k] : 0.0f;
  }
  three->blobs()[1]->CopyFrom(*one->blobs()[1]);
  const ExecContext ctx;
  one->Forward(ctx, {x.get()}, {&y_one});
  three->Forward(ctx, {x.get()}, {&y_three});
  EXPECT_TRUE(AllNear(Data(y_three), Data(y_one), 1e-5f, 1e-5f));

  FillGaussian(&y_one, 23);
  std::copy(y_one.cpu_data(), y_one.cpu_data() + y_one.count(), y_one.mutable_cpu_diff());
  std::copy(y_one.cpu_data(), y_one.cpu_data() + y_one.count(), y_three.mutable_cpu_diff());
  for (auto* layer : {one.get(), three.get()}) {
    for (auto& blob : layer->blobs()) blob->ZeroDiff();
  }
  one->Backward(ctx, {&y_one}, {true}, {x.get()});
  const std::vector<float> dx_one = Diff(*x);
  three->Backward(ctx, {&y_three}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), dx_one, 1e-5f, 1e-5f));
  std::vector<float> centre_diff;
  for (int k = 0; k < 3 * 4; ++k) centre_diff.push_back(three->blobs()[0]->cpu_diff()[k * 9 + 4]);
  EXPECT_TRUE(AllNear(centre_diff, Diff(*one->blobs()[0]), 1e-4f, 1e-5f));
}

// 3-D scatter form: x N x C x D x H x W, w C x M x kd x kh x kw.
TEST(DeconvolutionLayerForward, ThreeDimensionalMatchesScatterForm) {
  const int n_count = 2, channels = 2, num_output = 3;
  const int in[3] = {2, 3, 3};
  const int kernel[3] = {2, 3, 2}, pad[3] = {0, 1, 1}, stride[3] = {2, 1, 3}, dil[3] = {1, 2, 1};
  auto layer = MakeLayer(
      DeconvText("num_output: 3 kernel_size: 2 kernel_size: 3 kernel_size: 2 pad: 0 pad: 1 pad: 1 "
                 "stride: 2 stride: 1 stride: 3 dilation: 1 dilation: 2 dilation: 1"));
  auto x = GaussianBlob({n_count, channels, in[0], in[1], in[2]}, 31);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  FillParameters(layer.get(), 32);
  layer->Forward(ExecContext(), {x.get()}, {&y});

  int out[3];
  for (int a = 0; a < 3; ++a) {
    out[a] = stride[a] * (in[a] - 1) + dil[a] * (kernel[a] - 1) + 1 - 2 * pad[a];
  }
  ASSERT_EQ(y.shape(), (Shape{n_count, num_output, out[0], out[1], out[2]}));
  const std::vector<float> xs = Data(*x), w = Data(*layer->blobs()[0]),
                           b = Data(*layer->blobs()[1]);
  const int out_plane = out[0] * out[1] * out[2];
  std::vector<double> expected(static_cast<std::size_t>(n_count * num_output * out_plane));
  for (int n = 0; n < n_count; ++n) {
    for (int m = 0; m < num_output; ++m) {
      for (int k = 0; k < out_plane; ++k) {
        expected[static_cast<std::size_t>((n * num_output + m) * out_plane + k)] =
            b[static_cast<std::size_t>(m)];
      }
    }
    for (int c = 0; c < channels; ++c) {
      for (int i0 = 0; i0 < in[0]; ++i0) {
        for (int i1 = 0; i1 < in[1]; ++i1) {
          for (int i2 = 0; i2 < in[2]; ++i2) {
            const double value = xs[static_cast<std::size_t>(
                (((n * channels + c) * in[0] + i0) * in[1] + i1) * in[2] + i2)];
            for (int m = 0; m < num_output; ++m) {
              for (int t0 = 0; t0 < kernel[0]; ++t0) {
                for (int t1 = 0; t1 < kernel[1]; ++t1) {
                  for (int t2 = 0; t2 < kernel[2]; ++t2) {
                    const int o0 = i0 * stride[0] - pad[0] + t0 * dil[0];
                    const int o1 = i1 * stride[1] - pad[1] + t1 * dil[1];
                    const int o2 = i2 * stride[2] - pad[2] + t2 * dil[2];
                    if (o0 < 0 || o0 >= out[0] || o1 < 0 || o1 >= out[1] || o2 < 0 ||
                        o2 >= out[2]) {
                      continue;
                    }
                    const int wi =
                        (((c * num_output + m) * kernel[0] + t0) * kernel[1] + t1) * kernel[2] + t2;
                    expected[static_cast<std::size_t>((n * num_output + m) * out_plane +
                                                      (o0 * out[1] + o1) * out[2] + o2)] +=
                        w[static_cast<std::size_t>(wi)] * value;
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_TRUE(AllNear(Data(y), std::vector<float>(expected.begin(), expected.end()), 1e-4f, 1e-4f));
}

TEST(DeconvolutionLayerForward, TwoBottomTopPairsShareTheWeights) {
  auto layer = MakeLayer(TwoPairDeconvText("num_output: 3 kernel_size: 3 stride: 2 pad: 1"));
  auto x1 = GaussianBlob({2, 2, 3, 4}, 41);
  auto x2 = GaussianBlob({2, 2, 3, 4}, 42);
  Blob y1, y2;
  layer->SetUp({x1.get(), x2.get()}, {&y1, &y2});
  FillParameters(layer.get(), 43);
  layer->Forward(ExecContext(), {x1.get(), x2.get()}, {&y1, &y2});
  const ForwardCase c{"", {2, 2, 3, 4}, 1, "", 3, true, {3, 3, 1, 1, 2, 2, 1, 1, 1}};
  EXPECT_TRUE(AllNear(Data(y1), Reference(c, *x1, *layer), 1e-4f, 1e-4f));
  EXPECT_TRUE(AllNear(Data(y2), Reference(c, *x2, *layer), 1e-4f, 1e-4f));
}

// <conv(x), y> == <x, deconv(y)>: the same weight blob and geometry, channel roles swapped.
TEST(DeconvolutionLayerForward, IsTheAdjointOfConvolution) {
  struct Case {
    Shape x;  // the convolution's bottom = the deconvolution's top
    int num_output;
    std::string geometry;
  };
  const std::vector<Case> cases = {
      {{2, 4, 7, 7}, 6, "kernel_size: 3 stride: 2 pad: 1 group: 2"},
      {{1, 3, 10, 9}, 2, "kernel_h: 3 kernel_w: 2 stride_h: 3 stride_w: 2 pad_h: 2 dilation: 2"},
      {{1, 2, 8, 8}, 2, "kernel_size: 4 stride: 2 pad: 1"},
      {{1, 2, 5, 7, 5}, 3, "kernel_size: 3 stride: 2 pad: 1 pad: 0 pad: 1 dilation: 1"},
      {{2, 4, 4, 5}, 2, "kernel_size: 1 group: 2"},
  };
  std::uint32_t seed = 81;
  for (const Case& c : cases) {
    const std::string channels = std::to_string(c.x[1]);
    auto conv = MakeLayer(R"pb(type: "Convolution"
                               bottom: "x"
                               top: "y"
                               convolution_param { bias_term: false num_output:)pb" +
                          std::to_string(c.num_output) + " " + c.geometry + " }");
    auto deconv =
        MakeLayer(DeconvText("bias_term: false num_output: " + channels + " " + c.geometry));
    auto x = GaussianBlob(c.x, seed++);
    Blob conv_x;
    conv->SetUp({x.get()}, {&conv_x});
    auto y = GaussianBlob(conv_x.shape(), seed++);
    Blob deconv_y;
    deconv->SetUp({y.get()}, {&deconv_y});
    ASSERT_EQ(deconv_y.shape(), c.x) << c.geometry;
    ASSERT_EQ(deconv->blobs()[0]->shape(), conv->blobs()[0]->shape()) << c.geometry;
    FillGaussian(conv->blobs()[0].get(), seed++);
    deconv->blobs()[0]->CopyFrom(*conv->blobs()[0]);

    const ExecContext ctx;
    conv->Forward(ctx, {x.get()}, {&conv_x});
    deconv->Forward(ctx, {y.get()}, {&deconv_y});
    const double lhs = Dot(Data(conv_x), Data(*y));
    const double rhs = Dot(Data(*x), Data(deconv_y));
    EXPECT_NEAR(lhs, rhs, 1e-4 * (1.0 + std::fabs(lhs))) << c.geometry;
    EXPECT_GT(std::fabs(lhs), 1e-2) << "degenerate case " << c.geometry;
  }
}

// Caffe's recipe for 2x bilinear upsampling: kernel 4, stride 2, pad 1, group = C.
TEST(DeconvolutionLayerForward, BilinearKernelUpsamplesAConstantImageToAConstantInterior) {
  auto layer = MakeLayer(
      DeconvText("num_output: 3 group: 3 kernel_size: 4 stride: 2 pad: 1 bias_term: false "
                 "weight_filler { type: 'bilinear' }"));
  const float values[3] = {1.0f, 2.5f, -3.0f};
  Blob x({1, 3, 5, 6}), y;
  for (int c = 0; c < 3; ++c) {
    std::fill(x.mutable_cpu_data() + c * 30, x.mutable_cpu_data() + (c + 1) * 30, values[c]);
  }
  layer->SetUp({&x}, {&y});
  ASSERT_EQ(y.shape(), (Shape{1, 3, 10, 12}));
  layer->Forward(ExecContext(), {&x}, {&y});
  const float* top = y.cpu_data();
  for (int c = 0; c < 3; ++c) {
    for (int h = 0; h < 10; ++h) {
      for (int w = 0; w < 12; ++w) {
        // One 1-D tap of [0.25, 0.75, 0.75, 0.25] is lost at each border row and column.
        const float row = (h == 0 || h == 9) ? 0.75f : 1.0f;
        const float col = (w == 0 || w == 11) ? 0.75f : 1.0f;
        EXPECT_NEAR(top[(c * 10 + h) * 12 + w], values[c] * row * col, 1e-5f)
            << "c " << c << " h " << h << " w " << w;
      }
    }
  }
}

// 4. Gradients.

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

TEST(DeconvolutionLayerGradient, GroupedStridedWithBias) {
  CheckGradients(DeconvText("num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2"),
                 {{2, 4, 3, 3}});
}

TEST(DeconvolutionLayerGradient, DilatedWithHWForms) {
  CheckGradients(DeconvText("num_output: 3 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 1 "
                            "stride_w: 2 dilation: 2"),
                 {{1, 2, 3, 4}});
}

TEST(DeconvolutionLayerGradient, OneByOneWithoutBias) {
  CheckGradients(DeconvText("num_output: 2 kernel_size: 1 bias_term: false"), {{2, 3, 3, 4}});
}

TEST(DeconvolutionLayerGradient, ThreeDimensional) {
  CheckGradients(DeconvText("num_output: 2 kernel_size: 2 stride: 2 pad: 1"), {{1, 2, 2, 3, 3}});
}

TEST(DeconvolutionLayerGradient, TwoBottomTopPairs) {
  CheckGradients(TwoPairDeconvText("num_output: 2 kernel_size: 4 stride: 2 pad: 1"),
                 {{1, 2, 3, 3}, {1, 2, 3, 3}});
}

TEST(DeconvolutionLayerBackward, AccumulatesParameterGradientsAndSkipsUnrequestedOnes) {
  auto layer = MakeLayer(DeconvText("num_output: 3 kernel_size: 4 stride: 2 pad: 1"));
  auto x = GaussianBlob({2, 2, 3, 3}, 61);
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
  std::vector<float> dw2 = Diff(*layer->blobs()[0]);
  std::vector<float> db2 = Diff(*layer->blobs()[1]);
  layer->Backward(ctx, {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), dx, 0.0f));
  for (float& v : dw2) v *= 2;
  for (float& v : db2) v *= 2;
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[0]), dw2, 1e-5f, 1e-5f));
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[1]), db2, 1e-5f, 1e-5f));

  // FCN's upsampling layers have lr_mult 0: no parameter gradient at all.
  layer->set_param_propagate_down(0, false);
  layer->set_param_propagate_down(1, false);
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), 42.0f);
  layer->Backward(ctx, {&y}, {true}, {x.get()});
  EXPECT_TRUE(AllNear(Diff(*x), dx, 0.0f));
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[0]), dw2, 1e-5f, 1e-5f));
  EXPECT_TRUE(AllNear(Diff(*layer->blobs()[1]), db2, 1e-5f, 1e-5f));
  std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), 42.0f);
  layer->Backward(ctx, {&y}, {false}, {x.get()});
  EXPECT_EQ(Diff(*x), std::vector<float>(static_cast<std::size_t>(x->count()), 42.0f));
}

}  // namespace
}  // namespace fcn::test
