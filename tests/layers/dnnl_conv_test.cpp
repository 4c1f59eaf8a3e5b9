// SPDX-License-Identifier: BSD-2-Clause
// The oneDNN engine of Convolution and Deconvolution against the im2col engine (itself
// checked against a plain loop reference in convolution_test/deconvolution_test), on every
// shape class the FCN models use, forward and backward, with accumulation into existing
// diffs; finite-difference gradients of the oneDNN path; the engine choice and its errors.
#include "layers/dnnl_conv.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "fcn/io.h"
#include "fcn/layer_registry.h"
#include "fcn/net.h"
#include "fcn/options.h"
#include "fcn/rng.h"
#include "fcn/solver.h"
#include "layers/base_conv.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Shape = std::vector<std::int64_t>;

std::string LayerText(const std::string& type, const std::string& engine,
                      const std::string& conv_param, int pairs) {
  std::string text = "name: \"conv\" type: \"" + type + "\"";
  for (int i = 0; i < pairs; ++i) {
    text += " bottom: \"x" + std::to_string(i) + "\" top: \"y" + std::to_string(i) + "\"";
  }
  return text + " convolution_param { engine: " + engine + " " + conv_param + " }";
}

const BaseConvolutionLayer& Conv(const Layer& layer) {
  return dynamic_cast<const BaseConvolutionLayer&>(layer);
}

struct Case {
  const char* name;
  const char* type;
  const char* param;
  Shape bottom;
  int pairs = 1;
};

// The shape classes of the FCN models (VGG 3x3 pad 1, the pad-100 first layer, fc6's 7x7,
// 1x1 score layers, the grouped bilinear deconvolutions of stride 2 and 8), plus odd sizes,
// strides, dilation, groups, batches and several bottom/top pairs.
const Case kCases[] = {
    {"vgg_3x3_pad1", "Convolution", "num_output: 6 kernel_size: 3 pad: 1", {2, 5, 9, 11}},
    {"pad100_first_layer", "Convolution", "num_output: 4 kernel_size: 3 pad: 100", {1, 3, 7, 8}},
    {"fc6_7x7", "Convolution", "num_output: 5 kernel_size: 7", {1, 6, 9, 10}},
    {"score_1x1", "Convolution", "num_output: 3 kernel_size: 1", {2, 7, 5, 6}},
    {"odd_stride2", "Convolution", "num_output: 4 kernel_size: 3 stride: 2 pad: 1", {1, 4, 9, 7}},
    {"dilated", "Convolution", "num_output: 3 kernel_size: 3 dilation: 2 pad: 2", {1, 3, 11, 12}},
    {"grouped", "Convolution", "num_output: 6 kernel_size: 3 group: 2 pad: 1", {1, 4, 8, 8}},
    {"hw_forms",
     "Convolution",
     "num_output: 2 kernel_h: 3 kernel_w: 5 stride_h: 1 stride_w: 2 pad_h: 1 pad_w: 2",
     {1, 3, 7, 9}},
    {"two_pairs_no_bias",
     "Convolution",
     "num_output: 3 kernel_size: 3 bias_term: false",
     {2, 2, 6, 5},
     2},
    // Channel counts where oneDNN's kernels use blocked weight layouts (so the weight gradient
    // is accumulated by a reorder with a sum post-op rather than a temporary).
    {"blocked_3x3", "Convolution", "num_output: 32 kernel_size: 3 pad: 1", {1, 32, 10, 9}},
    {"blocked_7x7", "Convolution", "num_output: 32 kernel_size: 7", {1, 16, 9, 8}},
    {"upscore2_grouped",
     "Deconvolution",
     "num_output: 6 group: 6 kernel_size: 4 stride: 2 bias_term: false",
     {1, 6, 6, 7}},
    {"upscore8_grouped",
     "Deconvolution",
     "num_output: 3 group: 3 kernel_size: 16 stride: 8 bias_term: false",
     {1, 3, 5, 4}},
    {"deconv_bias_pad",
     "Deconvolution",
     "num_output: 4 kernel_size: 3 stride: 2 pad: 1",
     {2, 3, 5, 6}},
    {"deconv_dense_two_pairs",
     "Deconvolution",
     "num_output: 2 kernel_size: 4 stride: 2",
     {1, 3, 4, 5},
     2},
};

struct Fixture {
  std::unique_ptr<Layer> layer;
  std::vector<std::unique_ptr<Blob>> bottoms, tops;
  BlobVec bottom, top;
};

Fixture Make(const Case& c, const std::string& engine) {
  Fixture r;
  r.layer = MakeLayer(LayerText(c.type, engine, c.param, c.pairs));
  for (int i = 0; i < c.pairs; ++i) {
    r.bottoms.push_back(GaussianBlob(c.bottom, 100 + static_cast<std::uint32_t>(i)));
    r.tops.push_back(std::make_unique<Blob>());
    r.bottom.push_back(r.bottoms.back().get());
    r.top.push_back(r.tops.back().get());
  }
  r.layer->SetUp(r.bottom, r.top);
  std::uint32_t seed = 7;
  for (auto& blob : r.layer->blobs()) {
    FillGaussian(blob.get(), seed++);
    // Existing diffs: the backward pass must add to them.
    float* diff = blob->mutable_cpu_diff();
    for (std::int64_t i = 0; i < blob->count(); ++i) diff[i] = 0.25f;
  }
  return r;
}

// |a - b| <= tol * max(|a|, rms(a)) element-wise: relative, with the typical magnitude as
// the floor (a sum of K products carries rounding of about sqrt(K) ulps of its terms' size).
void ExpectClose(const std::vector<float>& a, const std::vector<float>& b, double tol,
                 const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double sum_sq = 0;
  for (float v : a) sum_sq += static_cast<double>(v) * v;
  const double rms = a.empty() ? 0.0 : std::sqrt(sum_sq / static_cast<double>(a.size()));
  int reported = 0;
  for (std::size_t i = 0; i < a.size() && reported < 5; ++i) {
    const double bound = tol * std::max(std::fabs(static_cast<double>(a[i])), rms);
    if (std::fabs(static_cast<double>(a[i]) - b[i]) > bound) {
      ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs " << b[i] << " (rms " << rms
                    << ")";
      ++reported;
    }
  }
}

class DnnlConvEngine : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  }
};

