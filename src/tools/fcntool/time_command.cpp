// SPDX-License-Identifier: BSD-2-Clause
// fcntool time: per-layer forward and backward milliseconds of a full training step, with
// `caffe time`'s log lines, plus the peak resident memory; with --peak, the CPU's FMA peak and
// each convolution's share of it.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fcn/cpu_peak.h"
#include "fcn/threads.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

DEFINE_bool(peak, false,
            "time: also measure the CPU's FMA peak (fp32, and bf16 where the CPU has "
            "AVX512_BF16) on the run's threads and print each convolution's GFLOP/s and share "
            "of it; without --model, only the peak");

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

// The measured peaks, fp32 then bf16 (nullopt where the CPU has no such instruction).
struct Peaks {
  std::optional<PeakResult> fp32, bf16;
};

Peaks MeasurePeaks() {
  Peaks peaks;
  const int threads = NumThreads();
  peaks.fp32 = MeasureFmaPeak(PeakKind::kFp32Fma, threads, 1.0);
  peaks.bf16 = MeasureFmaPeak(PeakKind::kBf16Dot, threads, 1.0);
  for (const auto& [kind, peak] :
       {std::pair{PeakKind::kFp32Fma, &peaks.fp32}, std::pair{PeakKind::kBf16Dot, &peaks.bf16}}) {
    std::ostringstream line;
    line << "FMA peak, " << PeakKindName(kind) << ": ";
    if (*peak) {
      line << std::fixed << std::setprecision(1) << (*peak)->gflops << " GFLOP/s on "
           << (*peak)->threads << " threads (" << (*peak)->kernel << ", " << std::setprecision(2)
           << (*peak)->seconds << " s).";
    } else {
      line << (kind == PeakKind::kBf16Dot ? "none (this CPU has no AVX512_BF16)."
                                          : "none (this CPU has no FMA instructions).");
    }
    LOG(INFO) << line.str();
  }
  return peaks;
}

// Flops (2 per multiply-add) of one forward pass of a Convolution, Deconvolution or
// InnerProduct layer, biases left out; 0 for other layers. A convolution does, for each output
// element, (input channels / group) x kernel area multiply-adds: the weight count over the
// outputs. A deconvolution does that for each input element (the weights are input x output
// channels / group x kernel area). An inner product does K multiply-adds for each output.
double ForwardFlops(const Layer& layer, const BlobVec& bottom, const BlobVec& top) {
  if (layer.blobs().empty()) return 0;
  const Blob& weights = *layer.blobs()[0];
  const std::string& type = layer.type();
  double flops = 0;
  if (type == "Convolution") {
    const double per_output = static_cast<double>(weights.count()) / weights.shape(0);
    for (const Blob* t : top) flops += 2.0 * t->count() * per_output;
  } else if (type == "Deconvolution") {
    const double per_input = static_cast<double>(weights.count()) / weights.shape(0);
    for (const Blob* b : bottom) flops += 2.0 * b->count() * per_input;
  } else if (type == "InnerProduct") {
    const auto outputs = layer.layer_param().inner_product_param().num_output();
    if (outputs == 0) return 0;
    const double per_output = static_cast<double>(weights.count()) / outputs;
    for (const Blob* t : top) flops += 2.0 * t->count() * per_output;
  }
  return flops;
}

// "12.3%" of a peak, or "-" without one.
std::string ShareText(double gflops, const std::optional<PeakResult>& peak) {
  if (!peak || peak->gflops <= 0) return "-";
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << 100.0 * gflops / peak->gflops << "%";
  return text.str();
}

}  // namespace

