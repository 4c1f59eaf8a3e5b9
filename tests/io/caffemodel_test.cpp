// SPDX-License-Identifier: BSD-2-Clause
// Binary weight files: round trips, V1 weights, and clear errors for bad files.
#include <filesystem>
#include <fstream>

#include "fcn/io.h"
#include "fcn/net.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using ::testing::HasSubstr;

const char* kNet = R"(
  name: "small"
  layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }
  layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
          convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 }
                              bias_filler { type: "uniform" min: -1 max: 1 } } }
  layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
  layer { name: "up" type: "Deconvolution" bottom: "conv1" top: "up"
          convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false
                              weight_filler { type: "bilinear" } } }
)";

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST(CaffemodelTest, NetWrittenWithWeightsReadsBackIdentically) {
  const std::string dir = test::TempDir();
  auto net = test::MakeNet(kNet);
  NetParameter written;
  net->ToProto(&written);
  WriteProtoToBinaryFile(written, dir + "/w.caffemodel");

  NetParameter read = ReadNetParamFromBinaryFile(dir + "/w.caffemodel");
  EXPECT_EQ(read.SerializeAsString(), written.SerializeAsString());

  auto other = test::MakeNet(kNet);
  other->CopyTrainedLayersFromFile(dir + "/w.caffemodel");
  ASSERT_EQ(other->params().size(), net->params().size());
  for (std::size_t i = 0; i < net->params().size(); ++i) {
    EXPECT_EQ(test::Data(*other->params()[i]), test::Data(*net->params()[i])) << "param " << i;
  }
  // The written file is itself a net definition that builds and runs.
  Net rebuilt(read);
  EXPECT_EQ(rebuilt.layer_by_name("conv1")->blobs()[0]->shape(),
            (std::vector<std::int64_t>{3, 2, 3, 3}));
  EXPECT_EQ(test::Data(*rebuilt.layer_by_name("conv1")->blobs()[1]),
            test::Data(*net->layer_by_name("conv1")->blobs()[1]));
}

TEST(CaffemodelTest, WritesFloatDataAndShapeOnly) {
  auto net = test::MakeNet(kNet);
  NetParameter written;
  net->ToProto(&written);
  const BlobProto& w = written.layer(1).blobs(0);
  EXPECT_EQ(w.shape().dim_size(), 4);
  EXPECT_EQ(w.data_size(), 54);
  EXPECT_EQ(w.double_data_size(), 0);
  EXPECT_FALSE(w.has_num());
  EXPECT_EQ(w.diff_size(), 0);
}

TEST(CaffemodelTest, WriteReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  const std::string dir = test::TempDir();
  const std::string path = dir + "/m.caffemodel";
  WriteBytes(path, "old contents");
  auto net = test::MakeNet(kNet);
  NetParameter param;
  net->ToProto(&param);
  WriteProtoToBinaryFile(param, path);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(ReadNetParamFromBinaryFile(path).layer_size(), param.layer_size());
}

TEST(CaffemodelTest, WriteIntoMissingDirectoryIsARuntimeError) {
  NetParameter param;
  param.add_layer()->set_name("x");
  EXPECT_THROW(WriteProtoToBinaryFile(param, "/nonexistent-dir/x.caffemodel"), RuntimeError);
}

TEST(CaffemodelTest, TruncatedFileIsAClearError) {
  const std::string dir = test::TempDir();
  auto net = test::MakeNet(kNet);
  NetParameter param;
  net->ToProto(&param);
  const std::string bytes = param.SerializeAsString();
  WriteBytes(dir + "/cut.caffemodel", bytes.substr(0, bytes.size() / 2));
  const std::string msg =
      test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir + "/cut.caffemodel"); });
  EXPECT_THAT(msg, HasSubstr(dir + "/cut.caffemodel: not a valid binary NetParameter"));
}

TEST(CaffemodelTest, GarbageFileIsAClearError) {
  const std::string dir = test::TempDir();
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) % 251);
  WriteBytes(dir + "/garbage.caffemodel", garbage);
  const std::string msg =
      test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir + "/garbage.caffemodel"); });
  EXPECT_THAT(msg, HasSubstr(dir + "/garbage.caffemodel: "));
}

TEST(CaffemodelTest, TextPrototxtGivenAsWeightsIsAClearError) {
  const std::string dir = test::TempDir();
  WriteBytes(dir + "/net.prototxt", kNet);
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir + "/net.prototxt"); }),
              HasSubstr(dir + "/net.prototxt: "));
}

TEST(CaffemodelTest, EmptyAndMissingFilesAreClearErrors) {
  const std::string dir = test::TempDir();
  WriteBytes(dir + "/empty.caffemodel", "");
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir + "/empty.caffemodel"); }),
              HasSubstr("holds no layers"));
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir + "/missing.caffemodel"); }),
              HasSubstr("cannot open"));
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadNetParamFromBinaryFile(dir); }),
              HasSubstr("is a directory"));
}

