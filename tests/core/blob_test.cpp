// SPDX-License-Identifier: BSD-2-Clause
// Blob: shapes and counts, axis canonicalisation, capacity reuse, data sharing, and the
// BlobProto round trip including Caffe's legacy 4-D fields and double_data; SyncedMemory's
// host layouts (an engine's own element order, converted on access).
#include "fcn/blob.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

using Shape = std::vector<std::int64_t>;

BlobProto LegacyProto(int num, int channels, int height, int width) {
  BlobProto proto;
  proto.set_num(num);
  proto.set_channels(channels);
  proto.set_height(height);
  proto.set_width(width);
  return proto;
}

BlobProto ShapedProto(const Shape& shape) {
  BlobProto proto;
  for (std::int64_t d : shape) proto.mutable_shape()->add_dim(d);
  return proto;
}

void AddValues(BlobProto* proto, int n, float first) {
  for (int i = 0; i < n; ++i) proto->add_data(first + static_cast<float>(i));
}

// Shapes and counts.

TEST(BlobTest, ReshapeSetsShapeAndCounts) {
  struct Case {
    Shape shape;
    std::int64_t count;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4, 5}, 120}, {{7}, 7}, {{}, 1}, {{3, 0, 2}, 0}, {{1, 1, 1, 1, 1, 6}, 6}};
  for (const Case& c : cases) {
    Blob blob(c.shape);
    EXPECT_EQ(blob.shape(), c.shape);
    EXPECT_EQ(blob.num_axes(), static_cast<int>(c.shape.size()));
    EXPECT_EQ(blob.count(), c.count) << ShapeString(c.shape);
  }
}

TEST(BlobTest, CountsAxisRanges) {
  Blob blob({2, 3, 4, 5});
  EXPECT_EQ(blob.count(0, 4), 120);
  EXPECT_EQ(blob.count(1, 3), 12);
  EXPECT_EQ(blob.count(2), 20);
  EXPECT_EQ(blob.count(4), 1);
  EXPECT_EQ(blob.count(2, 2), 1);
}

TEST(BlobTest, RejectsNegativeDimension) {
  Blob blob;
  EXPECT_THAT(ConfigErrorOf([&] {
                blob.Reshape({2, -1, 3});
              }),
              HasSubstr("negative dimension -1 at axis 1"));
}

TEST(BlobTest, CanonicalAxisIndexCountsNegativeAxesFromTheEnd) {
  Blob blob({2, 3, 4, 5});
  EXPECT_EQ(blob.CanonicalAxisIndex(0), 0);
  EXPECT_EQ(blob.CanonicalAxisIndex(3), 3);
  EXPECT_EQ(blob.CanonicalAxisIndex(-1), 3);
  EXPECT_EQ(blob.CanonicalAxisIndex(-4), 0);
  EXPECT_EQ(blob.shape(-1), 5);
  EXPECT_EQ(blob.shape(-3), 3);
}

TEST(BlobTest, CanonicalAxisIndexRejectsOutOfRange) {
  Blob blob({2, 3, 4, 5});
  EXPECT_THAT(ConfigErrorOf([&] { blob.CanonicalAxisIndex(4); }),
              HasSubstr("axis 4 out of range for a 4-D blob of shape 2x3x4x5"));
  EXPECT_THAT(ConfigErrorOf([&] { blob.CanonicalAxisIndex(-5); }),
              HasSubstr("axis -5 out of range"));
}

TEST(BlobTest, LegacyShapeFillsMissingAxesWithOne) {
  Blob blob({4096, 25088});
  EXPECT_EQ(blob.LegacyShape(0), 4096);
  EXPECT_EQ(blob.LegacyShape(1), 25088);
  EXPECT_EQ(blob.LegacyShape(2), 1);
  EXPECT_EQ(blob.LegacyShape(-1), 25088);
  EXPECT_EQ(blob.LegacyShape(-3), 1);
  EXPECT_EQ(blob.LegacyShape(-4), 1);
}

// Memory.

