// SPDX-License-Identifier: BSD-2-Clause
// fcntool check: builds a net and reports layers, top shapes, parameters and memory.
#include <cstdio>
#include <iostream>
#include <set>

#include "tools/fcntool/commands.h"

namespace fcn::tool {

namespace {

std::string Bytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024.0 * 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  } else if (bytes >= 1024.0 * 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
  } else if (bytes >= 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  }
  return buf;
}

std::string Thousands(std::int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const int len = static_cast<int>(digits.size());
  for (int i = 0; i < len; ++i) {
    out += digits[static_cast<std::size_t>(i)];
    if ((len - i - 1) % 3 == 0 && i != len - 1) out += ',';
  }
  return out;
}

}  // namespace

int RunCheck() {
  RequireFlag("model", FLAGS_model);
  const NetStateOptions state = StateFromFlags(TEST);
  std::unique_ptr<Net> net = Net::FromFile(FLAGS_model, state);
  for (const std::string& weights : SplitList(FLAGS_weights)) {
    std::vector<std::string> ignored;
    net->CopyTrainedLayersFromFile(weights, &ignored);
    std::cout << "Loaded weights from " << weights;
    if (!ignored.empty())
      std::cout << " (ignored " << ignored.size()
                << " layer(s) not in the net: " << Join(ignored, ", ") << ")";
    std::cout << "\n";
  }
  if (!FLAGS_input_shape.empty()) {
    if (net->input_blobs().empty()) {
      throw ConfigError(
          StrCat(FLAGS_model, ": --input_shape given but the net has no Input layer"));
    }
    net->input_blobs()[0]->Reshape(ParseShapeFlag("input_shape", FLAGS_input_shape));
    net->Reshape();
  }

  std::printf("Net \"%s\" (%s): %zu layers, %zu blobs\n", net->name().c_str(),
              net->phase() == TRAIN ? "TRAIN" : "TEST", net->layers().size(), net->blobs().size());
  std::printf("%-28s %-16s %-40s %14s\n", "layer", "type", "top shapes", "parameters");
  std::int64_t total_params = 0;
  for (std::size_t i = 0; i < net->layers().size(); ++i) {
    const Layer& layer = *net->layers()[i];
    std::int64_t layer_params = 0;
    for (const auto& b : layer.blobs()) layer_params += b->count();
    std::vector<std::string> tops;
    for (std::size_t t = 0; t < net->top_ids()[i].size(); ++t) {
      const auto id = static_cast<std::size_t>(net->top_ids()[i][t]);
      tops.push_back(net->blob_names()[id] + " " + net->blobs()[id]->shape_string());
    }
    if (tops.empty()) tops.push_back("-");
    for (std::size_t t = 0; t < tops.size(); ++t) {
      if (t == 0) {
        std::printf("%-28s %-16s %-40s %14s\n", layer.name().c_str(), layer.type().c_str(),
                    tops[t].c_str(), layer_params ? Thousands(layer_params).c_str() : "-");
      } else {
        std::printf("%-28s %-16s %-40s\n", "", "", tops[t].c_str());
      }
    }
  }
  for (const Blob* p : net->learnable_params()) total_params += p->count();

  // Activation memory: each distinct data buffer once (Split tops share their bottom's data).
  double data_bytes = 0, diff_bytes = 0, internal = 0;
  std::set<const float*> seen;
  for (const auto& blob : net->blobs()) {
    const double bytes = static_cast<double>(blob->count()) * sizeof(float);
    diff_bytes += bytes;
    if (blob->count() == 0) continue;
    if (seen.insert(blob->cpu_data()).second) data_bytes += bytes;
  }
  for (const auto& layer : net->layers()) internal += static_cast<double>(layer->internal_bytes());
  std::printf("\nInputs: ");
  for (std::size_t i = 0; i < net->input_blobs().size(); ++i) {
    std::printf("%s%s %s", i ? ", " : "",
                net->blob_names()[static_cast<std::size_t>(net->input_blob_indices()[i])].c_str(),
                net->input_blobs()[i]->shape_string().c_str());
  }
  std::printf("\nOutputs: ");
  for (std::size_t i = 0; i < net->output_blobs().size(); ++i) {
    std::printf("%s%s %s", i ? ", " : "",
                net->blob_names()[static_cast<std::size_t>(net->output_blob_indices()[i])].c_str(),
                net->output_blobs()[i]->shape_string().c_str());
  }
  std::printf("\nParameters: %s (%s)\n", Thousands(total_params).c_str(),
              Bytes(static_cast<double>(total_params) * sizeof(float)).c_str());
  std::printf("Activations: %s forward, %s with gradients; layer buffers %s\n",
              Bytes(data_bytes).c_str(), Bytes(data_bytes + diff_bytes).c_str(),
              Bytes(internal).c_str());
  return 0;
}

}  // namespace fcn::tool
