// SPDX-License-Identifier: BSD-2-Clause
// Precision::kBfloat16 (fcntool --precision=bf16, the solver's `precision: BF16`): the
// convolution, deconvolution and inner product layers multiply in bf16 and accumulate in fp32.
//
// The reference is exact about what that means: the same layer computed in double from the
// operands rounded to bf16 (round to nearest even). Each direction (forward, backward data,
// backward weights) must equal it within fp32 accumulation error (kAccumulation times the sum
// of the products' magnitudes), and must differ from the fp32 result by more than that, which
// shows the products really were bf16. The cases run where the CPU has bf16 instructions
// (oneDNN's avx512_core_bf16) and skip elsewhere; what a CPU without them does is tested here
// too (a ConfigError, fcntool exit 2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fcn/io.h"
#include "fcn/layer.h"
#include "fcn/net.h"
#include "fcn/options.h"
#include "fcn/solver.h"
#include "layers/base_conv.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

// fp32 accumulation of up to a few thousand products, relative to the sum of their magnitudes.
constexpr double kAccumulation = 1e-5;

float RoundBf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, nan
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

std::vector<float> Rounded(std::vector<float> v) {
  for (float& x : v) x = RoundBf16(x);
  return v;
}

Options Bf16Options() {
  Options options;
  options.precision = Precision::kBfloat16;
  return options;
}

bool HaveBf16(std::string* why) { return PrecisionAvailableOnCpu(Precision::kBfloat16, why); }

#define SKIP_WITHOUT_BF16()                                         \
  do {                                                              \
    std::string why_;                                               \
    if (!HaveBf16(&why_)) GTEST_SKIP() << "no bf16 here: " << why_; \
  } while (0)

// A direction's values and the sum of its products' magnitudes, per output element.
struct Result {
  std::vector<double> value, magnitude;
};

// A convolution in Caffe's frame: input N x C x H x W, output N x M x OH x OW, weights
// M x C/G x K x K, square stride and pad, no dilation.
struct ConvFrame {
  int n, c, h, w, m, k, stride, pad, group;
  int oh() const { return (h + 2 * pad - k) / stride + 1; }
  int ow() const { return (w + 2 * pad - k) / stride + 1; }
  std::size_t in_count() const { return static_cast<std::size_t>(n) * c * h * w; }
  std::size_t out_count() const { return static_cast<std::size_t>(n) * m * oh() * ow(); }
  std::size_t weight_count() const { return static_cast<std::size_t>(m) * (c / group) * k * k; }

  // Calls fn(input index, output index, weight index) for every product of the convolution.
  template <class Fn>
  void ForEachProduct(Fn&& fn) const {
    const int cg = c / group, mg = m / group;
    for (int b = 0; b < n; ++b) {
      for (int mi = 0; mi < m; ++mi) {
        const int g = mi / mg;
        for (int oy = 0; oy < oh(); ++oy) {
          for (int ox = 0; ox < ow(); ++ox) {
            const std::size_t o = ((static_cast<std::size_t>(b) * m + mi) * oh() + oy) * ow() + ox;
            for (int cj = 0; cj < cg; ++cj) {
              const int ci = g * cg + cj;
              for (int i = 0; i < k; ++i) {
                const int iy = oy * stride - pad + i;
                if (iy < 0 || iy >= h) continue;
                for (int j = 0; j < k; ++j) {
                  const int ix = ox * stride - pad + j;
                  if (ix < 0 || ix >= w) continue;
                  const std::size_t in = ((static_cast<std::size_t>(b) * c + ci) * h + iy) * w + ix;
                  const std::size_t wt = ((static_cast<std::size_t>(mi) * cg + cj) * k + i) * k + j;
                  fn(in, o, wt);
                }
              }
            }
          }
        }
      }
    }
  }
  // output = conv(input, weights)
  Result Forward(const std::vector<float>& in, const std::vector<float>& wt) const {
    Result r{std::vector<double>(out_count()), std::vector<double>(out_count())};
    ForEachProduct([&](std::size_t i, std::size_t o, std::size_t q) {
      const double p = static_cast<double>(in[i]) * wt[q];
      r.value[o] += p;
      r.magnitude[o] += std::fabs(p);
    });
    return r;
  }
  // d input = conv^T(d output, weights)
  Result BackwardData(const std::vector<float>& dout, const std::vector<float>& wt) const {
    Result r{std::vector<double>(in_count()), std::vector<double>(in_count())};
    ForEachProduct([&](std::size_t i, std::size_t o, std::size_t q) {
      const double p = static_cast<double>(dout[o]) * wt[q];
      r.value[i] += p;
      r.magnitude[i] += std::fabs(p);
    });
    return r;
  }
  // d weights = correlation of d output with the input
  Result BackwardWeights(const std::vector<float>& in, const std::vector<float>& dout) const {
    Result r{std::vector<double>(weight_count()), std::vector<double>(weight_count())};
    ForEachProduct([&](std::size_t i, std::size_t o, std::size_t q) {
      const double p = static_cast<double>(in[i]) * dout[o];
      r.value[q] += p;
      r.magnitude[q] += std::fabs(p);
    });
    return r;
  }
};

