// SPDX-License-Identifier: BSD-2-Clause
// SoftmaxWithLoss layer: configuration and data errors, shapes, the loss and its gradient
// against a plain reference for every normalization mode (ignore_label, legacy `normalize`,
// the clamp of the normalizer and of log), loss weights, the probability top, and finite
// differences on the scores.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/rng.h"
#include "support/gradient_checker.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using test::SetValues;

using ::testing::HasSubstr;

std::string LossText(const std::string& extra) {
  return R"pb(name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss")pb" +
         extra;
}

// Integer labels in [0, classes), with about one in four replaced by `ignore` when >= 0.
std::unique_ptr<Blob> LabelBlob(const std::vector<std::int64_t>& shape, int classes,
                                std::uint32_t seed, int ignore = -1) {
  auto blob = std::make_unique<Blob>(shape);
  Rng rng(seed);
  float* d = blob->mutable_cpu_data();
  for (std::int64_t i = 0; i < blob->count(); ++i) {
    d[i] = static_cast<float>(rng.UniformInt(static_cast<std::uint32_t>(classes)));
    if (ignore >= 0 && rng.UniformInt(4) == 0) d[i] = static_cast<float>(ignore);
  }
  return blob;
}

enum class Mode { kFull, kValid, kBatchSize, kNone };

struct Expected {
  double loss = 0.0;
  std::vector<float> grad;
};

// The definition, in double, for scores laid out N x C x (spatial) with the class axis 1.
Expected ReferenceLoss(const Blob& scores, const Blob& labels, Mode mode, int ignore_label,
                       double loss_weight) {
  const std::int64_t n = scores.shape(0), c = scores.shape(1), inner = scores.count(2);
  const float* x = scores.cpu_data();
  std::vector<double> p(static_cast<std::size_t>(scores.count()));
  double sum = 0.0;
  std::int64_t valid = 0;
  for (std::int64_t o = 0; o < n; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t k) { return static_cast<std::size_t>((o * c + k) * inner + i); };
      double m = x[at(0)];
      for (std::int64_t k = 1; k < c; ++k) m = std::max(m, static_cast<double>(x[at(k)]));
      double z = 0.0;
      for (std::int64_t k = 0; k < c; ++k) z += std::exp(x[at(k)] - m);
      for (std::int64_t k = 0; k < c; ++k) p[at(k)] = std::exp(x[at(k)] - m) / z;
      const int label = static_cast<int>(labels.cpu_data()[o * inner + i]);
      if (label == ignore_label) continue;
      ++valid;
      sum -= std::log(std::max(p[at(label)], static_cast<double>(FLT_MIN)));
    }
  }
  double normalizer = 1.0;
  if (mode == Mode::kFull) normalizer = static_cast<double>(n * inner);
  if (mode == Mode::kValid) normalizer = static_cast<double>(valid);
  if (mode == Mode::kBatchSize) normalizer = static_cast<double>(n);
  normalizer = std::max(normalizer, 1.0);
  Expected e;
  e.loss = sum / normalizer;
  e.grad.assign(p.size(), 0.0f);
  for (std::int64_t o = 0; o < n; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      const int label = static_cast<int>(labels.cpu_data()[o * inner + i]);
      if (label == ignore_label) continue;
      for (std::int64_t k = 0; k < c; ++k) {
        const auto j = static_cast<std::size_t>((o * c + k) * inner + i);
        e.grad[j] = static_cast<float>(loss_weight / normalizer * (p[j] - (k == label ? 1 : 0)));
      }
    }
  }
  return e;
}

struct Result {
  float loss = 0.0f;        // top[0]
  float weighted = 0.0f;    // what Forward returns
  std::vector<float> grad;  // scores diff
};

// SetUp, Forward and Backward (to the scores) on copies of the given blobs.
Result RunLoss(const std::string& text, const Blob& scores, const Blob& labels) {
  Blob x(scores.shape()), label(labels.shape()), loss;
  x.CopyFrom(scores);
  label.CopyFrom(labels);
  auto layer = MakeLayer(text);
  layer->SetUp({&x, &label}, {&loss});
  Result r;
  r.weighted = layer->Forward(ExecContext(), {&x, &label}, {&loss});
  r.loss = loss.cpu_data()[0];
  layer->Backward(ExecContext(), {&loss}, {true, false}, {&x, &label});
  r.grad = Diff(x);
  return r;
}

