// SPDX-License-Identifier: BSD-2-Clause
// DataReader implementations: Caffe's sequential Datum reader and the segmentation reader
// over one LMDB per split (record format in src/layers/data.h).
#include "layers/data_reader.h"

#include <glog/logging.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <utility>

#include "fcn/common.h"
#include "fcn/image_codec.h"
#include "fcn/lmdb_db.h"
#include "fcn/rng.h"
#include "layers/data_transformer.h"

namespace fcn {

namespace {

constexpr char kMetaKey[] = "~meta";

// A batch holds distinct samples of one pass over the database: a batch larger than the
// database is a mistake (50000 of 8 records would take 6000 times the memory meant).
void CheckBatchFits(std::int64_t batch_size, std::int64_t samples, const std::string& source) {
  if (samples > 0 && batch_size > samples) {  // an empty database has its own message
    throw ConfigError(StrCat("data_param.batch_size ", batch_size, " is larger than the ", samples,
                             " sample(s) of ", source));
  }
}
constexpr char kMetaFormat[] = "fcn-seg-1";
constexpr char kStateTag[] = "fcn-data-state 1";

std::string RecordName(const std::string& path, std::string_view key) {
  return StrCat(path, ": record \"", PrintableKey(key), "\"");
}

void ParseDatum(std::string_view value, const std::string& what, Datum* datum) {
  if (!datum->ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    throw ConfigError(StrCat(what, ": not a serialized Datum (", value.size(), " bytes)"));
  }
}

// The text form older fcn versions wrote: the tag line, then one "name value" line per item.
// Read into the message so that .solverstate files written before it still resume.
DataReaderState ParseTextState(const std::string& state) {
  std::istringstream in(state);
  std::string line;
  std::getline(in, line);  // the tag, checked by the caller
  std::map<std::string, std::string> items;
  while (std::getline(in, line)) {
    const std::size_t space = line.find(' ');
    if (space == std::string::npos) {
      throw ConfigError(StrCat("the saved Data layer state has a malformed line \"", line, "\""));
    }
    items[line.substr(0, space)] = line.substr(space + 1);
  }
  auto int_item = [&](const std::string& name) {
    const std::string& text = items.at(name);
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) {
      throw ConfigError(
          StrCat("the saved Data layer state has a bad \"", name, "\" entry: ", text));
    }
    return static_cast<std::int64_t>(value);
  };
  DataReaderState parsed;
  if (items.count("kind")) parsed.set_kind(items["kind"]);
  if (items.count("records")) parsed.set_records(int_item("records"));
  if (items.count("position")) parsed.set_position(int_item("position"));
  if (items.count("transform")) parsed.set_transform_rng(items["transform"]);
  if (items.count("order")) parsed.set_order_rng(items["order"]);
  return parsed;
}

// A saved state: the serialized message, or the older text form.
DataReaderState ParseState(const std::string& state) {
  if (state.rfind(StrCat(kStateTag, "\n"), 0) == 0 || state == kStateTag) {
    return ParseTextState(state);
  }
  DataReaderState parsed;
  if (!parsed.ParseFromString(state) || !parsed.has_kind()) {
    throw ConfigError("the saved Data layer state is not a state written by this version of fcn");
  }
  return parsed;
}

void RequireStateItem(bool present, const std::string& name) {
  if (!present) throw ConfigError(StrCat("the saved Data layer state has no \"", name, "\" entry"));
}

// Checks the kind and size a state was saved for, and the position in [0, records).
std::int64_t CheckStatePosition(const DataReaderState& state, const std::string& kind,
                                const std::string& path, std::int64_t records) {
  RequireStateItem(state.has_kind(), "kind");
  if (state.kind() != kind) {
    throw ConfigError(StrCat("the saved Data layer state is for a ", state.kind(), " database; ",
                             path, " is read as a ", kind, " database"));
  }
  RequireStateItem(state.has_records(), "records");
  if (state.records() != records) {
    throw ConfigError(StrCat("the saved Data layer state is for a database of ", state.records(),
                             " records; ", path, " holds ", records));
  }
  RequireStateItem(state.has_position(), "position");
  const std::int64_t position = state.position();
  if (position < 0 || position >= records) {
    throw ConfigError(StrCat("the saved Data layer position ", position, " is outside ", path, " (",
                             records, " records)"));
  }
  return position;
}

Rng StateRng(bool present, const std::string& text, const std::string& name) {
  RequireStateItem(present, name);
  Rng rng;
  if (!rng.LoadState(text)) {
    throw ConfigError(StrCat("the saved Data layer state has a bad \"", name, "\" RNG state"));
  }
  return rng;
}

// --------------------------------------------------------------------------------------
// Caffe's Data layer: Datums in key order, wrapping at the end.

class CaffeReader final : public DataReader {
 public:
  CaffeReader(std::unique_ptr<LmdbReader> db, const LayerParameter& param, Rng& run_rng)
      : db_(std::move(db)),
        path_(db_->path()),
        batch_size_(static_cast<int>(param.data_param().batch_size())),
        num_tops_(param.top_size()),
        transformer_(param.transform_param(), param.phase()) {
    const DataParameter& dp = param.data_param();
    if (num_tops_ > 2) {
      throw ConfigError(StrCat("a Data layer over a Caffe Datum database (", path_,
                               ", no ~meta record) has 1 or 2 tops (data, label); got ",
                               num_tops_));
    }
    if (dp.field_size() > 0 || dp.has_shuffle() || dp.has_seed() || dp.field_transform_size() > 0 ||
        dp.has_pad_label()) {
      throw ConfigError(
          StrCat("data_param field/shuffle/seed/field_transform/pad_label apply to "
                 "segmentation databases (with a ~meta record); ",
                 path_, " has none and is read as a Caffe Datum database"));
    }
    records_ = db_->size();
    if (records_ == 0) throw ConfigError(StrCat(path_, ": the database has no records"));
    color_mode_ = transformer_.color_mode();
    if (dp.force_encoded_color()) {
      if (color_mode_ == ColorMode::kGray) {
        throw ConfigError("data_param.force_encoded_color contradicts transform_param.force_gray");
      }
      color_mode_ = ColorMode::kColor;
    }
    // Caffe seeds the transformer first (only when it draws), then skips.
    if (transformer_.random()) rng_.Seed(run_rng.NextU32());
    cursor_ = db_->NewCursor();
    cursor_->SeekToFirst();
    if (dp.rand_skip() > 0) {
      const std::uint32_t skip = run_rng.NextU32() % dp.rand_skip();
      LOG(INFO) << "Skipping first " << skip << " data points.";
      for (std::uint32_t i = 0; i < skip; ++i) Advance();
    }
  }

