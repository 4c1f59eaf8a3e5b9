// SPDX-License-Identifier: BSD-2-Clause
// Raw device memory for SyncedMemory and Workspace. In a CPU-only build every call throws
// (nothing ever asks, since no CUDA ExecContext can be made there).
#pragma once

#include <cstddef>

namespace fcn::device {

/// cudaMalloc; throws RuntimeError naming the size when the device has no room.
void* Malloc(std::size_t bytes);
/// cudaFree; errors are ignored (it runs in destructors).
void Free(void* pointer) noexcept;
void CopyHostToDevice(void* dst, const void* src, std::size_t bytes);
void CopyDeviceToHost(void* dst, const void* src, std::size_t bytes);
void CopyDeviceToDevice(void* dst, const void* src, std::size_t bytes);
void Zero(void* pointer, std::size_t bytes);

}  // namespace fcn::device
