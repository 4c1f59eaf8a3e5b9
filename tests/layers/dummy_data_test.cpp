// SPDX-License-Identifier: BSD-2-Clause
// DummyData layer: configuration errors, the declared shapes (N-D and legacy 4-D, once or per
// top), constant tops filled once, random tops refilled from the global RNG on every pass.
// DummyData has no bottoms, hence no gradient to check and no in-place case.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/rng.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

using Shape = std::vector<std::int64_t>;

// The layer's tops, owned.
struct Tops {
  explicit Tops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      blobs.push_back(std::make_unique<Blob>());
      vec.push_back(blobs.back().get());
    }
  }
  std::vector<std::unique_ptr<Blob>> blobs;
  BlobVec vec;
};

// 1. Configuration.

TEST(DummyDataLayerConfig, RejectsFillerCountOtherThanZeroOneOrPerTop) {
  EXPECT_THAT(
      ConfigErrorOf([] {
        MakeLayer(R"pb(type: "DummyData"
                       top: "a"
                       top: "b"
                       top: "c"
                       dummy_data_param {
                         shape { dim: 2 }
                         data_filler { type: "constant" }
                         data_filler { type: "gaussian" }
                       })pb");
      }),
      HasSubstr("data_filler must be given 0 times, once, or once per top (3 tops); got 2"));
}

TEST(DummyDataLayerConfig, RejectsShapeMixedWithLegacyFields) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               top: "a"
                               dummy_data_param {
                                 shape { dim: 2 }
                                 num: 1
                                 channels: 1
                                 height: 1
                                 width: 1
                               })pb");
              }),
              HasSubstr("sets both shape and the legacy num/channels/height/width"));
}

TEST(DummyDataLayerConfig, RejectsLegacyFieldCountMismatch) {
  EXPECT_THAT(
      ConfigErrorOf([] {
        MakeLayer(R"pb(type: "DummyData"
                       top: "a"
                       top: "b"
                       top: "c"
                       dummy_data_param { num: 1 num: 2 channels: 1 height: 1 width: 1 })pb");
      }),
      HasSubstr("num must be given once or once per top (3 tops); got 2"));
}

TEST(DummyDataLayerConfig, RejectsMissingLegacyField) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               top: "a"
                               dummy_data_param { num: 1 channels: 1 width: 1 })pb");
              }),
              HasSubstr("height must be given once or once per top (1 tops); got 0"));
}

TEST(DummyDataLayerConfig, RejectsShapeCountMismatch) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               top: "a"
                               top: "b"
                               top: "c"
                               dummy_data_param {
                                 shape { dim: 1 }
                                 shape { dim: 2 }
                               })pb");
              }),
              HasSubstr("shape must be given once or once per top (3 tops); got 2"));
}

TEST(DummyDataLayerConfig, RejectsNoShape) {
  EXPECT_THAT(ConfigErrorOf([] { MakeLayer(R"pb(type: "DummyData" top: "a")pb"); }),
              HasSubstr("shape must be given once or once per top (1 tops); got 0"));
}

TEST(DummyDataLayerConfig, RejectsNegativeDimension) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               top: "a"
                               dummy_data_param { shape { dim: 2 dim: -3 } })pb");
              }),
              HasSubstr("shape for top 0 has a negative dimension: 2x-3"));
}

TEST(DummyDataLayerConfig, RejectsUnknownFillerType) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               top: "a"
                               dummy_data_param {
                                 shape { dim: 2 }
                                 data_filler { type: "gausian" }
                               })pb");
              }),
              HasSubstr("unknown filler type \"gausian\""));
}

TEST(DummyDataLayerConfig, RejectsABottom) {
  EXPECT_THAT(ConfigErrorOf([] {
                MakeLayer(R"pb(type: "DummyData"
                               bottom: "x"
                               top: "a"
                               dummy_data_param { shape { dim: 2 } })pb");
              }),
              HasSubstr("DummyData takes 0 bottom blob(s), got 1"));
}

// 2. Shapes.

TEST(DummyDataLayerShape, AppliesShapesOnceOrPerTop) {
  struct Case {
    std::string param;
    std::vector<Shape> expected;
  };
  const std::vector<Case> cases = {
      {"shape { dim: 2 dim: 3 dim: 4 }", {{2, 3, 4}, {2, 3, 4}}},
      {"shape { dim: 5 } shape { dim: 1 dim: 6 }", {{5}, {1, 6}}},
      {"num: 2 channels: 3 height: 4 width: 5", {{2, 3, 4, 5}, {2, 3, 4, 5}}},
      {"num: 2 channels: 3 channels: 1 height: 4 width: 5 width: 6", {{2, 3, 4, 5}, {2, 1, 4, 6}}},
  };
  for (const Case& c : cases) {
    auto layer =
        MakeLayer(R"pb(type: "DummyData" top: "a" top: "b" dummy_data_param {)pb" + c.param + " }");
    Tops tops(2);
    layer->SetUp({}, tops.vec);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(tops.blobs[i]->shape(), c.expected[i]) << c.param << "\ntop " << i;
    }
  }
}

