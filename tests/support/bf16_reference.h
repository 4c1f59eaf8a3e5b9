// SPDX-License-Identifier: BSD-2-Clause
// The bf16 reference of the convolution layers (tests/layers/bf16_test.cpp on the CPU,
// tests/gpu/bf16_gpu_test.cpp on a GPU): each direction computed in double from the operands
// rounded to bf16 (round to nearest even), the FCN layer shapes, and the check that a layer run
// with Precision::kBfloat16 equals that reference within fp32 accumulation error and misses
// the fp32 result.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fcn/layer.h"
#include "fcn/options.h"
#include "support/test_util.h"

namespace fcn::test {

// fp32 accumulation of up to a few thousand products, relative to the sum of their magnitudes.
inline constexpr double kAccumulation = 1e-5;

inline float RoundBf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, nan
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

inline std::vector<float> Rounded(std::vector<float> v) {
  for (float& x : v) x = RoundBf16(x);
  return v;
}

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

// got equals the bf16 reference within fp32 accumulation (plus `result_rounding` of its value,
// where the engine rounds its result to bf16, as cuDNN's bf16 path does), and at least a
// quarter of its elements miss the fp32 reference by more than fp32 accumulation.
inline void ExpectBf16(const std::string& what, const std::vector<float>& got,
                       const Result& bf16_ref, const Result& fp32_ref,
                       double result_rounding = 0.0) {
  ASSERT_EQ(got.size(), bf16_ref.value.size()) << what;
  int bad = 0;
  std::size_t off_fp32 = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double tol = kAccumulation * bf16_ref.magnitude[i] +
                       result_rounding * std::fabs(bf16_ref.value[i]) + 1e-7;
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
  const char* engine;  // "DEFAULT" (oneDNN; cuDNN on a GPU) or "CAFFE" (im2col + bf16 GEMM)
};

inline std::string LayerText(const LayerCase& lc) {
  const ConvFrame& f = lc.f;
  // A deconvolution's bottom is the convolution frame's output, its top the frame's input.
  const int num_output = lc.deconv ? f.c : f.m;
  return StrCat("name: 'l' type: '", lc.deconv ? "Deconvolution" : "Convolution",
                "' bottom: 'x' top: 'y' convolution_param { num_output: ", num_output,
                " kernel_size: ", f.k, " stride: ", f.stride, " pad: ", f.pad, " group: ", f.group,
                " engine: ", lc.engine, " weight_filler { type: 'gaussian' std: 0.5 }",
                " bias_filler { type: 'gaussian' std: 0.5 } }");
}

// Runs the case's layer in bf16 on `options`' device (forward, then backward into zeroed
// parameter gradients) and holds every direction to the bf16 reference. `result_rounding`:
// the engine rounds its results to bf16 (ExpectBf16); the bias is then zero, so that the
// rounded value is the whole output.
inline void CheckBf16Layer(const LayerCase& lc, Options options, double result_rounding = 0.0) {
  const ConvFrame& f = lc.f;
  SCOPED_TRACE(LayerText(lc));
  options.precision = Precision::kBfloat16;
  std::unique_ptr<Layer> layer = MakeLayer(LayerText(lc));
  layer->set_options(options);
  ExecContext ctx(options);
  const std::vector<std::int64_t> in_shape = {f.n, f.c, f.h, f.w};
  const std::vector<std::int64_t> out_shape = {f.n, f.m, f.oh(), f.ow()};
  std::unique_ptr<Blob> x = GaussianBlob(lc.deconv ? out_shape : in_shape, 7);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  ASSERT_EQ(y.shape(), lc.deconv ? in_shape : out_shape);
  if (result_rounding > 0)
    SetValues(layer->blobs()[1].get(), std::vector<float>(lc.deconv ? f.c : f.m, 0.0f));
  const std::vector<float> weights = Data(*layer->blobs()[0]);
  const std::vector<float> bias = Data(*layer->blobs()[1]);
  layer->Forward(ctx, {x.get()}, {&y});
  if (std::string(lc.engine) == "DEFAULT") {
    EXPECT_NE(layer->engine_name().find("bf16"), std::string::npos) << layer->engine_name();
  }
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
  ExpectBf16("forward", Data(y2), fwd16, fwd32, result_rounding);
  ExpectBf16("backward data", Diff(*x), lc.deconv ? f.Forward(dyr, wr) : f.BackwardData(dyr, wr),
             lc.deconv ? f.Forward(dy, weights) : f.BackwardData(dy, weights), result_rounding);
  ExpectBf16("backward weights", Diff(*layer->blobs()[0]),
             lc.deconv ? f.BackwardWeights(dyr, xr) : f.BackwardWeights(xr, dyr),
             lc.deconv ? f.BackwardWeights(dy, xv) : f.BackwardWeights(xv, dy), result_rounding);
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

inline const LayerCase kBf16LayerCases[] = {
    // FCN's 3x3 stride-1 shape: Winograd in fp32, the direct bf16 kernels on the CPU.
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

}  // namespace fcn::test
