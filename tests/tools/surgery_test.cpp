// SPDX-License-Identifier: BSD-2-Clause
// fcntool surgery: a VGG-16-style classifier written as a V1 .caffemodel becomes an FCN-32s
// whose fc6/fc7 convolutions reproduce the classifier's fully connected outputs at every
// position; FCN's bilinear weights, expand_score, suffixes, the report and bad input.
#include "fcn/surgery.h"

#include <google/protobuf/text_format.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fcn/filler.h"
#include "fcn/io.h"
#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::WriteFile;

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = test::CommandResult;

Result Fcntool(const std::string& cwd, const std::string& args) {
  return test::RunFcntool(args, cwd);
}

// VGG-16's layer names and structure, narrowed: 4/8/8/16/16 channels, fc6/fc7 of 32, a
// 3x64x64 input, so pool5 is 16x2x2 and fc6 has K = 64 inputs.
constexpr int kWidths[5] = {4, 8, 8, 16, 16};
constexpr int kConvs[5] = {2, 2, 3, 3, 3};
constexpr int kFc = 32;

// The convolution trunk in V1 (`layers`, enum types) or current form.
std::string Trunk(bool v1, int conv1_pad) {
  std::string t;
  std::string bottom = "data";
  auto layer = [&](const std::string& name, const std::string& type, const std::string& top,
                   const std::string& body) {
    t += StrCat(v1 ? "layers" : "layer", " { name: \"", name,
                "\" type: ", v1 ? type : "\"" + type + "\"", " bottom: \"", bottom, "\" top: \"",
                top, "\" ", body, " }\n");
  };
  for (int b = 0; b < 5; ++b) {
    for (int c = 1; c <= kConvs[b]; ++c) {
      const std::string name = StrCat("conv", b + 1, "_", c);
      const int pad = (b == 0 && c == 1) ? conv1_pad : 1;
      layer(name, v1 ? "CONVOLUTION" : "Convolution", name,
            StrCat("convolution_param { num_output: ", kWidths[b], " pad: ", pad,
                   " kernel_size: 3 weight_filler { type: \"gaussian\" std: 0.25 }"
                   " bias_filler { type: \"gaussian\" std: 0.1 } }"));
      bottom = name;
      layer(StrCat("relu", b + 1, "_", c), v1 ? "RELU" : "ReLU", name, "");
    }
    const std::string pool = StrCat("pool", b + 1);
    layer(pool, v1 ? "POOLING" : "Pooling", pool,
          "pooling_param { pool: MAX kernel_size: 2 stride: 2 }");
    bottom = pool;
  }
  return t;
}

