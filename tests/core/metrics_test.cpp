// SPDX-License-Identifier: BSD-2-Clause
// The confusion matrix and the FCN paper's four metrics against hand-computed matrices:
// ignored pixels, classes absent from the truth or from both truth and prediction, the
// exclude_absent mode, argmax ties (lowest index, as NumPy), and the errors for bad labels.
#include "fcn/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

// A 1 x C x 1 x W score blob whose argmax at position x is pred[x] (score 1 there, 0
// elsewhere) and the matching 1 x 1 x 1 x W label blob.
struct Batch {
  Blob score;
  Blob label;
};

Batch MakeBatch(int channels, const std::vector<int>& truth, const std::vector<int>& pred) {
  const auto w = static_cast<std::int64_t>(truth.size());
  Batch b{Blob({1, channels, 1, w}), Blob({1, 1, 1, w})};
  float* s = b.score.mutable_cpu_data();
  for (std::int64_t i = 0; i < b.score.count(); ++i) s[i] = 0;
  for (std::int64_t x = 0; x < w; ++x) {
    s[pred[static_cast<std::size_t>(x)] * w + x] = 1;
    b.label.mutable_cpu_data()[x] = static_cast<float>(truth[static_cast<std::size_t>(x)]);
  }
  return b;
}

// Rows truth, columns prediction:
//        p0 p1 p2 p3
//   t0 [  4  1  0  0 ]   t0 = 5
//   t1 [  1  3  0  0 ]   t1 = 4
//   t2 [  0  1  0  0 ]   t2 = 1   (never predicted correctly)
//   t3 [  0  0  0  0 ]   t3 = 0   (absent from truth and prediction)
// plus two ignored pixels (255). Column sums: 5 5 0 0, total 10.
ConfusionMatrix HandMatrix(int classes = 4) {
  ConfusionMatrix m(classes, 255);
  const Batch b =
      MakeBatch(3, {0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 255, 255}, {0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 2, 0});
  m.Accumulate(b.score, b.label);
  return m;
}