TEST(BlobTest, ShrinkingKeepsTheBuffer) {
  Blob blob({10, 10});
  float* data = blob.mutable_cpu_data();
  data[3] = 42.0f;
  blob.Reshape({2, 5});
  EXPECT_EQ(blob.mutable_cpu_data(), data);
  EXPECT_EQ(blob.cpu_data()[3], 42.0f);
  EXPECT_EQ(blob.capacity_bytes(), 100 * sizeof(float));
  // Growing back within the capacity keeps it too; beyond it reallocates.
  blob.Reshape({10, 10});
  EXPECT_EQ(blob.mutable_cpu_data(), data);
  blob.Reshape({10, 11});
  EXPECT_EQ(blob.capacity_bytes(), 110 * sizeof(float));
}

TEST(BlobTest, NewBlobIsZero) {
  Blob blob({3, 4});
  EXPECT_EQ(Data(blob), std::vector<float>(12, 0.0f));
  EXPECT_EQ(Diff(blob), std::vector<float>(12, 0.0f));
}

TEST(BlobTest, ShareDataSharesValuesButNotDiffs) {
  auto a = GaussianBlob({2, 3}, /*seed=*/1);
  Blob b({3, 2});
  b.ShareData(*a);
  EXPECT_TRUE(b.SharesDataWith(*a));
  EXPECT_EQ(Data(b), Data(*a));
  a->mutable_cpu_data()[4] = 9.0f;
  EXPECT_EQ(b.cpu_data()[4], 9.0f);
  b.mutable_cpu_diff()[0] = 5.0f;
  EXPECT_EQ(a->cpu_diff()[0], 0.0f);
}

TEST(BlobTest, GrowingPastASharedBufferTakesAnOwnOne) {
  Blob small({10});
  Blob blob({100});
  blob.Reshape({10});  // keeps a capacity of 100 floats
  blob.ShareData(small);
  // 50 floats fit the blob's former capacity but not the shared 10-float buffer.
  blob.Reshape({50});
  EXPECT_FALSE(blob.SharesDataWith(small));
  blob.mutable_cpu_data()[49] = 1.0f;
  EXPECT_EQ(blob.cpu_data()[49], 1.0f);
  EXPECT_EQ(Data(small), std::vector<float>(10, 0.0f));
}

TEST(BlobTest, ShareDiffSharesGradients) {
  Blob a({4}), b({4});
  b.ShareDiff(a);
  a.mutable_cpu_diff()[2] = 3.0f;
  EXPECT_EQ(b.cpu_diff()[2], 3.0f);
  EXPECT_FALSE(b.SharesDataWith(a));
}

TEST(BlobTest, CopyFromCopiesDataOrDiff) {
  auto source = GaussianBlob({2, 5}, /*seed=*/2);
  source->mutable_cpu_diff()[1] = 7.0f;
  Blob target({2, 5});
  target.CopyFrom(*source);
  EXPECT_EQ(Data(target), Data(*source));
  EXPECT_EQ(target.cpu_diff()[1], 0.0f);
  target.CopyFrom(*source, /*copy_diff=*/true);
  EXPECT_EQ(Diff(target), Diff(*source));
  Blob other({3});
  other.CopyFrom(*source, /*copy_diff=*/false, /*reshape=*/true);
  EXPECT_EQ(other.shape(), (Shape{2, 5}));
  EXPECT_EQ(Data(other), Data(*source));
}

TEST(BlobTest, ScalesAndSums) {
  Blob blob({4});
  float* d = blob.mutable_cpu_data();
  float* g = blob.mutable_cpu_diff();
  for (int i = 0; i < 4; ++i) {
    d[i] = static_cast<float>(i) - 2.0f;  // -2 -1 0 1
    g[i] = static_cast<float>(i + 1);     // 1 2 3 4
  }
  EXPECT_DOUBLE_EQ(blob.asum_data(), 4.0);
  EXPECT_DOUBLE_EQ(blob.sumsq_diff(), 30.0);
  blob.scale_data(-0.5f);
  EXPECT_EQ(Data(blob), (std::vector<float>{1.0f, 0.5f, -0.0f, -0.5f}));
  blob.scale_diff(2.0f);
  EXPECT_EQ(Diff(blob), (std::vector<float>{2.0f, 4.0f, 6.0f, 8.0f}));
  blob.ZeroDiff();
  EXPECT_EQ(Diff(blob), std::vector<float>(4, 0.0f));
  EXPECT_EQ(Data(blob), (std::vector<float>{1.0f, 0.5f, 0.0f, -0.5f}));
}