std::string Classifier() {
  std::string t =
      "name: \"VGG_ILSVRC_16_layers_narrow\"\ninput: \"data\"\n"
      "input_dim: 1\ninput_dim: 3\ninput_dim: 64\ninput_dim: 64\n" +
      Trunk(true, 1);
  const char* fc =
      " weight_filler { type: \"gaussian\" std: 0.2 }"
      " bias_filler { type: \"gaussian\" std: 0.1 } }";
  t += StrCat(R"(layers { name: "fc6" type: INNER_PRODUCT bottom: "pool5" top: "fc6"
  inner_product_param { num_output: )",
              kFc, fc, R"( }
layers { name: "relu6" type: RELU bottom: "fc6" top: "fc6" }
layers { name: "drop6" type: DROPOUT bottom: "fc6" top: "fc6" }
layers { name: "fc7" type: INNER_PRODUCT bottom: "fc6" top: "fc7"
  inner_product_param { num_output: )",
              kFc, fc, R"( }
layers { name: "relu7" type: RELU bottom: "fc7" top: "fc7" }
layers { name: "drop7" type: DROPOUT bottom: "fc7" top: "fc7" }
layers { name: "fc8" type: INNER_PRODUCT bottom: "fc7" top: "fc8"
  inner_product_param { num_output: 10)",
              fc, R"( }
layers { name: "prob" type: SOFTMAX bottom: "fc8" top: "prob" }
)");
  return t;
}

// The matching FCN-32s (conv1_1 pad 100 as in the reference; pad 1 gives the classifier's
// geometry, so a 64x64 input makes 1x1 fc6/fc7 maps).
std::string Fcn32s(int conv1_pad, int classes, int size = 64) {
  const int offset = conv1_pad == 100 ? 19 : 0;
  return StrCat("name: \"FCN32s_narrow\"\n",
                "layer { name: \"input\" type: \"Input\" top: \"data\"\n"
                "  input_param { shape { dim: 1 dim: 3 dim: ",
                size, " dim: ", size, " } } }\n", Trunk(false, conv1_pad),
                R"(layer { name: "fc6" type: "Convolution" bottom: "pool5" top: "fc6"
  convolution_param { num_output: )",
                kFc, R"( kernel_size: 2 } }
layer { name: "relu6" type: "ReLU" bottom: "fc6" top: "fc6" }
layer { name: "drop6" type: "Dropout" bottom: "fc6" top: "fc6" }
layer { name: "fc7" type: "Convolution" bottom: "fc6" top: "fc7"
  convolution_param { num_output: )",
                kFc, R"( kernel_size: 1 } }
layer { name: "relu7" type: "ReLU" bottom: "fc7" top: "fc7" }
layer { name: "drop7" type: "Dropout" bottom: "fc7" top: "fc7" }
layer { name: "score_fr" type: "Convolution" bottom: "fc7" top: "score_fr"
  convolution_param { num_output: )",
                classes, R"( kernel_size: 1 } }
layer { name: "upscore" type: "Deconvolution" bottom: "score_fr" top: "upscore"
  param { lr_mult: 0 }
  convolution_param { num_output: )",
                classes, R"( bias_term: false kernel_size: 64 stride: 32 } }
layer { name: "score" type: "Crop" bottom: "upscore" bottom: "data" top: "score"
  crop_param { axis: 2 offset: )",
                offset, " } }\n");
}

// Writes the classifier's weights as a V1 .caffemodel (`layers`, legacy 4-D blob shapes:
// 1 x 1 x out x in for fully connected weights, 1 x 1 x 1 x out for biases), as the VGG-16
// ILSVRC file is stored.
void WriteV1Caffemodel(const Net& net, const std::string& path) {
  NetParameter v1;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(Classifier(), &v1));
  v1.clear_input();
  v1.clear_input_dim();
  for (V1LayerParameter& layer : *v1.mutable_layers()) {
    const Layer* source = net.layer_by_name(layer.name());
    ASSERT_NE(source, nullptr) << layer.name();
    for (const auto& blob : source->blobs()) {
      BlobProto* proto = layer.add_blobs();
      std::vector<std::int64_t> shape = blob->shape();
      while (shape.size() < 4) shape.insert(shape.begin(), 1);
      proto->set_num(static_cast<int>(shape[0]));
      proto->set_channels(static_cast<int>(shape[1]));
      proto->set_height(static_cast<int>(shape[2]));
      proto->set_width(static_cast<int>(shape[3]));
      const std::vector<float> data = test::Data(*blob);
      proto->mutable_data()->Add(data.begin(), data.end());
    }
  }
  ASSERT_EQ(v1.layer_size(), 0);
  WriteProtoToBinaryFile(v1, path);
}

// `rng`, when given, is shared by the nets of one test (drawn in the order they are built).
std::unique_ptr<Net> BuildNet(const std::string& text, Rng* rng = nullptr) {
  NetParameter param = ReadNetParamFromTextString(text, "test net");
  Net::SetState(NetStateOptions{}, &param);
  return std::make_unique<Net>(param, Options(), nullptr, rng);
}

// The classifier with seeded random weights, its V1 file, and a seeded 64x64 input.
struct Fixture {
  std::string dir = test::TempDir();
  Rng rng{1701};  // the classifier's, and the later nets' of the test
  std::unique_ptr<Net> classifier;
  std::string weights;
  std::unique_ptr<Blob> image = test::UniformBlob({1, 3, 64, 64}, 7, -1.0f, 1.0f);

  Fixture() {
    classifier = BuildNet(Classifier(), &rng);
    weights = dir + "/vgg16_narrow.caffemodel";
    WriteV1Caffemodel(*classifier, weights);
    classifier->input_blobs()[0]->CopyFrom(*image);
    classifier->Forward();
  }
};

std::vector<float> Values(const Net& net, const std::string& blob) {
  return test::Data(*net.blob_by_name(blob));
}

int CountNonZero(const std::vector<float>& v) {
  return static_cast<int>(std::count_if(v.begin(), v.end(), [](float x) { return x != 0.0f; }));
}

TEST(SurgeryTest, FcntoolTransplantsAV1ClassifierIntoFcn32s) {
  Fixture f;
  const NetParameter file = ReadNetParamFromBinaryFile(f.weights);
  ASSERT_EQ(file.layer(0).name(), "conv1_1");  // upgraded from V1 on reading
  WriteFile(f.dir + "/fcn32s.prototxt", Fcn32s(1, 21));
  const Result r = Fcntool(f.dir,
                           "surgery --model=fcn32s.prototxt --weights=vgg16_narrow.caffemodel "
                           "--output=fcn32s.caffemodel");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("copied   conv1_1[0]: 4x3x3x3\n"));
  EXPECT_THAT(r.output, HasSubstr("copied   conv5_3[1]: 16\n"));
  EXPECT_THAT(r.output, HasSubstr("coerced  fc6[0]: 32x64 -> 32x16x2x2\n"));
  EXPECT_THAT(r.output, HasSubstr("copied   fc6[1]: 32\n"));
  EXPECT_THAT(r.output, HasSubstr("coerced  fc7[0]: 32x32 -> 32x32x1x1\n"));
  EXPECT_THAT(r.output, HasSubstr("dropped  fc8[0]: 10x32 (no layer \"fc8\" in the target net)"));
  EXPECT_THAT(r.output, HasSubstr("kept     score_fr: 21x32x1x1, not in the weights"));
  EXPECT_THAT(r.output,
              HasSubstr("interp   upscore[0]: 21x21x64x64, bilinear 64x64 kernel on the diagonal"));
  EXPECT_THAT(r.output, HasSubstr("28 copied, 2 coerced, 2 dropped, 0 expanded, 1 interpolated, "
                                  "1 kept (filler); wrote fcn32s.caffemodel"));

  // With the source net's prototxt (here V1 text) the weights go through that net first; the
  // result is the same file.
  WriteFile(f.dir + "/vgg16_narrow.prototxt", Classifier());
  const Result via_net =
      Fcntool(f.dir,
              "surgery --model=fcn32s.prototxt --weights=vgg16_narrow.caffemodel "
              "--source_model=vgg16_narrow.prototxt --output=via_net.caffemodel");
  ASSERT_EQ(via_net.exit_code, 0) << via_net.output;
  EXPECT_EQ(ReadFileToString(f.dir + "/via_net.caffemodel"),
            ReadFileToString(f.dir + "/fcn32s.caffemodel"));

  // The written file is a current-format net holding every layer; fc6/fc7 as convolutions
  // give the classifier's fully connected outputs (64x64 input: 1x1 maps).
  const NetParameter written = ReadNetParamFromBinaryFile(f.dir + "/fcn32s.caffemodel");
  EXPECT_EQ(written.layers_size(), 0);
  auto fcn = BuildNet(Fcn32s(1, 21), &f.rng);
  fcn->CopyTrainedLayersFromFile(f.dir + "/fcn32s.caffemodel");
  fcn->input_blobs()[0]->CopyFrom(*f.image);
  fcn->Forward();
  for (const char* blob : {"fc6", "fc7"}) {
    EXPECT_EQ(fcn->blob_by_name(blob)->shape(), (std::vector<std::int64_t>{1, kFc, 1, 1}));
    const std::vector<float> want = Values(*f.classifier, blob);
    EXPECT_GT(CountNonZero(want), kFc / 4) << blob;
    EXPECT_TRUE(test::AllNear(Values(*fcn, blob), want, 1e-6f, 1e-4f)) << blob;
  }
  // score_fr keeps its zero filler; upscore is bilinear on the diagonal, zero elsewhere.
  EXPECT_EQ(CountNonZero(test::Data(*fcn->layer_by_name("score_fr")->blobs()[0])), 0);
  const std::vector<float> up = test::Data(*fcn->layer_by_name("upscore")->blobs()[0]);
  const std::vector<float> kernel = BilinearKernel(64);
  for (int i = 0; i < 21; ++i) {
    for (int j = 0; j < 21; ++j) {
      const std::vector<float> plane(up.begin() + (i * 21 + j) * 4096,
                                     up.begin() + (i * 21 + j + 1) * 4096);
      if (i == j) {
        EXPECT_EQ(plane, kernel) << i;
      } else {
        EXPECT_EQ(CountNonZero(plane), 0) << i << "," << j;
      }
    }
  }
}

TEST(SurgeryTest, Pad100Fcn32sConvolutionsEqualTheFullyConnectedLayersAtEveryPosition) {
  Fixture f;
  auto fcn = BuildNet(Fcn32s(100, 21), &f.rng);
  SurgeryReport report;
  Transplant(ReadNetParamFromBinaryFile(f.weights), fcn.get(), "", {}, &report);
  EXPECT_EQ(report.Count(SurgeryEntry::Kind::kCoerced), 2);
  fcn->input_blobs()[0]->CopyFrom(*f.image);
  fcn->Forward();
  const Blob& pool5 = *fcn->blob_by_name("pool5");
  const Blob& fc6 = *fcn->blob_by_name("fc6");
  ASSERT_EQ(pool5.shape(), (std::vector<std::int64_t>{1, 16, 9, 9}));
  ASSERT_EQ(fc6.shape(), (std::vector<std::int64_t>{1, kFc, 8, 8}));
  // The classifier's fc6 (32 x 64, input index c*4 + i*2 + j over pool5's C,H,W) applied to
  // the 2x2 pool5 window under each position, then fc7 (32 x 32) to that result.
  const std::vector<float> w6 = test::Data(*f.classifier->layer_by_name("fc6")->blobs()[0]);
  const std::vector<float> b6 = test::Data(*f.classifier->layer_by_name("fc6")->blobs()[1]);
  const std::vector<float> w7 = test::Data(*f.classifier->layer_by_name("fc7")->blobs()[0]);
  const std::vector<float> b7 = test::Data(*f.classifier->layer_by_name("fc7")->blobs()[1]);
  const float* p5 = pool5.cpu_data();
  std::vector<float> want6(static_cast<std::size_t>(fc6.count()));
  std::vector<float> want7(want6.size());
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) {
      std::vector<double> h(kFc);
      for (int o = 0; o < kFc; ++o) {
        double sum = b6[static_cast<std::size_t>(o)];
        for (int c = 0; c < 16; ++c) {
          for (int i = 0; i < 2; ++i) {
            for (int j = 0; j < 2; ++j) {
              sum += static_cast<double>(w6[static_cast<std::size_t>(o * 64 + c * 4 + i * 2 + j)]) *
                     p5[(c * 9 + y + i) * 9 + x + j];
            }
          }
        }
        h[static_cast<std::size_t>(o)] = std::max(sum, 0.0);
        want6[static_cast<std::size_t>((o * 8 + y) * 8 + x)] =
            static_cast<float>(std::max(sum, 0.0));
      }
      for (int o = 0; o < kFc; ++o) {
        double sum = b7[static_cast<std::size_t>(o)];
        for (int k = 0; k < kFc; ++k) {
          sum += static_cast<double>(w7[static_cast<std::size_t>(o * kFc + k)]) *
                 h[static_cast<std::size_t>(k)];
        }
        want7[static_cast<std::size_t>((o * 8 + y) * 8 + x)] =
            static_cast<float>(std::max(sum, 0.0));
      }
    }
  }
  EXPECT_GT(CountNonZero(want6), static_cast<int>(want6.size()) / 8);
  EXPECT_TRUE(test::AllNear(test::Data(fc6), want6, 1e-5f, 1e-4f));
  EXPECT_TRUE(test::AllNear(Values(*fcn, "fc7"), want7, 1e-5f, 1e-4f));
}

TEST(SurgeryTest, BilinearKernelIsFcnsUpsampleFiltAndCaffesFiller) {
  auto profile = [](int size, const std::vector<float>& want) {
    const std::vector<float> k = BilinearKernel(size);
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        EXPECT_FLOAT_EQ(k[static_cast<std::size_t>(y * size + x)],
                        want[static_cast<std::size_t>(y)] * want[static_cast<std::size_t>(x)])
            << size << ": " << y << "," << x;
      }
    }
  };
  profile(4, {0.25f, 0.75f, 0.75f, 0.25f});
  profile(3, {0.5f, 1.0f, 0.5f});
  profile(5, {1.0f / 3, 2.0f / 3, 1.0f, 2.0f / 3, 1.0f / 3});
  std::vector<float> k64(64);
  for (int t = 0; t < 32; ++t) {
    k64[static_cast<std::size_t>(t)] = k64[static_cast<std::size_t>(63 - t)] = (2 * t + 1) / 64.0f;
  }
  profile(64, k64);
  // Value for value Caffe's bilinear filler (which writes the kernel into every pair).
  for (int size : {3, 4, 5, 16, 32}) {
    FillerParameter filler;
    filler.set_type("bilinear");
    Blob blob({1, 1, size, size});
    Rng rng;
    FillBlob(filler, &blob, rng);
    EXPECT_TRUE(test::AllNear(test::Data(blob), BilinearKernel(size), 1e-6f)) << size;
  }
}