// 1. Configuration and data errors.

TEST(SoftmaxWithLossLayerConfig, RejectsLabelCountOtherThanPositions) {
  auto layer = MakeLayer(LossText(""));
  Blob x({2, 3, 4, 5}), label({2, 1, 4, 4}), loss;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &label}, {&loss});
              }),
              HasSubstr("label count 32 (shape 2x1x4x4) must equal the number of score "
                        "positions 40"));
}

TEST(SoftmaxWithLossLayerConfig, RejectsDifferentFirstDimension) {
  auto layer = MakeLayer(LossText(""));
  Blob x({2, 3, 4, 5}), label({4, 1, 2, 5}), loss;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &label}, {&loss});
              }),
              HasSubstr("scores and labels must have the same first dimension: scores "
                        "2x3x4x5, labels 4x1x2x5"));
}

TEST(SoftmaxWithLossLayerConfig, RejectsSoftmaxAxisOutOfRange) {
  auto layer = MakeLayer(LossText("softmax_param { axis: 4 }"));
  Blob x({2, 3, 4, 5}), label({2, 1, 4, 5}), loss;
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->SetUp({&x, &label}, {&loss});
              }),
              HasSubstr("axis 4 out of range for a 4-D blob"));
}

TEST(SoftmaxWithLossLayerConfig, RejectsLabelOutsideClassesAtForward) {
  Blob x({1, 3, 2, 2}), label({1, 1, 2, 2}), loss;
  SetValues(&label, {0, 2, 1, 5}, /*diff=*/false);
  auto layer = MakeLayer(LossText(""));
  layer->SetUp({&x, &label}, {&loss});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&x, &label}, {&loss});
              }),
              HasSubstr("label 5 at position 3 (outer 0, inner 3) of the label blob 1x1x2x2 is "
                        "outside [0, 3) and no ignore_label is set"));
}

TEST(SoftmaxWithLossLayerConfig, RejectsNegativeLabelThatIsNotIgnoreLabel) {
  Blob x({1, 3, 2, 2}), label({1, 1, 2, 2}), loss;
  SetValues(&label, {255, -1, 1, 2}, /*diff=*/false);
  auto layer = MakeLayer(LossText("loss_param { ignore_label: 255 }"));
  layer->SetUp({&x, &label}, {&loss});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Forward(ExecContext(), {&x, &label}, {&loss});
              }),
              HasSubstr("label -1 at position 1 (outer 0, inner 1) of the label blob 1x1x2x2 is "
                        "outside [0, 3) and is not ignore_label 255"));
}

TEST(SoftmaxWithLossLayerConfig, RejectsBackwardToLabels) {
  auto x = GaussianBlob({1, 3, 2, 2}, /*seed=*/1);
  auto label = LabelBlob({1, 1, 2, 2}, 3, /*seed=*/2);
  Blob loss;
  auto layer = MakeLayer(LossText(""));
  layer->SetUp({x.get(), label.get()}, {&loss});
  layer->Forward(ExecContext(), {x.get(), label.get()}, {&loss});
  EXPECT_THAT(ConfigErrorOf([&] {
                layer->Backward(ExecContext(), {&loss}, {true, true}, {x.get(), label.get()});
              }),
              HasSubstr("SoftmaxWithLoss cannot back-propagate to its label input"));
  EXPECT_FALSE(layer->AllowForceBackward(1));
}

TEST(SoftmaxWithLossLayerConfig, RejectsProbabilityTopWithOneLossWeight) {
  Blob x({1, 3, 2, 2}), label({1, 1, 2, 2}), loss, prob;
  for (const char* weights : {"", "loss_weight: 1 "}) {
    auto layer = MakeLayer(LossText(std::string("top: \"prob\" ") + weights));
    EXPECT_THAT(ConfigErrorOf([&] {
                  layer->SetUp({&x, &label}, {&loss, &prob});
                }),
                HasSubstr("loss_weight must be given 0 times or once per top: 1 values for 2 tops"))
        << weights;
  }
}

