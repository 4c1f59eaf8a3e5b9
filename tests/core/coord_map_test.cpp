// SPDX-License-Identifier: BSD-2-Clause
// Coordinate maps: exact fractions, derived crop offsets for FCN-style nets, blob geometry,
// and the text-preserving rewrite of `fcntool align`.
#include "fcn/coord_map.h"

#include "fcn/io.h"
#include "fcn/net.h"
#include "support/test_util.h"
#include "tools/fcntool/align_text.h"

namespace fcn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FractionTest, StaysInLowestTerms) {
  EXPECT_EQ(Fraction::Of(6, -4).ToString(), "-3/2");
  EXPECT_EQ((Fraction::Of(1, 2) + Fraction::Of(1, 3)).ToString(), "5/6");
  EXPECT_EQ((Fraction::Of(3, 4) / Fraction::Of(3, 8)).ToString(), "2");
  EXPECT_TRUE((Fraction::Of(5, 4) - Fraction::Of(1, 4)).integral());
}

TEST(AxisMapTest, ComposesAndInverts) {
  const AxisMap conv{Fraction::Of(1, 2), Fraction::Of(3, 4)};
  const AxisMap deconv{Fraction::Of(2), Fraction::Of(-1)};
  const AxisMap both = deconv.After(conv);  // x -> 2 (x/2 + 3/4) - 1 = x + 1/2
  EXPECT_EQ(both.a.ToString(), "1");
  EXPECT_EQ(both.b.ToString(), "1/2");
  const AxisMap id = conv.Inverse().After(conv);
  EXPECT_EQ(id.a.ToString(), "1");
  EXPECT_EQ(id.b.ToString(), "0");
}

// A miniature FCN-16s: pad 100, two stride-2 stages, a 2x deconvolution, a skip and crops.
std::string MiniFcn(int skip_offset, int final_offset) {
  return StrCat(R"(
    name: "mini"
    layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 64 dim: 64 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 4 kernel_size: 3 pad: 100 } }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
    layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "fc" type: "Convolution" bottom: "pool2" top: "fc" convolution_param { num_output: 3 kernel_size: 5 } }
    layer { name: "up2" type: "Deconvolution" bottom: "fc" top: "up2"
            convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
    layer { name: "score_pool1" type: "Convolution" bottom: "pool1" top: "score_pool1" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "score_pool1c" type: "Crop" bottom: "score_pool1" bottom: "up2" top: "score_pool1c"
            crop_param { axis: 2 offset: )",
                skip_offset, R"( } }
    layer { name: "fuse" type: "Eltwise" bottom: "up2" bottom: "score_pool1c" top: "fuse" }
    layer { name: "up" type: "Deconvolution" bottom: "fuse" top: "up"
            convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
    layer { name: "score" type: "Crop" bottom: "up" bottom: "data" top: "score"
            crop_param { axis: 2 offset: )",
                final_offset, R"( } }
  )");
}

TEST(CoordMapTest, DerivesTheOffsetsThatAlignTheCrops) {
  // By hand: pool1 = x/2 + 197/4, pool2 = x/4 + 195/8, fc = x/4 + 179/8, up2 = x/2 + 185/4, so
  // score_pool1 (= pool1) is cropped by 3 onto up2, and up = 2 up2 + 3/2 = x + 94 by 94.
  const NetParameter param = ReadNetParamFromTextString(MiniFcn(0, 0), "mini.prototxt");
  CoordMapAnalysis analysis(param);
  ASSERT_EQ(analysis.crops().size(), 2u);
  const CropDerivation& skip = analysis.crops()[0];
  EXPECT_EQ(skip.layer, "score_pool1c");
  EXPECT_TRUE(skip.problem.empty()) << skip.problem;
  const CropDerivation& last = analysis.crops()[1];
  EXPECT_TRUE(last.problem.empty()) << last.problem;
  // Build with the derived offsets: every crop then lands the output on the input grid.
  const int s = skip.derived[0];
  const int f = last.derived[0];
  EXPECT_EQ(s, 3);
  EXPECT_EQ(f, 94);
  EXPECT_THAT(skip.derived, ElementsAre(s, s));
  EXPECT_THAT(last.derived, ElementsAre(f, f));
  auto net = test::MakeNet(MiniFcn(s, f));
  EXPECT_EQ(net->blob_by_name("score")->shape(), (std::vector<std::int64_t>{1, 3, 64, 64}));
  CoordMapAnalysis aligned(net->param());
  for (const CropDerivation& d : aligned.crops()) EXPECT_TRUE(d.matches()) << d.layer;
  // The composite map data -> score is the identity.
  const auto geometry = aligned.Geometry("data");
  const BlobGeometry& score = geometry.at("score");
  EXPECT_EQ(score.maps[0].a.ToString(), "1");
  EXPECT_EQ(score.maps[0].b.ToString(), "0");
}

TEST(CoordMapTest, MatchesHandComputedMapsAndReceptiveFields) {
  const NetParameter param = ReadNetParamFromTextString(MiniFcn(6, 25), "mini.prototxt");
  const auto g = CoordMapAnalysis(param).Geometry("data");
  // conv1 (k3, p100): x + 99, field 3; pool1: (x + 99)/2 - 1/4 = x/2 + 197/4, field 4.
  EXPECT_EQ(g.at("conv1").maps[0].b.ToString(), "99");
  EXPECT_EQ(g.at("conv1").field[0], 3);
  EXPECT_EQ(g.at("pool1").maps[0].a.ToString(), "1/2");
  EXPECT_EQ(g.at("pool1").maps[0].b.ToString(), "197/4");
  EXPECT_EQ(g.at("pool1").stride[0].ToString(), "2");
  EXPECT_EQ(g.at("pool1").field[0], 4);
  // conv2 (k3 at stride 2): field 4 + 2*2 = 8; pool2: 8 + 2 = 10, stride 4; fc k5: 10 + 4*4.
  EXPECT_EQ(g.at("conv2").field[0], 8);
  EXPECT_EQ(g.at("pool2").stride[0].ToString(), "4");
  EXPECT_EQ(g.at("pool2").field[0], 10);
  EXPECT_EQ(g.at("fc").field[0], 26);
  EXPECT_EQ(g.at("up2").stride[0].ToString(), "2");
}

TEST(CoordMapTest, ReportsWhyAnOffsetCannotBeDerived) {
  const NetParameter param = ReadNetParamFromTextString(R"(
    layer { name: "input" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 1 dim: 9 dim: 9 } } }
    layer { name: "pool" type: "Pooling" bottom: "a" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "c1" type: "Crop" bottom: "p" bottom: "a" top: "c1" }
    layer { name: "c2" type: "Crop" bottom: "a" bottom: "b" top: "c2" }
  )",
                                                        "bad.prototxt");
  CoordMapAnalysis analysis(param);
  ASSERT_EQ(analysis.crops().size(), 2u);
  EXPECT_THAT(analysis.crops()[0].problem, HasSubstr("differ in scale"));
  EXPECT_THAT(analysis.crops()[1].problem, HasSubstr("not connected"));
}

