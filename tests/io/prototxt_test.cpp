// SPDX-License-Identifier: BSD-2-Clause
// Prototxt reading: located errors, V1 and legacy-input upgrades.
#include <fstream>

#include "fcn/io.h"
#include "fcn/layer_registry.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using ::testing::HasSubstr;

TEST(PrototxtTest, RecordsWhereEachLayerWasWritten) {
  NetSource source;
  NetParameter param = ReadNetParamFromTextString(
      "name: \"n\"\n"
      "layer { name: \"a\" type: \"Input\" top: \"x\" }\n"
      "\n"
      "  layer {\n"
      "    name: \"b\" type: \"ReLU\" bottom: \"x\" top: \"x\" }\n",
      "net.prototxt", &source);
  ASSERT_EQ(source.layer_locations.size(), 2u);
  EXPECT_EQ(source.LayerLocation(0).ToString(), "net.prototxt:2:1");
  EXPECT_EQ(source.LayerLocation(1).ToString(), "net.prototxt:4:3");
}

TEST(PrototxtTest, SyntaxErrorNamesFileLineAndLayer) {
  const std::string msg = test::ConfigErrorOf([] {
    ReadNetParamFromTextString(
        "layer { name: \"data\" type: \"Input\" top: \"data\" }\n"
        "layer {\n"
        "  name: \"conv1\"\n"
        "  type: \"Convolution\"\n"
        "  convolution_param { num_output: 3 kernel_size: }\n"
        "}\n",
        "broken.prototxt");
  });
  EXPECT_THAT(msg, HasSubstr("broken.prototxt:5:"));
  EXPECT_THAT(msg, HasSubstr("layer \"conv1\" (Convolution)"));
}

TEST(PrototxtTest, UnknownFieldIsAnError) {
  const std::string msg = test::ConfigErrorOf([] {
    ReadNetParamFromTextString(
        "layer {\n  name: \"p\"\n  type: \"Pooling\"\n  pooling_param { pool: MAX kernal_size: 2 "
        "}\n}\n",
        "typo.prototxt");
  });
  EXPECT_THAT(msg, HasSubstr("typo.prototxt:4:"));
  EXPECT_THAT(msg, HasSubstr("kernal_size"));
  EXPECT_THAT(msg, HasSubstr("layer \"p\" (Pooling)"));
}

TEST(PrototxtTest, BadEnumValueIsAnError) {
  const std::string msg = test::ConfigErrorOf([] {
    ReadNetParamFromTextString(
        "layer { name: \"p\" type: \"Pooling\" pooling_param { pool: MEDIAN } }", "enum.prototxt");
  });
  EXPECT_THAT(msg, HasSubstr("enum.prototxt:1:"));
  EXPECT_THAT(msg, HasSubstr("MEDIAN"));
}

TEST(PrototxtTest, CommentsAndBracesInStringsDoNotConfuseTheLayerFinder) {
  const std::string msg = test::ConfigErrorOf([] {
    ReadNetParamFromTextString(
        "# layer { name: \"commented\" }\n"
        "layer { name: \"x{\" type: \"Input\" top: \"}\" }\n"
        "layer { name: \"second\" type: \"ReLU\"\n"
        "  bogus: 1 }\n",
        "s.prototxt");
  });
  EXPECT_THAT(msg, HasSubstr("s.prototxt:4:"));
  EXPECT_THAT(msg, HasSubstr("layer \"second\" (ReLU)"));
}

TEST(PrototxtTest, MissingFileNamesThePath) {
  EXPECT_THAT(test::ConfigErrorOf([] { ReadNetParamFromTextFile("/nonexistent/x.prototxt"); }),
              HasSubstr("/nonexistent/x.prototxt: cannot open file"));
}

TEST(PrototxtTest, V1NetIsUpgradedInMemory) {
  NetSource source;
  NetParameter param = ReadNetParamFromTextString(R"(
    name: "old"
    input: "data"
    input_dim: 1 input_dim: 3 input_dim: 4 input_dim: 4
    layers {
      name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
      blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
      convolution_param { num_output: 2 kernel_size: 3 }
    }
    layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
    layers { name: "loss" type: SOFTMAX_LOSS bottom: "conv" bottom: "label" }
  )",
                                                  "v1.prototxt", &source);
  EXPECT_EQ(param.layers_size(), 0);
  ASSERT_EQ(param.layer_size(), 4);
  EXPECT_EQ(param.layer(0).type(), "Input");
  EXPECT_EQ(param.layer(1).type(), "Convolution");
  EXPECT_EQ(param.layer(1).param(0).lr_mult(), 1.0f);
  EXPECT_EQ(param.layer(1).param(1).lr_mult(), 2.0f);
  EXPECT_EQ(param.layer(1).param(1).decay_mult(), 0.0f);
  EXPECT_EQ(param.layer(1).convolution_param().num_output(), 2u);
  EXPECT_EQ(param.layer(2).type(), "ReLU");
  EXPECT_EQ(param.layer(3).type(), "SoftmaxWithLoss");
  // Locations follow the upgraded list: the Input layer points at `input:`.
  ASSERT_EQ(source.layer_locations.size(), 4u);
  EXPECT_EQ(source.LayerLocation(0).line, 3);
  EXPECT_EQ(source.LayerLocation(1).line, 5);
}

