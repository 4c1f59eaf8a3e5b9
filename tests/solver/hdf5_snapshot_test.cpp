// SPDX-License-Identifier: BSD-2-Clause
// snapshot_format: HDF5 — Caffe's .caffemodel.h5 / .solverstate.h5 layout (read back with
// h5py), weights loaded from .h5 files, and a resume from an HDF5 state in a new process
// that ends bit for bit where an uninterrupted run (and the binary-format run) ends.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "fcn/io.h"
#include "io/hdf5.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::WriteFile;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using Result = test::CommandResult;

Result RunIn(const std::string& cwd, const std::string& program, const std::string& args) {
  return test::RunShell(program + " " + args, cwd);
}

Result Fcntool(const std::string& cwd, const std::string& args) {
  return RunIn(cwd, FCNTOOL_PATH, args);
}

// Random data and Dropout draw from the global RNG every iteration.
const char* kNet = R"(name: "h5_net"
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

std::string Solver(const std::string& extra) {
  return StrCat(R"(net: "net.prototxt"
base_lr: 0.1
lr_policy: "multistep"
stepvalue: 3
stepvalue: 7
gamma: 0.5
momentum: 0.9
weight_decay: 0.001
display: 1
average_loss: 3
random_seed: 5
max_iter: 10
snapshot: 5
snapshot_prefix: "run"
)",
                extra);
}

// The log's iteration and net-output messages from `first_iter` on, timing removed.
std::vector<std::string> LossLines(const std::string& log, int first_iter) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  std::string line;
  int iter = -1;
  const std::regex iteration(R"(^Iteration (\d+))");
  const std::regex timing(R"( \([^)]*iters\)| img/s=.*$)");
  while (std::getline(in, line)) {
    const std::size_t pos = line.find("] ");
    if (pos == std::string::npos) continue;
    const std::string msg = line.substr(pos + 2);
    std::smatch m;
    if (std::regex_search(msg, m, iteration)) iter = std::stoi(m[1]);
    if (iter < first_iter) continue;
    if (msg.rfind("Iteration ", 0) == 0 || msg.find("net output #") != std::string::npos) {
      lines.push_back(std::regex_replace(msg, timing, ""));
    }
  }
  return lines;
}

std::vector<std::vector<float>> Params(const NetParameter& param) {
  std::vector<std::vector<float>> out;
  for (const LayerParameter& l : param.layer()) {
    for (const BlobProto& b : l.blobs()) out.emplace_back(b.data().begin(), b.data().end());
  }
  return out;
}