TEST(AlignTest, RewritesOnlyTheOffsetsAndKeepsComments) {
  const std::string text = MiniFcn(1, 7) + "# trailing comment\n";
  const NetParameter param = ReadNetParamFromTextString(text, "mini.prototxt");
  std::vector<std::string> changes;
  const std::string aligned = AlignCropOffsets(text, "mini.prototxt", param, &changes);
  EXPECT_EQ(changes.size(), 2u);
  EXPECT_THAT(aligned, HasSubstr("# trailing comment"));
  const NetParameter fixed = ReadNetParamFromTextString(aligned, "aligned.prototxt");
  const CoordMapAnalysis fixed_analysis(fixed);
  for (const CropDerivation& d : fixed_analysis.crops()) EXPECT_TRUE(d.matches()) << d.layer;
  // Aligning an aligned file changes nothing.
  std::vector<std::string> none;
  EXPECT_EQ(AlignCropOffsets(aligned, "aligned.prototxt", fixed, &none), aligned);
  EXPECT_TRUE(none.empty());
}

TEST(AlignTest, AddsMissingOffsetsAndCollapsesPerAxisOnes) {
  std::string text = MiniFcn(0, 0);
  text.replace(text.find("crop_param { axis: 2 offset: 0 }"), 32, "crop_param { axis: 2 }");
  const std::size_t second = text.find("crop_param { axis: 2 offset: 0 }");
  text.replace(second, 32, "crop_param { axis: 2 offset: 1 offset: 2 }");
  const NetParameter param = ReadNetParamFromTextString(text, "mini.prototxt");
  const std::string aligned = AlignCropOffsets(text, "mini.prototxt", param, nullptr);
  const NetParameter fixed = ReadNetParamFromTextString(aligned, "aligned.prototxt");
  for (const LayerParameter& lp : fixed.layer()) {
    if (lp.type() == "Crop") {
      EXPECT_EQ(lp.crop_param().offset_size(), 1) << lp.name();
    }
  }
  const CoordMapAnalysis fixed_analysis(fixed);
  for (const CropDerivation& d : fixed_analysis.crops()) EXPECT_TRUE(d.matches()) << d.layer;
}

}  // namespace
}  // namespace fcn
