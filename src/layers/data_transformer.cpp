// SPDX-License-Identifier: BSD-2-Clause
// DataTransformer: validation, mean file loading and the crop/mirror/mean/scale transform.
#include "layers/data_transformer.h"

#include <glog/logging.h>

#include <cmath>

#include "fcn/blob.h"
#include "fcn/io.h"

namespace fcn {

DataTransformer::DataTransformer(const TransformationParameter& param, Phase phase)
    : phase_(phase),
      crop_size_(static_cast<int>(param.crop_size())),
      mirror_(param.mirror()),
      scale_(param.scale()),
      mean_values_(param.mean_value().begin(), param.mean_value().end()) {
  if (param.has_mean_file() && param.mean_value_size() > 0) {
    throw ConfigError("transform_param: cannot specify mean_file and mean_value at the same time");
  }
  if (param.force_color() && param.force_gray()) {
    throw ConfigError("transform_param: cannot set both force_color and force_gray");
  }
  if (param.crop_size() > 1u << 30) {
    throw ConfigError(StrCat("transform_param.crop_size ", param.crop_size(), " is too large"));
  }
  if (!std::isfinite(param.scale())) {
    throw ConfigError(StrCat("transform_param.scale must be a finite number, got ", param.scale()));
  }
  for (float m : param.mean_value()) {
    if (!std::isfinite(m)) {
      throw ConfigError(StrCat("transform_param.mean_value must be finite numbers, got ", m));
    }
  }
  if (param.force_color()) color_mode_ = ColorMode::kColor;
  if (param.force_gray()) color_mode_ = ColorMode::kGray;
  if (param.has_mean_file()) {
    LOG(INFO) << "Loading mean file from: " << param.mean_file();
    const BlobProto proto = ReadBlobProtoFromBinaryFile(param.mean_file());
    Blob mean;
    try {
      mean.FromProto(proto);
    } catch (const ConfigError& e) {
      throw ConfigError(StrCat(param.mean_file(), ": the mean blob: ", e.message()));
    }
    const std::vector<std::int64_t>& shape = mean.shape();
    std::int64_t leading = 1;
    for (std::size_t i = 0; i + 3 < shape.size(); ++i) leading *= shape[i];
    if (shape.size() < 3 || leading != 1 || mean.count() == 0) {
      throw ConfigError(StrCat(param.mean_file(), ": the mean blob has shape ", mean.shape_string(),
                               "; expected 1xCxHxW"));
    }
    mean_shape_.assign(shape.end() - 3, shape.end());
    mean_.assign(mean.cpu_data(), mean.cpu_data() + mean.count());
  }
}

bool DataTransformer::identity() const {
  if (crop_size_ > 0 || mirror_ || scale_ != 1.0f || !mean_.empty()) return false;
  for (const float m : mean_values_) {
    if (m != 0.0f) return false;
  }
  return true;
}

void DataTransformer::Check(const DatumImage& image, const std::string& what) const {
  if (crop_size_ > 0 && (image.height < crop_size_ || image.width < crop_size_)) {
    throw ConfigError(StrCat(what, ": the image is ", image.height, "x", image.width,
                             ", smaller than crop_size ", crop_size_));
  }
  if (!mean_.empty() && (mean_shape_[0] != image.channels || mean_shape_[1] != image.height ||
                         mean_shape_[2] != image.width)) {
    throw ConfigError(StrCat(what, ": the image is ", image.channels, "x", image.height, "x",
                             image.width, " but the mean file is ", ShapeString(mean_shape_),
                             "; a mean file must have the full image size"));
  }
  if (mean_values_.size() > 1 && static_cast<int>(mean_values_.size()) != image.channels) {
    throw ConfigError(StrCat(what, ": ", mean_values_.size(),
                             " mean_value entries for an image of ", image.channels,
                             " channels; specify either 1 mean_value or as many as channels"));
  }
}

void DataTransformer::Transform(const DatumImage& image, Rng* rng, float* out,
                                std::int64_t out_height, std::int64_t out_width) const {
  const bool do_mirror = mirror_ && rng->UniformInt(2) != 0;
  const int height = OutputHeight(image);
  const int width = OutputWidth(image);
  int h_off = 0;
  int w_off = 0;
  if (crop_size_ > 0) {
    if (phase_ == TRAIN) {
      h_off = static_cast<int>(
          rng->UniformInt(static_cast<std::uint32_t>(image.height - crop_size_ + 1)));
      w_off = static_cast<int>(
          rng->UniformInt(static_cast<std::uint32_t>(image.width - crop_size_ + 1)));
    } else {
      h_off = (image.height - crop_size_) / 2;
      w_off = (image.width - crop_size_) / 2;
    }
  }
  const std::int64_t in_plane = static_cast<std::int64_t>(image.height) * image.width;
  for (int c = 0; c < image.channels; ++c) {
    float channel_mean = 0.0f;
    if (!mean_values_.empty()) {
      channel_mean = mean_values_[mean_values_.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    }
    for (int h = 0; h < height; ++h) {
      const std::int64_t in_row = c * in_plane + static_cast<std::int64_t>(h + h_off) * image.width;
      float* out_row = out + (c * out_height + h) * out_width;
      for (int w = 0; w < width; ++w) {
        const std::int64_t in_index = in_row + w + w_off;
        const float mean = mean_.empty() ? channel_mean : mean_[static_cast<std::size_t>(in_index)];
        const int out_w = do_mirror ? width - 1 - w : w;
        out_row[out_w] = (image.at(in_index) - mean) * scale_;
      }
    }
  }
}

}  // namespace fcn
