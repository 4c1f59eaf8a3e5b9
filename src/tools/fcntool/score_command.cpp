// SPDX-License-Identifier: BSD-2-Clause
// fcntool score: the FCN paper's metrics over a database (the reference score.py as a
// command), one confusion matrix per head, written as CSV, PNG heat map and metrics.json.
#include <glog/logging.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "fcn/lmdb_db.h"
#include "fcn/metrics.h"
#include "fcn/net_paths.h"
#include "fcn/solver.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/confusion_png.h"
#include "tools/fcntool/tool_options.h"

DEFINE_string(label_blobs, "label", "The label blob(s), one per score blob (comma list).");
DEFINE_int32(classes, 0,
             "Number of classes scored (0: the channels of the score blob; must be >= them).");
DEFINE_bool(exclude_absent, false,
            "Leave every class absent from the truth out of mean accuracy and mean IU (SIFT "
            "Flow); by default only classes with an undefined IU (absent from truth and "
            "prediction) are left out, as the reference score.py.");

namespace fcn::tool {

namespace {

namespace fs = std::filesystem;

struct Head {
  std::string score;
  std::string label;
  std::vector<std::string> names;
  std::unique_ptr<ConfusionMatrix> matrix;
};

// Splits a comma list keeping empty items ("a,,b" -> a, "", b), so a head can go without.
std::vector<std::string> SplitKeepEmpty(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) items.push_back(item);
  if (!text.empty() && text.back() == ',') items.emplace_back();
  return items;
}

// Batches in one pass over the net's first Data layer database: its ~meta count (fcn
// segmentation LMDB) or its record count (Caffe Datum LMDB), over the batch size. 0 when
// the net has no Data layer or the database cannot be read.
int DatabasePasses(const NetParameter& param) {
  for (const LayerParameter& layer : param.layer()) {
    if (layer.type() != "Data" || !layer.has_data_param()) continue;
    const std::string& source = layer.data_param().source();
    const int batch = std::max(1, static_cast<int>(layer.data_param().batch_size()));
    std::int64_t count = 0;
    try {
      LmdbReader db(source);
      std::string_view meta;
      if (db.Get("~meta", &meta)) {
        google::protobuf::Struct json;
        if (google::protobuf::util::JsonStringToMessage(std::string(meta), &json).ok() &&
            json.fields().count("count")) {
          count = static_cast<std::int64_t>(json.fields().at("count").number_value());
        }
      } else {
        count = db.size();
      }
    } catch (const Error& e) {
      LOG(WARNING) << "Cannot count the samples of " << source << ": " << e.what();
      return 0;
    }
    if (count % batch != 0) {
      LOG(WARNING) << source << ": " << count << " samples in batches of " << batch << "; the last "
                   << count % batch << " are not scored (use batch_size: 1)";
    }
    LOG(INFO) << source << ": " << count << " samples, batch size " << batch;
    return static_cast<int>(std::max<std::int64_t>(count / batch, 1));
  }
  return 0;
}

// A JSON number, or null for NaN.
google::protobuf::Value JsonNumber(double v) {
  google::protobuf::Value value;
  if (std::isnan(v)) {
    value.set_null_value(google::protobuf::NULL_VALUE);
  } else {
    value.set_number_value(v);
  }
  return value;
}

std::string Fixed(double v) {
  if (std::isnan(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(4) << v;
  return os.str();
}

void PrintHead(const Head& head, const SegmentationScores& s, bool exclude_absent) {
  const ConfusionMatrix& m = *head.matrix;
  std::cout << "Head " << head.score << " (label " << head.label << ", " << m.num_classes()
            << " classes, ignore label " << m.ignore_label() << ", " << m.total()
            << " pixels scored)\n"
            << "  pixel accuracy  " << Fixed(s.pixel_acc) << "\n"
            << "  mean accuracy   " << Fixed(s.mean_acc) << "\n"
            << "  mean IU         " << Fixed(s.mean_iu) << "  (over " << s.classes_counted
            << " classes" << (exclude_absent ? ", absent classes excluded" : "") << ")\n"
            << "  f.w. IU         " << Fixed(s.fwavacc) << "\n"
            << "  class                         IU     acc   truth px  predicted px\n";
  for (int c = 0; c < m.num_classes(); ++c) {
    std::string name = std::to_string(c);
    if (!head.names.empty()) name += " " + head.names[static_cast<std::size_t>(c)];
    std::cout << "  " << std::left << std::setw(26) << name << std::right << std::setw(8)
              << Fixed(s.iu[static_cast<std::size_t>(c)]) << std::setw(8)
              << Fixed(s.accuracy[static_cast<std::size_t>(c)]) << std::setw(11) << m.truth_count(c)
              << std::setw(14) << m.predicted_count(c) << "\n";
  }
}

ScoreReport MakeReport(const std::vector<Head>& heads,
                       const std::vector<SegmentationScores>& scores, int iterations, double loss) {
  ScoreReport report;
  report.set_iterations(iterations);
  *report.mutable_loss() = JsonNumber(loss);
  report.set_exclude_absent(FLAGS_exclude_absent);
  for (std::size_t h = 0; h < heads.size(); ++h) {
    const ConfusionMatrix& m = *heads[h].matrix;
    const SegmentationScores& s = scores[h];
    ScoreReport::Head* head = report.add_heads();
    head->set_score_blob(heads[h].score);
    head->set_label_blob(heads[h].label);
    head->set_classes(m.num_classes());
    head->set_ignore_label(m.ignore_label());
    head->set_pixels(m.total());
    *head->mutable_pixel_acc() = JsonNumber(s.pixel_acc);
    *head->mutable_mean_acc() = JsonNumber(s.mean_acc);
    *head->mutable_mean_iu() = JsonNumber(s.mean_iu);
    *head->mutable_fwavacc() = JsonNumber(s.fwavacc);
    head->set_classes_counted(s.classes_counted);
    for (int c = 0; c < m.num_classes(); ++c) {
      const auto i = static_cast<std::size_t>(c);
      ScoreReport::PerClass* per_class = head->add_per_class();
      per_class->set_class_(c);
      if (!heads[h].names.empty()) per_class->set_name(heads[h].names[i]);
      *per_class->mutable_iu() = JsonNumber(s.iu[i]);
      *per_class->mutable_acc() = JsonNumber(s.accuracy[i]);
      per_class->set_truth_pixels(m.truth_count(c));
      per_class->set_predicted_pixels(m.predicted_count(c));
    }
    for (int i = 0; i < m.num_classes(); ++i) {
      google::protobuf::ListValue* row = head->add_confusion();
      for (int j = 0; j < m.num_classes(); ++j) {
        row->add_values()->set_number_value(static_cast<double>(m.count(i, j)));
      }
    }
  }
  return report;
}

void WriteJson(const std::string& path, const ScoreReport& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(report, &json, options);
  FCN_CHECK(status.ok(), "ScoreReport to JSON: ", status.ToString());
  std::ofstream out(path);
  if (!out) throw RuntimeError(StrCat(path, ": cannot open for writing"));
  out << json;
  if (json.empty() || json.back() != '\n') out << '\n';
  out.close();
  if (!out) throw RuntimeError(StrCat(path, ": write failed"));
}

// --iterations, or by default one pass over the net's database (50 when unknown).
int ScoreIterations(const Net& net) {
  int iterations = FLAGS_iterations;
  gflags::CommandLineFlagInfo info;
  if (gflags::GetCommandLineFlagInfo("iterations", &info) && info.is_default) {
    const int passes = DatabasePasses(net.param());
    iterations = passes > 0 ? passes : 50;
  }
  if (iterations <= 0) throw ConfigError(StrCat("--iterations=", iterations, ": must be > 0"));
  return iterations;
}

// One head per score/label blob pair: its blobs checked, its confusion matrix and names.
std::vector<Head> MakeHeads(const Net& net, const std::vector<std::string>& score_blobs,
                            const std::vector<std::string>& label_blobs,
                            const std::vector<std::string>& name_files) {
  std::vector<Head> heads(score_blobs.size());
  for (std::size_t h = 0; h < heads.size(); ++h) {
    Head& head = heads[h];
    head.score = score_blobs[h];
    head.label = label_blobs[h];
    for (const std::string& blob : {head.score, head.label}) {
      if (!net.has_blob(blob)) {
        throw ConfigError(
            StrCat(FLAGS_model, ": the net has no blob \"", blob,
                   "\" (--score_blobs/--label_blobs); its blobs: ", Join(net.blob_names(), ", ")));
      }
    }
    const Blob& score = *net.blob_by_name(head.score);
    if (score.num_axes() < 2) {
      throw ConfigError(StrCat("score blob \"", head.score, "\" has shape ", score.shape_string(),
                               "; expected N x C x H x W"));
    }
    const int channels = static_cast<int>(score.shape(1));
    const int classes = FLAGS_classes > 0 ? FLAGS_classes : channels;
    if (classes < channels) {
      throw ConfigError(StrCat("--classes=", classes, " is fewer than the ", channels,
                               " channels of score blob \"", head.score, "\""));
    }
    head.matrix =
        std::make_unique<ConfusionMatrix>(classes, IgnoreLabelFor(net.param(), head.label));
    if (!name_files.empty() && !name_files[h].empty()) {
      head.names = ReadClassNames(name_files[h]);
      if (static_cast<int>(head.names.size()) != classes) {
        throw ConfigError(StrCat(name_files[h], ": ", head.names.size(), " class names for the ",
                                 classes, " classes of head \"", head.score, "\""));
      }
    }
  }
  return heads;
}

// Runs `iterations` forward passes, accumulating each head's matrix, with progress on
// stderr; returns the mean loss.
double ScoreBatches(Net* net_ptr, int iterations, std::vector<Head>* heads_ptr) {
  Net& net = *net_ptr;
  std::vector<Head>& heads = *heads_ptr;
  LOG(INFO) << "Scoring " << iterations << " batches.";
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  double loss = 0;
  for (int i = 0; i < iterations; ++i) {
    loss += net.Forward();
    for (Head& head : heads) {
      head.matrix->Accumulate(*net.blob_by_name(head.score), *net.blob_by_name(head.label),
                              StrCat("label blob \"", head.label, "\" of batch ", i));
    }
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const bool last = i + 1 == iterations;
    if (last || tty || std::chrono::duration<double>(now - last_report).count() >= 10) {
      last_report = now;
      const double per_s = (i + 1) / std::max(elapsed, 1e-9);
      // One write per line, so that log lines of other threads do not split it.
      std::ostringstream line;
      line << (tty ? "\r" : "") << "score: " << i + 1 << "/" << iterations << " (" << std::fixed
           << std::setprecision(1) << 100.0 * (i + 1) / iterations << "%, " << std::setprecision(2)
           << per_s << " batches/s, eta " << FormatDuration((iterations - i - 1) / per_s) << ")"
           << (tty && !last ? "" : "\n");
      std::cerr << line.str() << std::flush;
    }
  }
  loss /= iterations;
  return loss;
}

// confusion_<score>.csv and .png per head and metrics.json, in --output_dir.
void WriteScoreFiles(const std::vector<Head>& heads, const std::vector<SegmentationScores>& scores,
                     int iterations, double loss) {
  std::error_code ec;
  fs::create_directories(FLAGS_output_dir, ec);
  if (ec) throw RuntimeError(StrCat(FLAGS_output_dir, ": cannot create it: ", ec.message()));
  for (const Head& head : heads) {
    const std::string stem = (fs::path(FLAGS_output_dir) / ("confusion_" + head.score)).string();
    WriteConfusionCsv(*head.matrix, stem + ".csv", head.names);
    WriteConfusionPng(*head.matrix, stem + ".png", head.names);
  }
  const std::string json = (fs::path(FLAGS_output_dir) / "metrics.json").string();
  WriteJson(json, MakeReport(heads, scores, iterations, loss));
  std::cout << "Wrote " << json << " and the confusion matrices to " << FLAGS_output_dir << "\n";
}

}  // namespace

int RunScore() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("weights", FLAGS_weights);
  const std::vector<std::string> score_blobs = SplitList(FLAGS_score_blobs);
  const std::vector<std::string> label_blobs = SplitList(FLAGS_label_blobs);
  if (score_blobs.empty() || score_blobs.size() != label_blobs.size()) {
    throw ConfigError(StrCat("--score_blobs=", FLAGS_score_blobs, " and --label_blobs=",
                             FLAGS_label_blobs, ": give one label blob per score blob"));
  }
  std::vector<std::string> name_files = SplitKeepEmpty(FLAGS_class_names);
  if (!name_files.empty() && name_files.size() != score_blobs.size()) {
    throw ConfigError(StrCat("--class_names=", FLAGS_class_names, ": give one file per head (",
                             score_blobs.size(), " heads); leave an item empty to skip one"));
  }
  if (FLAGS_classes < 0) throw ConfigError(StrCat("--classes=", FLAGS_classes, ": must be >= 0"));

  const std::unique_ptr<Net> loaded = LoadTestNet();
  Net& net = *loaded;

  const int iterations = ScoreIterations(net);
  std::vector<Head> heads = MakeHeads(net, score_blobs, label_blobs, name_files);
  // Inference only: each activation is freed once its last reader has run.
  std::vector<std::string> keep;
  for (const Head& head : heads) keep.insert(keep.end(), {head.score, head.label});
  net.set_release_consumed_data(true, keep);

  const double loss = ScoreBatches(&net, iterations, &heads);
  std::vector<SegmentationScores> scores;
  const AbsentClassPolicy policy =
      FLAGS_exclude_absent ? AbsentClassPolicy::kExcludeAbsent : AbsentClassPolicy::kReference;
  std::cout << "Scored " << iterations << " batches; mean loss " << loss << "\n";
  for (const Head& head : heads) {
    scores.push_back(head.matrix->Scores(policy));
    PrintHead(head, scores.back(), FLAGS_exclude_absent);
  }
  if (!FLAGS_output_dir.empty()) WriteScoreFiles(heads, scores, iterations, loss);
  return 0;
}

}  // namespace fcn::tool