TEST(Hdf5SnapshotTest, ResumeFromAnHdf5StateIsBitForBitAndEqualsTheBinaryRun) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kNet);
  WriteFile(dir + "/h5.prototxt", Solver("snapshot_format: HDF5\n"));
  WriteFile(dir + "/bin.prototxt", Solver(""));
  for (const char* sub : {"a", "b", "c"}) fs::create_directories(dir + "/" + sub);
  const Result straight = Fcntool(dir + "/a", "train --solver=../h5.prototxt");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  EXPECT_THAT(straight.output, HasSubstr("Snapshotting to HDF5 file run_iter_5.caffemodel.h5"));
  EXPECT_THAT(straight.output,
              HasSubstr("Snapshotting solver state to HDF5 file run_iter_5.solverstate.h5"));
  for (const char* f : {"run_iter_5.caffemodel.h5", "run_iter_5.solverstate.h5",
                        "run_iter_10.caffemodel.h5", "run_iter_10.solverstate.h5"}) {
    EXPECT_TRUE(fs::exists(dir + "/a/" + f)) << f;
    EXPECT_TRUE(IsHdf5File(dir + "/a/" + f)) << f;
  }
  // A new process in another directory resumes from the HDF5 state; its learned_net
  // (run_iter_5.caffemodel.h5, relative to a/) is found beside the state.
  const Result resumed = Fcntool(
      dir + "/b", "train --solver=../h5.prototxt --snapshot=../a/run_iter_5.solverstate.h5");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr("using ../a/run_iter_5.caffemodel.h5 beside"));
  const NetParameter wa = ReadNetParamFromHdf5File(dir + "/a/run_iter_10.caffemodel.h5");
  const NetParameter wb = ReadNetParamFromHdf5File(dir + "/b/run_iter_10.caffemodel.h5");
  EXPECT_EQ(Params(wa), Params(wb));
  EXPECT_EQ(Params(wa).size(), 4u);
  const std::vector<std::string> want = LossLines(straight.output, 5);
  ASSERT_GE(want.size(), 10u);
  EXPECT_EQ(LossLines(resumed.output, 5), want);
  const SolverState sa = ReadSolverStateFromHdf5File(dir + "/a/run_iter_10.solverstate.h5");
  const SolverState sb = ReadSolverStateFromHdf5File(dir + "/b/run_iter_10.solverstate.h5");
  EXPECT_EQ(sa.SerializeAsString(), sb.SerializeAsString());
  EXPECT_EQ(sa.iter(), 10);
  EXPECT_EQ(sa.current_step(), 2);
  EXPECT_EQ(sa.learned_net(), "run_iter_10.caffemodel.h5");
  EXPECT_TRUE(sa.has_rng_state());

  // The binary-format run gives the same weights and history: the formats hold the same state.
  const Result binary = Fcntool(dir + "/c", "train --solver=../bin.prototxt");
  ASSERT_EQ(binary.exit_code, 0) << binary.output;
  const NetParameter wc = ReadNetParamFromBinaryFile(dir + "/c/run_iter_10.caffemodel");
  EXPECT_EQ(Params(wa), Params(wc));
  const SolverState sc = ReadSolverStateFromBinaryFile(dir + "/c/run_iter_10.solverstate");
  ASSERT_EQ(sa.history_size(), sc.history_size());
  for (int i = 0; i < sa.history_size(); ++i) {
    EXPECT_TRUE(std::equal(sa.history(i).data().begin(), sa.history(i).data().end(),
                           sc.history(i).data().begin(), sc.history(i).data().end()));
  }
  EXPECT_EQ(LossLines(binary.output, 0), LossLines(straight.output, 0));

  // .h5 weights load by signature: in a net, for fine-tuning, and in fcntool test.
  auto net = test::MakeNet(kNet);
  net->CopyTrainedLayersFromFile(dir + "/a/run_iter_10.caffemodel.h5");
  EXPECT_EQ(test::Data(*net->layer_by_name("score")->blobs()[0]), Params(wc)[2]);
  const Result scored = Fcntool(dir,
                                "test --model=net.prototxt "
                                "--weights=a/run_iter_10.caffemodel.h5 --iterations=2");
  EXPECT_EQ(scored.exit_code, 0) << scored.output;
  const Result tuned = Fcntool(dir + "/b",
                               "train --solver=../bin.prototxt "
                               "--weights=../a/run_iter_10.caffemodel.h5");
  EXPECT_EQ(tuned.exit_code, 0) << tuned.output;
}

// h5py (a second HDF5 reader) sees Caffe's layout: a /data group per layer (Split and
// parameterless layers included) with datasets 0, 1, ... shaped as the blobs; /diff with
// snapshot_diff; the state's scalar iter/current_step, the learned_net string, /history/i.
TEST(Hdf5SnapshotTest, H5pySeesCaffesGroupLayout) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kNet);
  WriteFile(dir + "/solver.prototxt", Solver("snapshot_format: HDF5\nsnapshot_diff: true\n"));
  const Result r = Fcntool(dir, "train --solver=solver.prototxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  WriteFile(dir + "/layout.py", R"(import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(lambda name, obj: print(name, obj.shape if isinstance(obj, h5py.Dataset) else "/"))
with h5py.File(sys.argv[2], "r") as s:
    print("iter", int(s["iter"][()]), "current_step", int(s["current_step"][()]))
    print("learned_net", s["learned_net"][()].decode())
    print("history", [s["history"][k].shape for k in sorted(s["history"])])
)");
  const Result py =
      RunIn(dir, FCN_PYTHON, "layout.py run_iter_10.caffemodel.h5 run_iter_10.solverstate.h5");
  ASSERT_EQ(py.exit_code, 0) << py.output;
  EXPECT_EQ(py.output, R"(data /
data/conv1 /
data/conv1/0 (4, 3, 3, 3)
data/conv1/1 (4,)
data/data /
data/drop1 /
data/label /
data/loss /
data/relu1 /
data/score /
data/score/0 (3, 4, 1, 1)
data/score/1 (3,)
diff /
diff/conv1 /
diff/conv1/0 (4, 3, 3, 3)
diff/conv1/1 (4,)
diff/data /
diff/drop1 /
diff/label /
diff/loss /
diff/relu1 /
diff/score /
diff/score/0 (3, 4, 1, 1)
diff/score/1 (3,)
iter 10 current_step 2
learned_net run_iter_10.caffemodel.h5
history [(4, 3, 3, 3), (4,), (3, 4, 1, 1), (3,)]
)");
}

