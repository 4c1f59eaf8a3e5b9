// SPDX-License-Identifier: BSD-2-Clause
// ExecContext: what a layer needs to run besides its blobs: the device and a shared scratch
// workspace (one im2col buffer for the whole net instead of one per convolution).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace fcn {

enum class Device { kCpu, kCuda };

/// Scratch memory shared by the layers of one net. Layers run one at a time, so a single
/// buffer serves them all; it only grows.
class Workspace {
 public:
  /// Returns an uninitialised, 64-byte aligned buffer of at least `count` floats, valid until
  /// the next call. Growing drops the old contents (no copy, no zero fill).
  float* Get(std::int64_t count);
  std::int64_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> host_;
  std::int64_t capacity_ = 0;
};

class ExecContext {
 public:
  explicit ExecContext(Device device = Device::kCpu) : device_(device) {}
  Device device() const { return device_; }
  Workspace& workspace() const { return workspace_; }

 private:
  Device device_;
  mutable Workspace workspace_;
};

}  // namespace fcn