TEST_P(DnnlConvEngine, EqualsIm2colForwardAndBackward) {
  const Case& c = GetParam();
  Fixture ref = Make(c, "CAFFE");
  Fixture dnnl = Make(c, "DNNL");
  EXPECT_THAT(Conv(*ref.layer).engine_name(), StartsWith("CAFFE"));
  EXPECT_THAT(Conv(*dnnl.layer).engine_name(), StartsWith("DNNL ("));
  ExecContext ctx;
  ref.layer->Forward(ctx, ref.bottom, ref.top);
  dnnl.layer->Forward(ctx, dnnl.bottom, dnnl.top);
  for (int i = 0; i < c.pairs; ++i) {
    ASSERT_EQ(dnnl.top[i]->shape(), ref.top[i]->shape());
    ExpectClose(Data(*dnnl.top[i]), Data(*ref.top[i]), 1e-5, "top " + std::to_string(i));
  }
  for (int i = 0; i < c.pairs; ++i) {
    FillGaussian(ref.top[i], 300 + static_cast<std::uint32_t>(i));
    std::copy(ref.top[i]->cpu_data(), ref.top[i]->cpu_data() + ref.top[i]->count(),
              dnnl.top[i]->mutable_cpu_diff());
    std::copy(ref.top[i]->cpu_data(), ref.top[i]->cpu_data() + ref.top[i]->count(),
              ref.top[i]->mutable_cpu_diff());
  }
  const std::vector<bool> down(static_cast<std::size_t>(c.pairs), true);
  ref.layer->Backward(ctx, ref.top, down, ref.bottom);
  dnnl.layer->Backward(ctx, dnnl.top, down, dnnl.bottom);
  for (int i = 0; i < c.pairs; ++i) {
    ExpectClose(Diff(*dnnl.bottom[i]), Diff(*ref.bottom[i]), 1e-5,
                "bottom diff " + std::to_string(i));
  }
  for (std::size_t p = 0; p < ref.layer->blobs().size(); ++p) {
    ExpectClose(Diff(*dnnl.layer->blobs()[p]), Diff(*ref.layer->blobs()[p]), 1e-5,
                "param diff " + std::to_string(p));
  }
}

