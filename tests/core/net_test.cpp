// SPDX-License-Identifier: BSD-2-Clause
// Net construction: filtering, Split insertion, in-place layers, loss weights, the backward
// analysis, parameter sharing, reshaping and legacy inputs.
#include "fcn/net.h"

#include <cmath>

#include "fcn/filler.h"
#include "fcn/io.h"
#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::MakeNet;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// data (1x1x2x2) feeds two 1x1 convolutions with constant weights 2 and 3; their sum is the
// loss (loss_weight 1 on the Eltwise top).
const char* kTwoBranchNet = R"(
  name: "two_branch"
  force_backward: true
  layer { name: "input" type: "Input" top: "data"
          input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
  layer { name: "a" type: "Convolution" bottom: "data" top: "a"
          convolution_param { num_output: 1 kernel_size: 1 bias_term: false
                              weight_filler { type: "constant" value: 2 } } }
  layer { name: "b" type: "Convolution" bottom: "data" top: "b"
          convolution_param { num_output: 1 kernel_size: 1 bias_term: false
                              weight_filler { type: "constant" value: 3 } } }
  layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" loss_weight: 1 }
)";

TEST(NetTest, InsertsSplitForBlobWithTwoConsumers) {
  auto net = MakeNet(kTwoBranchNet);
  ASSERT_EQ(net->layers().size(), 5u);
  EXPECT_EQ(net->layer_names()[1], "data_input_0_split");
  EXPECT_EQ(net->layers()[1]->type(), "Split");
  EXPECT_TRUE(net->has_blob("data_input_0_split_0"));
  EXPECT_TRUE(net->has_blob("data_input_0_split_1"));
  EXPECT_EQ(net->blob_names()[static_cast<std::size_t>(net->bottom_ids()[2][0])],
            "data_input_0_split_0");
  EXPECT_EQ(net->blob_names()[static_cast<std::size_t>(net->bottom_ids()[3][0])],
            "data_input_0_split_1");
}

// The library's planned-memory check (fcntool's --max_memory, fuzz_prototxt's budget): the sum
// runs layer by layer, parameters once, in-place tops free, Split tops sharing their bottom's
// data; the error names the layer whose sum crosses the limit.
TEST(NetTest, CheckPlannedMemoryNamesTheLayerThatCrossesTheLimit) {
  auto net = MakeNet(kTwoBranchNet);
  std::int64_t internal = 0;
  for (const auto& layer : net->layers()) internal += layer->internal_bytes();
  const MemoryLimit plenty{std::int64_t{1} << 40, "--max_memory", "=1T"};
  // Test: data 16 B; split tops 0; a: weight 4 + top 16; b: 4 + 16; sum: 16.
  EXPECT_EQ(CheckPlannedMemory(*net, false, plenty), 72 + internal);
  // Training: params x3, activations x2 (Split tops: their gradients only), plus `extra`.
  EXPECT_EQ(CheckPlannedMemory(*net, true, plenty, 1000), 1000 + 184 + internal);
  if (internal == 0) {
    try {
      CheckPlannedMemory(*net, false, MemoryLimit{60, "--max_memory", "=60"});
      FAIL() << "a 60-byte limit was accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr("layer \"sum\""));
      EXPECT_THAT(e.what(), HasSubstr("planned memory reaches 72 B at this layer"));
      EXPECT_THAT(e.what(), HasSubstr("above --max_memory=60; use a smaller batch or input, or "
                                      "raise --max_memory"));
    }
  }
  EXPECT_EQ(FormatBytes(12), "12 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(8.0 * 1024 * 1024), "8.0 MiB");
  EXPECT_EQ(FormatBytes(1.5 * 1024 * 1024 * 1024), "1.50 GiB");
}

// fuzz_prototxt's prototxt-crash-ace454d7…: an Input without a shape whose top two layers read
// reached Split's ShareData with a never-shaped blob and aborted on its internal check. A bottom
// without a shape is now a ConfigError naming the layer that reads it, with or without a Split.
TEST(NetTest, FuzzUnshapedInputConsumedTwiceIsAClearError) {
  const char* kUnshaped = R"(
    layer { name: "input" type: "Input" top: "data" }
    layer { name: "a" type: "ReLU" bottom: "data" top: "a" }
    layer { name: "b" type: "ReLU" bottom: "data" top: "b" })";
  try {
    MakeNet(kUnshaped);
    FAIL() << "a net reading an unshaped Input was built";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("(Split): bottom \"data\" has no shape"));
    EXPECT_THAT(e.what(), HasSubstr("input_param { shape { dim: ... } }"));
  }
  try {
    MakeNet(R"(
      layer { name: "input" type: "Input" top: "data" }
      layer { name: "a" type: "ReLU" bottom: "data" top: "a" })");
    FAIL() << "a net reading an unshaped Input was built";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("layer \"a\" (ReLU): bottom \"data\" has no shape"));
  }
  // A shaped Input, a scalar included (no axes, one element), still builds.
  EXPECT_NO_THROW(MakeNet(R"(
    layer { name: "input" type: "Input" top: "data" input_param { shape { } } }
    layer { name: "a" type: "ReLU" bottom: "data" top: "a" }
    layer { name: "b" type: "ReLU" bottom: "data" top: "b" })"));
}