TEST(Hdf5SnapshotTest, BadHdf5FilesAreClearErrors) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kNet);
  WriteFile(dir + "/solver.prototxt", Solver("snapshot_format: HDF5\n"));
  ASSERT_EQ(Fcntool(dir, "train --solver=solver.prototxt").exit_code, 0);
  // A state is not a model and a model is not a state; a truncated file is not HDF5.
  EXPECT_THAT(
      test::ConfigErrorOf([&] { ReadNetParamFromHdf5File(dir + "/run_iter_5.solverstate.h5"); }),
      HasSubstr("run_iter_5.solverstate.h5: has no /data group"));
  EXPECT_THAT(
      test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(dir + "/run_iter_5.caffemodel.h5"); }),
      HasSubstr("run_iter_5.caffemodel.h5: has no /iter"));
  std::string bytes = ReadFileToString(dir + "/run_iter_5.caffemodel.h5");
  WriteStringToFile(bytes.substr(0, bytes.size() / 3), dir + "/cut.caffemodel.h5");
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadWeightsFile(dir + "/cut.caffemodel.h5"); }),
              HasSubstr("cut.caffemodel.h5: not a readable HDF5 file"));
  const Result missing =
      Fcntool(dir, "train --solver=solver.prototxt --snapshot=nope.solverstate.h5");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("nope.solverstate.h5"));
  const Result wrong =
      Fcntool(dir, "train --solver=solver.prototxt --snapshot=run_iter_5.caffemodel.h5");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_THAT(wrong.output, HasSubstr("has no /iter"));
}

// Found by fuzz/fuzz_caffemodel: a dataset header may claim any shape, and the reader took
// memory for every claimed element (here 2^30 floats, 4 GiB) before reading. Now the claim is checked
// against the bytes the file stores, and a /iter of many values is refused, not read into one
// int.
TEST(Hdf5SnapshotTest, FuzzDatasetClaimingMoreThanItStoresIsAClearError) {
  const std::string dir = test::TempDir();
  WriteFile(dir + "/claims.py", R"(import h5py
with h5py.File("huge.caffemodel.h5", "w") as f:
    f.create_dataset("data/conv1/0", shape=(2**15, 2**15), dtype="f4")
with h5py.File("chunked.caffemodel.h5", "w") as f:
    f.create_dataset("data/conv1/0", shape=(2**14, 2**14), dtype="f4", chunks=(64, 64))
with h5py.File("overflow.caffemodel.h5", "w") as f:
    f.create_dataset("data/conv1/0", shape=(2**31, 2**31, 4), dtype="f4")
with h5py.File("iters.solverstate.h5", "w") as f:
    f["iter"] = list(range(100))
    f["current_step"] = 0
    f["learned_net"] = b"x.caffemodel.h5"
    f.create_group("history")
with h5py.File("small.caffemodel.h5", "w") as f:
    f["data/conv1/0"] = [[1.0, 2.0], [3.0, 4.0]]
)");
  const Result py = RunIn(dir, FCN_PYTHON, "claims.py");
  ASSERT_EQ(py.exit_code, 0) << py.output;
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadWeightsFile(dir + "/huge.caffemodel.h5"); }),
              HasSubstr("huge.caffemodel.h5: dataset /data/conv1/0 claims shape (32768 "
                        "32768) (1073741824 elements of 4 bytes) but stores 0 bytes"));
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadWeightsFile(dir + "/chunked.caffemodel.h5"); }),
              HasSubstr("chunked.caffemodel.h5: dataset /data/conv1/0 claims shape (16384 "
                        "16384)"));
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadWeightsFile(dir + "/overflow.caffemodel.h5"); }),
              HasSubstr("more elements than a blob can hold"));
  EXPECT_THAT(
      test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(dir + "/iters.solverstate.h5"); }),
      HasSubstr("iters.solverstate.h5: dataset /iter holds 100 values, not one"));
  // What a file does store is still read.
  const NetParameter small = ReadWeightsFile(dir + "/small.caffemodel.h5");
  ASSERT_EQ(small.layer_size(), 1);
  ASSERT_EQ(small.layer(0).blobs_size(), 1);
  EXPECT_EQ(small.layer(0).blobs(0).data_size(), 4);
  EXPECT_EQ(small.layer(0).blobs(0).data(3), 4.0f);
}

