// SPDX-License-Identifier: BSD-2-Clause
// The MPI communicator (OpenMPI): host buffers over MPI_COMM_WORLD, with a watchdog that
// ends the process when a collective waits longer than a bound (a dead rank or a host that
// stopped answering must not hang the others forever).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fcn/communicator.h"

namespace fcn {

/// MPI_Init_thread once per process (asks for MPI_THREAD_MULTIPLE; the gradient thread and
/// the training thread never call MPI at once, so MPI_THREAD_SERIALIZED is enough).
/// Throws RuntimeError when MPI does not give at least SERIALIZED.
void InitMpi(int* argc, char*** argv);
/// MPI_Finalize, when InitMpi ran.
void FinalizeMpi();
/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank (after an error on this one).
[[noreturn]] void AbortMpi(int code);

class MpiCommunicator final : public Communicator {
 public:
  /// Over MPI_COMM_WORLD. A collective that has not returned after `timeout_s` seconds
  /// makes the watchdog log which one and end the process with exit code 1 (mpirun then
  /// ends the other ranks); 0 disables the watchdog.
  explicit MpiCommunicator(double timeout_s);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "MPI"; }
  Device device() const override { return Device::kCpu; }
  void Broadcast(void* data, std::size_t bytes, int root) override;
  void BroadcastFloats(const std::vector<FloatSpan>& spans, int root) override;
  void AllReduceSum(const std::vector<FloatSpan>& spans) override;
  void AllReduceHost(float* data, int count) override;
  void Barrier() override;

 private:
  class Busy;  // marks a collective in progress for the watchdog
  void Watch();

  int rank_ = 0;
  int size_ = 1;
  double timeout_s_;
  std::vector<float> staging_;  // several spans are packed into one all-reduce
  std::atomic<std::int64_t> busy_since_ms_{0};
  std::atomic<const char*> busy_op_{""};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread watchdog_;
};

}  // namespace fcn
