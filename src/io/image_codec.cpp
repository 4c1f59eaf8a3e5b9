// SPDX-License-Identifier: BSD-2-Clause
// Datum decoding: raw and float CHW pixels, and encoded images through OpenCV imdecode.
#include "fcn/image_codec.h"

#include <png.h>
// jpeglib.h needs FILE and size_t declared before it.
#include <jpeglib.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

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
  CheckEncodedImage(data, what, datum.height(), datum.width());
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

bool StartsWith(const std::string& bytes, const unsigned char* magic, std::size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

// libjpeg reports errors through error_exit, which must not return: jump back here.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void JpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

extern "C" void JpegQuiet(j_common_ptr, int) {}

// The JPEG header's size; false (with `message`) when libjpeg cannot read the header.
bool JpegSize(const std::string& bytes, std::int64_t* width, std::int64_t* height,
              std::string* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = &JpegErrorExit;
  err.mgr.emit_message = &JpegQuiet;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    *message = err.message;
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  *width = cinfo.image_width;
  *height = cinfo.image_height;
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

ImageHeader CheckEncodedImage(const std::string& bytes, const std::string& what,
                              std::int64_t expect_height, std::int64_t expect_width) {
  static const unsigned char kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char kJpeg[] = {0xff, 0xd8, 0xff};
  ImageHeader h;
  if (StartsWith(bytes, kPng, sizeof(kPng))) {
    h.format = "PNG";
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
      throw ConfigError(StrCat(what, ": cannot read the PNG header: ", image.message));
    }
    h.width = image.width;
    h.height = image.height;
    png_image_free(&image);
  } else if (StartsWith(bytes, kJpeg, sizeof(kJpeg))) {
    h.format = "JPEG";
    std::string message;
    if (!JpegSize(bytes, &h.width, &h.height, &message)) {
      throw ConfigError(StrCat(what, ": cannot read the JPEG header: ", message));
    }
    // The end-of-image marker, perhaps followed by padding: a file cut short has none.
    std::size_t end = bytes.size();
    while (end > 2 && (bytes[end - 1] == '\0' || bytes[end - 1] == '\n')) --end;
    if (end < 2 || static_cast<unsigned char>(bytes[end - 2]) != 0xff ||
        static_cast<unsigned char>(bytes[end - 1]) != 0xd9) {
      throw ConfigError(StrCat(what, ": the JPEG data (", bytes.size(),
                               " bytes) has no end-of-image marker: the file is truncated"));
    }
  } else {
    return h;
  }
  if (h.width <= 0 || h.height <= 0 || h.width * h.height > kMaxImagePixels) {
    throw ConfigError(StrCat(what, ": the ", h.format, " header declares ", h.width, "x", h.height,
                             " pixels; at most ", kMaxImagePixels,
                             " pixels are decoded (an image bomb or a damaged header?)"));
  }
  if ((expect_height > 0 && h.height != expect_height) ||
      (expect_width > 0 && h.width != expect_width)) {
    throw ConfigError(StrCat(what, ": the ", h.format, " image is ", h.height, "x", h.width,
                             " (height x width) but its Datum declares ", expect_height, "x",
                             expect_width));
  }
  return h;
}

cv::Mat ReadImageFile(const std::string& path, int imread_flags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(StrCat(path, ": cannot read the image: ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  if (bytes.empty()) throw ConfigError(StrCat(path, ": the image file is empty"));
  CheckEncodedImage(bytes, path);
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    image = cv::imdecode(buffer, imread_flags);
  } catch (const cv::Exception& e) {
    throw ConfigError(StrCat(path, ": cannot decode the image: ", e.what()));
  }
  if (image.empty()) throw ConfigError(StrCat(path, ": cannot decode the image"));
  return image;
}

void DecodeDatum(const Datum& datum, ColorMode mode, const std::string& what, DatumImage* out) {
  if (datum.encoded()) {
    DecodeEncoded(datum, mode, what, out);
  } else {
    DecodeRaw(datum, what, out);
  }
}

}  // namespace fcn
