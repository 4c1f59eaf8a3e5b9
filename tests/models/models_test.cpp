// SPDX-License-Identifier: BSD-2-Clause
// models/: every generated net equals its reference prototxt layer for layer (apart from the
// data layer), and every Crop offset equals the coordinate-map derivation.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "fcn/coord_map.h"
#include "fcn/io.h"
#include "fcn/net.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;

// A generated model, the reference folder it mirrors ("" for the project's own nets), the
// reference files its train and val nets correspond to, and its dataset's image size.
struct ModelCase {
  std::string model;
  std::string reference;
  std::string reference_train;
  std::string reference_val;
  int height;
  int width;
};

// gtest prints a parameter by its model name.
void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.model; }

ModelCase Voc(const std::string& m) { return {m, m, "train", "val", 500, 500}; }
ModelCase Nyud(const std::string& m) { return {m, m, "trainval", "test", 425, 560}; }
ModelCase Siftflow(const std::string& m) { return {m, m, "trainval", "test", 256, 256}; }
ModelCase Own(const std::string& m, int height, int width) {
  return {m, "", "", "", height, width};
}

const std::vector<ModelCase>& AllModels() {
  static const std::vector<ModelCase> models = {
      Voc("voc-fcn32s"),
      Voc("voc-fcn16s"),
      Voc("voc-fcn8s"),
      Voc("voc-fcn8s-atonce"),
      Voc("voc-fcn-alexnet"),
      Nyud("nyud-fcn32s-color"),
      Nyud("nyud-fcn32s-hha"),
      Nyud("nyud-fcn32s-color-d"),
      Nyud("nyud-fcn32s-color-hha"),
      Siftflow("siftflow-fcn32s"),
      Siftflow("siftflow-fcn16s"),
      Siftflow("siftflow-fcn8s"),
      Own("camvid-fcn32s-narrow", 180, 240),
      Own("camvid-fcn16s-narrow", 180, 240),
      Own("camvid-fcn8s-narrow", 180, 240),
      Own("synthetic-fcn32s-narrow", 128, 128),
      Own("synthetic-fcn16s-narrow", 128, 128),
      Own("synthetic-fcn8s-narrow", 128, 128),
  };
  return models;
}

std::string ModelPath(const std::string& model, const std::string& file) {
  return test::SourceDir() + "/models/" + model + "/" + file + ".prototxt";
}

std::string ReferencePath(const std::string& model, const std::string& file) {
  return test::SharedDir() + "/reference/fcn-models/" + model + "/" + file + ".prototxt";
}

bool IsDataLayer(const LayerParameter& layer) {
  return layer.type() == "Data" || layer.type() == "Python" || layer.type() == "Input";
}

bool IsLabel(const std::string& top) { return top == "label" || top == "sem" || top == "geo"; }

// The net with its data layer (Data, Python or Input) replaced by an Input layer of the same
// tops: images 1x3xHxW, depth and labels 1x1xHxW.
NetParameter WithInputLayer(NetParameter param, int height, int width) {
  for (LayerParameter& layer : *param.mutable_layer()) {
    if (!IsDataLayer(layer)) continue;
    LayerParameter input;
    input.set_name(layer.name());
    input.set_type("Input");
    for (const std::string& top : layer.top()) {
      input.add_top(top);
      const std::int64_t channels = IsLabel(top) || top == "depth" ? 1 : 3;
      BlobShape* shape = input.mutable_input_param()->add_shape();
      for (std::int64_t d : {std::int64_t{1}, channels, std::int64_t{height}, std::int64_t{width}})
        shape->add_dim(d);
    }
    layer = input;
  }
  return param;
}

std::string CaseName(const ::testing::TestParamInfo<ModelCase>& info) {
  std::string name = info.param.model;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

// Layer-for-layer equality with the reference implementation's prototxts.
class ModelMatchesReferenceTest : public ::testing::TestWithParam<ModelCase> {};

// Compares every layer but the data layers with MessageDifferencer (name, type, bottoms, tops,
// param specs, the type's *_param, loss_param, and every other field, presence included).
void ExpectSameLayers(const std::string& ours_path, const std::string& reference_path) {
  SCOPED_TRACE(ours_path + " vs " + reference_path);
  const NetParameter ours = ReadNetParamFromTextFile(ours_path);
  const NetParameter reference = ReadNetParamFromTextFile(reference_path);
  std::vector<const LayerParameter*> a, b;
  for (const LayerParameter& layer : ours.layer())
    if (!IsDataLayer(layer)) a.push_back(&layer);
  for (const LayerParameter& layer : reference.layer())
    if (!IsDataLayer(layer)) b.push_back(&layer);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 20u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    google::protobuf::util::MessageDifferencer differencer;
    std::string report;
    differencer.ReportDifferencesToString(&report);
    EXPECT_TRUE(differencer.Compare(*a[i], *b[i]))
        << "layer " << i << " (\"" << b[i]->name() << "\", " << b[i]->type() << "):\n"
        << report;
  }
}