// got equals the bf16 reference within fp32 accumulation, and at least a quarter of its
// elements miss the fp32 reference by more than that.
void ExpectBf16(const std::string& what, const std::vector<float>& got, const Result& bf16_ref,
                const Result& fp32_ref) {
  ASSERT_EQ(got.size(), bf16_ref.value.size()) << what;
  int bad = 0;
  std::size_t off_fp32 = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = kAccumulation * bf16_ref.magnitude[i] + 1e-7;
    if (std::fabs(got[i] - bf16_ref.value[i]) > tol && ++bad <= 5) {
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", bf16 reference "
                    << bf16_ref.value[i] << " (tolerance " << tol << ")";
    }
    if (std::fabs(got[i] - fp32_ref.value[i]) > kAccumulation * fp32_ref.magnitude[i] + 1e-7) {
      ++off_fp32;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements off";
  EXPECT_GT(off_fp32, got.size() / 4)
      << what << ": the result is the fp32 one; were the products bf16?";
}

struct LayerCase {
  ConvFrame f;
  bool deconv;
  const char* engine;  // "DEFAULT" (oneDNN) or "CAFFE" (im2col + bf16 GEMM)
};

std::string LayerText(const LayerCase& lc) {
  const ConvFrame& f = lc.f;
  // A deconvolution's bottom is the convolution frame's output, its top the frame's input.
  const int num_output = lc.deconv ? f.c : f.m;
  return StrCat("name: 'l' type: '", lc.deconv ? "Deconvolution" : "Convolution",
                "' bottom: 'x' top: 'y' convolution_param { num_output: ", num_output,
                " kernel_size: ", f.k, " stride: ", f.stride, " pad: ", f.pad, " group: ", f.group,
                " engine: ", lc.engine, " weight_filler { type: 'gaussian' std: 0.5 }",
                " bias_filler { type: 'gaussian' std: 0.5 } }");
}

void CheckLayer(const LayerCase& lc) {
  const ConvFrame& f = lc.f;
  SCOPED_TRACE(LayerText(lc));
  std::unique_ptr<Layer> layer = MakeLayer(LayerText(lc));
  layer->set_options(Bf16Options());
  ExecContext ctx(Bf16Options());
  const std::vector<std::int64_t> in_shape = {f.n, f.c, f.h, f.w};
  const std::vector<std::int64_t> out_shape = {f.n, f.m, f.oh(), f.ow()};
  std::unique_ptr<Blob> x = GaussianBlob(lc.deconv ? out_shape : in_shape, 7);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  ASSERT_EQ(y.shape(), lc.deconv ? in_shape : out_shape);
  if (std::string(lc.engine) == "DEFAULT") {
    EXPECT_NE(layer->engine_name().find("bf16"), std::string::npos) << layer->engine_name();
  }
  const std::vector<float> weights = Data(*layer->blobs()[0]);
  const std::vector<float> bias = Data(*layer->blobs()[1]);
  layer->Forward(ctx, {x.get()}, {&y});
  FillGaussian(&y, 11, 0.0f, 1.0f);  // the top diff: set through the data, then moved
  SetDiff(&y, Data(y));
  layer->blobs()[0]->scale_diff(0.0f);
  layer->blobs()[1]->scale_diff(0.0f);
  layer->Backward(ctx, {&y}, {true}, {x.get()});

  const std::vector<float> xv = Data(*x), dy = Diff(y);
  const std::vector<float> xr = Rounded(xv), dyr = Rounded(dy), wr = Rounded(weights);
  // Forward (without the bias, which is added in fp32 and compared the same way).
  Result fwd16 = lc.deconv ? f.BackwardData(xr, wr) : f.Forward(xr, wr);
  Result fwd32 = lc.deconv ? f.BackwardData(xv, weights) : f.Forward(xv, weights);
  const int channels = lc.deconv ? f.c : f.m;
  const std::size_t spatial = fwd16.value.size() / (static_cast<std::size_t>(f.n) * channels);
  for (std::size_t i = 0; i < fwd16.value.size(); ++i) {
    const double b = bias[(i / spatial) % static_cast<std::size_t>(channels)];
    fwd16.value[i] += b;
    fwd32.value[i] += b;
    fwd16.magnitude[i] += std::fabs(b);
    fwd32.magnitude[i] += std::fabs(b);
  }
  // The forward top was overwritten by the diff fill: run it again for the comparison.
  Blob y2;
  layer->Forward(ctx, {x.get()}, {&y2});
  ExpectBf16("forward", Data(y2), fwd16, fwd32);
  ExpectBf16("backward data", Diff(*x), lc.deconv ? f.Forward(dyr, wr) : f.BackwardData(dyr, wr),
             lc.deconv ? f.Forward(dy, weights) : f.BackwardData(dy, weights));
  ExpectBf16("backward weights", Diff(*layer->blobs()[0]),
             lc.deconv ? f.BackwardWeights(dyr, xr) : f.BackwardWeights(xr, dyr),
             lc.deconv ? f.BackwardWeights(dy, xv) : f.BackwardWeights(xv, dy));
  // The bias gradient sums the top diff: fp32 or bf16-rounded, within accumulation error.
  const std::vector<float> db = Diff(*layer->blobs()[1]);
  const std::size_t top_spatial = dy.size() / (static_cast<std::size_t>(f.n) * channels);
  for (int ch = 0; ch < channels; ++ch) {
    double sum = 0, sum_r = 0, mag = 0;
    for (int b = 0; b < f.n; ++b) {
      for (std::size_t s = 0; s < top_spatial; ++s) {
        const std::size_t i = (static_cast<std::size_t>(b) * channels + ch) * top_spatial + s;
        sum += dy[i];
        sum_r += dyr[i];
        mag += std::fabs(dy[i]);
      }
    }
    const double tol = 4e-3 * mag + 1e-6;  // the rounding of dy to bf16, at most 2^-9 each
    EXPECT_NEAR(db[ch], sum, tol) << "bias diff " << ch;
    EXPECT_NEAR(sum_r, sum, tol);
  }
}

const LayerCase kCases[] = {
    // FCN's 3x3 stride-1 shape: Winograd in fp32, the direct bf16 kernels here.
    {{2, 32, 13, 11, 48, 3, 1, 1, 1}, false, "DEFAULT"},
    // conv1_1's three input channels and large pad, a 1x1 score layer, a strided grouped one.
    {{1, 3, 9, 10, 16, 3, 1, 5, 1}, false, "DEFAULT"},
    {{2, 64, 6, 7, 21, 1, 1, 0, 1}, false, "DEFAULT"},
    {{1, 32, 12, 12, 32, 4, 2, 1, 2}, false, "DEFAULT"},
    // FCN's upsampling: 4x4 stride 2 per class (group = channels), and a dense one.
    {{1, 21, 14, 14, 21, 4, 2, 0, 21}, true, "DEFAULT"},
    {{2, 16, 10, 10, 24, 4, 2, 1, 1}, true, "DEFAULT"},
    // The im2col path: its GEMMs multiply in bf16 too.
    {{2, 32, 13, 11, 48, 3, 1, 1, 1}, false, "CAFFE"},
    {{1, 16, 10, 10, 24, 4, 2, 1, 1}, true, "CAFFE"},
};

// One parser of the names, for fcntool's --precision, FCN_PRECISION and fcn.set_precision.
TEST(Bf16Layers, PrecisionNamesParseBothWaysAndOthersAreRefused) {
  for (Precision p : {Precision::kFloat32, Precision::kBfloat16}) {
    Precision parsed = p == Precision::kFloat32 ? Precision::kBfloat16 : Precision::kFloat32;
    ASSERT_TRUE(PrecisionFromName(PrecisionName(p), &parsed)) << PrecisionName(p);
    EXPECT_EQ(parsed, p);
  }
  Precision parsed = Precision::kFloat32;
  EXPECT_TRUE(PrecisionFromName("BF16", &parsed));
  EXPECT_EQ(parsed, Precision::kBfloat16);
  EXPECT_TRUE(PrecisionFromName("FP32", &parsed));
  EXPECT_EQ(parsed, Precision::kFloat32);
  for (const char* bad : {"", "fp16", "Bf16", "bf16 ", "float"}) {
    parsed = Precision::kBfloat16;
    EXPECT_FALSE(PrecisionFromName(bad, &parsed)) << bad;
    EXPECT_EQ(parsed, Precision::kBfloat16) << "unchanged on failure";
  }
}

TEST(Bf16Layers, ConvolutionAndDeconvolutionEqualTheBf16RoundedReference) {
  SKIP_WITHOUT_BF16();
  for (const LayerCase& lc : kCases) CheckLayer(lc);
}

TEST(Bf16Layers, InnerProductEqualsTheBf16RoundedReference) {
  SKIP_WITHOUT_BF16();
  for (const bool transpose : {false, true}) {
    SCOPED_TRACE(transpose ? "transpose: true" : "transpose: false");
    const int m = 5, k = 300, n = 17;
    std::unique_ptr<Layer> layer = MakeLayer(StrCat(
        "name: 'ip' type: 'InnerProduct' bottom: 'x' top: 'y' inner_product_param { num_output: ",
        n, " transpose: ", transpose ? "true" : "false",
        " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'constant' value: 0 } "
        "}"));
    layer->set_options(Bf16Options());
    ExecContext ctx(Bf16Options());
    std::unique_ptr<Blob> x = GaussianBlob({m, 3, 10, 10}, 3);
    Blob y;
    layer->SetUp({x.get()}, {&y});
    layer->Forward(ctx, {x.get()}, {&y});
    const std::vector<float> out = Data(y);
    std::unique_ptr<Blob> dy_blob = GaussianBlob({m, n}, 5);
    SetDiff(&y, Data(*dy_blob));
    layer->blobs()[0]->scale_diff(0.0f);
    layer->Backward(ctx, {&y}, {true}, {x.get()});
    // The weights as N x K whatever the storage (transpose stores K x N).
    const std::vector<float> stored = Data(*layer->blobs()[0]);
    std::vector<float> w(static_cast<std::size_t>(n) * k);
    for (int o = 0; o < n; ++o) {
      for (int i = 0; i < k; ++i) {
        w[o * k + i] = transpose ? stored[static_cast<std::size_t>(i) * n + o] : stored[o * k + i];
      }
    }
    const std::vector<float> xv = Data(*x), dy = Diff(y), xr = Rounded(xv), wr = Rounded(w),
                             dyr = Rounded(dy);
    // The three products as 1x1 convolutions of a 1x1 image: input K channels, output N.
    const ConvFrame f{m, k, 1, 1, n, 1, 1, 0, 1};
    ExpectBf16("forward", out, f.Forward(xr, wr), f.Forward(xv, w));
    ExpectBf16("backward data", Diff(*x), f.BackwardData(dyr, wr), f.BackwardData(dy, w));
    const Result dw16 = f.BackwardWeights(xr, dyr), dw32 = f.BackwardWeights(xv, dy);
    std::vector<float> dw_nk(w.size());
    const std::vector<float> dstored = Diff(*layer->blobs()[0]);
    for (int o = 0; o < n; ++o) {
      for (int i = 0; i < k; ++i) {
        dw_nk[o * k + i] =
            transpose ? dstored[static_cast<std::size_t>(i) * n + o] : dstored[o * k + i];
      }
    }
    ExpectBf16("backward weights", dw_nk, dw16, dw32);
  }
}

TEST(Bf16Layers, ThreeByThreeLayersRunDirectBf16AndNamedWinogradIsAClearError) {
  SKIP_WITHOUT_BF16();
  auto conv = MakeLayer(
      "name: 'c' type: 'Convolution' bottom: 'x' top: 'y' "
      "convolution_param { num_output: 16 kernel_size: 3 pad: 1 }");
  conv->set_options(Bf16Options());
  Blob x({1, 16, 12, 12}), y;
  conv->SetUp({&x}, {&y});
  const auto& base = dynamic_cast<const BaseConvolutionLayer&>(*conv);
  ASSERT_NE(base.dnnl(), nullptr);
  EXPECT_FALSE(base.dnnl_winograd());
  EXPECT_TRUE(base.dnnl()->bf16());
  EXPECT_NE(conv->engine_name().find("DNNL (direct, bf16: "), std::string::npos)
      << conv->engine_name();

  auto named = MakeLayer(
      "name: 'w' type: 'Convolution' bottom: 'x' top: 'y' "
      "convolution_param { num_output: 16 kernel_size: 3 pad: 1 engine: DNNL_WINOGRAD }");
  named->set_options(Bf16Options());
  const std::string error = ConfigErrorOf([&] { named->SetUp({&x}, {&y}); });
  EXPECT_NE(error.find("no bf16 Winograd"), std::string::npos) << error;
}

const char* kTinyNet = R"(name: "tiny"
layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param {
    shape { dim: 2 dim: 3 dim: 16 dim: 16 } shape { dim: 2 dim: 1 dim: 16 dim: 16 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "score" type: "Convolution" bottom: "pool1" top: "score"
  convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "xavier" } } }
