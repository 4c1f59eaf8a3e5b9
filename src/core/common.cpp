// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/common.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace fcn {

std::string Error::EscapeNulBytes(const std::string& message) {
  if (message.find('\0') == std::string::npos) return message;
  std::string out;
  for (const char c : message) {
    if (c == '\0') {
      out += "\\x00";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatDuration(double seconds) {
  const long long s = std::llround(seconds);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string SourceLocation::ToString() const {
  if (file.empty()) return "";
  if (line <= 0) return file;
  if (column <= 0) return StrCat(file, ":", line);
  return StrCat(file, ":", line, ":", column);
}

namespace {
std::string LocatedMessage(const SourceLocation& where, const std::string& layer_name,
                           const std::string& layer_type, const std::string& message) {
  std::string out;
  if (where.known()) out = where.ToString() + ": ";
  out += "error: ";
  if (!layer_name.empty() || !layer_type.empty()) {
    out += StrCat("layer \"", layer_name, "\"");
    if (!layer_type.empty()) out += StrCat(" (", layer_type, ")");
    out += ": ";
  }
  return out + message;
}
}  // namespace

ConfigError::ConfigError(const SourceLocation& where, const std::string& layer_name,
                         const std::string& layer_type, const std::string& message)
    : Error(LocatedMessage(where, layer_name, layer_type, message)),
      message_(EscapeNulBytes(message)),
      located_(true) {}

std::string ShapeString(const std::vector<std::int64_t>& shape) {
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += "x";
    out += std::to_string(shape[i]);
  }
  return out.empty() ? "(scalar)" : out;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "%s:%d: internal check failed: %s %s\n", file, line, condition,
               message.c_str());
  std::abort();
}

}  // namespace fcn
