// SPDX-License-Identifier: BSD-2-Clause
// fcntool train and fcntool test as a user runs them: an exact resume in a new process,
// SIGHUP/SIGINT during training, the log lines, and bad input (exit 2, nothing written).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "fcn/io.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::WriteFile;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using Result = test::CommandResult;

// Runs fcntool in `cwd` and returns its exit code and combined output.
Result Fcntool(const std::string& cwd, const std::string& args) {
  return test::RunFcntool(args, cwd);
}

std::string ReadAll(const std::string& path) { return test::ReadFile(path); }

// Random data (DummyData, gaussian) and Dropout: every iteration draws from the global RNG.
const char* kRandomNet = R"(name: "random_net"
layer { name: "data" type: "DummyData" top: "data"
        dummy_data_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 }
                           data_filler { type: "gaussian" std: 1 } } }
layer { name: "label" type: "DummyData" top: "label"
        dummy_data_param { shape { dim: 2 dim: 1 dim: 6 dim: 6 }
                           data_filler { type: "constant" value: 1 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
        convolution_param { num_output: 4 kernel_size: 3 pad: 1
                            weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "drop1" type: "Dropout" bottom: "conv1" top: "conv1" dropout_param { dropout_ratio: 0.3 } }
layer { name: "score" type: "Convolution" bottom: "conv1" top: "score"
        convolution_param { num_output: 3 kernel_size: 1
                            weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
)";

std::string SolverText(const std::string& extra) {
  return StrCat(R"(net: "net.prototxt"
test_iter: 2
test_interval: 5
test_initialization: false
base_lr: 0.1
lr_policy: "step"
gamma: 0.5
stepsize: 3
momentum: 0.9
weight_decay: 0.001
display: 1
average_loss: 3
random_seed: 5
solver_mode: CPU
)",
                extra);
}

// The log messages (text after glog's "] ") from `first_iter` on, with the timing part of
// the display line removed (everything else must match bit for bit).
std::vector<std::string> LossLines(const std::string& log, int first_iter) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  std::string line;
  int iter = -1;
  const std::regex iteration(R"(^Iteration (\d+))");
  const std::regex timing(R"( \([^)]*iters\))");
  const std::regex extra(R"( img/s=.*$)");
  while (std::getline(in, line)) {
    const std::size_t pos = line.find("] ");
    if (pos == std::string::npos) continue;
    std::string msg = line.substr(pos + 2);
    std::smatch m;
    if (std::regex_search(msg, m, iteration)) iter = std::stoi(m[1]);
    const bool wanted =
        msg.rfind("Iteration ", 0) == 0 || msg.find("net output #") != std::string::npos;
    if (!wanted || iter < first_iter) continue;
    msg = std::regex_replace(std::regex_replace(msg, timing, ""), extra, "");
    lines.push_back(msg);
  }
  return lines;
}

void ExpectSameParameters(const std::string& a, const std::string& b) {
  const NetParameter pa = ReadNetParamFromBinaryFile(a);
  const NetParameter pb = ReadNetParamFromBinaryFile(b);
  ASSERT_EQ(pa.layer_size(), pb.layer_size());
  int compared = 0;
  for (int i = 0; i < pa.layer_size(); ++i) {
    ASSERT_EQ(pa.layer(i).blobs_size(), pb.layer(i).blobs_size());
    for (int j = 0; j < pa.layer(i).blobs_size(); ++j) {
      EXPECT_TRUE(std::equal(pa.layer(i).blobs(j).data().begin(), pa.layer(i).blobs(j).data().end(),
                             pb.layer(i).blobs(j).data().begin(),
                             pb.layer(i).blobs(j).data().end()))
          << "layer " << pa.layer(i).name() << " blob " << j;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 4);
}

TEST(TrainTest, ResumeInANewProcessIsBitForBit) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kRandomNet);
  WriteFile(dir + "/solver.prototxt",
            SolverText("max_iter: 10\nsnapshot: 5\nsnapshot_prefix: \"run\"\n"));
  fs::create_directories(dir + "/a");
  fs::create_directories(dir + "/b");
  // Straight through, from another directory: the net is found beside the solver.
  const Result straight = Fcntool(dir + "/a", "train --solver=../solver.prototxt");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  EXPECT_THAT(straight.output, HasSubstr("Resolved net \"net.prototxt\" to ../net.prototxt"));
  EXPECT_THAT(straight.output,
              HasSubstr("Snapshotting to binary proto file run_iter_5.caffemodel"));
  EXPECT_THAT(straight.output, HasSubstr("Optimization Done."));
  ASSERT_TRUE(fs::exists(dir + "/a/run_iter_10.caffemodel"));
  // Resumed in a new process from the iteration-5 snapshot, in a third directory: the
  // state's learned_net (run_iter_5.caffemodel) is found beside the .solverstate.
  const Result resumed = Fcntool(dir + "/b",
                                 "train --solver=../solver.prototxt "
                                 "--snapshot=../a/run_iter_5.solverstate");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("using ../a/run_iter_5.caffemodel beside"));
  ExpectSameParameters(dir + "/a/run_iter_10.caffemodel", dir + "/b/run_iter_10.caffemodel");
  const SolverState sa = ReadSolverStateFromBinaryFile(dir + "/a/run_iter_10.solverstate");
  const SolverState sb = ReadSolverStateFromBinaryFile(dir + "/b/run_iter_10.solverstate");
  EXPECT_EQ(sa.iter(), 10);
  EXPECT_EQ(sa.history_size(), 4);
  EXPECT_EQ(sa.SerializeAsString(), sb.SerializeAsString());
  const std::vector<std::string> want = LossLines(straight.output, 5);
  const std::vector<std::string> got = LossLines(resumed.output, 5);
  ASSERT_GE(want.size(), 20u);
  EXPECT_EQ(got, want);
  EXPECT_THAT(Join(want, "\n"), HasSubstr("Iteration 10, loss = "));
  EXPECT_THAT(Join(want, "\n"), HasSubstr("Iteration 5, Testing net (#0)"));
  // The uninterrupted run's display lines carry Caffe's text, then images/s and the ETA.
  EXPECT_TRUE(std::regex_search(
      straight.output,
      std::regex(
          R"(Iteration 7 \([0-9.e+-]+ iter/s, [0-9.e+-]+s/1 iters\), loss = [0-9.e+-]+ img/s=[0-9.e+-]+ eta=\d+:\d\d:\d\d)")))
      << straight.output;
  EXPECT_TRUE(std::regex_search(
      straight.output,
      std::regex(R"(    Train net output #0: loss = [0-9.e+-]+ \(\* 1 = [0-9.e+-]+ loss\))")));
  EXPECT_THAT(straight.output, HasSubstr("Iteration 6, lr = 0.025"));

  // fcntool test on the trained weights: per-batch lines, the loss and the means.
  const Result scored = Fcntool(dir,
                                "test --model=net.prototxt --weights=a/run_iter_10.caffemodel "
                                "--iterations=3");
  ASSERT_EQ(scored.exit_code, 0) << scored.output;
  std::smatch m;
  std::vector<double> batch_losses;
  std::string rest = scored.output;
  const std::regex batch(R"(Batch (\d), loss = ([0-9.e+-]+))");
  while (std::regex_search(rest, m, batch)) {
    batch_losses.push_back(std::stod(m[2]));
    rest = m.suffix();
  }
  ASSERT_EQ(batch_losses.size(), 3u) << scored.output;
  ASSERT_TRUE(std::regex_search(scored.output, m, std::regex(R"(Loss: ([0-9.e+-]+))")));
  const double mean = (batch_losses[0] + batch_losses[1] + batch_losses[2]) / 3;
  EXPECT_NEAR(std::stod(m[1]), mean, 1e-4 * mean);
  EXPECT_TRUE(std::regex_search(scored.output,
                                std::regex(R"(\] loss = [0-9.e+-]+ \(\* 1 = [0-9.e+-]+ loss\))")));
}