// Two nets in one process, each with its own options: every layer (and the context) carries its
// own net's, and neither changes the other.
TEST(NetTest, OptionsTravelWithEachNet) {
  NetParameter param = ReadNetParamFromTextString(kTwoBranchNet, "test.prototxt", nullptr);
  Options im2col;
  im2col.conv_engine = ConvEngine::kCaffe;
  im2col.dnnl_keep_layouts = false;
  Options winograd;
  winograd.conv_engine = ConvEngine::kDnnlWinograd;
  Net a(param, im2col);
  Net b(param, winograd);
  EXPECT_EQ(a.context().options().conv_engine, ConvEngine::kCaffe);
  EXPECT_EQ(b.context().options().conv_engine, ConvEngine::kDnnlWinograd);
  for (const auto& layer : a.layers()) {
    EXPECT_EQ(layer->options().conv_engine, ConvEngine::kCaffe) << layer->name();
    EXPECT_FALSE(layer->options().dnnl_keep_layouts) << layer->name();
  }
  for (const auto& layer : b.layers()) {
    EXPECT_EQ(layer->options().conv_engine, ConvEngine::kDnnlWinograd) << layer->name();
    EXPECT_TRUE(layer->options().dnnl_keep_layouts) << layer->name();
  }
  // The default constructor keeps the defaults.
  Net c(param);
  EXPECT_EQ(c.context().options().conv_engine, ConvEngine::kDefault);
}

// Two nets in one process: each draws from its own Rng (seeded from its Options), runs on its
// own engine, and neither moves the other's random sequence.
TEST(NetTest, TwoNetsWithDifferentOptionsDoNotAffectEachOther) {
  const std::string text = R"(
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
    layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
            convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" } } }
    layer { name: "drop" type: "Dropout" bottom: "c" top: "d" include { phase: TRAIN } }
  )";
  auto set_train = [](const std::string& t) { return StrCat("state { phase: TRAIN } ", t); };
  Options first;
  first.random_seed = 1;
  first.conv_engine = ConvEngine::kCaffe;
  Options second;
  second.random_seed = 2;
  second.conv_engine = ConvEngine::kDnnl;
  // The reference: the first net built and run on its own.
  auto alone = MakeNet(set_train(text), first);
  test::FillGaussian(alone->blob_by_name("x"), 9);
  alone->Forward();
  alone->Forward();
  const std::vector<float> alone_weights = test::Data(*alone->layer_by_name("conv")->blobs()[0]);
  const std::vector<float> alone_out = test::Data(*alone->blob_by_name("d"));
  // The same with a second net built and run in between every step.
  auto a = MakeNet(set_train(text), first);
  auto b = MakeNet(set_train(text), second);
  test::FillGaussian(a->blob_by_name("x"), 9);
  test::FillGaussian(b->blob_by_name("x"), 9);
  b->Forward();
  a->Forward();
  b->Forward();
  a->Forward();
  EXPECT_EQ(test::Data(*a->layer_by_name("conv")->blobs()[0]), alone_weights);
  EXPECT_NE(test::Data(*b->layer_by_name("conv")->blobs()[0]), alone_weights);
  EXPECT_EQ(test::Data(*a->blob_by_name("d")), alone_out) << "b's Dropout drew from a's Rng";
  EXPECT_EQ(a->options().conv_engine, ConvEngine::kCaffe);
  EXPECT_EQ(b->options().conv_engine, ConvEngine::kDnnl);
  EXPECT_EQ(a->layer_by_name("conv")->options().conv_engine, ConvEngine::kCaffe);
  EXPECT_EQ(b->layer_by_name("conv")->options().conv_engine, ConvEngine::kDnnl);
  EXPECT_NE(&a->rng(), &b->rng());
  EXPECT_EQ(&a->layer_by_name("drop")->rng(), &a->rng());
}

// A net given an Rng (as a Solver gives its train and test nets) draws from it, not its own.
TEST(NetTest, NetsGivenOneRngShareItsSequence) {
  const std::string text = R"(
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
    layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "uniform" } } }
  )";
  NetParameter param = ReadNetParamFromTextString(text, "test.prototxt", nullptr);
  Rng shared(42);
  Net one(param, Options(), nullptr, &shared);
  Net two(param, Options(), nullptr, &shared);
  // The second net continues the sequence where the first left it.
  Rng expected(42);
  Blob w({3, 2, 1, 1});
  FillerParameter uniform;
  uniform.set_type("uniform");
  FillBlob(uniform, &w, expected);
  EXPECT_EQ(test::Data(*one.layer_by_name("conv")->blobs()[0]), test::Data(w));
  FillBlob(uniform, &w, expected);
  EXPECT_EQ(test::Data(*two.layer_by_name("conv")->blobs()[0]), test::Data(w));
  EXPECT_EQ(&one.rng(), &shared);
  EXPECT_EQ(shared.SaveState(), expected.SaveState());
}

TEST(NetTest, SplitSumsGradientsOfItsConsumers) {
  auto net = MakeNet(kTwoBranchNet);
  float* x = net->input_blobs()[0]->mutable_cpu_data();
  for (int i = 0; i < 4; ++i) x[i] = static_cast<float>(i + 1);
  const float loss = net->ForwardBackward();
  EXPECT_FLOAT_EQ(loss, 5.0f * (1 + 2 + 3 + 4));
  // d(sum(2x + 3x))/dx = 5 everywhere, through the Split.
  EXPECT_THAT(test::Diff(*net->input_blobs()[0]), ElementsAre(5, 5, 5, 5));
  // Each weight's gradient is sum(x) = 10.
  EXPECT_THAT(test::Diff(*net->layer_by_name("a")->blobs()[0]), ElementsAre(10));
}