layer { name: "up" type: "Deconvolution" bottom: "score" top: "up"
  convolution_param { num_output: 3 kernel_size: 4 stride: 2 pad: 1 group: 3 bias_term: false
    weight_filler { type: "bilinear" } } param { lr_mult: 0 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "up" bottom: "label" top: "loss" }
)";

std::vector<float> TrainLosses(Precision precision, bool solver_field, int iters) {
  SolverParameter param;
  *param.mutable_net_param() = ReadNetParamFromTextString(kTinyNet, "tiny");
  param.set_base_lr(0.05f);
  param.set_lr_policy("fixed");
  param.set_momentum(0.9f);
  param.set_max_iter(iters);
  param.set_random_seed(3);
  param.set_display(0);
  param.set_snapshot_after_train(false);
  Options options;
  if (solver_field) {
    param.set_precision(precision == Precision::kBfloat16 ? SolverParameter::BF16
                                                          : SolverParameter::FP32);
  } else {
    options.precision = precision;
  }
  Solver solver(param, TempDir(), nullptr, options);
  EXPECT_EQ(solver.options().precision, precision);
  std::vector<float> losses;
  for (int i = 0; i < iters; ++i) {
    solver.Step(1);
    losses.push_back(solver.smoothed_loss());
  }
  // The weights, their gradients and the history stay fp32 blobs whatever the precision.
  for (const auto& h : solver.history()) EXPECT_GT(h->count(), 0);
  return losses;
}