TEST_P(DnnlConvEngine, FollowsANewInputSize) {
  const Case& c = GetParam();
  Fixture ref = Make(c, "CAFFE");
  Fixture dnnl = Make(c, "DNNL");
  Shape bigger = c.bottom;
  bigger[2] += 3;
  bigger[3] += 1;
  ExecContext ctx;
  for (int i = 0; i < c.pairs; ++i) {
    ref.bottom[i]->Reshape(bigger);
    FillGaussian(ref.bottom[i], 500 + static_cast<std::uint32_t>(i));
    dnnl.bottom[i]->Reshape(bigger);
    std::copy(ref.bottom[i]->cpu_data(), ref.bottom[i]->cpu_data() + ref.bottom[i]->count(),
              dnnl.bottom[i]->mutable_cpu_data());
  }
  ref.layer->Reshape(ref.bottom, ref.top);
  dnnl.layer->Reshape(dnnl.bottom, dnnl.top);
  ref.layer->Forward(ctx, ref.bottom, ref.top);
  dnnl.layer->Forward(ctx, dnnl.bottom, dnnl.top);
  for (int i = 0; i < c.pairs; ++i) {
    ExpectClose(Data(*dnnl.top[i]), Data(*ref.top[i]), 1e-5, "top " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(ShapeClasses, DnnlConvEngine, ::testing::ValuesIn(kCases),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(DnnlConvGradient, ConvolutionAndDeconvolution) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  for (const Case& c : {kCases[0], kCases[6], kCases[11], kCases[13]}) {
    SCOPED_TRACE(c.name);
    Fixture r = Make(c, "DNNL");
    GradientChecker checker(1e-2, 1e-3);
    checker.CheckLayer(*r.layer, r.bottom, r.top);
  }
}

// Frozen weights with a learned bias: the bias gradient alone (a plain sum on the oneDNN
// path, which keeps no ones vector for a GEMM).
TEST(DnnlConvGradient, BiasOnlyWhenTheWeightsAreFrozen) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  for (const Case& c : {kCases[0], kCases[13]}) {
    SCOPED_TRACE(c.name);
    Fixture ref = Make(c, "CAFFE");
    Fixture dnnl = Make(c, "DNNL");
    ref.layer->set_param_propagate_down(0, false);
    dnnl.layer->set_param_propagate_down(0, false);
    ExecContext ctx;
    ref.layer->Forward(ctx, ref.bottom, ref.top);
    dnnl.layer->Forward(ctx, dnnl.bottom, dnnl.top);
    FillGaussian(ref.top[0], 77);
    const float* g = ref.top[0]->cpu_data();
    std::copy(g, g + ref.top[0]->count(), ref.top[0]->mutable_cpu_diff());
    std::copy(g, g + ref.top[0]->count(), dnnl.top[0]->mutable_cpu_diff());
    ref.layer->Backward(ctx, ref.top, {false}, ref.bottom);
    dnnl.layer->Backward(ctx, dnnl.top, {false}, dnnl.bottom);
    ASSERT_EQ(dnnl.layer->blobs().size(), 2u);
    ExpectClose(Diff(*dnnl.layer->blobs()[1]), Diff(*ref.layer->blobs()[1]), 1e-5, "bias diff");
    // The frozen weights' diff is untouched (still the 0.25 it was set to).
    for (float v : Diff(*dnnl.layer->blobs()[0])) ASSERT_EQ(v, 0.25f);
  }
}

TEST(DnnlConvEngineChoice, DefaultPicksOneDnnWhereItRuns) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  auto layer = MakeLayer(LayerText("Convolution", "DEFAULT", "num_output: 2 kernel_size: 3", 1));
  Blob x({1, 2, 7, 7}), y;
  layer->SetUp({&x}, {&y});
  EXPECT_THAT(Conv(*layer).engine_name(), StartsWith("DNNL ("));

  // Stride 2 over 7 with no padding leaves the last column out: Caffe's floor has no oneDNN
  // form, so DEFAULT falls back to im2col and an explicit DNNL is an error.
  const std::string floor_param = "num_output: 2 kernel_size: 2 stride: 2";
  auto fallback = MakeLayer(LayerText("Convolution", "DEFAULT", floor_param, 1));
  fallback->SetUp({&x}, {&y});
  EXPECT_THAT(Conv(*fallback).engine_name(), StartsWith("CAFFE"));
  EXPECT_THAT(ConfigErrorOf([&] {
                auto explicit_dnnl = MakeLayer(LayerText("Convolution", "DNNL", floor_param, 1));
                explicit_dnnl->SetUp({&x}, {&y});
              }),
              HasSubstr("engine DNNL cannot run bottom 1x2x7x7: the output size drops input"));

  // N-d convolution stays on im2col.
  Blob x3({1, 2, 4, 4, 4}), y3;
  auto nd = MakeLayer(LayerText("Convolution", "DEFAULT", "num_output: 2 kernel_size: 3", 1));
  nd->SetUp({&x3}, {&y3});
  EXPECT_THAT(Conv(*nd).engine_name(), StartsWith("CAFFE"));
}

// Whether oneDNN runs this layer with one of its JIT kernels, which work in blocked layouts
// (on a CPU without them oneDNN may choose plain NCHW, and nothing is kept).
bool Blocked(const Net& net, const std::string& layer) {
  const auto* conv = dynamic_cast<const BaseConvolutionLayer*>(net.layer_by_name(layer));
  return conv != nullptr && conv->dnnl() != nullptr &&
         conv->dnnl()->ForwardImplementation().rfind("jit:avx", 0) == 0;
}

// Ten SGD steps (momentum, weight decay, iter_size 2) of a small FCN with every engine choice
// left at DEFAULT: oneDNN and im2col (FCN_CONV_ENGINE=CAFFE) end at the same weights. A test
// net sharing the weights runs every 3 steps: on oneDNN it leaves them in its kept layout,
// which the training net and the solver's update must read correctly.
TEST(DnnlConvTraining, TenStepsGiveTheIm2colWeights) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  const std::string net =
      "layer { name: 'data' type: 'DummyData' top: 'data' top: 'label' dummy_data_param {\n"
      "  shape { dim: 2 dim: 3 dim: 20 dim: 18 } shape { dim: 2 dim: 1 dim: 20 dim: 18 }\n"
      "  data_filler { type: 'gaussian' std: 1 } data_filler { type: 'constant' value: 1 } } }\n"
      "layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1' convolution_param "
      "{ num_output: 16 kernel_size: 3 pad: 10 weight_filler { type: 'msra' } } }\n"
      "layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' }\n"
      "layer { name: 'pool1' type: 'Pooling' bottom: 'conv1' top: 'pool1' pooling_param { "
      "pool: MAX kernel_size: 2 stride: 2 } }\n"
      "layer { name: 'fc' type: 'Convolution' bottom: 'pool1' top: 'fc' convolution_param { "
      "num_output: 32 kernel_size: 5 weight_filler { type: 'msra' } } }\n"
      "layer { name: 'score' type: 'Convolution' bottom: 'fc' top: 'score' convolution_param { "
      "num_output: 2 kernel_size: 1 weight_filler { type: 'gaussian' std: 0.1 } } }\n"
      "layer { name: 'up' type: 'Deconvolution' bottom: 'score' top: 'up' convolution_param { "
      "num_output: 2 group: 2 kernel_size: 4 stride: 2 bias_term: false weight_filler { "
      "type: 'bilinear' } } }\n"
      "layer { name: 'crop' type: 'Crop' bottom: 'up' bottom: 'data' top: 'crop' crop_param { "
      "offset: 1 } }\n"
      "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'crop' bottom: 'label' top: 'loss' "
      "}\n";
  SolverParameter param;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: 'fixed' iter_size: 2 "
      "display: 0 snapshot_after_train: false random_seed: 3 test_iter: 1 test_interval: 3 "
      "net_param { " +
          net + " }",
      &param));
  auto train = [&](const char* engine) {
    // The solver takes no Options (yet): every convolution names the engine instead.
    SolverParameter engine_param = param;
    for (LayerParameter& layer : *engine_param.mutable_net_param()->mutable_layer()) {
      if (layer.has_convolution_param()) {
        ConvolutionParameter::Engine e = ConvolutionParameter::DEFAULT;
        EXPECT_TRUE(ConvolutionParameter::Engine_Parse(engine, &e)) << engine;
        layer.mutable_convolution_param()->set_engine(e);
      }
    }
    Solver solver(engine_param);
    for (const auto& layer : solver.net()->layers()) {
      if (layer->type() == std::string("Convolution") ||
          layer->type() == std::string("Deconvolution")) {
        EXPECT_THAT(layer->engine_name(), StartsWith(engine)) << layer->name();
      }
    }
    solver.Step(10);
    EXPECT_EQ(solver.test_nets().size(), 1u);
    solver.TestAll();  // after the last update: the test net keeps fc's weights in its layout
    if (std::string(engine) == "DNNL" && Blocked(*solver.test_nets()[0], "fc")) {
      EXPECT_NE(solver.net()->layer_by_name("fc")->blobs()[0]->data_memory().host_layout(),
                nullptr);
    }
    std::vector<std::vector<float>> weights;
    for (Blob* p : solver.net()->learnable_params()) weights.push_back(Data(*p));
    return weights;
  };
  const auto dnnl = train("DNNL");
  const auto im2col = train("CAFFE");
  ASSERT_EQ(dnnl.size(), im2col.size());
  for (std::size_t i = 0; i < dnnl.size(); ++i) {
    EXPECT_TRUE(AllNear(dnnl[i], im2col[i], 1e-4f, 1e-3f)) << "parameter " << i;
  }
}