// BlobProto.

TEST(BlobProtoTest, RoundTripKeepsShapeDataAndDiff) {
  auto blob = GaussianBlob({2, 3, 4}, /*seed=*/3);
  FillGaussian(blob.get(), /*seed=*/4);
  std::copy(blob->cpu_data(), blob->cpu_data() + blob->count(), blob->mutable_cpu_diff());
  blob->scale_diff(-1.0f);
  BlobProto proto;
  blob->ToProto(&proto, /*write_diff=*/true);
  EXPECT_EQ(proto.shape().dim_size(), 3);
  EXPECT_FALSE(proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width());
  EXPECT_EQ(proto.double_data_size(), 0);
  Blob copy;
  copy.FromProto(proto);
  EXPECT_EQ(copy.shape(), blob->shape());
  EXPECT_EQ(Data(copy), Data(*blob));
  EXPECT_EQ(Diff(copy), Diff(*blob));
}

TEST(BlobProtoTest, ToProtoWritesNoDiffUnlessAsked) {
  auto blob = GaussianBlob({5}, /*seed=*/5);
  BlobProto proto;
  blob->ToProto(&proto);
  EXPECT_EQ(proto.data_size(), 5);
  EXPECT_EQ(proto.diff_size(), 0);
}

TEST(BlobProtoTest, ReadsLegacyFourDimensionalShape) {
  BlobProto proto = LegacyProto(2, 3, 1, 2);
  AddValues(&proto, 12, 1.0f);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(blob.shape(), (Shape{2, 3, 1, 2}));
  EXPECT_EQ(blob.cpu_data()[11], 12.0f);
  EXPECT_EQ(ProtoShape(proto), (Shape{2, 3, 1, 2}));
}

TEST(BlobProtoTest, AnyLegacyFieldSelectsTheLegacyShape) {
  BlobProto proto = ShapedProto({6});
  proto.set_num(6);  // channels/height/width default to 0
  EXPECT_EQ(ProtoShape(proto), (Shape{6, 0, 0, 0}));
}

TEST(BlobProtoTest, ShapeEqualsAlignsLegacyShapesFromTheRight) {
  // The VGG-16 fc6 weight of a V1 caffemodel against an InnerProduct weight blob; no data is
  // touched, so nothing is allocated.
  Blob fc6({4096, 25088});
  EXPECT_TRUE(fc6.ShapeEquals(LegacyProto(1, 1, 4096, 25088)));
  EXPECT_FALSE(fc6.ShapeEquals(LegacyProto(1, 1, 25088, 4096)));
  EXPECT_FALSE(fc6.ShapeEquals(LegacyProto(1, 4096, 25088, 1)));
  EXPECT_FALSE(fc6.ShapeEquals(LegacyProto(2, 1, 4096, 25088)));
  Blob bias({4096});
  EXPECT_TRUE(bias.ShapeEquals(LegacyProto(1, 1, 1, 4096)));
  EXPECT_FALSE(bias.ShapeEquals(LegacyProto(1, 1, 4096, 1)));
  Blob conv({64, 3, 3, 3});
  EXPECT_TRUE(conv.ShapeEquals(LegacyProto(64, 3, 3, 3)));
  Blob five_d({1, 1, 1, 1, 4});
  EXPECT_FALSE(five_d.ShapeEquals(LegacyProto(1, 1, 1, 4)));
}

TEST(BlobProtoTest, ShapeEqualsComparesNDimensionalShapesExactly) {
  Blob blob({2, 3});
  EXPECT_TRUE(blob.ShapeEquals(ShapedProto({2, 3})));
  EXPECT_FALSE(blob.ShapeEquals(ShapedProto({3, 2})));
  EXPECT_FALSE(blob.ShapeEquals(ShapedProto({1, 2, 3})));
}

TEST(BlobProtoTest, FromProtoWithoutReshapeAcceptsARightAlignedLegacyShape) {
  Blob weight({2, 3});
  BlobProto proto = LegacyProto(1, 1, 2, 3);
  AddValues(&proto, 6, 10.0f);
  weight.FromProto(proto, /*reshape=*/false);
  EXPECT_EQ(weight.shape(), (Shape{2, 3}));
  EXPECT_EQ(Data(weight), (std::vector<float>{10, 11, 12, 13, 14, 15}));
}

