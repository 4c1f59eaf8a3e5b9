// SPDX-License-Identifier: BSD-2-Clause
// Builds without NCCL (CPU builds, or CUDA without NCCL): GPU ranks are refused clearly.
#include "fcn/common.h"
#include "fcn/nccl_communicator.h"

namespace fcn {

std::unique_ptr<Communicator> CreateNcclCommunicator(std::shared_ptr<MpiCommunicator>, int) {
  throw RuntimeError(
      "this fcn was built without NCCL (a CUDA build finds it under /usr/local/cuda): GPU "
      "ranks cannot be joined; train on CPU ranks or rebuild with -DFCN_USE_CUDA=ON");
}

}  // namespace fcn
