// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/blob.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

void Blob::Reshape(const std::vector<std::int64_t>& shape) {
  std::int64_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      throw ConfigError(StrCat("negative dimension ", shape[i], " at axis ", i, " of shape ",
                               ShapeString(shape)));
    }
    if (shape[i] != 0 && count > INT64_MAX / shape[i]) {
      throw ConfigError(StrCat("blob shape ", ShapeString(shape), " is too large"));
    }
    count *= shape[i];
  }
  shape_ = shape;
  count_ = count;
  // A buffer taken by ShareData/ShareDiff may be smaller than this blob's own capacity.
  const std::size_t bytes = static_cast<std::size_t>(count_) * sizeof(float);
  if (count_ > capacity_ || !data_ || !diff_ || data_->size() < bytes || diff_->size() < bytes) {
    capacity_ = count_;
    data_ = std::make_shared<SyncedMemory>(static_cast<std::size_t>(capacity_) * sizeof(float));
    diff_ = std::make_shared<SyncedMemory>(static_cast<std::size_t>(capacity_) * sizeof(float));
    data_->set_host_pool(pool_);
    diff_->set_host_pool(pool_);
  }
}

std::int64_t Blob::count(int start, int end) const {
  FCN_CHECK(start >= 0 && start <= end && end <= num_axes(), "bad axis range [", start, ", ", end,
            ") for ", num_axes(), " axes");
  std::int64_t c = 1;
  for (int i = start; i < end; ++i) c *= shape_[static_cast<std::size_t>(i)];
  return c;
}

int Blob::CanonicalAxisIndex(int axis) const {
  const int n = num_axes();
  if (axis < -n || axis >= n) {
    throw ConfigError(
        StrCat("axis ", axis, " out of range for a ", n, "-D blob of shape ", shape_string()));
  }
  return axis < 0 ? axis + n : axis;
}

std::int64_t Blob::LegacyShape(int index) const {
  FCN_CHECK(num_axes() <= 4, "legacy accessors need <= 4 axes, have ", num_axes());
  if (index >= num_axes() || index < -num_axes()) return 1;
  return shape(index);
}

const float* Blob::cpu_data() const {
  FCN_CHECK(data_, "blob has no data");
  return static_cast<const float*>(data_->host_data());
}
const float* Blob::cpu_diff() const {
  FCN_CHECK(diff_, "blob has no diff");
  return static_cast<const float*>(diff_->host_data());
}
float* Blob::mutable_cpu_data() {
  FCN_CHECK(data_, "blob has no data");
  return static_cast<float*>(data_->mutable_host_data());
}
float* Blob::mutable_cpu_diff() {
  FCN_CHECK(diff_, "blob has no diff");
  return static_cast<float*>(diff_->mutable_host_data());
}
const float* Blob::gpu_data() const { return static_cast<const float*>(data_->device_data()); }
const float* Blob::gpu_diff() const { return static_cast<const float*>(diff_->device_data()); }
float* Blob::mutable_gpu_data() { return static_cast<float*>(data_->mutable_device_data()); }
float* Blob::mutable_gpu_diff() { return static_cast<float*>(diff_->mutable_device_data()); }

void Blob::ShareData(const Blob& other) {
  FCN_CHECK(count_ == other.count_, "ShareData count mismatch ", count_, " vs ", other.count_);
  data_ = other.data_;
}

void Blob::ShareDiff(const Blob& other) {
  FCN_CHECK(count_ == other.count_, "ShareDiff count mismatch ", count_, " vs ", other.count_);
  diff_ = other.diff_;
}

bool Blob::ShapeEquals(const BlobProto& proto) const {
  if (proto.has_num() || proto.has_channels() || proto.has_height() || proto.has_width()) {
    // Legacy 4-D: compare right-aligned, missing leading axes count as 1.
    return num_axes() <= 4 && LegacyShape(-4) == proto.num() &&
           LegacyShape(-3) == proto.channels() && LegacyShape(-2) == proto.height() &&
           LegacyShape(-1) == proto.width();
  }
  if (proto.shape().dim_size() != num_axes()) return false;
  for (int i = 0; i < num_axes(); ++i) {
    if (proto.shape().dim(i) != shape_[static_cast<std::size_t>(i)]) return false;
  }
  return true;
}

