// SPDX-License-Identifier: BSD-2-Clause
// fcntool time (caffe time's lines, backward of a deploy net) and fcntool draw (valid dot
// with layer and blob names and shapes), run as a user runs them.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/test_util.h"

namespace fcn {
namespace {

using test::WriteFile;

using ::testing::HasSubstr;
using ::testing::Not;

using Result = test::CommandResult;

Result Shell(const std::string& command) { return test::RunShell(command); }

Result Fcntool(const std::string& args) { return test::RunFcntool(args); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A deploy net (no loss) with an in-place ReLU, a Deconvolution without bias and a Crop.
// conv1 is frozen (lr_mult 0) and large enough that its backward pass takes measurable time.
const char* kDeployNet = R"(name: "tiny_fcn"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 16 dim: 64 dim: 64 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        param { lr_mult: 0 } param { lr_mult: 0 }
        convolution_param { num_output: 32 kernel_size: 3 pad: 1 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "score" type: "Convolution" bottom: "pool1" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 } }
layer { name: "up" type: "Deconvolution" bottom: "score" top: "up"
        param { lr_mult: 0 }
        convolution_param { num_output: 3 kernel_size: 4 stride: 2 bias_term: false } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "data" top: "out" crop_param { offset: 1 } }
)";

// The value X of the first log line containing `prefix` followed by "X ms.", or -1.
double Millis(const std::string& output, const std::string& prefix) {
  const std::size_t at = output.find(prefix);
  if (at == std::string::npos) return -1;
  const std::string rest = output.substr(at + prefix.size());
  std::smatch m;
  if (!std::regex_search(rest, m, std::regex(R"(^\s*([0-9.eE+-]+) ms\.)"))) return -1;
  return std::stod(m[1]);
}

TEST(TimeCommandTest, PrintsCaffeTimeLinesWithPlausibleFigures) {
  const std::string model = WriteFile(test::TempDir(), "deploy.prototxt", kDeployNet);
  const Result r = Fcntool("time --model=" + model + " --iterations=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Testing for 3 iterations."));
  for (const char* line : {"Iteration: 1 forward-backward time: ",
                           "Iteration: 3 forward-backward time: ", "Average time per layer:"}) {
    EXPECT_THAT(r.output, HasSubstr(line));
  }
  EXPECT_THAT(r.output, Not(HasSubstr("Iteration: 4 ")));
  const double forward = Millis(r.output, "Average Forward pass:");
  const double backward = Millis(r.output, "Average Backward pass:");
  const double both = Millis(r.output, "Average Forward-Backward:");
  const double total = Millis(r.output, "Total Time:");
  EXPECT_GT(forward, 0.0) << r.output;
  EXPECT_GT(backward, 0.0) << r.output;
  // An iteration's time holds both passes (up to the rounding of the printed figures, which
  // made an exact comparison fail when the loop's own overhead was below it); the total is
  // three iterations.
  EXPECT_GE(both, (forward + backward) * (1 - 1e-4) - 1e-3) << r.output;
  EXPECT_NEAR(total, 3 * both, 0.01 * total + 0.01) << r.output;
  // Every layer, the Split-free names as written, has both lines.
  for (const char* layer : {"input", "conv1", "relu1", "pool1", "score", "up", "crop"}) {
    EXPECT_GE(Millis(r.output, std::string(layer) + "\tforward:"), 0.0) << layer;
    EXPECT_GE(Millis(r.output, std::string(layer) + "\tbackward:"), 0.0) << layer;
  }
  // The per-layer forward times are parts of the forward pass.
  double layer_sum = 0;
  for (const char* layer : {"input", "conv1", "relu1", "pool1", "score", "up", "crop"}) {
    layer_sum += Millis(r.output, std::string(layer) + "\tforward:");
  }
  EXPECT_LE(layer_sum, forward * 1.001 + 0.001) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Peak RSS: "));
  EXPECT_THAT(r.output, HasSubstr("*** Benchmark ends ***"));
  // After Caffe's lines, a table with the algorithm of each layer: the 3x3 conv1 runs oneDNN's
  // Winograd where this CPU has it (its engine line says which), the others direct; layers
  // without an engine show "-".
  const std::size_t table = r.output.find("Per-layer table: layer, forward ms, backward ms, algo");
  ASSERT_NE(table, std::string::npos) << r.output;
  EXPECT_GT(table, r.output.find("*** Benchmark ends ***"));
  const std::string rows = r.output.substr(table);
  auto algo = [&](const std::string& layer) {
    std::smatch m;
    const std::regex row("\\] " + layer + " +[0-9.]+ +[0-9.]+  (\\S+)\n");
    return std::regex_search(rows, m, row) ? m[1].str() : std::string("(no row)");
  };
  if (r.output.find("conv1 engine: DNNL") != std::string::npos) {
    const bool winograd = r.output.find("conv1 engine: DNNL (winograd") != std::string::npos;
    EXPECT_EQ(algo("conv1"), winograd ? "winograd" : "direct") << rows;
    EXPECT_EQ(algo("score"), "direct") << rows;
    EXPECT_EQ(algo("up"), "direct") << rows;
  } else {
    EXPECT_EQ(algo("conv1"), "im2col") << rows;
  }
  EXPECT_EQ(algo("relu1"), "-") << rows;
}

