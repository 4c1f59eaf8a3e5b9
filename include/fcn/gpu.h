// SPDX-License-Identifier: BSD-2-Clause
// What the program can ask about CUDA devices, in every build. In a CPU-only build (the
// default) there are none; in a CUDA build (-DFCN_USE_CUDA=ON) the answers come from the CUDA
// runtime (never the driver API), and any runtime error (no driver, no device) means "none".
#pragma once

#include <string>

namespace fcn::gpu {

/// Whether this build has the CUDA backend.
bool Built();
/// Whether this build has the cuDNN convolution engine.
bool CudnnBuilt();
/// Usable CUDA devices: 0 in a CPU-only build, or when the runtime reports any error (for
/// example cudaErrorInsufficientDriver where no driver is installed); `why` then says why.
/// Never throws.
int DeviceCount(std::string* why = nullptr);
/// A readable description of device `id` (name, compute capability, memory, multiprocessors,
/// the runtime and driver versions), as Caffe's device_query prints it. Throws RuntimeError
/// when there is no such device.
std::string DeviceQuery(int id);
/// Device `id`'s compute capability as major * 10 + minor (80 for an A100, 90 for an H100).
/// Throws RuntimeError when there is no such device.
int ComputeCapability(int id);
/// Makes `id` the current device of the calling thread; throws RuntimeError (with the
/// runtime's message) when it cannot.
void SetDevice(int id);

}  // namespace fcn::gpu
