// SPDX-License-Identifier: BSD-2-Clause
// fcntool check: builds a net and reports layers, top shapes, parameters and memory.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include "fcn/coord_map.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

namespace fcn::tool {

namespace {

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

// Prints each Crop's offset as written and as derived from the coordinate maps.
void PrintCropDerivations(const CoordMapAnalysis& analysis) {
  int mismatches = 0;
  if (!analysis.crops().empty()) {
    std::printf(
        "Crop offsets (derived from the coordinate maps of the layers between the bottoms):\n");
    for (const CropDerivation& d : analysis.crops()) {
      auto list = [](const std::vector<int>& v) {
        std::string out;
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
        return out;
      };
      if (!d.problem.empty()) {
        std::printf("  %-24s file %-8s cannot derive: %s\n", d.layer.c_str(),
                    list(d.file_offsets).c_str(), d.problem.c_str());
      } else {
        const bool ok = d.matches();
        mismatches += ok ? 0 : 1;
        std::printf("  %-24s file %-8s derived %-8s %s\n", d.layer.c_str(),
                    list(d.file_offsets).c_str(), list(d.derived).c_str(), ok ? "ok" : "MISMATCH");
      }
    }
    if (mismatches) {
      std::printf(
          "  %d crop offset(s) differ from the derived ones; `fcntool align --model=%s "
          "--output=FIXED.prototxt` writes the derived offsets.\n",
          mismatches, FLAGS_model.c_str());
    }
    std::printf("\n");
  }
}

// Copies --weights into the net by layer name, saying which file layers were ignored.
void LoadCheckWeights(Net* net) {
  for (const std::string& weights : SplitList(FLAGS_weights)) {
    std::vector<std::string> ignored;
    net->CopyTrainedLayersFromFile(weights, &ignored);
    std::cout << "Loaded weights from " << weights;
    if (!ignored.empty())
      std::cout << " (ignored " << ignored.size()
                << " layer(s) not in the net: " << Join(ignored, ", ") << ")";
    std::cout << "\n";
  }
}

// Reshapes the net's first input to --input_shape, when given.
void ApplyInputShape(Net* net) {
  if (!FLAGS_input_shape.empty()) {
    if (net->input_blobs().empty()) {
      throw ConfigError(
          StrCat(FLAGS_model, ": --input_shape given but the net has no Input layer"));
    }
    net->input_blobs()[0]->Reshape(ParseShapeFlag("input_shape", FLAGS_input_shape));
    net->Reshape();
  }
}

// The layer table (name, type, top shapes, parameters); returns the width of the name column.
int PrintLayerTable(const Net* net) {
  std::printf("Net \"%s\" (%s): %zu layers, %zu blobs\n", net->name().c_str(),
              net->phase() == TRAIN ? "TRAIN" : "TEST", net->layers().size(), net->blobs().size());
  // Column widths from the longest layer name, type and top description.
  int name_w = 5, type_w = 4, top_w = 10;
  for (std::size_t i = 0; i < net->layers().size(); ++i) {
    name_w = std::max(name_w, static_cast<int>(net->layers()[i]->name().size()));
    type_w = std::max(type_w, static_cast<int>(net->layers()[i]->type().size()));
    for (int id : net->top_ids()[i]) {
      const auto b = static_cast<std::size_t>(id);
      top_w = std::max(top_w, static_cast<int>(net->blob_names()[b].size() +
                                               net->blobs()[b]->shape_string().size() + 1));
    }
  }
  std::printf("%-*s  %-*s  %-*s  %14s\n", name_w, "layer", type_w, "type", top_w, "top shapes",
              "parameters");
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
        std::printf("%-*s  %-*s  %-*s  %14s\n", name_w, layer.name().c_str(), type_w,
                    layer.type().c_str(), top_w, tops[t].c_str(),
                    layer_params ? Thousands(layer_params).c_str() : "-");
      } else {
        std::printf("%-*s  %-*s  %s\n", name_w, "", type_w, "", tops[t].c_str());
      }
    }
  }
  return name_w;
}

