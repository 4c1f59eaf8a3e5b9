// SPDX-License-Identifier: BSD-2-Clause
// DataReader: the producer side of the Data layer (database, order, decoding, transform).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"
#include "fcn/rng.h"

namespace fcn {

/// One batch: a float array and its shape for each top of the Data layer.
struct DataBatch {
  std::vector<std::vector<float>> data;
  std::vector<std::vector<std::int64_t>> shapes;
};

/// Reads batches from an LMDB in a fixed, seeded order. Not thread-safe: one thread uses
/// it at a time (the Data layer's prefetch thread, or the layer itself while that thread is
/// stopped). Everything that decides the next batch is in SaveState(), so a reader restored
/// from a saved state produces the same batches as the one that saved it.
class DataReader {
 public:
  virtual ~DataReader() = default;

  /// Fills `batch` (buffers are reused) with the next batch_size samples. Throws
  /// ConfigError naming the database and record for bad records.
  virtual void Next(DataBatch* batch) = 0;
  /// The position and RNG states, as text.
  virtual std::string SaveState() const = 0;
  /// Restores SaveState()'s text; throws ConfigError (and changes nothing) when the text is
  /// not a state of a reader of this kind over a database of this size.
  virtual void RestoreState(const std::string& state) = 0;
  /// Data-parallel reading (Layer::SetDataShard): from now on each Next() passes over
  /// index x batch_size samples (or draws), reads batch_size, and passes over the
  /// (count - 1 - index) x batch_size that follow, so that the position (and the order RNG)
  /// after Next() is where the one-process reader would be after `count` batches. Samples
  /// passed over are neither read nor decoded. (index, count) = (0, 1) reads everything.
  void SetShard(int index, int count) {
    shard_index_ = index;
    shard_count_ = count;
  }

 protected:
  int shard_index_ = 0;
  int shard_count_ = 1;
};

/// Opens the database named by `param` (data_param.source, which must be an LMDB) and
/// returns the reader for it: the segmentation reader when the database has a `~meta`
/// record, Caffe's sequential reader otherwise. Validates the parameter against the
/// database (fields, transforms, top count) and seeds the transform RNG from `run_rng`
/// (the layer's, Layer::rng()) when the transform is random. Throws ConfigError.
std::unique_ptr<DataReader> CreateDataReader(const LayerParameter& param, Rng& run_rng);

}  // namespace fcn
