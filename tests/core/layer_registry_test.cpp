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
  schema.coord_map = CoordMapRule::kNone;
  registry.AddEntry(schema, nullptr);
  EXPECT_DEATH(registry.AddEntry(schema, nullptr), "registered twice");
}

TEST(LayerRegistryTest, ASchemaWithoutACoordinateMapRuleIsAProgrammerError) {
  LayerRegistry registry;
  LayerSchema schema;
  schema.type = "Y";
  EXPECT_DEATH(registry.AddEntry(schema, nullptr), "Y declares no coordinate-map rule");
}

// Each layer states its coordinate map in its schema; the crop analysis reads it from there.
TEST(LayerRegistryTest, EveryBuiltinTypeStatesItsCoordinateMap) {
  const LayerRegistry& registry = LayerRegistry::Builtin();
  for (const std::string& type : registry.Types()) {
    EXPECT_NE(registry.Find(type)->coord_map, CoordMapRule::kUndeclared) << type;
  }
  const std::vector<std::pair<const char*, CoordMapRule>> expected = {
      {"AbsVal", CoordMapRule::kIdentity},
      {"Concat", CoordMapRule::kConcat},
      {"Convolution", CoordMapRule::kConvolution},
      {"Crop", CoordMapRule::kCrop},
      {"Deconvolution", CoordMapRule::kDeconvolution},
      {"Eltwise", CoordMapRule::kIdentity},
      {"InnerProduct", CoordMapRule::kNone},
      {"Pooling", CoordMapRule::kPooling},
      {"ReLU", CoordMapRule::kIdentity},
      {"Softmax", CoordMapRule::kIdentity},
      {"SoftmaxWithLoss", CoordMapRule::kNone},
  };
  for (const auto& [type, rule] : expected) {
    ASSERT_NE(registry.Find(type), nullptr) << type;
    EXPECT_EQ(registry.Find(type)->coord_map, rule) << type;
  }
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
