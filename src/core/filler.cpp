// SPDX-License-Identifier: BSD-2-Clause
// Caffe's fillers (include/caffe/filler.hpp), float only, drawn from the run's Rng.
#include "fcn/filler.h"

#include <cmath>

#include "fcn/rng.h"

namespace fcn {

const std::vector<std::string>& FillerTypes() {
  static const std::vector<std::string> types = {"bilinear", "constant", "gaussian",
                                                 "msra",     "uniform",  "xavier"};
  return types;
}

void ValidateFiller(const FillerParameter& param) {
  const std::string& type = param.type();
  bool known = false;
  for (const auto& t : FillerTypes()) known = known || t == type;
  if (!known) {
    throw ConfigError(
        StrCat("unknown filler type \"", type, "\" (known: ", Join(FillerTypes(), ", "), ")"));
  }
  if (type == "uniform" && param.max() < param.min()) {
    throw ConfigError(StrCat("uniform filler has max ", param.max(), " < min ", param.min()));
  }
  if (type == "gaussian" && param.std() < 0) {
    throw ConfigError(StrCat("gaussian filler has negative std ", param.std()));
  }
}

namespace {

// fan_in = count / shape[0], fan_out = count / shape[1] (Caffe's definition).
float ScaleDenominator(const FillerParameter& param, const Blob& blob) {
  const double count = static_cast<double>(blob.count());
  const double fan_in =
      blob.num_axes() > 0 && blob.shape(0) > 0 ? count / static_cast<double>(blob.shape(0)) : count;
  const double fan_out =
      blob.num_axes() > 1 && blob.shape(1) > 0 ? count / static_cast<double>(blob.shape(1)) : count;
  double n = fan_in;
  if (param.variance_norm() == FillerParameter::AVERAGE) {
    n = (fan_in + fan_out) / 2.0;
  } else if (param.variance_norm() == FillerParameter::FAN_OUT) {
    n = fan_out;
  }
  return static_cast<float>(n);
}

}  // namespace

void FillBlob(const FillerParameter& param, Blob* blob, Rng& rng) {
  ValidateFiller(param);
  const std::int64_t count = blob->count();
  float* data = blob->mutable_cpu_data();
  const std::string& type = param.type();
  if (type == "constant") {
    for (std::int64_t i = 0; i < count; ++i) data[i] = param.value();
  } else if (type == "uniform") {
    for (std::int64_t i = 0; i < count; ++i) data[i] = rng.Uniform(param.min(), param.max());
  } else if (type == "gaussian") {
    for (std::int64_t i = 0; i < count; ++i) data[i] = rng.Gaussian(param.mean(), param.std());
    if (param.sparse() >= 0) {
      // Keep each weight with probability sparse / num_outputs (Caffe's sparse gaussian).
      if (blob->num_axes() < 1 || blob->shape(0) == 0) {
        throw ConfigError("sparse gaussian filler needs a blob with a first axis");
      }
      const float keep = static_cast<float>(param.sparse()) / static_cast<float>(blob->shape(0));
      for (std::int64_t i = 0; i < count; ++i) data[i] *= rng.Bernoulli(keep) ? 1.0f : 0.0f;
    }
  } else if (type == "xavier") {
    const float n = ScaleDenominator(param, *blob);
    const float scale = std::sqrt(3.0f / n);
    for (std::int64_t i = 0; i < count; ++i) data[i] = rng.Uniform(-scale, scale);
  } else if (type == "msra") {
    const float n = ScaleDenominator(param, *blob);
    const float std = std::sqrt(2.0f / n);
    for (std::int64_t i = 0; i < count; ++i) data[i] = rng.Gaussian(0.0f, std);
  } else if (type == "bilinear") {
    if (blob->num_axes() != 4 || blob->shape(2) != blob->shape(3)) {
      throw ConfigError(StrCat("bilinear filler needs a 4-D blob with a square kernel, got ",
                               blob->shape_string()));
    }
    const std::int64_t k = blob->shape(3);
    const float f = std::ceil(static_cast<float>(k) / 2.0f);
    const float c = static_cast<float>(k - 1) / (2.0f * f);
    for (std::int64_t i = 0; i < count; ++i) {
      const float x = static_cast<float>(i % k);
      const float y = static_cast<float>((i / k) % k);
      data[i] = (1 - std::fabs(x / f - c)) * (1 - std::fabs(y / f - c));
    }
  }
}

}  // namespace fcn
