// SPDX-License-Identifier: BSD-2-Clause
#include <glog/logging.h>
#include <gtest/gtest.h>

#include "support/test_util.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  fcn::test::InstallTempDirCleanup();
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 1;
  return RUN_ALL_TESTS();
}