TEST(SurgeryTest, InterpWritesTheDiagonalAndKeepsOtherEntries) {
  auto net = BuildNet(R"(name: "up"
layer { name: "input" type: "Input" top: "s" input_param { shape { dim: 1 dim: 3 dim: 5 dim: 5 } } }
layer { name: "upscore2" type: "Deconvolution" bottom: "s" top: "u2"
        convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "upgroup" type: "Deconvolution" bottom: "s" top: "ug"
        convolution_param { num_output: 3 group: 3 kernel_size: 5 stride: 2 bias_term: false } }
layer { name: "conv" type: "Convolution" bottom: "s" top: "c"
        convolution_param { num_output: 2 kernel_size: 3 } }
)");
  EXPECT_EQ(DefaultInterpLayers(*net), (std::vector<std::string>{"upscore2", "upgroup"}));
  Blob& full = *net->layer_by_name("upscore2")->blobs()[0];
  std::fill(full.mutable_cpu_data(), full.mutable_cpu_data() + full.count(), 7.0f);
  SurgeryReport report;
  InterpLayers(DefaultInterpLayers(*net), net.get(), &report);
  EXPECT_EQ(report.Count(SurgeryEntry::Kind::kInterp), 2);
  const std::vector<float> k4 = BilinearKernel(4);
  const std::vector<float> w = test::Data(full);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int e = 0; e < 16; ++e) {
        EXPECT_EQ(w[static_cast<std::size_t>((i * 3 + j) * 16 + e)],
                  i == j ? k4[static_cast<std::size_t>(e)] : 7.0f);
      }
    }
  }
  EXPECT_EQ(test::Data(*net->layer_by_name("upgroup")->blobs()[0]), [] {
    std::vector<float> all;
    for (int i = 0; i < 3; ++i) {
      const std::vector<float> k = BilinearKernel(5);
      all.insert(all.end(), k.begin(), k.end());
    }
    return all;
  }());
  EXPECT_THAT(test::ConfigErrorOf([&] { InterpLayers({"conv"}, net.get(), &report); }),
              HasSubstr("layer \"conv\" (Convolution) has weight 2x3x3x3"));
  EXPECT_THAT(test::ConfigErrorOf([&] { InterpLayers({"nope"}, net.get(), &report); }),
              HasSubstr("no layer \"nope\" in net \"up\"; layers with parameters: upscore2, "
                        "upgroup, conv"));
}

