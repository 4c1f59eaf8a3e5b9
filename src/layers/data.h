// SPDX-License-Identifier: BSD-2-Clause
// Data layer: batches from an LMDB (Caffe Datum databases and fcn segmentation databases),
// prefetched on a background thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fcn/layer.h"
#include "layers/data_reader.h"

namespace fcn {

// Data: no bottoms, >= 1 tops, no backward. data_param.source names an LMDB directory
// (backend: LMDB is required; LEVELDB is refused with a ConfigError). Two modes, chosen by
// the database:
//
// Caffe mode (no `~meta` record; what convert_imageset writes): Caffe's Data layer. Records
// (one serialized Datum each) are read in key order and wrap to the first after the last
// ("Restarting data prefetching from start."); rand_skip skips rng() % rand_skip
// records at set-up. top[0] = the transformed images, batch_size x C x H' x W', shaped by
// the first Datum of each batch (every Datum of a batch must have its size unless cropping);
// top[1] (optional) = Datum.label as float, shape (batch_size). transform_param as Caffe's
// DataTransformer (layers/data_transformer.h: crop_size, mirror, mean_file, mean_value,
// scale, force_color, force_gray); its RNG is seeded from rng() at set-up.
// data_param.force_encoded_color decodes encoded Datums as colour.
//
// Segmentation mode (a `~meta` JSON record {"format": "fcn-seg-1", "count": N, "fields":
// [...]}): one LMDB holds every field of every sample, one Datum per record, keyed
// "<index:08d>_<sample id>/<field>". Each top reads one field: its top name, or
// data_param.field (once per top). Samples come in key order (wrapping), or with
// `shuffle: true` drawn uniformly with replacement from an RNG seeded by `seed` (default
// 1337, FCN's reference). transform_param (mean_value per channel in BGR order, scale,
// force_color/force_gray) applies to every top whose field is not a label field (`label`,
// `sem`, `geo`); label tops are copied as they are. data_param.field_transform, once per
// top, gives each top its own transform instead (e.g. colour and HHA means, depth 7.844;
// `field_transform {}` leaves a top untouched). crop_size, mirror and mean_file are refused
// here. At batch_size 1 each top takes the whole image's shape, 1 x C x H x W; a larger
// batch pads every top to the largest H and W in the batch, at the bottom and right: label
// tops with pad_label (default 255), other tops with 0 (after mean subtraction). The fields
// of one sample must have one height and width. Float Datums (float_data) give float tops.
//
// Both modes: raw (CHW uint8), float (float_data) and encoded (JPEG/PNG, OpenCV, BGR)
// Datums. A background thread keeps `prefetch` (default 4) batches ready; the order of
// every random draw is fixed, so the batches do not depend on thread timing. SaveState()
// describes the state as of the last batch handed out (what the next Forward returns),
// whatever the thread has read ahead; RestoreState() continues from there exactly.
// Bad databases and records throw ConfigError naming the path and the key: at set-up for
// the first batch, otherwise from the Forward that would have returned the bad batch.
class DataLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit DataLayer(const LayerParameter& param);
  /// Stops the prefetch thread (after the batch it is reading, if any).
  ~DataLayer() override;

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  /// Nothing: Forward shapes the tops to each batch.
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  std::string SaveState() const override;
  void RestoreState(const std::string& state) override;
  /// Restarts from the set-up position with the reader sharded (DataReader::SetShard).
  void SetDataShard(int index, int count) override;

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;

 private:
  struct Slot {
    DataBatch batch;
    std::string state_after;  // the reader's state once this batch was read
    std::exception_ptr error;
  };

  void StartThread();
  void StopThread();
  void ThreadMain();
  static void CopyToTops(const DataBatch& batch, const BlobVec& top);

  int prefetch_ = 4;
  std::unique_ptr<DataReader> reader_;
  std::string handed_state_;   // the reader's state after the last batch handed out
  std::string initial_state_;  // the reader's state at set-up, before the first batch

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Slot>> free_;
  std::deque<std::unique_ptr<Slot>> full_;
  bool stop_ = false;
  std::exception_ptr error_;  // the first error the thread met, rethrown by every Forward
  std::thread thread_;
};

}  // namespace fcn
