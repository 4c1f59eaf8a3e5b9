// SPDX-License-Identifier: BSD-2-Clause
// Datum pixels: raw uint8 CHW, float CHW, or an encoded image decoded with OpenCV.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"

namespace cv {
class Mat;  // OpenCV's image; ReadImageFile's callers include <opencv2/core.hpp>
}  // namespace cv

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

/// The size an encoded PNG or JPEG declares in its header, read by libpng / libjpeg without
/// decoding the pixels.
struct ImageHeader {
  std::string format;  ///< "PNG" or "JPEG"
  std::int64_t width = 0;
  std::int64_t height = 0;
};

/// The most pixels an encoded image may declare (16384 x 16384): larger headers are refused
/// before anything is decoded, so that a few bytes cannot claim gigabytes.
constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;

/// Checks an encoded image before it is decoded, throwing ConfigError naming `what`:
///  - a PNG or JPEG header must be readable, and declare at most kMaxImagePixels pixels and,
///    when `expect_height`/`expect_width` are > 0, exactly that size (a Datum's declared size);
///  - a JPEG must end with its end-of-image marker (a JPEG cut short is refused; libjpeg
///    would only warn and fill the rest with grey).
/// Other formats are left to the decoder. Returns the header (format "" for other formats).
ImageHeader CheckEncodedImage(const std::string& bytes, const std::string& what,
                              std::int64_t expect_height = 0, std::int64_t expect_width = 0);

/// Reads and decodes an image file with OpenCV (`imread_flags`) after CheckEncodedImage;
/// every failure is a ConfigError that names the path.
cv::Mat ReadImageFile(const std::string& path, int imread_flags);

}  // namespace fcn
