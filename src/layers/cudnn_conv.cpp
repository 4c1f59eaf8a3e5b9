// SPDX-License-Identifier: BSD-2-Clause
// CudnnConv: cuDNN 9 legacy-API (cudnn.h) convolution and deconvolution behind the layer's
// Caffe layouts.
#include "layers/cudnn_conv.h"

#include <string>

#include "fcn/common.h"
#include "layers/convolution.h"

#if FCN_HAVE_CUDNN
#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/handles.h"
#include "backend/for_each_index.h"
#include "math/bf16_kernels.h"
#endif

namespace fcn {

#if FCN_HAVE_CUDNN

namespace {

constexpr long long kIntMax = std::numeric_limits<int>::max();

// Caffe's (and cuDNN's) floored output size of a convolution; < 1 when the kernel does not fit.
long long ConvOutSize(long long in, int kernel, int stride, int pad, int dilation) {
  const long long extent = static_cast<long long>(dilation) * (kernel - 1) + 1;
  const long long padded = in + 2LL * pad;
  return padded < extent ? 0 : (padded - extent) / stride + 1;
}

std::string GeometryString(const math::ConvGeometry& g) {
  return StrCat(g.transposed ? "deconvolution " : "convolution ", g.num, "x", g.in_channels, "x",
                g.in_h, "x", g.in_w, " -> ", g.num, "x", g.out_channels, "x", g.out_h, "x", g.out_w,
                ", kernel ", g.kernel_h, "x", g.kernel_w, ", stride ", g.stride_h, "x", g.stride_w,
                ", pad ", g.pad_h, "x", g.pad_w, ", dilation ", g.dilation_h, "x", g.dilation_w,
                ", group ", g.group);
}

std::string BytesString(std::size_t bytes) {
  if (bytes % (std::size_t{1} << 20) == 0) return StrCat(bytes >> 20, " MiB");
  return StrCat(bytes, " bytes");
}

const char* AlgoName(cudnnConvolutionFwdAlgo_t algo) {
  switch (algo) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
      return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "UNKNOWN";
  }
}

const char* AlgoName(cudnnConvolutionBwdDataAlgo_t algo) {
  switch (algo) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "UNKNOWN";
  }
}

const char* AlgoName(cudnnConvolutionBwdFilterAlgo_t algo) {
  switch (algo) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3:
      return "ALGO_3";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING:
      return "FFT_TILING";
    default:
      return "UNKNOWN";
  }
}

// The algorithm of one cuDNN direction, chosen on first use.
template <typename Algo>
struct Choice {
  bool chosen = false;
  Algo algo{};
  std::size_t bytes = 0;  // its workspace
};

// Takes the first of cuDNN's heuristic results (best first) that runs, fits the workspace limit,
// is deterministic when asked and, in fp32, uses no tensor-op math (which would round the
// operands to TF32; in bf16 the tensor ops are the point). `workspace_size(algo, &bytes)` is
// cuDNN's exact workspace query for the algorithm; the larger of it and the heuristic's
// estimate is what the algorithm is charged. Throws RuntimeError when nothing qualifies.
template <typename Algo, typename Perf, typename WorkspaceSize>
Choice<Algo> Pick(const std::vector<Perf>& perfs, const Options& options,
                  WorkspaceSize workspace_size, const std::string& direction) {
  const bool bf16 = options.precision == Precision::kBfloat16;
  std::vector<std::string> rejected;
  for (const Perf& perf : perfs) {
    const char* name = AlgoName(perf.algo);
    if (perf.status != CUDNN_STATUS_SUCCESS) {
      rejected.push_back(StrCat(name, " (", cudnnGetErrorString(perf.status), ")"));
      continue;
    }
    if (options.cudnn_deterministic && perf.determinism != CUDNN_DETERMINISTIC) {
      rejected.push_back(StrCat(name, " (non-deterministic)"));
      continue;
    }
    if (!bf16 && (perf.mathType == CUDNN_TENSOR_OP_MATH ||
                  perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)) {
      rejected.push_back(StrCat(name, " (tensor-op math)"));
      continue;
    }
    std::size_t exact = 0;
    const cudnnStatus_t status = workspace_size(perf.algo, &exact);
    if (status != CUDNN_STATUS_SUCCESS) {
      rejected.push_back(StrCat(name, " (workspace query: ", cudnnGetErrorString(status), ")"));
      continue;
    }
    const std::size_t bytes = std::max(perf.memory, exact);
    if (bytes > options.cudnn_workspace_limit_bytes) {
      rejected.push_back(StrCat(name, " (needs ", BytesString(bytes), " of workspace)"));
      continue;
    }
    Choice<Algo> choice;
    choice.chosen = true;
    choice.algo = perf.algo;
    choice.bytes = bytes;
    return choice;
  }
  throw RuntimeError(StrCat(
      "engine CUDNN: no cuDNN algorithm for the ", direction, " within the workspace limit of ",
      BytesString(options.cudnn_workspace_limit_bytes), " (FCN_CUDNN_WORKSPACE_MB)",
      options.cudnn_deterministic ? ", deterministic only (FCN_CUDNN_DETERMINISTIC=1)" : "",
      bf16 ? ", in bf16" : "",
      "; cuDNN offered: ", rejected.empty() ? std::string("nothing") : Join(rejected, ", ")));
}