TEST(TimeCommandTest, BackwardRunsOnADeployNetWithoutALoss) {
  // Without force_backward nothing of this net would need a gradient (no loss; conv1 and up
  // are frozen) and conv1's backward would take no time at all; with it, conv1 computes its
  // weight diff and the data diff (about twice its forward work).
  const std::string model = WriteFile(test::TempDir(), "deploy.prototxt", kDeployNet);
  const Result r = Fcntool("time --model=" + model + " --iterations=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // force_backward makes every layer, the frozen ones included, compute its backward pass.
  for (const char* layer : {"conv1", "relu1", "pool1", "score", "up", "crop"}) {
    EXPECT_THAT(r.output, HasSubstr(std::string(layer) + " needs backward computation.")) << layer;
  }
  EXPECT_THAT(r.output, Not(HasSubstr("does not need backward computation"))) << r.output;
  EXPECT_GE(Millis(r.output, "conv1\tbackward:"), 0.0) << r.output;
}

TEST(TimeCommandTest, InputShapeAndBadInput) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(dir, "deploy.prototxt", kDeployNet);
  Result r = Fcntool("time --model=" + model + " --iterations=1 --input_shape=1,16,20,24");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Average Forward-Backward: "));
  EXPECT_EQ(Fcntool("time --model=" + model + " --iterations=0").exit_code, 2);
  EXPECT_EQ(Fcntool("time --model=" + model + " --input_shape=1,x").exit_code, 2);
  r = Fcntool("time --model=" + WriteFile(dir, "bad.prototxt", "layer { name: \"x\" typo: 1 }\n"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("bad.prototxt:1:"));
  r = Fcntool("time --model=" + dir + "/missing.prototxt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("missing.prototxt"));
}

// --peak: the FMA peak lines after Caffe's, and each convolution's GFLOP/s (its flops over its
// printed ms) and share of that peak in the per-layer table.
TEST(TimeCommandTest, PeakAddsGflopsAndSharesOfTheMeasuredPeak) {
  const std::string model = WriteFile(test::TempDir(), "deploy.prototxt", kDeployNet);
  const Result r = Fcntool("time --model=" + model + " --iterations=2 --threads=1 --peak");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  if (!std::regex_search(
          r.output, m,
          std::regex(R"(FMA peak, fp32: ([0-9.]+) GFLOP/s on 1 threads \((avx512f|avx2) )"))) {
    EXPECT_THAT(r.output, HasSubstr("FMA peak, fp32: none")) << r.output;
    GTEST_SKIP() << "no FMA loop on this CPU";
  }
  const double peak = std::stod(m[1]);
  EXPECT_GT(peak, 0.0);
  EXPECT_GT(r.output.find("FMA peak, fp32:"), r.output.find("*** Benchmark ends ***"));
  EXPECT_TRUE(
      r.output.find("FMA peak, bf16: none (this CPU has no AVX512_BF16).") != std::string::npos ||
      std::regex_search(
          r.output,
          std::regex(R"(FMA peak, bf16: [0-9.]+ GFLOP/s on 1 threads \(avx512_bf16 vdpbf16ps)")))
      << r.output;
  const std::size_t table = r.output.find(
      "Per-layer table: layer, forward ms, backward ms, algo, "
      "forward GFLOP/s, backward GFLOP/s");
  ASSERT_NE(table, std::string::npos) << r.output;
  const std::string rows = r.output.substr(table);
  // conv1: 32x64x64 outputs x (16 x 3 x 3) multiply-adds; score: 3x32x32 x 32; the
  // deconvolution up: its 3x32x32 inputs x (3 x 4 x 4). Backward computes the data and the
  // weight gradients (force_backward; the frozen weights too): twice the forward.
  const struct {
    const char* layer;
    double flops;
  } expected[] = {{"conv1", 2.0 * 32 * 64 * 64 * 16 * 9},
                  {"score", 2.0 * 3 * 32 * 32 * 32},
                  {"up", 2.0 * 3 * 32 * 32 * 3 * 16}};
  for (const auto& e : expected) {
    const std::regex row("\\] " + std::string(e.layer) +
                         " +([0-9.]+) +([0-9.]+)  \\S+ +([0-9.]+) +([0-9.]+) +([0-9.]+)% +"
                         "([0-9.]+)% +(\\S+) +(\\S+)\n");
    ASSERT_TRUE(std::regex_search(rows, m, row)) << e.layer << "\n" << rows;
    const double forward_ms = std::stod(m[1]), backward_ms = std::stod(m[2]);
    const double forward = std::stod(m[3]), backward = std::stod(m[4]);
    // The printed figures are rounded (ms to 0.01, GFLOP/s to 0.1).
    if (forward_ms >= 0.2) {
      const double want = e.flops / forward_ms / 1e6;
      EXPECT_NEAR(forward, want, 0.06 * want + 0.1) << e.layer << "\n" << rows;
    }
    if (backward_ms >= 0.2) {
      const double want = 2 * e.flops / backward_ms / 1e6;
      EXPECT_NEAR(backward, want, 0.06 * want + 0.1) << e.layer << "\n" << rows;
    }
    EXPECT_NEAR(std::stod(m[5]), 100 * forward / peak, 0.06 * 100 * forward / peak + 0.1)
        << e.layer;
    EXPECT_NEAR(std::stod(m[6]), 100 * backward / peak, 0.06 * 100 * backward / peak + 0.1)
        << e.layer;
  }
  // Layers without multiply-adds have no figures.
  EXPECT_TRUE(std::regex_search(rows, std::regex(R"(\] relu1 +[0-9.]+ +[0-9.]+  -\n)"))) << rows;
  // The sums, to 4 significant digits: conv1 + score + up, and twice that backward.
  ASSERT_TRUE(std::regex_search(rows, m, std::regex(R"(Convolution work, forward: (\S+) GFLOP)")));
  EXPECT_DOUBLE_EQ(std::stod(m[1]), 0.03824) << rows;
  ASSERT_TRUE(std::regex_search(rows, m, std::regex(R"(Convolution work, backward: (\S+) GFLOP)")));
  EXPECT_DOUBLE_EQ(std::stod(m[1]), 0.07648) << rows;
}

TEST(TimeCommandTest, PeakWithoutAModelMeasuresOnlyThePeak) {
  const Result r = Fcntool("time --peak --threads=1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FMA peak, fp32: "));
  EXPECT_THAT(r.output, HasSubstr("FMA peak, bf16: "));
  EXPECT_THAT(r.output, Not(HasSubstr("Benchmark begins")));
  // Without --peak the model stays required.
  EXPECT_EQ(Fcntool("time").exit_code, 2);
}

// Whether Graphviz accepts the file (skips the check when `dot` is not installed).
void ExpectDotAccepts(const std::string& path) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    std::printf("dot (graphviz) not installed: the dot syntax check is skipped\n");
    return;
  }
  const Result r = Shell("dot -Tsvg " + path + " 2>&1 >" + path + ".svg");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(ReadAll(path + ".svg"), HasSubstr("<svg"));
}

