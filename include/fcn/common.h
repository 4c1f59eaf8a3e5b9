// SPDX-License-Identifier: BSD-2-Clause
// Errors, checks and small string helpers shared by the whole library.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fcn {

/// Where something was written in a text file (1-based line and column; 0 = unknown).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  bool known() const { return !file.empty(); }
  /// "file:line:col" (or "file" / "" when parts are unknown).
  std::string ToString() const;
};

/// Base of every error the library throws for the caller to report.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(EscapeNulBytes(message)) {}

  /// The message with every NUL byte written as \x00, so that what() prints it whole.
  static std::string EscapeNulBytes(const std::string& message);
};

/// The user's input is wrong (prototxt, weights file, flags, database contents).
/// fcntool reports it and exits with code 2.
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message)
      : Error(message), message_(EscapeNulBytes(message)) {}
  ConfigError(const SourceLocation& where, const std::string& layer_name,
              const std::string& layer_type, const std::string& message);

  /// True once a file location or layer name has been attached.
  bool located() const { return located_; }
  /// The message without location prefix.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  bool located_ = false;
};

/// The environment failed (I/O, out of memory, a library call). fcntool exits with code 1.
class RuntimeError : public Error {
 public:
  explicit RuntimeError(const std::string& message) : Error(message) {}
};

/// An allocation failed. The Net rethrows it as a RuntimeError naming the layer.
class OutOfMemoryError : public RuntimeError {
 public:
  explicit OutOfMemoryError(const std::string& message) : RuntimeError(message) {}
};

/// Concatenates anything streamable: StrCat("offset ", 5, " > ", 3).
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// "1x3x500x500" style rendering of a shape.
std::string ShapeString(const std::vector<std::int64_t>& shape);

/// Joins strings with a separator.
std::string Join(const std::vector<std::string>& items, const std::string& sep);

/// "1:02:03" (hours:minutes:seconds) for a number of seconds, rounded to the nearest second.
std::string FormatDuration(double seconds);

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& message);

}  // namespace fcn

/// Internal invariant (a programmer bug when it fails): prints and aborts. Never for user input.
#define FCN_CHECK(cond, ...)                                                                \
  do {                                                                                      \
    if (!(cond)) ::fcn::CheckFailed(__FILE__, __LINE__, #cond, ::fcn::StrCat(__VA_ARGS__)); \
  } while (0)

#ifdef NDEBUG
#define FCN_DCHECK(cond, ...) \
  do {                        \
  } while (0)
#else
#define FCN_DCHECK(cond, ...) FCN_CHECK(cond, __VA_ARGS__)
#endif