void Blob::FromProto(const BlobProto& proto, bool reshape, std::int64_t delivered) {
  const std::vector<std::int64_t> proto_shape = ProtoShape(proto);
  // A shape that claims more values than the proto carries is refused before any memory is
  // taken for it (a damaged file can claim 2^29 elements in a few bytes).
  std::int64_t claimed = 1;
  for (std::int64_t d : proto_shape) {
    if (d < 0 || (d > 0 && claimed > std::numeric_limits<std::int64_t>::max() / 4 / d)) {
      throw ConfigError(StrCat("blob shape ", ShapeString(proto_shape), " is not a valid size"));
    }
    claimed *= d;
  }
  const std::int64_t stored =
      delivered >= 0
          ? delivered + proto.data_size() + proto.double_data_size()
          : (proto.double_data_size() > 0 ? proto.double_data_size() : proto.data_size());
  if (stored != claimed) {
    throw ConfigError(StrCat("blob holds ", stored,
                             proto.double_data_size() > 0 ? " double values" : " values",
                             " for shape ", ShapeString(proto_shape), " (", claimed, " expected)"));
  }
  const std::int64_t diffs =
      proto.double_diff_size() > 0 ? proto.double_diff_size() : proto.diff_size();
  if (diffs != 0 && diffs != claimed) {
    throw ConfigError(StrCat("blob diff count mismatch: ", diffs, " diff values for shape ",
                             ShapeString(proto_shape), " (", claimed, " expected)"));
  }
  if (reshape) {
    Reshape(proto_shape);
  } else if (!ShapeEquals(proto)) {
    throw ConfigError(
        StrCat("shape mismatch: stored ", ShapeString(proto_shape), ", expected ", shape_string()));
  }
  if (delivered >= 0) {
    // Already in place; the count above matched, so the proto holds no values of its own.
    FCN_CHECK(delivered == count_, "delivered ", delivered, " values for ", count_);
  } else if (proto.double_data_size() > 0) {
    float* data = mutable_cpu_data();
    if (proto.double_data_size() != count_) {
      throw ConfigError(StrCat("blob holds ", proto.double_data_size(), " double values for shape ",
                               ShapeString(proto_shape)));
    }
    for (std::int64_t i = 0; i < count_; ++i)
      data[i] = static_cast<float>(proto.double_data(static_cast<int>(i)));
  } else {
    float* data = mutable_cpu_data();
    if (proto.data_size() != count_) {
      throw ConfigError(StrCat("blob holds ", proto.data_size(), " values for shape ",
                               ShapeString(proto_shape), " (", count_, " expected)"));
    }
    if (count_)
      std::memcpy(data, proto.data().data(), static_cast<std::size_t>(count_) * sizeof(float));
  }
  if (proto.double_diff_size() > 0) {
    if (proto.double_diff_size() != count_) throw ConfigError("blob diff count mismatch");
    float* diff = mutable_cpu_diff();
    for (std::int64_t i = 0; i < count_; ++i)
      diff[i] = static_cast<float>(proto.double_diff(static_cast<int>(i)));
  } else if (proto.diff_size() > 0) {
    if (proto.diff_size() != count_) throw ConfigError("blob diff count mismatch");
    std::memcpy(mutable_cpu_diff(), proto.diff().data(),
                static_cast<std::size_t>(count_) * sizeof(float));
  }
}

void Blob::ToProto(BlobProto* proto, bool write_diff) const {
  proto->Clear();
  for (std::int64_t d : shape_) proto->mutable_shape()->add_dim(d);
  const float* data = cpu_data();
  proto->mutable_data()->Reserve(static_cast<int>(count_));
  proto->mutable_data()->Add(data, data + count_);
  if (write_diff) {
    const float* diff = cpu_diff();
    proto->mutable_diff()->Reserve(static_cast<int>(count_));
    proto->mutable_diff()->Add(diff, diff + count_);
  }
}

void Blob::CopyFrom(const Blob& source, bool copy_diff, bool reshape) {
  if (source.count() != count_ || source.shape() != shape_) {
    FCN_CHECK(reshape, "CopyFrom shape mismatch ", source.shape_string(), " vs ", shape_string());
    ReshapeLike(source);
  }
  if (count_ == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(count_) * sizeof(float);
  if (copy_diff) {
    std::memcpy(mutable_cpu_diff(), source.cpu_diff(), bytes);
  } else {
    std::memcpy(mutable_cpu_data(), source.cpu_data(), bytes);
  }
}

void Blob::scale_data(float factor) {
  float* d = mutable_cpu_data();
  for (std::int64_t i = 0; i < count_; ++i) d[i] *= factor;
}

void Blob::scale_diff(float factor) {
  float* d = mutable_cpu_diff();
  for (std::int64_t i = 0; i < count_; ++i) d[i] *= factor;
}

double Blob::asum_data() const {
  const float* d = cpu_data();
  double s = 0;
  for (std::int64_t i = 0; i < count_; ++i) s += std::fabs(d[i]);
  return s;
}

double Blob::sumsq_diff() const {
  const float* d = cpu_diff();
  double s = 0;
  for (std::int64_t i = 0; i < count_; ++i) s += static_cast<double>(d[i]) * d[i];
  return s;
}

void Blob::ZeroDiff() {
  // Zeroed where it is newest: a GPU net's parameter diffs stay on the device.
  if (count_) {
    FCN_CHECK(diff_, "blob has no diff");
    diff_->ZeroFill();
  }
}

}  // namespace fcn