// The element counts of the geometry's bottom, top and weights (Caffe's layouts).
struct BlobCounts {
  std::int64_t bottom, top, weight;
};

BlobCounts CountsOf(const math::ConvGeometry& g) {
  return {g.num * g.in_channels * static_cast<std::int64_t>(g.in_h) * g.in_w,
          g.num * g.out_channels * static_cast<std::int64_t>(g.out_h) * g.out_w,
          static_cast<std::int64_t>(g.in_channels / g.group) * g.out_channels * g.kernel_h *
              g.kernel_w};
}

// Device scratch of at least `bytes` from the net's shared workspace (null for none).
void* Scratch(const ExecContext& ctx, std::size_t bytes) {
  if (bytes == 0) return nullptr;
  return ctx.workspace().Get(static_cast<std::int64_t>((bytes + 3) / 4));
}

void ToBf16(const ExecContext& ctx, const float* in, std::uint16_t* out, std::int64_t count) {
  ForEachIndex(ctx, count, kernels::RoundToBf16{in, out});
}

void FromBf16(const ExecContext& ctx, const std::uint16_t* in, float* out, std::int64_t count,
              bool accumulate) {
  ForEachIndex(ctx, count, kernels::WidenBf16{in, out, accumulate});
}

const float kOne = 1.0f;
const float kZero = 0.0f;

}  // namespace

// The descriptors of the underlying convolution x (*) w = y: x is the bottom and y the top of
// a Convolution, the other way round for a Deconvolution.
//
// In bf16 (PSEUDO_BFLOAT16 in cuDNN's terms) `bottom`, `top` and `filter` describe bf16 copies
// of the blobs, the convolution computes in fp32 with tensor-op math, and `top_f32` describes
// the fp32 top for the bias, which stays fp32.
struct CudnnConv::Impl {
  bool transposed = false;
  bool bf16 = false;
  BlobCounts counts{0, 0, 0};  // of the bottom, top and weights
  cudnnTensorDescriptor_t bottom = nullptr;
  cudnnTensorDescriptor_t top = nullptr;
  cudnnTensorDescriptor_t top_f32 = nullptr;
  cudnnTensorDescriptor_t bias = nullptr;  // 1 x out_channels x 1 x 1 (top channels)
  cudnnFilterDescriptor_t filter = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Choice<cudnnConvolutionFwdAlgo_t> fwd;
  Choice<cudnnConvolutionBwdDataAlgo_t> bwd_data;
  Choice<cudnnConvolutionBwdFilterAlgo_t> bwd_filter;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    // Statuses are ignored: a destructor must not throw.
    if (conv != nullptr) cudnnDestroyConvolutionDescriptor(conv);
    if (filter != nullptr) cudnnDestroyFilterDescriptor(filter);
    if (bias != nullptr) cudnnDestroyTensorDescriptor(bias);
    if (top_f32 != nullptr) cudnnDestroyTensorDescriptor(top_f32);
    if (top != nullptr) cudnnDestroyTensorDescriptor(top);
    if (bottom != nullptr) cudnnDestroyTensorDescriptor(bottom);
  }

  cudnnTensorDescriptor_t x() const { return transposed ? top : bottom; }
  cudnnTensorDescriptor_t y() const { return transposed ? bottom : top; }

  // Choose each cuDNN direction's algorithm once, from its heuristics (max count requested).
  // `direction` names the layer's pass in an error.
  void ChooseForward(cudnnHandle_t handle, const Options& options, const std::string& direction) {
    if (fwd.chosen) return;
    int max_count = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(std::max(max_count, 1));
    int returned = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        handle, x(), filter, conv, y(), static_cast<int>(perfs.size()), &returned, perfs.data()));
    perfs.resize(std::clamp(returned, 0, static_cast<int>(perfs.size())));
    fwd = Pick<cudnnConvolutionFwdAlgo_t>(
        perfs, options,
        [&](cudnnConvolutionFwdAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(handle, x(), filter, conv, y(), algo,
                                                         bytes);
        },
        direction);
  }

  void ChooseBackwardData(cudnnHandle_t handle, const Options& options,
                          const std::string& direction) {
    if (bwd_data.chosen) return;
    int max_count = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(std::max(max_count, 1));
    int returned = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
        handle, filter, y(), conv, x(), static_cast<int>(perfs.size()), &returned, perfs.data()));
    perfs.resize(std::clamp(returned, 0, static_cast<int>(perfs.size())));
    bwd_data = Pick<cudnnConvolutionBwdDataAlgo_t>(
        perfs, options,
        [&](cudnnConvolutionBwdDataAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, filter, y(), conv, x(), algo,
                                                              bytes);
        },
        direction);
  }

  void ChooseBackwardFilter(cudnnHandle_t handle, const Options& options,
                            const std::string& direction) {
    if (bwd_filter.chosen) return;
    int max_count = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(std::max(max_count, 1));
    int returned = 0;
    FCN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        handle, x(), y(), conv, filter, static_cast<int>(perfs.size()), &returned, perfs.data()));
    perfs.resize(std::clamp(returned, 0, static_cast<int>(perfs.size())));
    bwd_filter = Pick<cudnnConvolutionBwdFilterAlgo_t>(
        perfs, options,
        [&](cudnnConvolutionBwdFilterAlgo_t algo, std::size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, x(), y(), conv, filter,
                                                                algo, bytes);
        },
        direction);
  }
};