TEST(NetTest, LossWeightOnSplitBlobMovesToFirstSplitTop) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 2 } } }
    layer { name: "r" type: "ReLU" bottom: "x" top: "y" loss_weight: 2 }
    layer { name: "s" type: "Silence" bottom: "y" }
  )");
  const int split = net->layer_index("y_r_0_split");
  ASSERT_GE(split, 0);
  const LayerParameter& sp = net->param().layer(split);
  EXPECT_THAT(std::vector<float>(sp.loss_weight().begin(), sp.loss_weight().end()),
              ElementsAre(2, 0));
  EXPECT_EQ(net->param().layer(net->layer_index("r")).loss_weight_size(), 0);
  float* x = net->input_blobs()[0]->mutable_cpu_data();
  x[0] = 1.5f;
  x[1] = -4.0f;
  EXPECT_FLOAT_EQ(net->Forward(), 3.0f);
}

TEST(NetTest, IncludeExcludeFollowPhaseStageAndLevel) {
  const std::string text = R"(
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
    layer { name: "train_only" type: "ReLU" bottom: "x" top: "x" include { phase: TRAIN } }
    layer { name: "not_test" type: "ReLU" bottom: "x" top: "x" exclude { phase: TEST } }
    layer { name: "staged" type: "ReLU" bottom: "x" top: "x" include { stage: "deploy" } }
    layer { name: "not_staged" type: "ReLU" bottom: "x" top: "x" include { not_stage: "deploy" } }
    layer { name: "leveled" type: "ReLU" bottom: "x" top: "x" include { min_level: 1 max_level: 2 } }
  )";
  auto names_for = [&](Phase phase, int level, std::vector<std::string> stages) {
    NetParameter param = ReadNetParamFromTextString(text, "t.prototxt");
    Net::SetState(NetStateOptions{phase, level, stages}, &param);
    return Net(param).layer_names();
  };
  EXPECT_THAT(names_for(TRAIN, 0, {}),
              ElementsAre("input", "train_only", "not_test", "not_staged"));
  EXPECT_THAT(names_for(TEST, 0, {}), ElementsAre("input", "not_staged"));
  EXPECT_THAT(names_for(TEST, 0, {"deploy"}), ElementsAre("input", "staged"));
  EXPECT_THAT(names_for(TEST, 2, {}), ElementsAre("input", "not_staged", "leveled"));
  EXPECT_THAT(names_for(TEST, 3, {}), ElementsAre("input", "not_staged"));
}

TEST(NetTest, RejectsIncludeAndExcludeTogether) {
  const std::string msg = test::ConfigErrorOf([] {
    MakeNet(R"(layer { name: "input" type: "Input" top: "x" include { phase: TRAIN }
                       exclude { phase: TEST } })");
  });
  EXPECT_THAT(msg, HasSubstr("both include and exclude"));
}

TEST(NetTest, LayersWithoutPhaseInheritTheNetPhase) {
  NetParameter param = ReadNetParamFromTextString(
      R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 4 } } }
         layer { name: "d" type: "Dropout" bottom: "x" top: "x" })",
      "t.prototxt");
  Net::SetState(NetStateOptions{TRAIN, 0, {}}, &param);
  Net net(param);
  EXPECT_EQ(net.layer_by_name("d")->phase(), TRAIN);
}

TEST(NetTest, SharedParametersUseOneBlobAndSumGradients) {
  auto net = MakeNet(R"(
    force_backward: true
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 1 dim: 2 } } }
    layer { name: "a" type: "Convolution" bottom: "x" top: "a"
            param { name: "w" } convolution_param { num_output: 1 kernel_size: 1 bias_term: false
            weight_filler { type: "constant" value: 1 } } }
    layer { name: "b" type: "Convolution" bottom: "a" top: "b"
            param { name: "w" } convolution_param { num_output: 1 kernel_size: 1 bias_term: false } }
    layer { name: "loss" type: "Eltwise" bottom: "b" bottom: "a" top: "l" loss_weight: 1
            eltwise_param { operation: PROD } }
  )");
  ASSERT_EQ(net->params().size(), 2u);
  EXPECT_EQ(net->learnable_params().size(), 1u);
  EXPECT_EQ(net->param_owners()[1], 0);
  Blob& wa = *net->layer_by_name("a")->blobs()[0];
  Blob& wb = *net->layer_by_name("b")->blobs()[0];
  EXPECT_EQ(wa.cpu_data(), wb.cpu_data());
  // l = (w*(w*x)) * (w*x) = w^3 x^2; dl/dw = 3 w^2 x^2 summed over both x.
  wa.mutable_cpu_data()[0] = 2.0f;
  float* x = net->input_blobs()[0]->mutable_cpu_data();
  x[0] = 1.0f;
  x[1] = 3.0f;
  net->ClearParamDiffs();
  EXPECT_FLOAT_EQ(net->ForwardBackward(), 8.0f * (1 + 9));
  EXPECT_FLOAT_EQ(wa.cpu_diff()[0], 3 * 4 * (1 + 9));
  EXPECT_EQ(wa.cpu_diff(), wb.cpu_diff());
}