std::string ScoreNet(int classes, const std::string& suffix = "") {
  return StrCat(R"(name: "score_net"
layer { name: "input" type: "Input" top: "f" input_param { shape { dim: 1 dim: 6 dim: 4 dim: 4 } } }
layer { name: "score_fr)",
                suffix, R"(" type: "Convolution" bottom: "f" top: "s"
        convolution_param { num_output: )",
                classes, R"( kernel_size: 1 weight_filler { type: "gaussian" std: 1 }
                            bias_filler { type: "gaussian" std: 1 } } }
)");
}

TEST(SurgeryTest, ExpandScoreFillsTheFirstClassesAndSuffixRenames) {
  Rng rng(3);
  auto small = BuildNet(ScoreNet(3), &rng);
  NetParameter source;
  small->ToProto(&source);
  std::string wide_text = ScoreNet(5);
  wide_text.replace(wide_text.find("std: 1 }\n"), 8, "std: 0 }");
  auto wide = BuildNet(wide_text, &rng);
  for (const auto& b : wide->layer_by_name("score_fr")->blobs()) {
    std::fill(b->mutable_cpu_data(), b->mutable_cpu_data() + b->count(), 0.0f);
  }
  SurgeryReport report;
  ExpandScore(source, "score_fr", 5, wide.get(), &report);
  ASSERT_EQ(report.entries.size(), 2u);
  EXPECT_EQ(report.entries[0].ToString(),
            "expanded score_fr[0]: 3x6x1x1 -> 5x6x1x1, classes 0..2 of 5");
  const std::vector<float> old_w = test::Data(*small->layer_by_name("score_fr")->blobs()[0]);
  const std::vector<float> new_w = test::Data(*wide->layer_by_name("score_fr")->blobs()[0]);
  EXPECT_EQ(std::vector<float>(new_w.begin(), new_w.begin() + 18), old_w);
  EXPECT_EQ(CountNonZero(std::vector<float>(new_w.begin() + 18, new_w.end())), 0);
  const std::vector<float> old_b = test::Data(*small->layer_by_name("score_fr")->blobs()[1]);
  const std::vector<float> new_b = test::Data(*wide->layer_by_name("score_fr")->blobs()[1]);
  EXPECT_EQ(std::vector<float>(new_b.begin(), new_b.begin() + 3), old_b);
  EXPECT_EQ(new_b[3], 0.0f);
  EXPECT_THAT(test::ConfigErrorOf([&] { ExpandScore(source, "score_fr", 7, wide.get(), &report); }),
              HasSubstr("layer \"score_fr\" of net \"score_net\" has 5 outputs (weight 5x6x1x1), "
                        "not 7"));
  EXPECT_THAT(test::ConfigErrorOf([&] {
                ExpandScore(source, "score_fr", 0, small.get(), &report);
                auto narrow = BuildNet(ScoreNet(2), &rng);
                ExpandScore(source, "score_fr", 0, narrow.get(), &report);
              }),
              HasSubstr("the weights' 3x6x1x1 does not fit into the first rows of 2x6x1x1"));

  // NYUD late fusion: source layer p goes into p + suffix; other layers keep their filler.
  auto color = BuildNet(ScoreNet(3, "color"), &rng);
  SurgeryReport fused;
  Transplant(source, color.get(), "color", {}, &fused);
  ReportKeptLayers(*color, &fused);
  ASSERT_EQ(fused.Count(SurgeryEntry::Kind::kCopied), 2) << fused.entries[0].ToString();
  EXPECT_EQ(fused.entries[0].ToString(), "copied   score_fr[0] -> score_frcolor[0]: 3x6x1x1");
  EXPECT_EQ(test::Data(*color->layer_by_name("score_frcolor")->blobs()[0]), old_w);
  SurgeryReport missed;
  Transplant(source, color.get(), "hha", {}, &missed);
  ASSERT_EQ(missed.Count(SurgeryEntry::Kind::kDropped), 2);
  EXPECT_EQ(missed.entries[0].ToString(),
            "dropped  score_fr[0]: 3x6x1x1 (no layer \"score_frhha\" in the target net)");
}

