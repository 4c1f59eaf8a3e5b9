// SPDX-License-Identifier: BSD-2-Clause
// Segmentation metrics: a confusion matrix over labelled pixels and the FCN paper's four
// scores (pixel accuracy, mean accuracy, mean IU, frequency-weighted IU) with the reference
// score.py's rules for absent classes; CSV and PNG heat-map writers for the matrix.
//
// Usage:
//   ConfusionMatrix cm(/*num_classes=*/21, /*ignore_label=*/255);
//   for (...) { net.Forward(); cm.Accumulate(*net.blob_by_name("score"),
//                                            *net.blob_by_name("label")); }
//   const SegmentationScores s = cm.Scores();  // s.mean_iu, s.iu[c], ...
//   WriteConfusionCsv(cm, "confusion_score.csv", names);
//
// See docs/metrics.md for the definitions and the NaN rules.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// Which classes the averaged scores (mean accuracy, mean IU) are taken over.
enum class AbsentClassPolicy {
  /// As the reference score.py (nanmean): a class whose IU is 0/0 (absent from both truth
  /// and prediction) is left out; a class predicted but absent from the truth counts with
  /// IU 0. Mean accuracy is over the classes present in the truth.
  kReference,
  /// Every class absent from the truth is left out of mean IU as well (SIFT Flow's cow,
  /// desert and moon, which its test set lacks; `fcntool score --exclude_absent`).
  kExcludeAbsent,
};

/// The scores of one confusion matrix. Undefined values are NaN (quiet).
struct SegmentationScores {
  double pixel_acc = 0;  ///< sum_i n_ii / sum_i t_i
  double mean_acc = 0;   ///< mean of n_ii / t_i over the classes with t_i > 0
  double mean_iu = 0;    ///< mean of iu[i] over the classes counted (see AbsentClassPolicy)
  double fwavacc = 0;    ///< sum over t_i > 0 of (t_i / sum_k t_k) * iu[i]
  /// Per class: n_ii / (t_i + p_i - n_ii); NaN when 0/0, and under kExcludeAbsent also
  /// for every class with t_i == 0 (an excluded class).
  std::vector<double> iu;
  /// Per class: n_ii / t_i; NaN when t_i == 0.
  std::vector<double> accuracy;
  int classes_counted = 0;  ///< how many classes mean_iu averages over
};

/// An n x n matrix of int64 pixel counts: rows are the ground truth, columns the prediction
/// (n_ij = pixels of class i predicted as class j), as the reference score.py's `hist`.
class ConfusionMatrix {
 public:
  /// Throws ConfigError when num_classes < 1.
  explicit ConfusionMatrix(int num_classes, int ignore_label = 255);

  int num_classes() const { return num_classes_; }
  int ignore_label() const { return ignore_label_; }
  std::int64_t count(int truth, int predicted) const;
  /// All pixels counted (the ignored ones are not).
  std::int64_t total() const;
  /// t_i: pixels whose truth is `c` (row sum).
  std::int64_t truth_count(int c) const;
  /// p_j: pixels predicted as `c` (column sum).
  std::int64_t predicted_count(int c) const;
  /// The counts, row-major (truth * n + predicted).
  const std::vector<std::int64_t>& counts() const { return counts_; }

  /// Adds `n` pixels of truth `truth` predicted as `predicted`. A truth equal to the ignore
  /// label is skipped; any other truth outside [0, n) is a ConfigError naming the value, as
  /// is a prediction outside [0, n).
  void Add(int truth, int predicted, std::int64_t n = 1);
  /// Adds every pixel of a batch: `score` is N x C x (spatial...) with C <= n, `label` holds
  /// N x (spatial...) class indices (a singleton axis 1 is allowed: N x 1 x H x W). The
  /// prediction is the argmax over axis 1 where ties go to the LOWEST index, as NumPy's
  /// argmax in score.py (Caffe's ArgMax layer picks the highest instead). A label that is not
  /// a whole number, or a shape mismatch, is a ConfigError naming `what`, the values and
  /// the shapes.
  void Accumulate(const Blob& score, const Blob& label, const std::string& what = "label");
  /// Adds another matrix of the same size and ignore label.
  void Merge(const ConfusionMatrix& other);
  void Reset();

  /// The four scores and the per-class values.
  SegmentationScores Scores(AbsentClassPolicy policy = AbsentClassPolicy::kReference) const;

 private:
  int num_classes_;
  int ignore_label_;
  std::vector<std::int64_t> counts_;
};

/// The argmax over axis 1 of an N x C x (spatial...) blob for image `n`, ties to the lowest
/// index; one class per spatial position.
std::vector<int> ArgmaxChannels(const Blob& score, std::int64_t n = 0);

/// The ignore label for scoring `label_blob` in `net`: loss_param.ignore_label of the
/// SoftmaxWithLoss layer whose label bottom is that blob (directly or through an inserted
/// Split), else 255 (the void label of VOC, NYUD and SIFT Flow).
int IgnoreLabelFor(const NetParameter& net, const std::string& label_blob);

/// Reads class names, one per line (blank lines and text after '#' are skipped; leading and
/// trailing spaces are trimmed). Throws ConfigError when the file cannot be read or is empty.
std::vector<std::string> ReadClassNames(const std::string& path);

/// Writes the matrix as CSV: a header `truth\predicted,<name_0>,...`, then one row per truth
/// class, `<name_i>,n_i0,...`. Names default to the class indices; when given there must be
/// exactly n of them. Throws RuntimeError when the file cannot be written.
void WriteConfusionCsv(const ConfusionMatrix& matrix, const std::string& path,
                       const std::vector<std::string>& class_names = {});

/// Throws ConfigError (naming `path`) unless `names` is empty or has one name per class.
void CheckClassNames(const ConfusionMatrix& matrix, const std::vector<std::string>& names,
                     const std::string& path);
/// The name of class `c`: names[c], or the index when there are no names.
std::string ClassName(const std::vector<std::string>& names, int c);

}  // namespace fcn
