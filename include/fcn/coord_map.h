// SPDX-License-Identifier: BSD-2-Clause
// Coordinate maps (what Caffe's python/caffe/coord_map.py computes): for each spatial layer,
// the affine map from input to output coordinates per spatial axis, out = a * in + b, with
// exact fractions. They give every Crop's offset from the layers between its two bottoms,
// and every blob's stride and receptive field relative to the net input.
//
//   Convolution, Pooling: a = 1/s, b = (p - (k_eff - 1)/2) / s   (window centres align)
//   Deconvolution:        a = s,   b = (k_eff - 1)/2 - p
//   Crop:                 a = 1,   b = -offset
//   ReLU, Dropout, Eltwise, Scale, Bias, Split, LRN, Softmax, Concat (non-spatial axis), ...:
//                         identity
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// An exact fraction num/den with den > 0, kept in lowest terms.
struct Fraction {
  std::int64_t num = 0;
  std::int64_t den = 1;

  static Fraction Of(std::int64_t n, std::int64_t d = 1);
  Fraction operator+(const Fraction& o) const;
  Fraction operator-(const Fraction& o) const;
  Fraction operator*(const Fraction& o) const;
  Fraction operator/(const Fraction& o) const;
  bool operator==(const Fraction& o) const { return num == o.num && den == o.den; }
  bool integral() const { return den == 1; }
  std::string ToString() const;
};

/// out = a * in + b on one spatial axis.
struct AxisMap {
  Fraction a = Fraction::Of(1);
  Fraction b = Fraction::Of(0);

  /// this after first: x -> this(first(x)).
  AxisMap After(const AxisMap& first) const;
  AxisMap Inverse() const;
};

/// What the analysis found for one Crop layer.
struct CropDerivation {
  std::string layer;              ///< the Crop layer's name
  int layer_index = -1;           ///< index in the analysed NetParameter
  int axis = 2;                   ///< the first cropped axis (from the file)
  std::vector<int> file_offsets;  ///< the offsets the file states, one per cropped spatial axis
  std::vector<int> derived;       ///< derived offsets, one per spatial axis; empty if none
  std::string problem;            ///< why no offset could be derived (empty when derived)

  bool matches() const { return problem.empty() && derived == file_offsets; }
};

/// A blob's geometry relative to the net input.
struct BlobGeometry {
  std::vector<AxisMap> maps;        ///< input -> blob, per spatial axis
  std::vector<Fraction> stride;     ///< input pixels per blob pixel, per axis (1/a)
  std::vector<std::int64_t> field;  ///< receptive field in input pixels, per axis
};

/// Analyses a (filtered, upgraded) net definition with `spatial_axes` spatial axes (2 for
/// images). Layers are taken in order; in-place layers update the producer of their blob.
class CoordMapAnalysis {
 public:
  explicit CoordMapAnalysis(const NetParameter& param, int spatial_axes = 2);

  /// One entry per Crop layer, in file order.
  const std::vector<CropDerivation>& crops() const { return crops_; }
  /// Geometry of every blob reachable from `input` through layers with a defined map.
  std::map<std::string, BlobGeometry> Geometry(const std::string& input) const;

 private:
  // The map of layer `index` (input -> output) on each axis; false when undefined. A Crop
  // uses its derived offsets when `derived` is set and they are known, else the file's.
  bool LayerMap(int index, bool derived, std::vector<AxisMap>* maps) const;
  // Maps of every ancestor of blob version `v`: ancestor coordinates -> v's coordinates.
  std::map<int, std::vector<AxisMap>> Ancestors(int version) const;
  CropDerivation DeriveCrop(int layer_index) const;

  const NetParameter& param_;
  int axes_;
  // Blob versions: each top a layer writes is a new version (in-place layers too).
  std::vector<std::string> version_blob_;
  std::vector<int> version_producer_;            // layer index, -1 for none
  std::vector<std::vector<int>> layer_bottoms_;  // versions read by each layer
  std::vector<std::vector<int>> layer_tops_;     // versions written by each layer
  std::vector<CropDerivation> crops_;
  std::map<int, std::vector<int>> derived_offsets_;  // layer index -> derived offsets
};

}  // namespace fcn
