// SPDX-License-Identifier: BSD-2-Clause
// fcntool test: Caffe's `caffe test`, the mean of every output blob over --iterations batches.
#include <glog/logging.h>

#include <sstream>

#include "fcn/net_paths.h"
#include "fcn/solver.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

namespace fcn::tool {

int RunTest() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("weights", FLAGS_weights);
  if (FLAGS_iterations <= 0) {
    throw ConfigError(StrCat("--iterations=", FLAGS_iterations, ": must be > 0"));
  }
  LOG(INFO) << "Use CPU.";
  const std::unique_ptr<Net> loaded = LoadTestNet();
  Net& net = *loaded;
  net.set_release_consumed_data(true);  // forward only: activations freed after their last use
  LOG(INFO) << "Running for " << FLAGS_iterations << " iterations.";

  std::vector<float> scores;
  std::vector<std::size_t> score_output;
  float loss = 0;
  for (int i = 0; i < FLAGS_iterations; ++i) {
    loss += net.Forward();
    std::size_t idx = 0;
    for (std::size_t j = 0; j < net.output_blobs().size(); ++j) {
      const Blob* result = net.output_blobs()[j];
      const float* values = result->cpu_data();
      const std::string& name =
          net.blob_names()[static_cast<std::size_t>(net.output_blob_indices()[j])];
      for (std::int64_t k = 0; k < result->count(); ++k, ++idx) {
        if (i == 0) {
          scores.push_back(values[k]);
          score_output.push_back(j);
        } else {
          scores[idx] += values[k];
        }
        LOG(INFO) << "Batch " << i << ", " << name << " = " << values[k];
      }
    }
  }
  loss /= static_cast<float>(FLAGS_iterations);
  LOG(INFO) << "Loss: " << loss;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const auto blob_index = static_cast<std::size_t>(net.output_blob_indices()[score_output[i]]);
    const float loss_weight = net.blob_loss_weights()[blob_index];
    const float mean_score = scores[i] / static_cast<float>(FLAGS_iterations);
    std::ostringstream loss_msg;
    if (loss_weight != 0) {
      loss_msg << " (* " << loss_weight << " = " << loss_weight * mean_score << " loss)";
    }
    LOG(INFO) << net.blob_names()[blob_index] << " = " << mean_score << loss_msg.str();
  }
  return 0;
}

}  // namespace fcn::tool
