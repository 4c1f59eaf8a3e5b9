// SPDX-License-Identifier: BSD-2-Clause
// fcntool's edge (tools/fcntool/tool_options.h): flags, with the environment variables as
// their defaults, become the Options that every net of the run is built with.
#include "tools/fcntool/tool_options.h"

#include <gflags/gflags.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "fcn/net.h"
#include "support/test_util.h"

DECLARE_string(engine);
DECLARE_bool(dnnl_keep_layouts);
DECLARE_int64(cudnn_workspace_mb);
DECLARE_bool(cudnn_deterministic);
DECLARE_int32(threads);

namespace fcn::tool {
namespace {

using ::testing::HasSubstr;

// A fake environment, and every flag back at its default (as on a command line without it).
class ToolOptionsTest : public ::testing::Test {
 protected:
  void SetFlag(const char* name, const std::string& value) {
    ASSERT_FALSE(gflags::SetCommandLineOption(name, value.c_str()).empty()) << name;
  }
  EnvLookup Env() const {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  std::map<std::string, std::string> env_;
  gflags::FlagSaver saver_;  // restores every flag (and its "not given" state) after the test
};

TEST_F(ToolOptionsTest, NothingSetGivesTheLibraryDefaults) {
  const Options options = OptionsFromFlags(Env());
  const Options defaults;
  EXPECT_EQ(options.conv_engine, defaults.conv_engine);
  EXPECT_EQ(options.dnnl_keep_layouts, defaults.dnnl_keep_layouts);
  EXPECT_EQ(options.cudnn_workspace_limit_bytes, std::size_t{1024} << 20);
  EXPECT_EQ(options.dnnl_inference_scratch_limit_bytes, std::size_t{16} << 20);
  EXPECT_EQ(options.dnnl_inference_scratch_limit_bytes,
            defaults.dnnl_inference_scratch_limit_bytes);
  EXPECT_EQ(options.cudnn_deterministic, defaults.cudnn_deterministic);
  EXPECT_EQ(options.device, Device::kCpu);
}

TEST_F(ToolOptionsTest, EnvironmentVariablesAreTheDefaults) {
  env_ = {{"FCN_CONV_ENGINE", "caffe"},
          {"FCN_DNNL_KEEP_LAYOUTS", "0"},
          {"FCN_CUDNN_WORKSPACE_MB", "64"},
          {"FCN_DNNL_SCRATCH_MB", "300"},
          {"FCN_CUDNN_DETERMINISTIC", "1"}};
  const Options options = OptionsFromFlags(Env());
  EXPECT_EQ(options.dnnl_inference_scratch_limit_bytes, std::size_t{300} << 20);
  EXPECT_EQ(options.conv_engine, ConvEngine::kCaffe);
  EXPECT_FALSE(options.dnnl_keep_layouts);
  EXPECT_EQ(options.cudnn_workspace_limit_bytes, std::size_t{64} << 20);
  EXPECT_TRUE(options.cudnn_deterministic);
}

TEST_F(ToolOptionsTest, FlagsOverrideTheEnvironment) {
  env_ = {{"FCN_CONV_ENGINE", "CAFFE"},
          {"FCN_DNNL_KEEP_LAYOUTS", "0"},
          {"FCN_CUDNN_WORKSPACE_MB", "64"},
          {"FCN_DNNL_SCRATCH_MB", "300"},
          {"FCN_CUDNN_DETERMINISTIC", "1"}};
  SetFlag("engine", "DNNL_WINOGRAD");
  SetFlag("dnnl_scratch_mb", "0");
  SetFlag("dnnl_keep_layouts", "true");
  SetFlag("cudnn_workspace_mb", "0");
  SetFlag("cudnn_deterministic", "false");
  const Options options = OptionsFromFlags(Env());
  EXPECT_EQ(options.conv_engine, ConvEngine::kDnnlWinograd);
  EXPECT_TRUE(options.dnnl_keep_layouts);
  EXPECT_EQ(options.cudnn_workspace_limit_bytes, 0u);
  EXPECT_EQ(options.dnnl_inference_scratch_limit_bytes, 0u);
  EXPECT_FALSE(options.cudnn_deterministic);
}

TEST_F(ToolOptionsTest, EveryEngineNameParses) {
  const std::map<std::string, ConvEngine> names = {{"DEFAULT", ConvEngine::kDefault},
                                                   {"CAFFE", ConvEngine::kCaffe},
                                                   {"DNNL", ConvEngine::kDnnl},
                                                   {"dnnl_winograd", ConvEngine::kDnnlWinograd}};
  for (const auto& [name, engine] : names) {
    SetFlag("engine", name);
    EXPECT_EQ(OptionsFromFlags(Env()).conv_engine, engine) << name;
  }
}

TEST_F(ToolOptionsTest, BadValuesNameTheFlagOrVariable) {
  env_ = {{"FCN_CONV_ENGINE", "cudnn2"}};
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("FCN_CONV_ENGINE=cudnn2: expected CAFFE, DNNL, DNNL_WINOGRAD or DEFAULT"));
  env_ = {{"FCN_CUDNN_WORKSPACE_MB", "1.5"}};
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("FCN_CUDNN_WORKSPACE_MB=1.5: expected a whole number of MiB (0 or more)"));
  env_ = {{"FCN_DNNL_SCRATCH_MB", "-3"}};
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("FCN_DNNL_SCRATCH_MB=-3: expected a whole number of MiB (0 or more)"));
  env_ = {{"FCN_CUDNN_DETERMINISTIC", "yes"}};
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("FCN_CUDNN_DETERMINISTIC=yes: expected 1 or 0"));
  env_.clear();
  SetFlag("engine", "fast");
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("--engine=fast: expected CAFFE, DNNL, DNNL_WINOGRAD or DEFAULT"));
  SetFlag("engine", "");
  SetFlag("cudnn_workspace_mb", "-1");
  EXPECT_THAT(test::ConfigErrorOf([&] { OptionsFromFlags(Env()); }),
              HasSubstr("--cudnn_workspace_mb=-1: expected a whole number of MiB (0 or more)"));
}

