// SPDX-License-Identifier: BSD-2-Clause
// Data layer throughput (label `slow`, a benchmark): images per second through the layer for
// 500x375 JPEG records, on one core (the process is pinned to one CPU before the layer
// starts its prefetch thread, which inherits the pinning). Prints the figures and checks
// the target of 50 images/s. Run: ctest --test-dir build -L slow -R DataLayerThroughput -V
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "fcn/lmdb_db.h"
#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

constexpr int kHeight = 375;
constexpr int kWidth = 500;
constexpr int kRecords = 64;

// A photo-like JPEG: smooth gradients, a few discs and some noise (VOC JPEGs are ~100 KB).
std::string PhotoLikeJpeg(int seed, Rng* rng) {
  cv::Mat image(kHeight, kWidth, CV_8UC3);
  for (int y = 0; y < kHeight; ++y) {
    auto* row = image.ptr<std::uint8_t>(y);
    for (int x = 0; x < kWidth; ++x) {
      const int noise = static_cast<int>(rng->NextU32() % 24);
      row[3 * x + 0] = static_cast<std::uint8_t>((x / 2 + seed * 13 + noise) % 256);
      row[3 * x + 1] = static_cast<std::uint8_t>((y / 2 + x / 5 + seed * 7 + noise) % 256);
      row[3 * x + 2] = static_cast<std::uint8_t>((y + seed * 29 + noise) % 256);
    }
  }
  for (int k = 0; k < 6; ++k) {
    const cv::Point centre(static_cast<int>(rng->NextU32() % kWidth),
                           static_cast<int>(rng->NextU32() % kHeight));
    cv::circle(image, centre, 20 + static_cast<int>(rng->NextU32() % 60),
               cv::Scalar(rng->NextU32() % 256, rng->NextU32() % 256, rng->NextU32() % 256),
               cv::FILLED);
  }
  std::vector<std::uint8_t> buf;
  EXPECT_TRUE(cv::imencode(".jpg", image, buf, {cv::IMWRITE_JPEG_QUALITY, 90}));
  return std::string(buf.begin(), buf.end());
}

// Writes a segmentation DB (JPEG data + raw label) and a Caffe DB (JPEG + int label).
void WriteDatabases(const std::string& seg, const std::string& caffe, double* mean_kb) {
  Rng rng(1);
  LmdbWriter seg_writer(seg);
  LmdbWriter caffe_writer(caffe);
  double bytes = 0;
  for (int i = 0; i < kRecords; ++i) {
    Datum image;
    image.set_channels(3);
    image.set_height(kHeight);
    image.set_width(kWidth);
    image.set_encoded(true);
    image.set_data(PhotoLikeJpeg(i, &rng));
    bytes += static_cast<double>(image.data().size());
    Datum label;
    label.set_channels(1);
    label.set_height(kHeight);
    label.set_width(kWidth);
    label.set_data(
        std::string(static_cast<std::size_t>(kHeight * kWidth), static_cast<char>(i % 21)));
    char prefix[16];
    std::snprintf(prefix, sizeof(prefix), "%08d", i);
    seg_writer.Put(StrCat(prefix, "_img", i, "/data"), image.SerializeAsString());
    seg_writer.Put(StrCat(prefix, "_img", i, "/label"), label.SerializeAsString());
    image.set_label(i % 21);
    caffe_writer.Put(StrCat(prefix, "_img", i, ".jpg"), image.SerializeAsString());
  }
  seg_writer.Put("~meta", StrCat(R"({"format": "fcn-seg-1", "count": )", kRecords,
                                 R"(, "fields": ["data", "label"]})"));
  *mean_kb = bytes / kRecords / 1024.0;
}

// Images per second over `n` forwards after a warm-up that fills the prefetch queue.
double ImagesPerSecond(const std::string& text, std::size_t num_tops, int n) {
  auto layer = MakeLayer(text);
  std::vector<std::unique_ptr<Blob>> blobs;
  BlobVec tops;
  for (std::size_t i = 0; i < num_tops; ++i) {
    blobs.push_back(std::make_unique<Blob>());
    tops.push_back(blobs.back().get());
  }
  layer->SetUp({}, tops);
  ExecContext ctx;
  for (int i = 0; i < 8; ++i) layer->Forward(ctx, {}, tops);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) layer->Forward(ctx, {}, tops);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(tops[0]->shape(), (std::vector<std::int64_t>{1, 3, kHeight, kWidth}));
  return n / seconds;
}

TEST(DataLayerThroughput, JpegImagesPerSecondOnOneCore) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &allowed)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);

  const std::string dir = TempDir();
  double mean_kb = 0;
  WriteDatabases(dir + "/seg", dir + "/caffe", &mean_kb);
  const std::string mean = "mean_value: 104.00699 mean_value: 116.66877 mean_value: 122.67892";
  const double seg = ImagesPerSecond(
      StrCat("type: \"Data\" top: \"data\" top: \"label\" data_param { source: \"", dir,
             "/seg\" backend: LMDB batch_size: 1 shuffle: true } transform_param { ", mean, " }"),
      2, 300);
  const double caffe = ImagesPerSecond(
      StrCat("type: \"Data\" top: \"data\" top: \"label\" data_param { source: \"", dir,
             "/caffe\" backend: LMDB batch_size: 1 } transform_param { ", mean, " }"),
      2, 300);
  std::printf("Data layer, %dx%d JPEG records (mean %.0f KB), one core (CPU %d):\n", kWidth,
              kHeight, mean_kb, cpu);
  std::printf("  segmentation DB (data + label, shuffled): %.1f images/s\n", seg);
  std::printf("  Caffe DB (data + int label, sequential):  %.1f images/s\n", caffe);
  EXPECT_GE(seg, 50.0);
  EXPECT_GE(caffe, 50.0);
}

}  // namespace
}  // namespace fcn::test