TEST(NetTest, SharedParameterShapeMismatchIsAnError) {
  const std::string msg = test::ConfigErrorOf([] {
    MakeNet(R"(
      layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
      layer { name: "a" type: "Convolution" bottom: "x" top: "a"
              param { name: "w" } convolution_param { num_output: 2 kernel_size: 1 bias_term: false } }
      layer { name: "b" type: "Convolution" bottom: "a" top: "b"
              param { name: "w" } convolution_param { num_output: 2 kernel_size: 3 bias_term: false } }
    )");
  });
  EXPECT_THAT(msg, HasSubstr("test.prototxt:5:"));
  EXPECT_THAT(msg, HasSubstr("cannot share param \"w\""));
  EXPECT_THAT(msg, HasSubstr("2x2x1x1"));
}

TEST(NetTest, ReshapesToANewInputSize) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 10 dim: 10 } } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 4 kernel_size: 3 stride: 2 } }
    layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
    layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
            pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
  )");
  EXPECT_EQ(net->blob_by_name("pool")->shape(), (std::vector<std::int64_t>{1, 4, 2, 2}));
  net->input_blobs()[0]->Reshape({2, 3, 21, 17});
  net->Reshape();
  EXPECT_EQ(net->blob_by_name("conv")->shape(), (std::vector<std::int64_t>{2, 4, 10, 8}));
  EXPECT_EQ(net->blob_by_name("pool")->shape(), (std::vector<std::int64_t>{2, 4, 5, 4}));
  net->input_blobs()[0]->Reshape({1, 3, 7, 9});
  net->Forward();
  EXPECT_EQ(net->blob_by_name("pool")->shape(), (std::vector<std::int64_t>{1, 4, 2, 2}));
}

TEST(NetTest, LegacyInputDimBecomesAnInputLayer) {
  auto net = MakeNet(R"(
    name: "legacy"
    input: "data"
    input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 6
    layer { name: "relu" type: "ReLU" bottom: "data" top: "out" }
  )");
  EXPECT_THAT(net->layer_names(), ElementsAre("input", "relu"));
  EXPECT_EQ(net->layers()[0]->type(), "Input");
  ASSERT_EQ(net->input_blobs().size(), 1u);
  EXPECT_EQ(net->input_blobs()[0]->shape(), (std::vector<std::int64_t>{1, 3, 8, 6}));
  EXPECT_EQ(net->blob_by_name("out")->shape(), (std::vector<std::int64_t>{1, 3, 8, 6}));
}

TEST(NetTest, LegacyInputShapeBecomesAnInputLayer) {
  auto net = MakeNet(R"(
    input: "a" input_shape { dim: 2 dim: 5 }
    input: "b" input_shape { dim: 3 }
    layer { name: "s" type: "Silence" bottom: "a" bottom: "b" }
  )");
  ASSERT_EQ(net->input_blobs().size(), 2u);
  EXPECT_EQ(net->input_blobs()[0]->shape(), (std::vector<std::int64_t>{2, 5}));
  EXPECT_EQ(net->input_blobs()[1]->shape(), (std::vector<std::int64_t>{3}));
}

TEST(NetTest, InPlaceLayersShareTheirBlob) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 3 } } }
    layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }
  )");
  EXPECT_EQ(net->blobs().size(), 1u);
  EXPECT_EQ(net->top_vecs()[1][0], net->bottom_vecs()[1][0]);
}

TEST(NetTest, OutputsAreSortedByBlobName) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "zeta" top: "alpha" top: "mid"
            input_param { shape { dim: 1 } } }
  )");
  std::vector<std::string> names;
  for (int id : net->output_blob_indices())
    names.push_back(net->blob_names()[static_cast<std::size_t>(id)]);
  EXPECT_THAT(names, ElementsAre("alpha", "mid", "zeta"));
}

TEST(NetTest, BackwardNeedFollowsLossAndLearningRates) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "x" top: "y"
            input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }
    layer { name: "conv" type: "Convolution" bottom: "x" top: "c"
            convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "side" type: "Convolution" bottom: "c" top: "side"
            convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "frozen" type: "Convolution" bottom: "c" top: "f"
            param { lr_mult: 0 } param { lr_mult: 0 }
            convolution_param { num_output: 2 kernel_size: 1 } }
    layer { name: "loss" type: "Eltwise" bottom: "f" bottom: "y" top: "l" loss_weight: 1 }
  )");
  auto need = [&](const std::string& name) {
    return static_cast<bool>(
        net->layer_need_backward()[static_cast<std::size_t>(net->layer_index(name))]);
  };
  EXPECT_FALSE(need("input"));
  EXPECT_TRUE(need("conv"));
  EXPECT_FALSE(need("side"));   // its top is not part of the loss
  EXPECT_TRUE(need("frozen"));  // fixed weights, but conv below it learns
  EXPECT_FALSE(net->layer_by_name("frozen")->param_propagate_down(0));
  EXPECT_TRUE(net->layer_by_name("conv")->param_propagate_down(0));
  // The loss does not propagate to y, an input.
  EXPECT_FALSE(net->bottom_need_backward()[static_cast<std::size_t>(net->layer_index("loss"))][1]);
}

