// SPDX-License-Identifier: BSD-2-Clause
// im2col / col2im (2-D and N-d) in Caffe's column layout; see im2col.h for the layout.
#include "math/im2col.h"

#include <algorithm>
#include <cstring>

#include "fcn/common.h"

namespace fcn::math {

namespace {

// The half-open range [lo, hi) of output positions o in [0, out) whose input coordinate
// o * stride + offset lies inside [0, size). Computed once per column row, so the inner loops
// run without bounds checks.
struct OutputRange {
  int lo;
  int hi;
};

OutputRange ValidOutputs(int size, int out, int stride, int offset) {
  // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride).
  int lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o * stride + offset <= size - 1  <=>  o <= floor((size - 1 - offset) / stride).
  const int last = size - 1 - offset;
  int hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

void Zero(float* x, std::int64_t n) {
  if (n > 0) std::memset(x, 0, static_cast<std::size_t>(n) * sizeof(float));
}

// Copies the valid run of one column row segment (out_w entries) from an image row, with
// zeros where the kernel tap falls into the padding. `src` indexes the image; entry ow of the
// segment reads src[base + ow * stride].
void GatherRow(const float* src, std::int64_t base, int stride, OutputRange r, int out,
               float* dst) {
  Zero(dst, r.lo);
  if (stride == 1) {
    if (r.hi > r.lo) {
      std::memcpy(dst + r.lo, src + (base + r.lo),
                  static_cast<std::size_t>(r.hi - r.lo) * sizeof(float));
    }
  } else {
    for (int o = r.lo; o < r.hi; ++o) dst[o] = src[base + static_cast<std::int64_t>(o) * stride];
  }
  Zero(dst + r.hi, out - r.hi);
}

// The adjoint of GatherRow: adds the valid run of a column row segment into an image row.
void ScatterRow(const float* src, OutputRange r, int stride, std::int64_t base, float* dst) {
  if (stride == 1) {
    for (int o = r.lo; o < r.hi; ++o) dst[base + o] += src[o];
  } else {
    for (int o = r.lo; o < r.hi; ++o) dst[base + static_cast<std::int64_t>(o) * stride] += src[o];
  }
}

// Shared walk over the column buffer for the N-d transforms. For every column row (channel c,
// kernel tap k_1..k_N) and every output position along the first N-1 axes, it calls
//   segment(col_index, inside, base, range, out, stride)
// for the segment of `out` column entries along the last axis starting at col_index. `inside`
// is false when an outer axis falls into the padding (the whole segment is padding); otherwise
// entry o of the segment maps to image index base + o * stride for o in range.
template <class Segment>
void WalkColumnsNd(int num_spatial_axes, const std::vector<int>& image_shape,
                   const std::vector<int>& col_shape, const std::vector<int>& kernel,
                   const std::vector<int>& pad, const std::vector<int>& stride,
                   const std::vector<int>& dilation, const Segment& segment) {
  const int n = num_spatial_axes;
  FCN_CHECK(n >= 1, "N-d im2col needs at least one spatial axis");
  FCN_CHECK(static_cast<int>(image_shape.size()) == n + 1 &&
                static_cast<int>(col_shape.size()) == n + 1 &&
                static_cast<int>(kernel.size()) == n && static_cast<int>(pad.size()) == n &&
                static_cast<int>(stride.size()) == n && static_cast<int>(dilation.size()) == n,
            "N-d im2col shape vectors disagree with ", n, " spatial axes");
  const auto un = static_cast<std::size_t>(n);
  std::int64_t kernel_count = 1;
  std::int64_t out_count = 1;
  std::int64_t image_count = 1;
  for (std::size_t a = 0; a < un; ++a) {
    kernel_count *= kernel[a];
    out_count *= col_shape[a + 1];
    image_count *= image_shape[a + 1];
  }
  const int channels = image_shape[0];
  FCN_CHECK(col_shape[0] == channels * kernel_count, "col rows ", col_shape[0], " != ", channels,
            " * ", kernel_count);
  const int last_out = col_shape[un];
  if (out_count == 0) return;
  const std::int64_t outer_count = out_count / last_out;
  const int last_size = image_shape[un];

  std::vector<int> offset(un, 0);  // kernel tap * dilation - pad, per axis, of the current row
  std::vector<int> outer(un, 0);   // output position along axes 0..n-2
  std::int64_t row = 0;
  for (int c = 0; c < channels; ++c) {
    const std::int64_t image_channel = c * image_count;
    for (std::int64_t k = 0; k < kernel_count; ++k, ++row) {
      std::int64_t rest = k;
      for (std::size_t a = un; a-- > 0;) {
        offset[a] = static_cast<int>(rest % kernel[a]) * dilation[a] - pad[a];
        rest /= kernel[a];
      }
      const OutputRange range = ValidOutputs(last_size, last_out, stride[un - 1], offset[un - 1]);
      std::fill(outer.begin(), outer.end(), 0);
      const std::int64_t row_base = row * out_count;
      for (std::int64_t p = 0; p < outer_count; ++p) {
        std::int64_t base = 0;
        bool inside = true;
        for (std::size_t a = 0; a + 1 < un; ++a) {
          const int x = outer[a] * stride[a] + offset[a];
          if (x < 0 || x >= image_shape[a + 1]) {
            inside = false;
            break;
          }
          base = base * image_shape[a + 1] + x;
        }
        base = image_channel + base * last_size + offset[un - 1];
        segment(row_base + p * last_out, inside, base, range, last_out, stride[un - 1]);
        for (std::size_t a = un - 1; a-- > 0;) {
          if (++outer[a] < col_shape[a + 1]) break;
          outer[a] = 0;
        }
      }
    }
  }
}

}  // namespace

void Im2Col(const float* image, const ConvGeometry& g, float* col) {
  const int out_h = g.col_h();
  const int out_w = g.col_w();
  const int height = g.image_h();
  const int width = g.image_w();
  const int channels = g.image_channels();
  const std::int64_t plane = static_cast<std::int64_t>(height) * width;
  const std::int64_t out_plane = static_cast<std::int64_t>(out_h) * out_w;
  for (int c = 0; c < channels; ++c) {
    const std::int64_t image_channel = c * plane;
    for (int i = 0; i < g.kernel_h; ++i) {
      const int offset_h = i * g.dilation_h - g.pad_h;
      const OutputRange rows = ValidOutputs(height, out_h, g.stride_h, offset_h);
      for (int j = 0; j < g.kernel_w; ++j, col += out_plane) {
        const int offset_w = j * g.dilation_w - g.pad_w;
        const OutputRange cols = ValidOutputs(width, out_w, g.stride_w, offset_w);
        Zero(col, static_cast<std::int64_t>(rows.lo) * out_w);
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          const std::int64_t base = image_channel +
                                    static_cast<std::int64_t>(oh * g.stride_h + offset_h) * width +
                                    offset_w;
          GatherRow(image, base, g.stride_w, cols, out_w,
                    col + static_cast<std::int64_t>(oh) * out_w);
        }
        Zero(col + static_cast<std::int64_t>(rows.hi) * out_w,
             static_cast<std::int64_t>(out_h - rows.hi) * out_w);
      }
    }
  }
}

void Col2Im(const float* col, const ConvGeometry& g, float* image) {
  const int out_h = g.col_h();
  const int out_w = g.col_w();
  const int height = g.image_h();
  const int width = g.image_w();
  const int channels = g.image_channels();
  const std::int64_t plane = static_cast<std::int64_t>(height) * width;
  const std::int64_t out_plane = static_cast<std::int64_t>(out_h) * out_w;
  Zero(image, channels * plane);
  for (int c = 0; c < channels; ++c) {
    const std::int64_t image_channel = c * plane;
    for (int i = 0; i < g.kernel_h; ++i) {
      const int offset_h = i * g.dilation_h - g.pad_h;
      const OutputRange rows = ValidOutputs(height, out_h, g.stride_h, offset_h);
      for (int j = 0; j < g.kernel_w; ++j, col += out_plane) {
        const int offset_w = j * g.dilation_w - g.pad_w;
        const OutputRange cols = ValidOutputs(width, out_w, g.stride_w, offset_w);
        for (int oh = rows.lo; oh < rows.hi; ++oh) {
          const std::int64_t base = image_channel +
                                    static_cast<std::int64_t>(oh * g.stride_h + offset_h) * width +
                                    offset_w;
          ScatterRow(col + static_cast<std::int64_t>(oh) * out_w, cols, g.stride_w, base, image);
        }
      }
    }
  }
}

void Im2ColNd(const float* image, int num_spatial_axes, const std::vector<int>& image_shape,
              const std::vector<int>& col_shape, const std::vector<int>& kernel,
              const std::vector<int>& pad, const std::vector<int>& stride,
              const std::vector<int>& dilation, float* col) {
  WalkColumnsNd(num_spatial_axes, image_shape, col_shape, kernel, pad, stride, dilation,
                [&](std::int64_t col_index, bool inside, std::int64_t base, OutputRange range,
                    int out, int last_stride) {
                  if (!inside) {
                    Zero(col + col_index, out);
                  } else {
                    GatherRow(image, base, last_stride, range, out, col + col_index);
                  }
                });
}

void Col2ImNd(const float* col, int num_spatial_axes, const std::vector<int>& image_shape,
              const std::vector<int>& col_shape, const std::vector<int>& kernel,
              const std::vector<int>& pad, const std::vector<int>& stride,
              const std::vector<int>& dilation, float* image) {
  std::int64_t image_count = 1;
  for (int d : image_shape) image_count *= d;
  Zero(image, image_count);
  WalkColumnsNd(num_spatial_axes, image_shape, col_shape, kernel, pad, stride, dilation,
                [&](std::int64_t col_index, bool inside, std::int64_t base, OutputRange range, int,
                    int last_stride) {
                  if (inside) ScatterRow(col + col_index, range, last_stride, base, image);
                });
}

}  // namespace fcn::math
