// SPDX-License-Identifier: BSD-2-Clause
// SyncedMemory: one buffer that can live on the host and (in a CUDA build) on a device, copied
// lazily to whichever side asks for it, as Caffe's SyncedMemory does.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fcn/exec_context.h"

namespace fcn {

/// An arrangement of a host buffer's floats other than the blob's plain row-major order: an
/// engine's own layout, such as oneDNN's channel-blocked nChw16c. A layout holds exactly the
/// blob's elements, permuted (no padding), so a buffer keeps its size in any layout, and an
/// element-wise operation gives the same values in any layout when all its operands share one.
/// A layout describes its own dimensions, so it converts correctly whatever blob reads it.
class HostLayout {
 public:
  virtual ~HostLayout() = default;
  /// Bytes the layout occupies (the plain buffer's size).
  virtual std::size_t bytes() const = 0;
  /// Rewrites plain row-major values into this layout, and back.
  virtual void FromPlain(const void* plain, void* out) const = 0;
  virtual void ToPlain(const void* in, void* plain) const = 0;
  virtual bool Equals(const HostLayout& other) const = 0;
  /// A short name for logs and tests (e.g. "aBcd16b").
  virtual std::string name() const = 0;
};
using HostLayoutPtr = std::shared_ptr<const HostLayout>;

class SyncedMemory {
 public:
  enum class Head { kUninitialized, kHost, kDevice, kSynced };

  explicit SyncedMemory(std::size_t bytes = 0);
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  /// Host pointer, zero-filled on first use; copies device->host when the device is newer.
  /// The values are in plain order: a buffer held in an engine's layout is converted first.
  const void* host_data() { return host_data_in(nullptr); }
  void* mutable_host_data() { return mutable_host_data_in(nullptr, false); }
  /// The host buffer in `layout` (null: plain order), converting what it holds when it is in
  /// another layout; the buffer stays in `layout` until someone asks for another one. For
  /// engines that read and write their own layouts (oneDNN), so consecutive layers of one
  /// engine skip the conversions.
  const void* host_data_in(const HostLayoutPtr& layout);
  /// The same for writing (the host becomes the head). With `overwrite` the caller writes every
  /// element, so the old values are not converted.
  void* mutable_host_data_in(const HostLayoutPtr& layout, bool overwrite);
  /// The layout the host buffer is in (null: plain order).
  const HostLayoutPtr& host_layout() const { return layout_; }
  /// Device pointer (CUDA builds only); copies host->device when the host is newer.
  const void* device_data();
  void* mutable_device_data();

  /// The buffer on ctx's device (host on a CPU context).
  const void* data(const ExecContext& ctx) {
    return ctx.device() == Device::kCuda ? device_data() : host_data();
  }
  void* mutable_data(const ExecContext& ctx) {
    return ctx.device() == Device::kCuda ? mutable_device_data() : mutable_host_data();
  }
  /// Zeroes the buffer where it is newest (on the device when the device copy is the head),
  /// without a round trip.
  void ZeroFill();

  /// Frees the buffers (host and device); the next use allocates them again, zero-filled.
  /// The host buffer goes to a pool that serves the next allocation of about its size (the
  /// same sizes recur every pass), so a released buffer costs no page faults when reused.
  void Release();

  std::size_t size() const { return bytes_; }
  Head head() const { return head_; }

 private:
  void AllocateHost();
  void ToHost();
  void ConvertHost(const HostLayoutPtr& layout, bool keep_values);
  void ToDevice();

  std::size_t bytes_ = 0;
  void* host_ = nullptr;
  std::size_t host_capacity_ = 0;  ///< bytes allocated at host_ (at least bytes_ rounded up)
  void* device_ = nullptr;
  Head head_ = Head::kUninitialized;
  HostLayoutPtr layout_;  ///< the host buffer's layout (null: plain); the device's is plain
};

}  // namespace fcn
