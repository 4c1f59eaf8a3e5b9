// SPDX-License-Identifier: BSD-2-Clause
// oneDNN's Winograd convolution (engine DNNL_WINOGRAD, the CPU default on 3x3 layers) against
// a plain double-precision reference, on every 3x3 layer shape of VGG-16 FCN-8s, forward,
// backward data and backward weights; oneDNN's direct algorithm (engine DNNL) against the same
// reference, which shows the reference is right and how much of the error Winograd adds.
//
// The channel counts are FCN-8s's; the spatial sizes are those of a 500x500 input with
// conv1_1's pad 100, shrunk where needed to keep each layer to about 150M multiply-adds per
// direction (the reference is plain loops). The error measured is
// max |engine - reference| / max |reference| over the whole output of each direction, and the
// bound it is held to (kWinogradBound) is documented in docs/layers.md ("Winograd").
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fcn/layer.h"
#include "layers/base_conv.h"
#include "layers/dnnl_conv.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

// Measured on the project's 2-core AVX-512 EPYC (oneDNN 2.6, jit_wino_4x3:avx512_core) at the
// sizes below: Winograd at most 1.8e-6 forward, 2.4e-6 backward data and 9.2e-7 backward
// weights; direct at most 3.4e-7, 3.3e-7 and 2.6e-6. The bound leaves 8x headroom.
constexpr double kWinogradBound = 2e-5;
constexpr double kDirectBound = 1e-5;
constexpr double kMacsPerDirection = 150e6;

struct LayerShape {
  const char* name;
  int in_channels, out_channels;
  int size;  // the bottom's height and width at a 500x500 input
  int pad;
};

// VGG-16's 3x3 layers in FCN-8s (conv1_1 pads by 100; the pooling layers round up).
const LayerShape kLayers[] = {
    {"conv1_1", 3, 64, 500, 100},  {"conv1_2", 64, 64, 698, 1},   {"conv2_1", 64, 128, 349, 1},
    {"conv2_2", 128, 128, 349, 1}, {"conv3_1", 128, 256, 175, 1}, {"conv3_2", 256, 256, 175, 1},
    {"conv3_3", 256, 256, 175, 1}, {"conv4_1", 256, 512, 88, 1},  {"conv4_2", 512, 512, 88, 1},
    {"conv4_3", 512, 512, 88, 1},  {"conv5_1", 512, 512, 44, 1},  {"conv5_2", 512, 512, 44, 1},
    {"conv5_3", 512, 512, 44, 1},
};

// The spatial size tested: the layer's own, or smaller to stay near kMacsPerDirection
// (at least 8, two of Winograd's 4x4 output tiles, plus a partial one at the odd sizes).
int TestedSize(const LayerShape& l) {
  const int out_of_pad = 2 * l.pad - 2;  // output size = input size + this
  const double per_pixel = 9.0 * l.in_channels * l.out_channels;
  const int fitting = static_cast<int>(std::sqrt(kMacsPerDirection / per_pixel)) - out_of_pad;
  int size = std::min(l.size, std::max(fitting, 8));
  if (size < l.size && size % 2 == 0) ++size;  // odd: a partial tile at the edge
  return size;
}

// Plain stride-1 3x3 convolution in double, on channel-last copies so the innermost loops run
// over contiguous channels. x: C x H x W, w: M x C x 3 x 3, y/dy: M x OH x OW (Caffe layouts).
struct Reference {
  int c, m, h, w, pad, oh, ow;
  std::vector<float> x_hwc, dy_hwm;
  std::vector<double> w_ijcm, w_ijmc;  // weights with (kernel row, column) outermost