// A VGG-like chain (conv, in-place ReLU, conv, ReLU with its own top, max pooling, a 1x1 conv)
// ending in a loss. Channel counts of 16 and 32 make oneDNN pick its blocked kernels.
std::string ChainNet(const std::string& phase) {
  return "force_backward: true state { phase: " + phase +
         " }\n"
         "layer { name: 'data' type: 'Input' top: 'data' top: 'label' input_param { shape { dim: "
         "1 dim: 16 dim: 12 dim: 11 } shape { dim: 1 dim: 1 dim: 6 dim: 6 } } }\n"
         "layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1' "
         "convolution_param { num_output: 32 kernel_size: 3 pad: 1 } }\n"
         "layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' }\n"
         "layer { name: 'conv2' type: 'Convolution' bottom: 'conv1' top: 'conv2' "
         "convolution_param { num_output: 32 kernel_size: 3 pad: 1 } }\n"
         "layer { name: 'relu2' type: 'ReLU' bottom: 'conv2' top: 'relu2' }\n"
         "layer { name: 'pool' type: 'Pooling' bottom: 'relu2' top: 'pool' pooling_param { pool: "
         "MAX kernel_size: 2 stride: 2 } }\n"
         "layer { name: 'score' type: 'Convolution' bottom: 'pool' top: 'score' "
         "convolution_param { num_output: 16 kernel_size: 1 } }\n"
         "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'score' bottom: 'label' top: "
         "'loss' }\n";
}

// A net whose `engine: DEFAULT` convolutions run `engine` (Options::conv_engine).
std::unique_ptr<Net> MakeNetWith(const std::string& text, ConvEngine engine,
                                 bool keep_layouts = true) {
  Options options;
  options.conv_engine = engine;
  options.dnnl_keep_layouts = keep_layouts;
  return std::make_unique<Net>(ReadNetParamFromTextString(text, "test.prototxt", nullptr), options);
}

struct NetPair {
  std::unique_ptr<Net> dnnl, im2col;
};

// The chain on oneDNN and on im2col with the same weights and inputs.
NetPair MakeChainPair(const std::string& phase) {
  NetPair r;
  r.dnnl = MakeNetWith(ChainNet(phase), ConvEngine::kDnnl);
  r.im2col = MakeNetWith(ChainNet(phase), ConvEngine::kCaffe);
  std::uint32_t seed = 40;
  for (std::size_t i = 0; i < r.dnnl->params().size(); ++i) {
    FillGaussian(r.dnnl->params()[i].get(), seed++, 0.0f, 0.2f);
    r.im2col->params()[i]->CopyFrom(*r.dnnl->params()[i]);
  }
  FillGaussian(r.dnnl->blob_by_name("data"), 9);
  r.im2col->blob_by_name("data")->CopyFrom(*r.dnnl->blob_by_name("data"));
  for (Net* net : {r.dnnl.get(), r.im2col.get()}) {
    float* label = net->blob_by_name("label")->mutable_cpu_data();
    for (int i = 0; i < 36; ++i) label[i] = static_cast<float>((i * 7) % 16);
  }
  return r;
}

void ExpectSameBlobs(const NetPair& p, const std::vector<std::string>& names, bool diffs) {
  for (const std::string& name : names) {
    const Blob& a = *p.dnnl->blob_by_name(name);
    const Blob& b = *p.im2col->blob_by_name(name);
    ExpectClose(Data(a), Data(b), 1e-5, name + " data");
    if (diffs) ExpectClose(Diff(a), Diff(b), 1e-5, name + " diff");
  }
}

// Two nets in one process with different Options: a layer left at `engine: DEFAULT` runs the
// engine its own net's options name, a layer that names its engine keeps it, and both nets
// compute the same values. Layer::engine_name reports the engine that ran.
TEST(ConvEngineOptions, DefaultLayersFollowTheNetAndNamedEnginesWin) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  const std::string text =
      "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 2 dim: 16 dim: 9 "
      "dim: 8 } } }\n"
      "layer { name: 'free' type: 'Convolution' bottom: 'data' top: 'free' convolution_param { "
      "num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.1 } "
      "bias_filler { type: 'gaussian' std: 0.1 } } }\n"
      "layer { name: 'caffe' type: 'Convolution' bottom: 'free' top: 'caffe' convolution_param { "
      "engine: CAFFE num_output: 16 kernel_size: 1 weight_filler { type: 'gaussian' std: 0.1 } } "
      "}\n"
      "layer { name: 'dnnl' type: 'Convolution' bottom: 'caffe' top: 'dnnl' convolution_param { "
      "engine: DNNL num_output: 8 kernel_size: 3 weight_filler { type: 'gaussian' std: 0.1 } } }\n"
      "layer { name: 'up' type: 'Deconvolution' bottom: 'dnnl' top: 'up' convolution_param { "
      "num_output: 8 group: 8 kernel_size: 4 stride: 2 bias_term: false weight_filler { type: "
      "'bilinear' } } }\n";
  const std::unique_ptr<Net> im2col = MakeNetWith(text, ConvEngine::kCaffe);
  const std::unique_ptr<Net> dnnl = MakeNetWith(text, ConvEngine::kDnnl);
  const std::unique_ptr<Net> by_default = MakeNetWith(text, ConvEngine::kDefault);
  for (std::size_t i = 0; i < im2col->params().size(); ++i) {
    dnnl->params()[i]->CopyFrom(*im2col->params()[i]);
    by_default->params()[i]->CopyFrom(*im2col->params()[i]);
  }
  FillGaussian(im2col->blob_by_name("data"), 5);
  dnnl->blob_by_name("data")->CopyFrom(*im2col->blob_by_name("data"));
  by_default->blob_by_name("data")->CopyFrom(*im2col->blob_by_name("data"));
  im2col->Forward();
  dnnl->Forward();
  by_default->Forward();
  auto engine = [](const Net& net, const char* layer) {
    return net.layer_by_name(layer)->engine_name();
  };
  EXPECT_THAT(engine(*im2col, "free"), StartsWith("CAFFE"));
  EXPECT_THAT(engine(*im2col, "up"), StartsWith("CAFFE"));
  EXPECT_THAT(engine(*dnnl, "free"), StartsWith("DNNL ("));
  EXPECT_THAT(engine(*dnnl, "up"), StartsWith("DNNL ("));
  EXPECT_THAT(engine(*by_default, "free"), StartsWith("DNNL ("));
  // Named engines win over either net's options.
  for (const Net* net : {im2col.get(), dnnl.get(), by_default.get()}) {
    EXPECT_THAT(engine(*net, "caffe"), StartsWith("CAFFE"));
    EXPECT_THAT(engine(*net, "dnnl"), StartsWith("DNNL ("));
  }
  // Layers without a choice report none.
  EXPECT_EQ(im2col->layer_by_name("data")->engine_name(), "");
  for (const char* blob : {"free", "caffe", "dnnl", "up"}) {
    ExpectClose(Data(*dnnl->blob_by_name(blob)), Data(*im2col->blob_by_name(blob)), 1e-5, blob);
  }

  // Winograd from the options runs where it can and leaves other layers on oneDNN's direct
  // algorithm instead of failing the net (a layer that names DNNL_WINOGRAD gets the error).
  const std::unique_ptr<Net> winograd = MakeNetWith(text, ConvEngine::kDnnlWinograd);
  EXPECT_THAT(engine(*winograd, "up"), StartsWith("DNNL ("));
  EXPECT_THAT(engine(*winograd, "caffe"), StartsWith("CAFFE"));
}