// The data layer: an LMDB Data layer with the reference Python layer's name and tops, batch
// 1, shuffled with seed 1337 for training only.
void ExpectDataLayer(const std::string& ours_path, const std::string& reference_path, bool train) {
  SCOPED_TRACE(ours_path);
  const NetParameter ours = ReadNetParamFromTextFile(ours_path);
  const NetParameter reference = ReadNetParamFromTextFile(reference_path);
  ASSERT_GT(ours.layer_size(), 0);
  ASSERT_GT(reference.layer_size(), 0);
  const LayerParameter& data = ours.layer(0);
  const LayerParameter& python = reference.layer(0);
  ASSERT_EQ(python.type(), "Python");
  EXPECT_EQ(data.type(), "Data");
  EXPECT_EQ(data.name(), python.name());
  EXPECT_EQ(std::vector<std::string>(data.top().begin(), data.top().end()),
            std::vector<std::string>(python.top().begin(), python.top().end()));
  EXPECT_EQ(data.data_param().backend(), DataParameter::LMDB);
  EXPECT_EQ(data.data_param().batch_size(), 1u);
  EXPECT_EQ(data.data_param().shuffle(), train);
  EXPECT_EQ(data.data_param().seed(), 1337u);
  EXPECT_FALSE(data.data_param().source().empty());
  // Every image top is mean-subtracted: by transform_param or by its own field_transform.
  const bool per_field = data.data_param().field_transform_size() > 0;
  EXPECT_TRUE(per_field || data.transform_param().mean_value_size() == 3);
  if (per_field) {
    EXPECT_EQ(data.data_param().field_transform_size(), data.top_size());
  }
}

TEST_P(ModelMatchesReferenceTest, TrainValAndDeployEqualTheReferenceLayerForLayer) {
  const ModelCase& c = GetParam();
  if (test::SharedDir().empty() || !fs::is_directory(test::SharedDir() + "/reference")) {
    GTEST_SKIP() << "../shared is absent (set FCN_SHARED_DIR): skipping the reference comparison";
  }
  ExpectSameLayers(ModelPath(c.model, "train"), ReferencePath(c.reference, c.reference_train));
  ExpectSameLayers(ModelPath(c.model, "val"), ReferencePath(c.reference, c.reference_val));
  ExpectDataLayer(ModelPath(c.model, "train"), ReferencePath(c.reference, c.reference_train),
                  /*train=*/true);
  ExpectDataLayer(ModelPath(c.model, "val"), ReferencePath(c.reference, c.reference_val),
                  /*train=*/false);
  // Only voc-fcn8s has a reference deploy net; the others must be the val net without data
  // layer, Dropout and loss.
  const NetParameter deploy = ReadNetParamFromTextFile(ModelPath(c.model, "deploy"));
  if (fs::exists(ReferencePath(c.reference, "deploy"))) {
    ExpectSameLayers(ModelPath(c.model, "deploy"), ReferencePath(c.reference, "deploy"));
  }
  const NetParameter val = ReadNetParamFromTextFile(ModelPath(c.model, "val"));
  std::vector<std::string> expected, actual;
  for (const LayerParameter& layer : val.layer()) {
    if (!IsDataLayer(layer) && layer.type() != "Dropout" && layer.type() != "SoftmaxWithLoss")
      expected.push_back(layer.name());
  }
  for (const LayerParameter& layer : deploy.layer()) {
    if (!IsDataLayer(layer)) actual.push_back(layer.name());
  }
  EXPECT_EQ(actual, expected);
  ASSERT_GT(deploy.layer_size(), 0);
  EXPECT_EQ(deploy.layer(0).type(), "Input");
  EXPECT_EQ(deploy.layer(0).name(), "input");
}