TEST(NetTest, PropagateDownFalseStopsTheGradient) {
  auto net = MakeNet(R"(
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
    layer { name: "c1" type: "Convolution" bottom: "x" top: "c1"
            convolution_param { num_output: 1 kernel_size: 1 } }
    layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2" propagate_down: false
            convolution_param { num_output: 1 kernel_size: 1 } }
    layer { name: "r" type: "ReLU" bottom: "c2" top: "r" loss_weight: 1 }
  )");
  const auto c2 = static_cast<std::size_t>(net->layer_index("c2"));
  EXPECT_TRUE(net->layer_need_backward()[c2]);
  EXPECT_FALSE(net->bottom_need_backward()[c2][0]);
  EXPECT_FALSE(net->layer_need_backward()[static_cast<std::size_t>(net->layer_index("c1"))]);
}

TEST(NetTest, ForceBackwardGivesEveryLayerAGradient) {
  auto net = MakeNet(R"(
    force_backward: true
    layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
    layer { name: "c" type: "Convolution" bottom: "x" top: "c" param { lr_mult: 0 }
            convolution_param { num_output: 1 kernel_size: 1 bias_term: false } }
  )");
  for (bool need : net->layer_need_backward()) EXPECT_TRUE(need);
  EXPECT_TRUE(net->layer_by_name("c")->param_propagate_down(0));
}

TEST(NetTest, UnknownBottomIsLocated) {
  const std::string msg = test::ConfigErrorOf([] {
    MakeNet(
        "layer { name: \"input\" type: \"Input\" top: \"x\" input_param { shape { dim: 1 } } }\n"
        "layer { name: \"r\" type: \"ReLU\" bottom: \"nope\" top: \"y\" }\n");
  });
  EXPECT_THAT(
      msg, HasSubstr("test.prototxt:2:1: error: layer \"r\" (ReLU): unknown bottom blob \"nope\""));
}

TEST(NetTest, TopFromTwoSourcesIsAnError) {
  const std::string msg = test::ConfigErrorOf([] {
    MakeNet(R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
               layer { name: "r" type: "ReLU" bottom: "x" top: "y" }
               layer { name: "s" type: "ReLU" bottom: "y" top: "x" })");
  });
  EXPECT_THAT(msg, HasSubstr("produced by multiple sources"));
  EXPECT_THAT(msg, HasSubstr("layer \"s\""));
}

TEST(NetTest, InPlaceIsRefusedForLayersThatCannot) {
  const std::string msg = test::ConfigErrorOf([] {
    MakeNet(
        R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
               layer { name: "c" type: "Convolution" bottom: "x" top: "x"
                       convolution_param { num_output: 1 kernel_size: 1 } })");
  });
  EXPECT_THAT(msg, HasSubstr("cannot compute in place"));
}

TEST(NetTest, BadCountsAreLocatedErrors) {
  EXPECT_THAT(
      test::ConfigErrorOf([] {
        MakeNet(R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
                           layer { name: "r" type: "ReLU" bottom: "x" top: "y" propagate_down: true propagate_down: false })");
      }),
      HasSubstr("propagate_down must be given 0 times or once per bottom"));
  EXPECT_THAT(
      test::ConfigErrorOf([] {
        MakeNet(
            R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
                           layer { name: "c" type: "Convolution" bottom: "x" top: "y"
                                   param {} param {} param {}
                                   convolution_param { num_output: 1 kernel_size: 1 } })");
      }),
      HasSubstr("too many param specs"));
  EXPECT_THAT(
      test::ConfigErrorOf([] {
        MakeNet(R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
                           layer { name: "r" type: "ReLU" bottom: "x" top: "y" loss_weight: 1 loss_weight: 2 })");
      }),
      HasSubstr("loss_weight must be given 0 times or once per top"));
  EXPECT_THAT(
      test::ConfigErrorOf([] {
        MakeNet(R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
                           layer { name: "r" type: "ReLU" bottom: "x" bottom: "x" top: "y" })");
      }),
      HasSubstr("ReLU takes 1 bottom blob(s), got 2"));
}

TEST(NetTest, ToProtoWritesEveryLayerWithItsBlobs) {
  auto net = MakeNet(kTwoBranchNet);
  NetParameter out;
  net->ToProto(&out);
  ASSERT_EQ(out.layer_size(), 5);
  EXPECT_EQ(out.layer(1).type(), "Split");
  EXPECT_EQ(out.layer(2).blobs_size(), 1);
  EXPECT_EQ(out.layer(2).blobs(0).data(0), 2.0f);
  EXPECT_EQ(out.layer(2).phase(), TEST);
}

TEST(NetTest, CopyTrainedLayersMatchesByNameAndChecksShapes) {
  auto source = MakeNet(kTwoBranchNet);
  source->layer_by_name("b")->blobs()[0]->mutable_cpu_data()[0] = 7.0f;
  NetParameter weights;
  source->ToProto(&weights);
  weights.mutable_layer(0)->set_name("not_in_target");
  auto target = MakeNet(kTwoBranchNet);
  std::vector<std::string> ignored;
  target->CopyTrainedLayersFrom(weights, "w.caffemodel", &ignored);
  EXPECT_EQ(target->layer_by_name("b")->blobs()[0]->cpu_data()[0], 7.0f);
  EXPECT_THAT(ignored, ElementsAre("not_in_target"));

  weights.mutable_layer(2)->mutable_blobs(0)->mutable_shape()->set_dim(1, 2);
  const std::string msg =
      test::ConfigErrorOf([&] { target->CopyTrainedLayersFrom(weights, "w.caffemodel"); });
  EXPECT_THAT(msg,
              HasSubstr("w.caffemodel: cannot copy parameter 0 of layer \"a\": shape mismatch"));
  EXPECT_THAT(msg, HasSubstr("the file has 1x2x1x1, the net expects 1x1x1x1"));
}

