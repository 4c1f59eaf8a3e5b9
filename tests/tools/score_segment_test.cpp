// SPDX-License-Identifier: BSD-2-Clause
// fcntool score and fcntool segment end to end, and the metrics line of the training log:
// a tiny net (a 1x1 convolution with identity weights, so the argmax is the brightest input
// channel) over a segmentation LMDB written here, whose confusion matrix is known exactly.
// Also the matrix writers (CSV, PNG heat map) and the palette-indexed label PNG.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "fcn/io.h"
#include "fcn/label_image.h"
#include "fcn/lmdb_db.h"
#include "fcn/metrics.h"
#include "support/test_util.h"
#include "tools/fcntool/confusion_png.h"

namespace fcn::test {
namespace {

using test::WriteFile;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = test::CommandResult;

// Runs fcntool in `cwd`; stdout and stderr together.
Result Fcntool(const std::string& cwd, const std::string& args) {
  return test::RunFcntool(args, cwd);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Two 2x3 samples. Each pixel's brightest channel is its predicted class; pixel (0,0) of
// sample 1 has three equal channels (a tie: class 0, the lowest index).
//   sample 0: truth 0 0 1 / 1 2 255   prediction 0 1 1 / 1 1 2
//   sample 1: truth 0 0 0 / 1 1 255   prediction 0 0 0 / 0 1 0
// Confusion matrix (rows truth): [4 1 0; 1 3 0; 0 1 0], 10 pixels, 2 ignored.
constexpr int kH = 2;
constexpr int kW = 3;
const std::vector<std::vector<int>> kTruth = {{0, 0, 1, 1, 2, 255}, {0, 0, 0, 1, 1, 255}};
const std::vector<std::vector<int>> kPred = {{0, 1, 1, 1, 1, 2}, {-1, 0, 0, 0, 1, 0}};
constexpr double kPixelAcc = 0.7;
constexpr double kMeanAcc = (0.8 + 0.75 + 0.0) / 3;
constexpr double kMeanIu = (4.0 / 6.0 + 0.5 + 0.0) / 3;
constexpr double kFwavacc = 0.5 * (4.0 / 6.0) + 0.4 * 0.5;

Datum RawDatum(int c, const std::vector<std::uint8_t>& chw) {
  Datum d;
  d.set_channels(c);
  d.set_height(kH);
  d.set_width(kW);
  d.set_data(std::string(chw.begin(), chw.end()));
  return d;
}

// The LMDB in the fcn-seg-1 record format (fields data, label).
std::string WriteDb(const std::string& dir) {
  LmdbWriter writer(dir);
  for (std::size_t s = 0; s < kTruth.size(); ++s) {
    std::vector<std::uint8_t> image(3 * kH * kW, 10);
    std::vector<std::uint8_t> label(kH * kW);
    for (int i = 0; i < kH * kW; ++i) {
      const int pred = kPred[s][static_cast<std::size_t>(i)];
      for (int c = 0; c < 3; ++c) {
        if (pred < 0 || c == pred) image[static_cast<std::size_t>(c * kH * kW + i)] = 200;
      }
      label[static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(kTruth[s][static_cast<std::size_t>(i)]);
    }
    char key[64];
    std::snprintf(key, sizeof(key), "%08d_s%d", static_cast<int>(s), static_cast<int>(s));
    writer.Put(StrCat(key, "/data"), RawDatum(3, image).SerializeAsString());
    writer.Put(StrCat(key, "/label"), RawDatum(1, label).SerializeAsString());
  }
  writer.Put("~meta",
             "{\"format\": \"fcn-seg-1\", \"count\": 2, \"fields\": [\"data\", \"label\"], "
             "\"ignore_label\": 255, \"classes\": 3}");
  writer.Commit();
  return dir;
}

std::string NetText(const std::string& db) {
  return StrCat(R"(name: "tiny"
layer { name: "data" type: "Data" top: "data" top: "label"
        data_param { source: ")",
                db, R"(" backend: LMDB batch_size: 1 } }
layer { name: "score" type: "Convolution" bottom: "data" top: "score"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss"
        loss_param { ignore_label: 255 normalize: false } }
)");
}

const char* kDeployNet = R"(name: "tiny"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }
layer { name: "score" type: "Convolution" bottom: "data" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 } }
)";

// score = data (identity 1x1 weights, zero bias).
void WriteIdentityWeights(const std::string& path) {
  NetParameter weights;
  LayerParameter* layer = weights.add_layer();
  layer->set_name("score");
  layer->set_type("Convolution");
  BlobProto* w = layer->add_blobs();
  for (const int d : {3, 3, 1, 1}) w->mutable_shape()->add_dim(d);
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 3; ++i) w->add_data(o == i ? 1.0f : 0.0f);
  }
  BlobProto* b = layer->add_blobs();
  b->mutable_shape()->add_dim(3);
  for (int o = 0; o < 3; ++o) b->add_data(0.0f);
  WriteProtoToBinaryFile(weights, path);
}

