// SPDX-License-Identifier: BSD-2-Clause
// Blob: an N-d float array with a data half and a diff (gradient) half of the same shape.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/common.h"
#include "fcn/exec_context.h"
#include "fcn/io.h"
#include "fcn/memory.h"

namespace fcn {

class BlobProto;

class Blob {
 public:
  Blob() = default;
  explicit Blob(const std::vector<std::int64_t>& shape) { Reshape(shape); }

  /// Changes the shape; memory is reallocated only when the element count grows beyond the
  /// capacity (so reshaping to a smaller image keeps the buffer). Throws ConfigError for a
  /// negative dimension.
  void Reshape(const std::vector<std::int64_t>& shape);
  void ReshapeLike(const Blob& other) { Reshape(other.shape()); }

  const std::vector<std::int64_t>& shape() const { return shape_; }
  /// Size of one axis; negative indices count from the end.
  std::int64_t shape(int axis) const {
    return shape_[static_cast<std::size_t>(CanonicalAxisIndex(axis))];
  }
  int num_axes() const { return static_cast<int>(shape_.size()); }
  std::int64_t count() const { return count_; }
  /// Product of the dimensions in [start, end).
  std::int64_t count(int start, int end) const;
  std::int64_t count(int start) const { return count(start, num_axes()); }
  /// Maps axis in [-num_axes, num_axes) to [0, num_axes); throws ConfigError otherwise.
  int CanonicalAxisIndex(int axis) const;
  std::string shape_string() const { return ShapeString(shape_); }

  // Legacy 4-D accessors (missing axes count as 1).
  std::int64_t LegacyShape(int index) const;

  const float* cpu_data() const;
  const float* cpu_diff() const;
  float* mutable_cpu_data();
  float* mutable_cpu_diff();
  const float* gpu_data() const;
  const float* gpu_diff() const;
  float* mutable_gpu_data();
  float* mutable_gpu_diff();
  /// The buffers on ctx's device: cpu_* on a CPU context, gpu_* on a CUDA one. Layers whose
  /// math runs through ForEachIndex and math:: calls use these, so one implementation serves
  /// both devices.
  const float* data(const ExecContext& ctx) const {
    return ctx.device() == Device::kCuda ? gpu_data() : cpu_data();
  }
  const float* diff(const ExecContext& ctx) const {
    return ctx.device() == Device::kCuda ? gpu_diff() : cpu_diff();
  }
  float* mutable_data(const ExecContext& ctx) {
    return ctx.device() == Device::kCuda ? mutable_gpu_data() : mutable_cpu_data();
  }
  float* mutable_diff(const ExecContext& ctx) {
    return ctx.device() == Device::kCuda ? mutable_gpu_diff() : mutable_cpu_diff();
  }

  /// The buffers themselves, for engines that keep their own host layouts
  /// (SyncedMemory::host_data_in); cpu_data() and the rest always give plain order.
  SyncedMemory& data_memory() const {
    FCN_CHECK(data_, "the blob has no shape yet");
    return *data_;
  }
  SyncedMemory& diff_memory() const {
    FCN_CHECK(diff_, "the blob has no shape yet");
    return *diff_;
  }

  /// Makes this blob use other's data (or diff) buffer. Shapes must have equal counts.
  void ShareData(const Blob& other);
  void ShareDiff(const Blob& other);
  bool SharesDataWith(const Blob& other) const { return data_ == other.data_; }
  bool SharesDiffWith(const Blob& other) const { return diff_ == other.diff_; }
  /// Frees the diff's memory (for every blob sharing it); the next use allocates it again,
  /// zero-filled. Net uses it to drop a gradient once the backward pass has consumed it.
  void ReleaseDiff() {
    if (diff_) diff_->Release();
  }
  /// Frees the data's memory (for every blob sharing it); the next use allocates it again,
  /// zero-filled. Net uses it in inference to drop an activation once its last reader ran.
  void ReleaseData() {
    if (data_) data_->Release();
  }
  bool data_allocated() const {
    return data_ && data_->head() != SyncedMemory::Head::kUninitialized;
  }
  /// The buffer object behind the data (blobs that ShareData have the same one).
  const void* data_identity() const { return data_.get(); }
  /// Whether the diff holds memory (false before first use and after ReleaseDiff).
  bool diff_allocated() const {
    return diff_ && diff_->head() != SyncedMemory::Head::kUninitialized;
  }

  /// Reads the values (and the shape, when reshape is true) of a BlobProto, honouring the
  /// legacy num/channels/height/width and double_data fields. Throws ConfigError when the
  /// value count disagrees with the shape, or when reshape is false and shapes differ.
  /// `delivered` >= 0 says that many values are already in this blob's data (a streamed load
  /// read them there, ForEachWeightsLayer) and the proto carries none of its own.
  void FromProto(const BlobProto& proto, bool reshape = true, std::int64_t delivered = -1);
  /// Writes shape + float data (+ diff when write_diff).
  void ToProto(BlobProto* proto, bool write_diff = false) const;
  /// Caffe's ShapeEquals: legacy 4-D protos compare right-aligned with leading 1s.
  bool ShapeEquals(const BlobProto& proto) const;

  void CopyFrom(const Blob& source, bool copy_diff = false, bool reshape = false);
  void scale_data(float factor);
  void scale_diff(float factor);
  double asum_data() const;
  double sumsq_diff() const;
  /// Zeroes the diff (data untouched).
  void ZeroDiff();

  /// The pool that this blob's host buffers come from and go back to (Net gives each of its
  /// blobs the net's pool); applies to the buffers it holds now and to those a reshape makes.
  void set_host_pool(const std::shared_ptr<HostBufferPool>& pool) {
    pool_ = pool;
    if (data_) data_->set_host_pool(pool);
    if (diff_) diff_->set_host_pool(pool);
  }

  /// Bytes of one buffer (data or diff) at the current capacity.
  std::size_t capacity_bytes() const { return capacity_ * sizeof(float); }

 private:
  std::shared_ptr<SyncedMemory> data_;
  std::shared_ptr<SyncedMemory> diff_;
  std::shared_ptr<HostBufferPool> pool_;
  std::vector<std::int64_t> shape_;
  std::int64_t count_ = 0;
  std::int64_t capacity_ = 0;
};

}  // namespace fcn
