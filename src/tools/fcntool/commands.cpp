// SPDX-License-Identifier: BSD-2-Clause
// The one table of fcntool commands: usage text and dispatch come from it.
#include "tools/fcntool/commands.h"

#include <glog/logging.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "fcn/common.h"
#include "fcn/exec_context.h"
#include "fcn/gpu.h"
#include "fcn/solver.h"
#include "tools/fcntool/tool_options.h"

DEFINE_string(model, "", "The net definition (prototxt).");
DEFINE_string(weights, "",
              "Comma-separated .caffemodel files whose weights are copied into the net by layer "
              "name, in order.");
DEFINE_string(input_shape, "",
              "Reshape the net's (first) input to this shape before building the report, e.g. "
              "1,3,500,500.");
DEFINE_string(phase, "", "Net phase: TRAIN or TEST (each command has its own default).");
DEFINE_int32(level, 0, "Net state level.");
DEFINE_string(stage, "", "Comma-separated net state stages.");
DEFINE_string(gpu, "",
              "Run on this CUDA device (an id, or 'all' for device 0 of several); the CPU when "
              "empty. One device per process: several ids need NCCL, which is not built.");
DEFINE_int32(iterations, 50, "The number of iterations (batches for test, timed passes for time).");
DEFINE_string(output, "",
              "The output file (standard output when empty, where a command allows it).");
DEFINE_string(output_dir, "",
              "The folder for output files (score: none written when empty; segment: the "
              "current directory when empty).");
DEFINE_string(class_names, "",
              "Class-name files, one name per line; a comma list gives one file per head.");
DEFINE_string(max_memory, "",
              "The most memory a net may plan to use, in bytes or with a K, M, G or T suffix "
              "(8G); empty: the memory available when the command starts. A net whose planned "
              "peak is larger stops before it runs, naming the layer that crosses the line.");
DEFINE_string(score_blobs, "score",
              "The score blob(s), N x C x H x W; a comma list scores several heads.");

namespace fcn::tool {

std::int64_t MaxMemoryBytes() {
  const std::string& text = FLAGS_max_memory;
  if (text.empty()) {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    long long kib = 0;
    while (std::getline(meminfo, line)) {
      if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &kib) == 1) return kib * 1024;
    }
    return std::numeric_limits<std::int64_t>::max();  // unknown: no limit
  }
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  double scale = 1;
  if (used + 1 == text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text.back()))) {
      case 'K':
        scale = 1024.0;
        break;
      case 'M':
        scale = 1024.0 * 1024;
        break;
      case 'G':
        scale = 1024.0 * 1024 * 1024;
        break;
      case 'T':
        scale = 1024.0 * 1024 * 1024 * 1024;
        break;
      default:
        used = 0;
    }
    if (used) ++used;
  }
  const double bytes = value * scale;
  if (used != text.size() || !std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) {
    throw ConfigError(
        StrCat("--max_memory=", text, ": expected a size such as 8G, 512M or a byte count"));
  }
  return static_cast<std::int64_t>(bytes);
}

std::int64_t CheckPlannedMemory(const Net& net, bool training, std::int64_t extra) {
  const std::int64_t bytes = MaxMemoryBytes();
  const MemoryLimit limit{bytes, "--max_memory",
                          StrCat("=", FLAGS_max_memory.empty() ? "" : FLAGS_max_memory + " = ",
                                 FormatBytes(static_cast<double>(bytes)),
                                 FLAGS_max_memory.empty() ? " (the memory available now)" : "")};
  return fcn::CheckPlannedMemory(net, training, limit, extra);
}

void CheckThreadsFlag() {
  gflags::CommandLineFlagInfo info;
  if (!gflags::GetCommandLineFlagInfo("threads", &info) || info.is_default) return;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const long long most = 4LL * cores;
  if (FLAGS_threads < 1 || FLAGS_threads > most) {
    throw ConfigError(StrCat("--threads=", FLAGS_threads, ": expected 1 to ", most, " (4 x the ",
                             cores, " cores of this machine)"));
  }
}

