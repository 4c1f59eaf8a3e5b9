// SPDX-License-Identifier: BSD-2-Clause
// Datum pixels: raw uint8 CHW, float CHW, or an encoded image decoded with OpenCV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// How an encoded image is decoded (TransformationParameter force_color / force_gray).
enum class ColorMode {
  kUnchanged,  ///< as stored (OpenCV IMREAD_UNCHANGED): gray 1, colour 3 (BGR), alpha 4
  kColor,      ///< 3 channels, BGR
  kGray,       ///< 1 channel
};

/// The pixels of one Datum in CHW order, either 8-bit or float.
struct DatumImage {
  int channels = 0;
  int height = 0;
  int width = 0;
  bool is_float = false;
  std::vector<std::uint8_t> bytes;  ///< CHW, when !is_float
  std::vector<float> floats;        ///< CHW, when is_float

  std::int64_t count() const { return static_cast<std::int64_t>(channels) * height * width; }
  float at(std::int64_t i) const {
    return is_float ? floats[static_cast<std::size_t>(i)]
                    : static_cast<float>(bytes[static_cast<std::size_t>(i)]);
  }
};

/// Decodes the pixels of `datum` into `out` (its buffers are reused):
///  - encoded: OpenCV imdecode of `data` with `mode`; colour comes out BGR, interleaved, and
///    is transposed to CHW. Only 8-bit images are accepted (a 16-bit PNG is an error, as in
///    Caffe).
///  - raw: `data` as C*H*W uint8 values, or `float_data` when `data` is empty.
/// `what` names the record in messages ("db/path: record \"key\""). Throws ConfigError for
/// an undecodable image, a non-8-bit image, missing or inconsistent sizes, or a pixel count
/// that disagrees with channels*height*width.
void DecodeDatum(const Datum& datum, ColorMode mode, const std::string& what, DatumImage* out);

}  // namespace fcn
