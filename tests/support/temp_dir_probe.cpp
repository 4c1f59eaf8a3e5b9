// SPDX-License-Identifier: BSD-2-Clause
// A test program that temp_dir_test runs (it is not registered with ctest): it makes temporary
// directories with TempDir() in a suite's set-up and in two tests, and writes what it made, one
// "<what> <path>" line each, to $FCN_TEMP_DIR_PROBE_OUT. With FCN_TEMP_DIR_PROBE_FAIL=1 the
// second test fails.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_util.h"

namespace fcn::test {
namespace {

void Record(const std::string& what, const std::string& path) {
  const char* out = std::getenv("FCN_TEMP_DIR_PROBE_OUT");
  ASSERT_NE(out, nullptr) << "FCN_TEMP_DIR_PROBE_OUT is not set";
  std::ofstream(out, std::ios::app) << what << " " << path << "\n";
}

class Probe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = new std::string(TempDir());
    first_dir_ = new std::string;
    Record("suite", *suite_dir_);
  }
  static std::string* suite_dir_;
  static std::string* first_dir_;
};
std::string* Probe::suite_dir_ = nullptr;
std::string* Probe::first_dir_ = nullptr;

TEST_F(Probe, First) {
  *first_dir_ = TempDir();
  WriteFile(*first_dir_, "file", "contents");
  Record("first", *first_dir_);
}

TEST_F(Probe, Second) {
  // The suite's directory outlives its tests; the first test's went when it passed.
  EXPECT_TRUE(std::filesystem::is_directory(*suite_dir_));
  if (!std::filesystem::exists(*first_dir_)) Record("first_gone_by_second", *first_dir_);
  const std::string dir = TempDir();
  WriteFile(dir, "file", "contents");
  Record("second", dir);
  const char* fail = std::getenv("FCN_TEMP_DIR_PROBE_FAIL");
  if (fail != nullptr && std::string(fail) == "1") ADD_FAILURE() << "failing on purpose";
}

}  // namespace
}  // namespace fcn::test
