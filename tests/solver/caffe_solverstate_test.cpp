// SPDX-License-Identifier: BSD-2-Clause
// A .solverstate written by BVLC Caffe resumes: Caffe's CIFAR-10 "full" snapshot at iteration
// 70000 (../shared) in a solver over the same layers fed by DummyData.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "fcn/io.h"
#include "fcn/solver.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;

// cifar10_full_train_test.prototxt with the two Data layers replaced by one DummyData layer
// of the same name (batch 10 instead of 100 to keep the test fast).
const char* kCifarFullNet = R"(name: "CIFAR10_full"
layer { name: "cifar" type: "DummyData" top: "data" top: "label"
        dummy_data_param { shape { dim: 10 dim: 3 dim: 32 dim: 32 } shape { dim: 10 }
                           data_filler { type: "gaussian" std: 50 }
                           data_filler { type: "constant" value: 3 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 32 pad: 2 kernel_size: 5 stride: 1
                            weight_filler { type: "gaussian" std: 0.0001 }
                            bias_filler { type: "constant" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "relu1" type: "ReLU" bottom: "pool1" top: "pool1" }
layer { name: "norm1" type: "LRN" bottom: "pool1" top: "norm1"
        lrn_param { local_size: 3 alpha: 5e-05 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "conv2" type: "Convolution" bottom: "norm1" top: "conv2"
        param { lr_mult: 1 } param { lr_mult: 2 }
        convolution_param { num_output: 32 pad: 2 kernel_size: 5 stride: 1
                            weight_filler { type: "gaussian" std: 0.01 }
                            bias_filler { type: "constant" } } }
layer { name: "relu2" type: "ReLU" bottom: "conv2" top: "conv2" }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 } }
layer { name: "norm2" type: "LRN" bottom: "pool2" top: "norm2"
        lrn_param { local_size: 3 alpha: 5e-05 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "conv3" type: "Convolution" bottom: "norm2" top: "conv3"
        convolution_param { num_output: 64 pad: 2 kernel_size: 5 stride: 1
                            weight_filler { type: "gaussian" std: 0.01 }
                            bias_filler { type: "constant" } } }
layer { name: "relu3" type: "ReLU" bottom: "conv3" top: "conv3" }
layer { name: "pool3" type: "Pooling" bottom: "conv3" top: "pool3"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool3" top: "ip1"
        param { lr_mult: 1 decay_mult: 250 } param { lr_mult: 2 decay_mult: 0 }
        inner_product_param { num_output: 10
                              weight_filler { type: "gaussian" std: 0.01 }
                              bias_filler { type: "constant" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip1" bottom: "label" top: "accuracy"
        include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip1" bottom: "label" top: "loss" }
)";

class CaffeSolverStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::SharedDir().empty()) GTEST_SKIP() << "../shared is absent";
    const std::string base = test::SharedDir() + "/data/caffemodels/cifar10-full/";
    state_file_ = base + "cifar10_full_iter_70000.solverstate";
    model_file_ = base + "cifar10_full_iter_70000.caffemodel";
    if (!fs::exists(state_file_) || !fs::exists(model_file_)) {
      GTEST_SKIP() << "the CIFAR-10 full snapshot is absent from " << base;
    }
    dir_ = test::TempDir();
    std::ofstream(dir_ + "/cifar10_full_dummy.prototxt") << kCifarFullNet;
  }

  // The reference solver's settings over the DummyData net, with snapshots into dir_.
  std::unique_ptr<Solver> MakeSolver(const std::string& base_lr) {
    const std::string path = dir_ + "/solver.prototxt";
    std::ofstream(path) << "net: \"cifar10_full_dummy.prototxt\"\nbase_lr: " << base_lr
                        << "\nmomentum: 0.9\nweight_decay: 0.004\nlr_policy: \"fixed\"\n"
                           "display: 5\nmax_iter: 70010\nsnapshot: 10000\nsnapshot_prefix: \""
                        << dir_ << "/resumed\"\nrandom_seed: 1\nsolver_mode: CPU\n";
    return std::make_unique<Solver>(ReadSolverFile(path), dir_);
  }

  std::string state_file_, model_file_, dir_;
};

TEST_F(CaffeSolverStateTest, RestoresIterationWeightsAndHistory) {
  const SolverState caffe_state = ReadSolverStateFromBinaryFile(state_file_);
  ASSERT_EQ(caffe_state.iter(), 70000);
  ASSERT_EQ(caffe_state.history_size(), 8);  // conv1-3 and ip1, weights and bias
  EXPECT_FALSE(caffe_state.has_rng_state());

  // base_lr 0: the first update is exactly W - momentum * H, which only the stored
  // history can produce.
  auto solver = MakeSolver("0");
  solver->Restore(state_file_);
  EXPECT_EQ(solver->iter(), 70000);
  const NetParameter weights = ReadNetParamFromBinaryFile(model_file_);
  const auto& params = solver->net()->learnable_params();
  ASSERT_EQ(params.size(), 8u);
  std::vector<std::vector<float>> before;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const BlobProto& stored = caffe_state.history(static_cast<int>(i));
    EXPECT_EQ(test::Data(*solver->history()[i]),
              std::vector<float>(stored.data().begin(), stored.data().end()))
        << "history " << i;
    before.push_back(test::Data(*params[i]));
  }
  const Layer* conv1 = solver->net()->layer_by_name("conv1");
  for (const LayerParameter& layer : weights.layer()) {
    if (layer.name() != "conv1") continue;
    EXPECT_EQ(test::Data(*conv1->blobs()[0]),
              std::vector<float>(layer.blobs(0).data().begin(), layer.blobs(0).data().end()));
  }
  solver->Step(1);
  EXPECT_EQ(solver->iter(), 70001);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const BlobProto& stored = caffe_state.history(static_cast<int>(i));
    const std::vector<float> after = test::Data(*params[i]);
    for (std::size_t k = 0; k < after.size(); ++k) {
      const float h = 0.9f * stored.data(static_cast<int>(k));
      ASSERT_EQ(after[k], before[i][k] - h) << "parameter " << i << " element " << k;
    }
  }
}

TEST_F(CaffeSolverStateTest, TrainsOnToMaxIterAndSnapshots) {
  auto solver = MakeSolver("0.001");
  solver->Restore(state_file_);
  solver->Solve();
  EXPECT_EQ(solver->iter(), 70010);
  const SolverState state = ReadSolverStateFromBinaryFile(dir_ + "/resumed_iter_70010.solverstate");
  EXPECT_EQ(state.iter(), 70010);
  EXPECT_EQ(state.learned_net(), dir_ + "/resumed_iter_70010.caffemodel");
  EXPECT_EQ(state.history_size(), 8);
  EXPECT_TRUE(state.has_rng_state());
  EXPECT_TRUE(std::isfinite(solver->smoothed_loss()));
}

}  // namespace
}  // namespace fcn