// Options::dnnl_keep_layouts: with it off, no activation stays in oneDNN's layout and the
// values are the same.
TEST(ConvEngineOptions, KeepLayoutsOffReordersEveryCall) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  const std::unique_ptr<Net> kept = MakeNetWith(ChainNet("TEST"), ConvEngine::kDnnl, true);
  const std::unique_ptr<Net> plain = MakeNetWith(ChainNet("TEST"), ConvEngine::kDnnl, false);
  for (std::size_t i = 0; i < kept->params().size(); ++i) {
    FillGaussian(kept->params()[i].get(), 60 + static_cast<std::uint32_t>(i), 0.0f, 0.2f);
    plain->params()[i]->CopyFrom(*kept->params()[i]);
  }
  FillGaussian(kept->blob_by_name("data"), 61);
  plain->blob_by_name("data")->CopyFrom(*kept->blob_by_name("data"));
  kept->Forward();
  plain->Forward();
  EXPECT_EQ(plain->blob_by_name("conv1")->data_memory().host_layout(), nullptr);
  EXPECT_EQ(plain->blob_by_name("conv2")->data_memory().host_layout(), nullptr);
  if (Blocked(*kept, "conv2")) {
    EXPECT_NE(kept->blob_by_name("conv2")->data_memory().host_layout(), nullptr);
  }
  for (const char* blob : {"conv1", "conv2", "score"}) {
    ExpectClose(Data(*plain->blob_by_name(blob)), Data(*kept->blob_by_name(blob)), 0.0, blob);
  }
}

// Activations stay in oneDNN's blocked layout from one convolution to the next (through the
// ReLUs, in place or not, and MAX pooling), and every value read in plain order equals the
// im2col net's.
TEST(DnnlKeptLayouts, ChainStaysBlockedAndEqualsIm2col) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  NetPair p = MakeChainPair("TRAIN");
  const float loss = p.dnnl->Forward();
  EXPECT_NEAR(loss, p.im2col->Forward(), 1e-5 * std::fabs(loss));
  if (Blocked(*p.dnnl, "conv2")) {
    // Checked before anything reads them in plain order.
    EXPECT_NE(p.dnnl->blob_by_name("conv1")->data_memory().host_layout(), nullptr);
    EXPECT_NE(p.dnnl->blob_by_name("conv2")->data_memory().host_layout(), nullptr);
    EXPECT_EQ(p.dnnl->blob_by_name("conv2")->data_memory().host_layout()->name(), "aBcd16b");
    // MAX pooling runs in oneDNN on ReLU's top as it is (blocked, like ReLU's input), and its
    // top stays blocked for the next convolution.
    EXPECT_NE(p.dnnl->blob_by_name("relu2")->data_memory().host_layout(), nullptr);
    EXPECT_THAT(p.dnnl->layer_by_name("pool")->engine_name(), StartsWith("DNNL (pooling_max: "));
    EXPECT_NE(p.dnnl->blob_by_name("pool")->data_memory().host_layout(), nullptr);
  } else {
    ADD_FAILURE() << "oneDNN chose " << p.dnnl->layer_by_name("conv2") << " without blocking";
  }
  p.dnnl->Backward();
  p.im2col->Backward();
  if (Blocked(*p.dnnl, "conv2")) {
    EXPECT_NE(p.dnnl->blob_by_name("conv1")->diff_memory().host_layout(), nullptr);
  }
  ExpectSameBlobs(p, {"conv1", "conv2", "relu2", "pool", "score"}, /*diffs=*/true);
  ExpectClose(Diff(*p.dnnl->blob_by_name("data")), Diff(*p.im2col->blob_by_name("data")), 1e-5,
              "data diff");
  for (std::size_t i = 0; i < p.dnnl->params().size(); ++i) {
    ExpectClose(Diff(*p.dnnl->params()[i]), Diff(*p.im2col->params()[i]), 1e-5,
                "param diff " + std::to_string(i));
  }
}

