// SPDX-License-Identifier: BSD-2-Clause
// fcntool as a user runs it: exit codes (0 ok, 1 runtime, 2 bad input) and what it prints.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "fcn/io.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::WriteFile;

using ::testing::HasSubstr;

using Result = test::CommandResult;

Result Fcntool(const std::string& args) { return test::RunFcntool(args); }

const char* kSmallNet = R"(name: "small"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 20 dim: 20 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "crop" type: "Crop" bottom: "conv" bottom: "data" top: "out" crop_param { offset: 0 } }
)";

TEST(FcntoolTest, HelpListsCommandsAndExitsZero) {
  Result r = Fcntool("help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("check"));
  r = Fcntool("help check");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, HasSubstr("--model"));
  EXPECT_THAT(r.output, HasSubstr("--input_shape"));
}

TEST(FcntoolTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Fcntool("").exit_code, 2);
  Result r = Fcntool("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown command 'frobnicate'"));
  r = Fcntool("check --modle=x.prototxt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unknown flag --modle"));
  r = Fcntool("check");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--model is required"));
  EXPECT_EQ(Fcntool("help nosuchcommand").exit_code, 2);
}

TEST(FcntoolTest, CheckPrintsShapesParametersAndMemory) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(dir, "small.prototxt", kSmallNet);
  Result r = Fcntool("check --model=" + model);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("conv 1x4x20x20"));
  EXPECT_THAT(r.output, HasSubstr("112"));  // 4*3*3*3 + 4 parameters
  EXPECT_THAT(r.output, HasSubstr("Outputs: out 1x4x20x20"));
  EXPECT_THAT(r.output, HasSubstr("Parameters: 112 (448 B)"));
  // data 1200 + conv 1600 + out 1600 floats; diffs also for the two Split tops of data (1200
  // each); on the im2col engine the bias multiplier holds 400 ones (oneDNN keeps none).
  ::setenv("FCN_CONV_ENGINE", "CAFFE", 1);
  const Result im2col = Fcntool("check --model=" + model);
  ::unsetenv("FCN_CONV_ENGINE");
  EXPECT_THAT(im2col.output, HasSubstr("Activations: 17.2 KiB forward, 43.8 KiB with gradients; "
                                       "layer buffers 1.6 KiB"));
  // A training step (forced backward, as fcntool time) frees each activation gradient once
  // consumed, but in this net all of them meet at conv's backward: data's and out's (kept:
  // the net's input and output) and conv's and both Split tops', 6800 floats. So activations
  // = 4400 + 6800 + 400 floats (NetTest.PeakBackwardDiffBytesIsWhatAStepHolds has a net where
  // the peak is below the sum).
  EXPECT_THAT(im2col.output, HasSubstr("Training memory: parameters 448 B + gradients 448 B + "
                                       "SGD history 448 B + activations 45.3 KiB = 46.6 KiB "
                                       "(activation gradients freed once consumed: at most "
                                       "26.6 KiB at once)"));
  r = Fcntool("check --model=" + model + " --input_shape=2,3,7,9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Outputs: out 2x4x7x9"));
  EXPECT_EQ(Fcntool("check --model=" + model + " --input_shape=2,x").exit_code, 2);
}

TEST(FcntoolTest, CheckBuildsTheBundledFcn8sDeployNet) {
  Result r = Fcntool("check --model=" + test::SourceDir() + "/models/voc-fcn8s/deploy.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("upscore8 1x21x568x568"));
  EXPECT_THAT(r.output, HasSubstr("Outputs: score 1x21x500x500"));
  EXPECT_THAT(r.output, HasSubstr("Parameters: 134,489,759"));
}

TEST(FcntoolTest, CheckLoadsWeightsAndReportsMismatches) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(dir, "small.prototxt", kSmallNet);
  // Weights written by fcn itself load back.
  auto net = test::MakeNet(kSmallNet);
  NetParameter weights;
  net->ToProto(&weights);
  WriteProtoToBinaryFile(weights, dir + "/small.caffemodel");
  Result r = Fcntool("check --model=" + model + " --weights=" + dir + "/small.caffemodel");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Loaded weights from"));
  // A net whose conv has another shape refuses them, naming the layer and both shapes.
  std::string other = kSmallNet;
  other.replace(other.find("num_output: 4"), 13, "num_output: 5");
  const std::string model5 = WriteFile(dir, "small5.prototxt", other);
  r = Fcntool("check --model=" + model5 + " --weights=" + dir + "/small.caffemodel");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("cannot copy parameter 0 of layer \"conv\": shape mismatch"));
  EXPECT_THAT(r.output, HasSubstr("4x3x3x3"));
  EXPECT_THAT(r.output, HasSubstr("5x3x3x3"));
}