  void Next(DataBatch* batch) override {
    batch->data.resize(static_cast<std::size_t>(num_tops_));
    batch->shapes.resize(static_cast<std::size_t>(num_tops_));
    std::string first_key;
    int channels = 0;
    int height = 0;
    int width = 0;
    PassOver(static_cast<std::int64_t>(shard_index_) * batch_size_);
    for (int i = 0; i < batch_size_; ++i) {
      const std::string what = RecordName(path_, cursor_->key());
      ParseDatum(cursor_->value(), what, &datum_);
      DecodeDatum(datum_, color_mode_, what, &image_);
      transformer_.Check(image_, what);
      if (i == 0) {
        first_key = PrintableKey(cursor_->key());
        channels = image_.channels;
        height = transformer_.OutputHeight(image_);
        width = transformer_.OutputWidth(image_);
        batch->shapes[0] = {batch_size_, channels, height, width};
        batch->data[0].resize(static_cast<std::size_t>(batch_size_) *
                              static_cast<std::size_t>(channels * height) *
                              static_cast<std::size_t>(width));
      } else if (image_.channels != channels ||
                 (transformer_.crop_size() == 0 &&
                  (image_.height != height || image_.width != width))) {
        throw ConfigError(StrCat(what, ": the image is ", image_.channels, "x", image_.height, "x",
                                 image_.width, " but the batch (shaped by record \"", first_key,
                                 "\") is ", channels, "x", height, "x", width,
                                 "; the records of a batch must have one size (use batch_size: 1 "
                                 "for images of different sizes)"));
      }
      const std::int64_t offset = static_cast<std::int64_t>(i) * channels * height * width;
      transformer_.Transform(image_, &rng_, batch->data[0].data() + offset, height, width);
      if (num_tops_ == 2) {
        if (i == 0) {
          batch->shapes[1] = {batch_size_};
          batch->data[1].resize(static_cast<std::size_t>(batch_size_));
        }
        batch->data[1][static_cast<std::size_t>(i)] = static_cast<float>(datum_.label());
      }
      Advance();
    }
    PassOver(static_cast<std::int64_t>(shard_count_ - 1 - shard_index_) * batch_size_);
  }