// metrics.json without its layout (spaces and line breaks; no name here has a space).
std::string Compact(const std::string& json) {
  std::string out;
  for (const char c : json) {
    if (c != ' ' && c != '\n') out += c;
  }
  return out;
}

class ScoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    WriteDb(dir_ + "/db");
    WriteFile(dir_ + "/val.prototxt", NetText("db"));
    WriteIdentityWeights(dir_ + "/w.caffemodel");
  }
  std::string dir_;
};

TEST_F(ScoreTest, PrintsAndWritesTheHandComputedMetrics) {
  const Result r = Fcntool(dir_,
                           "score --model=val.prototxt --weights=w.caffemodel --output_dir=out "
                           "--class_names=names.txt");
  ASSERT_EQ(r.exit_code, 2) << r.output;  // names.txt does not exist yet
  EXPECT_THAT(r.output, HasSubstr("names.txt: cannot read the class names"));
  WriteFile(dir_ + "/names.txt", "background\nperson # a comment\ncar\n");

  const Result ok = Fcntool(dir_,
                            "score --model=val.prototxt --weights=w.caffemodel --output_dir=out "
                            "--class_names=names.txt");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  // The iteration count comes from the database's ~meta count (2 samples, batch 1).
  EXPECT_THAT(ok.output, HasSubstr("Scored 2 batches"));
  EXPECT_THAT(ok.output, HasSubstr("2/2 (100.0%"));
  EXPECT_THAT(ok.output, HasSubstr("eta 0:00:00"));
  EXPECT_THAT(ok.output, HasSubstr("pixel accuracy  0.7000"));
  EXPECT_THAT(ok.output, HasSubstr("mean accuracy   0.5167"));
  EXPECT_THAT(ok.output, HasSubstr("mean IU         0.3889  (over 3 classes)"));
  EXPECT_THAT(ok.output, HasSubstr("f.w. IU         0.5333"));
  EXPECT_THAT(ok.output, HasSubstr("1 person"));

  EXPECT_EQ(ReadAll(dir_ + "/out/confusion_score.csv"),
            "truth\\predicted,background,person,car\n"
            "background,4,1,0\nperson,1,3,0\ncar,0,1,0\n");
  const cv::Mat png = cv::imread(dir_ + "/out/confusion_score.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  EXPECT_GE(png.cols, 3 * 40);

  const std::string json = Compact(ReadAll(dir_ + "/out/metrics.json"));
  // Numbers in their shortest exact form; pixel counts (int64) as strings, protobuf's mapping.
  EXPECT_THAT(json, HasSubstr("\"pixel_acc\":0.7,"));
  EXPECT_THAT(json, HasSubstr("\"mean_iu\":0.388888888888888"));
  EXPECT_THAT(json, HasSubstr("\"iu\":0.5,\"acc\":0.75,\"truth_pixels\":\"4\""));
  EXPECT_THAT(json, HasSubstr("\"confusion\":[[4,1,0],[1,3,0],[0,1,0]]"));
  EXPECT_THAT(json, HasSubstr("\"name\":\"person\""));
}

TEST_F(ScoreTest, ExtraClassIsUndefinedAndExcludeAbsentDropsIt) {
  const Result r = Fcntool(dir_,
                           "score --model=val.prototxt --weights=w.caffemodel --output_dir=out "
                           "--classes=4 --exclude_absent --iterations=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Class 2 is in the truth (IU 0, counted); class 3 is nowhere (left out).
  EXPECT_THAT(r.output, HasSubstr("mean IU         0.3889  (over 3 classes, absent classes"));
  const std::string json = Compact(ReadAll(dir_ + "/out/metrics.json"));
  EXPECT_THAT(json, HasSubstr("{\"class\":3,\"iu\":null,\"acc\":null"));
  EXPECT_THAT(json, HasSubstr("\"exclude_absent\":true"));
}

TEST_F(ScoreTest, BadInputExitsWithTwo) {
  Result r = Fcntool(dir_, "score --model=val.prototxt --weights=w.caffemodel --label_blobs=sem");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("the net has no blob \"sem\""));
  r = Fcntool(dir_, "score --model=val.prototxt --weights=w.caffemodel --score_blobs=score,data");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("give one label blob per score blob"));
  r = Fcntool(dir_, "score --model=val.prototxt --weights=w.caffemodel --classes=2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--classes=2 is fewer than the 3 channels"));
  // A label blob whose shape differs from the score's (the data blob has 3 channels).
  r = Fcntool(dir_, "score --model=val.prototxt --weights=w.caffemodel --label_blobs=data");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("does not match the score shape"));
}

