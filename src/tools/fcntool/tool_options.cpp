// SPDX-License-Identifier: BSD-2-Clause
#include "tools/fcntool/tool_options.h"

#include <gflags/gflags.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <string>

#include "fcn/common.h"

DEFINE_string(engine, "",
              "Convolution engine of the layers whose prototxt says engine: DEFAULT: DEFAULT, "
              "CAFFE (im2col + GEMM), DNNL or DNNL_WINOGRAD (default: $FCN_CONV_ENGINE, else "
              "DEFAULT).");
DEFINE_bool(dnnl_keep_layouts, true,
            "oneDNN: keep activations and weights in oneDNN's blocked layouts between layers; "
            "false reorders at every call, for comparisons (default: false when "
            "$FCN_DNNL_KEEP_LAYOUTS is 0).");
DEFINE_string(precision, "",
              "What convolutions, deconvolutions and inner products multiply in: fp32, or bf16 "
              "(bf16 products, fp32 accumulation; weights, gradients and snapshots stay fp32; "
              "needs AVX512_BF16 on the CPU) (default: a solver's precision field, else "
              "$FCN_PRECISION, else fp32).");
DEFINE_int64(dnnl_scratch_mb, 16,
             "oneDNN, in nets that do not train (test, score, segment, a solver's test nets): the "
             "most scratch (MiB) a convolution's algorithm may take; a layer whose Winograd "
             "needs more runs direct (default: $FCN_DNNL_SCRATCH_MB, else 16).");
DEFINE_int64(cudnn_workspace_mb, 1024,
             "cuDNN: the largest workspace a convolution algorithm may use, in MiB (default: "
             "$FCN_CUDNN_WORKSPACE_MB, else 1024).");
DEFINE_bool(cudnn_deterministic, false,
            "cuDNN: only algorithms that cuDNN reports as deterministic (default: "
            "$FCN_CUDNN_DETERMINISTIC=1).");
DEFINE_int32(threads, 0,
             "Compute threads for OpenBLAS and oneDNN (0: $FCN_NUM_THREADS, else "
             "$OMP_NUM_THREADS, else $OPENBLAS_NUM_THREADS, else every core).");

namespace fcn::tool {

namespace {

bool FlagGiven(const char* name) {
  gflags::CommandLineFlagInfo info;
  return gflags::GetCommandLineFlagInfo(name, &info) && !info.is_default;
}

// A set, non-empty variable, or null.
const char* EnvValue(const EnvLookup& env, const char* name) {
  const char* value = env(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

ConvEngine ParseEngine(const std::string& what, const std::string& text) {
  if (text == "DEFAULT" || text == "default") return ConvEngine::kDefault;
  if (text == "CAFFE" || text == "caffe") return ConvEngine::kCaffe;
  if (text == "DNNL" || text == "dnnl") return ConvEngine::kDnnl;
  if (text == "DNNL_WINOGRAD" || text == "dnnl_winograd") return ConvEngine::kDnnlWinograd;
  throw ConfigError(StrCat(what, "=", text, ": expected CAFFE, DNNL, DNNL_WINOGRAD or DEFAULT"));
}

Precision ParsePrecision(const std::string& what, const std::string& text) {
  Precision precision = Precision::kFloat32;
  if (!PrecisionFromName(text, &precision)) {
    throw ConfigError(StrCat(what, "=", text, ": expected fp32 or bf16"));
  }
  return precision;
}

std::size_t WorkspaceBytes(const std::string& what, const std::string& text) {
  constexpr unsigned long long kMaxMb = std::numeric_limits<std::size_t>::max() >> 20;
  bool ok = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  unsigned long long mb = 0;
  if (ok) {
    errno = 0;
    mb = std::strtoull(text.c_str(), nullptr, 10);
    ok = errno == 0 && mb <= kMaxMb;
  }
  if (!ok) {
    throw ConfigError(StrCat(what, "=", text, ": expected a whole number of MiB (0 or more)"));
  }
  return static_cast<std::size_t>(mb) << 20;
}

int PositiveCount(const char* value) {
  if (value == nullptr) return 0;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  return (*end == '\0' && n > 0 && n < 4096) ? static_cast<int>(n) : 0;
}

}  // namespace

const char* ProcessEnv(const char* name) { return std::getenv(name); }

Options OptionsFromFlags(const EnvLookup& env) {
  Options options;
  if (!FLAGS_engine.empty()) {
    options.conv_engine = ParseEngine("--engine", FLAGS_engine);
  } else if (const char* v = EnvValue(env, "FCN_CONV_ENGINE")) {
    options.conv_engine = ParseEngine("FCN_CONV_ENGINE", v);
  }
  if (FlagGiven("dnnl_keep_layouts")) {
    options.dnnl_keep_layouts = FLAGS_dnnl_keep_layouts;
  } else if (const char* v = env("FCN_DNNL_KEEP_LAYOUTS")) {
    options.dnnl_keep_layouts = std::string(v) != "0";
  }
  if (!FLAGS_precision.empty()) {
    options.precision = ParsePrecision("--precision", FLAGS_precision);
  } else if (const char* v = EnvValue(env, "FCN_PRECISION")) {
    options.precision = ParsePrecision("FCN_PRECISION", v);
  }
  if (FlagGiven("dnnl_scratch_mb")) {
    options.dnnl_inference_scratch_limit_bytes =
        WorkspaceBytes("--dnnl_scratch_mb", std::to_string(FLAGS_dnnl_scratch_mb));
  } else if (const char* v = EnvValue(env, "FCN_DNNL_SCRATCH_MB")) {
    options.dnnl_inference_scratch_limit_bytes = WorkspaceBytes("FCN_DNNL_SCRATCH_MB", v);
  }
  if (FlagGiven("cudnn_workspace_mb")) {
    options.cudnn_workspace_limit_bytes =
        WorkspaceBytes("--cudnn_workspace_mb", std::to_string(FLAGS_cudnn_workspace_mb));
  } else if (const char* v = EnvValue(env, "FCN_CUDNN_WORKSPACE_MB")) {
    options.cudnn_workspace_limit_bytes = WorkspaceBytes("FCN_CUDNN_WORKSPACE_MB", v);
  }
  if (FlagGiven("cudnn_deterministic")) {
    options.cudnn_deterministic = FLAGS_cudnn_deterministic;
  } else if (const char* v = EnvValue(env, "FCN_CUDNN_DETERMINISTIC")) {
    const std::string text = v;
    if (text != "1" && text != "0") {
      throw ConfigError(StrCat("FCN_CUDNN_DETERMINISTIC=", text, ": expected 1 or 0"));
    }
    options.cudnn_deterministic = text == "1";
  }
  return options;
}

bool PrecisionFlagGiven() { return !FLAGS_precision.empty(); }

int ThreadsFromFlags(const EnvLookup& env) {
  if (FLAGS_threads > 0) return FLAGS_threads;
  for (const char* name : {"FCN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    if (const int n = PositiveCount(env(name))) return n;
  }
  return 0;
}

Options& ToolOptions() {
  static Options options;
  return options;
}

}  // namespace fcn::tool