TEST(NetTest, CopyTrainedLayersAcceptsLegacyShapes) {
  auto net = MakeNet(kTwoBranchNet);
  NetParameter weights;
  LayerParameter* layer = weights.add_layer();
  layer->set_name("a");
  BlobProto* blob = layer->add_blobs();
  blob->set_num(1);
  blob->set_channels(1);
  blob->set_height(1);
  blob->set_width(1);
  blob->add_data(-4.0f);
  net->CopyTrainedLayersFrom(weights);
  EXPECT_EQ(net->layer_by_name("a")->blobs()[0]->cpu_data()[0], -4.0f);
}

TEST(NetTest, ShareTrainedLayersWithPointsAtTheSameData) {
  auto train = MakeNet(kTwoBranchNet);
  auto test_net = MakeNet(kTwoBranchNet);
  test_net->ShareTrainedLayersWith(*train);
  EXPECT_EQ(test_net->layer_by_name("a")->blobs()[0]->cpu_data(),
            train->layer_by_name("a")->blobs()[0]->cpu_data());
}

// A training step that frees each activation gradient once consumed computes the same
// parameter and input gradients as one that keeps them all, and holds no intermediate
// gradient afterwards.
TEST(NetTest, ReleasingConsumedDiffsKeepsEveryGradient) {
  const char* text = R"(
    force_backward: true
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
    layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "one" type: "Concat" bottom: "pool1" top: "one" }
    layer { name: "score" type: "Convolution" bottom: "one" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "up" type: "Deconvolution" bottom: "score" top: "up"
            convolution_param { num_output: 3 kernel_size: 2 stride: 2 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "up" bottom: "label" top: "loss" }
  )";
  auto step = [&](bool release) {
    Options options;
    options.random_seed = 17;  // the same filler draws for both nets
    auto net = MakeNet(text, options);
    net->set_release_consumed_diffs(release);
    test::FillGaussian(net->blob_by_name("data"), 3);
    float* label = net->blob_by_name("label")->mutable_cpu_data();
    for (int i = 0; i < 128; ++i) label[i] = static_cast<float>(i % 3);
    for (int iteration = 0; iteration < 2; ++iteration) {  // the second reallocates
      net->ClearParamDiffs();
      net->Forward();
      net->Backward();
    }
    return net;
  };
  const auto kept = step(false);
  const auto released = step(true);
  for (std::size_t p = 0; p < kept->params().size(); ++p) {
    EXPECT_EQ(test::Diff(*kept->params()[p]), test::Diff(*released->params()[p])) << "param " << p;
  }
  EXPECT_EQ(test::Diff(*kept->blob_by_name("data")), test::Diff(*released->blob_by_name("data")));
  for (const char* name : {"conv1", "pool1", "one", "score", "up"}) {
    EXPECT_TRUE(kept->blob_by_name(name)->diff_allocated()) << name;
    EXPECT_FALSE(released->blob_by_name(name)->diff_allocated()) << name;
  }
  // Inputs and the loss top keep theirs (the loss top's diff is its loss weight).
  EXPECT_TRUE(released->blob_by_name("data")->diff_allocated());
  EXPECT_EQ(released->blob_by_name("loss")->cpu_diff()[0], 1.0f);
}

// The replay that `fcntool check` reports equals the most activation-gradient bytes a real
// step holds: measured after each layer's backward, before its consumed diffs are freed.
TEST(NetTest, PeakBackwardDiffBytesIsWhatAStepHolds) {
  const char* text = R"(
    force_backward: true
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }
    layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "one" type: "Concat" bottom: "pool1" top: "one" }
    layer { name: "score" type: "Convolution" bottom: "one" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "skip" type: "Convolution" bottom: "pool1" top: "skip"
            convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "fuse" type: "Eltwise" bottom: "score" bottom: "skip" top: "fuse" }
    layer { name: "up" type: "Deconvolution" bottom: "fuse" top: "up"
            convolution_param { num_output: 3 kernel_size: 2 stride: 2 } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "up" bottom: "label" top: "loss" }
  )";
  auto net = MakeNet(text);
  net->set_release_consumed_diffs(true);
  float* label = net->blob_by_name("label")->mutable_cpu_data();
  for (int i = 0; i < 128; ++i) label[i] = static_cast<float>(i % 3);
  auto allocated_diff_bytes = [&] {
    std::set<const SyncedMemory*> seen;
    std::int64_t bytes = 0;
    for (const auto& blob : net->blobs()) {
      if (blob->diff_allocated() && seen.insert(&blob->diff_memory()).second) {
        bytes += blob->count() * static_cast<std::int64_t>(sizeof(float));
      }
    }
    return bytes;
  };
  std::int64_t measured = 0;
  for (int iteration = 0; iteration < 2; ++iteration) {
    net->Forward();
    for (int i = static_cast<int>(net->layers().size()) - 1; i >= 0; --i) {
      net->set_release_consumed_diffs(false);
      net->BackwardFromTo(i, i);
      measured = std::max(measured, allocated_diff_bytes());
      net->set_release_consumed_diffs(true);
      net->ReleaseConsumedDiffs(i);
    }
  }
  // The largest set is at pool1's backward (data 384 floats, kept as the input, conv1 512,
  // pool1 128, the loss's 1: 4100 bytes); the replay must find the same figure, below the sum
  // of all diffs.
  EXPECT_EQ(measured, 4100);
  EXPECT_EQ(net->PeakBackwardDiffBytes(), measured);
  std::int64_t all = 0;
  std::set<const SyncedMemory*> seen;
  for (const auto& blob : net->blobs()) {
    if (seen.insert(&blob->diff_memory()).second) all += blob->count() * 4;
  }
  EXPECT_LT(measured, all);
}