bool CudnnConv::Available() { return true; }

bool CudnnConv::Supported(const math::ConvGeometry& g, std::string* why) {
  auto refuse = [why](const std::string& reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  if (g.num < 1 || g.in_channels < 1 || g.in_h < 1 || g.in_w < 1 || g.out_channels < 1 ||
      g.out_h < 1 || g.out_w < 1 || g.kernel_h < 1 || g.kernel_w < 1 || g.stride_h < 1 ||
      g.stride_w < 1 || g.dilation_h < 1 || g.dilation_w < 1 || g.group < 1 || g.pad_h < 0 ||
      g.pad_w < 0) {
    return refuse(StrCat("not a valid 2-D convolution: ", GeometryString(g)));
  }
  if (g.in_channels % g.group != 0 || g.out_channels % g.group != 0) {
    return refuse(StrCat("group ", g.group, " does not divide the channels (", g.in_channels,
                         " in, ", g.out_channels, " out)"));
  }
  // The legacy API's descriptors take int sizes and strides.
  const BlobCounts counts = CountsOf(g);
  if (g.num > kIntMax || counts.bottom > kIntMax || counts.top > kIntMax ||
      counts.weight > kIntMax) {
    return refuse("a blob has 2^31 or more elements (cuDNN's legacy API counts in int)");
  }
  // cuDNN derives the convolution's output size from its input (x) and checks y against it.
  const int x_h = g.transposed ? g.out_h : g.in_h;
  const int x_w = g.transposed ? g.out_w : g.in_w;
  const int y_h = g.transposed ? g.in_h : g.out_h;
  const int y_w = g.transposed ? g.in_w : g.out_w;
  if (ConvOutSize(x_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h) != y_h ||
      ConvOutSize(x_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w) != y_w) {
    return refuse(StrCat("the blob sizes do not match the kernel, stride, pad and dilation: ",
                         GeometryString(g)));
  }
  return true;
}

CudnnConv::CudnnConv(const math::ConvGeometry& g, const Options& options, Im2colConv* bias_only)
    : g_(g), options_(options), bias_only_(bias_only), impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!Supported(g, &why)) throw ConfigError(StrCat("engine CUDNN: ", why));
  Impl& m = *impl_;  // on a throw below, ~Impl destroys what was created
  m.transposed = g.transposed;
  m.bf16 = options.precision == Precision::kBfloat16;
  m.counts = CountsOf(g);
  const cudnnDataType_t type = m.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  const int num = static_cast<int>(g.num);
  FCN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m.bottom));
  FCN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.bottom, CUDNN_TENSOR_NCHW, type, num, g.in_channels,
                                             g.in_h, g.in_w));
  FCN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m.top));
  FCN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.top, CUDNN_TENSOR_NCHW, type, num, g.out_channels,
                                             g.out_h, g.out_w));
  FCN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m.top_f32));
  FCN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.top_f32, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, num,
                                             g.out_channels, g.out_h, g.out_w));
  FCN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m.bias));
  FCN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                             g.out_channels, 1, 1));
  // K x C/G x kh x kw with K = y channels and C = x channels: Caffe's M x C/G x kh x kw for a
  // Convolution, C_bottom x M/G x kh x kw for a Deconvolution.
  const int filter_k = g.transposed ? g.in_channels : g.out_channels;
  const int filter_c = (g.transposed ? g.out_channels : g.in_channels) / g.group;
  FCN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&m.filter));
  FCN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(m.filter, type, CUDNN_TENSOR_NCHW, filter_k, filter_c,
                                             g.kernel_h, g.kernel_w));
  FCN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&m.conv));
  FCN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(m.conv, g.pad_h, g.pad_w, g.stride_h, g.stride_w,
                                                  g.dilation_h, g.dilation_w,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  FCN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(m.conv, g.group));
  // fp32: plain FMA (CUDNN_DEFAULT_MATH would allow TF32 tensor ops on Ampere and later). bf16:
  // bf16 operands on the tensor cores, accumulated in fp32 (the descriptor's compute type).
  FCN_CUDNN_CHECK(
      cudnnSetConvolutionMathType(m.conv, m.bf16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
}

CudnnConv::~CudnnConv() = default;

std::string CudnnConv::AlgorithmNames() const {
  const Impl& m = *impl_;
  // Named by the layer's directions; a Deconvolution's forward is cuDNN's backward data and
  // its backward data cuDNN's forward.
  std::vector<std::string> parts;
  if (!g_.transposed) {
    if (m.fwd.chosen) parts.push_back(StrCat("fwd ", AlgoName(m.fwd.algo)));
    if (m.bwd_data.chosen) parts.push_back(StrCat("bwd data ", AlgoName(m.bwd_data.algo)));
  } else {
    if (m.bwd_data.chosen) {
      parts.push_back(StrCat("fwd ", AlgoName(m.bwd_data.algo), " (cuDNN backward data)"));
    }
    if (m.fwd.chosen) {
      parts.push_back(StrCat("bwd data ", AlgoName(m.fwd.algo), " (cuDNN forward)"));
    }
  }
  if (m.bwd_filter.chosen) parts.push_back(StrCat("bwd filter ", AlgoName(m.bwd_filter.algo)));
  return parts.empty() ? std::string("none chosen yet") : Join(parts, ", ");
}

namespace {

// "forward pass (cudnnConvolutionForward) of convolution 1x3x...": what an error names.
std::string Direction(const math::ConvGeometry& g, const char* layer_direction,
                      const char* cudnn_call) {
  return StrCat(layer_direction, " (", cudnn_call, ") of ", GeometryString(g));
}

}  // namespace

// The operands and result of one cuDNN call: the blobs themselves in fp32, their bf16 copies
// (rounded here, in the call's scratch) in bf16. `Finish` widens a bf16 result into its blob.
struct CudnnConv::Operands {
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
  void* scratch = nullptr;
  std::size_t scratch_bytes = 0;
  // bf16 only: the fp32 result, its count, and whether it is added to (beta 1).
  float* out_f32 = nullptr;
  std::int64_t out_count = 0;
  bool accumulate = false;
};

CudnnConv::Operands CudnnConv::Prepare(const ExecContext& ctx, std::size_t algo_bytes,
                                       const float* a, std::int64_t a_count, const float* b,
                                       std::int64_t b_count, float* out, std::int64_t out_count,
                                       bool accumulate) {
  Operands o;
  o.scratch_bytes = algo_bytes;
  if (!impl_->bf16) {
    o.a = a;
    o.b = b;
    o.out = out;
    o.scratch = Scratch(ctx, algo_bytes);
    return o;
  }
  // One workspace buffer: the algorithm's workspace, then the bf16 copies of the two operands
  // and the bf16 result, each at a 256-byte boundary.
  auto round_up = [](std::size_t bytes) { return (bytes + 255) / 256 * 256; };
  const std::size_t algo = round_up(algo_bytes);
  const std::size_t a_bytes = round_up(static_cast<std::size_t>(a_count) * 2);
  const std::size_t b_bytes = round_up(static_cast<std::size_t>(b_count) * 2);
  const std::size_t out_bytes = round_up(static_cast<std::size_t>(out_count) * 2);
  auto* base = static_cast<char*>(Scratch(ctx, algo + a_bytes + b_bytes + out_bytes));
  auto* a16 = reinterpret_cast<std::uint16_t*>(base + algo);
  auto* b16 = reinterpret_cast<std::uint16_t*>(base + algo + a_bytes);
  ToBf16(ctx, a, a16, a_count);
  ToBf16(ctx, b, b16, b_count);
  o.a = a16;
  o.b = b16;
  o.out = base + algo + a_bytes + b_bytes;
  o.scratch = algo_bytes == 0 ? nullptr : base;
  o.out_f32 = out;
  o.out_count = out_count;
  o.accumulate = accumulate;
  return o;
}

void CudnnConv::Finish(const ExecContext& ctx, const Operands& o) {
  if (o.out_f32 == nullptr) return;
  FromBf16(ctx, static_cast<const std::uint16_t*>(o.out), o.out_f32, o.out_count, o.accumulate);
}

void CudnnConv::ForwardPair(const ExecContext& ctx, const float* bottom, const float* weights,
                            const float* bias, float* top) {
  FCN_CHECK(!g_.bias || bias != nullptr, "CudnnConv::Forward: the geometry has a bias, none given");
  Impl& m = *impl_;
  const cudnnHandle_t handle = ctx.gpu().cudnn;
  if (!g_.transposed) {
    if (!m.fwd.chosen) {
      m.ChooseForward(handle, options_, Direction(g_, "forward pass", "cudnnConvolutionForward"));
    }
    const Operands o = Prepare(ctx, m.fwd.bytes, bottom, m.counts.bottom, weights, m.counts.weight,
                               top, m.counts.top, false);
    FCN_CUDNN_CHECK(cudnnConvolutionForward(handle, &kOne, m.bottom, o.a, m.filter, o.b, m.conv,
                                            m.fwd.algo, o.scratch, o.scratch_bytes, &kZero, m.top,
                                            o.out));
    Finish(ctx, o);
  } else {
    if (!m.bwd_data.chosen) {
      m.ChooseBackwardData(handle, options_,
                           Direction(g_, "forward pass", "cudnnConvolutionBackwardData"));
    }
    const Operands o = Prepare(ctx, m.bwd_data.bytes, weights, m.counts.weight, bottom,
                               m.counts.bottom, top, m.counts.top, false);
    FCN_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &kOne, m.filter, o.a, m.bottom, o.b,
                                                 m.conv, m.bwd_data.algo, o.scratch,
                                                 o.scratch_bytes, &kZero, m.top, o.out));
    Finish(ctx, o);
  }
  if (g_.bias) FCN_CUDNN_CHECK(cudnnAddTensor(handle, &kOne, m.bias, bias, &kOne, m.top_f32, top));
}