// Without --weights the fillers stay (a net with no pretrained classifier) and only the
// upsampling is made bilinear: how the narrow nets of models/ start.
TEST(SurgeryTest, WithoutWeightsKeepsFillersAndWritesBilinearUpsampling) {
  const std::string dir = test::TempDir();
  std::ofstream(dir + "/net.prototxt") << R"(
    layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 8 dim: 8 } } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "constant" value: 0.5 } } }
    layer { name: "upscore" type: "Deconvolution" bottom: "conv" top: "up" param { lr_mult: 0 }
            convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
  )";
  const Result r = Fcntool(dir, "surgery --model=net.prototxt --output=init.caffemodel");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("(fillers)"));
  const NetParameter written = ReadNetParamFromBinaryFile(dir + "/init.caffemodel");
  for (const LayerParameter& layer : written.layer()) {
    if (layer.name() == "conv") {
      EXPECT_EQ(layer.blobs(0).data(0), 0.5f);
    } else if (layer.name() == "upscore") {
      const auto& w = layer.blobs(0).data();
      ASSERT_EQ(w.size(), 3 * 3 * 16);
      // W[i][i] is the 4x4 bilinear kernel (profile .25 .75 .75 .25), W[i][j != i] zero.
      EXPECT_FLOAT_EQ(w[0 * 48 + 0 * 16 + 5], 0.75f * 0.75f);
      EXPECT_FLOAT_EQ(w[2 * 48 + 2 * 16 + 0], 0.25f * 0.25f);
      EXPECT_EQ(w[0 * 48 + 1 * 16 + 5], 0.0f);
    }
  }
}

