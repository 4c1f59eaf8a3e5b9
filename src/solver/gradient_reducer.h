// SPDX-License-Identifier: BSD-2-Clause
// GradientReducer: sums the parameter gradients of a training net across the ranks of a
// Communicator, in buckets taken in a fixed reverse-layer order, on a progress thread that
// overlaps the backward pass (docs/distributed.md).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "fcn/communicator.h"
#include "fcn/net.h"

namespace fcn {

class GradientReducer {
 public:
  /// Buckets hold parameters in the order their gradients become final in a backward pass
  /// (the lowest layer using a parameter, shared ones included, decides), up to
  /// `bucket_bytes` each (the first bucket up to `first_bucket_bytes`, so that the first
  /// reduction starts early). Parameters with lr_mult 0 are left out (their gradients are
  /// never used). With `layer_wise`, a bucket is handed to the progress thread as soon as
  /// the backward pass is past its parameters; otherwise everything is reduced by Finish().
  GradientReducer(Net* net, Communicator* comm, bool layer_wise, std::int64_t bucket_bytes,
                  std::int64_t first_bucket_bytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Before each forward-backward pass of an iteration; `last` arms the layer-wise hand-off
  /// for the last pass (earlier passes of iter_size still add to the gradients).
  void BeginPass(bool last);
  /// The net's after-backward hook.
  void AfterBackward(int layer);
  /// After the last pass: hands over what is left, waits until every bucket is summed, and
  /// rethrows an error of the progress thread.
  void Finish();

  std::size_t num_buckets() const { return buckets_.size(); }
  std::int64_t reduced_floats() const { return reduced_floats_; }
  /// Seconds the progress thread spent in all-reduce calls, and seconds Finish() waited for
  /// it (the part of the reduction the backward pass did not hide), since construction.
  double reduce_seconds() const;
  double exposed_seconds() const { return exposed_seconds_; }

 private:
  struct Bucket {
    std::vector<Blob*> params;
    int ready_layer = 0;  // the bucket is final once the backward of this layer has run
  };
  void Enqueue(std::size_t bucket);
  void ThreadMain();

  Net* net_;
  Communicator* comm_;
  bool layer_wise_;
  std::vector<Bucket> buckets_;
  std::int64_t reduced_floats_ = 0;
  bool armed_ = false;
  std::size_t next_ = 0;  // next bucket to hand over in this iteration

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::vector<FloatSpan>> queue_;
  std::size_t in_flight_ = 0;  // handed over and not yet summed
  bool stop_ = false;
  std::exception_ptr error_;
  double reduce_seconds_ = 0;
  double exposed_seconds_ = 0;
  std::thread thread_;
};

}  // namespace fcn
