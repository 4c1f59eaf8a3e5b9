// SPDX-License-Identifier: BSD-2-Clause
// A second implementation reads fcn's weights: a small FCN-like net (Convolution, ReLU,
// Pooling, a bilinear Deconvolution, Crop, an Eltwise SUM skip) trained by `fcntool train`,
// then loaded from its deploy prototxt and snapshot by OpenCV's dnn module (its Caffe
// importer), which must compute what fcn computes.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <opencv2/dnn.hpp>

#include "fcn/io.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;

// The layers shared by the train and deploy nets: a coarse path (pool, conv2, score) upsampled
// 2x by a per-channel bilinear deconvolution, cropped onto a fine score and summed.
const char* kBody = R"(
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1
                            weight_filler { type: "gaussian" std: 0.3 }
                            bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2"
        convolution_param { num_output: 8 kernel_size: 3 pad: 1
                            weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "score" type: "Convolution" bottom: "conv2" top: "score"
        convolution_param { num_output: 3 kernel_size: 1
                            weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "upscore" type: "Deconvolution" bottom: "score" top: "upscore"
        param { lr_mult: 0 }
        convolution_param { num_output: 3 group: 3 kernel_size: 4 stride: 2 bias_term: false
                            weight_filler { type: "bilinear" } } }
layer { name: "score_fine" type: "Convolution" bottom: "conv1" top: "score_fine"
        convolution_param { num_output: 3 kernel_size: 1
                            weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "crop" type: "Crop" bottom: "upscore" bottom: "score_fine" top: "upscore_c"
        crop_param { axis: 2 offset: 1 } }
layer { name: "fuse" type: "Eltwise" bottom: "upscore_c" bottom: "score_fine" top: "fuse"
        eltwise_param { operation: SUM } }
)";

std::string TrainNet() {
  return StrCat(
      R"(name: "tiny_fcn"
layer { name: "data" type: "DummyData" top: "data"
        dummy_data_param { shape { dim: 2 dim: 3 dim: 16 dim: 16 }
                           data_filler { type: "gaussian" std: 1 } } }
layer { name: "label" type: "DummyData" top: "label"
        dummy_data_param { shape { dim: 2 dim: 1 dim: 16 dim: 16 }
                           data_filler { type: "constant" value: 2 } } }
)",
      kBody,
      R"(layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fuse" bottom: "label" top: "loss" }
)");
}

std::string DeployNet() {
  return StrCat(R"(name: "tiny_fcn"
layer { name: "input" type: "Input" top: "data"
        input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
)",
                kBody);
}

TEST(OpenCvInteropTest, OpenCvDnnComputesWhatFcnComputesWithFcnTrainedWeights) {
  const std::string dir = test::TempDir();
  std::ofstream(dir + "/train.prototxt") << TrainNet();
  std::ofstream(dir + "/deploy.prototxt") << DeployNet();
  std::ofstream(dir + "/solver.prototxt") << R"(net: "train.prototxt"
base_lr: 0.05
lr_policy: "fixed"
momentum: 0.9
weight_decay: 0.0005
max_iter: 6
display: 1
snapshot: 6
snapshot_prefix: "tiny"
random_seed: 17
)";
  const std::string command =
      StrCat("cd '", dir, "' && ", FCNTOOL_PATH, " train --solver=solver.prototxt 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string log;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) log.append(buf, n);
  ASSERT_EQ(pclose(pipe), 0) << log;
  const std::string weights = dir + "/tiny_iter_6.caffemodel";
  ASSERT_TRUE(fs::exists(weights)) << log;
  // OpenCV's importer refuses pooling round_mode; fcn writes it only when the net sets it.
  const NetParameter trained = ReadNetParamFromBinaryFile(weights);
  for (const LayerParameter& l : trained.layer()) {
    EXPECT_FALSE(l.pooling_param().has_round_mode()) << l.name();
  }

  auto ours = Net::FromFile(dir + "/deploy.prototxt", NetStateOptions{});
  ours->CopyTrainedLayersFromFile(weights);
  const auto image = test::GaussianBlob({1, 3, 16, 16}, 23);
  ours->input_blobs()[0]->CopyFrom(*image);
  ours->Forward();
  const Blob& fuse = *ours->blob_by_name("fuse");
  ASSERT_EQ(fuse.shape(), (std::vector<std::int64_t>{1, 3, 16, 16}));
  const std::vector<float> want = test::Data(fuse);

  cv::dnn::Net theirs = cv::dnn::readNetFromCaffe(dir + "/deploy.prototxt", weights);
  ASSERT_FALSE(theirs.empty());
  theirs.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  theirs.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  const int dims[4] = {1, 3, 16, 16};
  cv::Mat input(4, dims, CV_32F);
  std::copy(image->cpu_data(), image->cpu_data() + image->count(), input.ptr<float>());
  theirs.setInput(input, "data");
  for (const char* blob : {"score", "upscore", "fuse"}) {
    const cv::Mat out = theirs.forward(blob);
    const Blob& mine = *ours->blob_by_name(blob);
    ASSERT_EQ(static_cast<std::int64_t>(out.total()), mine.count()) << blob;
    const std::vector<float> got(out.ptr<float>(), out.ptr<float>() + out.total());
    EXPECT_TRUE(test::AllNear(got, test::Data(mine), 1e-5f, 1e-4f)) << blob;
  }
  float largest = 0;
  for (float v : want) largest = std::max(largest, std::fabs(v));
  EXPECT_GT(largest, 0.1f);
}

}  // namespace
}  // namespace fcn
