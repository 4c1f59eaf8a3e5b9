// SPDX-License-Identifier: BSD-2-Clause
// SyncedMemory: one buffer that can live on the host and (in a CUDA build) on a device, copied
// lazily to whichever side asks for it, as Caffe's SyncedMemory does.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
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
  /// Bytes of scratch ConvertInPlace needs, or 0 when this layout converts only between two
  /// buffers. A layout that can, converts a buffer within its own bytes a part at a time
  /// (oneDNN's nChw16c: 16 channels of one image), so the conversion of a large blob (FCN-8s's
  /// fc6 weights: 411 MB) needs no second buffer of its size.
  virtual std::size_t in_place_scratch_bytes() const { return 0; }
  /// Rewrites `buffer` (bytes() of plain values when to_layout, else of values in this layout)
  /// into the other order within the same bytes, through `scratch` of in_place_scratch_bytes().
  virtual void ConvertInPlace(void* /*buffer*/, void* /*scratch*/, bool /*to_layout*/) const {}
};
using HostLayoutPtr = std::shared_ptr<const HostLayout>;

/// Host buffers given back by SyncedMemory::Release (a gradient or activation that a pass has
/// consumed), kept for the next allocation of about the same size: the same sizes come back
/// every pass, and reusing a resident buffer costs a memset, where returning it to the system
/// and allocating afresh costs page faults on every page. A buffer serves a request of 80-100%
/// of its size; the pool keeps at most `limit_bytes` and frees what does not fit. Each Net owns
/// one and gives it to its blobs, so two nets in one process keep separate pools, and a net's
/// pooled memory goes back to the system with the net. Thread-safe.
class HostBufferPool {
 public:
  static constexpr std::size_t kDefaultLimitBytes = std::size_t{512} << 20;

  explicit HostBufferPool(std::size_t limit_bytes = kDefaultLimitBytes) : limit_(limit_bytes) {}
  ~HostBufferPool();
  HostBufferPool(const HostBufferPool&) = delete;
  HostBufferPool& operator=(const HostBufferPool&) = delete;

  /// A pooled buffer of `bytes` to bytes * 5 / 4 bytes (any larger one with set_any_larger;
  /// its size in *capacity), or null.
  void* Take(std::size_t bytes, std::size_t* capacity);
  /// Keeps `buffer` (of `capacity` bytes, from std::aligned_alloc) for a later Take, or frees
  /// it when the pool is full.
  void Put(void* buffer, std::size_t capacity);
  /// With any_larger, the smallest pooled buffer of at least the request serves it, however
  /// much larger (for a net whose passes repeat one sequence of allocations).
  void set_any_larger(bool any_larger);
  bool any_larger() const;
  /// The most bytes the pool keeps; what does not fit goes back to the system.
  void set_limit_bytes(std::size_t limit_bytes);
  std::size_t limit_bytes() const;
  /// Bytes held for reuse now, and the number of buffers.
  std::size_t pooled_bytes() const;
  std::size_t pooled_buffers() const;

 private:
  std::size_t limit_;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::size_t pooled_ = 0;
  bool any_larger_ = false;
};

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
  /// With a pool (set_host_pool), the host buffer goes to it and serves the next allocation of
  /// about its size (the same sizes recur every pass), so a released buffer costs no page
  /// faults when reused; without one it is freed.
  void Release();
  /// The pool that host buffers come from and go back to (null: plain allocation).
  void set_host_pool(std::shared_ptr<HostBufferPool> pool) { pool_ = std::move(pool); }
  const std::shared_ptr<HostBufferPool>& host_pool() const { return pool_; }

  std::size_t size() const { return bytes_; }
  Head head() const { return head_; }

 private:
  void AllocateHost();
  void ToHost();
  void ConvertHost(const HostLayoutPtr& layout, bool keep_values);
  void ToDevice();
  void* NewHostBuffer(std::size_t bytes, std::size_t* capacity);
  void ReturnHostBuffer(void* buffer, std::size_t capacity);

  std::size_t bytes_ = 0;
  void* host_ = nullptr;
  std::size_t host_capacity_ = 0;  ///< bytes allocated at host_ (at least bytes_ rounded up)
  void* device_ = nullptr;
  Head head_ = Head::kUninitialized;
  HostLayoutPtr layout_;  ///< the host buffer's layout (null: plain); the device's is plain
  std::shared_ptr<HostBufferPool> pool_;  ///< declared last: host_ goes back before it dies
};

}  // namespace fcn