TEST(SoftmaxWithLossLayerConfig, RejectsWrongBlobCountsAndForeignParameters) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "SoftmaxWithLoss" bottom: "a" bottom: "b" bottom: "c")pb");
              }),
              HasSubstr("SoftmaxWithLoss takes 2 bottom blob(s), got 3"));
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "SoftmaxWithLoss"
                               bottom: "a"
                               bottom: "b"
                               top: "l"
                               top: "p"
                               top: "q")pb");
              }),
              HasSubstr("SoftmaxWithLoss takes 1 to 2 top blob(s), got 3"));
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(LossText("pooling_param { kernel_size: 2 }")); }),
              HasSubstr("pooling_param does not apply to a SoftmaxWithLoss layer"));
}

TEST(SoftmaxWithLossLayerConfig, SchemaDeclaresALossWithAutomaticTop) {
  const LayerSchema& schema = MakeLayer(LossText(""))->schema();
  EXPECT_TRUE(schema.loss);
  EXPECT_TRUE(schema.auto_top);
  EXPECT_FALSE(schema.in_place);
  EXPECT_EQ(schema.params, (std::vector<std::string>{"loss_param", "softmax_param"}));
}

// 2. Shapes.

TEST(SoftmaxWithLossLayerShape, LossIsScalarAndProbabilityTakesScoreShape) {
  struct Case {
    std::vector<std::int64_t> scores;
    std::vector<std::int64_t> labels;
    std::string softmax_param;
  };
  const std::vector<Case> cases = {
      {{1, 21, 5, 7}, {1, 1, 5, 7}, ""},   {{2, 21, 5, 7}, {2, 5, 7}, ""},
      {{2, 21, 5, 7}, {2, 35}, "axis: 1"}, {{3, 10}, {3}, ""},
      {{2, 3, 4}, {2, 3}, "axis: -1"},
  };
  for (const Case& c : cases) {
    auto layer = MakeLayer(LossText("top: \"prob\" loss_weight: 1 loss_weight: 0 softmax_param { " +
                                    c.softmax_param + " }"));
    Blob x(c.scores), label(c.labels), loss({4, 4}), prob;
    layer->SetUp({&x, &label}, {&loss, &prob});
    EXPECT_EQ(loss.num_axes(), 0) << ShapeString(c.scores);
    EXPECT_EQ(loss.count(), 1);
    EXPECT_EQ(prob.shape(), c.scores);
  }
}

// 3. Forward and backward against the reference.

class SoftmaxWithLossLayerModes : public ::testing::Test {
 protected:
  // N = 2 so that BATCH_SIZE differs from NONE; some labels are the ignore label 255.
  std::unique_ptr<Blob> scores_ = GaussianBlob({2, 4, 3, 5}, /*seed=*/1701, 0.0f, 2.0f);
  std::unique_ptr<Blob> labels_ = LabelBlob({2, 1, 3, 5}, 4, /*seed=*/1702, /*ignore=*/255);

  void ExpectMatches(const std::string& loss_param, Mode mode, int ignore_label) {
    const Result r = RunLoss(LossText("loss_param { " + loss_param + " }"), *scores_, *labels_);
    const Expected e = ReferenceLoss(*scores_, *labels_, mode, ignore_label, 1.0);
    EXPECT_NEAR(r.loss, e.loss, 1e-5 * std::max(1.0, e.loss)) << loss_param;
    EXPECT_EQ(r.weighted, r.loss) << loss_param;
    EXPECT_TRUE(AllNear(r.grad, e.grad, 1e-6f, 1e-4f)) << loss_param;
  }
};

TEST_F(SoftmaxWithLossLayerModes, FullCountsIgnoredPositions) {
  ExpectMatches("ignore_label: 255 normalization: FULL", Mode::kFull, 255);
}

