// SPDX-License-Identifier: BSD-2-Clause
// im2col / col2im: both layouts against naive loops, col2im as the adjoint of im2col, and the
// N-d transforms against the 2-D ones.
#include "math/im2col.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/for_each_index.h"
#include "fcn/rng.h"
#include "math/im2col_kernels.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using math::ConvGeometry;

std::vector<float> RandomVector(std::int64_t n, std::uint32_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = rng.Uniform(-1.0f, 1.0f);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::int64_t ImageCount(const ConvGeometry& g) {
  return static_cast<std::int64_t>(g.image_channels()) * g.image_h() * g.image_w();
}

std::int64_t ColCount(const ConvGeometry& g) {
  return static_cast<std::int64_t>(g.image_channels()) * g.kernel_h * g.kernel_w * g.col_h() *
         g.col_w();
}

// The header's definition, entry by entry: column (c, i, j; oh, ow) reads
// x[c, oh*stride_h - pad_h + i*dil_h, ow*stride_w - pad_w + j*dil_w], or 0 outside.
// With to_image, the same correspondence adds column entries into the image (col2im).
void NaiveTransform2d(const ConvGeometry& g, bool to_image, std::vector<float>* image,
                      std::vector<float>* col) {
  const int oh_count = g.col_h();
  const int ow_count = g.col_w();
  for (int c = 0; c < g.image_channels(); ++c) {
    for (int i = 0; i < g.kernel_h; ++i) {
      for (int j = 0; j < g.kernel_w; ++j) {
        const int row = (c * g.kernel_h + i) * g.kernel_w + j;
        for (int oh = 0; oh < oh_count; ++oh) {
          for (int ow = 0; ow < ow_count; ++ow) {
            const int y = oh * g.stride_h - g.pad_h + i * g.dilation_h;
            const int x = ow * g.stride_w - g.pad_w + j * g.dilation_w;
            const bool inside = y >= 0 && y < g.image_h() && x >= 0 && x < g.image_w();
            const auto col_index = static_cast<std::size_t>((row * oh_count + oh) * ow_count + ow);
            const auto image_index =
                static_cast<std::size_t>((c * g.image_h() + y) * g.image_w() + x);
            if (to_image) {
              if (inside) (*image)[image_index] += (*col)[col_index];
            } else {
              (*col)[col_index] = inside ? (*image)[image_index] : 0.0f;
            }
          }
        }
      }
    }
  }
}

struct GeometryCase {
  std::string name;
  // channels, height, width, kernel_h, kernel_w, pad_h, pad_w, stride_h, stride_w,
  // dilation_h, dilation_w
  ConvGeometry g;
};

const std::vector<GeometryCase>& Geometries() {
  static const std::vector<GeometryCase> cases = {
      {"Plain3x3", ConvGeometry::Convolution(2, 5, 6, 3, 3, 0, 0, 1, 1, 1, 1)},
      {"Pad1", ConvGeometry::Convolution(3, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1)},
      {"Stride2Pad1", ConvGeometry::Convolution(2, 7, 6, 3, 3, 1, 1, 2, 2, 1, 1)},
      {"Dilation2", ConvGeometry::Convolution(2, 7, 8, 3, 3, 2, 2, 1, 1, 2, 2)},
      {"PerAxisEverything", ConvGeometry::Convolution(2, 9, 7, 3, 2, 2, 0, 2, 1, 2, 3)},
      {"PadWiderThanKernel", ConvGeometry::Convolution(1, 3, 4, 2, 2, 3, 2, 1, 3, 1, 1)},
      {"KernelLargerThanImage", ConvGeometry::Convolution(2, 2, 3, 5, 4, 2, 1, 1, 1, 1, 1)},
      {"OneByOne", ConvGeometry::Convolution(4, 3, 5, 1, 1, 0, 0, 1, 1, 1, 1)},
      {"Stride4Kernel4", ConvGeometry::Convolution(1, 10, 9, 4, 4, 1, 0, 4, 3, 1, 1)},
  };
  return cases;
}

class Im2ColTest : public ::testing::TestWithParam<GeometryCase> {};

TEST_P(Im2ColTest, Im2ColMatchesNaiveLoops) {
  const ConvGeometry& g = GetParam().g;
  std::vector<float> image = RandomVector(ImageCount(g), 1);
  // Pre-fill with garbage: every column entry must be written.
  std::vector<float> col(static_cast<std::size_t>(ColCount(g)), 7.0f);
  math::Im2Col(image.data(), g, col.data());
  std::vector<float> expected(col.size());
  NaiveTransform2d(g, /*to_image=*/false, &image, &expected);
  EXPECT_TRUE(AllNear(col, expected, 0.0f));
}

TEST_P(Im2ColTest, Col2ImMatchesNaiveLoopsAndOverwritesImage) {
  const ConvGeometry& g = GetParam().g;
  std::vector<float> col = RandomVector(ColCount(g), 2);
  std::vector<float> image(static_cast<std::size_t>(ImageCount(g)), 7.0f);
  math::Col2Im(col.data(), g, image.data());
  std::vector<float> expected(image.size(), 0.0f);
  NaiveTransform2d(g, /*to_image=*/true, &expected, &col);
  EXPECT_TRUE(AllNear(image, expected, 1e-6f));
}

TEST_P(Im2ColTest, Col2ImIsTheAdjointOfIm2Col) {
  const ConvGeometry& g = GetParam().g;
  const std::vector<float> x = RandomVector(ImageCount(g), 3);
  const std::vector<float> c = RandomVector(ColCount(g), 4);
  std::vector<float> im2col_x(c.size());
  std::vector<float> col2im_c(x.size());
  math::Im2Col(x.data(), g, im2col_x.data());
  math::Col2Im(c.data(), g, col2im_c.data());
  const double lhs = Dot(im2col_x, c);
  const double rhs = Dot(x, col2im_c);
  EXPECT_NEAR(lhs, rhs, 1e-5 * (1.0 + std::abs(lhs)));
}

// Im2ColNd/Col2ImNd with two spatial axes must give exactly the 2-D results.
TEST_P(Im2ColTest, NdTransformsEqualTwoDForTwoSpatialAxes) {
  const ConvGeometry& g = GetParam().g;
  const std::vector<int> image_shape = {g.image_channels(), g.image_h(), g.image_w()};
  const std::vector<int> col_shape = {g.image_channels() * g.kernel_h * g.kernel_w, g.col_h(),
                                      g.col_w()};
  const std::vector<int> kernel = {g.kernel_h, g.kernel_w};
  const std::vector<int> pad = {g.pad_h, g.pad_w};
  const std::vector<int> stride = {g.stride_h, g.stride_w};
  const std::vector<int> dilation = {g.dilation_h, g.dilation_w};

  const std::vector<float> image = RandomVector(ImageCount(g), 5);
  std::vector<float> col_2d(static_cast<std::size_t>(ColCount(g)));
  std::vector<float> col_nd(col_2d.size(), 7.0f);
  math::Im2Col(image.data(), g, col_2d.data());
  math::Im2ColNd(image.data(), 2, image_shape, col_shape, kernel, pad, stride, dilation,
                 col_nd.data());
  EXPECT_TRUE(AllNear(col_nd, col_2d, 0.0f));

  const std::vector<float> col = RandomVector(ColCount(g), 6);
  std::vector<float> image_2d(image.size());
  std::vector<float> image_nd(image.size(), 7.0f);
  math::Col2Im(col.data(), g, image_2d.data());
  math::Col2ImNd(col.data(), 2, image_shape, col_shape, kernel, pad, stride, dilation,
                 image_nd.data());
  EXPECT_TRUE(AllNear(image_nd, image_2d, 1e-6f));
}

// The index-wise functors that the GPU's im2col engine launches (im2col_kernels.h), run here
// by ForEachIndex on the CPU: the same objects, held to the CPU's loops.
TEST_P(Im2ColTest, IndexFunctorsEqualTheCpuTransforms) {
  const ConvGeometry& g = GetParam().g;
  const ExecContext ctx;
  const std::vector<float> image = RandomVector(ImageCount(g), 7);
  std::vector<float> expected_col(static_cast<std::size_t>(ColCount(g)));
  std::vector<float> col(expected_col.size(), 7.0f);
  math::Im2Col(image.data(), g, expected_col.data());
  ForEachIndex(ctx, static_cast<std::int64_t>(g.image_channels()) * g.col_h() * g.col_w(),
               kernels::Im2ColIndex{image.data(), col.data(), g});
  EXPECT_TRUE(AllNear(col, expected_col, 0.0f));

  const std::vector<float> columns = RandomVector(ColCount(g), 8);
  std::vector<float> expected_image(image.size());
  std::vector<float> gathered(image.size(), 7.0f);
  math::Col2Im(columns.data(), g, expected_image.data());
  ForEachIndex(ctx, ImageCount(g), kernels::Col2ImIndex{columns.data(), gathered.data(), g});
  // Another summation order (a gather per pixel instead of a scatter per column row).
  EXPECT_TRUE(AllNear(gathered, expected_image, 1e-6f));
}

INSTANTIATE_TEST_SUITE_P(Geometries, Im2ColTest, ::testing::ValuesIn(Geometries()),
                         [](const ::testing::TestParamInfo<GeometryCase>& case_info) {
                           return case_info.param.name;
                         });

// An N-d geometry, spelled out per axis.
struct NdGeometry {
  std::vector<int> image_shape;  // C, d_1..d_N
  std::vector<int> kernel, pad, stride, dilation;

  int axes() const { return static_cast<int>(kernel.size()); }
  std::vector<int> col_shape() const {
    std::vector<int> shape = {image_shape[0]};
    for (std::size_t a = 0; a < kernel.size(); ++a) {
      shape[0] *= kernel[a];
      const int extent = dilation[a] * (kernel[a] - 1) + 1;
      shape.push_back((image_shape[a + 1] + 2 * pad[a] - extent) / stride[a] + 1);
    }
    return shape;
  }
};

std::int64_t Count(const std::vector<int>& shape) {
  std::int64_t n = 1;
  for (int d : shape) n *= d;
  return n;
}

// Naive 3-D im2col: row ((c*k0 + t0)*k1 + t1)*k2 + t2, column (o0*O1 + o1)*O2 + o2.
std::vector<float> NaiveIm2Col3d(const NdGeometry& g, const std::vector<float>& image) {
  const std::vector<int> cs = g.col_shape();
  const std::vector<int>& is = g.image_shape;
  std::vector<float> col(static_cast<std::size_t>(Count(cs)));
  std::size_t index = 0;
  for (int c = 0; c < is[0]; ++c) {
    for (int t0 = 0; t0 < g.kernel[0]; ++t0) {
      for (int t1 = 0; t1 < g.kernel[1]; ++t1) {
        for (int t2 = 0; t2 < g.kernel[2]; ++t2) {
          for (int o0 = 0; o0 < cs[1]; ++o0) {
            for (int o1 = 0; o1 < cs[2]; ++o1) {
              for (int o2 = 0; o2 < cs[3]; ++o2) {
                const int x0 = o0 * g.stride[0] - g.pad[0] + t0 * g.dilation[0];
                const int x1 = o1 * g.stride[1] - g.pad[1] + t1 * g.dilation[1];
                const int x2 = o2 * g.stride[2] - g.pad[2] + t2 * g.dilation[2];
                const bool inside =
                    x0 >= 0 && x0 < is[1] && x1 >= 0 && x1 < is[2] && x2 >= 0 && x2 < is[3];
                col[index++] = inside ? image[static_cast<std::size_t>(
                                            ((c * is[1] + x0) * is[2] + x1) * is[3] + x2)]
                                      : 0.0f;
              }
            }
          }
        }
      }
    }
  }
  return col;
}

const NdGeometry kGeometry3d = {{2, 4, 5, 6}, {3, 2, 3}, {1, 0, 2}, {1, 2, 1}, {1, 1, 2}};

TEST(Im2ColNdTest, ThreeSpatialAxesMatchNaiveLoops) {
  const std::vector<float> image = RandomVector(Count(kGeometry3d.image_shape), 7);
  const std::vector<int> col_shape = kGeometry3d.col_shape();
  std::vector<float> col(static_cast<std::size_t>(Count(col_shape)), 7.0f);
  math::Im2ColNd(image.data(), 3, kGeometry3d.image_shape, col_shape, kGeometry3d.kernel,
                 kGeometry3d.pad, kGeometry3d.stride, kGeometry3d.dilation, col.data());
  EXPECT_TRUE(AllNear(col, NaiveIm2Col3d(kGeometry3d, image), 0.0f));
}

// <Im2ColNd(x), c> == <x, Col2ImNd(c)> for 1, 3 and 4 spatial axes.
TEST(Im2ColNdTest, Col2ImNdIsTheAdjointOfIm2ColNd) {
  const std::vector<NdGeometry> geometries = {
      {{3, 11}, {3}, {2}, {2}, {2}},
      kGeometry3d,
      {{1, 3, 4, 3, 5}, {2, 3, 1, 2}, {1, 1, 0, 0}, {2, 1, 1, 2}, {1, 1, 1, 2}},
  };
  std::uint32_t seed = 10;
  for (const NdGeometry& g : geometries) {
    const std::vector<int> col_shape = g.col_shape();
    const std::vector<float> x = RandomVector(Count(g.image_shape), seed++);
    const std::vector<float> c = RandomVector(Count(col_shape), seed++);
    std::vector<float> im2col_x(c.size());
    std::vector<float> col2im_c(x.size(), 7.0f);
    math::Im2ColNd(x.data(), g.axes(), g.image_shape, col_shape, g.kernel, g.pad, g.stride,
                   g.dilation, im2col_x.data());
    math::Col2ImNd(c.data(), g.axes(), g.image_shape, col_shape, g.kernel, g.pad, g.stride,
                   g.dilation, col2im_c.data());
    const double lhs = Dot(im2col_x, c);
    EXPECT_NEAR(lhs, Dot(x, col2im_c), 1e-5 * (1.0 + std::abs(lhs))) << g.axes() << " axes";
    EXPECT_GT(std::abs(lhs), 1e-3) << "degenerate test: nothing was gathered";
  }
}

}  // namespace
}  // namespace fcn::test