// fuzz_hdf5's find: a .solverstate.h5 whose damaged group B-tree makes libhdf5 1.10 read
// through a null pointer inside H5Gget_info (SIGSEGV). A child process reads the file first,
// so the damage is an error naming the file; this process survives and can read a good file.
// The pids of this process's children that run fcn-hdf5-check.
std::vector<long> CheckerPids() {
  std::vector<long> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    long ppid = 0;
    if (stat >> pid >> comm >> state >> ppid && ppid == getpid() && comm == "(fcn-hdf5-check)") {
      pids.push_back(std::stol(pid));
    }
  }
  return pids;
}

// The checker reads each file in a forked worker: a damaged file ends the worker, which the
// checker reports and replaces, and the checker itself (one child of this process) lives on,
// instead of being started again (0.5 s of CPU under AddressSanitizer) for every damaged file.
TEST(Hdf5SnapshotTest, ADamagedFileEndsOnlyTheCheckersWorker) {
  const std::string damaged = std::string(FCN_SOURCE_DIR) +
                              "/fuzz/findings/hdf5-crash-a8b35fe2e987590a0713dd5de1dbb89f54dc8ca4";
  const std::string dir = test::TempDir();
  SolverState good;
  good.set_iter(3);
  WriteSolverStateToHdf5File(good, dir + "/good.solverstate.h5");
  EXPECT_EQ(ReadSolverStateFromHdf5File(dir + "/good.solverstate.h5").iter(), 3);
  const std::vector<long> before = CheckerPids();
  ASSERT_EQ(before.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    const std::string message = test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(damaged); });
    EXPECT_THAT(message,
                ::testing::ContainsRegex("checking process: (signal (11|6)|exit status [1-9])"));
    EXPECT_EQ(CheckerPids(), before) << "the checker was started again after damaged file " << i;
  }
  EXPECT_EQ(ReadSolverStateFromHdf5File(dir + "/good.solverstate.h5").iter(), 3);
  EXPECT_EQ(CheckerPids(), before);
}

TEST(Hdf5SnapshotTest, FuzzDamagedGroupBTreeIsAClearErrorNotACrash) {
  const std::string damaged = std::string(FCN_SOURCE_DIR) +
                              "/fuzz/findings/hdf5-crash-a8b35fe2e987590a0713dd5de1dbb89f54dc8ca4";
  ASSERT_TRUE(std::filesystem::exists(damaged));
  const std::string message = test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(damaged); });
  EXPECT_THAT(message, HasSubstr(damaged + ": damaged HDF5 file: libhdf5 failed while reading"));
  // Killed by SIGSEGV; under a sanitizer that reports the fault itself, its exit or abort.
  EXPECT_THAT(message,
              ::testing::ContainsRegex("checking process: (signal (11|6)|exit status [1-9])"));
  // The process goes on, and reading a good file still works.
  const std::string dir = test::TempDir();
  SolverState good;
  good.set_iter(7);
  good.set_learned_net("w.caffemodel.h5");
  WriteSolverStateToHdf5File(good, dir + "/good.solverstate.h5");
  EXPECT_EQ(ReadSolverStateFromHdf5File(dir + "/good.solverstate.h5").iter(), 7);
  // The reads went through the persistent checker, started again after the crash: a child
  // of this process running fcn-hdf5-check.
  int checkers = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    long ppid = 0;
    if (stat >> pid >> comm >> state >> ppid && ppid == getpid() && comm == "(fcn-hdf5-check)") {
      ++checkers;
    }
  }
  EXPECT_EQ(checkers, 1);
  // Without the checker (FCN_HDF5_CHECK names a missing file) a forked child reads the file
  // instead, after a one-time warning: the same error, exit 2.
  WriteFile(dir + "/net.prototxt", kNet);
  WriteFile(dir + "/solver.prototxt", Solver(""));
  fs::copy_file(damaged, dir + "/damaged.solverstate.h5");
  for (const std::string env : {"", "FCN_HDF5_CHECK=/nonexistent/fcn-hdf5-check "}) {
    const Result r = RunIn(dir, env + FCNTOOL_PATH,
                           "train --solver=solver.prototxt --snapshot=damaged.solverstate.h5");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("damaged.solverstate.h5: damaged HDF5 file: libhdf5 failed"));
    EXPECT_EQ(r.output.find("fcn-hdf5-check not found") != std::string::npos, !env.empty())
        << r.output;
  }
}