TEST(FcntoolTest, BadInputIsAClearErrorWithExitTwo) {
  const std::string dir = test::TempDir();
  struct Case {
    std::string name, text, expected;
  };
  const std::vector<Case> cases = {
      {"malformed.prototxt", "layer {\n  name: \"x\"\n  type: \"Input\"\n  top: \"data\"\n",
       "malformed.prototxt:5:"},
      {"unknown.prototxt",
       "layer { name: \"in\" type: \"Input\" top: \"x\" input_param { shape { dim: 1 } } }\n"
       "layer { name: \"y\" type: \"Sigmoidal\" bottom: \"x\" top: \"y\" }\n",
       "unknown.prototxt:2:1: error: layer \"y\" (Sigmoidal): unknown layer type \"Sigmoidal\""},
      {"bottoms.prototxt",
       "layer { name: \"in\" type: \"Input\" top: \"x\" input_param { shape { dim: 1 dim: 1 dim: 4 "
       "dim: 4 } } }\n"
       "layer { name: \"c\" type: \"Crop\" bottom: \"x\" top: \"y\" }\n",
       "layer \"c\" (Crop): Crop takes 2 bottom blob(s), got 1"},
      {"crop.prototxt",
       "layer { name: \"in\" type: \"Input\" top: \"a\" top: \"b\"\n"
       "        input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } shape { dim: 1 dim: 1 dim: 6 "
       "dim: 6 } } }\n"
       "layer { name: \"c\" type: \"Crop\" bottom: \"a\" bottom: \"b\" top: \"y\" crop_param { "
       "offset: 3 } }\n",
       "crop.prototxt:3:1: error: layer \"c\" (Crop):"},
  };
  for (const Case& c : cases) {
    Result r = Fcntool("check --model=" + WriteFile(dir, c.name, c.text));
    EXPECT_EQ(r.exit_code, 2) << c.name << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.expected)) << c.name;
    EXPECT_THAT(r.output, ::testing::Not(HasSubstr("Check failed"))) << c.name;
  }
  Result r = Fcntool("check --model=" + WriteFile(dir, "unknown2.prototxt", cases[1].text));
  EXPECT_THAT(r.output, HasSubstr("known types: "));
  r = Fcntool("check --model=" + dir + "/does_not_exist.prototxt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("cannot open"));
}

TEST(FcntoolTest, TruncatedOrGarbageWeightsExitTwo) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(dir, "small.prototxt", kSmallNet);
  auto net = test::MakeNet(kSmallNet);
  NetParameter weights;
  net->ToProto(&weights);
  const std::string bytes = weights.SerializeAsString();
  WriteFile(dir, "cut.caffemodel", bytes.substr(0, bytes.size() - 100));
  Result r = Fcntool("check --model=" + model + " --weights=" + dir + "/cut.caffemodel");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr(dir + "/cut.caffemodel: not a valid binary NetParameter"));
  WriteFile(dir, "garbage.caffemodel", std::string(1000, '\xff'));
  r = Fcntool("check --model=" + model + " --weights=" + dir + "/garbage.caffemodel");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr(dir + "/garbage.caffemodel"));
}

}  // namespace
}  // namespace fcn

namespace fcn {
namespace {

TEST(FcntoolTest, CheckReportsDerivedCropOffsetsAndGeometry) {
  Result r = Fcntool("check --model=" + test::SourceDir() + "/models/voc-fcn8s/deploy.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::ContainsRegex("score_pool4c +file 5,5 +derived 5,5 +ok"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("score_pool3c +file 9,9 +derived 9,9 +ok"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("score +file 31,31 +derived 31,31 +ok"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("pool5 +stride 32x32 +field 212x212"));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("score +stride 1x1 .* a=1 b=0"));
}

TEST(FcntoolTest, AlignRepairsWrongOffsetsThatCheckReports) {
  const std::string dir = test::TempDir();
  std::string text = ReadFileToString(test::SourceDir() + "/models/voc-fcn8s/deploy.prototxt");
  text.replace(text.find("offset: 31"), 10, "offset: 34");  // the centred guess, not Caffe's
  text.replace(text.find("offset: 9"), 9, "offset: 0");
  const std::string wrong = WriteFile(dir, "wrong.prototxt", text);
  Result r = Fcntool("check --model=" + wrong);
  EXPECT_THAT(r.output, ::testing::ContainsRegex("score +file 34,34 +derived 31,31 +MISMATCH"));
  EXPECT_THAT(r.output, HasSubstr("fcntool align"));
  r = Fcntool("align --model=" + wrong + " --output=" + dir + "/fixed.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("score: offset 34,34 -> 31,31"));
  EXPECT_THAT(r.output, HasSubstr("score_pool3c: offset 0,0 -> 9,9"));
  const std::string fixed = ReadFileToString(dir + "/fixed.prototxt");
  EXPECT_EQ(fixed, ReadFileToString(test::SourceDir() + "/models/voc-fcn8s/deploy.prototxt"));
  r = Fcntool("check --model=" + dir + "/fixed.prototxt");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("MISMATCH")));
  EXPECT_EQ(Fcntool("align --model=" + wrong).exit_code, 2);  // --output is required
}

TEST(FcntoolTest, CheckDerivesTheReferenceOffsets) {
  const std::string shared = test::SharedDir();
  if (shared.empty()) GTEST_SKIP() << "../shared is absent: skipping the reference nets";
  const std::string ref = shared + "/reference/fcn-models";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"voc-fcn32s/val.prototxt", {"score +file 19,19 +derived 19,19 +ok"}},
      {"voc-fcn16s/val.prototxt",
       {"score_pool4c +file 5,5 +derived 5,5 +ok", "score +file 27,27 +derived 27,27 +ok"}},
      {"voc-fcn-alexnet/val.prototxt", {"score +file 18,18 +derived 18,18 +ok"}},
  };
  for (const auto& [file, patterns] : cases) {
    // The reference train/val nets start with a Python layer: check reports the offsets it
    // derived before refusing to build the net.
    Result r = Fcntool("check --model=" + ref + "/" + file);
    EXPECT_EQ(r.exit_code, 2) << file;
    EXPECT_THAT(r.output, HasSubstr("(Python)")) << file;
    for (const std::string& p : patterns)
      EXPECT_THAT(r.output, ::testing::ContainsRegex(p)) << file;
  }
  Result r = Fcntool("check --model=" + ref + "/voc-fcn8s/deploy.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* p :
       {"score_pool4c +file 5,5 +derived 5,5 +ok", "score_pool3c +file 9,9 +derived 9,9 +ok",
        "score +file 31,31 +derived 31,31 +ok"}) {
    EXPECT_THAT(r.output, ::testing::ContainsRegex(p));
  }
}

}  // namespace
}  // namespace fcn