// --random_seed seeds the fillers: the same seed writes the same weights, another seed others
// (the seeds of the CamVid experiment start from different msra draws).
TEST(SurgeryTest, RandomSeedSetsTheFillerDraws) {
  const std::string dir = test::TempDir();
  std::ofstream(dir + "/net.prototxt") << R"(
    layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 8 dim: 8 } } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "msra" } } }
  )";
  const auto draw = [&](const std::string& flags, const std::string& out) {
    const Result r = Fcntool(dir, "surgery --model=net.prototxt --output=" + out + " " + flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const NetParameter written = ReadNetParamFromBinaryFile(dir + "/" + out);
    for (const LayerParameter& layer : written.layer()) {
      if (layer.name() == "conv") {
        return std::vector<float>(layer.blobs(0).data().begin(), layer.blobs(0).data().end());
      }
    }
    return std::vector<float>();
  };
  const std::vector<float> a = draw("--random_seed=1", "a.caffemodel");
  ASSERT_EQ(a.size(), 3u * 2 * 9);
  EXPECT_EQ(draw("--random_seed=1", "b.caffemodel"), a);
  EXPECT_NE(draw("--random_seed=2", "c.caffemodel"), a);
  EXPECT_EQ(draw("", "d.caffemodel"), draw("", "e.caffemodel"));  // the default is fixed
}

