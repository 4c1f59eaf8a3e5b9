// SPDX-License-Identifier: BSD-2-Clause
// Communicator: what data-parallel training needs from a collective engine (MPI between
// processes and hosts, NCCL between GPUs): broadcast, in-place sum all-reduce and barrier.
// The solver and the layers use only this interface; which engine is behind it is the
// caller's choice (fcntool train picks it, docs/distributed.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/exec_context.h"

namespace fcn {

/// A run of floats in the memory a communicator works on (its device()).
struct FloatSpan {
  float* data = nullptr;
  std::int64_t count = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  /// This process's rank in [0, size()) and the number of ranks.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "MPI" or "NCCL", for the log.
  virtual std::string name() const = 0;
  /// Where the float buffers given to AllReduceSum and BroadcastFloats live.
  virtual Device device() const = 0;

  /// Copies `bytes` bytes of host memory from rank `root` into every rank's buffer.
  virtual void Broadcast(void* data, std::size_t bytes, int root) = 0;
  /// Copies floats (in device() memory) from rank `root` to every rank, span by span.
  virtual void BroadcastFloats(const std::vector<FloatSpan>& spans, int root) = 0;
  /// Replaces each span, on every rank, by the sum over the ranks of that span (in place).
  /// Every rank passes spans of the same sizes in the same order; the result is the same
  /// on every rank. May be called from one thread other than the caller of the other
  /// methods, but never concurrently with them.
  virtual void AllReduceSum(const std::vector<FloatSpan>& spans) = 0;
  /// Sums floats held in host memory across the ranks (small control values: the loss,
  /// signal requests), in place.
  virtual void AllReduceHost(float* data, int count) = 0;
  /// Returns once every rank has called it.
  virtual void Barrier() = 0;
};

/// Host-side helpers built on Broadcast.
void BroadcastString(Communicator& comm, std::string* text, int root);

}  // namespace fcn