TEST(BlobProtoTest, FromProtoWithoutReshapeRejectsAnotherShape) {
  Blob weight({2, 3});
  BlobProto proto = ShapedProto({3, 2});
  AddValues(&proto, 6, 0.0f);
  EXPECT_THAT(ConfigErrorOf([&] { weight.FromProto(proto, /*reshape=*/false); }),
              HasSubstr("shape mismatch: stored 3x2, expected 2x3"));
}

TEST(BlobProtoTest, DoubleDataTakesPrecedence) {
  BlobProto proto = ShapedProto({2});
  proto.add_data(1.0f);
  proto.add_data(2.0f);
  proto.add_double_data(3.5);
  proto.add_double_data(-4.25);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(Data(blob), (std::vector<float>{3.5f, -4.25f}));
}

TEST(BlobProtoTest, ReadsDoubleDiff) {
  BlobProto proto = ShapedProto({2});
  AddValues(&proto, 2, 0.0f);
  proto.add_double_diff(0.5);
  proto.add_double_diff(1.5);
  Blob blob;
  blob.FromProto(proto);
  EXPECT_EQ(Diff(blob), (std::vector<float>{0.5f, 1.5f}));
}

TEST(BlobProtoTest, RejectsValueCountMismatch) {
  BlobProto proto = ShapedProto({2, 3});
  AddValues(&proto, 5, 0.0f);
  Blob blob;
  EXPECT_THAT(ConfigErrorOf([&] { blob.FromProto(proto); }),
              HasSubstr("blob holds 5 values for shape 2x3 (6 expected)"));
}

TEST(BlobProtoTest, RejectsDoubleValueCountMismatch) {
  BlobProto proto = ShapedProto({4});
  proto.add_double_data(1.0);
  Blob blob;
  EXPECT_THAT(ConfigErrorOf([&] { blob.FromProto(proto); }),
              HasSubstr("blob holds 1 double values for shape 4"));
}

TEST(BlobProtoTest, RejectsDiffCountMismatch) {
  BlobProto proto = ShapedProto({3});
  AddValues(&proto, 3, 0.0f);
  proto.add_diff(1.0f);
  Blob blob;
  EXPECT_THAT(ConfigErrorOf([&] { blob.FromProto(proto); }), HasSubstr("diff count mismatch"));
}

// A layout that stores the elements in reverse order, rotated by `shift` (so two instances
// with different shifts are different layouts of the same elements).
class ReversedLayout final : public HostLayout {
 public:
  ReversedLayout(std::size_t count, std::size_t shift) : count_(count), shift_(shift) {}
  std::size_t bytes() const override { return count_ * sizeof(float); }
  std::size_t Position(std::size_t i) const { return (count_ - 1 - i + shift_) % count_; }
  void FromPlain(const void* plain, void* out) const override {
    for (std::size_t i = 0; i < count_; ++i) {
      static_cast<float*>(out)[Position(i)] = static_cast<const float*>(plain)[i];
    }
    ++conversions;
  }
  void ToPlain(const void* in, void* plain) const override {
    for (std::size_t i = 0; i < count_; ++i) {
      static_cast<float*>(plain)[i] = static_cast<const float*>(in)[Position(i)];
    }
    ++conversions;
  }
  bool Equals(const HostLayout& other) const override {
    const auto* o = dynamic_cast<const ReversedLayout*>(&other);
    return o != nullptr && o->count_ == count_ && o->shift_ == shift_;
  }
  std::string name() const override { return "reversed+" + std::to_string(shift_); }
  mutable int conversions = 0;

 private:
  std::size_t count_, shift_;
};

std::vector<float> Raw(const void* p, std::size_t n) {
  const auto* f = static_cast<const float*>(p);
  return std::vector<float>(f, f + n);
}

