// SPDX-License-Identifier: BSD-2-Clause
// The NCCL communicator (CUDA builds with NCCL): device buffers, one GPU per rank; the NCCL
// unique id goes from rank 0 to the others over MPI, which also carries the host-side
// messages (control values, strings).
#pragma once

#include <memory>

#include "fcn/communicator.h"
#include "fcn/mpi_communicator.h"

namespace fcn {

/// Creates the NCCL communicator of this rank on CUDA device `device_id` (every rank of
/// `mpi` calls it together). Throws RuntimeError when NCCL cannot start (no device, or a
/// build without NCCL).
std::unique_ptr<Communicator> CreateNcclCommunicator(std::shared_ptr<MpiCommunicator> mpi,
                                                     int device_id);

}  // namespace fcn
