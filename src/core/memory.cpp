// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/memory.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "fcn/common.h"

namespace fcn {

SyncedMemory::SyncedMemory(std::size_t bytes) : bytes_(bytes) {}

SyncedMemory::~SyncedMemory() {
  std::free(host_);
  FCN_CHECK(device_ == nullptr, "device memory in a CPU-only build");
}

void SyncedMemory::ToHost() {
  switch (head_) {
    case Head::kUninitialized: {
      // 64-byte alignment suits AVX-512 loads in BLAS kernels.
      const std::size_t rounded = (bytes_ + 63) / 64 * 64;
      host_ = rounded ? std::aligned_alloc(64, rounded) : nullptr;
      if (rounded && host_ == nullptr) {
        throw RuntimeError(StrCat("out of memory allocating ", bytes_, " bytes"));
      }
      if (bytes_) std::memset(host_, 0, bytes_);
      head_ = Head::kHost;
      break;
    }
    case Head::kDevice:
      FCN_CHECK(false, "device memory in a CPU-only build");
      break;
    case Head::kHost:
    case Head::kSynced:
      break;
  }
}

void SyncedMemory::ToDevice() { FCN_CHECK(false, "device memory requested in a CPU-only build"); }

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
