// SPDX-License-Identifier: BSD-2-Clause
// Max pooling run by oneDNN (DnnlPool) on a bottom in a oneDNN layer's blocked layout against
// the plain functors (engine CAFFE, themselves checked against a plain reference and by finite
// differences in pooling_test): the same top and the same bottom diff, ties included (the
// first maximum in row-major order takes the gradient), on the window shapes Caffe nets use;
// geometries oneDNN would compute differently fall back to the functors.
#include "layers/dnnl_pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/dnnl_conv.h"
#include "layers/dnnl_layout.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::StartsWith;
using Shape = std::vector<std::int64_t>;

// The bottom as a oneDNN convolution leaves it: in nChw16c.
void MakeBlocked(Blob* blob) {
  const HostLayoutPtr layout = dnnl_glue::ChannelBlockedLayout(blob->shape());
  ASSERT_NE(layout, nullptr);
  blob->data_memory().mutable_host_data_in(layout, /*overwrite=*/false);
}

std::string PoolText(const std::string& engine, const std::string& param) {
  return "name: 'pool' type: 'Pooling' bottom: 'x' top: 'y' pooling_param { engine: " + engine +
         " " + param + " }";
}

// Small integers: most windows hold several equal maxima.
std::unique_ptr<Blob> TiedBlob(const Shape& shape, std::uint32_t seed) {
  auto blob = GaussianBlob(shape, seed);
  float* x = blob->mutable_cpu_data();
  for (std::int64_t i = 0; i < blob->count(); ++i) x[i] = std::floor(x[i] * 1.5f);
  return blob;
}

struct Case {
  const char* name;
  const char* param;
  Shape bottom;
  bool dnnl;  // whether oneDNN runs it
};

const Case kCases[] = {
    {"vgg_2x2_odd_size", "pool: MAX kernel_size: 2 stride: 2", {2, 32, 9, 11}, true},
    {"overlap_3x3_stride2_pad1", "pool: MAX kernel_size: 3 stride: 2 pad: 1", {1, 16, 10, 7}, true},
    {"overlap_3x3_stride1", "pool: MAX kernel_size: 3 stride: 1", {1, 32, 6, 8}, true},
    {"rectangular",
     "pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
     {1, 16, 7, 9},
     true},
    {"global", "pool: MAX global_pooling: true", {2, 16, 5, 6}, true},
    // Caffe's last window starts past the image (its top is -FLT_MAX): the functors.
    {"window_past_the_edge", "pool: MAX kernel_size: 1 stride: 3", {1, 16, 5, 5}, false},
    // FLOOR drops the last row and column: the functors.
    {"floor_drops_rows",
     "pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR",
     {1, 16, 5, 5},
     false},
    // Average pooling is the functors' (oneDNN's divisors are not Caffe's at the ceil edge).
    {"average", "pool: AVE kernel_size: 2 stride: 2", {1, 16, 5, 5}, false},
};

class DnnlPooling : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  }
};

TEST_P(DnnlPooling, EqualsTheFunctorsOnABlockedBottom) {
  const Case& c = GetParam();
  for (const bool forward_only : {false, true}) {
    SCOPED_TRACE(forward_only ? "forward only" : "training");
    std::unique_ptr<Layer> ref = MakeLayer(PoolText("CAFFE", c.param));
    std::unique_ptr<Layer> dnnl = MakeLayer(PoolText("DEFAULT", c.param));
    ref->set_forward_only(forward_only);
    dnnl->set_forward_only(forward_only);
    std::unique_ptr<Blob> x_ref = TiedBlob(c.bottom, 5), x = TiedBlob(c.bottom, 5);
    Blob y_ref, y;
    MakeBlocked(x.get());
    ref->SetUp({x_ref.get()}, {&y_ref});
    dnnl->SetUp({x.get()}, {&y});
    ExecContext ctx;
    ref->Forward(ctx, {x_ref.get()}, {&y_ref});
    dnnl->Forward(ctx, {x.get()}, {&y});
    if (c.dnnl) {
      EXPECT_THAT(dnnl->engine_name(), StartsWith("DNNL (pooling_max: "));
      EXPECT_NE(y.data_memory().host_layout(), nullptr) << "the top stays in oneDNN's layout";
    } else {
      EXPECT_EQ(dnnl->engine_name(), "");
    }
    EXPECT_EQ(ref->engine_name(), "");
    EXPECT_EQ(Data(y), Data(y_ref));
    if (forward_only) continue;
    std::unique_ptr<Blob> dy = GaussianBlob(y.shape(), 6);
    SetDiff(&y_ref, Data(*dy));
    SetDiff(&y, Data(*dy));
    ref->Backward(ctx, {&y_ref}, {true}, {x_ref.get()});
    dnnl->Backward(ctx, {&y}, {true}, {x.get()});
    // Overlapping windows add several diffs into one cell, in another order: rounding only.
    const std::vector<float> got = Diff(*x), want = Diff(*x_ref);
    ASSERT_EQ(got.size(), want.size());
    int wrong = 0;
    for (std::size_t i = 0; i < got.size() && wrong < 5; ++i) {
      if (std::fabs(got[i] - want[i]) > 1e-6f * (1.0f + std::fabs(want[i]))) {
        ADD_FAILURE() << "bottom diff [" << i << "]: " << got[i] << ", functors " << want[i];
        ++wrong;
      }
    }
    if (c.dnnl) {
      EXPECT_EQ(dnnl->internal_bytes(), static_cast<std::size_t>(y.count())) << "one byte each";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, DnnlPooling, ::testing::ValuesIn(kCases),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

// A plain bottom (the output of a layer that is not oneDNN's) runs in the functors, and a new
// input size remakes the oneDNN primitive.
TEST(DnnlPoolingChoice, PlainBottomsRunInTheFunctorsAndNewSizesRemake) {
  if (!DnnlConv::Available()) GTEST_SKIP() << "this build has no oneDNN";
  std::unique_ptr<Layer> layer =
      MakeLayer(PoolText("DEFAULT", "pool: MAX kernel_size: 2 stride: 2"));
  std::unique_ptr<Blob> x = TiedBlob({1, 16, 8, 8}, 9);
  Blob y;
  layer->SetUp({x.get()}, {&y});
  ExecContext ctx;
  layer->Forward(ctx, {x.get()}, {&y});
  EXPECT_EQ(layer->engine_name(), "");
  for (const Shape& shape : {Shape{1, 16, 8, 8}, Shape{2, 32, 7, 5}}) {
    std::unique_ptr<Blob> ref_x = TiedBlob(shape, 10);
    x = TiedBlob(shape, 10);
    MakeBlocked(x.get());
    layer->Reshape({x.get()}, {&y});
    layer->Forward(ctx, {x.get()}, {&y});
    EXPECT_THAT(layer->engine_name(), StartsWith("DNNL (pooling_max: "));
    std::unique_ptr<Layer> ref = MakeLayer(PoolText("CAFFE", "pool: MAX kernel_size: 2 stride: 2"));
    Blob y_ref;
    ref->SetUp({ref_x.get()}, {&y_ref});
    ref->Forward(ctx, {ref_x.get()}, {&y_ref});
    EXPECT_EQ(y.shape(), y_ref.shape());
    EXPECT_EQ(Data(y), Data(y_ref));
  }
}

}  // namespace
}  // namespace fcn::test
