// SPDX-License-Identifier: BSD-2-Clause
// TempDir()'s directories are removed when their test passes and kept when it fails. Before,
// nothing removed them: one machine held 7,887 of them (23 GB) in /tmp. The probe program
// (temp_dir_probe.cpp) makes them; these tests run it and look at what is left.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "support/test_util.h"

namespace fcn::test {
namespace {

struct ProbeRun {
  CommandResult result;
  std::map<std::string, std::string> dirs;  // what -> path
};

ProbeRun RunProbe(const std::string& env) {
  const std::string out = TempDir() + "/made.txt";
  ProbeRun run;
  run.result = RunShell("FCN_TEMP_DIR_PROBE_OUT=" + out + " " + env + " " TEMP_DIR_PROBE_PATH);
  std::istringstream lines(ReadFile(out));
  std::string what, path;
  while (lines >> what >> path) run.dirs[what] = path;
  return run;
}

void RemoveAll(const ProbeRun& run) {
  for (const auto& entry : run.dirs) std::filesystem::remove_all(entry.second);
}

TEST(TempDirCleanup, PassingTestsLeaveNothingBehind) {
  const ProbeRun run = RunProbe("FCN_KEEP_TEST_DIRS=");
  EXPECT_EQ(run.result.exit_code, 0) << run.result.output;
  ASSERT_EQ(run.dirs.size(), 4u) << run.result.output;
  // Each test's directory goes when the test ends, the suite's when the program does.
  EXPECT_EQ(run.dirs.at("first_gone_by_second"), run.dirs.at("first"));
  for (const char* what : {"suite", "first", "second"}) {
    EXPECT_FALSE(std::filesystem::exists(run.dirs.at(what))) << what << " " << run.dirs.at(what);
  }
  EXPECT_EQ(run.result.output.find("kept its temporary"), std::string::npos) << run.result.output;
  RemoveAll(run);
}

TEST(TempDirCleanup, AFailedTestKeepsItsDirectoryAndSaysWhere) {
  const ProbeRun run = RunProbe("FCN_KEEP_TEST_DIRS= FCN_TEMP_DIR_PROBE_FAIL=1");
  EXPECT_EQ(run.result.exit_code, 1) << run.result.output;
  ASSERT_EQ(run.dirs.size(), 4u) << run.result.output;
  EXPECT_FALSE(std::filesystem::exists(run.dirs.at("first")));  // that test passed
  EXPECT_TRUE(std::filesystem::exists(run.dirs.at("second") + "/file"));
  EXPECT_TRUE(std::filesystem::is_directory(run.dirs.at("suite")));
  EXPECT_NE(run.result.output.find("Probe.Second failed: kept its temporary directory:\n  " +
                                   run.dirs.at("second")),
            std::string::npos)
      << run.result.output;
  EXPECT_NE(run.result.output.find(run.dirs.at("suite")), std::string::npos) << run.result.output;
  RemoveAll(run);
}

TEST(TempDirCleanup, KeepTestDirsKeepsEverything) {
  const ProbeRun run = RunProbe("FCN_KEEP_TEST_DIRS=1");
  EXPECT_EQ(run.result.exit_code, 0) << run.result.output;
  ASSERT_EQ(run.dirs.size(), 3u) << run.result.output;
  for (const char* what : {"suite", "first", "second"}) {
    EXPECT_TRUE(std::filesystem::is_directory(run.dirs.at(what))) << what;
  }
  RemoveAll(run);
}

}  // namespace
}  // namespace fcn::test