TEST_F(SoftmaxWithLossLayerModes, ValidCountsOnlyLabelledPositions) {
  ExpectMatches("ignore_label: 255 normalization: VALID", Mode::kValid, 255);
  ExpectMatches("ignore_label: 255", Mode::kValid, 255);
}

TEST_F(SoftmaxWithLossLayerModes, FullAndValidDifferByTheIgnoredCount) {
  const Result full =
      RunLoss(LossText("loss_param { ignore_label: 255 normalization: FULL }"), *scores_, *labels_);
  const Result valid = RunLoss(LossText("loss_param { ignore_label: 255 }"), *scores_, *labels_);
  int ignored = 0;
  for (float l : Data(*labels_)) ignored += l == 255.0f ? 1 : 0;
  ASSERT_GT(ignored, 0);
  EXPECT_NEAR(full.loss * 30.0 / (30 - ignored), valid.loss, 1e-5 * valid.loss);
}

TEST_F(SoftmaxWithLossLayerModes, BatchSizeDividesByN) {
  ExpectMatches("ignore_label: 255 normalization: BATCH_SIZE", Mode::kBatchSize, 255);
}

TEST_F(SoftmaxWithLossLayerModes, NoneSums) {
  ExpectMatches("ignore_label: 255 normalization: NONE", Mode::kNone, 255);
}

TEST_F(SoftmaxWithLossLayerModes, LegacyNormalizeFalseMeansBatchSize) {
  ExpectMatches("ignore_label: 255 normalize: false", Mode::kBatchSize, 255);
  const Result legacy =
      RunLoss(LossText("loss_param { ignore_label: 255 normalize: false }"), *scores_, *labels_);
  const Result none =
      RunLoss(LossText("loss_param { ignore_label: 255 normalization: NONE }"), *scores_, *labels_);
  EXPECT_NEAR(legacy.loss * 2.0, none.loss, 1e-5 * none.loss) << "normalize: false is not NONE";
}

TEST_F(SoftmaxWithLossLayerModes, LegacyNormalizeTrueMeansValid) {
  ExpectMatches("ignore_label: 255 normalize: true", Mode::kValid, 255);
}

TEST_F(SoftmaxWithLossLayerModes, NormalizationOverridesLegacyNormalize) {
  ExpectMatches("ignore_label: 255 normalize: true normalization: NONE", Mode::kNone, 255);
  ExpectMatches("ignore_label: 255 normalize: false normalization: FULL", Mode::kFull, 255);
}

TEST(SoftmaxWithLossLayerForward, WithoutIgnoreLabelValidIsTheMeanOverPositions) {
  auto scores = GaussianBlob({2, 3, 2, 2}, /*seed=*/3);
  auto labels = LabelBlob({2, 1, 2, 2}, 3, /*seed=*/4);
  const Result r = RunLoss(LossText(""), *scores, *labels);
  const Expected e = ReferenceLoss(*scores, *labels, Mode::kFull, /*ignore_label=*/-1, 1.0);
  EXPECT_NEAR(r.loss, e.loss, 1e-6 * e.loss);
  EXPECT_TRUE(AllNear(r.grad, e.grad, 1e-6f, 1e-4f));
}

TEST(SoftmaxWithLossLayerForward, ClassificationScoresWithOneLabelPerRow) {
  auto scores = GaussianBlob({3, 5}, /*seed=*/5);
  Blob labels({3});
  SetValues(&labels, {4, 0, 2}, /*diff=*/false);
  const Result r = RunLoss(LossText(""), *scores, labels);
  double expected = 0.0;
  for (int row = 0; row < 3; ++row) {
    const float* s = scores->cpu_data() + row * 5;
    double z = 0.0;
    for (int k = 0; k < 5; ++k) z += std::exp(static_cast<double>(s[k]));
    expected -=
        std::log(std::exp(static_cast<double>(s[static_cast<int>(labels.cpu_data()[row])])) / z);
  }
  EXPECT_NEAR(r.loss, expected / 3.0, 1e-6);
}