void CudnnConv::BackwardDataPair(const ExecContext& ctx, const float* top_diff,
                                 const float* weights, float* bottom_diff) {
  Impl& m = *impl_;
  const cudnnHandle_t handle = ctx.gpu().cudnn;
  if (!g_.transposed) {
    if (!m.bwd_data.chosen) {
      m.ChooseBackwardData(handle, options_,
                           Direction(g_, "backward data pass", "cudnnConvolutionBackwardData"));
    }
    const Operands o = Prepare(ctx, m.bwd_data.bytes, weights, m.counts.weight, top_diff,
                               m.counts.top, bottom_diff, m.counts.bottom, false);
    FCN_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &kOne, m.filter, o.a, m.top, o.b, m.conv,
                                                 m.bwd_data.algo, o.scratch, o.scratch_bytes,
                                                 &kZero, m.bottom, o.out));
    Finish(ctx, o);
  } else {
    if (!m.fwd.chosen) {
      m.ChooseForward(handle, options_,
                      Direction(g_, "backward data pass", "cudnnConvolutionForward"));
    }
    const Operands o = Prepare(ctx, m.fwd.bytes, top_diff, m.counts.top, weights, m.counts.weight,
                               bottom_diff, m.counts.bottom, false);
    FCN_CUDNN_CHECK(cudnnConvolutionForward(handle, &kOne, m.top, o.a, m.filter, o.b, m.conv,
                                            m.fwd.algo, o.scratch, o.scratch_bytes, &kZero,
                                            m.bottom, o.out));
    Finish(ctx, o);
  }
}

