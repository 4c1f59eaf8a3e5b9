// SPDX-License-Identifier: BSD-2-Clause
// GradientReducer against a recording communicator that stands for two ranks holding equal
// gradients: the bucket order (reverse layer order, the order gradients become final), the
// hand-off during backward, shared and frozen parameters, iter_size passes, and errors.
#include "solver/gradient_reducer.h"

#include <atomic>
#include <mutex>

#include "support/test_util.h"

namespace fcn {
namespace {

// Two ranks with the same gradients: the sum doubles every value. Records what it summed and
// which layer's backward had last run when each all-reduce started.
class TwoEqualRanks final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "test"; }
  Device device() const override { return Device::kCpu; }
  void Broadcast(void*, std::size_t, int) override {}
  void BroadcastFloats(const std::vector<FloatSpan>&, int) override {}
  void AllReduceSum(const std::vector<FloatSpan>& spans) override {
    if (fail) throw RuntimeError("link down");
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::int64_t> counts;
    for (const FloatSpan& s : spans) {
      for (std::int64_t i = 0; i < s.count; ++i) s.data[i] *= 2;
      counts.push_back(s.count);
    }
    calls.push_back(counts);
    started_after_layer.push_back(last_layer.load());
  }
  void AllReduceHost(float*, int) override {}
  void Barrier() override {}

  std::atomic<bool> fail{false};
  std::atomic<int> last_layer{-1};
  std::mutex mutex;
  std::vector<std::vector<std::int64_t>> calls;
  std::vector<int> started_after_layer;
};

// conv1 and conv3 share a weight ("w"); conv2 is frozen (lr_mult 0); biases differ in size.
const char* kNet = R"(name: "r"
layer { name: "in" type: "DummyData" top: "data" top: "label"
        dummy_data_param { shape { dim: 1 dim: 2 dim: 5 dim: 5 } shape { dim: 1 dim: 1 dim: 5 dim: 5 }
                           data_filler { type: "constant" value: 0.7 } data_filler { type: "constant" value: 1 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1"
        param { name: "w" } param { lr_mult: 2 }
        convolution_param { num_output: 2 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2"
        param { lr_mult: 0 } param { lr_mult: 0 }
        convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "conv3" type: "Convolution" bottom: "c2" top: "c3"
        param { name: "w" } param { lr_mult: 1 }
        convolution_param { num_output: 2 kernel_size: 3 pad: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "score" type: "Convolution" bottom: "c3" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
)";

std::vector<std::vector<float>> Diffs(const Net& net) {
  std::vector<std::vector<float>> out;
  for (const Blob* p : net.learnable_params()) out.push_back(test::Diff(*p));
  return out;
}

TEST(GradientReducerTest, BucketsInReverseLayerOrderDuringBackward) {
  auto net = test::MakeNet(kNet);
  TwoEqualRanks comm;
  // Buckets of one parameter each (any two exceed 1 byte).
  GradientReducer reducer(net.get(), &comm, /*layer_wise=*/true, 1, 1);
  // score w, score b, conv3 b, then the shared w (final only after conv1) with conv1 b;
  // conv2 (frozen) is left out: five buckets.
  ASSERT_EQ(reducer.num_buckets(), 5u);
  net->ClearParamDiffs();
  reducer.BeginPass(true);
  net->Forward();
  // record the last layer whose backward has run when each all-reduce starts
  net->set_after_backward([&](int layer) {
    comm.last_layer = layer;
    reducer.AfterBackward(layer);
  });
  net->Backward();
  reducer.Finish();
  ASSERT_EQ(comm.calls.size(), 5u);
  const int score = net->layer_index("score");
  const int conv3 = net->layer_index("conv3");
  const int conv1 = net->layer_index("conv1");
  // counts: score w (3x2), score b (3), conv3 b (2), shared w (2x2x3x3 = 36), conv1 b (2)
  EXPECT_EQ(comm.calls[0], std::vector<std::int64_t>{6});
  EXPECT_EQ(comm.calls[1], std::vector<std::int64_t>{3});
  EXPECT_EQ(comm.calls[2], std::vector<std::int64_t>{2});
  EXPECT_EQ(comm.calls[3], std::vector<std::int64_t>{36});
  EXPECT_EQ(comm.calls[4], std::vector<std::int64_t>{2});
  // handed over as soon as their layer's backward ran (the thread may start later, never
  // earlier): score's parameters after score, conv3's bias after conv3, the shared weight
  // only after conv1.
  EXPECT_LE(comm.started_after_layer[0], score);
  EXPECT_LE(comm.started_after_layer[2], conv3);
  EXPECT_LE(comm.started_after_layer[3], conv1);
  EXPECT_GE(reducer.reduce_seconds(), 0.0);
}

TEST(GradientReducerTest, SumsEachGradientOnceAndLeavesFrozenOnesAlone) {
  for (bool layer_wise : {true, false}) {
    SCOPED_TRACE(layer_wise ? "layer-wise" : "once after backward");
    auto reference = test::MakeNet(kNet);
    auto net = test::MakeNet(kNet);
    for (std::size_t i = 0; i < net->learnable_params().size(); ++i) {
      net->learnable_params()[i]->CopyFrom(*reference->learnable_params()[i]);
    }
    // iter_size 2: two passes; only the last one hands buckets over.
    reference->ClearParamDiffs();
    reference->ForwardBackward();
    reference->ForwardBackward();
    TwoEqualRanks comm;
    GradientReducer reducer(net.get(), &comm, layer_wise, 25 << 20, 1 << 20);
    EXPECT_EQ(reducer.num_buckets(), 1u);  // everything fits in the first bucket
    net->ClearParamDiffs();
    reducer.BeginPass(false);
    net->ForwardBackward();
    EXPECT_TRUE(comm.calls.empty());
    reducer.BeginPass(true);
    net->ForwardBackward();
    reducer.Finish();
    ASSERT_EQ(comm.calls.size(), 1u);
    EXPECT_EQ(reducer.reduced_floats(), 6 + 3 + 2 + 36 + 2);
    const auto expected = Diffs(*reference);
    const auto got = Diffs(*net);
    for (std::size_t i = 0; i < got.size(); ++i) {
      const bool frozen = net->params_lr()[i] == 0;
      for (std::size_t k = 0; k < got[i].size(); ++k) {
        EXPECT_EQ(got[i][k], frozen ? expected[i][k] : 2 * expected[i][k]) << i << " " << k;
      }
    }
  }
}

TEST(GradientReducerTest, AnErrorOfTheCommunicatorReachesFinish) {
  auto net = test::MakeNet(kNet);
  TwoEqualRanks comm;
  comm.fail = true;
  GradientReducer reducer(net.get(), &comm, true, 1, 1);
  net->ClearParamDiffs();
  reducer.BeginPass(true);
  net->ForwardBackward();
  EXPECT_THROW(reducer.Finish(), RuntimeError);
}

}  // namespace
}  // namespace fcn
