// SPDX-License-Identifier: BSD-2-Clause
// Reading and writing Caffe's files: prototxt (text NetParameter / SolverParameter) with
// source locations, binary .caffemodel / .binaryproto / .solverstate, and the V1 upgrade.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fcn/common.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// A net definition together with where each layer was written.
struct NetSource {
  std::string path;                             ///< the file ("" when built from a string)
  std::vector<SourceLocation> layer_locations;  ///< one per NetParameter.layer(i)

  SourceLocation LayerLocation(int index) const;
};

/// Parses a text NetParameter. Throws ConfigError with file:line:col (and the enclosing
/// layer's name and type) on a syntax error, an unknown field or a bad enum value. A V1 net
/// (`layers { type: CONVOLUTION }`) is upgraded in memory; the deprecated `input`/
/// `input_dim`/`input_shape` fields become an Input layer named "input".
NetParameter ReadNetParamFromTextFile(const std::string& path, NetSource* source = nullptr);
NetParameter ReadNetParamFromTextString(const std::string& text, const std::string& name,
                                        NetSource* source = nullptr);

/// Parses a text SolverParameter (file:line errors as above).
SolverParameter ReadSolverParamFromTextFile(const std::string& path);

/// Reads a binary NetParameter (.caffemodel) of any size (up to 2 GB), upgrading V1.
/// Throws ConfigError naming the path when the file is missing, truncated or not a net.
NetParameter ReadNetParamFromBinaryFile(const std::string& path);
/// Reads a binary BlobProto (.binaryproto mean file).
BlobProto ReadBlobProtoFromBinaryFile(const std::string& path);
/// Reads a binary SolverState.
SolverState ReadSolverStateFromBinaryFile(const std::string& path);

/// Writes a message in binary (or text) form to a temporary file beside `path`, then renames
/// it over `path`, so an existing file is never left half-written. Throws RuntimeError.
void WriteProtoToBinaryFile(const google::protobuf::Message& message, const std::string& path);
void WriteProtoToTextFile(const google::protobuf::Message& message, const std::string& path);

/// Writes bytes to `path` through a temporary file and a rename (RuntimeError on failure).
void WriteStringToFile(const std::string& bytes, const std::string& path);

/// Upgrades V1 (`layers`) and legacy net inputs in place. Returns true if anything changed.
/// Throws ConfigError (naming `what`, e.g. the path) for files that mix `layer` and `layers`
/// or use the V0 form.
bool UpgradeNetAsNeeded(const std::string& what, NetParameter* param);
/// Converts the deprecated input/input_dim/input_shape fields into an Input layer.
bool UpgradeNetInput(NetParameter* param);
/// One V1 (`layers`) layer as a current LayerParameter (its parameter blobs included); `what`
/// names the file in errors.
LayerParameter UpgradeV1Layer(const std::string& what, const V1LayerParameter& v1);

/// Reads a whole file; throws ConfigError naming the path when it cannot be read.
std::string ReadFileToString(const std::string& path);

/// True when the file starts with the HDF5 signature (or, when it cannot be read, when the
/// name ends in ".h5").
bool IsHdf5File(const std::string& path);

/// Reads a weights file in either form: HDF5 (by signature) or a binary NetParameter.
NetParameter ReadWeightsFile(const std::string& path);

/// Where a streamed weights read may put a parameter blob's values: called with the layer's
/// name, the blob's index in the layer and its number of values when the reader meets them;
/// returns a buffer of that many floats to read them straight into, or null to leave them in
/// the LayerParameter.
using WeightsSink = std::function<float*(const std::string& layer, int blob, std::int64_t count)>;
/// Called with each layer of a weights file; delivered[j] is the number of values of blob j
/// that went to the sink (its `data` is then empty), or -1.
using WeightsVisitor =
    std::function<void(const LayerParameter& layer, const std::vector<std::int64_t>& delivered)>;

/// Calls `visit` with each layer of a weights file, in file order, as ReadWeightsFile would
/// return them (V1 `layers` upgraded). A binary .caffemodel is read one layer at a time, and
/// a current-format layer's parameter values go straight into the buffers `sink` gives (read
/// from the file into them, no copy in between), so a load needs little more memory than the
/// net's parameters (VGG-16 FCN-8s: 537 MB, where a whole-file read adds 537 MB more). An
/// HDF5 file, and a V1 one, is read whole or a layer at a time without the sink. The file's
/// other fields (name, inputs, state) are skipped. Throws ConfigError naming the path as
/// ReadWeightsFile does; an error of `visit` stops the reading; a file found damaged after
/// some layers has already passed them on.
void ForEachWeightsLayer(const std::string& path, const WeightsVisitor& visit,
                         const WeightsSink& sink = nullptr);
/// ForEachWeightsLayer for a binary NetParameter file.
void ForEachLayerInBinaryNetParam(const std::string& path, const WeightsVisitor& visit,
                                  const WeightsSink& sink = nullptr);

/// Shape of a BlobProto (legacy 4-D fields or `shape`).
std::vector<std::int64_t> ProtoShape(const BlobProto& proto);

}  // namespace fcn
