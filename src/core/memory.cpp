// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/memory.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "backend/device_memory.h"
#include "fcn/common.h"

namespace fcn {

HostBufferPool::~HostBufferPool() {
  for (auto& entry : free_) std::free(entry.second);
}

void* HostBufferPool::Take(std::size_t bytes, std::size_t* capacity) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = free_.lower_bound(bytes);
  if (it == free_.end() || (!any_larger_ && it->first > bytes + bytes / 4)) return nullptr;
  void* buffer = it->second;
  *capacity = it->first;
  pooled_ -= it->first;
  free_.erase(it);
  return buffer;
}

void HostBufferPool::Put(void* buffer, std::size_t capacity) {
  if (buffer == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pooled_ + capacity <= limit_) {
      free_.emplace(capacity, buffer);
      pooled_ += capacity;
      return;
    }
  }
  std::free(buffer);
}

void HostBufferPool::set_any_larger(bool any_larger) {
  std::lock_guard<std::mutex> lock(mutex_);
  any_larger_ = any_larger;
}

bool HostBufferPool::any_larger() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return any_larger_;
}

void HostBufferPool::set_limit_bytes(std::size_t limit_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = limit_bytes;
}

std::size_t HostBufferPool::limit_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

std::size_t HostBufferPool::pooled_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pooled_;
}

std::size_t HostBufferPool::pooled_buffers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_.size();
}

SyncedMemory::SyncedMemory(std::size_t bytes) : bytes_(bytes) {}

SyncedMemory::~SyncedMemory() {
  ReturnHostBuffer(host_, host_capacity_);
  device::Free(device_);
}

// A host buffer of at least `bytes` (64-byte aligned, which suits AVX-512 loads), from the
// pool when it has one of about that size; its size in *capacity.
void* SyncedMemory::NewHostBuffer(std::size_t bytes, std::size_t* capacity) {
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  *capacity = rounded;
  if (rounded == 0) return nullptr;
  void* buffer = pool_ ? pool_->Take(rounded, capacity) : nullptr;
  if (buffer == nullptr) buffer = std::aligned_alloc(64, rounded);
  if (buffer == nullptr) {
    throw OutOfMemoryError(StrCat("out of memory allocating ", bytes, " bytes"));
  }
  return buffer;
}

void SyncedMemory::ReturnHostBuffer(void* buffer, std::size_t capacity) {
  if (pool_) {
    pool_->Put(buffer, capacity);
  } else {
    std::free(buffer);
  }
}

void SyncedMemory::AllocateHost() { host_ = NewHostBuffer(bytes_, &host_capacity_); }

// Rewrites the host buffer from its layout into `layout`: within its own bytes where the
// layout converts in place (a part at a time through a small scratch buffer), else through a
// second buffer (the pool's, so the sizes that recur every pass cost no page faults); without
// keep_values only the label changes, since the caller overwrites every element.
void SyncedMemory::ConvertHost(const HostLayoutPtr& layout, bool keep_values) {
  const bool same = layout_ == layout || (layout_ && layout && layout_->Equals(*layout));
  if (same) return;
  if (layout) {
    FCN_CHECK(layout->bytes() <= bytes_, "layout ", layout->name(), " needs ", layout->bytes(),
              " bytes, the buffer holds ", bytes_);
  }
  // Memory without a pool (a TEST net's parameters, converted once into the layout the net
  // reads them in) converts in place where the layout can: its second buffer would be a fresh
  // allocation of the blob's size (FCN-8s's fc6: 411 MB) on top of the net's peak. Pooled
  // memory (activations and gradients, converted every pass) goes through a pooled buffer:
  // that costs no page faults, and an in-place conversion's extra copy of each part made a
  // training step about 13% slower without lowering its peak (bench/README.md, "Memory").
  const HostLayout* other = layout ? (layout_ ? nullptr : layout.get()) : layout_.get();
  if (pool_ == nullptr && keep_values && host_ != nullptr && other != nullptr &&
      other->bytes() == bytes_ && other->in_place_scratch_bytes() > 0) {
    std::size_t capacity = 0;
    void* scratch = NewHostBuffer(other->in_place_scratch_bytes(), &capacity);
    other->ConvertInPlace(host_, scratch, layout != nullptr);
    ReturnHostBuffer(scratch, capacity);
    layout_ = layout;
    return;
  }
  if (keep_values && host_ != nullptr) {
    std::size_t capacity = 0;
    void* converted = NewHostBuffer(bytes_, &capacity);
    if (layout_ && layout) {
      // Through plain order: no engine converts between two arbitrary layouts of its own.
      std::size_t plain_capacity = 0;
      void* plain = NewHostBuffer(bytes_, &plain_capacity);
      layout_->ToPlain(host_, plain);
      layout->FromPlain(plain, converted);
      ReturnHostBuffer(plain, plain_capacity);
    } else if (layout_) {
      layout_->ToPlain(host_, converted);
    } else {
      layout->FromPlain(host_, converted);
    }
    ReturnHostBuffer(host_, host_capacity_);
    host_ = converted;
    host_capacity_ = capacity;
  }
  layout_ = layout;
}

void SyncedMemory::ToHost() {
  switch (head_) {
    case Head::kUninitialized:
      AllocateHost();
      if (bytes_) std::memset(host_, 0, bytes_);
      head_ = Head::kHost;
      break;
    case Head::kDevice:
      if (host_ == nullptr) AllocateHost();
      if (bytes_) device::CopyDeviceToHost(host_, device_, bytes_);
      layout_.reset();  // the device holds plain order
      head_ = Head::kSynced;
      break;
    case Head::kHost:
    case Head::kSynced:
      break;
  }
}

void SyncedMemory::ToDevice() {
  switch (head_) {
    case Head::kUninitialized:
      if (bytes_) {
        device_ = device::Malloc(bytes_);
        device::Zero(device_, bytes_);
      }
      head_ = Head::kDevice;
      break;
    case Head::kHost:
      ConvertHost(nullptr, true);  // the device holds plain order
      if (device_ == nullptr && bytes_) device_ = device::Malloc(bytes_);
      if (bytes_) device::CopyHostToDevice(device_, host_, bytes_);
      head_ = Head::kSynced;
      break;
    case Head::kDevice:
    case Head::kSynced:
      break;
  }
}

void SyncedMemory::Release() {
  ReturnHostBuffer(host_, host_capacity_);
  host_ = nullptr;
  device::Free(device_);
  device_ = nullptr;
  head_ = Head::kUninitialized;
  layout_.reset();
}

void SyncedMemory::ZeroFill() {
  if (bytes_ == 0) return;
  if (head_ == Head::kDevice || (head_ == Head::kSynced && device_ != nullptr)) {
    device::Zero(device_, bytes_);
    head_ = Head::kDevice;
    return;
  }
  std::memset(mutable_host_data_in(nullptr, true), 0, bytes_);
}

const void* SyncedMemory::host_data_in(const HostLayoutPtr& layout) {
  ToHost();
  ConvertHost(layout, true);
  return host_;
}

void* SyncedMemory::mutable_host_data_in(const HostLayoutPtr& layout, bool overwrite) {
  ToHost();
  ConvertHost(layout, !overwrite);
  head_ = Head::kHost;
  return host_;
}

const void* SyncedMemory::device_data() {
  ToDevice();
  return device_;
}

void* SyncedMemory::mutable_device_data() {
  ToDevice();
  head_ = Head::kDevice;
  return device_;
}

}  // namespace fcn
