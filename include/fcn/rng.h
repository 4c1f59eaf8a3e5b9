// SPDX-License-Identifier: BSD-2-Clause
// Rng: the seeded random source behind fillers, Dropout masks and data shuffling. There is no
// global one: a Net owns its Rng, or shares the one of the Solver that built it (Caffe's global
// RNG, per run), and gives it to its layers (Layer::rng()).
// Distributions are computed here from the raw Mersenne Twister output (not with <random>'s
// implementation-defined distributions), so a seed gives the same numbers with any compiler,
// and the state can be saved and restored for an exact resume.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace fcn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 5489u) { Seed(seed); }
  void Seed(std::uint64_t seed);

  std::uint32_t NextU32() { return static_cast<std::uint32_t>(engine_()); }
  /// Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float Uniform01();
  /// Uniform in [a, b] (b itself can come out of float rounding, as in Caffe).
  float Uniform(float a, float b) { return a + (b - a) * Uniform01(); }
  /// Normal(mean, std) by the Box-Muller transform in double precision.
  float Gaussian(float mean, float std);
  /// 1 with probability p.
  bool Bernoulli(float p) { return Uniform01() < p; }
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  std::uint32_t UniformInt(std::uint32_t n);

  /// The complete state as text (engine + cached normal), and back.
  std::string SaveState() const;
  /// Returns false when the text is not a saved state.
  bool LoadState(const std::string& state);

 private:
  std::mt19937 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// A seed for Rng::Seed from a signed setting (Caffe's random_seed): the value itself when it
/// is not negative, otherwise one drawn from std::random_device.
std::uint64_t SeedFromSetting(std::int64_t seed);

}  // namespace fcn
