// SPDX-License-Identifier: BSD-2-Clause
// Accuracy layer: configuration errors, shapes, top_k / ignore_label / per-class accuracy and
// ties against plain loops, and the absence of any gradient (also inside a force_backward net).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/net.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetValues;

using ::testing::HasSubstr;
using Shape = std::vector<std::int64_t>;

std::string AccuracyText(const std::string& accuracy_param, int num_tops = 1) {
  std::string text =
      R"pb(name: "accuracy" type: "Accuracy" bottom: "score" bottom: "label" top: "accuracy")pb";
  if (num_tops > 1) text += R"pb(top: "per_class")pb";
  return text + "accuracy_param { " + accuracy_param + " }";
}

// Labels in [0, classes) drawn from a fixed sequence, with every fifth one set to `ignored`.
std::unique_ptr<Blob> LabelBlob(const Shape& shape, int classes, int ignored) {
  auto blob = std::make_unique<Blob>(shape);
  for (std::int64_t i = 0; i < blob->count(); ++i) {
    blob->mutable_cpu_data()[i] = static_cast<float>(i % 5 == 4 ? ignored : (i * 7 + 3) % classes);
  }
  return blob;
}

struct Outputs {
  float accuracy = 0.0f;
  std::vector<float> per_class;
};

// The definition: a valid position is correct when the number of classes other than the label
// that score at least as high as the label is below top_k.
Outputs ReferenceAccuracy(const Blob& scores, const Blob& label, int axis, int top_k,
                          bool has_ignore, int ignore) {
  const std::int64_t outer = scores.count(0, axis);
  const std::int64_t classes = scores.shape(axis);
  const std::int64_t inner = scores.count(axis + 1);
  std::vector<int> valid(static_cast<std::size_t>(classes), 0);
  std::vector<int> correct(static_cast<std::size_t>(classes), 0);
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t j = 0; j < inner; ++j) {
      const int l = static_cast<int>(label.cpu_data()[o * inner + j]);
      if (has_ignore && l == ignore) continue;
      auto score = [&](std::int64_t c) { return scores.cpu_data()[(o * classes + c) * inner + j]; };
      int at_least_as_high = 0;
      for (std::int64_t c = 0; c < classes; ++c) {
        if (c != l && score(c) >= score(l)) ++at_least_as_high;
      }
      ++valid[static_cast<std::size_t>(l)];
      if (at_least_as_high < top_k) ++correct[static_cast<std::size_t>(l)];
    }
  }
  Outputs e;
  int total_valid = 0, total_correct = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    const auto i = static_cast<std::size_t>(c);
    total_valid += valid[i];
    total_correct += correct[i];
    e.per_class.push_back(valid[i] == 0 ? 0.0f : static_cast<float>(correct[i]) / valid[i]);
  }
  e.accuracy = total_valid == 0 ? 0.0f : static_cast<float>(total_correct) / total_valid;
  return e;
}

Outputs RunAccuracy(const std::string& param, Blob* scores, Blob* label) {
  auto layer = MakeLayer(AccuracyText(param, 2));
  Blob top, per_class;
  layer->SetUp({scores, label}, {&top, &per_class});
  EXPECT_EQ(layer->Forward(ExecContext(), {scores, label}, {&top, &per_class}), 0.0f);
  return {top.cpu_data()[0], Data(per_class)};
}

// 1. Configuration.

TEST(AccuracyLayerConfig, RejectsLabelCountOtherThanPositions) {
  auto layer = MakeLayer(AccuracyText(""));
  Blob scores({2, 21, 4, 4}), label({2, 1, 4, 3}), top;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&scores, &label}, {&top});
              }),
              HasSubstr("label count 24 (shape 2x1x4x3) must equal the number of score positions "
                        "32 (scores 2x21x4x4 without class axis 1)"));
}

TEST(AccuracyLayerConfig, RejectsTopKAboveClassCount) {
  auto layer = MakeLayer(AccuracyText("top_k: 6"));
  Blob scores({2, 5}), label({2}), top;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&scores, &label}, {&top});
              }),
              HasSubstr("Accuracy top_k 6 exceeds the number of classes 5 (scores 2x5, axis 1)"));
}

TEST(AccuracyLayerConfig, RejectsAxisOutOfRange) {
  auto layer = MakeLayer(AccuracyText("axis: 2"));
  Blob scores({2, 5}), label({2}), top;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&scores, &label}, {&top});
              }),
              HasSubstr("axis 2 out of range for a 2-D blob of shape 2x5"));
}