void CudnnConv::BackwardWeightsPair(const ExecContext& ctx, const float* bottom,
                                    const float* top_diff, float* weight_diff, float* bias_diff) {
  Impl& m = *impl_;
  const cudnnHandle_t handle = ctx.gpu().cudnn;
  if (!m.bwd_filter.chosen) {
    m.ChooseBackwardFilter(
        handle, options_, Direction(g_, "backward weights pass", "cudnnConvolutionBackwardFilter"));
  }
  // x is the bottom of a Convolution and the top (here its diff) of a Deconvolution.
  const float* x = g_.transposed ? top_diff : bottom;
  const float* dy = g_.transposed ? bottom : top_diff;
  const std::int64_t x_count = g_.transposed ? m.counts.top : m.counts.bottom;
  const std::int64_t y_count = g_.transposed ? m.counts.bottom : m.counts.top;
  // fp32 adds into the gradient (beta 1); bf16 writes a bf16 gradient that is then added.
  const Operands o =
      Prepare(ctx, m.bwd_filter.bytes, x, x_count, dy, y_count, weight_diff, m.counts.weight, true);
  FCN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &kOne, m.x(), o.a, m.y(), o.b, m.conv,
                                                 m.bwd_filter.algo, o.scratch, o.scratch_bytes,
                                                 m.bf16 ? &kZero : &kOne, m.filter, o.out));
  Finish(ctx, o);
  if (bias_diff != nullptr) {
    FCN_CUDNN_CHECK(
        cudnnConvolutionBackwardBias(handle, &kOne, m.top_f32, top_diff, &kOne, m.bias, bias_diff));
  }
}

