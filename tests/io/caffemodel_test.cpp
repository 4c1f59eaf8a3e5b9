// SPDX-License-Identifier: BSD-2-Clause
// Binary weight files: round trips, V1 weights, and clear errors for bad files.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "fcn/io.h"
#include "fcn/net.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using ::testing::HasSubstr;
namespace pb = google::protobuf;

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

// Writes `bytes` as field `field` (length-delimited) of a message.
std::string Field(int field, const std::string& bytes) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.WriteTag(pb::internal::WireFormatLite::MakeTag(
        field, pb::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    coded.WriteVarint32(static_cast<std::uint32_t>(bytes.size()));
    coded.WriteString(bytes);
  }
  return out;
}

// The streamed reader (ForEachWeightsLayer) against the whole-file one: the same layers, and
// every blob's values read straight into the buffer the sink gives.
TEST(CaffemodelStreamTest, SinkReceivesEveryBlobsValuesAndTheLayersMatchTheWholeFile) {
  const std::string dir = test::TempDir();
  auto net = test::MakeNet(kNet);
  NetParameter written;
  net->ToProto(&written);
  WriteProtoToBinaryFile(written, dir + "/w.caffemodel");
  const NetParameter whole = ReadNetParamFromBinaryFile(dir + "/w.caffemodel");

  std::map<std::string, std::vector<std::vector<float>>> received;
  const WeightsSink sink = [&](const std::string& layer, int blob, std::int64_t count) {
    auto& blobs = received[layer];
    if (static_cast<int>(blobs.size()) <= blob) blobs.resize(static_cast<std::size_t>(blob) + 1);
    blobs[static_cast<std::size_t>(blob)].assign(static_cast<std::size_t>(count), -7.0f);
    return blobs[static_cast<std::size_t>(blob)].data();
  };
  int index = 0;
  ForEachWeightsLayer(
      dir + "/w.caffemodel",
      [&](const LayerParameter& layer, const std::vector<std::int64_t>& delivered) {
        const LayerParameter& expected = whole.layer(index++);
        EXPECT_EQ(layer.name(), expected.name());
        EXPECT_EQ(layer.type(), expected.type());
        ASSERT_EQ(layer.blobs_size(), expected.blobs_size()) << layer.name();
        ASSERT_EQ(static_cast<int>(delivered.size()), layer.blobs_size());
        for (int j = 0; j < layer.blobs_size(); ++j) {
          const BlobProto& e = expected.blobs(j);
          EXPECT_EQ(delivered[static_cast<std::size_t>(j)], e.data_size()) << layer.name();
          EXPECT_EQ(layer.blobs(j).data_size(), 0);
          EXPECT_EQ(layer.blobs(j).shape().SerializeAsString(), e.shape().SerializeAsString());
          EXPECT_EQ(received[layer.name()][static_cast<std::size_t>(j)],
                    std::vector<float>(e.data().begin(), e.data().end()));
        }
      },
      sink);
  EXPECT_EQ(index, whole.layer_size());
  EXPECT_EQ(received.size(), 2u);  // conv1 (weights, bias) and up (weights)
}

// A sink that declines leaves the values in the LayerParameter, as the whole-file reader has
// them; and a layer whose name comes after its blobs (legal protobuf, though no writer does
// it) is read right without the sink.
TEST(CaffemodelStreamTest, DeclinedValuesAndANameAfterTheBlobsStayInTheLayer) {
  const std::string dir = test::TempDir();
  auto net = test::MakeNet(kNet);
  NetParameter written;
  net->ToProto(&written);
  LayerParameter conv = written.layer(1);
  ASSERT_EQ(conv.name(), "conv1");
  LayerParameter blobs_only = conv, name_only;
  blobs_only.clear_name();
  name_only.set_name("conv1");
  // A message is the concatenation of its fields: the blobs, then the name.
  const std::string file = Field(NetParameter::kLayerFieldNumber,
                                 blobs_only.SerializeAsString() + name_only.SerializeAsString());
  WriteBytes(dir + "/reordered.caffemodel", file);
  int calls = 0, layers = 0;
  ForEachWeightsLayer(
      dir + "/reordered.caffemodel",
      [&](const LayerParameter& layer, const std::vector<std::int64_t>& delivered) {
        ++layers;
        EXPECT_EQ(layer.SerializeAsString(), conv.SerializeAsString());
        EXPECT_EQ(delivered, std::vector<std::int64_t>(2, -1));
      },
      [&](const std::string&, int, std::int64_t) -> float* {
        ++calls;
        return nullptr;
      });
  EXPECT_EQ(layers, 1);
  EXPECT_EQ(calls, 0);  // no name yet when the values come

  // Declined: the values stay in the proto.
  WriteProtoToBinaryFile(written, dir + "/w.caffemodel");
  ForEachWeightsLayer(
      dir + "/w.caffemodel",
      [&](const LayerParameter& layer, const std::vector<std::int64_t>& delivered) {
        for (std::int64_t d : delivered) EXPECT_EQ(d, -1);
        if (layer.name() == "conv1") {
          EXPECT_EQ(layer.SerializeAsString(), conv.SerializeAsString());
        }
      },
      [](const std::string&, int, std::int64_t) -> float* { return nullptr; });
}

