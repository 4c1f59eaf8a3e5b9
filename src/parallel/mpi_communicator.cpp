// SPDX-License-Identifier: BSD-2-Clause
// MpiCommunicator: MPI_Bcast / MPI_Allreduce over MPI_COMM_WORLD and the watchdog.
#include "fcn/mpi_communicator.h"

#include <glog/logging.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "fcn/common.h"

namespace fcn {

namespace {

bool mpi_initialised_by_us = false;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw RuntimeError(
      StrCat(what, " failed: ", std::string(text, static_cast<std::size_t>(length))));
}

// MPI counts are ints: long buffers go in pieces.
constexpr std::int64_t kMaxCount = INT_MAX / 2;

}  // namespace

void InitMpi(int* argc, char*** argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (initialised) return;
  int provided = 0;
  Check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  mpi_initialised_by_us = true;
  // Errors come back as codes (turned into exceptions) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_SERIALIZED) {
    throw RuntimeError(
        "the MPI library gives no thread support (MPI_THREAD_SERIALIZED is needed for the "
        "gradient thread)");
  }
}

void FinalizeMpi() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (mpi_initialised_by_us && !finalised) MPI_Finalize();
}

void AbortMpi(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

class MpiCommunicator::Busy {
 public:
  Busy(MpiCommunicator* comm, const char* op) : comm_(comm) {
    comm_->busy_op_ = op;
    comm_->busy_since_ms_ = NowMs();
  }
  ~Busy() { comm_->busy_since_ms_ = 0; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  MpiCommunicator* comm_;
};

MpiCommunicator::MpiCommunicator(double timeout_s) : timeout_s_(timeout_s) {
  Check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  Check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  if (timeout_s_ > 0) watchdog_ = std::thread(&MpiCommunicator::Watch, this);
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void MpiCommunicator::Watch() {
  const auto limit_ms = static_cast<std::int64_t>(timeout_s_ * 1000);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; })) {
    const std::int64_t since = busy_since_ms_;
    if (since == 0 || NowMs() - since < limit_ms) continue;
    // Another rank died, or its host stopped answering: MPI itself may wait forever.
    LOG(ERROR) << "Rank " << rank_ << ": " << busy_op_.load() << " has waited " << timeout_s_
               << " s (--comm_timeout) for the other ranks; one of them has died or its host "
                  "stopped answering. Exiting with code 1 (the last snapshot on disk stays "
                  "loadable).";
    google::FlushLogFiles(google::GLOG_INFO);
    std::_Exit(1);
  }
}

void MpiCommunicator::Broadcast(void* data, std::size_t bytes, int root) {
  Busy busy(this, "MPI_Bcast");
  auto* p = static_cast<char*>(data);
  for (std::size_t done = 0; done < bytes;) {
    const auto n = static_cast<int>(std::min<std::size_t>(bytes - done, kMaxCount));
    Check(MPI_Bcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    done += static_cast<std::size_t>(n);
  }
}

void MpiCommunicator::BroadcastFloats(const std::vector<FloatSpan>& spans, int root) {
  for (const FloatSpan& s : spans) {
    Broadcast(s.data, static_cast<std::size_t>(s.count) * sizeof(float), root);
  }
}

void MpiCommunicator::AllReduceSum(const std::vector<FloatSpan>& spans) {
  Busy busy(this, "MPI_Allreduce");
  // Non-blocking, and tested with short sleeps once it has run for a while: a blocking
  // MPI_Allreduce spins on a core while it waits for the other ranks to reach the same
  // bucket, a core that the backward pass of this rank needs.
  auto reduce = [](float* data, std::int64_t count) {
    for (std::int64_t done = 0; done < count;) {
      const auto n = static_cast<int>(std::min(count - done, kMaxCount));
      MPI_Request request = MPI_REQUEST_NULL;
      Check(MPI_Iallreduce(MPI_IN_PLACE, data + done, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                           &request),
            "MPI_Iallreduce");
      const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      for (int finished = 0;;) {
        Check(MPI_Test(&request, &finished, MPI_STATUS_IGNORE), "MPI_Test");
        if (finished) break;
        if (std::chrono::steady_clock::now() > spin_until) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
      }
      done += n;
    }
  };
  if (spans.size() == 1) {
    reduce(spans[0].data, spans[0].count);
    return;
  }
  // One call per bucket: its spans packed into one buffer and back.
  std::int64_t total = 0;
  for (const FloatSpan& s : spans) total += s.count;
  staging_.resize(static_cast<std::size_t>(total));
  std::int64_t offset = 0;
  for (const FloatSpan& s : spans) {
    std::memcpy(staging_.data() + offset, s.data,
                static_cast<std::size_t>(s.count) * sizeof(float));
    offset += s.count;
  }
  reduce(staging_.data(), total);
  offset = 0;
  for (const FloatSpan& s : spans) {
    std::memcpy(s.data, staging_.data() + offset,
                static_cast<std::size_t>(s.count) * sizeof(float));
    offset += s.count;
  }
}

void MpiCommunicator::AllReduceHost(float* data, int count) {
  Busy busy(this, "MPI_Allreduce");
  Check(MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

void MpiCommunicator::Barrier() {
  Busy busy(this, "MPI_Barrier");
  Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

}  // namespace fcn
