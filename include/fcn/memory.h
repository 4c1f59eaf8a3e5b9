// SPDX-License-Identifier: BSD-2-Clause
// SyncedMemory: one buffer that can live on the host and (in a CUDA build) on a device, copied
// lazily to whichever side asks for it, as Caffe's SyncedMemory does.
#pragma once

#include <cstddef>

#include "fcn/exec_context.h"

namespace fcn {

class SyncedMemory {
 public:
  enum class Head { kUninitialized, kHost, kDevice, kSynced };

  explicit SyncedMemory(std::size_t bytes = 0);
  ~SyncedMemory();
  SyncedMemory(const SyncedMemory&) = delete;
  SyncedMemory& operator=(const SyncedMemory&) = delete;

  /// Host pointer, zero-filled on first use; copies device->host when the device is newer.
  const void* host_data();
  void* mutable_host_data();
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
  void ToDevice();

  std::size_t bytes_ = 0;
  void* host_ = nullptr;
  std::size_t host_capacity_ = 0;  ///< bytes allocated at host_ (at least bytes_ rounded up)
  void* device_ = nullptr;
  Head head_ = Head::kUninitialized;
};

}  // namespace fcn
