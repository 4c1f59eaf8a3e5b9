// SPDX-License-Identifier: BSD-2-Clause
// A snapshot write that fails part-way (a real failure: the file-size limit RLIMIT_FSIZE,
// which makes write() fail with EFBIG as a full disk fails with ENOSPC, or kills the process
// with SIGXFSZ) leaves the previous snapshot files exactly as they were, loadable, and (when
// the process survives to clean up) no temporary files.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "fcn/io.h"
#include "io/hdf5.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int exit_code = -1;
  std::string output;
};

// Runs fcntool in `cwd` with the file-size limit `limit` (bytes); SIGXFSZ ignored (so the
// write fails with EFBIG) or left to kill the process.
Result RunLimited(const std::string& cwd, std::vector<std::string> args, rlim_t limit,
                  bool ignore_sigxfsz) {
  std::string program = FCNTOOL_PATH;
  std::vector<char*> argv = {program.data()};
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  Result r;
  if (pipe(fds) != 0) return r;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    const struct rlimit rl = {limit, limit};
    if (chdir(cwd.c_str()) != 0 || setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(127);
    signal(SIGXFSZ, ignore_sigxfsz ? SIG_IGN : SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0)
    r.output.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

Result Run(const std::string& cwd, const std::vector<std::string>& args) {
  return RunLimited(cwd, args, RLIM_INFINITY, false);
}

const char* kNet = R"(name: "net"
layer { name: "data" type: "DummyData" top: "data"
        dummy_data_param { shape { dim: 2 dim: 3 dim: 6 dim: 6 }
                           data_filler { type: "gaussian" std: 1 } } }
layer { name: "label" type: "DummyData" top: "label"
        dummy_data_param { shape { dim: 2 dim: 1 dim: 6 dim: 6 }
                           data_filler { type: "constant" value: 1 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 16 kernel_size: 3 pad: 1
                            weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "score" type: "Convolution" bottom: "conv1" top: "score"
        convolution_param { num_output: 3 kernel_size: 1
                            weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" top: "loss" }
)";

// Every file in `dir` with its bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    // <prefix>.lock holds the pid of the run that last trained on the prefix: not a snapshot.
    if (entry.path().extension() == ".lock") continue;
    files[entry.path().filename().string()] = ReadFileToString(entry.path().string());
  }
  return files;
}

void Setup(const std::string& dir, const std::string& format) {
  std::ofstream(dir + "/net.prototxt") << kNet;
  std::ofstream(dir + "/solver.prototxt")
      << "net: \"net.prototxt\"\nbase_lr: 0.1\nlr_policy: \"fixed\"\nmomentum: 0.9\n"
         "max_iter: 10\nsnapshot: 5\nsnapshot_prefix: \"run\"\nrandom_seed: 3\n"
      << format;
}

// The binary and HDF5 snapshot files of iteration `iter`.
std::vector<std::string> Files(int iter, bool hdf5) {
  const std::string base = StrCat("run_iter_", iter);
  return hdf5 ? std::vector<std::string>{base + ".caffemodel.h5", base + ".solverstate.h5"}
              : std::vector<std::string>{base + ".caffemodel", base + ".solverstate"};
}

void CheckFailedWriteKeepsSnapshots(bool hdf5) {
  const std::string dir = test::TempDir();
  Setup(dir, hdf5 ? "snapshot_format: HDF5\n" : "");
  const Result full = Run(dir, {"train", "--solver=solver.prototxt"});
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const std::map<std::string, std::string> before = Snapshot(dir);
  for (int iter : {5, 10}) {
    for (const std::string& f : Files(iter, hdf5)) ASSERT_TRUE(before.count(f)) << f;
  }
  const std::string resume = "--snapshot=" + Files(5, hdf5)[1];

  // Resuming at iteration 5 rewrites the iteration-10 files, under a 512-byte limit: the
  // write fails with EFBIG, the run ends with exit 1, and everything on disk is unchanged.
  const Result failed = RunLimited(dir, {"train", "--solver=solver.prototxt", resume}, 512, true);
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_THAT(failed.output, HasSubstr(Files(10, hdf5)[0]));
  EXPECT_THAT(failed.output, HasSubstr("File too large"));
  EXPECT_EQ(Snapshot(dir), before) << "a failed write changed or left files";

  // Killed by SIGXFSZ in the middle of the write: the snapshot files are still the old ones
  // (a stale hidden temporary file may remain, as after any crash).
  const Result killed = RunLimited(dir, {"train", "--solver=solver.prototxt", resume}, 512, false);
  EXPECT_EQ(killed.exit_code, 128 + SIGXFSZ) << killed.output;
  std::map<std::string, std::string> after = Snapshot(dir);
  for (auto it = after.begin(); it != after.end();) {
    it = it->first.find(".tmp.") != std::string::npos ? after.erase(it) : std::next(it);
  }
  EXPECT_EQ(after, before);

  // The previous snapshot loads and resumes to the same result as before.
  auto net = test::MakeNet(kNet);
  net->CopyTrainedLayersFromFile(dir + "/" + Files(5, hdf5)[0]);
  const SolverState state = hdf5 ? ReadSolverStateFromHdf5File(dir + "/" + Files(5, hdf5)[1])
                                 : ReadSolverStateFromBinaryFile(dir + "/" + Files(5, hdf5)[1]);
  EXPECT_EQ(state.iter(), 5);
  const Result again = Run(dir, {"train", "--solver=solver.prototxt", resume});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::map<std::string, std::string> resumed = Snapshot(dir);
  if (hdf5) {
    // HDF5 records object times, so the values are compared rather than the bytes.
    const std::string copy = dir + "/before.caffemodel.h5";
    WriteStringToFile(before.at(Files(10, true)[0]), copy);
    EXPECT_EQ(ReadNetParamFromHdf5File(dir + "/" + Files(10, true)[0]).SerializeAsString(),
              ReadNetParamFromHdf5File(copy).SerializeAsString());
  } else {
    for (const std::string& f : Files(10, false)) EXPECT_EQ(resumed.at(f), before.at(f)) << f;
  }
}

TEST(SnapshotInterruptTest, AFailedBinarySnapshotWriteLeavesThePreviousSnapshotIntact) {
  CheckFailedWriteKeepsSnapshots(false);
}

TEST(SnapshotInterruptTest, AFailedHdf5SnapshotWriteLeavesThePreviousSnapshotIntact) {
  CheckFailedWriteKeepsSnapshots(true);
}

}  // namespace
}  // namespace fcn
