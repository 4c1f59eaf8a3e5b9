// SPDX-License-Identifier: BSD-2-Clause
// The device API where no device can run (every CI machine): no count, a reason, and clear
// errors (RuntimeError, never an abort) from whatever needs a device. In a CPU-only build the
// same holds with "built without CUDA" as the reason.
#include <gtest/gtest.h>

#include <string>

#include "fcn/common.h"
#include "fcn/exec_context.h"
#include "fcn/gpu.h"
#include "support/test_util.h"

namespace fcn {
namespace {

class NoDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (gpu::DeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present";
  }
};

TEST_F(NoDeviceTest, DeviceCountIsZeroAndSaysWhy) {
  std::string why;
  EXPECT_EQ(gpu::DeviceCount(&why), 0);
  if (gpu::Built()) {
    // cudaErrorInsufficientDriver where no driver is installed, cudaErrorNoDevice otherwise.
    EXPECT_NE(why.find("cudaGetDeviceCount"), std::string::npos) << why;
  } else {
    EXPECT_NE(why.find("without CUDA"), std::string::npos) << why;
    EXPECT_FALSE(gpu::CudnnBuilt());
  }
  // Asking twice gives the same answer (the runtime's sticky error is cleared).
  EXPECT_EQ(gpu::DeviceCount(), 0);
}

TEST_F(NoDeviceTest, ACudaContextIsARuntimeError) {
  EXPECT_THROW(ExecContext(Device::kCuda, 0), RuntimeError);
  EXPECT_THROW(gpu::SetDevice(0), RuntimeError);
  EXPECT_THROW(gpu::DeviceQuery(0), RuntimeError);
  EXPECT_THROW(gpu::ComputeCapability(0), RuntimeError);
}

TEST_F(NoDeviceTest, ANetOnACudaDeviceIsARuntimeErrorAndNetsStayOnTheCpu) {
  Options cuda;
  cuda.device = Device::kCuda;
  EXPECT_THROW(Net(NetParameter(), cuda), RuntimeError);
  EXPECT_EQ(Options().device, Device::kCpu);
  EXPECT_EQ(Net(NetParameter()).context().device(), Device::kCpu);
}

TEST_F(NoDeviceTest, FcntoolGpuFlagFailsCleanly) {
  // A CPU-only build rejects --gpu as bad configuration (2); a CUDA build without a device
  // fails at run time (1). Both name the reason.
  const auto query = test::RunFcntool("device_query --gpu=0");
  EXPECT_EQ(query.exit_code, gpu::Built() ? 1 : 2) << query.output;
  EXPECT_NE(query.output.find(gpu::Built() ? "no CUDA device" : "without CUDA"), std::string::npos)
      << query.output;
  const auto bad = test::RunFcntool("device_query --gpu=first");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  const std::string model = test::WriteFile(
      test::TempDir() + "/gpu_api_test.prototxt",
      "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 1 dim: "
      "4 dim: 4 } } }\n");
  const auto time = test::RunFcntool("time --model=" + model + " --iterations=1 --gpu=0");
  EXPECT_EQ(time.exit_code, gpu::Built() ? 1 : 2) << time.output;
  const auto several = test::RunFcntool("time --model=" + model + " --iterations=1 --gpu=0,1");
  EXPECT_EQ(several.exit_code, 2) << several.output;
}

}  // namespace
}  // namespace fcn
