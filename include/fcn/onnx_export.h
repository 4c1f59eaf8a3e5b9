// SPDX-License-Identifier: BSD-2-Clause
// ONNX export (design.md decision 14): a built Net with its weights becomes an onnx::ModelProto
// (the message classes protoc generates from Debian libonnx-dev's onnx.proto). Opset 13 or
// later; Crop becomes a Slice whose ends are read from the reference blob's runtime shape, so
// one file serves every input size; Caffe's pooling size rule becomes explicit pads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/net.h"

namespace onnx {
class ModelProto;
}

namespace fcn {

/// One exported output: a blob of the net, optionally with an operator appended on the class
/// axis (axis 1).
struct OnnxOutput {
  enum class Append { kNone, kSoftmax, kArgMax };
  std::string blob;
  Append append = Append::kNone;
  /// The graph output's name: the blob's, or <blob>_softmax / <blob>_argmax.
  std::string name() const;
};

struct OnnxExportOptions {
  /// The default opset import; at least 13 (Softmax on one axis), at most kMaxOnnxOpset.
  int opset = 13;
  /// Empty: dynamic height and width on every input (the default). {H, W}: every input fixed
  /// at H x W (the net's blobs must already have that size: the caller reshapes the net).
  bool dynamic_size = true;
  /// Empty: the net's outputs.
  std::vector<OnnxOutput> outputs;
  /// Recorded in the model (producer, doc string).
  std::string model_path;
  std::string weights_path;
};

/// The newest opset the compiled onnx.proto (ONNX 1.12) describes.
constexpr int kMaxOnnxOpset = 17;

/// Parses --outputs: "score,score_geo:argmax,score:softmax". Throws ConfigError.
std::vector<OnnxOutput> ParseOnnxOutputs(const std::string& text);

/// Converts `net` (built in TEST phase, weights loaded, shapes set) into `model`. `analysed`
/// is the filtered net definition the crop offsets are derived from (CoordMapAnalysis).
/// `notes` receives one line per dropped layer or other remark. Throws ConfigError naming the
/// layer (file:line) for a layer without a mapping or a setting ONNX cannot express.
void ExportOnnx(const Net& net, const NetParameter& analysed, const OnnxExportOptions& options,
                onnx::ModelProto* model, std::vector<std::string>* notes);

/// Writes `model` to `path` (throws RuntimeError naming the path on failure).
void WriteOnnxModel(const onnx::ModelProto& model, const std::string& path);

}  // namespace fcn