TEST(PrototxtTest, V1DataLayerMovesTransformSettings) {
  NetParameter param = ReadNetParamFromTextString(
      R"(layers { name: "d" type: DATA top: "data"
                  data_param { source: "db" scale: 0.5 mirror: true crop_size: 7 batch_size: 1 } })",
      "v1data.prototxt");
  ASSERT_EQ(param.layer_size(), 1);
  EXPECT_FLOAT_EQ(param.layer(0).transform_param().scale(), 0.5f);
  EXPECT_TRUE(param.layer(0).transform_param().mirror());
  EXPECT_EQ(param.layer(0).transform_param().crop_size(), 7u);
  EXPECT_FALSE(param.layer(0).data_param().has_scale());
}

TEST(PrototxtTest, MixingLayerAndLayersIsRefused) {
  EXPECT_THAT(test::ConfigErrorOf([] {
                ReadNetParamFromTextString(
                    "layer { name: \"a\" type: \"Input\" }\nlayers { name: \"b\" type: RELU }",
                    "mixed.prototxt");
              }),
              HasSubstr("both `layer` (current) and `layers` (V1)"));
}

TEST(PrototxtTest, V0LayersAreRefusedWithAnUpgradeHint) {
  EXPECT_THAT(test::ConfigErrorOf([] {
                ReadNetParamFromTextString("layers { layer { name: \"old\" type: \"conv\" } }",
                                           "v0.prototxt");
              }),
              HasSubstr("upgrade_net_proto_text"));
}

TEST(PrototxtTest, InputDimCountMustBeFourPerInput) {
  EXPECT_THAT(test::ConfigErrorOf([] {
                ReadNetParamFromTextString("input: \"data\" input_dim: 1 input_dim: 3",
                                           "in.prototxt");
              }),
              HasSubstr("2 input_dim values for 1 input(s)"));
}

TEST(PrototxtTest, SolverParameterParsesWithLocations) {
  const std::string dir = test::TempDir();
  std::ofstream(dir + "/solver.prototxt")
      << "base_lr: 1e-10\nmomentum: 0.99\nlr_policy: \"fixed\"\n";
  SolverParameter solver = ReadSolverParamFromTextFile(dir + "/solver.prototxt");
  EXPECT_FLOAT_EQ(solver.base_lr(), 1e-10f);
  std::ofstream(dir + "/bad.prototxt") << "base_lr: 1e-10\nmomentun: 0.99\n";
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadSolverParamFromTextFile(dir + "/bad.prototxt"); }),
              HasSubstr("bad.prototxt:2:"));
}

TEST(PrototxtTest, PythonLayerPointsToTheDataLayer) {
  const std::string msg = test::ConfigErrorOf([] {
    test::MakeNet(
        "layer {\n"
        "  name: \"data\"\n"
        "  type: \"Python\"\n"
        "  top: \"data\"\n"
        "  python_param { module: \"voc_layers\" layer: \"SBDDSegDataLayer\" }\n"
        "}\n");
  });
  EXPECT_THAT(msg, HasSubstr("test.prototxt:1:1: error: layer \"data\" (Python)"));
  EXPECT_THAT(msg, HasSubstr("type: \"Data\""));
  EXPECT_THAT(msg, HasSubstr("convert_"));
}

TEST(PrototxtTest, UnknownLayerTypeListsKnownTypesAndSuggests) {
  const std::string msg =
      test::ConfigErrorOf([] { test::MakeNet("layer { name: \"up\" type: \"Deconvolutoin\" }"); });
  EXPECT_THAT(msg, HasSubstr("unknown layer type \"Deconvolutoin\""));
  EXPECT_THAT(msg, HasSubstr("did you mean \"Deconvolution\"?"));
  EXPECT_THAT(msg, HasSubstr("known types: "));
  EXPECT_THAT(msg, HasSubstr("Convolution, Crop"));
}

TEST(PrototxtTest, ParamOfAnotherLayerTypeIsAnError) {
  const std::string msg = test::ConfigErrorOf([] {
    test::MakeNet(R"(layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 } } }
                     layer { name: "r" type: "ReLU" bottom: "x" top: "x" pooling_param { pool: MAX } })");
  });
  EXPECT_THAT(msg, HasSubstr("pooling_param does not apply to a ReLU layer"));
}

}  // namespace
}  // namespace fcn
