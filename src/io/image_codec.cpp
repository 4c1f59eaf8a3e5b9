// SPDX-License-Identifier: BSD-2-Clause
// Datum decoding: raw and float CHW pixels, and encoded images through OpenCV imdecode.
#include "io/image_codec.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "fcn/common.h"

namespace fcn {

namespace {

int ImreadFlag(ColorMode mode) {
  switch (mode) {
    case ColorMode::kColor:
      return cv::IMREAD_COLOR;
    case ColorMode::kGray:
      return cv::IMREAD_GRAYSCALE;
    case ColorMode::kUnchanged:
      break;
  }
  return cv::IMREAD_UNCHANGED;
}

// OpenCV picks a decoder by the first one whose signature matches, and some it may carry
// (Debian's reads DICOM through GDCM, whose damaged-file paths end in assert()) can take the
// process down: only PNG, JPEG and BMP reach imdecode. Their decoders come before the others
// in OpenCV's list and match on these prefixes alone.
bool IsPngJpegOrBmp(const std::string& data) {
  static const std::string kPng("\x89PNG\r\n\x1a\n", 8);
  static const std::string kJpeg("\xff\xd8\xff", 3);
  return data.compare(0, kPng.size(), kPng) == 0 || data.compare(0, kJpeg.size(), kJpeg) == 0 ||
         data.compare(0, 2, "BM") == 0;
}

void DecodeEncoded(const Datum& datum, ColorMode mode, const std::string& what, DatumImage* out) {
  const std::string& data = datum.data();
  if (data.empty()) throw ConfigError(StrCat(what, ": encoded Datum with no image bytes"));
  if (!IsPngJpegOrBmp(data)) {
    throw ConfigError(StrCat(what, ": cannot decode the encoded image (", data.size(),
                             " bytes): not a PNG, JPEG or BMP file (no such signature)"));
  }
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(data.size()), CV_8UC1, const_cast<char*>(data.data()));
    image = cv::imdecode(buffer, ImreadFlag(mode));
  } catch (const cv::Exception& e) {
    throw ConfigError(
        StrCat(what, ": cannot decode the encoded image (", data.size(), " bytes): ", e.what()));
  }
  if (image.empty()) {
    throw ConfigError(StrCat(what, ": cannot decode the encoded image (", data.size(),
                             " bytes; not a JPEG/PNG file OpenCV can read, or truncated)"));
  }
  if (image.depth() != CV_8U) {
    throw ConfigError(StrCat(what, ": the encoded image is not 8-bit (OpenCV depth ", image.depth(),
                             "); images must be 8-bit, as in Caffe (store depth as float_data)"));
  }
  const int channels = image.channels();
  const int height = image.rows;
  const int width = image.cols;
  out->is_float = false;
  out->channels = channels;
  out->height = height;
  out->width = width;
  out->floats.clear();
  out->bytes.resize(static_cast<std::size_t>(out->count()));
  const std::size_t plane = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  for (int h = 0; h < height; ++h) {
    const std::uint8_t* row = image.ptr<std::uint8_t>(h);
    for (int w = 0; w < width; ++w) {
      const std::size_t hw = static_cast<std::size_t>(h) * static_cast<std::size_t>(width) +
                             static_cast<std::size_t>(w);
      for (int c = 0; c < channels; ++c) {
        out->bytes[static_cast<std::size_t>(c) * plane + hw] = row[w * channels + c];
      }
    }
  }
}

void DecodeRaw(const Datum& datum, const std::string& what, DatumImage* out) {
  if (datum.channels() <= 0 || datum.height() <= 0 || datum.width() <= 0) {
    throw ConfigError(StrCat(what, ": the Datum has no valid size (channels ", datum.channels(),
                             ", height ", datum.height(), ", width ", datum.width(), ")"));
  }
  out->channels = datum.channels();
  out->height = datum.height();
  out->width = datum.width();
  const std::int64_t expected = out->count();
  if (!datum.data().empty()) {
    if (static_cast<std::int64_t>(datum.data().size()) != expected) {
      throw ConfigError(StrCat(what, ": pixel count mismatch: the Datum has ", datum.data().size(),
                               " bytes of data, channels*height*width = ", datum.channels(), "*",
                               datum.height(), "*", datum.width(), " = ", expected));
    }
    out->is_float = false;
    out->floats.clear();
    out->bytes.assign(datum.data().begin(), datum.data().end());
    return;
  }
  if (datum.float_data_size() != expected) {
    throw ConfigError(StrCat(what, ": pixel count mismatch: the Datum has ",
                             datum.float_data_size(), " float_data values and no data bytes, ",
                             "channels*height*width = ", datum.channels(), "*", datum.height(), "*",
                             datum.width(), " = ", expected));
  }
  out->is_float = true;
  out->bytes.clear();
  out->floats.assign(datum.float_data().begin(), datum.float_data().end());
}

}  // namespace

void DecodeDatum(const Datum& datum, ColorMode mode, const std::string& what, DatumImage* out) {
  if (datum.encoded()) {
    DecodeEncoded(datum, mode, what, out);
  } else {
    DecodeRaw(datum, what, out);
  }
}

}  // namespace fcn