  Reference(const LayerShape& l, int size, const std::vector<float>& x,
            const std::vector<float>& weights, const std::vector<float>& dy)
      : c(l.in_channels), m(l.out_channels), h(size), w(size), pad(l.pad) {
    oh = h + 2 * pad - 2;
    ow = w + 2 * pad - 2;
    x_hwc.resize(x.size());
    for (int ci = 0; ci < c; ++ci) {
      for (int p = 0; p < h * w; ++p) x_hwc[Idx(p, c, ci)] = x[Idx(ci, h * w, p)];
    }
    dy_hwm.resize(dy.size());
    for (int mi = 0; mi < m; ++mi) {
      for (int p = 0; p < oh * ow; ++p) dy_hwm[Idx(p, m, mi)] = dy[Idx(mi, oh * ow, p)];
    }
    w_ijcm.resize(weights.size());
    w_ijmc.resize(weights.size());
    for (int mi = 0; mi < m; ++mi) {
      for (int ci = 0; ci < c; ++ci) {
        for (int k = 0; k < 9; ++k) {
          const double v = weights[Idx(Idx(mi, c, ci), 9, k)];
          w_ijcm[Idx(Idx(k, c, ci), m, mi)] = v;
          w_ijmc[Idx(Idx(k, m, mi), c, ci)] = v;
        }
      }
    }
  }
  static std::size_t Idx(std::size_t outer, std::size_t inner_count, std::size_t inner) {
    return outer * inner_count + inner;
  }

  // y[m, oy, ox] = bias[m] + sum over c, i, j of w[m, c, i, j] x[c, oy + i - pad, ox + j - pad].
  std::vector<double> Forward(const std::vector<float>& bias) const {
    std::vector<double> y(static_cast<std::size_t>(m) * oh * ow);
    std::vector<double> acc(static_cast<std::size_t>(m));
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        for (int mi = 0; mi < m; ++mi) acc[mi] = bias[mi];
        for (int k = 0; k < 9; ++k) {
          const int iy = oy + k / 3 - pad, ix = ox + k % 3 - pad;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          const float* xs = &x_hwc[Idx(Idx(iy, w, ix), c, 0)];
          for (int ci = 0; ci < c; ++ci) {
            const double xv = xs[ci];
            const double* ws = &w_ijcm[Idx(Idx(k, c, ci), m, 0)];
            for (int mi = 0; mi < m; ++mi) acc[mi] += ws[mi] * xv;
          }
        }
        for (int mi = 0; mi < m; ++mi) y[Idx(mi, oh * ow, Idx(oy, ow, ox))] = acc[mi];
      }
    }
    return y;
  }

  // dx[c, iy, ix] = sum over m, i, j of w[m, c, i, j] dy[m, iy - i + pad, ix - j + pad].
  std::vector<double> BackwardData() const {
    std::vector<double> dx(static_cast<std::size_t>(c) * h * w);
    std::vector<double> acc(static_cast<std::size_t>(c));
    for (int iy = 0; iy < h; ++iy) {
      for (int ix = 0; ix < w; ++ix) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int k = 0; k < 9; ++k) {
          const int oy = iy - k / 3 + pad, ox = ix - k % 3 + pad;
          if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
          const float* ds = &dy_hwm[Idx(Idx(oy, ow, ox), m, 0)];
          for (int mi = 0; mi < m; ++mi) {
            const double dv = ds[mi];
            const double* ws = &w_ijmc[Idx(Idx(k, m, mi), c, 0)];
            for (int ci = 0; ci < c; ++ci) acc[ci] += ws[ci] * dv;
          }
        }
        for (int ci = 0; ci < c; ++ci) dx[Idx(ci, h * w, Idx(iy, w, ix))] = acc[ci];
      }
    }
    return dx;
  }

  // dw[m, c, i, j] = sum over oy, ox of dy[m, oy, ox] x[c, oy + i - pad, ox + j - pad].
  std::vector<double> BackwardWeights() const {
    std::vector<double> acc(static_cast<std::size_t>(9) * m * c);  // k, m, c
    for (int oy = 0; oy < oh; ++oy) {
      for (int ox = 0; ox < ow; ++ox) {
        const float* ds = &dy_hwm[Idx(Idx(oy, ow, ox), m, 0)];
        for (int k = 0; k < 9; ++k) {
          const int iy = oy + k / 3 - pad, ix = ox + k % 3 - pad;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
          const float* xs = &x_hwc[Idx(Idx(iy, w, ix), c, 0)];
          for (int mi = 0; mi < m; ++mi) {
            const double dv = ds[mi];
            double* as = &acc[Idx(Idx(k, m, mi), c, 0)];
            for (int ci = 0; ci < c; ++ci) as[ci] += dv * xs[ci];
          }
        }
      }
    }
    std::vector<double> dw(acc.size());
    for (int k = 0; k < 9; ++k) {
      for (int mi = 0; mi < m; ++mi) {
        for (int ci = 0; ci < c; ++ci) {
          dw[Idx(Idx(mi, c, ci), 9, k)] = acc[Idx(Idx(k, m, mi), c, ci)];
        }
      }
    }
    return dw;
  }
};