// HostBufferPool: a released buffer serves the next request of 80-100% of its size, larger
// or much smaller requests get fresh memory, and the pool keeps no more than its limit.
TEST(HostBufferPoolTest, AReleasedBufferServesTheNextAllocationOfAboutItsSize) {
  auto pool = std::make_shared<HostBufferPool>();
  SyncedMemory first(4000);
  first.set_host_pool(pool);
  auto* p = static_cast<float*>(first.mutable_host_data());
  p[0] = 7.0f;
  first.Release();
  EXPECT_EQ(pool->pooled_buffers(), 1u);
  EXPECT_EQ(pool->pooled_bytes(), 4032u);  // rounded up to 64 bytes
  SyncedMemory second(3600);               // 3648 bytes rounded: within 80% of 4032
  second.set_host_pool(pool);
  const void* q = second.host_data();
  EXPECT_EQ(q, p);
  EXPECT_EQ(static_cast<const float*>(q)[0], 0.0f) << "a reused buffer is zero-filled";
  EXPECT_EQ(pool->pooled_buffers(), 0u);
  second.Release();
  SyncedMemory small(1000);  // 1024 bytes: 4032 is more than 125% of it
  small.set_host_pool(pool);
  EXPECT_NE(small.host_data(), q);
  EXPECT_EQ(pool->pooled_buffers(), 1u);
  SyncedMemory large(5000);
  large.set_host_pool(pool);
  EXPECT_NE(large.host_data(), q);
  EXPECT_EQ(pool->pooled_buffers(), 1u);
}

// With any_larger (a net that frees consumed activations), the smallest pooled buffer of at
// least the request serves it, however much larger; it goes back with its whole size.
TEST(HostBufferPoolTest, AnyLargerServesASmallRequestFromTheSmallestBigEnoughBuffer) {
  auto pool = std::make_shared<HostBufferPool>();
  pool->set_any_larger(true);
  SyncedMemory big(40000), middle(8000);
  big.set_host_pool(pool);
  middle.set_host_pool(pool);
  const void* big_buffer = big.host_data();
  const void* middle_buffer = middle.host_data();
  big.Release();
  middle.Release();
  EXPECT_EQ(pool->pooled_bytes(), 40000u + 8000u);
  SyncedMemory small(1000);
  small.set_host_pool(pool);
  EXPECT_EQ(small.host_data(), middle_buffer);  // 8000 bytes: the smallest that fits
  SyncedMemory large(20000);
  large.set_host_pool(pool);
  EXPECT_EQ(large.host_data(), big_buffer);
  EXPECT_EQ(pool->pooled_buffers(), 0u);
  small.Release();
  EXPECT_EQ(pool->pooled_bytes(), 8000u);  // its capacity, not the 1000 bytes it served
  pool->set_any_larger(false);
  SyncedMemory tiny(1000);
  tiny.set_host_pool(pool);
  EXPECT_NE(tiny.host_data(), middle_buffer);  // more than 125% of the request
}

TEST(HostBufferPoolTest, KeepsAtMostItsLimitAndWithoutAPoolBuffersAreFreed) {
  auto pool = std::make_shared<HostBufferPool>(6000);
  {
    SyncedMemory a(4096), b(4096), plain(4096);
    a.set_host_pool(pool);
    b.set_host_pool(pool);
    a.host_data();
    b.host_data();
    plain.host_data();
    a.Release();
    b.Release();  // 8192 bytes would pass the 6000-byte limit: freed
    plain.Release();
    EXPECT_EQ(plain.host_pool(), nullptr);
  }
  EXPECT_EQ(pool->pooled_buffers(), 1u);
  EXPECT_EQ(pool->pooled_bytes(), 4096u);
}

TEST(HostBufferPoolTest, ABlobGivesItsPoolToTheBuffersAReshapeMakes) {
  auto pool = std::make_shared<HostBufferPool>();
  Blob blob({2, 3});
  blob.set_host_pool(pool);
  EXPECT_EQ(blob.data_memory().host_pool(), pool);
  blob.Reshape({4, 40});  // grows: new buffers
  EXPECT_EQ(blob.data_memory().host_pool(), pool);
  EXPECT_EQ(blob.diff_memory().host_pool(), pool);
  blob.mutable_cpu_diff();
  blob.ReleaseDiff();
  EXPECT_EQ(pool->pooled_buffers(), 1u);
}

