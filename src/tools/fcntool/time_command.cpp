// SPDX-License-Identifier: BSD-2-Clause
// fcntool time: per-layer forward and backward milliseconds of a full training step, with
// `caffe time`'s log lines, plus the peak resident memory.
#include <glog/logging.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "fcn/threads.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

namespace fcn::tool {

namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A net without a loss gets no gradient from anywhere: the output blobs that carry no loss
// weight get a diff of ones, as if each fed a loss equal to its sum. (A loss output keeps
// the loss weight the net stored in its diff.)
void SeedOutputDiffs(const Net& net) {
  for (std::size_t i = 0; i < net.output_blobs().size(); ++i) {
    const auto id = static_cast<std::size_t>(net.output_blob_indices()[i]);
    if (net.blob_loss_weights()[id] != 0.0f) continue;
    Blob* blob = net.output_blobs()[i];
    float* diff = blob->mutable_cpu_diff();
    std::fill(diff, diff + blob->count(), 1.0f);
  }
}

// The algorithm in a convolution engine's name (Layer::engine_name): "im2col" for CAFFE,
// oneDNN's "winograd" or "direct", "cudnn:<its algorithms>"; "-" for a layer without a choice.
std::string AlgorithmOf(const std::string& engine) {
  if (engine.empty()) return "-";
  const std::size_t open = engine.find(" (");
  const std::string kind = engine.substr(0, open);
  std::string detail;
  if (open != std::string::npos && engine.back() == ')') {
    detail = engine.substr(open + 2, engine.size() - open - 3);
  }
  if (kind == "CAFFE") return "im2col";
  if (kind == "DNNL") return detail.substr(0, detail.find(':'));
  if (kind == "CUDNN") return "cudnn:" + detail;
  return engine;
}

}  // namespace

int RunTime() {
  RequireFlag("model", FLAGS_model);
  if (FLAGS_iterations <= 0) {
    throw ConfigError(StrCat("--iterations=", FLAGS_iterations, ": expected a positive count"));
  }
  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(FLAGS_model, &source);
  Net::SetState(StateFromFlags(TRAIN), &param);
  // Time a deploy net like a training net: every parameter and every bottom gets a gradient.
  param.set_force_backward(true);
  Net net(param, ToolOptions(), &source);
  // A training step as the solver runs it: activation gradients freed once consumed.
  net.set_release_consumed_diffs(true);
  if (!FLAGS_input_shape.empty()) {
    if (net.input_blobs().empty()) {
      throw ConfigError(
          StrCat(FLAGS_model, ": --input_shape given but the net has no Input layer"));
    }
    net.input_blobs()[0]->Reshape(ParseShapeFlag("input_shape", FLAGS_input_shape));
    net.Reshape();
  }
  CheckPlannedMemory(net, true);

  // Caffe's set-up lines, which say what the backward pass below will compute.
  for (std::size_t i = 0; i < net.layers().size(); ++i) {
    LOG(INFO) << net.layer_names()[i]
              << (net.layer_need_backward()[i] ? " needs backward computation."
                                               : " does not need backward computation.");
  }

  // Which engine each layer that has a choice runs (oneDNN's implementation name, or im2col).
  for (std::size_t i = 0; i < net.layers().size(); ++i) {
    const std::string engine = net.layers()[i]->engine_name();
    if (!engine.empty()) LOG(INFO) << net.layer_names()[i] << " engine: " << engine;
  }
  LOG(INFO) << "Threads: " << NumThreads();

  const auto& layers = net.layers();
  const auto& bottoms = net.bottom_vecs();
  const auto& tops = net.top_vecs();
  const auto& need = net.bottom_need_backward();
  const ExecContext& ctx = net.context();
  const std::size_t n = layers.size();

  LOG(INFO) << "Performing Forward";
  const float initial_loss = net.Forward();
  LOG(INFO) << "Initial loss: " << initial_loss;
  LOG(INFO) << "Performing Backward";
  SeedOutputDiffs(net);
  for (std::size_t i = n; i-- > 0;) {
    layers[i]->Backward(ctx, tops[i], need[i], bottoms[i]);
    net.ReleaseConsumedDiffs(static_cast<int>(i));
  }

  LOG(INFO) << "*** Benchmark begins ***";
  LOG(INFO) << "Testing for " << FLAGS_iterations << " iterations.";
  std::vector<double> forward_ms(n, 0.0), backward_ms(n, 0.0);
  double forward_total = 0, backward_total = 0, total = 0;
  for (int j = 0; j < FLAGS_iterations; ++j) {
    // Backward of an in-place output layer overwrites the seeded diff: seed it every time.
    SeedOutputDiffs(net);
    const Clock::time_point iteration_start = Clock::now();
    Clock::time_point pass_start = iteration_start;
    for (std::size_t i = 0; i < n; ++i) {
      const Clock::time_point start = Clock::now();
      layers[i]->Forward(ctx, bottoms[i], tops[i]);
      forward_ms[i] += MsSince(start);
    }
    forward_total += MsSince(pass_start);
    pass_start = Clock::now();
    for (std::size_t i = n; i-- > 0;) {
      const Clock::time_point start = Clock::now();
      layers[i]->Backward(ctx, tops[i], need[i], bottoms[i]);
      net.ReleaseConsumedDiffs(static_cast<int>(i));  // as the solver's training net does
      backward_ms[i] += MsSince(start);
    }
    backward_total += MsSince(pass_start);
    const double iteration_ms = MsSince(iteration_start);
    total += iteration_ms;
    LOG(INFO) << "Iteration: " << j + 1 << " forward-backward time: " << iteration_ms << " ms.";
  }
  const double iters = FLAGS_iterations;
  LOG(INFO) << "Average time per layer: ";
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = net.layer_names()[i];
    LOG(INFO) << std::setw(10) << name << "\tforward: " << forward_ms[i] / iters << " ms.";
    LOG(INFO) << std::setw(10) << name << "\tbackward: " << backward_ms[i] / iters << " ms.";
  }
  LOG(INFO) << "Average Forward pass: " << forward_total / iters << " ms.";
  LOG(INFO) << "Average Backward pass: " << backward_total / iters << " ms.";
  LOG(INFO) << "Average Forward-Backward: " << total / iters << " ms.";
  LOG(INFO) << "Total Time: " << total << " ms.";
  LOG(INFO) << "*** Benchmark ends ***";
  // fcn: the same averages with the algorithm each layer ran (after Caffe's lines).
  LOG(INFO) << "Per-layer table: layer, forward ms, backward ms, algo";
  for (std::size_t i = 0; i < n; ++i) {
    std::ostringstream row;
    row << std::setw(20) << std::left << net.layer_names()[i] << std::right << std::fixed
        << std::setprecision(2) << std::setw(10) << forward_ms[i] / iters << std::setw(10)
        << backward_ms[i] / iters << "  " << AlgorithmOf(layers[i]->engine_name());
    LOG(INFO) << row.str();
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  LOG(INFO) << "Peak RSS: " << std::fixed << std::setprecision(1)
            << static_cast<double>(usage.ru_maxrss) / 1024.0 << " MiB.";
  return 0;
}

}  // namespace fcn::tool