#else  // !FCN_HAVE_CUDNN

struct CudnnConv::Impl {};

bool CudnnConv::Available() { return false; }

bool CudnnConv::Supported(const math::ConvGeometry& /*g*/, std::string* why) {
  if (why != nullptr) *why = "this fcn was built without cuDNN";
  return false;
}

CudnnConv::CudnnConv(const math::ConvGeometry& g, const Options& options, Im2colConv* bias_only)
    : g_(g), options_(options), bias_only_(bias_only) {
  throw ConfigError("engine CUDNN: this fcn was built without cuDNN");
}

CudnnConv::~CudnnConv() = default;

std::string CudnnConv::AlgorithmNames() const { return "none (built without cuDNN)"; }

void CudnnConv::ForwardPair(const ExecContext& /*ctx*/, const float* /*bottom*/,
                            const float* /*weights*/, const float* /*bias*/, float* /*top*/) {
  throw ConfigError("engine CUDNN: this fcn was built without cuDNN");
}

void CudnnConv::BackwardDataPair(const ExecContext& /*ctx*/, const float* /*top_diff*/,
                                 const float* /*weights*/, float* /*bottom_diff*/) {
  throw ConfigError("engine CUDNN: this fcn was built without cuDNN");
}

void CudnnConv::BackwardWeightsPair(const ExecContext& /*ctx*/, const float* /*bottom*/,
                                    const float* /*top_diff*/, float* /*weight_diff*/,
                                    float* /*bias_diff*/) {
  throw ConfigError("engine CUDNN: this fcn was built without cuDNN");
}

#endif  // FCN_HAVE_CUDNN

std::string CudnnConv::name() const {
  return StrCat("CUDNN (", options_.precision == Precision::kBfloat16 ? "bf16: " : "",
                AlgorithmNames(), ")");
}

void CudnnConv::Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
                        const BlobVec& top) {
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    ForwardPair(ctx, bottom[i]->data(ctx), p.weights->data(ctx), p.bias, top[i]->mutable_data(ctx));
  }
}

void CudnnConv::Backward(const ExecContext& ctx, const BlobVec& top,
                         const std::vector<bool>& propagate_down, const ConvParams& p,
                         const BlobVec& bottom) {
  for (std::size_t i = 0; i < top.size(); ++i) {
    // cuDNN's filter pass computes both gradients; a frozen weight (lr_mult 0) still skips it.
    if (p.weight_diff) {
      BackwardWeightsPair(ctx, bottom[i]->data(ctx), top[i]->diff(ctx), p.weight_diff, p.bias_diff);
    } else if (p.bias_diff) {
      bias_only_->BackwardBiasAll(ctx, top[i]->diff(ctx), p.bias_diff);
    }
    if (i < propagate_down.size() && propagate_down[i]) {
      BackwardDataPair(ctx, top[i]->diff(ctx), p.weights->data(ctx), bottom[i]->mutable_diff(ctx));
    }
  }
}

}  // namespace fcn
