// SPDX-License-Identifier: BSD-2-Clause
// The original FCN prototxts and real Caffe weight files in ../shared: they parse, build at
// 500x500 with the crop offsets they state, and load by layer name. Skips without ../shared.
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "fcn/coord_map.h"
#include "fcn/io.h"
#include "fcn/net.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReferenceDir() {
  const std::string shared = test::SharedDir();
  return shared.empty() ? "" : shared + "/reference/fcn-models";
}

#define REQUIRE_SHARED()                                                                     \
  do {                                                                                       \
    if (ReferenceDir().empty() || !fs::is_directory(ReferenceDir()))                         \
      GTEST_SKIP() << "../shared is absent (set FCN_SHARED_DIR): skipping a real-data test"; \
  } while (0)

// Replaces the Python data layer by an Input layer with the same tops (data 1x3xHxW and
// label(s) 1x1xHxW), keeping every other layer and its location.
NetParameter WithInputLayers(NetParameter param, int height, int width) {
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (layer.type() != "Python") continue;
    LayerParameter input;
    input.set_name(layer.name());
    input.set_type("Input");
    for (const std::string& top : layer.top()) {
      input.add_top(top);
      BlobShape* shape = input.mutable_input_param()->add_shape();
      const bool image = top == "data" || top == "color" || top == "hha" || top == "depth";
      const std::int64_t channels = image && top != "depth" ? 3 : 1;
      for (std::int64_t d :
           {std::int64_t{1}, channels, std::int64_t{height}, std::int64_t{width}}) {
        shape->add_dim(d);
      }
    }
    layer = input;
  }
  return param;
}

TEST(ReferenceModelsTest, EveryReferencePrototxtParses) {
  REQUIRE_SHARED();
  int nets = 0, solvers = 0;
  for (const auto& entry : fs::recursive_directory_iterator(ReferenceDir())) {
    if (entry.path().extension() != ".prototxt") continue;
    const std::string path = entry.path().string();
    if (entry.path().filename() == "solver.prototxt") {
      EXPECT_NO_THROW(ReadSolverParamFromTextFile(path)) << path;
      ++solvers;
    } else {
      EXPECT_NO_THROW(ReadNetParamFromTextFile(path)) << path;
      ++nets;
    }
  }
  EXPECT_GE(nets, 30);
  EXPECT_GE(solvers, 14);
}

struct Expected {
  std::string model;
  std::map<std::string, int> crop_offsets;
};

class ReferenceNetTest : public ::testing::TestWithParam<Expected> {};