TEST(Bf16Training, FollowsTheFp32LossCloselyButNotExactly) {
  SKIP_WITHOUT_BF16();
  const int iters = 25;
  const std::vector<float> fp32 = TrainLosses(Precision::kFloat32, false, iters);
  const std::vector<float> bf16 = TrainLosses(Precision::kBfloat16, false, iters);
  const std::vector<float> by_field = TrainLosses(Precision::kBfloat16, true, iters);
  ASSERT_EQ(bf16.size(), fp32.size());
  EXPECT_LT(bf16.back(), bf16.front() * 0.9f) << "bf16 training does not learn";
  bool differs = false;
  for (std::size_t i = 0; i < fp32.size(); ++i) {
    EXPECT_NEAR(bf16[i], fp32[i], 0.03 * std::fabs(fp32[i])) << "iteration " << i;
    differs = differs || bf16[i] != fp32[i];
    EXPECT_EQ(by_field[i], bf16[i]) << "the solver field and the option differ at " << i;
  }
  EXPECT_TRUE(differs) << "bf16 gave the fp32 losses bit for bit";
}

// oneDNN reads ONEDNN_MAX_CPU_ISA once, at its first use: ctest runs each case in its own
// process; run with others in one process, this case skips.
TEST(Bf16Cpu, WithoutBf16InstructionsANetIsAClearError) {
  setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
  std::string why;
  const bool have = HaveBf16(&why);
  unsetenv("ONEDNN_MAX_CPU_ISA");  // read once already; the later cases' children must not see it
  if (have) {
    GTEST_SKIP() << "oneDNN was initialised before ONEDNN_MAX_CPU_ISA was set (run this case "
                    "alone, as ctest does)";
  }
  EXPECT_NE(why.find("no bf16 instructions"), std::string::npos) << why;
  const std::string error = ConfigErrorOf([] { MakeNet(kTinyNet, Bf16Options()); });
  EXPECT_NE(error.find("precision bf16: "), std::string::npos) << error;
  EXPECT_NE(error.find("--precision=fp32"), std::string::npos) << error;
  // fp32 still runs on the same CPU.
  EXPECT_NO_THROW(MakeNet(kTinyNet, Options()));
}