namespace {

// The flags that set a net's Options (ToolOptions()), read by every command that runs a net,
// between the command's own flags `before` and `after`.
std::vector<std::string> WithNetOptionFlags(std::vector<std::string> before,
                                            const std::vector<std::string>& after = {}) {
  for (const char* flag :
       {"gpu", "threads", "engine", "dnnl_keep_layouts", "dnnl_scratch_mb", "precision",
        "cudnn_workspace_mb", "cudnn_deterministic", "max_memory"}) {
    before.emplace_back(flag);
  }
  before.insert(before.end(), after.begin(), after.end());
  return before;
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"check",
       "build a net and report its layers, shapes, parameters and memory",
       "fcntool check --model=NET.prototxt [--weights=W.caffemodel] [--input_shape=N,C,H,W]\n"
       "              [--phase=TEST] [--level=0] [--stage=a,b]\n"
       "  Builds the net (and loads the weights, if given), then prints every layer with its\n"
       "  top shapes, parameter count and memory, and the totals.",
       {"model", "weights", "input_shape", "phase", "level", "stage", "max_memory"},
       &RunCheck},
      {"align",
       "write a copy of a prototxt with the Crop offsets derived from the net",
       "fcntool align --model=NET.prototxt --output=ALIGNED.prototxt [--phase=TEST]\n"
       "  Derives every Crop's offset from the coordinate maps of the layers between its two\n"
       "  bottoms (as Caffe's coord_map.py) and writes the prototxt with those offsets, one\n"
       "  `offset` per Crop where all spatial axes share it; comments and layout are kept.",
       {"model", "output", "phase", "level", "stage"},
       &RunAlign},
      {"train", "train a net with a solver (SGD), or resume training from a snapshot",
       "fcntool train --solver=SOLVER.prototxt [--snapshot=X.solverstate | --weights=a,b]\n"
       "              [--sigint_effect=stop] [--sighup_effect=snapshot]\n"
       "              [--sigterm_effect=snapshot_stop] [--level=0] [--stage=a,b]\n"
       "  Runs the solver as caffe train: test nets every test_interval, a snapshot every\n"
       "  `snapshot` iterations (<prefix>_iter_N.caffemodel + .solverstate). --snapshot resumes\n"
       "  exactly where the snapshot was taken; --weights fine-tunes from .caffemodel files.\n"
       "  SIGINT/SIGHUP/SIGTERM: stop (ends after the current iteration, with the final\n"
       "  snapshot unless snapshot_after_train is false), snapshot (writes one and continues),\n"
       "  snapshot_stop (writes one, then stops: SIGTERM's default) or none. A snapshot prefix\n"
       "  belongs to one run: <prefix>.lock is held while training.\n"
       "  Under mpirun -np N: data-parallel training on N ranks (docs/distributed.md); on GPUs\n"
       "  each rank takes the --gpu entry of its index on its host.",
       WithNetOptionFlags({"solver", "snapshot", "weights", "sigint_effect", "sighup_effect",
                           "sigterm_effect", "level", "stage"},
                          {"comm_timeout"}),
       &RunTrain},
      {"test", "score a net: the mean of every output blob over a number of batches",
       "fcntool test --model=NET.prototxt --weights=W.caffemodel [--iterations=50]\n"
       "             [--level=0] [--stage=a,b]\n"
       "  Builds the net in phase TEST, loads the weights and runs --iterations forward\n"
       "  passes, printing each batch's outputs, the mean loss and each output's mean\n"
       "  (as caffe test).",
       WithNetOptionFlags({"model", "weights", "iterations", "level", "stage"}), &RunTest},
      {"time", "time each layer's forward and backward pass of a training step",
       "fcntool time --model=NET.prototxt [--iterations=50] [--input_shape=N,C,H,W]\n"
       "             [--phase=TRAIN] [--level=0] [--stage=a,b] [--peak]\n"
       "  Builds the net with force_backward (so a deploy net times like a training net), runs\n"
       "  one untimed forward and backward pass, then times every layer's Forward and Backward\n"
       "  over --iterations passes and prints the per-layer and total averages (as caffe time)\n"
       "  and the peak resident memory. Inputs keep their declared shape with zero data.\n"
       "  --peak: also measures the CPU's FMA peak (fp32; bf16 with AVX512_BF16) on the same\n"
       "  threads and adds each convolution's GFLOP/s and share of it; alone, only the peak.",
       WithNetOptionFlags({"model", "iterations", "input_shape", "phase", "level", "stage"},
                          {"peak"}),
       &RunTime},
      {"draw",
       "write the net as a Graphviz dot graph",
       "fcntool draw --model=NET.prototxt [--output=NET.dot] [--phase=TEST] [--level=0]\n"
       "             [--stage=a,b]\n"
       "  Layers become boxes (name, type, key parameters), blobs ellipses (name and shape when\n"
       "  the net builds; without shapes when it does not). Render with: dot -Tsvg NET.dot",
       {"model", "output", "phase", "level", "stage"},
       &RunDraw},
      {"export",
       "write a deploy net and its weights as an ONNX model (one file for every input size)",
       "fcntool export --model=DEPLOY.prototxt --weights=W.caffemodel --output=NET.onnx\n"
       "               [--opset=13] [--outputs=score[:softmax|:argmax],...] [--input_size=H,W]\n"
       "  Maps every layer to ONNX operators (opset 13 to 17; docs/onnx.md has the table):\n"
       "  Crop becomes a Slice whose ends come from the reference blob's runtime shape plus\n"
       "  the derived offset, pooling gets explicit pads that give Caffe's output size, so the\n"
       "  file serves every input size (dynamic height and width unless --input_size fixes\n"
       "  them). Dropout, Split and Silence are removed, loss layers dropped with a note; a\n"
       "  layer without a mapping is an error that names it.",
       {"model", "weights", "output", "opset", "outputs", "input_size", "phase", "level", "stage"},
       &RunExport},
      {"surgery",
       "transplant weights into another net (fc -> conv), bilinear deconvolutions",
       "fcntool surgery --model=TARGET.prototxt [--weights=SRC.caffemodel[,...]]\n"
       "                --output=TARGET.caffemodel [--source_model=SRC.prototxt]\n"
       "                [--interp_layers=a,b|none] [--expand_score=LAYER[:K]] [--suffix=S[,...]]\n"
       "  Builds the target net (phase TEST: give a deploy or val prototxt, or one whose\n"
       "  databases exist), then, as the FCN reference's surgery.transplant, copies each\n"
       "  parameter blob of source layer p into target layer p+suffix: equal shapes are copied,\n"
       "  equal element counts are copied in flat row-major order (fc6 4096x25088 ->\n"
       "  4096x512x7x7), anything else is dropped. Layers whose name contains \"up\" (or\n"
       "  --interp_layers) get bilinear kernels on the diagonal. Prints what was copied,\n"
       "  coerced, dropped or kept, and writes the target's .caffemodel. The weights may be\n"
       "  V1 or current .caffemodel files, or .caffemodel.h5.",
       {"model", "weights", "output", "source_model", "interp_layers", "expand_score", "suffix",
        "phase", "level", "stage", "random_seed"},
       &RunSurgery},
      {"score", "score a segmentation net over a database: pixel acc, mean acc, mean IU, f.w. IU",
       "fcntool score --model=VAL.prototxt --weights=W.caffemodel [--iterations=N]\n"
       "              [--output_dir=DIR] [--score_blobs=score] [--label_blobs=label]\n"
       "              [--classes=N] [--class_names=FILE] [--exclude_absent]\n"
       "  Runs the net in phase TEST over its database (--iterations batches; default: the\n"
       "  database's sample count), accumulates a confusion matrix per head (score blob, label\n"
       "  blob; comma lists for several heads) and prints pixel accuracy, mean accuracy, mean\n"
       "  IU, frequency-weighted IU and the per-class IU (definitions: docs/metrics.md). With\n"
       "  --output_dir it writes confusion_<score blob>.csv and .png and metrics.json.",
       WithNetOptionFlags({"model", "weights", "iterations", "output_dir", "score_blobs",
                           "label_blobs", "classes", "class_names", "exclude_absent", "level",
                           "stage"}),
       &RunScore},
      {"segment", "segment images: colour label PNGs and overlays",
       "fcntool segment --model=DEPLOY.prototxt --weights=W.caffemodel [--output_dir=DIR]\n"
       "                [--mean_value=104.00699,116.66877,122.67892] [--scale=1]\n"
       "                [--input_blobs=a,b] [--rgb_inputs=b] [--log_inputs=b]\n"
       "                [--palette=voc|FILE] [--class_names=FILE] [--overlay_alpha=0.5]\n"
       "                IMAGE[,IMAGE2...]...\n"
       "  For each image (any size; 3-channel inputs decoded as BGR, 1-channel ones at the\n"
       "  file's bit depth): subtracts the mean, multiplies by the scale, reshapes the input\n"
       "  to 1xCxHxW, runs the net and takes the argmax of the score blob. A net with several\n"
       "  inputs (NYUD colour + HHA) takes one comma-separated file list per sample, in\n"
       "  --input_blobs order, and ':'-separated --mean_value/--scale groups per input, e.g.\n"
       "  --mean_value=116.190,97.203,92.318:132.431,94.076,118.477 --rgb_inputs=hha\n"
       "  color.png,hha.png. Writes <name>_label.png (palette-indexed PNG: pixel value =\n"
       "  class) and <name>_overlay.png (the first image blended with the class colours),\n"
       "  named after the first file, and prints the classes found.",
       WithNetOptionFlags({"model", "weights", "output_dir", "mean_value", "scale", "input_blobs",
                           "rgb_inputs", "log_inputs", "palette", "class_names", "overlay_alpha",
                           "score_blobs"}),
       &RunSegment,
       /*takes_files=*/true},
      {"device_query",
       "describe a CUDA device (name, compute capability, memory, versions)",
       "fcntool device_query [--gpu=0]\n"
       "  Prints the properties of each device in --gpu (default 0; 'all' for every device), as\n"
       "  caffe device_query. Fails (exit 1) with the CUDA runtime's reason when there is no\n"
       "  device or driver, and (exit 2) in a build without CUDA.",
       {"gpu"},
       &RunDeviceQuery},
  };
  return commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::vector<std::int64_t> ParseShapeFlag(const std::string& flag, const std::string& text) {
  std::vector<std::int64_t> shape;
  for (const std::string& item : SplitList(text)) {
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value <= 0) {
      throw ConfigError(StrCat("--", flag, "=", text,
                               ": expected positive integers separated by commas, e.g. "
                               "1,3,500,500"));
    }
    shape.push_back(value);
  }
  if (shape.empty()) throw ConfigError(StrCat("--", flag, " is empty"));
  return shape;
}

