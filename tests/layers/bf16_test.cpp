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
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend/for_each_index.h"
#include "fcn/io.h"
#include "fcn/layer.h"
#include "fcn/net.h"
#include "fcn/options.h"
#include "fcn/solver.h"
#include "layers/base_conv.h"
#include "math/bf16_kernels.h"
#include "support/bf16_reference.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

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

// The conversions the cuDNN engine's bf16 path runs (math/bf16_kernels.h; the same functors on
// the CPU and in the GPU kernels) round to nearest even, as the reference does, and keep NaN.
TEST(Bf16Layers, ConversionFunctorsRoundToNearestEven) {
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f,
                               -1.0f,
                               1.0f + 1.0f / 256,
                               1.0f + 3.0f / 256,
                               1.0f + 1.0f / 512,
                               1.0f + 3.0f / 512,
                               3.0e38f,
                               -3.0e38f,
                               std::numeric_limits<float>::max(),
                               1e-40f,
                               -1e-45f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity()};
  std::unique_ptr<Blob> random = GaussianBlob({4096}, 5, 0.0f, 100.0f);
  for (float v : Data(*random)) values.push_back(v);
  // Exact ties: the half-way points between neighbouring bf16 values, both parities.
  for (std::uint32_t top : {0x3f80u, 0x3f81u, 0xc2f7u, 0x0001u}) {
    const std::uint32_t u = (top << 16) | 0x8000u;
    float x;
    std::memcpy(&x, &u, sizeof x);
    values.push_back(x);
  }
  const std::int64_t n = static_cast<std::int64_t>(values.size());
  std::vector<std::uint16_t> bits(values.size());
  ExecContext ctx;
  ForEachIndex(ctx, n, kernels::RoundToBf16{values.data(), bits.data()});
  std::vector<float> widened(values.size(), 100.0f);
  ForEachIndex(ctx, n, kernels::WidenBf16{bits.data(), widened.data(), false});
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(widened[i], RoundBf16(values[i])) << "x = " << values[i];
  }
  EXPECT_EQ(kernels::Bf16Bits(1.0f + 1.0f / 256), 0x3f80u) << "a tie rounds to the even 1.0";
  EXPECT_EQ(kernels::Bf16Bits(1.0f + 3.0f / 256), 0x3f82u) << "a tie rounds to the even 0x3f82";
  EXPECT_EQ(kernels::Bf16Bits(std::numeric_limits<float>::max()), 0x7f80u) << "to infinity";
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::uint32_t signalling_bits = 0xff800001u;  // the payload only in the low half
  float signalling;
  std::memcpy(&signalling, &signalling_bits, sizeof signalling);
  EXPECT_TRUE(std::isnan(kernels::Bf16Value(kernels::Bf16Bits(nan))));
  EXPECT_EQ(kernels::Bf16Bits(signalling), 0xffc0u) << "a NaN stays a (quiet) NaN, sign kept";
  // Accumulating adds the widened value to what is there.
  std::vector<float> sums(values.size(), 2.0f);
  ForEachIndex(ctx, n, kernels::WidenBf16{bits.data(), sums.data(), true});
  EXPECT_EQ(sums[2], 3.0f);
  EXPECT_EQ(sums[3], 1.0f);
}

TEST(Bf16Layers, ConvolutionAndDeconvolutionEqualTheBf16RoundedReference) {
  SKIP_WITHOUT_BF16();
  for (const LayerCase& lc : kBf16LayerCases) CheckBf16Layer(lc, Options());
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
