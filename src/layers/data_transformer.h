// SPDX-License-Identifier: BSD-2-Clause
// DataTransformer: Caffe's per-Datum transform (crop, mirror, mean subtraction, scale).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/image_codec.h"
#include "fcn/proto/fcn.pb.h"
#include "fcn/rng.h"

namespace fcn {

// Applies a TransformationParameter to one decoded image x (C x H x W), as Caffe does:
//   1. crop: with crop_size k > 0 the output is k x k at offsets (h_off, w_off), drawn
//      uniformly from {0..H-k} x {0..W-k} in TRAIN, (H-k)/2 and (W-k)/2 in TEST;
//   2. mirror: when set, a fair coin per image in every phase flips the columns;
//   3. out[c][h][w'] = (x[c][h + h_off][w + w_off] - mean) * scale, mean = mean_value[c]
//      (one value serves every channel) or the mean_file blob at the same source pixel.
// Random draws, in this order: the mirror coin, then h_off, then w_off.
class DataTransformer {
 public:
  /// Validates the parameter (mean_file and mean_value are exclusive, force_color and
  /// force_gray too) and reads the mean file (a 1xCxHxW .binaryproto). Throws ConfigError.
  DataTransformer(const TransformationParameter& param, Phase phase);

  /// Whether Transform draws random numbers (mirror, or crop_size in TRAIN).
  bool random() const { return mirror_ || (crop_size_ > 0 && phase_ == TRAIN); }
  /// Whether the transform changes anything (mean, scale, crop or mirror).
  bool identity() const;
  bool has_mean_file() const { return !mean_.empty(); }
  int crop_size() const { return crop_size_; }
  /// How encoded images are decoded (force_color / force_gray).
  ColorMode color_mode() const { return color_mode_; }

  /// Checks that an image of this size can be transformed (crop fits, the mean has as many
  /// values as channels or the mean file has the image's size); `what` names the record.
  void Check(const DatumImage& image, const std::string& what) const;
  /// Output height/width for an input of this size (crop_size or the input's).
  int OutputHeight(const DatumImage& image) const {
    return crop_size_ > 0 ? crop_size_ : image.height;
  }
  int OutputWidth(const DatumImage& image) const {
    return crop_size_ > 0 ? crop_size_ : image.width;
  }

  /// Transforms `image` (Check()ed) into the top-left corner of `out`, C planes of
  /// out_height x out_width floats (at least the output size); other elements are untouched.
  /// `rng` is used when random().
  void Transform(const DatumImage& image, Rng* rng, float* out, std::int64_t out_height,
                 std::int64_t out_width) const;

 private:
  Phase phase_;
  int crop_size_ = 0;
  bool mirror_ = false;
  float scale_ = 1.0f;
  ColorMode color_mode_ = ColorMode::kUnchanged;
  std::vector<float> mean_values_;
  std::vector<std::int64_t> mean_shape_;  // C, H, W of the mean file
  std::vector<float> mean_;               // mean file values (CHW)
};

}  // namespace fcn
