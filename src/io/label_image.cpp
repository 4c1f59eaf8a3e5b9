// SPDX-License-Identifier: BSD-2-Clause
// VOC palette, palette files and palette-indexed PNG output through libpng.
#include "fcn/label_image.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "fcn/common.h"

namespace fcn {

std::vector<Rgb> VocPalette(int n) {
  std::vector<Rgb> palette(static_cast<std::size_t>(std::max(n, 0)));
  for (int k = 0; k < n; ++k) {
    Rgb& colour = palette[static_cast<std::size_t>(k)];
    int bits = k;
    for (int i = 0; bits != 0; ++i, bits >>= 3) {
      const int shift = 7 - i;
      colour.r = static_cast<std::uint8_t>(colour.r | ((bits & 1) << shift));
      colour.g = static_cast<std::uint8_t>(colour.g | (((bits >> 1) & 1) << shift));
      colour.b = static_cast<std::uint8_t>(colour.b | (((bits >> 2) & 1) << shift));
    }
  }
  return palette;
}

std::vector<Rgb> ReadPalette(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(StrCat(path, ": cannot read the palette"));
  std::vector<Rgb> palette;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    line = line.substr(0, line.find('#'));
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    std::vector<long> values;
    std::string token;
    while (fields >> token) {
      std::size_t used = 0;
      long value = -1;
      try {
        value = std::stol(token, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != token.size() || value < 0 || value > 255) {
        throw ConfigError(StrCat(path, ":", line_no, ": \"", token,
                                 "\" is not a colour value 0..255 (lines are \"R G B\")"));
      }
      values.push_back(value);
    }
    if (values.empty()) continue;
    if (values.size() != 3) {
      throw ConfigError(
          StrCat(path, ":", line_no, ": expected 3 values R G B, got ", values.size()));
    }
    palette.push_back({static_cast<std::uint8_t>(values[0]), static_cast<std::uint8_t>(values[1]),
                       static_cast<std::uint8_t>(values[2])});
  }
  if (palette.empty()) throw ConfigError(StrCat(path, ": no colours in the palette file"));
  if (palette.size() > 256) {
    throw ConfigError(StrCat(path, ": ", palette.size(), " colours; a PNG palette holds 256"));
  }
  return palette;
}

namespace {

// The libpng calls, kept apart from any C++ object: libpng reports errors by longjmp to the
// setjmp below, which must not skip destructors. Returns false when libpng failed.
bool WritePalettePng(std::FILE* file, png_uint_32 width, png_uint_32 height,
                     const png_color* colours, int num_colours, png_bytep* rows) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_PLTE(png, info, colours, num_colours);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void WriteIndexedPng(const std::string& path, const std::vector<std::uint8_t>& indices, int height,
                     int width, const std::vector<Rgb>& palette) {
  FCN_CHECK(
      height > 0 && width > 0 &&
          indices.size() == static_cast<std::size_t>(height) * static_cast<std::size_t>(width),
      "label image size mismatch");
  FCN_CHECK(!palette.empty() && palette.size() <= 256, "palette size ", palette.size());
  for (const std::uint8_t v : indices) {
    FCN_CHECK(v < palette.size(), "class ", int{v}, " has no palette colour");
  }
  std::vector<png_color> colours(palette.size());
  for (std::size_t i = 0; i < palette.size(); ++i) {
    colours[i] = {palette[i].r, palette[i].g, palette[i].b};
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(height));
  for (int y = 0; y < height; ++y) {
    rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(
        indices.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"),
                                                       &std::fclose);
  if (!file) throw RuntimeError(StrCat(path, ": cannot open for writing"));
  if (!WritePalettePng(file.get(), static_cast<png_uint_32>(width),
                       static_cast<png_uint_32>(height), colours.data(),
                       static_cast<int>(colours.size()), rows.data()) ||
      std::fflush(file.get()) != 0) {
    throw RuntimeError(StrCat(path, ": cannot write the PNG"));
  }
}

}  // namespace fcn