TEST(DrawCommandTest, EmitsValidDotWithNamesAndShapes) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(dir, "deploy.prototxt", kDeployNet);
  Result r = Shell(std::string(FCNTOOL_PATH) + " draw --model=" + model + " 2>/dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string dot = r.output;
  EXPECT_EQ(dot.rfind("digraph \"tiny_fcn\" {", 0), 0u) << dot;
  EXPECT_THAT(dot, HasSubstr("label=\"conv1\\n(Convolution)\\nnum_output: 32\\nkernel: 3\\n"
                             "pad: 1\""));
  EXPECT_THAT(dot, HasSubstr("label=\"pool1\\n(Pooling)\\nMAX\\nkernel: 2\\nstride: 2\""));
  EXPECT_THAT(dot, HasSubstr("(Deconvolution)\\nnum_output: 3\\nkernel: 4\\nstride: 2\\n"
                             "bias_term: false\""));
  EXPECT_THAT(dot, HasSubstr("label=\"crop\\n(Crop)\\naxis: 2\\noffset: 1\""));
  EXPECT_THAT(dot, HasSubstr("label=\"data\\n1x16x64x64\""));
  EXPECT_THAT(dot, HasSubstr("label=\"pool1\\n1x32x32x32\""));
  EXPECT_THAT(dot, HasSubstr("label=\"out\\n1x3x64x64\""));
  // The in-place ReLU reads one node of conv1 and writes another: two conv1 blob nodes.
  std::size_t conv1_nodes = 0;
  for (std::size_t at = dot.find("label=\"conv1\\n1x32x64x64\""); at != std::string::npos;
       at = dot.find("label=\"conv1\\n1x32x64x64\"", at + 1)) {
    ++conv1_nodes;
  }
  EXPECT_EQ(conv1_nodes, 2u) << dot;
  // No Split layer: "data" feeds conv1 and crop from one node.
  EXPECT_THAT(dot, Not(HasSubstr("Split")));

  const std::string out = dir + "/net.dot";
  r = Fcntool("draw --model=" + model + " --output=" + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Wrote " + out));
  EXPECT_EQ(ReadAll(out), dot);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files += entry.path().string().find(".tmp") != std::string::npos;
  }
  EXPECT_EQ(files, 0) << "a temporary file was left behind";
  ExpectDotAccepts(out);
}

