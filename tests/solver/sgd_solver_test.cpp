// SPDX-License-Identifier: BSD-2-Clause
// The SGD and Nesterov updates against a hand-written reference of Caffe's order of
// operations (clip, normalise, regularise, momentum, update) on a tiny net, for every lr
// policy, lr/decay multipliers, iter_size, clipping, L1 and average_loss smoothing.
#include <google/protobuf/text_format.h>

#include <cmath>

#include "fcn/rng.h"
#include "fcn/solver.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using ::testing::HasSubstr;

// Two convolutions with different lr/decay multipliers (and one frozen bias) and a
// SoftmaxWithLoss over spatial labels. Every pass draws new data (DummyData, gaussian); the
// labels are an Input blob set by the test.
const char* kTinyNet = R"(
  name: "tiny"
  layer { name: "data" type: "DummyData" top: "data"
          dummy_data_param { shape { dim: 2 dim: 3 dim: 5 dim: 5 }
                             data_filler { type: "gaussian" std: 1 } } }
  layer { name: "input" type: "Input" top: "label"
          input_param { shape { dim: 2 dim: 1 dim: 5 dim: 5 } } }
  layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
          param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
          convolution_param { num_output: 4 kernel_size: 3 pad: 1
                              weight_filler { type: "gaussian" std: 0.3 }
                              bias_filler { type: "constant" value: 0.1 } } }
  layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
  layer { name: "conv2" type: "Convolution" bottom: "conv1" top: "score"
          param { lr_mult: 0.5 decay_mult: 3 } param { lr_mult: 0 }
          convolution_param { num_output: 3 kernel_size: 1
                              weight_filler { type: "gaussian" std: 0.3 }
                              bias_filler { type: "constant" value: 0.2 } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
)";

SolverParameter MakeSolverParam(const std::string& extra) {
  SolverParameter param;
  const std::string text = StrCat("base_lr: 0.05 momentum: 0.9 weight_decay: 0.01 max_iter: 10\n",
                                  "random_seed: 17 snapshot_after_train: false\n", extra);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &param)) << text;
  NetSource source;
  *param.mutable_net_param() = ReadNetParamFromTextString(kTinyNet, "tiny.prototxt", &source);
  return param;
}

// Fills the label Input blob (the same in every net built from kTinyNet).
void FillInputs(Net* net) {
  float* label = net->input_blobs()[0]->mutable_cpu_data();
  for (std::int64_t i = 0; i < net->input_blobs()[0]->count(); ++i) {
    label[i] = static_cast<float>(i % 3);
  }
}

// Caffe's rate for each policy at iteration t, written from the formulas of
// fcn-reference.md §5.2 (powers in double, rounded to float).
float ReferenceRate(const SolverParameter& p, int t, int* current_step) {
  const double base = p.base_lr();
  const std::string& policy = p.lr_policy();
  if (policy == "step") return static_cast<float>(base * std::pow(p.gamma(), t / p.stepsize()));
  if (policy == "exp") return static_cast<float>(base * std::pow(p.gamma(), t));
  if (policy == "inv") {
    return static_cast<float>(
        base * std::pow(1.0f + p.gamma() * static_cast<float>(t), static_cast<double>(-p.power())));
  }
  if (policy == "multistep") {
    if (*current_step < p.stepvalue_size() && t >= p.stepvalue(*current_step)) ++*current_step;
    return static_cast<float>(base * std::pow(p.gamma(), *current_step));
  }
  if (policy == "poly") {
    const float frac = 1.0f - static_cast<float>(t) / static_cast<float>(p.max_iter());
    return static_cast<float>(base * std::pow(frac, static_cast<double>(p.power())));
  }
  if (policy == "sigmoid") {
    const float arg = -p.gamma() * (static_cast<float>(t) - static_cast<float>(p.stepsize()));
    return static_cast<float>(base * (1.0f / (1.0f + std::exp(static_cast<double>(arg)))));
  }
  return p.base_lr();
}

// A second copy of the net, updated by hand the way Caffe's SGDSolver/NesterovSolver does.
class ReferenceSolver {
 public:
  // The reference net draws from `rng` (the solver's, as a second net of the same run).
  ReferenceSolver(const SolverParameter& p, const Net& trained, Rng* rng) : p_(p) {
    NetParameter net_param = p.net_param();
    net_param.mutable_state()->set_phase(TRAIN);
    net_ = std::make_unique<Net>(net_param, Options(), nullptr, rng);
    FillInputs(net_.get());
    for (std::size_t i = 0; i < trained.learnable_params().size(); ++i) {
      net_->learnable_params()[i]->CopyFrom(*trained.learnable_params()[i]);
      history_.emplace_back(static_cast<std::size_t>(trained.learnable_params()[i]->count()), 0.0f);
    }
  }