TEST(CaffemodelTest, V1WeightsAreReadByLayerName) {
  const std::string dir = test::TempDir();
  NetParameter v1;
  V1LayerParameter* layer = v1.add_layers();
  layer->set_name("conv1");
  layer->set_type(V1LayerParameter::CONVOLUTION);
  for (int b = 0; b < 2; ++b) {
    BlobProto* blob = layer->add_blobs();
    const int count = b == 0 ? 54 : 3;
    blob->set_num(b == 0 ? 3 : 1);
    blob->set_channels(b == 0 ? 2 : 1);
    blob->set_height(b == 0 ? 3 : 1);
    blob->set_width(b == 0 ? 3 : 3);
    for (int i = 0; i < count; ++i) blob->add_data(static_cast<float>(b * 100 + i));
  }
  layer->add_blobs_lr(1);
  V1LayerParameter* fc8 = v1.add_layers();
  fc8->set_name("fc8");
  fc8->set_type(V1LayerParameter::INNER_PRODUCT);
  WriteProtoToBinaryFile(v1, dir + "/v1.caffemodel");

  NetParameter read = ReadNetParamFromBinaryFile(dir + "/v1.caffemodel");
  ASSERT_EQ(read.layer_size(), 2);
  EXPECT_EQ(read.layer(0).type(), "Convolution");
  EXPECT_EQ(read.layer(1).type(), "InnerProduct");

  auto net = test::MakeNet(kNet);
  std::vector<std::string> ignored;
  net->CopyTrainedLayersFromFile(dir + "/v1.caffemodel", &ignored);
  EXPECT_THAT(ignored, ::testing::ElementsAre("fc8"));
  const Blob& w = *net->layer_by_name("conv1")->blobs()[0];
  EXPECT_EQ(w.cpu_data()[53], 53.0f);
  EXPECT_EQ(net->layer_by_name("conv1")->blobs()[1]->cpu_data()[2], 102.0f);
}

TEST(CaffemodelTest, BlobCountMismatchNamesTheLayer) {
  NetParameter weights;
  LayerParameter* layer = weights.add_layer();
  layer->set_name("conv1");
  layer->add_blobs()->mutable_shape()->add_dim(0);
  auto net = test::MakeNet(kNet);
  const std::string msg =
      test::ConfigErrorOf([&] { net->CopyTrainedLayersFrom(weights, "x.caffemodel"); });
  EXPECT_THAT(
      msg,
      HasSubstr(
          "x.caffemodel: layer \"conv1\" has 1 parameter blob(s) in the file but 2 in the net"));
}

TEST(CaffemodelTest, ValueCountDisagreeingWithShapeIsAnError) {
  NetParameter weights;
  LayerParameter* layer = weights.add_layer();
  layer->set_name("up");
  BlobProto* blob = layer->add_blobs();
  for (int d : {3, 3, 4, 4}) blob->mutable_shape()->add_dim(d);
  blob->add_data(1.0f);
  auto net = test::MakeNet(kNet);
  const std::string msg =
      test::ConfigErrorOf([&] { net->CopyTrainedLayersFrom(weights, "x.caffemodel"); });
  EXPECT_THAT(msg, HasSubstr("layer \"up\" parameter 0: blob holds 1 values for shape 3x3x4x4"));
}

TEST(CaffemodelTest, BinaryprotoMeanFileRoundTrips) {
  const std::string dir = test::TempDir();
  Blob mean({1, 3, 2, 2});
  test::FillUniform(&mean, 5, 0, 255);
  BlobProto proto;
  mean.ToProto(&proto);
  WriteProtoToBinaryFile(proto, dir + "/mean.binaryproto");
  Blob back;
  back.FromProto(ReadBlobProtoFromBinaryFile(dir + "/mean.binaryproto"));
  EXPECT_EQ(back.shape(), mean.shape());
  EXPECT_EQ(test::Data(back), test::Data(mean));
}

}  // namespace
}  // namespace fcn

namespace fcn {
namespace {

// VGG-16's ILSVRC weights are a ~550 MB V1 file, far past protobuf's 64 MB default limit.
TEST(CaffemodelTest, V1FileLargerThan64MegabytesLoads) {
  const std::string dir = test::TempDir();
  const std::int64_t out = 1100, in = 1024, k = 4;  // 18M floats, 72 MB
  NetParameter v1;
  V1LayerParameter* layer = v1.add_layers();
  layer->set_name("big");
  layer->set_type(V1LayerParameter::CONVOLUTION);
  BlobProto* w = layer->add_blobs();
  w->set_num(static_cast<int>(out));
  w->set_channels(static_cast<int>(in));
  w->set_height(static_cast<int>(k));
  w->set_width(static_cast<int>(k));
  const std::int64_t count = out * in * k * k;
  w->mutable_data()->Resize(static_cast<int>(count), 0.0f);
  for (std::int64_t i = 0; i < count; i += 4099)
    w->set_data(static_cast<int>(i), static_cast<float>(i % 1000));
  w->set_data(static_cast<int>(count - 1), 42.0f);
  WriteProtoToBinaryFile(v1, dir + "/big.caffemodel");
  v1.Clear();
  ASSERT_GT(std::filesystem::file_size(dir + "/big.caffemodel"), 64u * 1024 * 1024);

  auto net = test::MakeNet(StrCat(
      "layer { name: \"input\" type: \"Input\" top: \"data\" input_param { shape { dim: 1 dim: ",
      in, " dim: ", k, " dim: ", k, " } } }\n",
      "layer { name: \"big\" type: \"Convolution\" bottom: \"data\" top: \"big\"\n",
      "        convolution_param { num_output: ", out, " kernel_size: ", k,
      " bias_term: false } }\n"));
  net->CopyTrainedLayersFromFile(dir + "/big.caffemodel");
  const Blob& weights = *net->layer_by_name("big")->blobs()[0];
  EXPECT_EQ(weights.cpu_data()[4099 * 7], static_cast<float>((4099 * 7) % 1000));
  EXPECT_EQ(weights.cpu_data()[count - 1], 42.0f);
  EXPECT_EQ(weights.cpu_data()[1], 0.0f);
}

}  // namespace
}  // namespace fcn