// A TEST-phase net keeps the weights in oneDNN's forward layout between passes, and sees
// every change made to them in plain order (the solver's update, a weight file, a test).
TEST(DnnlKeptLayouts, TestNetKeepsWeightsAndSeesTheirChanges) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  NetPair p = MakeChainPair("TEST");
  Blob& w2 = *p.dnnl->layer_by_name("conv2")->blobs()[0];
  EXPECT_NEAR(p.dnnl->Forward(), p.im2col->Forward(), 1e-5);
  if (Blocked(*p.dnnl, "conv2")) {
    EXPECT_NE(w2.data_memory().host_layout(), nullptr);
  }
  // Read in plain order, the kept weights are the weights.
  EXPECT_EQ(Data(w2), Data(*p.im2col->layer_by_name("conv2")->blobs()[0]));
  EXPECT_EQ(w2.data_memory().host_layout(), nullptr);
  for (int pass = 0; pass < 3; ++pass) {
    // Change every weight in both nets; the next pass must use the new values.
    for (std::size_t i = 0; i < p.dnnl->params().size(); ++i) {
      for (Net* net : {p.dnnl.get(), p.im2col.get()}) {
        float* w = net->params()[i]->mutable_cpu_data();
        for (std::int64_t k = 0; k < net->params()[i]->count(); ++k) {
          w[k] = -0.5f * w[k] + 0.01f * static_cast<float>(k % 5);
        }
      }
    }
    const float loss = p.dnnl->Forward();
    EXPECT_NEAR(loss, p.im2col->Forward(), 1e-5 * std::fabs(loss)) << "pass " << pass;
    ExpectSameBlobs(p, {"conv1", "conv2", "relu2", "score"}, /*diffs=*/false);
  }
  // Backward reads the kept weights too (reordered from oneDNN's forward layout).
  p.dnnl->Forward();
  p.im2col->Forward();
  p.dnnl->Backward();
  p.im2col->Backward();
  ExpectSameBlobs(p, {"conv1", "conv2", "pool"}, /*diffs=*/true);
  for (std::size_t i = 0; i < p.dnnl->params().size(); ++i) {
    ExpectClose(Diff(*p.dnnl->params()[i]), Diff(*p.im2col->params()[i]), 1e-5,
                "param diff " + std::to_string(i));
  }
}

TEST(DnnlConvEngineChoice, WinogradIsOptInAndClose) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  const Case c{"winograd", "Convolution", "num_output: 8 kernel_size: 3 pad: 1", {1, 8, 12, 13}};
  Fixture ref = Make(c, "CAFFE");
  Fixture wino;
  try {
    wino = Make(c, "DNNL_WINOGRAD");
  } catch (const std::exception& e) {
    // oneDNN has Winograd kernels for AVX-512 CPUs only.
    GTEST_SKIP() << "no Winograd kernel on this CPU: " << e.what();
  }
  ExecContext ctx;
  ref.layer->Forward(ctx, ref.bottom, ref.top);
  wino.layer->Forward(ctx, wino.bottom, wino.top);
  // Winograd's transforms cost accuracy: about 1e-6 relative to the magnitudes summed, a few
  // times direct's.
  ExpectClose(Data(*wino.top[0]), Data(*ref.top[0]), 1e-4, "winograd top");
  EXPECT_THAT(ConfigErrorOf([&] {
                Blob x({1, 2, 7, 7}), y;
                auto strided = MakeLayer(LayerText("Convolution", "DNNL_WINOGRAD",
                                                   "num_output: 2 kernel_size: 3 stride: 2", 1));
                strided->SetUp({&x}, {&y});
              }),
              HasSubstr("Winograd takes 3x3 convolutions with stride 1"));
}

// A TEST net converts its weights into oneDNN's layout once, within their own buffer (a part
// at a time): a second buffer of fc6's size (411 MB) would raise inference's peak by it. The
// values read back in plain order are the weights, and the outputs equal im2col's.
TEST(DnnlKeptLayouts, TestNetConvertsItsWeightsWithinTheirOwnBuffer) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  NetPair p = MakeChainPair("TEST");
  if (!Blocked(*p.dnnl, "conv2")) GTEST_SKIP() << "oneDNN chose a plain layout for conv2";
  std::vector<const void*> buffers;
  std::vector<std::vector<float>> values;
  for (const auto& param : p.dnnl->params()) {
    values.push_back(Data(*param));
    buffers.push_back(param->cpu_data());
    EXPECT_EQ(param->data_memory().host_pool(), nullptr) << "a TEST net's parameters are unpooled";
  }
  EXPECT_NEAR(p.dnnl->Forward(), p.im2col->Forward(), 1e-5);
  // conv1's and conv2's weights (32 outputs: two slabs of 16) are in oneDNN's layout in the
  // same buffer; score's (16 outputs, one slab) went through a second one.
  std::vector<bool> in_place(buffers.size(), false);
  for (std::size_t i = 0; i < buffers.size(); ++i) {
    SyncedMemory& memory = p.dnnl->params()[i]->data_memory();
    const HostLayoutPtr layout = memory.host_layout();
    if (layout == nullptr || layout->in_place_scratch_bytes() == 0) continue;
    EXPECT_LT(layout->in_place_scratch_bytes(), layout->bytes()) << "param " << i;
    EXPECT_EQ(memory.host_data_in(layout), buffers[i]) << "param " << i;
    in_place[i] = true;
  }
  EXPECT_TRUE(in_place[0]) << "conv1's weights";
  EXPECT_TRUE(in_place[2]) << "conv2's weights";
  ExpectSameBlobs(p, {"conv1", "conv2", "pool", "score"}, /*diffs=*/false);
  // Back to plain order (in place where they went in place), the values unchanged bit for bit.
  for (std::size_t i = 0; i < p.dnnl->params().size(); ++i) {
    const Blob& param = *p.dnnl->params()[i];
    if (in_place[i]) {
      EXPECT_EQ(param.cpu_data(), buffers[i]) << "param " << i;
    }
    EXPECT_EQ(Data(param), values[i]) << "param " << i;
  }
}