  // One iteration at iteration number t; returns the iteration's loss.
  float Iterate(int t) {
    net_->ClearParamDiffs();
    float loss = 0;
    for (int i = 0; i < p_.iter_size(); ++i) loss += net_->ForwardBackward();
    loss /= static_cast<float>(p_.iter_size());
    const float rate = ReferenceRate(p_, t, &current_step_);
    const auto& params = net_->learnable_params();
    // Clip the summed gradient by its global L2 norm.
    if (p_.clip_gradients() >= 0) {
      float sumsq = 0;
      for (Blob* b : params) sumsq += static_cast<float>(b->sumsq_diff());
      const float norm = std::sqrt(sumsq);
      if (norm > p_.clip_gradients()) {
        for (Blob* b : params) b->scale_diff(p_.clip_gradients() / norm);
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* g = params[i]->mutable_cpu_diff();
      float* w = params[i]->mutable_cpu_data();
      const float decay = p_.weight_decay() * net_->params_weight_decay()[i];
      const float lr = rate * net_->params_lr()[i];
      for (std::int64_t k = 0; k < params[i]->count(); ++k) {
        float grad = g[k];
        if (p_.iter_size() > 1) grad *= 1.0f / static_cast<float>(p_.iter_size());
        if (decay != 0) {
          const float reg =
              p_.regularization_type() == "L1" ? static_cast<float>((w[k] > 0) - (w[k] < 0)) : w[k];
          grad = decay * reg + grad;
        }
        float& h = history_[i][static_cast<std::size_t>(k)];
        const float previous = h;
        h = lr * grad + p_.momentum() * h;
        const float step =
            p_.type() == "Nesterov" ? (1.0f + p_.momentum()) * h + (-p_.momentum()) * previous : h;
        w[k] -= step;
      }
    }
    return loss;
  }

  Net& net() { return *net_; }

 private:
  SolverParameter p_;
  std::unique_ptr<Net> net_;
  std::vector<std::vector<float>> history_;
  int current_step_ = 0;
};

// Runs the solver and the reference side by side for `iters` iterations and requires the
// weights to be identical after each one.
void ExpectSolverMatchesReference(const std::string& extra, int iters) {
  const SolverParameter param = MakeSolverParam(extra);
  Solver solver(param);
  FillInputs(solver.net());
  ReferenceSolver reference(solver.param(), *solver.net(), &solver.rng());
  for (int t = 0; t < iters; ++t) {
    // Both nets draw the same random data: the solver's RNG is rewound between them.
    const std::string rng = solver.rng().SaveState();
    reference.Iterate(t);
    ASSERT_TRUE(solver.rng().LoadState(rng));
    solver.Step(1);
    ASSERT_EQ(solver.iter(), t + 1);
    const auto& got = solver.net()->learnable_params();
    const auto& want = reference.net().learnable_params();
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(test::Data(*got[i]), test::Data(*want[i]))
          << extra << ": parameter " << i << " differs after iteration " << t;
    }
  }
}

TEST(SgdSolverTest, MatchesReferenceForEveryLrPolicy) {
  const std::vector<std::string> policies = {
      "lr_policy: 'fixed'",
      "lr_policy: 'step' gamma: 0.5 stepsize: 2",
      "lr_policy: 'exp' gamma: 0.9",
      "lr_policy: 'inv' gamma: 0.1 power: 0.75",
      "lr_policy: 'multistep' gamma: 0.5 stepvalue: 1 stepvalue: 3 stepvalue: 4",
      "lr_policy: 'poly' power: 2",
      "lr_policy: 'sigmoid' gamma: -0.5 stepsize: 3",
  };
  for (const std::string& policy : policies) ExpectSolverMatchesReference(policy, 6);
}

TEST(SgdSolverTest, MatchesReferenceWithIterSizeClippingL1AndNesterov) {
  ExpectSolverMatchesReference("lr_policy: 'fixed' iter_size: 3", 4);
  ExpectSolverMatchesReference("lr_policy: 'fixed' clip_gradients: 0.05", 4);
  ExpectSolverMatchesReference(
      "lr_policy: 'step' gamma: 0.5 stepsize: 2 iter_size: 2 "
      "clip_gradients: 0.1 regularization_type: 'L1'",
      4);
  ExpectSolverMatchesReference("lr_policy: 'fixed' type: 'Nesterov'", 4);
  ExpectSolverMatchesReference(
      "lr_policy: 'inv' gamma: 0.1 power: 0.75 solver_type: NESTEROV "
      "regularization_type: 'L1' iter_size: 2",
      4);
}