TEST_F(ScoreTest, TrainingLogShowsTheMetricsAfterCaffesLines) {
  WriteFile(dir_ + "/solver.prototxt", R"(net: "val.prototxt"
test_iter: 2
test_interval: 2
test_initialization: true
base_lr: 0
lr_policy: "fixed"
momentum: 0
max_iter: 2
display: 1
snapshot_after_train: false
solver_mode: CPU
)");
  const Result r = Fcntool(dir_, "train --solver=solver.prototxt --weights=w.caffemodel");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("    Test net output #0: loss = "));
  char expected[200];
  std::snprintf(expected, sizeof(expected),
                "    Test net metrics #0: pixel_acc = %g, mean_acc = %g, mean_iu = %g, "
                "fwavacc = %g (score)",
                kPixelAcc, kMeanAcc, kMeanIu, kFwavacc);
  // Once at iteration 0 (test_initialization) and once after the last iteration.
  std::size_t count = 0;
  for (std::size_t pos = r.output.find(expected); pos != std::string::npos;
       pos = r.output.find(expected, pos + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 2u) << r.output;
  // The metrics come after Caffe's own output lines of the same test.
  EXPECT_LT(r.output.find("Test net output #0"), r.output.find("Test net metrics #0"));
}

// How often `text` occurs in `output`.
std::size_t Occurrences(const std::string& output, const std::string& text) {
  std::size_t count = 0;
  for (std::size_t pos = output.find(text); pos != std::string::npos;
       pos = output.find(text, pos + 1)) {
    ++count;
  }
  return count;
}

TEST_F(ScoreTest, EachPathIsResolvedAndLoggedOnce) {
  // The train and test nets share val.prototxt: it is read, upgraded and resolved once.
  WriteFile(dir_ + "/solver.prototxt", R"(net: "val.prototxt"
test_iter: 1
test_interval: 1
base_lr: 0
lr_policy: "fixed"
max_iter: 1
snapshot_after_train: false
solver_mode: CPU
)");
  const std::string source = "Resolved data_param.source of layer \"data\" \"db\" to db";
  const Result train = Fcntool(dir_, "train --solver=solver.prototxt --weights=w.caffemodel");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_EQ(Occurrences(train.output, "Resolved net \"val.prototxt\" to val.prototxt"), 1u)
      << train.output;
  EXPECT_EQ(Occurrences(train.output, source), 1u) << train.output;
  for (const char* command : {"test", "score"}) {
    const Result r = Fcntool(dir_, StrCat(command, " --model=val.prototxt --weights=w.caffemodel"));
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.output;
    EXPECT_EQ(Occurrences(r.output, source), 1u) << command << ": " << r.output;
  }
}

