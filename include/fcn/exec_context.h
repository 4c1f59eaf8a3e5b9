// SPDX-License-Identifier: BSD-2-Clause
// ExecContext: what a layer needs to run besides its blobs: the device, a shared scratch
// workspace on that device (one im2col buffer for the whole net instead of one per
// convolution), and on a GPU the cuBLAS/cuDNN handles.
#pragma once

#include <cstdint>
#include <memory>

#include "fcn/options.h"

namespace fcn {

/// Scratch memory shared by the layers of one net, on the host or on a device. Layers run one
/// at a time, so a single buffer serves them all; it only grows.
class Workspace {
 public:
  explicit Workspace(Device device = Device::kCpu) : device_(device) {}
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  /// Returns an uninitialised buffer of at least `count` floats on this workspace's device
  /// (64-byte aligned on the host), valid until the next call. Growing drops the old contents
  /// (no copy, no zero fill).
  float* Get(std::int64_t count);
  std::int64_t capacity() const { return capacity_; }

 private:
  void Release();
  Device device_;
  float* buffer_ = nullptr;
  std::int64_t capacity_ = 0;
};

/// cuBLAS and cuDNN handles of a CUDA context (defined in src/backend/cuda/handles.h).
struct GpuHandles;

class ExecContext {
 public:
  ExecContext() : ExecContext(Device::kCpu) {}
  /// A CUDA context makes `device_id` current (throws RuntimeError when it cannot; in a
  /// CPU-only build always).
  explicit ExecContext(Device device, int device_id = 0);
  /// A context on `options.device` that carries the options to the layers that run on it.
  explicit ExecContext(const Options& options);
  ~ExecContext();
  ExecContext(const ExecContext&) = delete;
  ExecContext& operator=(const ExecContext&) = delete;

  Device device() const { return device_; }
  const Options& options() const { return options_; }
  int device_id() const { return device_id_; }
  /// Scratch on this context's device.
  Workspace& workspace() const { return workspace_; }
  /// The CPU context that layers without a GPU implementation run on (itself on a CPU).
  const ExecContext& host() const { return host_ ? *host_ : *this; }
  /// cuBLAS/cuDNN handles, created on first use; only on a CUDA context.
  GpuHandles& gpu() const;

 private:
  Options options_;
  Device device_;
  int device_id_;
  mutable Workspace workspace_;
  std::unique_ptr<ExecContext> host_;
  mutable std::unique_ptr<GpuHandles> gpu_;
};

}  // namespace fcn