TEST(AccuracyLayerConfig, RejectsLabelOutsideTheClassesOnForward) {
  Blob scores({1, 3, 1, 2}), label({1, 1, 1, 2}), top;
  SetValues(&label, {1, 3});
  auto layer = MakeLayer(AccuracyText("ignore_label: 255"));
  layer->SetUp({&scores, &label}, {&top});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&scores, &label}, {&top});
              }),
              HasSubstr("label 3 at position 1 of the label blob 1x1x1x2 is outside [0, 3) and is "
                        "not ignore_label 255"));
}

// 2. Shapes.

TEST(AccuracyLayerShape, ScalarAccuracyAndOnePerClassValue) {
  struct Case {
    std::string param;
    Shape scores;
    Shape label;
    std::int64_t classes;
  };
  const std::vector<Case> cases = {
      {"", {1, 21, 5, 7}, {1, 1, 5, 7}, 21},
      {"", {10, 4}, {10}, 4},
      {"axis: -1", {2, 3, 6}, {2, 3}, 6},
      {"axis: 0", {5, 2, 2}, {2, 2}, 5},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(AccuracyText(c.param, 2));
    Blob scores(c.scores), label(c.label), top({7}), per_class;
    layer->SetUp({&scores, &label}, {&top, &per_class});
    EXPECT_EQ(top.shape(), Shape{}) << c.param;
    EXPECT_EQ(top.count(), 1) << c.param;
    EXPECT_EQ(per_class.shape(), Shape{c.classes}) << c.param;
  }
}

// 3. Forward against the reference.

TEST(AccuracyLayerForward, MatchesLoopsForTopKIgnoreLabelAndAxes) {
  struct Case {
    std::string param;
    Shape scores;
    Shape label;
    int axis;
    int top_k;
    bool has_ignore;
  };
  const std::vector<Case> cases = {
      {"", {2, 6, 3, 4}, {2, 1, 3, 4}, 1, 1, false},
      {"top_k: 3", {2, 6, 3, 4}, {2, 1, 3, 4}, 1, 3, false},
      {"ignore_label: 255", {2, 6, 3, 4}, {2, 1, 3, 4}, 1, 1, true},
      {"top_k: 2 ignore_label: 255", {2, 6, 3, 4}, {2, 1, 3, 4}, 1, 2, true},
      {"axis: -1 top_k: 2", {3, 4, 6}, {3, 4}, 2, 2, false},
      {"axis: 0", {6, 5}, {5}, 0, 1, false},
  };
  for (const Case& c : cases) {
    auto scores = GaussianBlob(c.scores, /*seed=*/21);
    auto label = LabelBlob(c.label, 6, c.has_ignore ? 255 : 5);
    const Outputs e = ReferenceAccuracy(*scores, *label, c.axis, c.top_k, c.has_ignore, 255);
    const Outputs r = RunAccuracy(c.param, scores.get(), label.get());
    EXPECT_FLOAT_EQ(r.accuracy, e.accuracy) << c.param;
    EXPECT_TRUE(AllNear(r.per_class, e.per_class, 1e-7f, 1e-6f)) << c.param;
    EXPECT_GT(e.accuracy, 0.0f) << c.param;
    EXPECT_LT(e.accuracy, 1.0f) << c.param;
  }
}

TEST(AccuracyLayerForward, KnownValuesWithPerClassAccuracy) {
  // Four positions over 3 classes (N x C layout); the label is in the first column.
  //   label 0, scores {3, 1, 2}: correct
  //   label 1, scores {3, 1, 2}: wrong (two classes above)
  //   label 2, scores {0, 1, 5}: correct
  //   label 2, scores {9, 1, 5}: wrong
  Blob scores({4, 3}), label({4});
  SetValues(&scores, {3, 1, 2, 3, 1, 2, 0, 1, 5, 9, 1, 5});
  SetValues(&label, {0, 1, 2, 2});
  const Outputs r = RunAccuracy("", &scores, &label);
  EXPECT_EQ(r.accuracy, 0.5f);
  EXPECT_EQ(r.per_class, (std::vector<float>{1.0f, 0.0f, 0.5f}));
  const Outputs r2 = RunAccuracy("top_k: 2", &scores, &label);
  EXPECT_EQ(r2.accuracy, 0.75f);
  EXPECT_EQ(r2.per_class, (std::vector<float>{1.0f, 0.0f, 1.0f}));
}

