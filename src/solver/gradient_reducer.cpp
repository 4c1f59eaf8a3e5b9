// SPDX-License-Identifier: BSD-2-Clause
// GradientReducer: buckets, the after-backward hand-off and the progress thread.
#include "solver/gradient_reducer.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>

namespace fcn {

GradientReducer::GradientReducer(Net* net, Communicator* comm, bool layer_wise,
                                 std::int64_t bucket_bytes, std::int64_t first_bucket_bytes)
    : net_(net), comm_(comm), layer_wise_(layer_wise) {
  // The lowest layer that uses each owned parameter (owners and sharers alike).
  const auto& params = net->params();
  const auto& owners = net->param_owners();
  std::map<const Blob*, int> ready;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Blob* owner =
        owners[i] < 0 ? params[i].get() : params[static_cast<std::size_t>(owners[i])].get();
    const int layer = net->param_layer_indices()[i].first;
    auto it = ready.find(owner);
    if (it == ready.end()) {
      ready.emplace(owner, layer);
    } else {
      it->second = std::min(it->second, layer);
    }
  }
  struct Entry {
    Blob* blob;
    int ready_layer;
    std::size_t order;
  };
  std::vector<Entry> entries;
  const auto& learnable = net->learnable_params();
  for (std::size_t k = 0; k < learnable.size(); ++k) {
    if (net->params_lr()[k] == 0) continue;
    entries.push_back({learnable[k], ready.at(learnable[k]), k});
  }
  // Reverse layer order; within a layer, the parameters' own order (a fixed order that every
  // rank computes alike).
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.ready_layer > b.ready_layer; });
  std::int64_t bytes = 0;
  for (const Entry& e : entries) {
    const std::int64_t limit = buckets_.size() <= 1 ? first_bucket_bytes : bucket_bytes;
    const std::int64_t size = e.blob->count() * static_cast<std::int64_t>(sizeof(float));
    if (buckets_.empty() || (bytes > 0 && bytes + size > limit)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(e.blob);
    buckets_.back().ready_layer = e.ready_layer;  // the lowest so far (entries descend)
    bytes += size;
    reduced_floats_ += e.blob->count();
  }
  net_->set_after_backward([this](int layer) { AfterBackward(layer); });
  thread_ = std::thread(&GradientReducer::ThreadMain, this);
}

GradientReducer::~GradientReducer() {
  net_->set_after_backward(nullptr);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GradientReducer::BeginPass(bool last) {
  armed_ = last && layer_wise_;
  next_ = 0;
}

void GradientReducer::AfterBackward(int layer) {
  if (!armed_) return;
  while (next_ < buckets_.size() && buckets_[next_].ready_layer >= layer) Enqueue(next_++);
}

void GradientReducer::Enqueue(std::size_t bucket) {
  // The pointers are taken here, on the training thread: a gradient kept in another layout
  // or on the other side of the device boundary is brought to the communicator's side now.
  std::vector<FloatSpan> spans;
  for (Blob* p : buckets_[bucket].params) {
    float* data = comm_->device() == Device::kCuda ? p->mutable_gpu_diff() : p->mutable_cpu_diff();
    spans.push_back({data, p->count()});
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(spans));
    ++in_flight_;
  }
  cv_.notify_all();
}

void GradientReducer::Finish() {
  armed_ = false;
  while (next_ < buckets_.size()) Enqueue(next_++);
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return in_flight_ == 0 || error_; });
  exposed_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (error_) std::rethrow_exception(error_);
}

double GradientReducer::reduce_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reduce_seconds_;
}

void GradientReducer::ThreadMain() {
  for (;;) {
    std::vector<FloatSpan> spans;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      spans = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr error;
    try {
      comm_->AllReduceSum(spans);
    } catch (...) {
      error = std::current_exception();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reduce_seconds_ += seconds;
      --in_flight_;
      if (error && !error_) error_ = error;
    }
    cv_.notify_all();
  }
}

}  // namespace fcn