TEST(SgdSolverTest, LrPoliciesFollowCaffesFormulas) {
  SolverParameter param =
      MakeSolverParam("lr_policy: 'multistep' gamma: 0.1 stepvalue: 2 stepvalue: 2 stepvalue: 5");
  Solver solver(param);
  FillInputs(solver.net());
  // multistep advances at most one step per iteration, even when two stepvalues coincide.
  std::vector<int> steps;
  std::vector<float> rates;
  for (int t = 0; t < 7; ++t) {
    rates.push_back(solver.GetLearningRate());
    steps.push_back(solver.current_step());
    solver.Step(1);
  }
  EXPECT_EQ(steps, (std::vector<int>{0, 0, 1, 2, 2, 3, 3}));
  EXPECT_FLOAT_EQ(rates[0], 0.05f);
  EXPECT_FLOAT_EQ(rates[3], 0.0005f);
  EXPECT_FLOAT_EQ(rates[6], 0.00005f);
}

TEST(SgdSolverTest, FrozenParameterAndHistoryFollowTheMultipliers) {
  Solver solver(MakeSolverParam("lr_policy: 'fixed'"));
  FillInputs(solver.net());
  // conv2's bias has lr_mult 0: it keeps its filler value and a zero history.
  const Blob& bias2 = *solver.net()->learnable_params()[3];
  solver.Step(3);
  for (float v : test::Data(bias2)) EXPECT_EQ(v, 0.2f);
  for (float v : test::Data(*solver.history()[3])) EXPECT_EQ(v, 0.0f);
  for (float v : test::Data(*solver.history()[0])) {
    if (v != 0.0f) return;
  }
  ADD_FAILURE() << "conv1's weights have an all-zero history after 3 iterations";
}

TEST(SgdSolverTest, SmoothedLossIsTheMeanOfTheLastAverageLossIterations) {
  const SolverParameter param = MakeSolverParam("lr_policy: 'fixed' average_loss: 3");
  Solver solver(param);
  FillInputs(solver.net());
  ReferenceSolver reference(solver.param(), *solver.net(), &solver.rng());
  std::vector<float> losses;
  const std::string rng = solver.rng().SaveState();
  for (int t = 0; t < 6; ++t) losses.push_back(reference.Iterate(t));
  ASSERT_TRUE(solver.rng().LoadState(rng));
  solver.Step(6);
  const float expected = (losses[3] + losses[4] + losses[5]) / 3.0f;
  EXPECT_NEAR(solver.smoothed_loss(), expected, 1e-5f * std::fabs(expected));
  EXPECT_NE(losses[0], losses[5]);
}

TEST(SgdSolverTest, NonFiniteLossStopsNamingTheIteration) {
  // The loss is the sum of a 1x1 convolution's output, so a NaN input makes it NaN.
  SolverParameter param;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      "base_lr: 0.01 lr_policy: 'fixed' max_iter: 10 snapshot_after_train: false", &param));
  NetSource source;
  *param.mutable_net_param() = ReadNetParamFromTextString(R"(
      layer { name: "input" type: "Input" top: "data"
              input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
      layer { name: "conv" type: "Convolution" bottom: "data" top: "out" loss_weight: 1
              convolution_param { num_output: 1 kernel_size: 1
                                  weight_filler { type: "constant" value: 2 } } })",
                                                          "sum.prototxt", &source);
  Solver solver(param);
  solver.Step(2);
  const std::vector<float> before = test::Data(*solver.net()->learnable_params()[1]);
  solver.net()->input_blobs()[0]->mutable_cpu_data()[0] = std::nanf("");
  try {
    solver.Step(3);
    FAIL() << "no error for a NaN loss";
  } catch (const RuntimeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Iteration 2: the loss is nan"));
  }
  // The failing iteration did not update the weights.
  EXPECT_EQ(solver.iter(), 2);
  EXPECT_EQ(test::Data(*solver.net()->learnable_params()[1]), before);
  EXPECT_NE(before, std::vector<float>{0.0f});
}

TEST(SgdSolverTest, BadParametersAreConfigErrors) {
  EXPECT_THAT(test::ConfigErrorOf([] { Solver s(MakeSolverParam("lr_policy: 'cosine'")); }),
              HasSubstr("unknown lr_policy \"cosine\""));
  EXPECT_THAT(test::ConfigErrorOf([] { Solver s(MakeSolverParam("lr_policy: 'step'")); }),
              HasSubstr("stepsize > 0"));
  EXPECT_THAT(
      test::ConfigErrorOf([] { Solver s(MakeSolverParam("lr_policy: 'fixed' type: 'Adam'")); }),
      HasSubstr("\"Adam\" is not supported"));
  EXPECT_THAT(test::ConfigErrorOf([] {
                Solver s(MakeSolverParam("lr_policy: 'fixed' regularization_type: 'L3'"));
              }),
              HasSubstr("regularization_type \"L3\""));
  EXPECT_THAT(
      test::ConfigErrorOf([] { Solver s(MakeSolverParam("lr_policy: 'fixed' test_iter: 2")); }),
      HasSubstr("test_interval is not > 0"));
}

}  // namespace
}  // namespace fcn