Phase ParsePhaseFlag(Phase default_phase) {
  if (FLAGS_phase.empty()) return default_phase;
  if (FLAGS_phase == "TRAIN") return TRAIN;
  if (FLAGS_phase == "TEST") return TEST;
  throw ConfigError(StrCat("--phase=", FLAGS_phase, ": expected TRAIN or TEST"));
}

NetStateOptions StateFromFlags(Phase default_phase) {
  NetStateOptions state;
  state.phase = ParsePhaseFlag(default_phase);
  state.level = FLAGS_level;
  state.stages = SplitList(FLAGS_stage);
  return state;
}

std::vector<std::string>& PositionalArgs() {
  static std::vector<std::string> args;
  return args;
}

std::vector<int> ParseGpuFlag() {
  std::vector<int> ids;
  if (FLAGS_gpu.empty()) return ids;
  const auto require_cuda = [] {
    if (!gpu::Built()) {
      throw ConfigError(StrCat("--gpu=", FLAGS_gpu,
                               ": this fcn was built without CUDA (configure with "
                               "-DFCN_USE_CUDA=ON)"));
    }
  };
  if (FLAGS_gpu == "all") {
    require_cuda();
    std::string why;
    const int count = gpu::DeviceCount(&why);
    if (count == 0) throw RuntimeError(StrCat("--gpu=all: no CUDA device (", why, ")"));
    for (int i = 0; i < count; ++i) ids.push_back(i);
    return ids;
  }
  for (const std::string& item : SplitList(FLAGS_gpu)) {
    std::size_t used = 0;
    int id = -1;
    try {
      id = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || id < 0) {
      throw ConfigError(StrCat("--gpu=", FLAGS_gpu, ": expected a device id such as 0, or 'all'"));
    }
    ids.push_back(id);
  }
  if (ids.empty()) throw ConfigError("--gpu is empty");
  require_cuda();
  return ids;
}