  std::string SaveState() const override {
    DataReaderState state;
    state.set_kind("caffe");
    state.set_records(records_);
    state.set_position(position_);
    if (transformer_.random()) state.set_transform_rng(rng_.SaveState());
    return state.SerializeAsString();
  }

  void RestoreState(const std::string& state) override {
    const DataReaderState saved = ParseState(state);
    const std::int64_t position = CheckStatePosition(saved, "caffe", path_, records_);
    Rng rng = rng_;
    if (transformer_.random()) {
      rng = StateRng(saved.has_transform_rng(), saved.transform_rng(), "transform");
    }
    cursor_->SeekToFirst();
    position_ = 0;
    while (position_ < position) {
      if (!cursor_->Next()) {
        throw ConfigError(
            StrCat(path_, ": has fewer records than its statistics say (", records_, ")"));
      }
      ++position_;
    }
    rng_ = rng;
  }

 private:
  // Moves past `n` records without reading them (the other ranks' share).
  void PassOver(std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) Advance();
  }

  // Moves to the next record, wrapping to the first after the last (Caffe's message).
  void Advance() {
    ++position_;
    if (!cursor_->Next()) {
      LOG(INFO) << "Restarting data prefetching from start.";
      cursor_->SeekToFirst();
      position_ = 0;
    }
  }

  std::unique_ptr<LmdbReader> db_;
  std::string path_;
  int batch_size_;
  int num_tops_;
  DataTransformer transformer_;
  ColorMode color_mode_ = ColorMode::kUnchanged;
  std::unique_ptr<LmdbReader::Cursor> cursor_;
  std::int64_t records_ = 0;
  std::int64_t position_ = 0;  // ordinal of the cursor's record
  Rng rng_;
  Datum datum_;
  DatumImage image_;
};

// --------------------------------------------------------------------------------------
// Segmentation databases: one record per field of each sample, a ~meta JSON record.

struct SegMeta {
  std::int64_t count = 0;
  std::vector<std::string> fields;
};

SegMeta ParseMeta(const std::string& path, std::string_view json) {
  const std::string what = RecordName(path, kMetaKey);
  google::protobuf::Struct meta;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &meta);
  if (!status.ok()) {
    throw ConfigError(StrCat(what, ": not a JSON object: ", status.ToString()));
  }
  const auto& items = meta.fields();
  const auto format = items.find("format");
  if (format == items.end() || format->second.string_value() != kMetaFormat) {
    throw ConfigError(StrCat(what, ": \"format\" is not \"", kMetaFormat,
                             "\" (a database written by another tool or version)"));
  }
  SegMeta out;
  const auto count = items.find("count");
  const double n = count == items.end() ? -1.0 : count->second.number_value();
  // JSON numbers are doubles: a count is exact only up to 2^53, and a larger one would not
  // fit the int64 below (fuzz_lmdb_record's find: 1e26, an undefined conversion).
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53
  if (count == items.end() || !count->second.has_number_value() || !(n >= 0) ||
      n != std::floor(n) || n > kMaxCount) {
    throw ConfigError(StrCat(what, ": \"count\" must be a non-negative integer of at most 2^53"));
  }
  out.count = static_cast<std::int64_t>(n);
  const auto fields = items.find("fields");
  if (fields == items.end() || !fields->second.has_list_value() ||
      fields->second.list_value().values_size() == 0) {
    throw ConfigError(StrCat(what, ": \"fields\" must be a non-empty list of field names"));
  }
  for (const auto& v : fields->second.list_value().values()) {
    if (!v.has_string_value() || v.string_value().empty()) {
      throw ConfigError(StrCat(what, ": \"fields\" must be a list of non-empty strings"));
    }
    out.fields.push_back(v.string_value());
  }
  return out;
}