// max |got - ref| / max |ref|.
double RelativeError(const std::vector<float>& got, const std::vector<double>& ref) {
  EXPECT_EQ(got.size(), ref.size());
  double max_ref = 0, max_diff = 0;
  for (std::size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    max_diff = std::max(max_diff, std::fabs(got[i] - ref[i]));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

struct Errors {
  double forward = 0, backward_data = 0, backward_weights = 0;
};

// One layer on one engine: forward, then backward with dy, weight diffs starting at zero.
struct EngineRun {
  std::unique_ptr<Layer> layer;
  Blob x, y;
};

std::unique_ptr<EngineRun> RunLayer(const LayerShape& l, int size, const std::string& engine,
                                    const Blob& x, const Layer& params_from, const Blob& dy) {
  auto r = std::make_unique<EngineRun>();
  r->layer =
      MakeLayer(std::string("name: '") + l.name +
                "' type: 'Convolution' bottom: 'x' top: 'y' convolution_param { engine: " + engine +
                " num_output: " + std::to_string(l.out_channels) +
                " kernel_size: 3 pad: " + std::to_string(l.pad) + " }");
  r->x.Reshape({1, l.in_channels, size, size});
  std::copy(x.cpu_data(), x.cpu_data() + x.count(), r->x.mutable_cpu_data());
  r->layer->SetUp({&r->x}, {&r->y});
  for (std::size_t p = 0; p < 2; ++p) {
    Blob& blob = *r->layer->blobs()[p];
    const Blob& from = *params_from.blobs()[p];
    std::copy(from.cpu_data(), from.cpu_data() + from.count(), blob.mutable_cpu_data());
    std::fill(blob.mutable_cpu_diff(), blob.mutable_cpu_diff() + blob.count(), 0.0f);
  }
  ExecContext ctx;
  r->layer->Forward(ctx, {&r->x}, {&r->y});
  EXPECT_EQ(r->y.count(), dy.count());
  std::copy(dy.cpu_data(), dy.cpu_data() + dy.count(), r->y.mutable_cpu_diff());
  r->layer->Backward(ctx, {&r->y}, {true}, {&r->x});
  return r;
}

Errors ErrorsOf(const EngineRun& r, const std::vector<double>& y, const std::vector<double>& dx,
                const std::vector<double>& dw) {
  Errors e;
  e.forward = RelativeError(Data(r.y), y);
  e.backward_data = RelativeError(Diff(r.x), dx);
  e.backward_weights = RelativeError(Diff(*r.layer->blobs()[0]), dw);
  return e;
}

class WinogradAccuracy : public ::testing::TestWithParam<LayerShape> {
 protected:
  void SetUp() override {
    if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  }
};

TEST_P(WinogradAccuracy, MatchesTheReferenceWithinTheBound) {
  const LayerShape& l = GetParam();
  const int size = TestedSize(l);
  const int out = size + 2 * l.pad - 2;
  // Post-ReLU-like activations (non-negative), zero-mean weights and gradients.
  auto x = UniformBlob({1, l.in_channels, size, size}, 1, 0.0f, 1.0f);
  auto dy = GaussianBlob({1, l.out_channels, out, out}, 2);
  auto params = MakeLayer(
      std::string("name: 'p' type: 'Convolution' bottom: 'x' top: 'y' convolution_param { "
                  "engine: CAFFE num_output: ") +
      std::to_string(l.out_channels) + " kernel_size: 3 }");
  Blob px({1, l.in_channels, 3, 3}), py;
  params->SetUp({&px}, {&py});
  FillGaussian(params->blobs()[0].get(), 3, 0.0f,
               static_cast<float>(std::sqrt(2.0 / (9.0 * l.in_channels))));
  FillGaussian(params->blobs()[1].get(), 4, 0.0f, 0.1f);

  std::unique_ptr<EngineRun> direct = RunLayer(l, size, "DNNL", *x, *params, *dy);
  std::unique_ptr<EngineRun> winograd;
  std::string unavailable;
  try {
    winograd = RunLayer(l, size, "DNNL_WINOGRAD", *x, *params, *dy);
  } catch (const ConfigError& e) {
    unavailable = e.what();
  }
  const auto& conv = dynamic_cast<const BaseConvolutionLayer&>(*direct->layer);
  ASSERT_FALSE(conv.dnnl_winograd());

  const Reference ref(l, size, Data(*x), Data(*params->blobs()[0]), Data(*dy));
  const std::vector<double> y = ref.Forward(Data(*params->blobs()[1]));
  const std::vector<double> dx = ref.BackwardData();
  const std::vector<double> dw = ref.BackwardWeights();
  const Errors d = ErrorsOf(*direct, y, dx, dw);
  EXPECT_LE(d.forward, kDirectBound) << "direct forward";
  EXPECT_LE(d.backward_data, kDirectBound) << "direct backward data";
  EXPECT_LE(d.backward_weights, kDirectBound) << "direct backward weights";
  if (!winograd) {
    // oneDNN has no Winograd kernel for this shape on this CPU (conv1_1's 3 channels, or a
    // CPU without AVX-512): the default runs direct there, which the line above checked.
    std::printf("%s %dx%d: no Winograd here (%s); direct %.2e %.2e %.2e\n", l.name, size, size,
                unavailable.c_str(), d.forward, d.backward_data, d.backward_weights);
    return;
  }
  const auto& wconv = dynamic_cast<const BaseConvolutionLayer&>(*winograd->layer);
  ASSERT_TRUE(wconv.dnnl_winograd());
  const Errors w = ErrorsOf(*winograd, y, dx, dw);
  std::printf("%s %d->%d %dx%d (%s): winograd %.2e %.2e %.2e, direct %.2e %.2e %.2e\n", l.name,
              l.in_channels, l.out_channels, size, size, wconv.engine_name().c_str(), w.forward,
              w.backward_data, w.backward_weights, d.forward, d.backward_data, d.backward_weights);
  EXPECT_LE(w.forward, kWinogradBound) << "Winograd forward";
  EXPECT_LE(w.backward_data, kWinogradBound) << "Winograd backward data";
  EXPECT_LE(w.backward_weights, kWinogradBound) << "Winograd backward weights";
  // Winograd's values are not the direct ones bit for bit (else the test proves nothing).
  EXPECT_GT(w.forward, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Fcn8sLayers, WinogradAccuracy, ::testing::ValuesIn(kLayers),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

// The default engine runs Winograd on the 3x3 stride-1 layers where oneDNN has it, direct
// elsewhere (conv1_1's 3 input channels on oneDNN 2.6); DNNL forces direct.
TEST(WinogradDefault, ChosenPerLayer) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  auto layer = [](const std::string& engine, int channels, const std::string& extra) {
    auto conv = MakeLayer(
        "name: 'c' type: 'Convolution' bottom: 'x' top: 'y' "
        "convolution_param { engine: " +
        engine + " num_output: 32 kernel_size: 3 " + extra + " }");
    Blob x({1, channels, 12, 12}), y;
    conv->SetUp({&x}, {&y});
    return dynamic_cast<const BaseConvolutionLayer&>(*conv).dnnl_winograd();
  };
  auto have_winograd = [&](int channels, const std::string& extra) {
    try {
      return layer("DNNL_WINOGRAD", channels, extra);
    } catch (const ConfigError&) {
      return false;
    }
  };
  EXPECT_EQ(layer("DEFAULT", 32, "pad: 1"), have_winograd(32, "pad: 1"));
  EXPECT_EQ(layer("DEFAULT", 3, "pad: 100"), have_winograd(3, "pad: 100"));
  EXPECT_FALSE(layer("DNNL", 32, "pad: 1"));
  EXPECT_FALSE(layer("DEFAULT", 32, "pad: 1 stride: 2"));
  EXPECT_FALSE(layer("DEFAULT", 32, "pad: 1 dilation: 2"));
  // A named Winograd engine on a shape it cannot run is an error.
  EXPECT_THROW(layer("DNNL_WINOGRAD", 32, "stride: 2"), ConfigError);
}

// Reshape runs before every forward: the primitives made for a shape are kept while the shape
// stays (3 input channels: direct, as oneDNN 2.6 has no Winograd there; 32: Winograd).
TEST(WinogradDefault, PrimitivesAreMadeOncePerShape) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  for (int channels : {3, 32}) {
    auto conv = MakeLayer(
        "name: 'c' type: 'Convolution' bottom: 'x' top: 'y' "
        "convolution_param { num_output: 8 kernel_size: 3 pad: 1 }");
    Blob x({1, channels, 12, 12}), y;
    conv->SetUp({&x}, {&y});
    const auto& base = dynamic_cast<const BaseConvolutionLayer&>(*conv);
    const DnnlConv* first = base.dnnl();
    ASSERT_NE(first, nullptr) << channels;
    for (int i = 0; i < 3; ++i) {
      conv->Reshape({&x}, {&y});
      EXPECT_EQ(base.dnnl(), first) << channels << " channels, reshape " << i;
    }
    // A new shape makes new primitives.
    Blob x2({1, channels, 14, 14});
    conv->Reshape({&x2}, {&y});
    EXPECT_NE(base.dnnl(), nullptr);
    EXPECT_EQ(y.shape(), (std::vector<std::int64_t>{1, 8, 14, 14}));
  }
}

// The same on a CPU without oneDNN's Winograd kernels (oneDNN limited to AVX2 here): every 3x3
// layer then falls back, and must make its direct primitives once per shape, not at every
// forward. oneDNN reads ONEDNN_MAX_CPU_ISA once, at its first use: ctest runs this case in its
// own process; run with others in one process, it skips.
TEST(WinogradDefault, WithoutWinogradKernelsTheDirectFallBackIsMadeOnce) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
  auto conv = MakeLayer(
      "name: 'c' type: 'Convolution' bottom: 'x' top: 'y' "
      "convolution_param { num_output: 8 kernel_size: 3 pad: 1 }");
  Blob x({1, 32, 12, 12}), y;
  conv->SetUp({&x}, {&y});
  const auto& base = dynamic_cast<const BaseConvolutionLayer&>(*conv);
  if (base.dnnl_winograd()) {
    GTEST_SKIP() << "oneDNN was initialised before ONEDNN_MAX_CPU_ISA was set (run this case "
                    "alone, as ctest does)";
  }
  const DnnlConv* first = base.dnnl();
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 3; ++i) {
    conv->Reshape({&x}, {&y});
    EXPECT_EQ(base.dnnl(), first) << "reshape " << i << " made the primitives again";
  }
}

}  // namespace
}  // namespace fcn::test
