// SPDX-License-Identifier: BSD-2-Clause
// Data layer: set-up, the prefetch thread and its queues, and the saved state.
#include "layers/data.h"

#include <glog/logging.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "fcn/layer_registry.h"

namespace fcn {

const LayerSchema& DataLayer::Schema() {
  static const LayerSchema schema{"Data",
                                  0,
                                  0,
                                  1,
                                  -1,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"data_param", "transform_param"},
                                  CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(DataLayer)

DataLayer::DataLayer(const LayerParameter& param) : Layer(param) {
  const std::uint32_t prefetch = param.data_param().prefetch();
  if (prefetch == 0 || prefetch > 1024) {
    throw ConfigError(StrCat("data_param.prefetch must be in [1, 1024]; got ", prefetch));
  }
  prefetch_ = static_cast<int>(prefetch);
}

DataLayer::~DataLayer() { StopThread(); }

void DataLayer::LayerSetUp(const BlobVec&, const BlobVec& top) {
  StopThread();
  reader_ = CreateDataReader(layer_param_, rng());
  handed_state_ = reader_->SaveState();
  initial_state_ = handed_state_;
  free_.clear();
  full_.clear();
  error_ = nullptr;
  for (int i = 0; i < prefetch_; ++i) free_.push_back(std::make_unique<Slot>());
  // The first batch is read here, so that bad data fails the set-up and the tops get their
  // shapes; it is the first batch Forward hands out.
  std::unique_ptr<Slot> first = std::move(free_.front());
  free_.pop_front();
  reader_->Next(&first->batch);
  first->state_after = reader_->SaveState();
  CopyToTops(first->batch, top);
  for (std::size_t i = 0; i < top.size(); ++i) {
    std::vector<std::string> dims;
    for (const std::int64_t d : top[i]->shape()) dims.push_back(std::to_string(d));
    const std::string what = i == 0 ? "data" : layer_param_.top(static_cast<int>(i));
    LOG(INFO) << "output " << what << " size: " << Join(dims, ",");
  }
  full_.push_back(std::move(first));
  StartThread();
}

void DataLayer::Reshape(const BlobVec&, const BlobVec&) {}

void DataLayer::ForwardImpl(const ExecContext&, const BlobVec&, const BlobVec& top) {
  FCN_CHECK(reader_ != nullptr, "Data layer ", name(), " used before SetUp");
  if (error_) std::rethrow_exception(error_);
  std::unique_ptr<Slot> slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !full_.empty(); });
    slot = std::move(full_.front());
    full_.pop_front();
  }
  const std::exception_ptr error = slot->error;
  if (!error) {
    CopyToTops(slot->batch, top);
    handed_state_ = slot->state_after;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(slot));
  }
  cv_.notify_all();
  if (error) {
    error_ = error;
    std::rethrow_exception(error_);
  }
}

std::string DataLayer::SaveState() const { return handed_state_; }

void DataLayer::RestoreState(const std::string& state) {
  FCN_CHECK(reader_ != nullptr, "Data layer ", name(), " restored before SetUp");
  StopThread();
  try {
    reader_->RestoreState(state);
  } catch (...) {
    StartThread();
    throw;
  }
  while (!full_.empty()) {
    free_.push_back(std::move(full_.front()));
    full_.pop_front();
  }
  error_ = nullptr;
  handed_state_ = reader_->SaveState();
  StartThread();
}

void DataLayer::SetDataShard(int index, int count) {
  FCN_CHECK(reader_ != nullptr, "Data layer ", name(), " sharded before SetUp");
  FCN_CHECK(index >= 0 && index < count, "shard ", index, " of ", count);
  StopThread();
  reader_->SetShard(index, count);
  RestoreState(initial_state_);  // drops what was read ahead and restarts the thread
}

void DataLayer::StartThread() {
  stop_ = false;
  try {
    thread_ = std::thread(&DataLayer::ThreadMain, this);
  } catch (const std::system_error& e) {
    throw RuntimeError(
        StrCat("Data layer ", name(), ": cannot start the prefetch thread: ", e.what()));
  }
}

void DataLayer::StopThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DataLayer::ThreadMain() {
  for (;;) {
    std::unique_ptr<Slot> slot;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stop_ || !free_.empty(); });
      if (stop_) return;
      slot = std::move(free_.front());
      free_.pop_front();
    }
    slot->error = nullptr;
    bool failed = false;
    try {
      reader_->Next(&slot->batch);
      slot->state_after = reader_->SaveState();
    } catch (...) {
      slot->error = std::current_exception();
      failed = true;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      full_.push_back(std::move(slot));
    }
    cv_.notify_all();
    if (failed) return;
  }
}

void DataLayer::CopyToTops(const DataBatch& batch, const BlobVec& top) {
  FCN_CHECK(batch.data.size() == top.size(), batch.data.size(), " arrays for ", top.size(),
            " tops");
  for (std::size_t i = 0; i < top.size(); ++i) {
    top[i]->Reshape(batch.shapes[i]);
    std::copy(batch.data[i].begin(), batch.data[i].end(), top[i]->mutable_cpu_data());
  }
}

}  // namespace fcn
