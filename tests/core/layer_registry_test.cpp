// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/layer_registry.h"

#include "support/test_util.h"

namespace fcn {
namespace {

using ::testing::HasSubstr;

TEST(LayerRegistryTest, KnowsTheCoreLayerSet) {
  const auto types = LayerRegistry::Builtin().Types();
  for (const char* t :
       {"Convolution", "Crop", "Deconvolution", "Dropout", "DummyData", "Eltwise", "Input",
        "Pooling", "ReLU", "Silence", "Softmax", "SoftmaxWithLoss", "Split"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
  EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
}

TEST(LayerRegistryTest, CreatesLayersWithTheirSchema) {
  auto layer = test::MakeLayer(R"(name: "r" type: "ReLU" bottom: "x" top: "x")");
  EXPECT_EQ(layer->schema().type, "ReLU");
  EXPECT_TRUE(layer->schema().in_place);
}

TEST(LayerRegistryTest, AddingATypeTwiceIsAProgrammerError) {
  LayerRegistry registry;
  LayerSchema schema;
  schema.type = "X";
  registry.AddEntry(schema, nullptr);
  EXPECT_DEATH(registry.AddEntry(schema, nullptr), "registered twice");
}

TEST(LayerRegistryTest, UnknownTypeMessageSuggestsTheNearestType) {
  const std::string msg = LayerRegistry::Builtin().UnknownTypeMessage("relu");
  EXPECT_THAT(msg, HasSubstr("did you mean \"ReLU\"?"));
  EXPECT_THAT(LayerRegistry::Builtin().UnknownTypeMessage("Foo"),
              ::testing::Not(HasSubstr("did you mean")));
  EXPECT_THAT(LayerRegistry::Builtin().UnknownTypeMessage(""), HasSubstr("layer has no type"));
}

TEST(LayerRegistryTest, ValidatesCountsAndParams) {
  EXPECT_THAT(test::ConfigErrorOf([] { test::MakeLayer(R"(type: "Crop" bottom: "a" top: "b")"); }),
              HasSubstr("Crop takes 2 bottom blob(s), got 1"));
  EXPECT_THAT(test::ConfigErrorOf([] {
                test::MakeLayer(
                    R"(type: "Softmax" bottom: "a" top: "b" convolution_param { num_output: 1 })");
              }),
              HasSubstr("convolution_param does not apply to a Softmax layer"));
}

}  // namespace
}  // namespace fcn