pid_t Spawn(const std::string& cwd, const std::vector<std::string>& args, const std::string& log) {
  return test::SpawnFcntool(cwd, args, log);
}

using test::WaitForText;

TEST(TrainTest, SighupSnapshotsAndSigintStopsWithALoadableSnapshot) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kRandomNet);
  // No snapshot_prefix: Caffe's rule makes it the solver path without its extension.
  WriteFile(dir + "/long.prototxt", SolverText("max_iter: 100000000\n"));
  const std::string log = dir + "/train.log";
  const pid_t pid = Spawn(dir, {"train", "--solver=long.prototxt"}, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitForText(log, "Iteration 3,", 60)) << ReadAll(log);
  kill(pid, SIGHUP);
  ASSERT_TRUE(WaitForText(log, "Snapshotting solver state", 60)) << ReadAll(log);
  // SIGINT only once training has moved past the iteration SIGHUP snapshotted: a stop in that
  // same iteration (say, during its test pass) has nothing new to write, so the solver writes
  // no second, identical snapshot, and the test would race against the solver.
  std::smatch hup;
  const std::string so_far = ReadAll(log);
  ASSERT_TRUE(std::regex_search(so_far, hup, std::regex(R"(long_iter_(\d+)\.solverstate)")))
      << so_far;
  const int hup_iter = std::stoi(hup[1]);
  ASSERT_TRUE(WaitForText(log, StrCat("Iteration ", hup_iter + 1, " ("), 60)) << ReadAll(log);
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string output = ReadAll(log);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_THAT(output, HasSubstr("Optimization stopped early."));
  // The last snapshot is the one written on stopping; it loads and resumes.
  std::smatch m;
  std::string last;
  std::string rest = output;
  const std::regex snap(R"(Snapshotting solver state to binary proto file (\S+))");
  int snapshots = 0;
  while (std::regex_search(rest, m, snap)) {
    last = m[1];
    rest = m.suffix();
    ++snapshots;
  }
  EXPECT_EQ(snapshots, 2) << output;
  EXPECT_EQ(last.rfind("long_iter_", 0), 0u) << last;
  const SolverState state = ReadSolverStateFromBinaryFile(dir + "/" + last);
  EXPECT_GT(state.iter(), 3);
  EXPECT_EQ(state.history_size(), 4);
  auto net = test::MakeNet(kRandomNet);
  net->CopyTrainedLayersFromFile(dir + "/" + state.learned_net());
}

