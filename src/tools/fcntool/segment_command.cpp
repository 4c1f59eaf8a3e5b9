// SPDX-License-Identifier: BSD-2-Clause
// fcntool segment: whole images of any size through a deploy net; the argmax as a
// palette-indexed label PNG and as a colour overlay on the image.
#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "fcn/label_image.h"
#include "fcn/metrics.h"
#include "io/net_paths.h"
#include "solver/solver_internal.h"
#include "tools/fcntool/commands.h"

DEFINE_string(mean_value, "104.00699,116.66877,122.67892",
              "Per-channel mean subtracted from the image, in BGR order (1 or 3 values); the "
              "default is the FCN reference's VOC mean.");
DEFINE_string(palette, "voc",
              "Label colours: 'voc' (the PASCAL VOC palette) or a file with one 'R G B' line "
              "per class.");
DEFINE_double(overlay_alpha, 0.5, "Weight of the label colours in the overlay, 0..1.");

namespace fcn::tool {

namespace {

namespace fs = std::filesystem;

std::vector<float> ParseMean(const std::string& text) {
  std::vector<float> mean;
  for (const std::string& item : SplitList(text)) {
    std::size_t used = 0;
    float value = 0;
    try {
      value = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size()) {
      throw ConfigError(StrCat("--mean_value=", text, ": \"", item, "\" is not a number"));
    }
    mean.push_back(value);
  }
  if (mean.empty()) mean.push_back(0);
  if (mean.size() == 1) mean.resize(3, mean[0]);
  if (mean.size() != 3) {
    throw ConfigError(StrCat("--mean_value=", text, ": give 1 or 3 values (B,G,R)"));
  }
  return mean;
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

}  // namespace

int RunSegment() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("weights", FLAGS_weights);
  if (!FLAGS_gpu.empty()) throw ConfigError("--gpu: this build has no GPU support");
  const std::vector<std::string>& images = PositionalArgs();
  if (images.empty()) {
    throw ConfigError(
        "no images given (usage: fcntool segment --model=... --weights=... IMAGE...)");
  }
  if (!(FLAGS_overlay_alpha >= 0 && FLAGS_overlay_alpha <= 1)) {
    throw ConfigError(StrCat("--overlay_alpha=", FLAGS_overlay_alpha, ": must be within [0, 1]"));
  }
  const std::vector<float> mean = ParseMean(FLAGS_mean_value);
  const std::vector<Rgb> palette =
      FLAGS_palette == "voc" ? VocPalette(256) : ReadPalette(FLAGS_palette);
  std::vector<std::string> names;
  if (!FLAGS_class_names.empty()) names = ReadClassNames(FLAGS_class_names);

  NetStateOptions state;
  state.phase = TEST;
  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(FLAGS_model, &source);
  Net::SetState(state, &param);
  ResolveNetPaths(DirName(FLAGS_model), &param);
  Net net(param, &source);
  LoadNetWeights(&net, FLAGS_weights, true);
  if (net.input_blobs().empty()) {
    throw ConfigError(StrCat(FLAGS_model, ": the net has no Input layer (use a deploy net)"));
  }
  Blob* input = net.input_blobs()[0];
  if (input->num_axes() != 4 || input->shape(1) != 3) {
    throw ConfigError(StrCat(FLAGS_model, ": the first input has shape ", input->shape_string(),
                             "; segment feeds 1 x 3 x H x W colour images"));
  }
  std::string score_name;
  const int channels = static_cast<int>(ScoreBlob(net, &score_name).shape(1));
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

  for (const std::string& path : images) {
    const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    if (image.empty()) throw ConfigError(StrCat(path, ": cannot read the image"));
    const int height = image.rows;
    const int width = image.cols;
    const auto start = std::chrono::steady_clock::now();
    input->Reshape({1, 3, height, width});
    net.Reshape();
    float* data = input->mutable_cpu_data();
    const std::int64_t plane = static_cast<std::int64_t>(height) * width;
    for (int y = 0; y < height; ++y) {
      const auto* row = image.ptr<cv::Vec3b>(y);
      for (int x = 0; x < width; ++x) {
        for (int c = 0; c < 3; ++c) {
          data[c * plane + y * width + x] =
              static_cast<float>(row[x][c]) - mean[static_cast<std::size_t>(c)];
        }
      }
    }
    net.Forward();
    const Blob& score = ScoreBlob(net, &score_name);
    if (score.num_axes() != 4 || score.shape(2) != height || score.shape(3) != width) {
      throw ConfigError(StrCat(path, ": the score blob \"", score_name, "\" is ",
                               score.shape_string(), " for a ", height, "x", width,
                               " image; segment needs 1 x C x H x W at the image size"));
    }
    const std::vector<int> pred = ArgmaxChannels(score, 0);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    std::vector<std::uint8_t> indices(pred.begin(), pred.end());
    cv::Mat overlay(height, width, CV_8UC3);
    std::map<int, std::int64_t> histogram;
    const double alpha = FLAGS_overlay_alpha;
    for (int y = 0; y < height; ++y) {
      const auto* src = image.ptr<cv::Vec3b>(y);
      auto* dst = overlay.ptr<cv::Vec3b>(y);
      for (int x = 0; x < width; ++x) {
        const int k = pred[static_cast<std::size_t>(y * width + x)];
        ++histogram[k];
        const Rgb& colour = palette[static_cast<std::size_t>(k)];
        const double bgr[3] = {static_cast<double>(colour.b), static_cast<double>(colour.g),
                               static_cast<double>(colour.r)};
        for (int c = 0; c < 3; ++c) {
          dst[x][c] = cv::saturate_cast<std::uint8_t>((1 - alpha) * src[x][c] + alpha * bgr[c]);
        }
      }
    }
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
