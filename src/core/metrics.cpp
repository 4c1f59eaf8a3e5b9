// SPDX-License-Identifier: BSD-2-Clause
// The confusion matrix, the FCN paper's four scores and the matrix writers (CSV, PNG).
#include "fcn/metrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "fcn/common.h"

namespace fcn {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Ratio(double num, double den) { return den == 0 ? kNaN : num / den; }

// NumPy's nanmean: the mean of the values that are not NaN, NaN when there are none.
double NanMean(const std::vector<double>& values, int* counted) {
  double sum = 0;
  int n = 0;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  if (counted != nullptr) *counted = n;
  return n == 0 ? kNaN : sum / n;
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(int num_classes, int ignore_label)
    : num_classes_(num_classes), ignore_label_(ignore_label) {
  if (num_classes < 1) {
    throw ConfigError(StrCat("a confusion matrix needs at least 1 class, got ", num_classes));
  }
  counts_.assign(static_cast<std::size_t>(num_classes) * static_cast<std::size_t>(num_classes), 0);
}

std::int64_t ConfusionMatrix::count(int truth, int predicted) const {
  FCN_CHECK(truth >= 0 && truth < num_classes_ && predicted >= 0 && predicted < num_classes_,
            "class index out of range");
  return counts_[static_cast<std::size_t>(truth * num_classes_ + predicted)];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t sum = 0;
  for (const std::int64_t v : counts_) sum += v;
  return sum;
}

std::int64_t ConfusionMatrix::truth_count(int c) const {
  std::int64_t sum = 0;
  for (int j = 0; j < num_classes_; ++j) sum += count(c, j);
  return sum;
}

std::int64_t ConfusionMatrix::predicted_count(int c) const {
  std::int64_t sum = 0;
  for (int i = 0; i < num_classes_; ++i) sum += count(i, c);
  return sum;
}

void CheckClassNames(const ConfusionMatrix& matrix, const std::vector<std::string>& names,
                     const std::string& path) {
  if (names.empty() || static_cast<int>(names.size()) == matrix.num_classes()) return;
  throw ConfigError(StrCat(path, ": ", names.size(), " class names for a matrix of ",
                           matrix.num_classes(), " classes"));
}

std::string ClassName(const std::vector<std::string>& names, int c) {
  return names.empty() ? std::to_string(c) : names[static_cast<std::size_t>(c)];
}

void ConfusionMatrix::Add(int truth, int predicted, std::int64_t n) {
  if (truth == ignore_label_) return;
  if (truth < 0 || truth >= num_classes_) {
    throw ConfigError(StrCat("label value ", truth, " is outside [0, ", num_classes_,
                             ") and is not the ignore label ", ignore_label_));
  }
  if (predicted < 0 || predicted >= num_classes_) {
    throw ConfigError(StrCat("predicted class ", predicted, " is outside [0, ", num_classes_, ")"));
  }
  counts_[static_cast<std::size_t>(truth * num_classes_ + predicted)] += n;
}

void ConfusionMatrix::Accumulate(const Blob& score, const Blob& label, const std::string& what) {
  if (score.num_axes() < 2) {
    throw ConfigError(StrCat("the score blob must be N x C x ..., got ", score.shape_string()));
  }
  const std::int64_t num = score.shape(0);
  const std::int64_t channels = score.shape(1);
  const std::int64_t spatial = score.count(2);
  if (channels > num_classes_) {
    throw ConfigError(StrCat("the score blob ", score.shape_string(), " has ", channels,
                             " channels, more than the ", num_classes_, " classes scored"));
  }
  // The label has the score's shape without axis 1, or with a singleton axis 1.
  std::vector<std::int64_t> expected = score.shape();
  expected.erase(expected.begin() + 1);
  std::vector<std::int64_t> got = label.shape();
  if (got.size() == score.shape().size() && got.size() >= 2 && got[1] == 1) {
    got.erase(got.begin() + 1);
  }
  if (got != expected) {
    throw ConfigError(StrCat(what, " shape ", label.shape_string(),
                             " does not match the score shape ", score.shape_string(),
                             " (expected N x 1 x spatial of the score)"));
  }
  const float* labels = label.cpu_data();
  for (std::int64_t n = 0; n < num; ++n) {
    const std::vector<int> pred = ArgmaxChannels(score, n);
    for (std::int64_t i = 0; i < spatial; ++i) {
      const float value = labels[n * spatial + i];
      const float rounded = std::nearbyint(value);
      if (!(value == rounded) || std::fabs(value) > 1e9f) {
        throw ConfigError(
            StrCat(what, " value ", value, " at index ", n * spatial + i, " is not a class index"));
      }
      try {
        Add(static_cast<int>(rounded), pred[static_cast<std::size_t>(i)]);
      } catch (const ConfigError& e) {
        throw ConfigError(StrCat(what, " (image ", n, ", position ", i, "): ", e.message()));
      }
    }
  }
}

void ConfusionMatrix::Merge(const ConfusionMatrix& other) {
  if (other.num_classes_ != num_classes_ || other.ignore_label_ != ignore_label_) {
    throw ConfigError(StrCat("cannot merge a ", other.num_classes_, "-class matrix into a ",
                             num_classes_, "-class one"));
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

void ConfusionMatrix::Reset() { std::fill(counts_.begin(), counts_.end(), 0); }

SegmentationScores ConfusionMatrix::Scores(AbsentClassPolicy policy) const {
  SegmentationScores s;
  const auto n = static_cast<std::size_t>(num_classes_);
  s.iu.assign(n, kNaN);
  s.accuracy.assign(n, kNaN);
  double diag_sum = 0;
  const auto all = static_cast<double>(total());
  double fw = 0;
  for (int c = 0; c < num_classes_; ++c) {
    const auto diag = static_cast<double>(count(c, c));
    const auto truth = static_cast<double>(truth_count(c));
    const auto predicted = static_cast<double>(predicted_count(c));
    diag_sum += diag;
    s.accuracy[static_cast<std::size_t>(c)] = Ratio(diag, truth);
    double iu = Ratio(diag, truth + predicted - diag);
    if (policy == AbsentClassPolicy::kExcludeAbsent && truth == 0) iu = kNaN;
    s.iu[static_cast<std::size_t>(c)] = iu;
    if (truth > 0) fw += truth / all * iu;
  }
  s.pixel_acc = Ratio(diag_sum, all);
  s.mean_acc = NanMean(s.accuracy, nullptr);
  s.mean_iu = NanMean(s.iu, &s.classes_counted);
  s.fwavacc = all == 0 ? kNaN : fw;
  return s;
}

std::vector<int> ArgmaxChannels(const Blob& score, std::int64_t n) {
  FCN_CHECK(score.num_axes() >= 2 && n >= 0 && n < score.shape(0), "bad argmax request");
  const std::int64_t channels = score.shape(1);
  const std::int64_t spatial = score.count(2);
  const float* data = score.cpu_data() + n * channels * spatial;
  std::vector<int> pred(static_cast<std::size_t>(spatial), 0);
  std::vector<float> best(data, data + spatial);
  for (std::int64_t c = 1; c < channels; ++c) {
    const float* plane = data + c * spatial;
    for (std::int64_t i = 0; i < spatial; ++i) {
      // Strictly greater: an equal later score never displaces the earlier class.
      if (plane[i] > best[static_cast<std::size_t>(i)]) {
        best[static_cast<std::size_t>(i)] = plane[i];
        pred[static_cast<std::size_t>(i)] = static_cast<int>(c);
      }
    }
  }
  return pred;
}

int IgnoreLabelFor(const NetParameter& net, const std::string& label_blob) {
  std::vector<std::string> names = {label_blob};
  for (const LayerParameter& layer : net.layer()) {
    if (layer.type() == "Split" && layer.bottom_size() == 1 && layer.bottom(0) == label_blob) {
      names.insert(names.end(), layer.top().begin(), layer.top().end());
    }
  }
  for (const LayerParameter& layer : net.layer()) {
    if (layer.type() != "SoftmaxWithLoss" || layer.bottom_size() < 2 ||
        std::find(names.begin(), names.end(), layer.bottom(1)) == names.end()) {
      continue;
    }
    if (layer.has_loss_param() && layer.loss_param().has_ignore_label()) {
      return layer.loss_param().ignore_label();
    }
  }
  return 255;
}

std::vector<std::string> ReadClassNames(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(StrCat(path, ": cannot read the class names"));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const std::size_t last = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(first, last - first + 1));
  }
  if (names.empty()) throw ConfigError(StrCat(path, ": no class names in the file"));
  return names;
}

void WriteConfusionCsv(const ConfusionMatrix& matrix, const std::string& path,
                       const std::vector<std::string>& class_names) {
  CheckClassNames(matrix, class_names, path);
  auto quote = [](const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string out = "\"";
    for (const char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
  };
  std::ofstream out(path);
  if (!out) throw RuntimeError(StrCat(path, ": cannot open for writing"));
  out << "truth\\predicted";
  for (int j = 0; j < matrix.num_classes(); ++j) out << ',' << quote(ClassName(class_names, j));
  out << '\n';
  for (int i = 0; i < matrix.num_classes(); ++i) {
    out << quote(ClassName(class_names, i));
    for (int j = 0; j < matrix.num_classes(); ++j) out << ',' << matrix.count(i, j);
    out << '\n';
  }
  out.close();
  if (!out) throw RuntimeError(StrCat(path, ": write failed"));
}

}  // namespace fcn