TEST(TrainTest, BadInputIsAClearErrorWithExitTwoAndWritesNothing) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kRandomNet);
  fs::create_directories(dir + "/snaps");
  WriteFile(dir + "/solver.prototxt", SolverText("max_iter: 2\nsnapshot_prefix: \"snaps/x\"\n"));
  WriteFile(dir + "/missing_net.prototxt",
            "net: \"nowhere.prototxt\"\nbase_lr: 0.1\nlr_policy: \"fixed\"\nmax_iter: 1\n");
  WriteFile(dir + "/unwritable.prototxt",
            SolverText("max_iter: 2\nsnapshot: 1\nsnapshot_prefix: \"no/such/dir/x\"\n"));
  // Weights of another net: same structure, other layer names.
  std::string other = kRandomNet;
  for (const char* name : {"conv1", "score"}) {
    std::string quoted = StrCat("name: \"", name, "\"");
    other.replace(other.find(quoted), quoted.size(), StrCat("name: \"other_", name, "\""));
  }
  auto other_net = test::MakeNet(other);
  NetParameter other_weights;
  other_net->ToProto(&other_weights);
  WriteProtoToBinaryFile(other_weights, dir + "/other.caffemodel");
  // Same layer names, another shape.
  std::string wide = kRandomNet;
  wide.replace(wide.find("num_output: 4"), 13, "num_output: 6");
  NetParameter wide_weights;
  test::MakeNet(wide)->ToProto(&wide_weights);
  WriteProtoToBinaryFile(wide_weights, dir + "/wide.caffemodel");

  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"train --solver=missing_net.prototxt", "net \"nowhere.prototxt\" not found"},
      {"train --solver=solver.prototxt --snapshot=snaps/x_iter_7.solverstate",
       "--snapshot=snaps/x_iter_7.solverstate: no such file"},
      {"train --solver=solver.prototxt --weights=other.caffemodel",
       "these weights belong to another net"},
      {"train --solver=solver.prototxt --weights=wide.caffemodel",
       "cannot copy parameter 0 of layer \"conv1\": shape mismatch"},
      {"train --solver=unwritable.prototxt", "Cannot write to snapshot prefix 'no/such/dir/x'"},
      {"train --solver=solver.prototxt --weights=other.caffemodel --snapshot=a.solverstate",
       "but not both"},
      {"train --solver=solver.prototxt --sigint_effect=explode", "expected stop, snapshot or none"},
      {"train --solver=solver.prototxt --gpu=first", "expected a device id"},
      {"train", "--solver is required"},
      {"test --model=net.prototxt", "--weights is required"},
      {"test --model=net.prototxt --weights=other.caffemodel", "belong to another net"},
  };
  for (const Case& c : cases) {
    const Result r = Fcntool(dir, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_THAT(r.output, HasSubstr(c.expected)) << c.args;
  }
  EXPECT_TRUE(fs::is_empty(dir + "/snaps"));
}

}  // namespace
}  // namespace fcn