TEST(SoftmaxWithLossLayerForward, AllIgnoredGivesZeroLossNotNaN) {
  auto scores = GaussianBlob({1, 3, 2, 2}, /*seed=*/6);
  Blob labels({1, 1, 2, 2});
  SetValues(&labels, std::vector<float>(4, 255.0f), /*diff=*/false);
  const Result r = RunLoss(LossText("loss_param { ignore_label: 255 }"), *scores, labels);
  EXPECT_EQ(r.loss, 0.0f) << "the VALID normalizer 0 is clamped to 1";
  EXPECT_EQ(r.grad, std::vector<float>(12, 0.0f));
}

TEST(SoftmaxWithLossLayerForward, UnderflowedProbabilityIsClampedToFltMin) {
  // Class 1 scores 200 below class 0: its probability exp(-200) underflows to 0 in float.
  Blob scores({1, 2, 1, 3}), labels({1, 1, 1, 3});
  SetValues(&scores, {0, 0, 0, -200, -200, -200}, /*diff=*/false);
  SetValues(&labels, {1, 1, 1}, /*diff=*/false);
  const Result r = RunLoss(LossText("loss_param { normalization: NONE }"), scores, labels);
  ASSERT_TRUE(std::isfinite(r.loss));
  EXPECT_NEAR(r.loss, 3 * 87.3365, 1e-3);
  EXPECT_NEAR(r.loss, -3 * std::log(static_cast<double>(FLT_MIN)), 1e-3);
  // The gradient stays finite: p - 1 at the label, p elsewhere.
  EXPECT_TRUE(AllNear(r.grad, {1, 1, 1, -1, -1, -1}, 1e-6f));
}

// Regression: the FLT_MIN clamp was fmaxf(p, FLT_MIN), which turns a NaN probability into
// FLT_MIN and a diverged net's loss into a finite 87.3; Caffe's std::max passes NaN through.
TEST(SoftmaxWithLossLayerForward, NanScoresGiveANanLoss_clamp_hid_nan) {
  Blob scores({1, 2, 1, 2}), labels({1, 1, 1, 2});
  SetValues(&scores, {std::nanf(""), 0, 1, 2}, /*diff=*/false);
  SetValues(&labels, {0, 1}, /*diff=*/false);
  const Result r = RunLoss(LossText("loss_param { normalization: NONE }"), scores, labels);
  EXPECT_TRUE(std::isnan(r.loss));
}

TEST(SoftmaxWithLossLayerForward, LossWeightScalesLossAndGradient) {
  auto scores = GaussianBlob({2, 4, 2, 3}, /*seed=*/7);
  auto labels = LabelBlob({2, 1, 2, 3}, 4, /*seed=*/8, /*ignore=*/255);
  const std::string param = "loss_param { ignore_label: 255 normalize: false } ";
  const Result unit = RunLoss(LossText(param), *scores, *labels);
  const Result weighted = RunLoss(LossText(param + "loss_weight: 2.5"), *scores, *labels);
  const Expected e = ReferenceLoss(*scores, *labels, Mode::kBatchSize, 255, 2.5);
  EXPECT_FLOAT_EQ(weighted.loss, unit.loss) << "top[0] holds the unweighted loss";
  EXPECT_FLOAT_EQ(weighted.weighted, 2.5f * unit.loss);
  EXPECT_TRUE(AllNear(weighted.grad, e.grad, 1e-6f, 1e-4f));
}

TEST(SoftmaxWithLossLayerForward, GradientReadsLossWeightFromTopDiff) {
  auto scores = GaussianBlob({1, 3, 2, 2}, /*seed=*/9);
  auto labels = LabelBlob({1, 1, 2, 2}, 3, /*seed=*/10);
  Blob loss;
  auto layer = MakeLayer(LossText(""));
  layer->SetUp({scores.get(), labels.get()}, {&loss});
  layer->Forward(ExecContext(), {scores.get(), labels.get()}, {&loss});
  loss.mutable_cpu_diff()[0] = -0.5f;
  layer->Backward(ExecContext(), {&loss}, {true, false}, {scores.get(), labels.get()});
  const Expected e = ReferenceLoss(*scores, *labels, Mode::kValid, -1, -0.5);
  EXPECT_TRUE(AllNear(Diff(*scores), e.grad, 1e-6f, 1e-4f));
}