TEST_F(ScoreTest, SolverWithUnknownMetricBlobIsRefused) {
  WriteFile(dir_ + "/solver.prototxt", R"(net: "val.prototxt"
test_iter: 1
test_interval: 1
base_lr: 0
lr_policy: "fixed"
max_iter: 1
solver_mode: CPU
test_score_blob: "score_sem"
test_label_blob: "sem"
)");
  const Result r = Fcntool(dir_, "train --solver=solver.prototxt");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("test net #0 has no blob \"score_sem\""));
}

TEST(TrainMetricsTest, DefaultBlobsThatAreNotScorableOnlyWarn) {
  // "label" holds 7 for a 3-class score: not a segmentation label of this net. Training goes
  // on with a warning instead of the metrics line.
  const std::string dir = TempDir();
  WriteFile(dir + "/net.prototxt", R"(name: "not_seg"
layer { name: "data" type: "DummyData" top: "data" top: "label" top: "target"
        dummy_data_param { shape { dim: 1 dim: 3 dim: 2 dim: 2 } shape { dim: 1 dim: 1 dim: 2 dim: 2 }
                           shape { dim: 1 dim: 1 dim: 2 dim: 2 }
                           data_filler { type: "constant" value: 1 }
                           data_filler { type: "constant" value: 7 }
                           data_filler { type: "constant" value: 1 } } }
layer { name: "silence" type: "Silence" bottom: "label" }
layer { name: "score" type: "Convolution" bottom: "data" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "target" top: "loss" }
)");
  WriteFile(dir + "/solver.prototxt", R"(net: "net.prototxt"
test_iter: 1
test_interval: 1
base_lr: 0
lr_policy: "fixed"
max_iter: 1
snapshot_after_train: false
solver_mode: CPU
)");
  const Result r = Fcntool(dir, "train --solver=solver.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("No metrics for test net #0 head score: "));
  EXPECT_THAT(r.output, HasSubstr("label value 7 is outside [0, 3)"));
  EXPECT_THAT(r.output, Not(HasSubstr("Test net metrics")));
  EXPECT_THAT(r.output, HasSubstr("Optimization Done."));
}

// ---------------------------------------------------------------------------------------
// segment

TEST(SegmentTest, WritesPaletteLabelsAndOverlays) {
  const std::string dir = TempDir();
  WriteFile(dir + "/deploy.prototxt", kDeployNet);
  WriteIdentityWeights(dir + "/w.caffemodel");
  // A 5x7 BGR image whose brightest channel at (y, x) is (x + y) % 3; a size other than the
  // deploy net's 4x4 input.
  const int h = 5;
  const int w = 7;
  cv::Mat image(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      cv::Vec3b px(20, 30, 40);
      px[(x + y) % 3] = 220;
      image.at<cv::Vec3b>(y, x) = px;
    }
  }
  ASSERT_TRUE(cv::imwrite(dir + "/scene.png", image));

  const Result r = Fcntool(dir,
                           "segment --model=deploy.prototxt --weights=w.caffemodel "
                           "--mean_value=0 --output_dir=seg scene.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("scene.png: 7x5"));

  // A palette-indexed PNG: IHDR colour type 3 (byte 25 of the file).
  const std::string bytes = ReadAll(dir + "/seg/scene_label.png");
  ASSERT_GT(bytes.size(), 26u);
  EXPECT_EQ(static_cast<int>(bytes[25]), 3);
  const cv::Mat label = cv::imread(dir + "/seg/scene_label.png", cv::IMREAD_COLOR);
  const cv::Mat overlay = cv::imread(dir + "/seg/scene_overlay.png", cv::IMREAD_COLOR);
  ASSERT_EQ(label.rows, h);
  ASSERT_EQ(label.cols, w);
  ASSERT_EQ(overlay.size(), label.size());
  // VOC colours (RGB): 0 black, 1 (128,0,0), 2 (0,128,0); OpenCV gives BGR.
  const cv::Vec3b voc_bgr[3] = {{0, 0, 0}, {0, 0, 128}, {0, 128, 0}};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int k = (x + y) % 3;
      EXPECT_EQ(label.at<cv::Vec3b>(y, x), voc_bgr[k]) << y << "," << x;
      for (int c = 0; c < 3; ++c) {
        const double blended = 0.5 * image.at<cv::Vec3b>(y, x)[c] + 0.5 * voc_bgr[k][c];
        EXPECT_NEAR(overlay.at<cv::Vec3b>(y, x)[c], blended, 0.5) << y << "," << x;
      }
    }
  }
}