TEST(ConfusionMatrixTest, CountsTruthRowsAndPredictionColumnsSkippingIgnored) {
  const ConfusionMatrix m = HandMatrix();
  EXPECT_EQ(m.counts(),
            (std::vector<std::int64_t>{4, 1, 0, 0, 1, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(m.total(), 10);
  EXPECT_EQ(m.truth_count(0), 5);
  EXPECT_EQ(m.predicted_count(1), 5);
  EXPECT_EQ(m.predicted_count(2), 0);  // the ignored pixel predicted as 2 is not counted
}

TEST(ConfusionMatrixTest, ScoresMatchTheReferenceRules) {
  const SegmentationScores s = HandMatrix().Scores();
  EXPECT_DOUBLE_EQ(s.pixel_acc, 7.0 / 10.0);
  // Mean accuracy over the classes present in the truth: (4/5 + 3/4 + 0/1) / 3.
  EXPECT_DOUBLE_EQ(s.mean_acc, (0.8 + 0.75 + 0.0) / 3);
  // IU: 4/(5+5-4), 3/(4+5-3), 0/(1+0-0); class 3 is 0/0 and left out.
  EXPECT_DOUBLE_EQ(s.iu[0], 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(s.iu[1], 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(s.iu[2], 0.0);
  EXPECT_TRUE(std::isnan(s.iu[3]));
  EXPECT_TRUE(std::isnan(s.accuracy[3]));
  EXPECT_EQ(s.classes_counted, 3);
  EXPECT_DOUBLE_EQ(s.mean_iu, (4.0 / 6.0 + 0.5 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(s.fwavacc, 0.5 * (4.0 / 6.0) + 0.4 * 0.5 + 0.1 * 0.0);
}

TEST(ConfusionMatrixTest, PredictedButAbsentClassCountsAsZeroUnlessExcluded) {
  // Class 2 is predicted twice but never true: IU 0/(0+2-0) = 0 counts in the reference mean.
  ConfusionMatrix m(3, 255);
  const Batch b = MakeBatch(3, {0, 0, 1, 1}, {0, 2, 1, 2});
  m.Accumulate(b.score, b.label);
  const SegmentationScores ref = m.Scores();
  EXPECT_DOUBLE_EQ(ref.iu[2], 0.0);
  EXPECT_EQ(ref.classes_counted, 3);
  EXPECT_DOUBLE_EQ(ref.mean_iu, (0.5 + 0.5 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(ref.mean_acc, 0.5);  // classes 0 and 1 only
  const SegmentationScores ex = m.Scores(AbsentClassPolicy::kExcludeAbsent);
  EXPECT_TRUE(std::isnan(ex.iu[2]));
  EXPECT_EQ(ex.classes_counted, 2);
  EXPECT_DOUBLE_EQ(ex.mean_iu, 0.5);
  EXPECT_DOUBLE_EQ(ex.mean_acc, 0.5);
  EXPECT_DOUBLE_EQ(ex.pixel_acc, ref.pixel_acc);
  EXPECT_DOUBLE_EQ(ex.fwavacc, ref.fwavacc);
  EXPECT_DOUBLE_EQ(ex.fwavacc, 0.5);
}

TEST(ConfusionMatrixTest, ExcludeAbsentOnTheHandMatrixDropsOnlyUntrueClasses) {
  const SegmentationScores s = HandMatrix().Scores(AbsentClassPolicy::kExcludeAbsent);
  // Class 2 is in the truth (IU 0, kept); class 3 is absent (left out either way).
  EXPECT_EQ(s.classes_counted, 3);
  EXPECT_DOUBLE_EQ(s.mean_iu, (4.0 / 6.0 + 0.5) / 3);
}

TEST(ConfusionMatrixTest, EmptyMatrixScoresAreNaN) {
  const SegmentationScores s = ConfusionMatrix(2).Scores();
  EXPECT_TRUE(std::isnan(s.pixel_acc));
  EXPECT_TRUE(std::isnan(s.mean_acc));
  EXPECT_TRUE(std::isnan(s.mean_iu));
  EXPECT_TRUE(std::isnan(s.fwavacc));
  EXPECT_EQ(s.classes_counted, 0);
}

TEST(ConfusionMatrixTest, ArgmaxTiesGoToTheLowestIndex) {
  // Zero-initialised score layers give all-equal scores: NumPy (score.py) picks class 0,
  // where Caffe's ArgMax layer would pick the last class.
  Blob score({1, 3, 1, 3});
  const std::vector<float> values = {0, 5, 2,   // channel 0
                                     0, 5, 7,   // channel 1
                                     0, 1, 7};  // channel 2
  std::copy(values.begin(), values.end(), score.mutable_cpu_data());
  EXPECT_EQ(ArgmaxChannels(score), (std::vector<int>{0, 0, 1}));
}

TEST(ConfusionMatrixTest, AcceptsLabelWithoutChannelAxisAndMergesBatches) {
  ConfusionMatrix a(2);
  Blob score({2, 2, 1, 1});
  const std::vector<float> s = {1, 0, 0, 1};  // image 0 -> class 0, image 1 -> class 1
  std::copy(s.begin(), s.end(), score.mutable_cpu_data());
  Blob label({2, 1, 1});
  label.mutable_cpu_data()[0] = 0;
  label.mutable_cpu_data()[1] = 0;
  a.Accumulate(score, label);
  ConfusionMatrix b(2);
  b.Merge(a);
  b.Merge(a);
  EXPECT_EQ(b.counts(), (std::vector<std::int64_t>{2, 2, 0, 0}));
}

TEST(ConfusionMatrixErrors, LabelOutsideTheClassesNamesTheValue) {
  ConfusionMatrix m(3, 255);
  const Batch b = MakeBatch(3, {0, 7}, {0, 0});
  EXPECT_THAT(ConfigErrorOf([&] { m.Accumulate(b.score, b.label, "label blob"); }),
              HasSubstr("label value 7 is outside [0, 3) and is not the ignore label 255"));
  const Batch negative = MakeBatch(3, {-1}, {0});
  EXPECT_THAT(ConfigErrorOf([&] { m.Accumulate(negative.score, negative.label); }),
              HasSubstr("label value -1 is outside"));
}

TEST(ConfusionMatrixErrors, OtherIgnoreLabelIsHonoured) {
  ConfusionMatrix m(3, 11);
  const Batch b = MakeBatch(3, {11, 1}, {0, 1});
  m.Accumulate(b.score, b.label);
  EXPECT_EQ(m.total(), 1);
  const Batch bad = MakeBatch(3, {255}, {0});
  EXPECT_THAT(ConfigErrorOf([&] { m.Accumulate(bad.score, bad.label); }),
              HasSubstr("label value 255 is outside [0, 3) and is not the ignore label 11"));
}

TEST(ConfusionMatrixErrors, FractionalLabelAndShapeMismatch) {
  ConfusionMatrix m(2);
  Batch b = MakeBatch(2, {0, 1}, {0, 1});
  b.label.mutable_cpu_data()[1] = 0.5f;
  EXPECT_THAT(ConfigErrorOf([&] { m.Accumulate(b.score, b.label); }),
              HasSubstr("value 0.5 at index 1 is not a class index"));
  Blob small_label({1, 1, 1, 1});
  EXPECT_THAT(ConfigErrorOf([&] { m.Accumulate(b.score, small_label, "label"); }),
              HasSubstr("label shape 1x1x1x1 does not match the score shape 1x2x1x2"));
  ConfusionMatrix narrow(1);
  EXPECT_THAT(ConfigErrorOf([&] { narrow.Accumulate(b.score, b.label); }),
              HasSubstr("has 2 channels, more than the 1 classes scored"));
}

TEST(ConfusionMatrixErrors, NeedsAClass) {
  EXPECT_THAT(ConfigErrorOf([] { ConfusionMatrix m(0); }), HasSubstr("at least 1 class"));
}

TEST(IgnoreLabelForTest, ReadsTheLossLayerThroughSplits) {
  NetParameter net;
  auto* split = net.add_layer();
  split->set_type("Split");
  split->add_bottom("sem");
  split->add_top("sem_data_1_split_0");
  split->add_top("sem_data_1_split_1");
  auto* loss = net.add_layer();
  loss->set_type("SoftmaxWithLoss");
  loss->add_bottom("score_sem");
  loss->add_bottom("sem_data_1_split_1");
  loss->mutable_loss_param()->set_ignore_label(11);
  EXPECT_EQ(IgnoreLabelFor(net, "sem"), 11);
  EXPECT_EQ(IgnoreLabelFor(net, "geo"), 255);
}

}  // namespace
}  // namespace fcn::test
