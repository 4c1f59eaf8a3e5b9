// SPDX-License-Identifier: BSD-2-Clause
// fcntool segment: whole images of any size through a deploy net; the argmax as a
// palette-indexed label PNG and as a colour overlay on the image.
#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "fcn/image_codec.h"
#include "fcn/label_image.h"
#include "fcn/metrics.h"
#include "fcn/net_paths.h"
#include "fcn/solver.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

DEFINE_string(mean_value, "104.00699,116.66877,122.67892",
              "Per-channel mean subtracted from each input image, in the decoded (BGR) channel "
              "order: 1 value or one per channel; for a net with several inputs, one group per "
              "input separated by ':' (or one group for all). The default is the FCN "
              "reference's VOC mean for 3-channel inputs (0 for 1-channel ones).");
DEFINE_string(scale, "1",
              "Factor applied after the mean (Caffe's transform_param.scale); one per input "
              "separated by ':', or one for all.");
DEFINE_string(input_blobs, "",
              "The net inputs fed, comma-separated, in the order of the files in each IMAGE "
              "argument (default: all the net's inputs in their order).");
DEFINE_string(rgb_inputs, "",
              "Comma-separated 3-channel inputs fed in the file's R,G,B channel order rather "
              "than B,G,R (NYUD HHA: the reference loads it with PIL, not reversed).");
DEFINE_string(log_inputs, "",
              "Comma-separated inputs whose pixel values d are replaced by ln(d) before the "
              "mean, with d = 0 (no reading) set to the mean: NYUD depth as convert_nyud.py "
              "stores it.");
DEFINE_string(palette, "voc",
              "Label colours: 'voc' (the PASCAL VOC palette) or a file with one 'R G B' line "
              "per class.");
DEFINE_double(overlay_alpha, 0.5, "Weight of the label colours in the overlay, 0..1.");