TEST_P(ReferenceNetTest, TrainAndValNetsBuildAt500WithTheirOffsets) {
  REQUIRE_SHARED();
  const Expected& expected = GetParam();
  for (const char* file : {"train.prototxt", "val.prototxt", "deploy.prototxt"}) {
    const std::string path = ReferenceDir() + "/" + expected.model + "/" + file;
    if (!fs::exists(path)) continue;
    SCOPED_TRACE(path);
    NetSource source;
    NetParameter param = WithInputLayers(ReadNetParamFromTextFile(path, &source), 500, 500);
    Net::SetState(NetStateOptions{std::string(file) == "train.prototxt" ? TRAIN : TEST, 0, {}},
                  &param);
    Net net(param, &source);
    ASSERT_TRUE(net.has_blob("score"));
    EXPECT_EQ(net.blob_by_name("score")->shape(), (std::vector<std::int64_t>{1, 21, 500, 500}));
    for (const auto& [crop, offset] : expected.crop_offsets) {
      const int i = net.layer_index(crop);
      ASSERT_GE(i, 0) << crop;
      const CropParameter& cp = net.param().layer(i).crop_param();
      ASSERT_EQ(cp.offset_size(), 1) << crop;
      EXPECT_EQ(static_cast<int>(cp.offset(0)), offset) << crop;
    }
    // Reshape to another whole-image size: every crop stays in bounds.
    net.input_blobs()[0]->Reshape({1, 3, 375, 333});
    if (net.input_blobs().size() > 1) net.input_blobs()[1]->Reshape({1, 1, 375, 333});
    net.Reshape();
    EXPECT_EQ(net.blob_by_name("score")->shape(), (std::vector<std::int64_t>{1, 21, 375, 333}));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Voc, ReferenceNetTest,
    ::testing::Values(Expected{"voc-fcn32s", {{"score", 19}}},
                      Expected{"voc-fcn16s", {{"score_pool4c", 5}, {"score", 27}}},
                      Expected{"voc-fcn8s",
                               {{"score_pool4c", 5}, {"score_pool3c", 9}, {"score", 31}}}),
    [](const ::testing::TestParamInfo<Expected>& param_info) {
      std::string name = param_info.param.model;
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

// Every official net, data layers swapped for Input layers, builds at its dataset's image
// size, and every Crop offset it states equals the one derived from the coordinate maps.
class EveryReferenceNetTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryReferenceNetTest, BuildsAtItsDatasetSizeWithDerivedOffsets) {
  REQUIRE_SHARED();
  const std::string model = GetParam();
  const fs::path dir = fs::path(ReferenceDir()) / model;
  // NYUDv2 images are 425x560, SIFT Flow 256x256, PASCAL VOC / Context at most 500x500.
  const int height = model.rfind("nyud", 0) == 0       ? 425
                     : model.rfind("siftflow", 0) == 0 ? 256
                                                       : 500;
  const int width = model.rfind("nyud", 0) == 0 ? 560 : height;
  int built = 0;
  for (const auto& file : fs::directory_iterator(dir)) {
    const std::string name = file.path().filename().string();
    if (file.path().extension() != ".prototxt" || name == "solver.prototxt") continue;
    SCOPED_TRACE(file.path().string());
    NetSource source;
    NetParameter param =
        WithInputLayers(ReadNetParamFromTextFile(file.path().string(), &source), height, width);
    const bool train = name.find("train") != std::string::npos;
    Net::SetState(NetStateOptions{train ? TRAIN : TEST, 0, {}}, &param);
    std::unique_ptr<Net> net;
    ASSERT_NO_THROW(net = std::make_unique<Net>(param, &source));
    ++built;
    const CoordMapAnalysis analysis(net->param());
    EXPECT_FALSE(analysis.crops().empty());
    for (const CropDerivation& d : analysis.crops()) {
      EXPECT_TRUE(d.matches()) << d.layer << ": " << d.problem;
    }
    // Every score map comes out at the input size.
    for (Blob* out : net->output_blobs()) {
      if (out->num_axes() == 4) {
        EXPECT_EQ(out->shape(2), height);
        EXPECT_EQ(out->shape(3), width);
      }
    }
  }
  EXPECT_GE(built, 2);
}

INSTANTIATE_TEST_SUITE_P(Fcn, EveryReferenceNetTest,
                         ::testing::Values("nyud-fcn32s-color", "nyud-fcn32s-color-d",
                                           "nyud-fcn32s-color-hha", "nyud-fcn32s-hha",
                                           "pascalcontext-fcn16s", "pascalcontext-fcn32s",
                                           "pascalcontext-fcn8s", "siftflow-fcn16s",
                                           "siftflow-fcn32s", "siftflow-fcn8s", "voc-fcn-alexnet",
                                           "voc-fcn16s", "voc-fcn32s", "voc-fcn8s",
                                           "voc-fcn8s-atonce"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(ReferenceModelsTest, PythonDataLayerIsALocatedErrorPointingToData) {
  REQUIRE_SHARED();
  const std::string path = ReferenceDir() + "/voc-fcn8s/train.prototxt";
  const std::string msg = test::ConfigErrorOf([&] {
    Net::FromFile(path, NetStateOptions{TRAIN, 0, {}});
  });
  EXPECT_THAT(msg, HasSubstr(path + ":1:1: error: layer \"data\" (Python)"));
  EXPECT_THAT(msg, HasSubstr("type: \"Data\""));
}

// Each blob of `net` equals the file's blob for the same layer.
void ExpectWeightsEqualFile(const Net& net, const NetParameter& weights) {
  int compared = 0;
  for (const LayerParameter& source : weights.layer()) {
    const Layer* layer = net.layer_by_name(source.name());
    if (layer == nullptr) continue;
    ASSERT_EQ(static_cast<int>(layer->blobs().size()), source.blobs_size()) << source.name();
    for (int j = 0; j < source.blobs_size(); ++j) {
      Blob expected;
      expected.FromProto(source.blobs(j));
      EXPECT_EQ(test::Data(*layer->blobs()[static_cast<std::size_t>(j)]), test::Data(expected))
          << source.name() << " blob " << j;
      ++compared;
    }
  }
  EXPECT_GT(compared, 0);
}

TEST(ReferenceModelsTest, LeNetAndCifar10FullLoadIntoTheirPrototxts) {
  REQUIRE_SHARED();
  const std::string dir = test::SharedDir() + "/data/caffemodels";
  auto lenet = Net::FromFile(dir + "/lenet-mnist/lenet.prototxt", NetStateOptions{TEST, 0, {}});
  lenet->CopyTrainedLayersFromFile(dir + "/lenet-mnist/lenet_iter_10000.caffemodel");
  ExpectWeightsEqualFile(
      *lenet, ReadNetParamFromBinaryFile(dir + "/lenet-mnist/lenet_iter_10000.caffemodel"));
  lenet->Forward();
  EXPECT_EQ(lenet->output_blobs()[0]->count(1), 10);

  // CIFAR-10 full deploy: legacy input_dim net inputs and LRN layers.
  auto cifar =
      Net::FromFile(dir + "/cifar10-full/cifar10_full.prototxt", NetStateOptions{TEST, 0, {}});
  EXPECT_EQ(cifar->layer_names()[0], "input");
  const std::string weights = dir + "/cifar10-full/cifar10_full_iter_70000.caffemodel";
  cifar->CopyTrainedLayersFromFile(weights);
  ExpectWeightsEqualFile(*cifar, ReadNetParamFromBinaryFile(weights));
  cifar->Forward();
}

TEST(ReferenceModelsTest, V1Cifar10QuickClassifiesItsExampleImages) {
  REQUIRE_SHARED();
  const std::string dir = test::SharedDir() + "/data/caffemodels/cifar10-quick-v1";
  auto net = Net::FromFile(dir + "/cifar10_quick_deploy.prototxt", NetStateOptions{TEST, 0, {}});
  const std::string weights = dir + "/cifar10_quick_iter_5000.caffemodel";
  net->CopyTrainedLayersFromFile(weights);
  ExpectWeightsEqualFile(*net, ReadNetParamFromBinaryFile(weights));
  const std::vector<std::pair<std::string, int>> images = {
      {"cat10.png", 3}, {"dog10.png", 5}, {"truck10.png", 9}};
  for (const auto& [file, expected_class] : images) {
    const cv::Mat bgr = cv::imread(dir + "/" + file, cv::IMREAD_COLOR);
    ASSERT_FALSE(bgr.empty()) << file;
    ASSERT_EQ(bgr.rows, 32);
    ASSERT_EQ(bgr.cols, 32);
    Blob* input = net->input_blobs()[0];
    float* x = input->mutable_cpu_data();
    // BGR pixels minus 128 (the mean file of this model is lost), CHW.
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < 32; ++y) {
        for (int w = 0; w < 32; ++w) x[(c * 32 + y) * 32 + w] = bgr.at<cv::Vec3b>(y, w)[c] - 128.0f;
      }
    }
    net->Forward();
    const Blob& prob = *net->blob_by_name("prob");
    const float* p = prob.cpu_data();
    const int best = static_cast<int>(std::max_element(p, p + 10) - p);
    EXPECT_EQ(best, expected_class) << file;
  }
}

TEST(ReferenceModelsTest, CaffeWrittenWeightsLoadByName) {
  REQUIRE_SHARED();
  const std::string dir = test::SharedDir() + "/data/caffemodels";
  // LeNet (current format): load conv1/conv2 into the convolutional part of the net.
  NetParameter weights =
      ReadNetParamFromBinaryFile(dir + "/lenet-mnist/lenet_iter_10000.caffemodel");
  auto net = test::MakeNet(R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 28 dim: 28 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 20 kernel_size: 5 } }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2" convolution_param { num_output: 50 kernel_size: 5 } }
  )");
  std::vector<std::string> ignored;
  net->CopyTrainedLayersFrom(weights, "lenet", &ignored);
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "ip1"), ignored.end());
  const LayerParameter* conv1 = nullptr;
  for (const LayerParameter& l : weights.layer()) {
    if (l.name() == "conv1") conv1 = &l;
  }
  ASSERT_NE(conv1, nullptr);
  const Blob& w = *net->layer_by_name("conv1")->blobs()[0];
  EXPECT_EQ(w.count(), 500);
  for (int i = 0; i < 500; i += 37) EXPECT_EQ(w.cpu_data()[i], conv1->blobs(0).data(i));
  net->Forward();
  EXPECT_EQ(net->blob_by_name("conv2")->shape(), (std::vector<std::int64_t>{1, 50, 8, 8}));

  // CIFAR-10 quick, V1 format: upgraded, conv layers load.
  NetParameter v1 =
      ReadNetParamFromBinaryFile(dir + "/cifar10-quick-v1/cifar10_quick_iter_5000.caffemodel");
  ASSERT_GT(v1.layer_size(), 0);
  EXPECT_EQ(v1.layers_size(), 0);
  bool saw_conv = false;
  for (const LayerParameter& l : v1.layer()) saw_conv = saw_conv || l.type() == "Convolution";
  EXPECT_TRUE(saw_conv);
  auto cifar = test::MakeNet(R"(
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } } }
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 32 pad: 2 kernel_size: 5 } }
  )");
  cifar->CopyTrainedLayersFromFile(dir + "/cifar10-quick-v1/cifar10_quick_iter_5000.caffemodel");
  EXPECT_GT(cifar->layer_by_name("conv1")->blobs()[0]->asum_data(), 0.0);

  // The Caffe-written .solverstate reads as a SolverState.
  SolverState state =
      ReadSolverStateFromBinaryFile(dir + "/cifar10-full/cifar10_full_iter_70000.solverstate");
  EXPECT_EQ(state.iter(), 70000);
  EXPECT_EQ(state.history_size(), 8);
}

}  // namespace
}  // namespace fcn