TEST(SegmentTest, CustomPaletteAndErrors) {
  const std::string dir = TempDir();
  WriteFile(dir + "/deploy.prototxt", kDeployNet);
  WriteIdentityWeights(dir + "/w.caffemodel");
  cv::Mat image(3, 2, CV_8UC3, cv::Scalar(0, 0, 255));  // red is brightest: class 2
  ASSERT_TRUE(cv::imwrite(dir + "/red.png", image));
  WriteFile(dir + "/palette.txt", "1 2 3\n4,5,6\n# class 2\n7 8 9\n");
  Result r = Fcntool(dir,
                     "segment --model=deploy.prototxt --weights=w.caffemodel --mean_value=0 "
                     "--palette=palette.txt red.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const cv::Mat label = cv::imread(dir + "/red_label.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(label.empty());
  EXPECT_EQ(label.at<cv::Vec3b>(1, 1), cv::Vec3b(9, 8, 7));

  r = Fcntool(dir, "segment --model=deploy.prototxt --weights=w.caffemodel");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("no images given"));
  r = Fcntool(dir, "segment --model=deploy.prototxt --weights=w.caffemodel missing.jpg");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("missing.jpg: cannot read the image"));
  WriteFile(dir + "/short.txt", "1 2 3\n");
  r = Fcntool(dir,
              "segment --model=deploy.prototxt --weights=w.caffemodel --palette=short.txt red.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("has 1 colours for the 3 classes"));
  WriteFile(dir + "/bad.txt", "1 2 300\n");
  r = Fcntool(dir,
              "segment --model=deploy.prototxt --weights=w.caffemodel --palette=bad.txt red.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("bad.txt:1: \"300\" is not a colour value"));
  // Other commands still refuse positional arguments.
  r = Fcntool(dir, "check --model=deploy.prototxt red.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("unexpected argument 'red.png'"));
}

// Two inputs, as NYUD's colour + depth/HHA nets: score = colour (identity) + depth on class 2.
const char* kTwoInputNet = R"(name: "two"
layer { name: "input" type: "Input" top: "color" top: "depth"
        input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
layer { name: "cat" type: "Concat" bottom: "color" bottom: "depth" top: "cat" }
layer { name: "score" type: "Convolution" bottom: "cat" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 } }
)";

void WriteTwoInputWeights(const std::string& path) {
  NetParameter weights;
  LayerParameter* layer = weights.add_layer();
  layer->set_name("score");
  layer->set_type("Convolution");
  BlobProto* w = layer->add_blobs();
  for (const int d : {3, 4, 1, 1}) w->mutable_shape()->add_dim(d);
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 4; ++i) w->add_data(o == i || (o == 2 && i == 3) ? 1.0f : 0.0f);
  }
  BlobProto* b = layer->add_blobs();
  b->mutable_shape()->add_dim(3);
  for (int o = 0; o < 3; ++o) b->add_data(0.0f);
  WriteProtoToBinaryFile(weights, path);
}