// The "Inputs:" and "Outputs:" lines.
void PrintInputsAndOutputs(const Net* net) {
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
}

// Stride, receptive field and coordinate map of every blob relative to the first input.
void PrintGeometry(const Net* net, int name_w) {
  if (!net->input_blobs().empty()) {
    const std::string input =
        net->blob_names()[static_cast<std::size_t>(net->input_blob_indices()[0])];
    const auto geometry = CoordMapAnalysis(net->param()).Geometry(input);
    std::printf(
        "\nGeometry relative to \"%s\" (stride in input pixels, receptive field, and "
        "the map x_blob = a*x_%s + b):\n",
        input.c_str(), input.c_str());
    for (const std::string& blob : net->blob_names()) {
      auto it = geometry.find(blob);
      if (it == geometry.end()) continue;
      const BlobGeometry& g = it->second;
      std::string stride, field, map;
      for (std::size_t i = 0; i < g.stride.size(); ++i) {
        stride += (i ? "x" : "") + g.stride[i].ToString();
        field += (i ? "x" : "") + std::to_string(g.field[i]);
        map += StrCat(i ? "; " : "", "a=", g.maps[i].a.ToString(), " b=", g.maps[i].b.ToString());
      }
      std::printf("  %-*s  stride %-7s  field %-9s  %s\n", name_w, blob.c_str(), stride.c_str(),
                  field.c_str(), map.c_str());
    }
  }
}

// Parameter, activation and training memory totals.
void PrintMemory(const Net* net) {
  std::int64_t total_params = 0;
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
  std::printf("\nParameters: %s (%s)\n", Thousands(total_params).c_str(),
              FormatBytes(static_cast<double>(total_params) * sizeof(float)).c_str());
  std::printf("Activations: %s forward, %s with gradients; layer buffers %s\n",
              FormatBytes(data_bytes).c_str(), FormatBytes(data_bytes + diff_bytes).c_str(),
              FormatBytes(internal).c_str());
  // What one training step holds besides the scratch workspace: weights, their gradients,
  // SGD's momentum history (one value per learnable parameter), the activations and, since
  // the solver frees each activation gradient once the backward pass has consumed it, the
  // most activation gradients the backward pass holds at once.
  const double param_bytes = static_cast<double>(total_params) * sizeof(float);
  const auto peak_diff = static_cast<double>(net->PeakBackwardDiffBytes());
  const double activations = data_bytes + peak_diff + internal;
  std::printf(
      "Training memory: parameters %s + gradients %s + SGD history %s + activations %s = %s "
      "(activation gradients freed once consumed: at most %s at once)\n",
      FormatBytes(param_bytes).c_str(), FormatBytes(param_bytes).c_str(),
      FormatBytes(param_bytes).c_str(), FormatBytes(activations).c_str(),
      FormatBytes(3 * param_bytes + activations).c_str(), FormatBytes(peak_diff).c_str());
}

}  // namespace

int RunCheck() {
  RequireFlag("model", FLAGS_model);
  const NetStateOptions state = StateFromFlags(TEST);
  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(FLAGS_model, &source);
  Net::SetState(state, &param);
  // Crop offsets are derived before the net is built, so a wrong offset that puts a crop out
  // of bounds is still reported with the value it should have.
  PrintCropDerivations(CoordMapAnalysis(FilterNet(param)));
  std::fflush(stdout);
  auto net = std::make_unique<Net>(param, ToolOptions(), &source);
  LoadCheckWeights(net.get());
  ApplyInputShape(net.get());
  CheckPlannedMemory(*net, net->phase() == TRAIN);
  const int name_w = PrintLayerTable(net.get());
  PrintInputsAndOutputs(net.get());
  PrintGeometry(net.get(), name_w);
  PrintMemory(net.get());
  return 0;
}

}  // namespace fcn::tool
