// SPDX-License-Identifier: BSD-2-Clause
// fcntool export: a deploy net and its weights as an ONNX model (design.md decision 14;
// docs/onnx.md). The file is written through the ONNX protobuf schema.
#include <chrono>
#include <cstdio>
#include <memory>

#include "fcn/onnx_export.h"
#include "onnx.pb.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

DEFINE_int32(opset, 13, "export: the ONNX opset to write (13 to 17).");
DEFINE_string(outputs, "",
              "export: comma-separated blobs to export (default: the net's outputs); BLOB:softmax "
              "or BLOB:argmax appends that operator on the class axis (axis 1).");
DEFINE_string(input_size, "",
              "export: H,W fixes every input's height and width; empty: dynamic height and "
              "width (one file for every input size).");

namespace fcn::tool {

int RunExport() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("output", FLAGS_output);
  const auto start = std::chrono::steady_clock::now();
  OnnxExportOptions options;
  options.opset = FLAGS_opset;
  options.outputs = ParseOnnxOutputs(FLAGS_outputs);
  options.model_path = FLAGS_model;
  options.weights_path = FLAGS_weights;
  std::vector<std::int64_t> size;
  if (!FLAGS_input_size.empty()) {
    size = ParseShapeFlag("input_size", FLAGS_input_size);
    if (size.size() != 2 || size[0] <= 0 || size[1] <= 0) {
      throw ConfigError(StrCat("--input_size=", FLAGS_input_size,
                               ": give the height and width, H,W (empty: dynamic)"));
    }
    options.dynamic_size = false;
  }
  if (options.opset < 13 || options.opset > kMaxOnnxOpset) {
    throw ConfigError(StrCat("--opset=", options.opset, ": fcntool export writes opsets 13 to ",
                             kMaxOnnxOpset,
                             " (13 is the first whose Softmax normalises one axis only)"));
  }

  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(FLAGS_model, &source);
  Net::SetState(StateFromFlags(TEST), &param);
  const NetParameter analysed = FilterNet(param);
  Net net(param, ToolOptions(), &source);
  if (FLAGS_weights.empty()) {
    std::printf("No --weights: exporting the net's filler values\n");
  }
  for (const std::string& weights : SplitList(FLAGS_weights)) {
    std::vector<std::string> ignored;
    net.CopyTrainedLayersFromFile(weights, &ignored);
    std::printf("Loaded weights from %s\n", weights.c_str());
  }
  if (net.input_blobs().empty()) {
    throw ConfigError(StrCat(FLAGS_model, ": the net has no Input layer (export a deploy net)"));
  }
  if (!size.empty()) {
    for (Blob* in : net.input_blobs()) {
      if (in->num_axes() != 4) {
        throw ConfigError(StrCat(FLAGS_model, ": --input_size needs N x C x H x W inputs, got ",
                                 in->shape_string()));
      }
      in->Reshape({in->shape(0), in->shape(1), size[0], size[1]});
    }
    net.Reshape();
  }

  onnx::ModelProto model;
  std::vector<std::string> notes;
  ExportOnnx(net, analysed, options, &model, &notes);
  for (const std::string& note : notes) std::printf("Note: %s\n", note.c_str());
  WriteOnnxModel(model, FLAGS_output);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& graph = model.graph();
  std::vector<std::string> ins, outs;
  for (const auto& v : graph.input()) ins.push_back(v.name());
  for (const auto& v : graph.output()) outs.push_back(v.name());
  std::printf(
      "Wrote %s: opset %d, %s input size, inputs %s, outputs %s, %d nodes, %d initializers, "
      "%.1f MB in %.2f s\n",
      FLAGS_output.c_str(), options.opset, options.dynamic_size ? "dynamic" : "fixed",
      Join(ins, ",").c_str(), Join(outs, ",").c_str(), graph.node_size(), graph.initializer_size(),
      static_cast<double>(model.ByteSizeLong()) / 1e6, seconds);
  return 0;
}

}  // namespace fcn::tool
