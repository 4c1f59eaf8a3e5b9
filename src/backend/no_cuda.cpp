// SPDX-License-Identifier: BSD-2-Clause
// The CPU-only build's answers to the device API: no CUDA, no devices, no device memory.
#include <string>

#include "backend/device_memory.h"
#include "fcn/common.h"
#include "fcn/gpu.h"

namespace fcn {

namespace {

[[noreturn]] void NoCuda() {
  throw RuntimeError("this fcn was built without CUDA (configure with -DFCN_USE_CUDA=ON)");
}

}  // namespace

namespace device {

void* Malloc(std::size_t) { NoCuda(); }
void Free(void*) noexcept {}
void CopyHostToDevice(void*, const void*, std::size_t) { NoCuda(); }
void CopyDeviceToHost(void*, const void*, std::size_t) { NoCuda(); }
void CopyDeviceToDevice(void*, const void*, std::size_t) { NoCuda(); }
void Zero(void*, std::size_t) { NoCuda(); }

}  // namespace device

namespace gpu {

bool Built() { return false; }
bool CudnnBuilt() { return false; }

int DeviceCount(std::string* why) {
  if (why != nullptr) *why = "this fcn was built without CUDA (configure with -DFCN_USE_CUDA=ON)";
  return 0;
}

std::string DeviceQuery(int) { NoCuda(); }

int ComputeCapability(int) { NoCuda(); }

void SetDevice(int) { NoCuda(); }

}  // namespace gpu

}  // namespace fcn