// Values split over two `data` fields (legal: a repeated field's elements concatenate) keep
// their order: the second part is appended to the first, whether the first went to a sink or
// stayed in the proto. The net's sink declines the first part (100 values for a blob of 144),
// so the net loads all 144 in order.
TEST(CaffemodelStreamTest, DataSplitOverTwoFieldsKeepsItsOrder) {
  const std::string dir = test::TempDir();
  BlobProto first, second;
  for (int d : {3, 3, 4, 4}) first.mutable_shape()->add_dim(d);
  for (int i = 0; i < 100; ++i) first.add_data(static_cast<float>(i));
  for (int i = 100; i < 144; ++i) second.add_data(static_cast<float>(i));
  LayerParameter name_only;
  name_only.set_name("up");
  const std::string layer_bytes =
      name_only.SerializeAsString() + Field(LayerParameter::kBlobsFieldNumber,
                                            first.SerializeAsString() + second.SerializeAsString());
  WriteBytes(dir + "/split.caffemodel", Field(NetParameter::kLayerFieldNumber, layer_bytes));
  std::vector<float> in_order(144);
  for (int i = 0; i < 144; ++i) in_order[static_cast<std::size_t>(i)] = static_cast<float>(i);

  std::vector<float> taken;
  int layers = 0;
  ForEachWeightsLayer(
      dir + "/split.caffemodel",
      [&](const LayerParameter& layer, const std::vector<std::int64_t>& delivered) {
        ++layers;
        ASSERT_EQ(delivered, std::vector<std::int64_t>{100});
        std::vector<float> all = taken;
        all.insert(all.end(), layer.blobs(0).data().begin(), layer.blobs(0).data().end());
        EXPECT_EQ(all, in_order);
      },
      [&](const std::string& layer, int blob, std::int64_t count) -> float* {
        EXPECT_EQ(layer, "up");
        EXPECT_EQ(blob, 0);
        taken.resize(static_cast<std::size_t>(count));
        return taken.data();
      });
  EXPECT_EQ(layers, 1);

  auto net = test::MakeNet(kNet);
  net->CopyTrainedLayersFromFile(dir + "/split.caffemodel");
  EXPECT_EQ(test::Data(*net->layer_by_name("up")->blobs()[0]), in_order);
}

// A damaged length inside a layer (a blob claiming more bytes than the file has) is refused
// before any buffer is sized from it, and a file cut inside a layer is a clear error.
TEST(CaffemodelStreamTest, DamagedLengthsAndTruncationAreClearErrors) {
  const std::string dir = test::TempDir();
  auto net = test::MakeNet(kNet);
  NetParameter written;
  net->ToProto(&written);
  const std::string bytes = written.SerializeAsString();
  // Cut anywhere inside the last layer (the file's end then falls inside a message whose
  // length says more: a regression, the first streamed reader took that end for the layer's).
  const std::size_t last_layer = bytes.rfind(written.layer(written.layer_size() - 1).name());
  ASSERT_NE(last_layer, std::string::npos);
  for (std::size_t cut = last_layer - 2; cut < bytes.size(); ++cut) {
    WriteBytes(dir + "/cut.caffemodel", bytes.substr(0, cut));
    auto other = test::MakeNet(kNet);
    EXPECT_THAT(
        test::ConfigErrorOf([&] { other->CopyTrainedLayersFromFile(dir + "/cut.caffemodel"); }),
        HasSubstr("cut.caffemodel: not a valid binary NetParameter (.caffemodel)"))
        << "cut at " << cut << " of " << bytes.size();
  }

  // conv1's weights: a data field claiming 2^28 floats in a few bytes.
  std::string blob_bytes;
  {
    pb::io::StringOutputStream stream(&blob_bytes);
    pb::io::CodedOutputStream out(&stream);
    out.WriteTag(pb::internal::WireFormatLite::MakeTag(
        BlobProto::kDataFieldNumber, pb::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    out.WriteVarint32(1u << 30);
    out.WriteRaw("\0\0\0\0", 4);
  }
  LayerParameter layer;
  layer.set_name("conv1");
  const std::string file =
      Field(NetParameter::kLayerFieldNumber,
            layer.SerializeAsString() + Field(LayerParameter::kBlobsFieldNumber, blob_bytes));
  WriteBytes(dir + "/claims.caffemodel", file);
  int sink_calls = 0;
  EXPECT_THAT(test::ConfigErrorOf([&] {
                ForEachWeightsLayer(
                    dir + "/claims.caffemodel",
                    [](const LayerParameter&, const std::vector<std::int64_t>&) {},
                    [&](const std::string&, int, std::int64_t) -> float* {
                      ++sink_calls;
                      return nullptr;
                    });
              }),
              HasSubstr("claims.caffemodel: not a valid binary NetParameter"));
  EXPECT_EQ(sink_calls, 0);
}

// Net::CopyTrainedLayersFromFile reads the values straight into the net's parameters, also
// when a TEST net that has run holds them in oneDNN's layout.
TEST(CaffemodelStreamTest, StreamedLoadOverwritesParametersHeldInAnotherLayout) {
  const std::string dir = test::TempDir();
  auto source = test::MakeNet(kNet);
  NetParameter written;
  source->ToProto(&written);
  WriteProtoToBinaryFile(written, dir + "/w.caffemodel");
  auto net = test::MakeNet(kNet);
  for (const auto& p : net->params()) {
    float* d = p->mutable_cpu_data();
    for (std::int64_t i = 0; i < p->count(); ++i) d[i] = 0.25f;
  }
  test::FillUniform(net->input_blobs()[0], 3, -1, 1);
  net->Forward();
  net->CopyTrainedLayersFromFile(dir + "/w.caffemodel");
  for (std::size_t i = 0; i < net->params().size(); ++i) {
    EXPECT_EQ(test::Data(*net->params()[i]), test::Data(*source->params()[i])) << "param " << i;
  }
  test::FillUniform(source->input_blobs()[0], 3, -1, 1);
  source->Forward();
  net->Forward();
  EXPECT_EQ(test::Data(*net->blob_by_name("up")), test::Data(*source->blob_by_name("up")));
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