// fuzz_solverstate's find (fuzz/findings/solverstate-oom-b7031adc...): a .solverstate.h5
// whose /history/0 claims shape (4 50331648 3 3), 7 GiB of floats, within what the reader's
// storage check allows. The reader took the memory before anything compared the blob with the
// net. Now each history blob's element count is checked against the net's parameter first:
// an error naming the file and the dataset, and no memory taken (this process's peak RSS
// stays where it was).
TEST(Hdf5SnapshotTest, FuzzHugeHistoryBlobIsRefusedBeforeAllocating) {
  const std::string finding =
      std::string(FCN_SOURCE_DIR) +
      "/fuzz/findings/solverstate-oom-b7031adc7806ac20ccd5606ecf43b58cb2286255";
  ASSERT_TRUE(fs::exists(finding));
  // The fuzz targets' small net (fuzz/fuzz_util.cpp): 9 learnable blobs.
  const std::vector<std::int64_t> counts = {108, 4, 8, 2, 32, 2, 2, 256, 2};
  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  EXPECT_THAT(
      test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(finding, &counts); }),
      HasSubstr(finding + ": dataset /history/0 claims shape (4 50331648 3 3) (1811939328 "
                          "elements), but the net's learnable parameter it belongs to has 108 "
                          "elements"));
  const std::vector<std::int64_t> fewer(counts.begin(), counts.end() - 1);
  EXPECT_THAT(test::ConfigErrorOf([&] { ReadSolverStateFromHdf5File(finding, &fewer); }),
              HasSubstr(finding + ": /history holds 9 blobs, but the net has 8 learnable"));
  struct rusage after {};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024) << "KiB taken by the refused read";

  // Through fcntool: a resume whose state claims a huge history blob exits 2 naming the
  // file and the blob, in the HDF5 and in the binary format.
  const std::string dir = test::TempDir();
  WriteFile(dir + "/net.prototxt", kNet);
  WriteFile(dir + "/solver.prototxt", Solver("snapshot_format: HDF5\n"));
  ASSERT_EQ(Fcntool(dir, "train --solver=solver.prototxt").exit_code, 0);
  WriteFile(dir + "/huge.py", R"(import h5py
with h5py.File("run_iter_5.solverstate.h5", "a") as f:
    del f["history/0"]
    f.create_dataset("history/0", shape=(4, 50331648, 3, 3), dtype="f4", chunks=(1, 4096, 3, 3))
)");
  const Result py = RunIn(dir, FCN_PYTHON, "huge.py");
  ASSERT_EQ(py.exit_code, 0) << py.output;
  const Result h5 =
      Fcntool(dir, "train --solver=solver.prototxt --snapshot=run_iter_5.solverstate.h5");
  EXPECT_EQ(h5.exit_code, 2) << h5.output;
  EXPECT_THAT(h5.output, HasSubstr("run_iter_5.solverstate.h5: dataset /history/0 claims shape "
                                   "(4 50331648 3 3)"));
  SolverState binary;
  BlobProto* huge = binary.add_history();
  for (int d : {4, 50331648, 3, 3}) huge->mutable_shape()->add_dim(d);
  for (int i = 0; i < 3; ++i) binary.add_history();  // conv1 and score: 4 blobs
  binary.set_iter(5);
  WriteProtoToBinaryFile(binary, dir + "/huge.solverstate");
  const Result bin = Fcntool(dir, "train --solver=solver.prototxt --snapshot=huge.solverstate");
  EXPECT_EQ(bin.exit_code, 2) << bin.output;
  EXPECT_THAT(bin.output, HasSubstr("huge.solverstate: history blob 0 has shape"));
}

}  // namespace
}  // namespace fcn