namespace fcn::tool {

namespace {

namespace fs = std::filesystem;

// `text` cut at every `sep`, empty pieces kept ("a,,b" -> a, "", b).
std::vector<std::string> SplitOn(const std::string& text, char sep) {
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    pieces.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return pieces;
    start = end + 1;
  }
}

std::vector<float> ParseNumbers(const std::string& flag, const std::string& text) {
  std::vector<float> values;
  for (const std::string& item : SplitList(text)) {
    std::size_t used = 0;
    float value = 0;
    try {
      value = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size()) {
      throw ConfigError(StrCat("--", flag, "=", text, ": \"", item, "\" is not a number"));
    }
    if (!std::isfinite(value)) {
      throw ConfigError(StrCat("--", flag, "=", text, ": \"", item, "\" is not a finite number"));
    }
    values.push_back(value);
  }
  return values;
}

// --mean_value / --scale: one ':'-separated group per input, or one group for all of them.
std::vector<std::vector<float>> ParseGroups(const std::string& flag, const std::string& text,
                                            std::size_t inputs) {
  std::vector<std::vector<float>> groups;
  for (const std::string& group : SplitOn(text, ':')) groups.push_back(ParseNumbers(flag, group));
  if (groups.size() == 1) groups.resize(inputs, groups[0]);
  if (groups.size() != inputs) {
    throw ConfigError(StrCat("--", flag, "=", text, ": ", groups.size(),
                             " ':'-separated groups for the ", inputs,
                             " inputs fed (give one group, or one per input)"));
  }
  return groups;
}

// One net input as segment feeds it: the blob, its channels and its transform.
struct FedInput {
  std::string name;
  Blob* blob = nullptr;
  int channels = 0;
  std::vector<float> mean;  // one per channel
  float scale = 1;
  bool log = false;
  bool rgb = false;
};

std::vector<FedInput> FedInputs(Net* net) {
  std::vector<std::string> input_names;
  for (int index : net->input_blob_indices()) {
    input_names.push_back(net->blob_names()[static_cast<std::size_t>(index)]);
  }
  if (input_names.empty()) {
    throw ConfigError(StrCat(FLAGS_model, ": the net has no Input layer (use a deploy net)"));
  }
  std::vector<std::string> names = SplitList(FLAGS_input_blobs);
  if (names.empty()) names = input_names;
  const std::vector<std::vector<float>> means =
      ParseGroups("mean_value", FLAGS_mean_value, names.size());
  const std::vector<std::vector<float>> scales = ParseGroups("scale", FLAGS_scale, names.size());
  std::set<std::string> log_names;
  for (const std::string& name : SplitList(FLAGS_log_inputs)) log_names.insert(name);
  std::set<std::string> rgb_names;
  for (const std::string& name : SplitList(FLAGS_rgb_inputs)) rgb_names.insert(name);

  std::vector<FedInput> fed;
  for (std::size_t i = 0; i < names.size(); ++i) {
    FedInput in;
    in.name = names[i];
    const auto it = std::find(input_names.begin(), input_names.end(), in.name);
    if (it == input_names.end()) {
      throw ConfigError(StrCat("--input_blobs: \"", in.name, "\" is not an input of ", FLAGS_model,
                               " (its inputs: ", Join(input_names, ", "), ")"));
    }
    in.blob = net->input_blobs()[static_cast<std::size_t>(it - input_names.begin())];
    in.channels = in.blob->num_axes() == 4 ? static_cast<int>(in.blob->shape(1)) : 0;
    if (in.channels != 3 && in.channels != 1) {
      throw ConfigError(StrCat(FLAGS_model, ": the input \"", in.name, "\" has shape ",
                               in.blob->shape_string(),
                               "; segment feeds 1 x 3 x H x W colour or 1 x 1 x H x W "
                               "single-channel images"));
    }
    in.mean = means[i];
    // The default (VOC) mean is for colour images; single-channel inputs default to 0.
    if (in.channels == 1 && gflags::GetCommandLineFlagInfoOrDie("mean_value").is_default) {
      in.mean = {0};
    }
    if (in.mean.empty()) in.mean.push_back(0);
    if (in.mean.size() == 1) in.mean.resize(static_cast<std::size_t>(in.channels), in.mean[0]);
    if (in.mean.size() != static_cast<std::size_t>(in.channels)) {
      throw ConfigError(StrCat("--mean_value=", FLAGS_mean_value, ": ", in.mean.size(),
                               " values for the ", in.channels, " channel(s) of input \"", in.name,
                               "\" (give 1", in.channels > 1 ? StrCat(" or ", in.channels) : "",
                               ")"));
    }
    if (scales[i].size() != 1) {
      throw ConfigError(StrCat("--scale=", FLAGS_scale, ": give one number per input"));
    }
    in.scale = scales[i][0];
    in.log = log_names.erase(in.name) > 0;
    in.rgb = rgb_names.erase(in.name) > 0;
    if (in.rgb && in.channels != 3) {
      throw ConfigError(
          StrCat("--rgb_inputs: \"", in.name, "\" has ", in.channels, " channel(s), not 3"));
    }
    fed.push_back(std::move(in));
  }
  if (!log_names.empty()) {
    throw ConfigError(StrCat("--log_inputs: \"", *log_names.begin(), "\" is not an input fed"));
  }
  if (!rgb_names.empty()) {
    throw ConfigError(StrCat("--rgb_inputs: \"", *rgb_names.begin(), "\" is not an input fed"));
  }
  return fed;
}

// The files of one IMAGE argument: one per fed input, comma-separated when there are several.
std::vector<std::string> SampleFiles(const std::string& arg, std::size_t inputs) {
  if (inputs == 1) return {arg};
  const std::vector<std::string> files = SplitOn(arg, ',');
  if (files.size() != inputs) {
    throw ConfigError(StrCat(arg, ": ", files.size(), " file(s) for the ", inputs,
                             " inputs fed; give IMAGE1,IMAGE2,... in --input_blobs order"));
  }
  return files;
}

// Decodes `path` for `in` (BGR for 3 channels; 1 channel at the file's bit depth) and writes
// the transformed values into its blob, reshaped to the image's size.
cv::Mat Feed(const std::string& path, const FedInput& in) {
  const int flags =
      in.channels == 3 ? cv::IMREAD_COLOR : (cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH);
  cv::Mat image = ReadImageFile(path, flags);
  cv::Mat values;
  image.convertTo(values, in.channels == 3 ? CV_32FC3 : CV_32FC1);
  const int height = values.rows;
  const int width = values.cols;
  in.blob->Reshape({1, in.channels, height, width});
  float* data = in.blob->mutable_cpu_data();
  const std::int64_t plane = static_cast<std::int64_t>(height) * width;
  for (int y = 0; y < height; ++y) {
    const float* row = values.ptr<float>(y);
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < in.channels; ++c) {
        const std::size_t ci = static_cast<std::size_t>(c);
        const int source = in.rgb ? in.channels - 1 - c : c;
        float v = row[x * in.channels + source];
        if (in.log) v = v > 0 ? std::log(v) : in.mean[ci];
        data[c * plane + y * width + x] = (v - in.mean[ci]) * in.scale;
      }
    }
  }
  return image;
}