// Label fields of the record format: padded with pad_label, transformed by nothing unless
// field_transform says otherwise.
bool IsLabelField(const std::string& field) {
  return field == "label" || field == "sem" || field == "geo";
}

struct SegTop {
  std::string field;
  bool label = false;
  DataTransformer transformer;
};

class SegReader final : public DataReader {
 public:
  SegReader(std::unique_ptr<LmdbReader> db, std::string_view meta_json, const LayerParameter& param)
      : db_(std::move(db)), path_(db_->path()) {
    const DataParameter& dp = param.data_param();
    const SegMeta meta = ParseMeta(path_, meta_json);
    const int num_tops = param.top_size();
    batch_size_ = static_cast<int>(dp.batch_size());
    shuffle_ = dp.shuffle();
    pad_label_ = static_cast<float>(dp.pad_label());
    if (dp.rand_skip() > 0) {
      throw ConfigError(
          "data_param.rand_skip applies to Caffe Datum databases; for a "
          "segmentation database use shuffle: true (seeded by seed)");
    }
    if (dp.field_size() > 0 && dp.field_size() != num_tops) {
      throw ConfigError(StrCat("data_param.field must be given once per top (", num_tops,
                               " tops); got ", dp.field_size()));
    }
    if (dp.field_transform_size() > 0) {
      if (dp.field_transform_size() != num_tops) {
        throw ConfigError(StrCat("data_param.field_transform must be given once per top (",
                                 num_tops, " tops); got ", dp.field_transform_size()));
      }
      if (param.has_transform_param()) {
        throw ConfigError("set either transform_param or data_param.field_transform, not both");
      }
    }
    for (int t = 0; t < num_tops; ++t) {
      const std::string field = dp.field_size() > 0 ? dp.field(t) : param.top(t);
      if (std::find(meta.fields.begin(), meta.fields.end(), field) == meta.fields.end()) {
        throw ConfigError(StrCat("top \"", param.top(t), "\" reads field \"", field, "\", which ",
                                 path_, " does not have; its fields are: ", Join(meta.fields, ", "),
                                 " (name the top after a field or set data_param.field)"));
      }
      const bool label = IsLabelField(field);
      TransformationParameter tp;
      if (dp.field_transform_size() > 0) {
        tp = dp.field_transform(t);
      } else if (!label) {
        tp = param.transform_param();
      }
      if (tp.crop_size() > 0 || tp.mirror() || tp.has_mean_file()) {
        throw ConfigError(StrCat("top \"", param.top(t), "\": crop_size, mirror and mean_file ",
                                 "are not supported for segmentation databases (they would ",
                                 "transform the fields of a sample independently); use ",
                                 "mean_value, scale, force_color or force_gray"));
      }
      tops_.push_back(SegTop{field, label, DataTransformer(tp, param.phase())});
    }
    IndexSamples(meta);
    CheckBatchFits(batch_size_, static_cast<std::int64_t>(samples_.size()), path_);
    if (shuffle_) order_rng_.Seed(dp.seed());
    LOG(INFO) << "Segmentation database " << path_ << ": " << samples_.size() << " samples, fields "
              << Join(meta.fields, ", ") << "; order: "
              << (shuffle_ ? StrCat("random with replacement, seed ", dp.seed())
                           : std::string("sequential"));
  }

