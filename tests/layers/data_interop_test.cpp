// SPDX-License-Identifier: BSD-2-Clause
// The Data layer reads what data_scripts/convert_camvid.py writes: a tiny CamVid-layout
// dataset (a JPEG and a PNG image, grayscale label PNGs) is converted by the script, and the
// layer's tops must equal OpenCV's BGR decode of the image files minus the mean, and the
// label files' values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace fcn::test {
namespace {

// CHW floats of an image file read by OpenCV (BGR for colour), minus a per-channel mean.
std::vector<float> ReadChw(const std::string& path, int flag, const std::vector<float>& mean) {
  const cv::Mat img = cv::imread(path, flag);
  EXPECT_FALSE(img.empty()) << path;
  std::vector<float> out;
  for (int c = 0; c < img.channels(); ++c) {
    for (int y = 0; y < img.rows; ++y) {
      for (int x = 0; x < img.cols; ++x) {
        out.push_back(img.ptr<std::uint8_t>(y)[x * img.channels() + c] -
                      mean[static_cast<std::size_t>(c)]);
      }
    }
  }
  return out;
}

// A colour test picture (BGR in memory) with distinct channels.
cv::Mat Picture(int h, int w, int seed) {
  cv::Mat img(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<std::uint8_t>((x * 9 + seed) % 256),
                                          static_cast<std::uint8_t>((y * 11 + 40) % 256),
                                          static_cast<std::uint8_t>((x * y + 200) % 256));
    }
  }
  return img;
}

cv::Mat LabelMap(int h, int w, int seed) {
  cv::Mat label(h, w, CV_8UC1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x)
      label.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>((x + y + seed) % 12);
  }
  return label;
}

TEST(DataLayerInterop, ReadsWhatConvertCamvidWrites) {
  const std::string script = SourceDir() + "/data_scripts/convert_camvid.py";
  if (!std::filesystem::exists(script)) GTEST_SKIP() << "no " << script;
  const std::string root = TempDir();
  std::filesystem::create_directories(root + "/images");
  std::filesystem::create_directories(root + "/labels");
  ASSERT_TRUE(cv::imwrite(root + "/images/a.jpg", Picture(12, 16, 1)));
  ASSERT_TRUE(cv::imwrite(root + "/images/b.png", Picture(10, 7, 2)));
  ASSERT_TRUE(cv::imwrite(root + "/labels/a.png", LabelMap(12, 16, 0)));
  ASSERT_TRUE(cv::imwrite(root + "/labels/b.png", LabelMap(10, 7, 5)));
  std::ofstream(root + "/train.txt") << "images/a.jpg labels/a.png\nimages/b.png labels/b.png\n";
  const std::string db = root + "/db";
  const std::string command = StrCat(FCN_PYTHON, " ", script, " --root ", root,
                                     " --split train --out ", db, " > ", root, "/log.txt 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  auto layer =
      MakeLayer(StrCat("type: \"Data\" top: \"data\" top: \"label\" data_param { source: \"", db,
                       "\" backend: LMDB batch_size: 1 } transform_param { mean_value: 104.00699 "
                       "mean_value: 116.66877 mean_value: 122.67892 }"));
  Blob data;
  Blob label;
  const BlobVec tops = {&data, &label};
  layer->SetUp({}, tops);
  ExecContext ctx;
  const std::vector<float> mean = {104.00699f, 116.66877f, 122.67892f};
  for (const std::string name : {"a", "b", "a"}) {
    layer->Forward(ctx, {}, tops);
    const std::string image = root + "/images/" + name + (name == "a" ? ".jpg" : ".png");
    EXPECT_TRUE(AllNear(Data(data), ReadChw(image, cv::IMREAD_COLOR, mean), 1e-4f)) << image;
    EXPECT_EQ(Data(label), ReadChw(root + "/labels/" + name + ".png", cv::IMREAD_GRAYSCALE, {0}));
  }
}

}  // namespace
}  // namespace fcn::test