TEST(SurgeryTest, ExpandScoreAndBadInputOnTheCommandLine) {
  Fixture f;
  WriteFile(f.dir + "/fcn3.prototxt", Fcn32s(1, 3));
  WriteFile(f.dir + "/fcn5.prototxt", Fcn32s(1, 5));
  // A trained 3-class FCN (score_fr random) as the source of a 5-class one.
  Rng rng(11);
  {
    auto fcn3 = BuildNet(Fcn32s(1, 3), &rng);
    FillerParameter gaussian;
    gaussian.set_type("gaussian");
    for (const auto& b : fcn3->layer_by_name("score_fr")->blobs()) FillBlob(gaussian, b.get(), rng);
    NetParameter p;
    fcn3->ToProto(&p);
    WriteProtoToBinaryFile(p, f.dir + "/fcn3.caffemodel");
  }
  const Result r = Fcntool(f.dir,
                           "surgery --model=fcn5.prototxt --weights=fcn3.caffemodel "
                           "--output=fcn5.caffemodel --expand_score=score_fr:5 "
                           "--interp_layers=none");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("expanded score_fr[0]: 3x32x1x1 -> 5x32x1x1, classes 0..2 of 5"));
  EXPECT_THAT(r.output, HasSubstr("expanded score_fr[1]: 3 -> 5, classes 0..2 of 5"));
  EXPECT_THAT(
      r.output,
      HasSubstr(
          "dropped  upscore[0]: 3x3x64x64 (36864 elements, the target 5x5x64x64 has 102400)"));
  EXPECT_THAT(r.output, Not(HasSubstr("interp ")));

  // NYUD late fusion: one suffix per weights file.
  {
    NetParameter p;
    BuildNet(ScoreNet(3), &rng)->ToProto(&p);
    WriteProtoToBinaryFile(p, f.dir + "/s.caffemodel");
    std::string fused = ScoreNet(3, "color");
    const std::string hha = ScoreNet(3, "hha");
    fused += hha.substr(hha.find("layer { name: \"score_frhha"));
    fused.replace(fused.rfind("top: \"s\""), 8, "top: \"t\"");
    WriteFile(f.dir + "/fused.prototxt", fused);
  }
  const Result late = Fcntool(f.dir,
                              "surgery --model=fused.prototxt --weights=s.caffemodel,s.caffemodel "
                              "--suffix=color,hha --output=fused.caffemodel");
  ASSERT_EQ(late.exit_code, 0) << late.output;
  EXPECT_THAT(late.output, HasSubstr("copied   score_fr[0] -> score_frcolor[0]: 3x6x1x1"));
  EXPECT_THAT(late.output, HasSubstr("copied   score_fr[1] -> score_frhha[1]: 3"));
  EXPECT_THAT(late.output, HasSubstr("4 copied, 0 coerced, 0 dropped"));

  struct Case {
    std::string args, expected;
  };
  WriteFile(f.dir + "/other.prototxt", ScoreNet(3, "_other"));
  const std::vector<Case> cases = {
      {"surgery --model=fcn5.prototxt --weights=missing.caffemodel --output=o.caffemodel",
       "missing.caffemodel: cannot open"},
      {"surgery --model=fcn5.prototxt --weights=vgg16_narrow.caffemodel --output=o.caffemodel "
       "--interp_layers=nosuch",
       "no layer \"nosuch\" in net \"FCN32s_narrow\""},
      {"surgery --model=fcn5.prototxt --weights=vgg16_narrow.caffemodel --output=o.caffemodel "
       "--interp_layers=conv1_1",
       "layer \"conv1_1\" (Convolution) has weight 4x3x3x3"},
      {"surgery --model=other.prototxt --weights=vgg16_narrow.caffemodel --output=o.caffemodel",
       "the weights belong to another net"},
      {"surgery --model=fcn5.prototxt --weights=fcn3.caffemodel --output=o.caffemodel "
       "--expand_score=score_fr:7",
       "has 5 outputs"},
      {"surgery --model=fcn5.prototxt --weights=fcn3.caffemodel --output=o.caffemodel "
       "--expand_score=score_fr:x",
       "is not LAYER or LAYER:K"},
      {"surgery --model=nosuch.prototxt --weights=fcn3.caffemodel --output=o.caffemodel",
       "nosuch.prototxt"},
      {"surgery --model=fcn5.prototxt --weights=fcn3.caffemodel", "--output is required"},
      {"surgery --model=fused.prototxt --weights=s.caffemodel,s.caffemodel --suffix=a,b,c "
       "--output=o.caffemodel",
       "--suffix=a,b,c: 3 suffixes for 2 --weights file(s)"},
      {"surgery --model=fcn5.prototxt --weights=fcn5.prototxt --output=o.caffemodel",
       "fcn5.prototxt: not a valid binary NetParameter"},
      {"surgery --model=fcn5.prototxt --output=o.caffemodel --expand_score=score_fr:7",
       "need --weights"},
  };
  for (const Case& c : cases) {
    const Result bad = Fcntool(f.dir, c.args);
    EXPECT_EQ(bad.exit_code, 2) << c.args << "\n" << bad.output;
    EXPECT_THAT(bad.output, HasSubstr(c.expected)) << c.args;
  }
  EXPECT_FALSE(fs::exists(f.dir + "/o.caffemodel"));
  // An output that cannot be written is a runtime failure (exit 1).
  const Result unwritable = Fcntool(f.dir,
                                    "surgery --model=fcn5.prototxt --weights=fcn3.caffemodel "
                                    "--output=no/such/dir/o.caffemodel --interp_layers=none");
  EXPECT_EQ(unwritable.exit_code, 1) << unwritable.output;
  EXPECT_THAT(unwritable.output, HasSubstr("no/such/dir/o.caffemodel"));
}

}  // namespace
}  // namespace fcn