// An inference pass that frees each activation after its last reader computes the same
// outputs (twice: the second pass reuses the pooled buffers), keeps the outputs and the blobs
// asked for, and frees blobs that share data (Split's tops) only after all their readers.
TEST(NetTest, ReleasingConsumedDataKeepsOutputsAndNamedBlobs) {
  const char* text = R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "one" type: "Concat" bottom: "pool1" top: "one" }
    layer { name: "score" type: "Convolution" bottom: "one" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "up" type: "Deconvolution" bottom: "score" top: "up"
            convolution_param { num_output: 3 kernel_size: 2 stride: 2 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "conv1b" type: "Convolution" bottom: "conv1" top: "conv1b"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "fuse" type: "Eltwise" bottom: "up" bottom: "conv1b" top: "fuse" }
  )";
  auto run = [&](bool release) {
    Options options;
    options.random_seed = 23;
    auto net = MakeNet(text, options);
    net->set_release_consumed_data(release, {"score"});
    std::vector<std::vector<float>> outputs;
    for (int pass = 0; pass < 2; ++pass) {
      test::FillGaussian(net->blob_by_name("data"), 5 + pass);
      net->Forward();
      outputs.push_back(test::Data(*net->blob_by_name("fuse")));
      outputs.push_back(test::Data(*net->blob_by_name("score")));
    }
    return std::make_pair(std::move(net), outputs);
  };
  const auto [kept, kept_outputs] = run(false);
  const auto [released, released_outputs] = run(true);
  EXPECT_EQ(kept_outputs, released_outputs);
  // conv1 (read by pool1 and, through a Split, by conv1b), pool1, one and up are freed; the
  // output, the input and "score" (asked for) are not.
  for (const char* name : {"conv1", "pool1", "one", "up"}) {
    EXPECT_TRUE(kept->blob_by_name(name)->data_allocated()) << name;
    EXPECT_FALSE(released->blob_by_name(name)->data_allocated()) << name;
  }
  for (const char* name : {"data", "score", "fuse"}) {
    EXPECT_TRUE(released->blob_by_name(name)->data_allocated()) << name;
  }
}

// Each net pools the host buffers its blobs release (no process-wide pool): two nets in one
// process keep separate pools, and a net's pooled memory goes with the net.
TEST(NetTest, EachNetPoolsTheBuffersItsBlobsRelease) {
  const char* text = R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "score" type: "Convolution" bottom: "pool1" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
  )";
  auto a = MakeNet(text);
  auto b = MakeNet(text);
  EXPECT_NE(&a->host_pool(), &b->host_pool());
  for (const auto& blob : a->blobs()) {
    EXPECT_EQ(blob->data_memory().host_pool().get(), &a->host_pool());
  }
  // A TEST net converts its weights into oneDNN's layout once: their old buffers are freed,
  // not pooled. A TRAIN net's parameters convert each time a test net sharing them runs, and
  // pool.
  for (Blob* param : a->learnable_params()) {
    EXPECT_EQ(param->data_memory().host_pool(), nullptr);
  }
  const auto train = MakeNet(std::string("state { phase: TRAIN } ") + text);
  ASSERT_EQ(train->phase(), TRAIN);
  for (Blob* param : train->learnable_params()) {
    EXPECT_EQ(param->data_memory().host_pool().get(), &train->host_pool());
  }
  a->set_release_consumed_data(true);
  b->set_release_consumed_data(false);
  // A net that frees consumed activations repeats one sequence of allocations every pass: a
  // freed buffer may serve any smaller request.
  EXPECT_TRUE(a->host_pool().any_larger());
  EXPECT_FALSE(b->host_pool().any_larger());
  test::FillGaussian(a->blob_by_name("data"), 17);
  b->blob_by_name("data")->CopyFrom(*a->blob_by_name("data"));
  a->Forward();
  b->Forward();
  // conv1 (1 KiB) and pool1 (256 B) went back to a's pool; b released nothing.
  EXPECT_EQ(a->host_pool().pooled_buffers(), 2u);
  EXPECT_EQ(a->host_pool().pooled_bytes(), 4u * 64 * 4 + 4u * 16 * 4);
  EXPECT_EQ(b->host_pool().pooled_buffers(), 0u);
  // The blobs a keeps (its input and its output score) hold their own buffers: from a pool
  // that serves any smaller request, score would have taken conv1's for the net's life (the
  // regression: segment's 21 MB score held a 125 MB buffer, and every later pass allocated
  // another).
  EXPECT_EQ(a->blob_by_name("score")->data_memory().host_pool(), nullptr);
  EXPECT_EQ(a->blob_by_name("data")->data_memory().host_pool(), nullptr);
  EXPECT_EQ(b->blob_by_name("score")->data_memory().host_pool().get(), &b->host_pool());
  // A net that never runs backward keeps no max-pooling argmax.
  EXPECT_EQ(a->layer_by_name("pool1")->internal_bytes(), 0u);
  EXPECT_EQ(b->layer_by_name("pool1")->internal_bytes(), 4u * 16 * sizeof(std::uint8_t));
  EXPECT_EQ(test::Data(*a->blob_by_name("score")), test::Data(*b->blob_by_name("score")));
  // From the second pass on, the same two buffers go out and come back each pass.
  for (int pass = 0; pass < 2; ++pass) {
    a->Forward();
    EXPECT_EQ(a->host_pool().pooled_buffers(), 2u);
    EXPECT_EQ(a->host_pool().pooled_bytes(), 4u * 64 * 4 + 4u * 16 * 4);
  }
  EXPECT_FALSE(a->blob_by_name("conv1")->data_allocated());
  EXPECT_EQ(test::Data(*a->blob_by_name("score")), test::Data(*b->blob_by_name("score")));
}