TEST(HostLayoutTest, ConvertsOnAccessAndStaysUntilAskedOtherwise) {
  Blob blob({2, 3});
  float* x = blob.mutable_cpu_data();
  for (int i = 0; i < 6; ++i) x[i] = static_cast<float>(i + 1);
  auto reversed = std::make_shared<ReversedLayout>(6, 0);
  SyncedMemory& m = blob.data_memory();
  // Reading in a layout converts the buffer, which then stays in it.
  EXPECT_EQ(Raw(m.host_data_in(reversed), 6), (std::vector<float>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(m.host_layout(), reversed);
  EXPECT_EQ(reversed->conversions, 1);
  // An equal layout (another object) reads it as it is.
  auto same = std::make_shared<ReversedLayout>(6, 0);
  EXPECT_EQ(Raw(m.host_data_in(same), 6), (std::vector<float>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(reversed->conversions + same->conversions, 1);
  // Plain readers get plain order back, and the buffer is plain again.
  EXPECT_EQ(Data(blob), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(m.host_layout(), nullptr);
  // Between two layouts it goes through plain order.
  m.host_data_in(reversed);
  auto shifted = std::make_shared<ReversedLayout>(6, 2);
  EXPECT_EQ(Raw(m.host_data_in(shifted), 6), (std::vector<float>{2, 1, 6, 5, 4, 3}));
  EXPECT_EQ(Data(blob), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(HostLayoutTest, WritersChooseTheLayoutAndOverwriteSkipsTheConversion) {
  Blob blob({4});
  auto reversed = std::make_shared<ReversedLayout>(4, 0);
  auto* w = static_cast<float*>(blob.data_memory().mutable_host_data_in(reversed, true));
  EXPECT_EQ(reversed->conversions, 0);
  for (int i = 0; i < 4; ++i) w[i] = static_cast<float>(10 * i);  // stored reversed
  EXPECT_EQ(Data(blob), (std::vector<float>{30, 20, 10, 0}));
  // Read-modify-write in a layout keeps the values.
  auto* rw = static_cast<float*>(blob.data_memory().mutable_host_data_in(reversed, false));
  rw[0] += 1.0f;  // the last plain element
  EXPECT_EQ(Data(blob), (std::vector<float>{30, 20, 10, 1}));
  // mutable_cpu_data() hands out plain order.
  blob.mutable_cpu_data()[0] = -1.0f;
  EXPECT_EQ(blob.data_memory().host_layout(), nullptr);
  EXPECT_EQ(Data(blob), (std::vector<float>{-1, 20, 10, 1}));
}

TEST(HostLayoutTest, ReleaseZeroFillSharingAndCopiesSeePlainValues) {
  Blob a({3}), b({3});
  auto reversed = std::make_shared<ReversedLayout>(3, 0);
  auto* w = static_cast<float*>(a.data_memory().mutable_host_data_in(reversed, true));
  w[0] = 3;
  w[1] = 2;
  w[2] = 1;
  // A blob sharing the buffer sees the same values, and copies and protos read plain order.
  b.ShareData(a);
  EXPECT_EQ(Data(b), (std::vector<float>{1, 2, 3}));
  a.data_memory().host_data_in(reversed);
  Blob c({3});
  c.CopyFrom(a);
  EXPECT_EQ(Data(c), (std::vector<float>{1, 2, 3}));
  BlobProto proto;
  a.data_memory().host_data_in(reversed);
  a.ToProto(&proto);
  EXPECT_THAT(proto.data(), ::testing::ElementsAre(1, 2, 3));
  // Zero is zero in any layout; a released buffer comes back plain and zero-filled.
  a.data_memory().host_data_in(reversed);
  a.data_memory().ZeroFill();
  EXPECT_EQ(Data(a), (std::vector<float>{0, 0, 0}));
  a.data_memory().mutable_host_data_in(reversed, true);
  a.ReleaseData();
  EXPECT_EQ(a.data_memory().host_layout(), nullptr);
  EXPECT_EQ(Data(a), (std::vector<float>{0, 0, 0}));
}

// An engine asking for a layout of more elements than the buffer holds is a programming error.
TEST(HostLayoutDeathTest, ALayoutLargerThanTheBufferIsRefused) {
  Blob blob({4});
  auto too_big = std::make_shared<ReversedLayout>(8, 0);
  EXPECT_DEATH(blob.data_memory().host_data_in(too_big),
               "layout reversed\\+0 needs 32 bytes, the buffer holds 16");
}

}  // namespace
}  // namespace fcn::test