// The score blob: --score_blobs' first item when the net has it, else the net's only output.
const Blob& ScoreBlob(const Net& net, std::string* name) {
  const std::vector<std::string> wanted = SplitList(FLAGS_score_blobs);
  if (!wanted.empty() && net.has_blob(wanted[0])) {
    *name = wanted[0];
    return *net.blob_by_name(*name);
  }
  if (net.output_blobs().size() == 1) {
    *name = net.blob_names()[static_cast<std::size_t>(net.output_blob_indices()[0])];
    return *net.output_blobs()[0];
  }
  throw ConfigError(StrCat(
      FLAGS_model, ": the net has no blob \"", wanted.empty() ? "" : wanted[0],
      "\" (--score_blobs) and not exactly one output; its blobs: ", Join(net.blob_names(), ", ")));
}

// Decodes one sample's files into the net's inputs; returns the first input's image as 8-bit
// BGR, on which the overlay is drawn.
cv::Mat FeedSample(const std::vector<std::string>& files, const std::vector<FedInput>& inputs) {
  const std::string& path = files[0];
  cv::Mat image;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    cv::Mat decoded = Feed(files[i], inputs[i]);
    if (i == 0) {
      image = std::move(decoded);
    } else if (decoded.size() != image.size()) {
      throw ConfigError(StrCat(files[i], ": ", decoded.cols, "x", decoded.rows, ", but ", path,
                               " is ", image.cols, "x", image.rows,
                               " (the inputs of one sample must have one size)"));
    }
  }
  // The overlay is drawn on the first input's image, as 8-bit BGR.
  if (image.channels() == 1) {
    cv::Mat scaled;
    cv::normalize(image, scaled, 0, 255, cv::NORM_MINMAX, CV_8U);
    cv::cvtColor(scaled, image, cv::COLOR_GRAY2BGR);
  }
  return image;
}

// Runs the net on what was fed; returns the argmax class of each pixel of the score blob,
// which must have the image's size.
std::vector<int> PredictLabels(Net* net_ptr, const std::string& path, int height, int width,
                               std::string* score_name_ptr) {
  Net& net = *net_ptr;
  std::string& score_name = *score_name_ptr;
  net.Reshape();
  CheckPlannedMemory(net, false);
  net.Forward();
  const Blob& score = ScoreBlob(net, &score_name);
  if (score.num_axes() != 4 || score.shape(2) != height || score.shape(3) != width) {
    throw ConfigError(StrCat(path, ": the score blob \"", score_name, "\" is ",
                             score.shape_string(), " for a ", height, "x", width,
                             " image; segment needs 1 x C x H x W at the image size"));
  }
  return ArgmaxChannels(score, 0);
}

// (1 - alpha) x image + alpha x the class colour per pixel; counts each class's pixels.
cv::Mat OverlayLabels(const cv::Mat& image, const std::vector<int>& pred,
                      const std::vector<Rgb>& palette, std::map<int, std::int64_t>* histogram) {
  const int height = image.rows;
  const int width = image.cols;
  cv::Mat overlay(height, width, CV_8UC3);
  const double alpha = FLAGS_overlay_alpha;
  for (int y = 0; y < height; ++y) {
    const auto* src = image.ptr<cv::Vec3b>(y);
    auto* dst = overlay.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const int k = pred[static_cast<std::size_t>(y * width + x)];
      ++(*histogram)[k];
      const Rgb& colour = palette[static_cast<std::size_t>(k)];
      const double bgr[3] = {static_cast<double>(colour.b), static_cast<double>(colour.g),
                             static_cast<double>(colour.r)};
      for (int c = 0; c < 3; ++c) {
        dst[x][c] = cv::saturate_cast<std::uint8_t>((1 - alpha) * src[x][c] + alpha * bgr[c]);
      }
    }
  }
  return overlay;
}

}  // namespace