TEST(DrawCommandTest, DrawsWithoutShapesWhenTheNetDoesNotBuild) {
  const std::string dir = test::TempDir();
  const std::string model = WriteFile(
      dir, "python.prototxt",
      "name: \"py\"\n"
      "layer { name: \"data\" type: \"Python\" top: \"data\" top: \"label\"\n"
      "        python_param { module: \"voc_layers\" layer: \"VOCSegDataLayer\" } }\n"
      "layer { name: \"conv\" type: \"Convolution\" bottom: \"data\" top: \"conv\"\n"
      "        convolution_param { num_output: 2 kernel_size: 1 } }\n"
      "layer { name: \"loss\" type: \"SoftmaxWithLoss\" bottom: \"conv\" bottom: \"label\"\n"
      "        top: \"loss\" }\n");
  const std::string out = dir + "/py.dot";
  const Result r = Fcntool("draw --model=" + model + " --output=" + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("drawn without shapes"));
  const std::string dot = ReadAll(out);
  EXPECT_THAT(dot, HasSubstr("label=\"data\\n(Python)\""));
  EXPECT_THAT(dot, HasSubstr("label=\"label\""));
  EXPECT_THAT(dot, HasSubstr("label=\"loss\""));
  EXPECT_THAT(dot, HasSubstr("(SoftmaxWithLoss)"));
  ExpectDotAccepts(out);
}

TEST(DrawCommandTest, ParseErrorExitsTwoAndWritesNothing) {
  const std::string dir = test::TempDir();
  const std::string out = dir + "/bad.dot";
  Result r = Fcntool("draw --model=" + WriteFile(dir, "bad.prototxt", "layer { name: \"x\"\n") +
                     " --output=" + out);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("bad.prototxt:2:"));
  EXPECT_FALSE(std::filesystem::exists(out));
  r = Fcntool("draw");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--model is required"));
  // An unwritable output is a runtime failure.
  const std::string model = WriteFile(dir, "deploy.prototxt", kDeployNet);
  r = Fcntool("draw --model=" + model + " --output=" + dir + "/no/such/dir/x.dot");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("x.dot"));
}

}  // namespace
}  // namespace fcn