TEST_F(ToolOptionsTest, ThreadsComeFromTheFlagThenTheEnvironmentInOrder) {
  EXPECT_EQ(ThreadsFromFlags(Env()), 0);  // SetNumThreads(0): every core
  env_ = {{"OPENBLAS_NUM_THREADS", "3"}};
  EXPECT_EQ(ThreadsFromFlags(Env()), 3);
  env_["OMP_NUM_THREADS"] = "5";
  EXPECT_EQ(ThreadsFromFlags(Env()), 5);
  env_["FCN_NUM_THREADS"] = "x";  // not a positive integer: ignored
  EXPECT_EQ(ThreadsFromFlags(Env()), 5);
  env_["FCN_NUM_THREADS"] = "2";
  EXPECT_EQ(ThreadsFromFlags(Env()), 2);
  SetFlag("threads", "7");
  EXPECT_EQ(ThreadsFromFlags(Env()), 7);
}

TEST_F(ToolOptionsTest, TheFilledOptionsLandInEveryLayerOfTheNet) {
  env_ = {{"FCN_DNNL_KEEP_LAYOUTS", "0"}, {"FCN_CUDNN_WORKSPACE_MB", "8"}};
  SetFlag("engine", "CAFFE");
  const Options options = OptionsFromFlags(Env());
  auto net = test::MakeNet(R"(
    layer { name: "x" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }
    layer { name: "conv" type: "Convolution" bottom: "x" top: "y"
            convolution_param { num_output: 2 kernel_size: 3 } })",
                           options);
  EXPECT_EQ(net->options().conv_engine, ConvEngine::kCaffe);
  for (const auto& layer : net->layers()) {
    EXPECT_EQ(layer->options().conv_engine, ConvEngine::kCaffe) << layer->name();
    EXPECT_FALSE(layer->options().dnnl_keep_layouts) << layer->name();
    EXPECT_EQ(layer->options().cudnn_workspace_limit_bytes, std::size_t{8} << 20) << layer->name();
  }
}

}  // namespace
}  // namespace fcn::tool