TEST(Bf16Tool, PrecisionFlagRunsBf16AndRefusesWhatItCannotRun) {
  const std::string dir = TempDir();
  const std::string net = WriteFile(dir, "tiny.prototxt", kTinyNet);
  const CommandResult bad = RunFcntool("time --model=" + net + " --iterations=1 --precision=fp16");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--precision=fp16: expected fp32 or bf16"), std::string::npos)
      << bad.output;
  const CommandResult no_isa =
      RunShell("ONEDNN_MAX_CPU_ISA=AVX512_CORE " + std::string(FCNTOOL_PATH) +
               " time --model=" + net + " --iterations=1 --precision=bf16");
  if (DnnlConv::Available()) {
    EXPECT_EQ(no_isa.exit_code, 2) << no_isa.output;
    EXPECT_NE(no_isa.output.find("precision bf16: this CPU has no bf16 instructions"),
              std::string::npos)
        << no_isa.output;
  }
  SKIP_WITHOUT_BF16();
  const CommandResult ok = RunFcntool("time --model=" + net + " --iterations=2 --precision=bf16");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("direct, bf16"), std::string::npos) << ok.output;
  const CommandResult env = RunShell("FCN_PRECISION=bf16 " + std::string(FCNTOOL_PATH) +
                                     " time --model=" + net + " --iterations=2");
  EXPECT_EQ(env.exit_code, 0) << env.output;
  EXPECT_NE(env.output.find("direct, bf16"), std::string::npos) << env.output;
}

}  // namespace
}  // namespace fcn::test