  void Next(DataBatch* batch) override {
    const std::size_t num_tops = tops_.size();
    images_.resize(static_cast<std::size_t>(batch_size_) * num_tops);
    keys_.resize(images_.size());
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(shard_index_) * batch_size_; ++i) {
      NextSample();
    }
    for (int b = 0; b < batch_size_; ++b) {
      const std::int64_t sample = NextSample();
      for (std::size_t t = 0; t < num_tops; ++t) {
        const std::size_t slot = static_cast<std::size_t>(b) * num_tops + t;
        keys_[slot] = StrCat(samples_[static_cast<std::size_t>(sample)], "/", tops_[t].field);
        ReadImage(keys_[slot], tops_[t], &images_[slot]);
        const DatumImage& first = images_[static_cast<std::size_t>(b) * num_tops];
        if (t > 0 && (images_[slot].height != first.height || images_[slot].width != first.width)) {
          throw ConfigError(StrCat(RecordName(path_, keys_[slot]), ": is ", images_[slot].height,
                                   "x", images_[slot].width, " but record \"",
                                   PrintableKey(keys_[slot - t]), "\" of the ", "same sample is ",
                                   first.height, "x", first.width));
        }
      }
    }
    const std::int64_t after = static_cast<std::int64_t>(shard_count_ - 1 - shard_index_);
    for (std::int64_t i = 0; i < after * batch_size_; ++i) NextSample();
    batch->data.resize(num_tops);
    batch->shapes.resize(num_tops);
    for (std::size_t t = 0; t < num_tops; ++t) FillTop(t, batch);
  }

  std::string SaveState() const override {
    DataReaderState state;
    state.set_kind("segmentation");
    state.set_records(static_cast<std::int64_t>(samples_.size()));
    state.set_position(position_);
    if (shuffle_) state.set_order_rng(order_rng_.SaveState());
    return state.SerializeAsString();
  }

  void RestoreState(const std::string& state) override {
    const DataReaderState saved = ParseState(state);
    const std::int64_t position = CheckStatePosition(saved, "segmentation", path_,
                                                     static_cast<std::int64_t>(samples_.size()));
    if (shuffle_) order_rng_ = StateRng(saved.has_order_rng(), saved.order_rng(), "order");
    position_ = position;
  }

 private:
  // Lists the samples (key prefixes before '/') and checks that each has every field a top
  // reads, and that their number matches ~meta.
  void IndexSamples(const SegMeta& meta) {
    auto cursor = db_->NewCursor();
    std::vector<bool> seen(tops_.size(), false);
    auto close_sample = [&]() {
      if (samples_.empty()) return;
      for (std::size_t t = 0; t < tops_.size(); ++t) {
        if (!seen[t]) {
          throw ConfigError(StrCat(path_, ": sample \"", PrintableKey(samples_.back()),
                                   "\" has no record \"",
                                   PrintableKey(StrCat(samples_.back(), "/", tops_[t].field)),
                                   "\" (field \"", tops_[t].field, "\" is missing)"));
        }
      }
    };
    for (bool ok = cursor->SeekToFirst(); ok; ok = cursor->Next()) {
      const std::string_view key = cursor->key();
      if (key == kMetaKey) continue;
      const std::size_t slash = key.find('/');
      if (slash == std::string_view::npos || slash == 0 || slash + 1 == key.size()) {
        throw ConfigError(
            StrCat(RecordName(path_, key), ": the key is not \"<index>_<sample id>/<field>\""));
      }
      const std::string_view prefix = key.substr(0, slash);
      const std::string_view field = key.substr(slash + 1);
      if (samples_.empty() || samples_.back() != prefix) {
        close_sample();
        samples_.emplace_back(prefix);
        std::fill(seen.begin(), seen.end(), false);
      }
      for (std::size_t t = 0; t < tops_.size(); ++t) {
        if (tops_[t].field == field) seen[t] = true;
      }
    }
    close_sample();
    if (samples_.empty()) throw ConfigError(StrCat(path_, ": the database has no samples"));
    if (static_cast<std::int64_t>(samples_.size()) != meta.count) {
      throw ConfigError(StrCat(path_, ": the ~meta record says ", meta.count,
                               " samples but the database holds ", samples_.size(),
                               " (an interrupted or altered conversion?)"));
    }
  }

  std::int64_t NextSample() {
    const auto n = static_cast<std::int64_t>(samples_.size());
    if (shuffle_) return order_rng_.UniformInt(static_cast<std::uint32_t>(n));
    const std::int64_t sample = position_;
    if (++position_ == n) {
      LOG(INFO) << "Restarting data prefetching from start.";
      position_ = 0;
    }
    return sample;
  }

  void ReadImage(const std::string& key, const SegTop& top, DatumImage* image) {
    const std::string what = RecordName(path_, key);
    std::string_view value;
    if (!db_->Get(key, &value)) throw ConfigError(StrCat(what, ": no such record"));
    ParseDatum(value, what, &datum_);
    DecodeDatum(datum_, top.transformer.color_mode(), what, image);
    if (datum_.encoded() && datum_.height() > 0 && datum_.width() > 0 &&
        (datum_.height() != image->height || datum_.width() != image->width)) {
      throw ConfigError(StrCat(what, ": the Datum says ", datum_.height(), "x", datum_.width(),
                               " but the encoded image decodes to ", image->height, "x",
                               image->width));
    }
    top.transformer.Check(*image, what);
  }

  // Stacks the images of top t, padded to the largest height and width of the batch.
  void FillTop(std::size_t t, DataBatch* batch) {
    const std::size_t num_tops = tops_.size();
    const DatumImage& first = images_[t];
    std::int64_t height = 0;
    std::int64_t width = 0;
    for (int b = 0; b < batch_size_; ++b) {
      const std::size_t slot = static_cast<std::size_t>(b) * num_tops + t;
      const DatumImage& image = images_[slot];
      if (image.channels != first.channels) {
        throw ConfigError(StrCat(RecordName(path_, keys_[slot]), ": has ", image.channels,
                                 " channels but record \"", PrintableKey(keys_[t]),
                                 "\" in the same batch has ", first.channels));
      }
      height = std::max<std::int64_t>(height, image.height);
      width = std::max<std::int64_t>(width, image.width);
    }
    const std::int64_t per_image = first.channels * height * width;
    std::vector<float>& data = batch->data[t];
    data.resize(static_cast<std::size_t>(per_image * batch_size_));
    batch->shapes[t] = {batch_size_, first.channels, height, width};
    std::fill(data.begin(), data.end(), tops_[t].label ? pad_label_ : 0.0f);
    for (int b = 0; b < batch_size_; ++b) {
      const DatumImage& image = images_[static_cast<std::size_t>(b) * num_tops + t];
      tops_[t].transformer.Transform(image, nullptr, data.data() + b * per_image, height, width);
    }
  }

  std::unique_ptr<LmdbReader> db_;
  std::string path_;
  int batch_size_ = 1;
  bool shuffle_ = false;
  float pad_label_ = 255.0f;
  std::vector<SegTop> tops_;
  std::vector<std::string> samples_;  // key prefix "<index>_<id>" of each sample, in key order
  std::int64_t position_ = 0;         // next sample in sequential order
  Rng order_rng_;
  Datum datum_;
  std::vector<DatumImage> images_;  // batch_size x tops
  std::vector<std::string> keys_;   // the record of each image
};

}  // namespace

std::unique_ptr<DataReader> CreateDataReader(const LayerParameter& param, Rng& run_rng) {
  const DataParameter& dp = param.data_param();
  if (dp.source().empty()) throw ConfigError("data_param.source is not set");
  if (dp.backend() != DataParameter::LMDB) {
    throw ConfigError(StrCat(
        "data_param.backend is LEVELDB (Caffe's default when backend is not given); fcn reads "
        "only LMDB databases: set backend: LMDB, and convert a LevelDB database to LMDB first "
        "(e.g. with Caffe's convert_imageset -backend lmdb, or data_scripts/convert_*.py)"));
  }
  if (dp.batch_size() == 0) {
    throw ConfigError(
        "data_param.batch_size must be positive (use batch_size: 1 for whole images)");
  }
  auto db = std::make_unique<LmdbReader>(dp.source());
  std::string_view meta;
  const bool seg = db->Get(kMetaKey, &meta);
  // (A segmentation database's samples are counted by its reader.)
  if (!seg) CheckBatchFits(dp.batch_size(), db->size(), dp.source());
  if (seg) return std::make_unique<SegReader>(std::move(db), meta, param);
  return std::make_unique<CaffeReader>(std::move(db), param, run_rng);
}

}  // namespace fcn