void ApplyGpuFlag(Options* options) {
  const std::vector<int> ids = ParseGpuFlag();
  if (ids.empty()) return;
  // Under mpirun, each rank on a host takes the entry of its index on that host (OpenMPI's
  // local rank), as one GPU per rank; in one process, several ids are refused.
  std::size_t pick = 0;
  if (const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) {
    pick = static_cast<std::size_t>(std::max(0, std::atoi(local)));
    if (FLAGS_gpu != "all" && ids.size() == 1) pick = 0;  // every local rank on that device
    if (pick >= ids.size()) {
      throw ConfigError(StrCat("--gpu=", FLAGS_gpu, " lists ", ids.size(),
                               " device(s) but this host runs more ranks (local rank ", pick,
                               "); give one device per rank"));
    }
  } else if (ids.size() > 1 && FLAGS_gpu != "all") {
    throw ConfigError(StrCat("--gpu=", FLAGS_gpu,
                             ": one device per process; several devices train together as one "
                             "rank each under mpirun (docs/distributed.md)"));
  }
  gpu::SetDevice(ids[pick]);  // throws RuntimeError with the runtime's reason
  options->device = Device::kCuda;
  options->device_id = ids[pick];
  LOG(INFO) << "Use GPU with device ID " << ids[pick];
}

int RunDeviceQuery() {
  std::vector<int> ids = ParseGpuFlag();
  if (ids.empty()) {
    if (!gpu::Built()) {
      throw ConfigError("this fcn was built without CUDA (configure with -DFCN_USE_CUDA=ON)");
    }
    ids.push_back(0);
  }
  for (int id : ids) {
    LOG(INFO) << "Querying GPU " << id;
    std::cout << gpu::DeviceQuery(id) << "\n";
  }
  return 0;
}

void RequireFlag(const char* name, const std::string& value) {
  if (value.empty()) throw ConfigError(StrCat("--", name, " is required (see: fcntool help)"));
}

std::unique_ptr<Net> LoadTestNet() {
  NetStateOptions state;
  state.phase = TEST;
  state.level = FLAGS_level;
  state.stages = SplitList(FLAGS_stage);
  std::unique_ptr<Net> net = Net::FromFile(FLAGS_model, state, ToolOptions());
  CheckPlannedMemory(*net, false);
  LoadNetWeights(net.get(), FLAGS_weights, true);
  return net;
}

}  // namespace fcn::tool