// 3. Values.

TEST(DummyDataLayerForward, WithoutFillerTopsAreZero) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              top: "b"
                              dummy_data_param { shape { dim: 3 dim: 4 } })pb");
  Tops tops(2);
  layer->SetUp({}, tops.vec);
  layer->Forward(ExecContext(), {}, tops.vec);
  for (const auto& t : tops.blobs) EXPECT_EQ(Data(*t), std::vector<float>(12, 0.0f));
}

TEST(DummyDataLayerForward, ConstantTopIsFilledOnceAtSetUp) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              dummy_data_param {
                                shape { dim: 2 dim: 3 }
                                data_filler { type: "constant" value: 2.5 }
                              })pb");
  Tops tops(1);
  layer->SetUp({}, tops.vec);
  EXPECT_EQ(Data(*tops.blobs[0]), std::vector<float>(6, 2.5f));
  // Forward does not refill a constant top, so a value written in between stays.
  tops.blobs[0]->mutable_cpu_data()[1] = -1.0f;
  layer->Forward(ExecContext(), {}, tops.vec);
  EXPECT_EQ(Data(*tops.blobs[0]), (std::vector<float>{2.5f, -1.0f, 2.5f, 2.5f, 2.5f, 2.5f}));
}

TEST(DummyDataLayerForward, RandomTopIsRefilledEveryPass) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              dummy_data_param {
                                shape { dim: 10 dim: 1000 }
                                data_filler { type: "uniform" min: 2 max: 3 }
                              })pb");
  Tops tops(1);
  layer->SetUp({}, tops.vec);
  layer->rng().Seed(1701);
  layer->Forward(ExecContext(), {}, tops.vec);
  const std::vector<float> first = Data(*tops.blobs[0]);
  double sum = 0;
  for (float v : first) {
    ASSERT_GE(v, 2.0f);
    ASSERT_LE(v, 3.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / 1e4, 2.5, 0.01);
  layer->Forward(ExecContext(), {}, tops.vec);
  EXPECT_NE(Data(*tops.blobs[0]), first);
  // The values come from the layer's RNG: reseeding repeats them.
  layer->rng().Seed(1701);
  layer->Forward(ExecContext(), {}, tops.vec);
  EXPECT_EQ(Data(*tops.blobs[0]), first);
}

TEST(DummyDataLayerForward, SetUpDrawsNoRandomNumbers) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              top: "b"
                              dummy_data_param {
                                shape { dim: 4 }
                                data_filler { type: "gaussian" }
                                data_filler { type: "constant" value: 1 }
                              })pb");
  layer->rng().Seed(5);
  Tops tops(2);
  layer->SetUp({}, tops.vec);
  EXPECT_EQ(layer->rng().SaveState(), Rng(5).SaveState());
}

TEST(DummyDataLayerForward, OneFillerServesEveryTop) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              top: "b"
                              dummy_data_param {
                                shape { dim: 2000 }
                                data_filler { type: "gaussian" std: 0.5 }
                              })pb");
  Tops tops(2);
  layer->SetUp({}, tops.vec);
  layer->rng().Seed(2);
  layer->Forward(ExecContext(), {}, tops.vec);
  const std::vector<float> a = Data(*tops.blobs[0]);
  const std::vector<float> b = Data(*tops.blobs[1]);
  EXPECT_NE(a, b) << "each top gets its own draws";
  for (const std::vector<float>* values : {&a, &b}) {
    double sum_sq = 0;
    for (float v : *values) sum_sq += static_cast<double>(v) * v;
    // The sample std of 2000 draws is 0.5 within about 0.008.
    EXPECT_NEAR(std::sqrt(sum_sq / 2000.0), 0.5, 0.04);
  }
  layer->rng().Seed(2);
  layer->Forward(ExecContext(), {}, tops.vec);
  EXPECT_EQ(Data(*tops.blobs[0]), a);
  EXPECT_EQ(Data(*tops.blobs[1]), b);
}

TEST(DummyDataLayerForward, PerTopFillersMixConstantAndRandom) {
  auto layer = MakeLayer(R"pb(type: "DummyData"
                              top: "a"
                              top: "b"
                              dummy_data_param {
                                num: 1
                                channels: 1
                                height: 3
                                width: 4
                                data_filler { type: "constant" value: 5 }
                                data_filler { type: "uniform" min: -1 max: 1 }
                              })pb");
  Tops tops(2);
  layer->SetUp({}, tops.vec);
  layer->rng().Seed(3);
  layer->Forward(ExecContext(), {}, tops.vec);
  EXPECT_EQ(Data(*tops.blobs[0]), std::vector<float>(12, 5.0f));
  const std::vector<float> b = Data(*tops.blobs[1]);
  EXPECT_TRUE(std::all_of(b.begin(), b.end(), [](float v) { return v >= -1.0f && v <= 1.0f; }));
  EXPECT_GT(std::count_if(b.begin(), b.end(), [&b](float v) { return v != b.front(); }), 0);
}

}  // namespace
}  // namespace fcn::test