// oneDNN's scratchpad (Winograd's transformed tiles) comes from the net's Workspace, which
// the layout reorders share, not from a second, global buffer of oneDNN's.
TEST(DnnlConvEngineChoice, WinogradScratchComesFromTheNetsWorkspace) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  const std::string text =
      "state { phase: TRAIN }\n"
      "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 32 dim: "
      "40 dim: 36 } } }\n"
      "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv' convolution_param { "
      "num_output: 32 kernel_size: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.1 } } }\n";
  const std::unique_ptr<Net> net = MakeNetWith(text, ConvEngine::kDefault);
  const auto& conv = Conv(*net->layer_by_name("conv"));
  if (!conv.dnnl_winograd()) GTEST_SKIP() << "no Winograd kernel on this CPU";
  const std::size_t scratch = conv.dnnl()->ForwardScratchpadBytes();
  EXPECT_GT(scratch, 0u) << conv.engine_name();
  FillGaussian(net->blob_by_name("data"), 3);
  const std::unique_ptr<Net> ref = MakeNetWith(text, ConvEngine::kCaffe);
  ref->params()[0]->CopyFrom(*net->params()[0]);
  ref->params()[1]->CopyFrom(*net->params()[1]);
  ref->blob_by_name("data")->CopyFrom(*net->blob_by_name("data"));
  net->Forward();
  ref->Forward();
  EXPECT_GE(static_cast<std::size_t>(net->context().workspace().capacity()) * sizeof(float),
            scratch);
  ExpectClose(Data(*net->blob_by_name("conv")), Data(*ref->blob_by_name("conv")), 1e-4, "conv");
}

// In a net that does not train, DEFAULT takes Winograd only where its scratch fits within
// Options::dnnl_inference_scratch_limit_bytes; a training net is not limited, and a layer
// that names DNNL_WINOGRAD keeps it. Every choice computes the same values.
TEST(DnnlConvEngineChoice, InferenceTakesWinogradWithinTheScratchLimit) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  auto text = [](const char* phase, const char* engine) {
    return std::string("state { phase: ") + phase +
           " }\n"
           "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: "
           "32 dim: 40 dim: 36 } } }\n"
           "layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv' "
           "convolution_param { engine: " +
           engine +
           " num_output: 32 kernel_size: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.1 } "
           "} }\n";
  };
  auto make = [&](const char* phase, const char* engine, std::size_t limit) {
    Options options;
    options.dnnl_inference_scratch_limit_bytes = limit;
    auto net = std::make_unique<Net>(
        ReadNetParamFromTextString(text(phase, engine), "test.prototxt", nullptr), options);
    FillGaussian(net->params()[0].get(), 11);
    FillGaussian(net->params()[1].get(), 12);
    FillGaussian(net->blob_by_name("data"), 13);
    net->Forward();
    return net;
  };
  const auto unlimited = make("TEST", "DEFAULT", std::size_t{1} << 30);
  const auto& conv = Conv(*unlimited->layer_by_name("conv"));
  if (!conv.dnnl_winograd()) GTEST_SKIP() << "no Winograd kernel on this CPU";
  const std::size_t scratch = conv.dnnl()->ForwardScratchpadBytes();
  ASSERT_GT(scratch, 0u);
  const auto at_limit = make("TEST", "DEFAULT", scratch);
  const auto under = make("TEST", "DEFAULT", scratch - 1);
  const auto training = make("TRAIN", "DEFAULT", 0);
  const auto named = make("TEST", "DNNL_WINOGRAD", 0);
  auto algorithm = [](const Net& net) {
    return Conv(*net.layer_by_name("conv")).dnnl_winograd() ? "winograd" : "direct";
  };
  EXPECT_STREQ(algorithm(*at_limit), "winograd");
  EXPECT_STREQ(algorithm(*under), "direct");
  EXPECT_THAT(under->layer_by_name("conv")->engine_name(), StartsWith("DNNL (direct"));
  EXPECT_STREQ(algorithm(*training), "winograd");
  EXPECT_STREQ(algorithm(*named), "winograd");
  // A second pass keeps the direct primitives it chose (no rebuild): the same values again.
  const std::vector<float> first = Data(*under->blob_by_name("conv"));
  under->Forward();
  EXPECT_EQ(Data(*under->blob_by_name("conv")), first);
  EXPECT_STREQ(algorithm(*under), "direct");
  for (const Net* net : {at_limit.get(), training.get(), named.get()}) {
    ExpectClose(Data(*net->blob_by_name("conv")), first, 1e-4, algorithm(*net));
  }
}
// How many output-channel slices a layer runs in: the fewest whose weights fit the limit, each
// a multiple of 16 channels; plain convolutions only.
TEST(DnnlConvSlices, SlicesForPicksTheFewestThatFit) {
  auto conv = [](int out, int in, int kernel) {
    math::ConvGeometry g =
        math::ConvGeometry::Convolution(in, 22, 22, kernel, kernel, 0, 0, 1, 1, 1, 1);
    g.out_channels = out;
    return g;
  };
  const std::size_t limit = DnnlConv::kTrainingWeightSliceBytes;
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 512, 7), limit), 8);   // fc6: 411 MB in 51 MB slices
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 512, 7), 0), 1);       // never sliced
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 4096, 1), limit), 1);  // fc7: exactly 64 MiB
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 4097, 1), limit), 2);
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 512, 7), 100352 * 48), 128);  // 32 channels each
  EXPECT_EQ(DnnlConv::SlicesFor(conv(4096, 512, 7), 100352 * 15), 1);    // under 16 channels
  EXPECT_EQ(DnnlConv::SlicesFor(conv(48, 1, 1), 4 * 16), 3);
  EXPECT_EQ(DnnlConv::SlicesFor(conv(40, 1, 1), 4 * 39), 1);  // 40 = 2 x 20: not whole blocks
  math::ConvGeometry grouped = conv(4096, 512, 7);
  grouped.group = 2;
  EXPECT_EQ(DnnlConv::SlicesFor(grouped, 1), 1);
  math::ConvGeometry transposed = conv(4096, 512, 7);
  transposed.transposed = true;
  EXPECT_EQ(DnnlConv::SlicesFor(transposed, 1), 1);
}

