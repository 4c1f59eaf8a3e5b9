// SPDX-License-Identifier: BSD-2-Clause
#include <cstdlib>

#include "fcn/common.h"
#include "fcn/exec_context.h"

namespace fcn {

float* Workspace::Get(std::int64_t count) {
  if (count > capacity_) {
    host_.reset();
    const std::size_t bytes = (static_cast<std::size_t>(count) * sizeof(float) + 63) / 64 * 64;
    host_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!host_) throw RuntimeError(StrCat("out of memory allocating a ", bytes, "-byte workspace"));
    capacity_ = count;
  }
  return host_.get();
}

}  // namespace fcn