TEST(SegmentTest, FeedsEveryInputWithItsOwnTransform) {
  const std::string dir = TempDir();
  WriteFile(dir + "/deploy.prototxt", kTwoInputNet);
  WriteTwoInputWeights(dir + "/w.caffemodel");
  // Colour (BGR) 1x3: class 0, 1, 0 by colour alone. Depth (16-bit): 0, 5, 1000. With
  // --log_inputs=depth, mean 3 and scale 100 the depth term is 0 (no reading), (ln 5 - 3) * 100
  // = -139 and (ln 1000 - 3) * 100 = 391: classes 0, 1, 2. Without the log, pixel 1 would get
  // (5 - 3) * 100 = 200 and class 2.
  cv::Mat colour(1, 3, CV_8UC3);
  colour.at<cv::Vec3b>(0, 0) = cv::Vec3b(100, 90, 0);
  colour.at<cv::Vec3b>(0, 1) = cv::Vec3b(90, 100, 0);
  colour.at<cv::Vec3b>(0, 2) = cv::Vec3b(100, 90, 0);
  cv::Mat depth(1, 3, CV_16UC1);
  depth.at<std::uint16_t>(0, 0) = 0;
  depth.at<std::uint16_t>(0, 1) = 5;
  depth.at<std::uint16_t>(0, 2) = 1000;
  ASSERT_TRUE(cv::imwrite(dir + "/c.png", colour));
  ASSERT_TRUE(cv::imwrite(dir + "/d.png", depth));
  ASSERT_TRUE(cv::imwrite(dir + "/small.png", cv::Mat(1, 2, CV_16UC1, cv::Scalar(1))));

  const auto labels = [&](const std::string& stem) {
    // OpenCV expands the palette: VOC colours 0 black, 1 (128,0,0), 2 (0,128,0) as BGR.
    const cv::Mat label = cv::imread(dir + "/" + stem + "_label.png", cv::IMREAD_COLOR);
    std::vector<int> classes;
    for (int x = 0; x < label.cols; ++x) {
      const cv::Vec3b bgr = label.at<cv::Vec3b>(0, x);
      classes.push_back(bgr == cv::Vec3b(0, 0, 0)     ? 0
                        : bgr == cv::Vec3b(0, 0, 128) ? 1
                        : bgr == cv::Vec3b(0, 128, 0) ? 2
                                                      : -1);
    }
    return classes;
  };
  Result r = Fcntool(dir,
                     "segment --model=deploy.prototxt --weights=w.caffemodel "
                     "--mean_value=0:3 --scale=1:100 --log_inputs=depth c.png,d.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("c.png: 3x1"));
  EXPECT_EQ(labels("c"), (std::vector<int>{0, 1, 2}));

  // The files follow --input_blobs' order; the outputs are named after the first file.
  r = Fcntool(dir,
              "segment --model=deploy.prototxt --weights=w.caffemodel --input_blobs=depth,color "
              "--mean_value=3:0 --scale=100:1 --log_inputs=depth d.png,c.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(labels("d"), (std::vector<int>{0, 1, 2}));

  // Without the log transform pixel 1 goes to class 2.
  r = Fcntool(dir,
              "segment --model=deploy.prototxt --weights=w.caffemodel "
              "--mean_value=0:3 --scale=1:100 c.png,d.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(labels("c"), (std::vector<int>{0, 2, 2}));

  // --rgb_inputs: the colour input gets the file's R,G,B order (depth term off, scale 0).
  r = Fcntool(dir,
              "segment --model=deploy.prototxt --weights=w.caffemodel "
              "--mean_value=0:0 --scale=1:0 --rgb_inputs=color c.png,d.png");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(labels("c"), (std::vector<int>{2, 1, 2}));

  const std::string base = "segment --model=deploy.prototxt --weights=w.caffemodel ";
  r = Fcntool(dir, base + "c.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("c.png: 1 file(s) for the 2 inputs fed"));
  r = Fcntool(dir, base + "c.png,small.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("small.png: 2x1, but c.png is 3x1"));
  r = Fcntool(dir, base + "--mean_value=0:1:2 c.png,d.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("3 ':'-separated groups for the 2 inputs fed"));
  r = Fcntool(dir, base + "--mean_value=1,2 c.png,d.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("2 values for the 3 channel(s) of input \"color\""));
  r = Fcntool(dir, base + "--input_blobs=color,nir c.png,d.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("\"nir\" is not an input of deploy.prototxt (its inputs: "
                                  "color, depth)"));
  r = Fcntool(dir, base + "--input_blobs=color --log_inputs=depth c.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--log_inputs: \"depth\" is not an input fed"));
  r = Fcntool(dir, base + "--rgb_inputs=depth c.png,d.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--rgb_inputs: \"depth\" has 1 channel(s), not 3"));
  r = Fcntool(dir, base + "--scale=x c.png,d.png");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--scale=x: \"x\" is not a number"));
}