TEST(AccuracyLayerForward, TiesCountAgainstTheTrueClass) {
  // Label 1; class 0 ties it and class 2 is below: one class at least as high, so wrong at
  // top_k 1 and right at top_k 2. All equal: two classes tie, wrong until top_k 3.
  Blob scores({2, 3}), label({2});
  SetValues(&scores, {4, 4, 1, 2, 2, 2});
  SetValues(&label, {1, 0});
  EXPECT_EQ(RunAccuracy("top_k: 1", &scores, &label).accuracy, 0.0f);
  EXPECT_EQ(RunAccuracy("top_k: 2", &scores, &label).accuracy, 0.5f);
  EXPECT_EQ(RunAccuracy("top_k: 3", &scores, &label).accuracy, 1.0f);
}

TEST(AccuracyLayerForward, IgnoredPositionsCountNowhere) {
  Blob scores({1, 2, 1, 3}), label({1, 1, 1, 3});
  SetValues(&scores, {1, 0, 0, 0, 1, 1});  // class 0 wins, class 1 wins, class 1 wins
  SetValues(&label, {0, 255, 0});
  const Outputs r = RunAccuracy("ignore_label: 255", &scores, &label);
  EXPECT_EQ(r.accuracy, 0.5f);
  EXPECT_EQ(r.per_class, (std::vector<float>{0.5f, 0.0f}));
}

TEST(AccuracyLayerForward, NothingValidGivesZero) {
  Blob scores({2, 3}), label({2});
  SetValues(&scores, {1, 2, 3, 4, 5, 6});
  SetValues(&label, {-1, -1});
  const Outputs r = RunAccuracy("ignore_label: -1", &scores, &label);
  EXPECT_EQ(r.accuracy, 0.0f);
  EXPECT_EQ(r.per_class, (std::vector<float>{0.0f, 0.0f, 0.0f}));
}

// 4. No gradient.

TEST(AccuracyLayerBackward, RefusesForcedBackwardOnEveryBottom) {
  auto layer = MakeLayer(AccuracyText(""));
  EXPECT_FALSE(layer->AllowForceBackward(0));
  EXPECT_FALSE(layer->AllowForceBackward(1));
  EXPECT_FALSE(layer->schema().loss);
}

TEST(AccuracyLayerBackward, ThrowsWhenAGradientIsRequested) {
  auto layer = MakeLayer(AccuracyText(""));
  Blob scores({2, 3}), label({2}), top;
  layer->SetUp({&scores, &label}, {&top});
  layer->Forward(ExecContext(), {&scores, &label}, {&top});
  layer->Backward(ExecContext(), {&top}, {false, false}, {&scores, &label});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Backward(ExecContext(), {&top}, {true, false}, {&scores, &label});
              }),
              HasSubstr("cannot back-propagate"));
}

TEST(AccuracyLayerNet, ForceBackwardNetRunsBackwardPastAccuracy) {
  auto net =
      MakeNet(
          R"pb(
            name: "acc"
            force_backward: true
            layer {
              name: "data"
              type: "DummyData"
              top: "data"
              top: "label"
              dummy_data_param {
                shape { dim: 2 dim: 3 dim: 2 dim: 2 }
                shape { dim: 2 dim: 1 dim: 2 dim: 2 }
                data_filler { type: "gaussian" std: 1 }
                data_filler { type: "constant" value: 1 }
              }
            }
            layer {
              name: "score"
              type: "Convolution"
              bottom: "data"
              top: "score"
              convolution_param {
                num_output: 3
                kernel_size: 1
                weight_filler { type: "gaussian" std: 0.1 }
              }
            }
            layer {
              name: "loss"
              type: "SoftmaxWithLoss"
              bottom: "score"
              bottom: "label"
              top: "loss"
            }
            layer {
              name: "accuracy"
              type: "Accuracy"
              bottom: "score"
              bottom: "label"
              top: "accuracy"
            })pb");
  const float loss = net->ForwardBackward();
  EXPECT_GT(loss, 0.0f);
  const float accuracy = net->blob_by_name("accuracy")->cpu_data()[0];
  EXPECT_GE(accuracy, 0.0f);
  EXPECT_LE(accuracy, 1.0f);
  // The convolution weights still get their gradient from the loss.
  EXPECT_GT(net->layer_by_name("score")->blobs()[0]->sumsq_diff(), 0.0);
}

// 5. In place: not allowed (the top is a scalar).

TEST(AccuracyLayerInPlace, SchemaForbidsInPlace) {
  EXPECT_FALSE(MakeLayer(AccuracyText(""))->schema().in_place);
}

}  // namespace
}  // namespace fcn::test
