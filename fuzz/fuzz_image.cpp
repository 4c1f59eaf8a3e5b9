// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: image bytes -> DecodeDatum (an encoded Datum, decoded through OpenCV as the
// Data layer does) -> DataTransformer::Check and Transform. The first byte picks the colour
// mode (unchanged, colour, gray) and the transform (mean values, scale, a crop, a mirror); the
// rest is the image file.
#include <cstdint>
#include <string>
#include <vector>

#include "fcn/common.h"
#include "fcn/image_codec.h"
#include "fcn/rng.h"
#include "fuzz_util.h"
#include "layers/data_transformer.h"

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned options = data[0];
  fcn::Datum datum;
  datum.set_encoded(true);
  datum.set_data(reinterpret_cast<const char*>(data + 1), size - 1);
  fcn::TransformationParameter tp;
  switch (options % 3) {
    case 1:
      tp.set_force_color(true);
      break;
    case 2:
      tp.set_force_gray(true);
      break;
    default:
      break;
  }
  if (options & 4) tp.add_mean_value(104.0f);
  if (options & 8) tp.set_scale(1.0f / 255.0f);
  if (options & 16) tp.set_crop_size(4);
  if (options & 32) tp.set_mirror(true);
  try {
    const fcn::DataTransformer transformer(tp, (options & 64) ? fcn::TRAIN : fcn::TEST);
    fcn::DatumImage image;
    fcn::DecodeDatum(datum, transformer.color_mode(), "fuzz image", &image);
    transformer.Check(image, "fuzz image");
    const std::int64_t height = transformer.OutputHeight(image);
    const std::int64_t width = transformer.OutputWidth(image);
    std::vector<float> out(static_cast<std::size_t>(image.channels * height * width));
    fcn::Rng rng;
    rng.Seed(1);
    transformer.Transform(image, &rng, out.data(), height, width);
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  return 0;
}