// A training net that releases what backward has consumed (the solver's, fcntool time's)
// frees each activation once no backward still to run reads it, so its buffer serves the
// gradients that follow. The gradients are those of a net that keeps everything.
TEST(NetTest, TrainingBackwardFreesEachActivationAfterItsLastReader) {
  const char* text = R"(
    force_backward: true state { phase: TRAIN }
    layer { name: "data" type: "Input" top: "data" top: "label"
            input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } shape { dim: 2 dim: 1 dim: 4 dim: 4 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 1
                                weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.1 } } }
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "score" type: "Convolution" bottom: "pool1" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
  )";
  auto released = MakeNet(text);
  auto kept = MakeNet(text);
  released->set_release_consumed_diffs(true);
  released->host_pool().set_limit_bytes(1024);
  for (Net* net : {released.get(), kept.get()}) {
    test::FillGaussian(net->blob_by_name("data"), 5);
    float* label = net->blob_by_name("label")->mutable_cpu_data();
    for (int i = 0; i < 32; ++i) label[i] = static_cast<float>(i % 3);
  }
  // Which activations hold data after each layer's backward.
  std::vector<std::string> seen;
  released->set_after_backward([&](int layer) {
    std::string line = released->layer_names()[static_cast<std::size_t>(layer)] + ":";
    for (const char* blob : {"conv1", "pool1", "score"}) {
      if (released->blob_by_name(blob)->data_allocated()) line += std::string(" ") + blob;
    }
    seen.push_back(line);
  });
  for (int step = 0; step < 2; ++step) {
    EXPECT_EQ(released->ForwardBackward(), kept->ForwardBackward()) << "step " << step;
    // score's data goes after the loss (its only reader); pool1's after score's backward
    // (which reads its bottom); conv1's (ReLU's, in place) after relu1's, since neither the
    // pooling's backward nor the convolution's reads its top.
    EXPECT_THAT(seen, ElementsAre("loss: conv1 pool1", "score: conv1", "pool1: conv1",
                                  "relu1:", "conv1:", "data:"))
        << "step " << step;
    seen.clear();
    for (std::size_t i = 0; i < kept->learnable_params().size(); ++i) {
      EXPECT_EQ(test::Diff(*released->learnable_params()[i]),
                test::Diff(*kept->learnable_params()[i]))
          << "param " << i << ", step " << step;
    }
    EXPECT_EQ(test::Diff(*released->blob_by_name("data")), test::Diff(*kept->blob_by_name("data")));
    EXPECT_TRUE(released->blob_by_name("loss")->data_allocated());
    // The pool keeps what every step allocates again: the data and diffs of conv1 (2x4x8x8),
    // pool1 (2x4x4x4) and score (2x3x4x4), above the small limit set below.
    EXPECT_EQ(released->host_pool().limit_bytes(), 2u * sizeof(float) * (512 + 128 + 96));
    EXPECT_EQ(kept->host_pool().limit_bytes(), HostBufferPool::kDefaultLimitBytes);
    EXPECT_TRUE(released->blob_by_name("label")->data_allocated());
  }
}

// A layer without bottoms need not write its tops every pass (DummyData fills a constant top
// once, at set-up): neither a training net that releases what backward consumed nor an
// inference net that frees consumed activations may free them. The regression: the constant
// label of python/tests/test_log.py's net came back as zeros from the second step on, and the
// net learnt the wrong class.
TEST(NetTest, ReleasesSpareWhatALayerWithoutBottomsWritesOnce) {
  const std::string layers = R"(
    layer { name: "dummy" type: "DummyData" top: "data" top: "label"
            dummy_data_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } shape { dim: 1 dim: 1 dim: 4 dim: 4 }
                               data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
    layer { name: "score" type: "Convolution" bottom: "data" top: "score"
            convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.5 } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
  )";
  auto released = MakeNet("state { phase: TRAIN } " + layers);
  auto kept = MakeNet("state { phase: TRAIN } " + layers);
  released->set_release_consumed_diffs(true);
  for (int step = 0; step < 3; ++step) {
    EXPECT_EQ(released->ForwardBackward(), kept->ForwardBackward()) << "step " << step;
    EXPECT_EQ(test::Data(*released->blob_by_name("label")), std::vector<float>(16, 1.0f))
        << "step " << step;
  }
  auto inference = MakeNet("state { phase: TEST } " + layers);
  inference->set_release_consumed_data(true);
  for (int pass = 0; pass < 3; ++pass) {
    inference->Forward();
    EXPECT_EQ(test::Data(*inference->blob_by_name("label")), std::vector<float>(16, 1.0f))
        << "pass " << pass;
  }
}
}  // namespace
}  // namespace fcn
