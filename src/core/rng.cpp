// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/rng.h"

#include <cmath>
#include <sstream>

namespace fcn {

void Rng::Seed(std::uint64_t seed) {
  engine_.seed(static_cast<std::mt19937::result_type>(seed ^ (seed >> 32)));
  has_spare_ = false;
  spare_ = 0.0;
}

float Rng::Uniform01() { return static_cast<float>(NextU32() >> 8) * (1.0f / 16777216.0f); }

float Rng::Gaussian(float mean, float std) {
  if (has_spare_) {
    has_spare_ = false;
    return static_cast<float>(mean + std * spare_);
  }
  // Box-Muller on two uniforms in (0, 1] x [0, 1) with 32 bits each.
  const double u1 = (static_cast<double>(NextU32()) + 1.0) / 4294967296.0;
  const double u2 = static_cast<double>(NextU32()) / 4294967296.0;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586476925 * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return static_cast<float>(mean + std * radius * std::cos(angle));
}

std::uint32_t Rng::UniformInt(std::uint32_t n) {
  // Rejection sampling removes modulo bias.
  const std::uint32_t limit = static_cast<std::uint32_t>(0x100000000ull - (0x100000000ull % n));
  for (;;) {
    const std::uint32_t r = NextU32();
    if (limit == 0 || r < limit) return r % n;
  }
}

std::string Rng::SaveState() const {
  std::ostringstream os;
  os << "mt19937 " << engine_ << " spare " << (has_spare_ ? 1 : 0) << " ";
  os.precision(17);
  os << spare_;
  return os.str();
}

bool Rng::LoadState(const std::string& state) {
  std::istringstream is(state);
  std::string tag, spare_tag;
  int has_spare = 0;
  std::mt19937 engine;
  double spare = 0.0;
  if (!(is >> tag) || tag != "mt19937") return false;
  if (!(is >> engine >> spare_tag >> has_spare >> spare) || spare_tag != "spare") return false;
  engine_ = engine;
  has_spare_ = has_spare != 0;
  spare_ = spare;
  return true;
}

std::uint64_t SeedFromSetting(std::int64_t seed) {
  if (seed < 0) {
    std::random_device device;
    seed = (static_cast<std::int64_t>(device()) << 31) ^ device();
  }
  return static_cast<std::uint64_t>(seed);
}

}  // namespace fcn