TEST(SoftmaxWithLossLayerForward, ProbabilityTopHoldsTheSoftmax) {
  auto scores = GaussianBlob({2, 4, 2, 3}, /*seed=*/11);
  auto labels = LabelBlob({2, 1, 2, 3}, 4, /*seed=*/12);
  Blob loss, prob;
  auto layer = MakeLayer(LossText("top: \"prob\" loss_weight: 1 loss_weight: 0"));
  layer->SetUp({scores.get(), labels.get()}, {&loss, &prob});
  const float weighted =
      layer->Forward(ExecContext(), {scores.get(), labels.get()}, {&loss, &prob});
  EXPECT_EQ(weighted, loss.cpu_data()[0]) << "the probability top has weight 0";
  std::vector<float> expected;
  for (std::int64_t o = 0; o < 2; ++o) {
    for (std::int64_t k = 0; k < 4; ++k) {
      for (std::int64_t i = 0; i < 6; ++i) {
        double z = 0.0;
        for (std::int64_t j = 0; j < 4; ++j)
          z += std::exp(static_cast<double>(scores->cpu_data()[(o * 4 + j) * 6 + i]));
        expected.push_back(static_cast<float>(
            std::exp(static_cast<double>(scores->cpu_data()[(o * 4 + k) * 6 + i])) / z));
      }
    }
  }
  EXPECT_TRUE(AllNear(Data(prob), expected, 1e-6f, 1e-5f));
  EXPECT_GT(layer->internal_bytes(), 0u);
}

TEST(SoftmaxWithLossLayerBackward, LeavesScoreDiffWhenNotPropagating) {
  auto scores = GaussianBlob({1, 3, 2, 2}, /*seed=*/13);
  auto labels = LabelBlob({1, 1, 2, 2}, 3, /*seed=*/14);
  Blob loss;
  auto layer = MakeLayer(LossText(""));
  layer->SetUp({scores.get(), labels.get()}, {&loss});
  layer->Forward(ExecContext(), {scores.get(), labels.get()}, {&loss});
  SetValues(scores.get(), std::vector<float>(12, 9.0f), /*diff=*/true);
  layer->Backward(ExecContext(), {&loss}, {false, false}, {scores.get(), labels.get()});
  EXPECT_EQ(Diff(*scores), std::vector<float>(12, 9.0f));
}

// 4. Finite differences on the scores (bottom 0); the labels are integers with no gradient.

TEST(SoftmaxWithLossLayerGradient, EveryModeMatchesFiniteDifferences) {
  for (const char* mode : {"VALID", "FULL", "BATCH_SIZE", "NONE"}) {
    auto scores = GaussianBlob({2, 4, 2, 3}, /*seed=*/21);
    auto labels = LabelBlob({2, 1, 2, 3}, 4, /*seed=*/22, /*ignore=*/255);
    Blob loss;
    auto layer = MakeLayer(
        LossText(std::string("loss_param { ignore_label: 255 normalization: ") + mode + " }"));
    layer->SetUp({scores.get(), labels.get()}, {&loss});
    SCOPED_TRACE(mode);
    GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
    checker.CheckLayer(*layer, {scores.get(), labels.get()}, {&loss}, /*bottoms=*/{0});
  }
}

TEST(SoftmaxWithLossLayerGradient, LastAxisMatchesFiniteDifferences) {
  auto scores = GaussianBlob({3, 2, 5}, /*seed=*/23);
  auto labels = LabelBlob({3, 2}, 5, /*seed=*/24);
  Blob loss;
  auto layer = MakeLayer(LossText("softmax_param { axis: -1 }"));
  layer->SetUp({scores.get(), labels.get()}, {&loss});
  GradientChecker checker(/*step=*/1e-2, /*threshold=*/1e-3);
  checker.CheckLayer(*layer, {scores.get(), labels.get()}, {&loss}, /*bottoms=*/{0});
}

// 5. In place: not allowed (the top is a scalar); SchemaDeclaresALossWithAutomaticTop checks it.

}  // namespace
}  // namespace fcn::test