std::vector<ModelCase> ReferenceModels() {
  std::vector<ModelCase> cases;
  for (const ModelCase& c : AllModels()) {
    if (!c.reference.empty()) cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fcn, ModelMatchesReferenceTest, ::testing::ValuesIn(ReferenceModels()),
                         CaseName);

// Crop offsets: what each file states equals what fcn's coordinate-map analysis derives, for
// every net of every model (no ../shared needed).
class ModelCropOffsetTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelCropOffsetTest, EveryCropOffsetEqualsTheDerivedOne) {
  const ModelCase& c = GetParam();
  for (const char* file : {"train", "val", "deploy"}) {
    SCOPED_TRACE(ModelPath(c.model, file));
    NetParameter param =
        WithInputLayer(ReadNetParamFromTextFile(ModelPath(c.model, file)), c.height, c.width);
    Net::SetState(NetStateOptions{std::string(file) == "train" ? TRAIN : TEST, 0, {}}, &param);
    const CoordMapAnalysis analysis(param);
    ASSERT_FALSE(analysis.crops().empty());
    std::set<int> offsets;
    for (const CropDerivation& d : analysis.crops()) {
      EXPECT_TRUE(d.matches()) << d.layer << ": " << d.problem << " file offset "
                               << (d.file_offsets.empty() ? -1 : d.file_offsets[0]);
      // One offset in the file, applying to both spatial axes.
      ASSERT_EQ(d.file_offsets.size(), 2u) << d.layer;
      EXPECT_EQ(d.file_offsets[0], d.file_offsets[1]) << d.layer;
      offsets.insert(d.file_offsets[0]);
    }
    // The FCN offsets (fcn-reference.md section 7.4): 19 (32s), 5 and 27 (16s), 5, 9 and 31
    // (8s), 18 for AlexNet's 63-wide deconvolution.
    const std::string& m = c.model;
    const std::set<int> expected = m == "voc-fcn-alexnet"                  ? std::set<int>{18}
                                   : m.find("fcn32s") != std::string::npos ? std::set<int>{19}
                                   : m.find("fcn16s") != std::string::npos
                                       ? std::set<int>{5, 27}
                                       : std::set<int>{5, 9, 31};
    EXPECT_EQ(offsets, expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Fcn, ModelCropOffsetTest, ::testing::ValuesIn(AllModels()), CaseName);

// The narrow nets are small enough to build here at their dataset size: every score map
// comes out at the input size, and a forward pass runs.
class NarrowModelBuildTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(NarrowModelBuildTest, BuildsAndRunsAtItsDatasetSize) {
  const ModelCase& c = GetParam();
  for (const char* file : {"train", "val", "deploy"}) {
    SCOPED_TRACE(ModelPath(c.model, file));
    NetSource source;
    NetParameter param = WithInputLayer(ReadNetParamFromTextFile(ModelPath(c.model, file), &source),
                                        c.height, c.width);
    const bool train = std::string(file) == "train";
    Net::SetState(NetStateOptions{train ? TRAIN : TEST, 0, {}}, &param);
    std::unique_ptr<Net> net;
    ASSERT_NO_THROW(net = std::make_unique<Net>(param, &source));
    ASSERT_TRUE(net->has_blob("score"));
    const int classes = c.model.rfind("camvid", 0) == 0 ? 11 : 6;
    EXPECT_EQ(net->blob_by_name("score")->shape(),
              (std::vector<std::int64_t>{1, classes, c.height, c.width}));
    // Another whole-image size: the crops stay in bounds and the output follows the input.
    for (Blob* input : net->input_blobs()) {
      input->Reshape({1, input->shape(1), c.height - 37, c.width + 21});
    }
    net->Reshape();
    EXPECT_EQ(net->blob_by_name("score")->shape(),
              (std::vector<std::int64_t>{1, classes, c.height - 37, c.width + 21}));
    if (!train) continue;
    // Score layers and deconvolutions have no filler: the scores start at 0, the softmax is
    // uniform and the per-pixel mean loss is ln(classes) whatever the image.
    for (Blob* input : net->input_blobs()) {
      if (input->shape(1) == 1) {
        std::fill_n(input->mutable_cpu_data(), input->count(), 1.0f);
      } else {
        test::FillUniform(input, 7, -100.0f, 100.0f);
      }
    }
    EXPECT_NEAR(net->Forward(), std::log(static_cast<float>(classes)), 1e-5);
  }
}

std::vector<ModelCase> NarrowModels() {
  std::vector<ModelCase> cases;
  for (const ModelCase& c : AllModels()) {
    if (c.reference.empty()) cases.push_back(c);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Narrow, NarrowModelBuildTest, ::testing::ValuesIn(NarrowModels()),
                         CaseName);

}  // namespace
}  // namespace fcn