// ---------------------------------------------------------------------------------------
// The writers on their own.

TEST(LabelImageTest, VocPaletteMatchesTheReferenceTable) {
  const std::vector<Rgb> p = VocPalette(256);
  EXPECT_EQ(p[0], (Rgb{0, 0, 0}));
  EXPECT_EQ(p[1], (Rgb{128, 0, 0}));
  EXPECT_EQ(p[7], (Rgb{128, 128, 128}));
  EXPECT_EQ(p[8], (Rgb{64, 0, 0}));
  EXPECT_EQ(p[15], (Rgb{192, 128, 128}));
  EXPECT_EQ(p[20], (Rgb{0, 64, 128}));
  EXPECT_EQ(p[255], (Rgb{224, 224, 192}));
}

TEST(LabelImageTest, IndexedPngKeepsTheIndices) {
  const std::string path = TempDir() + "/l.png";
  const std::vector<std::uint8_t> indices = {0, 1, 2, 255, 20, 15};
  WriteIndexedPng(path, indices, 2, 3, VocPalette(256));
  // OpenCV expands the palette; every pixel has its class colour (BGR).
  const cv::Mat colour = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_EQ(colour.rows, 2);
  ASSERT_EQ(colour.cols, 3);
  const std::vector<Rgb> voc = VocPalette(256);
  for (int i = 0; i < 6; ++i) {
    const Rgb& c = voc[indices[static_cast<std::size_t>(i)]];
    EXPECT_EQ(colour.at<cv::Vec3b>(i / 3, i % 3), cv::Vec3b(c.b, c.g, c.r)) << i;
  }
}

TEST(MatrixWritersTest, CsvAndHeatMap) {
  ConfusionMatrix m(3, 255);
  Blob score({1, 3, 1, 2});
  const std::vector<float> s = {1, 0, 0, 1, 0, 0};  // predictions 0, 1
  std::copy(s.begin(), s.end(), score.mutable_cpu_data());
  Blob label({1, 1, 1, 2});
  label.mutable_cpu_data()[0] = 0;
  label.mutable_cpu_data()[1] = 0;
  m.Accumulate(score, label);
  const std::string dir = TempDir();
  WriteConfusionCsv(m, dir + "/m.csv");
  EXPECT_EQ(ReadAll(dir + "/m.csv"), "truth\\predicted,0,1,2\n0,1,1,0\n1,0,0,0\n2,0,0,0\n");
  WriteConfusionCsv(m, dir + "/n.csv", {"a,b", "c", "d"});
  EXPECT_THAT(ReadAll(dir + "/n.csv"), HasSubstr("\"a,b\",1,1,0\n"));
  EXPECT_THAT(ConfigErrorOf([&] { WriteConfusionCsv(m, dir + "/x.csv", {"a"}); }),
              HasSubstr("1 class names for a matrix of 3 classes"));

  WriteConfusionPng(m, dir + "/m.png", {"background", "aeroplane", "bicycle"});
  const cv::Mat png = cv::imread(dir + "/m.png", cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  // 3 classes: 40-pixel cells, so the matrix is 120 pixels square plus the labels.
  EXPECT_GT(png.rows, 120);
  EXPECT_GT(png.cols, 120);
  // Row 0 is half/half: both cells have the viridis colour of 0.5; the empty rows are grey.
  const int margin = png.rows - 120 - 8;
  const cv::Vec3b cell00 = png.at<cv::Vec3b>(margin + 20, margin + 20);
  const cv::Vec3b cell01 = png.at<cv::Vec3b>(margin + 20, margin + 60);
  EXPECT_EQ(cell00, cell01);
  EXPECT_EQ(png.at<cv::Vec3b>(margin + 60, margin + 20), cv::Vec3b(224, 224, 224));
  EXPECT_THROW(WriteConfusionPng(m, "/nonexistent-dir/m.png"), RuntimeError);
}

}  // namespace
}  // namespace fcn::test
