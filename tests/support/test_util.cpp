// SPDX-License-Identifier: BSD-2-Clause
#include "support/test_util.h"

#include <fcntl.h>
#include <google/protobuf/text_format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "fcn/layer_registry.h"
#include "fcn/rng.h"

extern char** environ;

namespace fcn::test {

LayerParameter ParseLayerParam(const std::string& text) {
  LayerParameter param;
  param.set_phase(TRAIN);
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(text, &param)) << text;
  return param;
}

std::unique_ptr<Layer> MakeLayer(const std::string& text) {
  return LayerRegistry::Builtin().Create(ParseLayerParam(text));
}

std::unique_ptr<Net> MakeNet(const std::string& text) { return MakeNet(text, Options()); }

std::unique_ptr<Net> MakeNet(const std::string& text, const Options& options) {
  NetSource source;
  NetParameter param = ReadNetParamFromTextString(text, "test.prototxt", &source);
  return std::make_unique<Net>(param, options, &source);
}

void FillGaussian(Blob* blob, std::uint32_t seed, float mean, float std) {
  Rng rng(seed);
  float* d = blob->mutable_cpu_data();
  for (std::int64_t i = 0; i < blob->count(); ++i) d[i] = rng.Gaussian(mean, std);
}

void FillUniform(Blob* blob, std::uint32_t seed, float lo, float hi) {
  Rng rng(seed);
  float* d = blob->mutable_cpu_data();
  for (std::int64_t i = 0; i < blob->count(); ++i) d[i] = rng.Uniform(lo, hi);
}

std::unique_ptr<Blob> GaussianBlob(const std::vector<std::int64_t>& shape, std::uint32_t seed,
                                   float mean, float std) {
  auto blob = std::make_unique<Blob>(shape);
  FillGaussian(blob.get(), seed, mean, std);
  return blob;
}

std::unique_ptr<Blob> UniformBlob(const std::vector<std::int64_t>& shape, std::uint32_t seed,
                                  float lo, float hi) {
  auto blob = std::make_unique<Blob>(shape);
  FillUniform(blob.get(), seed, lo, hi);
  return blob;
}

std::vector<float> Data(const Blob& blob) {
  return std::vector<float>(blob.cpu_data(), blob.cpu_data() + blob.count());
}

std::vector<float> Diff(const Blob& blob) {
  return std::vector<float>(blob.cpu_diff(), blob.cpu_diff() + blob.count());
}

::testing::AssertionResult AllNear(const std::vector<float>& actual,
                                   const std::vector<float>& expected, float atol, float rtol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure()
           << "size " << actual.size() << " != expected size " << expected.size();
  }
  int bad = 0;
  ::testing::AssertionResult result = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const float tol = atol + rtol * std::fabs(expected[i]);
    if (!(std::fabs(actual[i] - expected[i]) <= tol)) {
      if (bad < 8)
        result << "\n  [" << i << "] actual " << actual[i] << " expected " << expected[i];
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return result << "\n  " << bad << " of " << actual.size() << " elements differ";
}

CommandResult RunShell(const std::string& command, const std::string& cwd) {
  const std::string line = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + command + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CommandResult RunFcntool(const std::string& args, const std::string& cwd) {
  return RunShell(std::string(FCNTOOL_PATH) + " " + args, cwd);
}

void SetValues(Blob* blob, const std::vector<float>& values, bool diff) {
  ASSERT_EQ(static_cast<std::size_t>(blob->count()), values.size()) << "values for a blob";
  std::copy(values.begin(), values.end(),
            diff ? blob->mutable_cpu_diff() : blob->mutable_cpu_data());
}

void SetDiff(Blob* blob, const std::vector<float>& values) { SetValues(blob, values, true); }

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  return WriteFile(dir + "/" + name, text);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int SpawnFcntool(const std::string& cwd, const std::vector<std::string>& args,
                 const std::string& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> all = {FCNTOOL_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string old_cwd = std::filesystem::current_path().string();
  std::filesystem::current_path(cwd);
  pid_t pid = -1;
  if (posix_spawn(&pid, FCNTOOL_PATH, &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  std::filesystem::current_path(old_cwd);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

bool WaitForText(const std::string& path, const std::string& text, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string SourceDir() { return FCN_SOURCE_DIR; }

std::string SharedDir() {
  const char* env = std::getenv("FCN_SHARED_DIR");
  std::filesystem::path dir = env ? env : std::filesystem::path(FCN_SOURCE_DIR) / ".." / "shared";
  if (std::filesystem::is_directory(dir)) return std::filesystem::canonical(dir).string();
  return "";
}

namespace {

// The directories TempDir() made, by the test that asked (null: outside any test, e.g. a
// suite's SetUpTestSuite), until TempDirCleanup removes them.
struct TempDirRegistry {
  std::mutex mutex;
  std::map<const ::testing::TestInfo*, std::vector<std::filesystem::path>> dirs;
};

TempDirRegistry& Registry() {
  static TempDirRegistry* registry = new TempDirRegistry;  // used until the program's end
  return *registry;
}

std::vector<std::filesystem::path> TakeDirs(const ::testing::TestInfo* test) {
  TempDirRegistry& r = Registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.dirs.find(test);
  if (it == r.dirs.end()) return {};
  std::vector<std::filesystem::path> dirs = std::move(it->second);
  r.dirs.erase(it);
  return dirs;
}

// Removes the directories when `passed` (and FCN_KEEP_TEST_DIRS is unset), otherwise keeps them
// for inspection and says where they are.
void Settle(const std::vector<std::filesystem::path>& dirs, bool passed, const std::string& who) {
  if (dirs.empty()) return;
  const char* keep = std::getenv("FCN_KEEP_TEST_DIRS");
  if (passed && (keep == nullptr || *keep == '\0' || std::string(keep) == "0")) {
    for (const std::filesystem::path& dir : dirs) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
    return;
  }
  std::string list;
  for (const std::filesystem::path& dir : dirs) list += "\n  " + dir.string();
  std::fprintf(stderr, "%s: kept its temporary %s:%s\n", who.c_str(),
               dirs.size() == 1 ? "directory" : "directories", list.c_str());
}

class TempDirCleanup : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override {
    Settle(TakeDirs(&info), !info.result()->Failed(),
           std::string(info.test_suite_name()) + "." + info.name() +
               (info.result()->Failed() ? " failed" : ""));
  }
  void OnTestProgramEnd(const ::testing::UnitTest& unit_test) override {
    TempDirRegistry& r = Registry();
    std::vector<std::filesystem::path> dirs;
    {
      std::lock_guard<std::mutex> lock(r.mutex);
      for (auto& entry : r.dirs) dirs.insert(dirs.end(), entry.second.begin(), entry.second.end());
      r.dirs.clear();
    }
    Settle(dirs, !unit_test.Failed(), unit_test.Failed() ? "the failed test program" : "");
  }
};

}  // namespace

void InstallTempDirCleanup() {
  ::testing::UnitTest::GetInstance()->listeners().Append(new TempDirCleanup);
}

std::string TempDir() {
  static std::atomic<int> counter{0};
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "fcn";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("fcn_test_" + std::to_string(getpid()) + "_" + name + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TempDirRegistry& r = Registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.dirs[info].push_back(dir);
  return dir.string();
}

}  // namespace fcn::test