int RunTime() {
  if (FLAGS_peak && FLAGS_model.empty()) {
    LOG(INFO) << "Threads: " << NumThreads();
    MeasurePeaks();
    return 0;
  }
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
  // fcn: the same averages with the algorithm each layer ran (after Caffe's lines); with
  // --peak, each convolution's GFLOP/s and share of the peaks measured now. Backward computes
  // the data gradient and the weight gradient, each the forward's work, where asked for.
  Peaks peaks;
  std::vector<double> forward_flops(n, 0.0), backward_flops(n, 0.0);
  if (FLAGS_peak) {
    peaks = MeasurePeaks();
    for (std::size_t i = 0; i < n; ++i) {
      forward_flops[i] = ForwardFlops(*layers[i], bottoms[i], tops[i]);
      const bool data_grad = std::find(need[i].begin(), need[i].end(), true) != need[i].end();
      const bool weight_grad = !layers[i]->blobs().empty() && layers[i]->param_propagate_down(0);
      backward_flops[i] = forward_flops[i] * ((data_grad ? 1 : 0) + (weight_grad ? 1 : 0));
    }
  }
  auto gflops = [&](double flops, double ms) { return ms > 0 ? flops / ms / 1e6 : 0.0; };
  LOG(INFO) << "Per-layer table: layer, forward ms, backward ms, algo"
            << (FLAGS_peak ? ", forward GFLOP/s, backward GFLOP/s, forward and backward % of "
                             "the fp32 peak, forward and backward % of the bf16 peak"
                           : "");
  for (std::size_t i = 0; i < n; ++i) {
    std::ostringstream row;
    row << std::setw(20) << std::left << net.layer_names()[i] << std::right << std::fixed
        << std::setprecision(2) << std::setw(10) << forward_ms[i] / iters << std::setw(10)
        << backward_ms[i] / iters << "  ";
    if (FLAGS_peak && forward_flops[i] > 0) {
      row << std::setw(10) << std::left << AlgorithmOf(layers[i]->engine_name()) << std::right;
      const double f = gflops(forward_flops[i], forward_ms[i] / iters);
      const double b = gflops(backward_flops[i], backward_ms[i] / iters);
      row << std::setprecision(1) << std::setw(10) << f << std::setw(10) << b << std::setw(8)
          << ShareText(f, peaks.fp32) << std::setw(8) << ShareText(b, peaks.fp32) << std::setw(8)
          << ShareText(f, peaks.bf16) << std::setw(8) << ShareText(b, peaks.bf16);
    } else {
      row << AlgorithmOf(layers[i]->engine_name());
    }
    LOG(INFO) << row.str();
  }
  if (FLAGS_peak) {
    // The layers' work over their own time, and over the whole pass (everything else
    // included), as shares of each peak.
    double flops[2] = {0, 0}, layer_ms[2] = {0, 0};
    for (std::size_t i = 0; i < n; ++i) {
      if (forward_flops[i] <= 0) continue;
      flops[0] += forward_flops[i];
      flops[1] += backward_flops[i];
      layer_ms[0] += forward_ms[i] / iters;
      layer_ms[1] += backward_ms[i] / iters;
    }
    const double pass_ms[2] = {forward_total / iters, backward_total / iters};
    const char* names[2] = {"forward", "backward"};
    for (int p = 0; p < 2; ++p) {
      const double in_layers = gflops(flops[p], layer_ms[p]);
      const double in_pass = gflops(flops[p], pass_ms[p]);
      std::ostringstream line;
      line << std::setprecision(4) << "Convolution work, " << names[p] << ": " << flops[p] / 1e9
           << " GFLOP; " << std::fixed << std::setprecision(1) << in_layers
           << " GFLOP/s in their layers (" << ShareText(in_layers, peaks.fp32)
           << " of the fp32 peak, " << ShareText(in_layers, peaks.bf16) << " of the bf16 peak), "
           << in_pass << " GFLOP/s over the pass (" << ShareText(in_pass, peaks.fp32) << ", "
           << ShareText(in_pass, peaks.bf16) << ").";
      LOG(INFO) << line.str();
    }
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  LOG(INFO) << "Peak RSS: " << std::fixed << std::setprecision(1)
            << static_cast<double>(usage.ru_maxrss) / 1024.0 << " MiB.";
  return 0;
}

}  // namespace fcn::tool
