// SPDX-License-Identifier: BSD-2-Clause
// Binary protobuf files: .caffemodel (NetParameter), .binaryproto (BlobProto), .solverstate
// (SolverState). Reading lifts protobuf's 64 MB default limit (VGG-16 is ~550 MB); writing
// goes through a temporary file and a rename.
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/text_format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fcn/io.h"

namespace fcn {

namespace pb = google::protobuf;

namespace {

void ReadBinary(const std::string& path, const char* what, pb::Message* message) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(StrCat(path, ": is a directory, not a ", what, " file"));
  }
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    throw ConfigError(StrCat(path, ": cannot open ", what, " file: ", std::strerror(errno)));
  }
  bool ok = false;
  {
    pb::io::FileInputStream raw(fd);
    pb::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT_MAX);
    ok = message->ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  close(fd);
  if (!ok) {
    throw ConfigError(StrCat(path, ": not a valid binary ", what,
                             " (the file is truncated, corrupt, or in another format)"));
  }
}

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