int RunSegment() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("weights", FLAGS_weights);
  const std::vector<std::string>& images = PositionalArgs();
  if (images.empty()) {
    throw ConfigError(
        "no images given (usage: fcntool segment --model=... --weights=... IMAGE...)");
  }
  if (!(FLAGS_overlay_alpha >= 0 && FLAGS_overlay_alpha <= 1)) {
    throw ConfigError(StrCat("--overlay_alpha=", FLAGS_overlay_alpha, ": must be within [0, 1]"));
  }
  const std::vector<Rgb> palette =
      FLAGS_palette == "voc" ? VocPalette(256) : ReadPalette(FLAGS_palette);
  std::vector<std::string> names;
  if (!FLAGS_class_names.empty()) names = ReadClassNames(FLAGS_class_names);

  NetStateOptions state;
  state.phase = TEST;
  const std::unique_ptr<Net> loaded = Net::FromFile(FLAGS_model, state, ToolOptions());
  Net& net = *loaded;
  LoadNetWeights(&net, FLAGS_weights, true);
  const std::vector<FedInput> inputs = FedInputs(&net);
  std::string score_name;
  const int channels = static_cast<int>(ScoreBlob(net, &score_name).shape(1));
  // Inference only: each activation is freed once its last reader has run.
  net.set_release_consumed_data(true, {score_name});
  if (channels > static_cast<int>(palette.size())) {
    throw ConfigError(StrCat("--palette=", FLAGS_palette, " has ", palette.size(),
                             " colours for the ", channels, " classes of \"", score_name, "\""));
  }
  if (!names.empty() && static_cast<int>(names.size()) != channels) {
    throw ConfigError(StrCat(FLAGS_class_names, ": ", names.size(), " class names for the ",
                             channels, " classes of \"", score_name, "\""));
  }
  const fs::path out_dir = FLAGS_output_dir.empty() ? fs::path(".") : fs::path(FLAGS_output_dir);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw RuntimeError(StrCat(out_dir.string(), ": cannot create it: ", ec.message()));

  for (const std::string& arg : images) {
    const std::vector<std::string> files = SampleFiles(arg, inputs.size());
    const std::string& path = files[0];
    const auto start = std::chrono::steady_clock::now();
    const cv::Mat image = FeedSample(files, inputs);
    const int height = image.rows;
    const int width = image.cols;
    const std::int64_t plane = static_cast<std::int64_t>(height) * width;
    const std::vector<int> pred = PredictLabels(&net, path, height, width, &score_name);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    std::vector<std::uint8_t> indices(pred.begin(), pred.end());
    std::map<int, std::int64_t> histogram;
    const cv::Mat overlay = OverlayLabels(image, pred, palette, &histogram);
    const std::string stem = fs::path(path).stem().string();
    const std::string label_png = (out_dir / (stem + "_label.png")).string();
    const std::string overlay_png = (out_dir / (stem + "_overlay.png")).string();
    WriteIndexedPng(label_png, indices, height, width, palette);
    if (!cv::imwrite(overlay_png, overlay)) {
      throw RuntimeError(StrCat(overlay_png, ": cannot write the PNG"));
    }
    std::cout << path << ": " << width << "x" << height << ", " << std::fixed
              << std::setprecision(1) << ms << " ms; classes:";
    for (const auto& [k, pixels] : histogram) {
      std::cout << " " << (names.empty() ? std::to_string(k) : names[static_cast<std::size_t>(k)])
                << " " << 100.0 * static_cast<double>(pixels) / static_cast<double>(plane) << "%";
    }
    std::cout << std::defaultfloat << "\n  -> " << label_png << ", " << overlay_png << "\n";
  }
  return 0;
}

}  // namespace fcn::tool