// A layer run in output-channel slices computes what the whole layer computes: the top (with
// each slice's bias), the bottom diff (the slices' parts added up) and the weight and bias
// gradients (added into existing ones), over a batch of two, in fp32 and in bf16. Its
// workspace holds one slice's weights, not the whole layer's.
TEST(DnnlConvSlices, SlicedEqualsWholeForwardAndBackward) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  for (const bool bf16 : {false, true}) {
    std::string why;
    if (bf16 && !PrecisionAvailableOnCpu(Precision::kBfloat16, &why)) {
      std::cout << "bf16 not checked: " << why << "\n";
      continue;
    }
    for (const bool bias : {true, false}) {
      SCOPED_TRACE(std::string(bf16 ? "bf16" : "fp32") + (bias ? ", bias" : ", no bias"));
      math::ConvGeometry g = math::ConvGeometry::Convolution(24, 11, 10, 7, 7, 1, 1, 1, 1, 1, 1);
      g.num = 2;
      g.out_channels = 64;
      g.bias = bias;
      const std::size_t per_channel = sizeof(float) * 24 * 7 * 7;
      DnnlConv whole(g, /*winograd=*/false, /*keep_layouts=*/true, bf16, 0);
      DnnlConv sliced(g, false, true, bf16, per_channel * 16);
      ASSERT_EQ(whole.slices(), 1);
      ASSERT_EQ(sliced.slices(), 4);
      EXPECT_THAT(sliced.name(), HasSubstr(", 4 slices: "));

      struct Run {
        std::unique_ptr<Blob> bottom = GaussianBlob({2, 24, 11, 10}, 21);
        std::unique_ptr<Blob> top = std::make_unique<Blob>(Shape{2, 64, 7, 6});
        std::unique_ptr<Blob> weights = GaussianBlob({64, 24, 7, 7}, 22);
        std::unique_ptr<Blob> bias = GaussianBlob({64}, 23);
        ExecContext ctx;
      };
      Run a, b;
      for (Run* r : {&a, &b}) {
        ConvParams p;
        p.weights = r->weights.get();
        p.bias = bias ? r->bias->cpu_data() : nullptr;
        (r == &a ? static_cast<ConvolutionEngine&>(whole) : sliced)
            .Forward(r->ctx, {r->bottom.get()}, p, {r->top.get()});
      }
      ExpectClose(Data(*b.top), Data(*a.top), 1e-5, "top");
      for (Run* r : {&a, &b}) {
        FillGaussian(r->top.get(), 24);
        std::copy(r->top->cpu_data(), r->top->cpu_data() + r->top->count(),
                  r->top->mutable_cpu_diff());
        std::fill(r->weights->mutable_cpu_diff(),
                  r->weights->mutable_cpu_diff() + r->weights->count(), 0.5f);
        std::fill(r->bias->mutable_cpu_diff(), r->bias->mutable_cpu_diff() + 64, -0.5f);
        ConvParams p;
        p.weights = r->weights.get();
        p.weight_diff = r->weights->mutable_cpu_diff();
        p.bias_diff = bias ? r->bias->mutable_cpu_diff() : nullptr;
        (r == &a ? static_cast<ConvolutionEngine&>(whole) : sliced)
            .Backward(r->ctx, {r->top.get()}, {true}, p, {r->bottom.get()});
      }
      ExpectClose(Diff(*b.bottom), Diff(*a.bottom), 1e-5, "bottom diff");
      ExpectClose(Diff(*b.weights), Diff(*a.weights), 1e-5, "weight diff");
      ExpectClose(Diff(*b.bias), Diff(*a.bias), 1e-5, "bias diff");
      EXPECT_NE(Diff(*b.weights)[0], 0.5f) << "the gradient was added";
      // Whole: the weights in oneDNN's layout (a weight-sized scratch) at least; sliced: the
      // scratch of one slice's weights plus the activations.
      const std::size_t weight_bytes = sizeof(float) * 64 * 24 * 49;
      const auto capacity = [](const Run& r) {
        return static_cast<std::size_t>(r.ctx.workspace().capacity()) * sizeof(float);
      };
      if (capacity(a) >= weight_bytes) {
        EXPECT_LT(capacity(b), weight_bytes / 2) << "sliced workspace " << capacity(b);
      }
    }
  }
}

// A net that trains runs a layer whose weights exceed DnnlConv::kTrainingWeightSliceBytes in
// slices; a net that does not train keeps the whole layer (its weights are converted in place
// once, so no scratch is taken for them). Both compute the im2col engine's values.
TEST(DnnlConvSlices, OnlyATrainingNetSlicesALayerAboveTheLimit) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  auto text = [](const char* phase, const char* engine) {
    // 1024 x 512 x 7 x 7 fp32 weights: 103 MB, over the 64 MiB limit; two slices of 51 MB.
    return std::string("state { phase: ") + phase +
           " }\n"
           "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: "
           "512 dim: 7 dim: 7 } } }\n"
           "layer { name: 'fc' type: 'Convolution' bottom: 'data' top: 'fc' "
           "convolution_param { engine: " +
           engine + " num_output: 1024 kernel_size: 7 } }\n";
  };
  auto make = [&](const char* phase, const char* engine) {
    auto net = std::make_unique<Net>(
        ReadNetParamFromTextString(text(phase, engine), "test.prototxt", nullptr), Options());
    FillGaussian(net->params()[0].get(), 31, 0.0f, 0.01f);
    FillGaussian(net->params()[1].get(), 32);
    FillGaussian(net->blob_by_name("data"), 33);
    net->Forward();
    return net;
  };
  const auto training = make("TRAIN", "DEFAULT");
  const auto testing = make("TEST", "DEFAULT");
  const auto reference = make("TEST", "CAFFE");
  EXPECT_THAT(training->layer_by_name("fc")->engine_name(), StartsWith("DNNL (direct, 2 slices: "));
  EXPECT_THAT(testing->layer_by_name("fc")->engine_name(), StartsWith("DNNL (direct: "));
  ExpectClose(Data(*training->blob_by_name("fc")), Data(*reference->blob_by_name("fc")), 1e-4,
              "training fc");
  ExpectClose(Data(*testing->blob_by_name("fc")), Data(*reference->blob_by_name("fc")), 1e-4,
              "test fc");
}

}  // namespace
}  // namespace fcn::test
