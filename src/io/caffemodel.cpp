// SPDX-License-Identifier: BSD-2-Clause
// Binary protobuf files: .caffemodel (NetParameter), .binaryproto (BlobProto), .solverstate
// (SolverState). Reading lifts protobuf's 64 MB default limit (VGG-16 is ~550 MB); writing
// goes through a temporary file and a rename.
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/wire_format_lite.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fcn/io.h"

namespace fcn {

namespace pb = google::protobuf;

namespace {

int OpenBinary(const std::string& path, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(StrCat(path, ": is a directory, not a ", what, " file"));
  }
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    throw ConfigError(StrCat(path, ": cannot open ", what, " file: ", std::strerror(errno)));
  }
  return fd;
}

[[noreturn]] void ThrowNotValid(const std::string& path, const char* what) {
  throw ConfigError(StrCat(path, ": not a valid binary ", what,
                           " (the file is truncated, corrupt, or in another format)"));
}

void ReadBinary(const std::string& path, const char* what, pb::Message* message) {
  const int fd = OpenBinary(path, what);
  bool ok = false;
  {
    pb::io::FileInputStream raw(fd);
    pb::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT_MAX);
    ok = message->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  close(fd);
  if (!ok) ThrowNotValid(path, what);
}

// Closes a descriptor when the reading ends, by an error too.
struct FdCloser {
  int fd;
  ~FdCloser() { close(fd); }
};

void WriteAtomically(const std::string& path, const std::string& bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw RuntimeError(StrCat(path, ": cannot create a temporary file in ", dir.string(), ": ",
                              std::strerror(errno)));
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      close(fd);
      unlink(tmpl.c_str());
      throw RuntimeError(StrCat(path, ": write failed: ", err));
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    const std::string err = std::strerror(errno);
    unlink(tmpl.c_str());
    throw RuntimeError(StrCat(path, ": cannot flush the file: ", err));
  }
  // mkstemp creates 0600 files; give the result the usual permissions.
  chmod(tmpl.c_str(), 0644);
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    unlink(tmpl.c_str());
    throw RuntimeError(StrCat(path, ": cannot rename the temporary file into place: ", err));
  }
}

}  // namespace

NetParameter ReadNetParamFromBinaryFile(const std::string& path) {
  NetParameter param;
  ReadBinary(path, "NetParameter (.caffemodel)", &param);
  if (param.layer_size() == 0 && param.layers_size() == 0) {
    throw ConfigError(StrCat(path, ": holds no layers; it is not a Caffe model (.caffemodel)"));
  }
  UpgradeNetAsNeeded(path, &param);
  return param;
}

namespace {

using Wire = pb::internal::WireFormatLite;

// Reads the length of a length-delimited field, refusing one longer than what is left of the
// enclosing message (a damaged length must not size a buffer).
bool ReadLength(pb::io::CodedInputStream& in, std::uint32_t* length) {
  return in.ReadVarint32(length) && static_cast<std::int64_t>(*length) <= in.BytesUntilLimit();
}

// Whether a length-delimited message read within a limit ended there: at its last field, not
// at a bad tag, nor at the end of a file cut short inside it (ReadTag gives 0 for all three,
// and takes the end of the file for a clean end).
bool EndedAtItsLength(pb::io::CodedInputStream& in) {
  return in.ConsumedEntireMessage() && in.BytesUntilLimit() == 0;
}

// One BlobProto, within the current limit. Its first `data` field, when packed, is read
// straight into the sink's buffer (*delivered: its count) or into blob->data; every other field
// is collected and parsed by protobuf, after, so repeated values keep the file's order.
bool ReadBlob(pb::io::CodedInputStream& in, const WeightsSink& sink, const std::string& layer,
              int index, BlobProto* blob, std::int64_t* delivered) {
  std::string rest;
  bool data_seen = false;
  {
    pb::io::StringOutputStream rest_stream(&rest);
    pb::io::CodedOutputStream rest_out(&rest_stream);
    for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
      const bool data = Wire::GetTagFieldNumber(tag) == BlobProto::kDataFieldNumber;
      if (data && !data_seen && Wire::GetTagWireType(tag) == Wire::WIRETYPE_LENGTH_DELIMITED) {
        data_seen = true;
        std::uint32_t bytes = 0;
        if (!ReadLength(in, &bytes) || bytes % sizeof(float) != 0) return false;
        const std::int64_t count = bytes / sizeof(float);
        float* target = sink && !layer.empty() ? sink(layer, index, count) : nullptr;
        if (target != nullptr) {
          *delivered = count;
        } else {
          blob->mutable_data()->Resize(static_cast<int>(count), 0.0f);
          target = blob->mutable_data()->mutable_data();
        }
        if (!in.ReadRaw(target, static_cast<int>(bytes))) return false;
        if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
          // The wire format is little-endian.
          auto* words = reinterpret_cast<std::uint32_t*>(target);
          for (std::int64_t i = 0; i < count; ++i) words[i] = __builtin_bswap32(words[i]);
        }
        continue;
      }
      data_seen = data_seen || data;
      if (!Wire::SkipField(&in, tag, &rest_out)) return false;
    }
  }
  return EndedAtItsLength(in) && blob->MergeFromString(rest);
}

