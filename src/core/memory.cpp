// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/device_memory.h"
#include "fcn/common.h"

namespace fcn {

SyncedMemory::SyncedMemory(std::size_t bytes) : bytes_(bytes) {}

SyncedMemory::~SyncedMemory() {
  std::free(host_);
  device::Free(device_);
}

void SyncedMemory::AllocateHost() {
  // 64-byte alignment suits AVX-512 loads in BLAS kernels.
  const std::size_t rounded = (bytes_ + 63) / 64 * 64;
  host_ = rounded ? std::aligned_alloc(64, rounded) : nullptr;
  if (rounded && host_ == nullptr) {
    throw RuntimeError(StrCat("out of memory allocating ", bytes_, " bytes"));
  }
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
  std::free(host_);
  host_ = nullptr;
  device::Free(device_);
  device_ = nullptr;
  head_ = Head::kUninitialized;
}

void SyncedMemory::ZeroFill() {
  if (bytes_ == 0) return;
  if (head_ == Head::kDevice || (head_ == Head::kSynced && device_ != nullptr)) {
    device::Zero(device_, bytes_);
    head_ = Head::kDevice;
    return;
  }
  std::memset(mutable_host_data(), 0, bytes_);
}

const void* SyncedMemory::host_data() {
  ToHost();
  return host_;
}

void* SyncedMemory::mutable_host_data() {
  ToHost();
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
