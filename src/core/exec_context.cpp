// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/exec_context.h"

#include <cctype>
#include <cstdlib>
#include <string>

#include "backend/cuda/handles.h"
#include "backend/device_memory.h"
#include "fcn/common.h"
#include "fcn/gpu.h"

namespace fcn {

Workspace::~Workspace() { Release(); }

void Workspace::Release() {
  if (device_ == Device::kCuda) {
    device::Free(buffer_);
  } else {
    std::free(buffer_);
  }
  buffer_ = nullptr;
  capacity_ = 0;
}

float* Workspace::Get(std::int64_t count) {
  if (count > capacity_) {
    Release();
    const std::size_t bytes = (static_cast<std::size_t>(count) * sizeof(float) + 63) / 64 * 64;
    if (device_ == Device::kCuda) {
      buffer_ = static_cast<float*>(device::Malloc(bytes));
    } else {
      buffer_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (buffer_ == nullptr) {
        throw RuntimeError(StrCat("out of memory allocating a ", bytes, "-byte workspace"));
      }
    }
    capacity_ = count;
  }
  return buffer_;
}

const char* PrecisionName(Precision precision) {
  return precision == Precision::kBfloat16 ? "bf16" : "fp32";
}

bool PrecisionFromName(const std::string& name, Precision* precision) {
  for (Precision p : {Precision::kFloat32, Precision::kBfloat16}) {
    std::string upper = PrecisionName(p);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (name == PrecisionName(p) || name == upper) {
      *precision = p;
      return true;
    }
  }
  return false;
}

namespace {
Options OnDevice(Device device, int device_id) {
  Options options;
  options.device = device;
  options.device_id = device_id;
  return options;
}
}  // namespace

ExecContext::ExecContext(Device device, int device_id) : ExecContext(OnDevice(device, device_id)) {}

ExecContext::ExecContext(const Options& options)
    : options_(options),
      device_(options.device),
      device_id_(options.device_id),
      workspace_(options.device) {
  if (device_ == Device::kCuda) {
    gpu::SetDevice(device_id_);
    Options host = options_;
    host.device = Device::kCpu;
    host.device_id = 0;
    host_ = std::make_unique<ExecContext>(host);
  }
}

ExecContext::~ExecContext() = default;

GpuHandles& ExecContext::gpu() const {
  FCN_CHECK(device_ == Device::kCuda, "GPU handles requested on a CPU context");
  if (!gpu_) gpu_ = std::make_unique<GpuHandles>();
  return *gpu_;
}

}  // namespace fcn
