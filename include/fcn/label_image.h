// SPDX-License-Identifier: BSD-2-Clause
// Label images for display: the PASCAL VOC colour palette, palette files, and 8-bit
// palette-indexed PNGs (pixel value = class index, as VOC's SegmentationClass files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fcn {

/// One palette colour.
struct Rgb {
  std::uint8_t r = 0;
  std::uint8_t g = 0;
  std::uint8_t b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

/// The PASCAL VOC palette for classes 0..n-1 (fcn-reference §7.6): bit 3i of the class goes
/// to bit 7-i of red, bit 3i+1 to green, bit 3i+2 to blue. Class 255 (void) is (224,224,192).
std::vector<Rgb> VocPalette(int n = 256);

/// Reads a palette file: one colour per line, class k on the k-th colour line, written
/// "R G B" or "R,G,B" with values 0..255 (blank lines and text after '#' are skipped).
/// Throws ConfigError naming the file and line for a bad line, or when it holds no colour.
std::vector<Rgb> ReadPalette(const std::string& path);

/// Writes an 8-bit palette-indexed PNG of `height` x `width` class indices (row-major) with
/// the palette's colours (at most 256). Every index must have a palette entry (FCN_CHECK).
/// Throws RuntimeError when the file cannot be written.
void WriteIndexedPng(const std::string& path, const std::vector<std::uint8_t>& indices, int height,
                     int width, const std::vector<Rgb>& palette);

}  // namespace fcn