// One current-format LayerParameter, within the current limit: its name and blobs are read
// here (the blobs' values through the sink once the name is known), every other field is
// collected and parsed by protobuf.
bool ReadLayer(pb::io::CodedInputStream& in, const WeightsSink& sink, LayerParameter* layer,
               std::vector<std::int64_t>* delivered) {
  std::string rest;
  {
    pb::io::StringOutputStream rest_stream(&rest);
    pb::io::CodedOutputStream rest_out(&rest_stream);
    for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
      const int field = Wire::GetTagFieldNumber(tag);
      const bool delimited = Wire::GetTagWireType(tag) == Wire::WIRETYPE_LENGTH_DELIMITED;
      if (field == LayerParameter::kNameFieldNumber && delimited) {
        std::string name;
        if (!Wire::ReadString(&in, &name)) return false;
        // Values given to the sink went to the layer of the name read first.
        if (!layer->name().empty() && name != layer->name() &&
            std::any_of(delivered->begin(), delivered->end(),
                        [](std::int64_t n) { return n >= 0; })) {
          return false;
        }
        layer->set_name(name);
      } else if (field == LayerParameter::kBlobsFieldNumber && delimited) {
        std::uint32_t length = 0;
        if (!ReadLength(in, &length)) return false;
        const auto limit = in.PushLimit(static_cast<int>(length));
        const int index = layer->blobs_size();
        BlobProto* blob = layer->add_blobs();
        delivered->push_back(-1);
        if (!ReadBlob(in, sink, layer->name(), index, blob, &delivered->back())) return false;
        in.PopLimit(limit);
      } else if (!Wire::SkipField(&in, tag, &rest_out)) {
        return false;
      }
    }
  }
  return EndedAtItsLength(in) && layer->MergeFromString(rest);
}

}  // namespace

void ForEachLayerInBinaryNetParam(const std::string& path, const WeightsVisitor& visit,
                                  const WeightsSink& sink) {
  const char* what = "NetParameter (.caffemodel)";
  const FdCloser file{OpenBinary(path, what)};
  pb::io::FileInputStream raw(file.fd);
  pb::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  bool current = false, v1 = false;
  // The repeated `layer` (current) and `layers` (V1) fields are read an element at a time,
  // each within its length; every other field of NetParameter is skipped.
  for (std::uint32_t tag = coded.ReadTag(); tag != 0; tag = coded.ReadTag()) {
    const int field = Wire::GetTagFieldNumber(tag);
    const bool layer_field =
        field == NetParameter::kLayerFieldNumber || field == NetParameter::kLayersFieldNumber;
    if (!layer_field || Wire::GetTagWireType(tag) != Wire::WIRETYPE_LENGTH_DELIMITED) {
      if (!Wire::SkipField(&coded, tag)) ThrowNotValid(path, what);
      continue;
    }
    std::uint32_t length = 0;
    if (!coded.ReadVarint32(&length) || length > static_cast<std::uint32_t>(INT_MAX)) {
      ThrowNotValid(path, what);
    }
    const auto limit = coded.PushLimit(static_cast<int>(length));
    LayerParameter layer;
    std::vector<std::int64_t> delivered;
    if (field == NetParameter::kLayerFieldNumber) {
      current = true;
      if (!ReadLayer(coded, sink, &layer, &delivered)) ThrowNotValid(path, what);
    } else {
      v1 = true;
      V1LayerParameter old;
      if (!old.ParseFromCodedStream(&coded) || !EndedAtItsLength(coded)) {
        ThrowNotValid(path, what);
      }
      layer = UpgradeV1Layer(path, old);
      delivered.assign(static_cast<std::size_t>(layer.blobs_size()), -1);
    }
    coded.PopLimit(limit);
    if (current && v1) {
      throw ConfigError(StrCat(path,
                               ": the net uses both `layer` (current) and `layers` (V1) "
                               "fields; use one"));
    }
    visit(layer, delivered);
  }
  // ReadTag gives 0 at the end of the file and on a bad tag; only the first is a clean end.
  if (!coded.ConsumedEntireMessage()) ThrowNotValid(path, what);
  if (!current && !v1) {
    throw ConfigError(StrCat(path, ": holds no layers; it is not a Caffe model (.caffemodel)"));
  }
}

BlobProto ReadBlobProtoFromBinaryFile(const std::string& path) {
  BlobProto blob;
  ReadBinary(path, "BlobProto (.binaryproto)", &blob);
  return blob;
}

SolverState ReadSolverStateFromBinaryFile(const std::string& path) {
  SolverState state;
  ReadBinary(path, "SolverState (.solverstate)", &state);
  return state;
}

void WriteStringToFile(const std::string& bytes, const std::string& path) {
  WriteAtomically(path, bytes);
}

void WriteProtoToBinaryFile(const pb::Message& message, const std::string& path) {
  std::string bytes;
  if (!message.SerializeToString(&bytes)) {
    throw RuntimeError(StrCat(path, ": cannot serialise ", message.GetTypeName(),
                              " (a required field is missing?)"));
  }
  WriteAtomically(path, bytes);
}

void WriteProtoToTextFile(const pb::Message& message, const std::string& path) {
  std::string text;
  if (!pb::TextFormat::PrintToString(message, &text)) {
    throw RuntimeError(StrCat(path, ": cannot print ", message.GetTypeName(), " as text"));
  }
  WriteAtomically(path, text);
}

std::vector<std::int64_t> ProtoShape(const BlobProto& proto) {
  std::vector<std::int64_t> shape;
  if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    shape = {proto.num(), proto.channels(), proto.height(), proto.width()};
  } else {
    shape.assign(proto.shape().dim().begin(), proto.shape().dim().end());
  }
  return shape;
}

}  // namespace fcn
