// SPDX-License-Identifier: BSD-2-Clause
// Coordinate-map analysis of a net definition (see include/fcn/coord_map.h).
#include "fcn/coord_map.h"

#include <algorithm>
#include <deque>
#include <numeric>
#include <set>

#include "fcn/common.h"
#include "fcn/layer_registry.h"

namespace fcn {

namespace pb = google::protobuf;

Fraction Fraction::Of(std::int64_t n, std::int64_t d) {
  FCN_CHECK(d != 0, "zero denominator");
  if (d < 0) {
    n = -n;
    d = -d;
  }
  const std::int64_t g = std::gcd(n < 0 ? -n : n, d);
  return g > 1 ? Fraction{n / g, d / g} : Fraction{n, d};
}
Fraction Fraction::operator+(const Fraction& o) const {
  return Of(num * o.den + o.num * den, den * o.den);
}
Fraction Fraction::operator-(const Fraction& o) const {
  return Of(num * o.den - o.num * den, den * o.den);
}
Fraction Fraction::operator*(const Fraction& o) const { return Of(num * o.num, den * o.den); }
Fraction Fraction::operator/(const Fraction& o) const { return Of(num * o.den, den * o.num); }
std::string Fraction::ToString() const {
  return den == 1 ? std::to_string(num) : StrCat(num, "/", den);
}

AxisMap AxisMap::After(const AxisMap& first) const {
  // this(first(x)) = a (a1 x + b1) + b
  return AxisMap{a * first.a, a * first.b + b};
}

AxisMap AxisMap::Inverse() const { return AxisMap{Fraction::Of(1) / a, Fraction::Of(0) - b / a}; }

namespace {

// Caffe layer types that fcn does not implement but whose maps Caffe's coord_map.py knows
// (all element-wise), so that `fcntool check`/`align` still analyse prototxts that use them.
// Every type fcn implements states its rule in its LayerSchema instead; a type in both places
// is an internal error (coord_map_test runs into it).
const std::set<std::string>& CaffeOnlyIdentityTypes() {
  static const std::set<std::string> types = [] {
    const std::set<std::string> t = {"BatchNorm", "BNLL",  "ELU",     "Exp",  "Log",      "MVN",
                                     "Power",     "PReLU", "Sigmoid", "TanH", "Threshold"};
    for (const std::string& type : t) {
      FCN_CHECK(LayerRegistry::Builtin().Find(type) == nullptr, "layer type ", type,
                " is registered: drop it from coord_map.cpp's Caffe-only list");
    }
    return t;
  }();
  return types;
}

// The coordinate-map rule of a layer type: its schema's, else the Caffe-only list's.
CoordMapRule RuleOf(const std::string& type) {
  if (const LayerSchema* schema = LayerRegistry::Builtin().Find(type)) return schema->coord_map;
  return CaffeOnlyIdentityTypes().count(type) ? CoordMapRule::kIdentity : CoordMapRule::kNone;
}

// Per-axis value from Caffe's "once or once per axis, or the _h/_w form" convention.
int AxisValue(const pb::RepeatedField<pb::uint32>& repeated, bool has_h, pb::uint32 h, bool has_w,
              pb::uint32 w, int axis, int fallback) {
  if (has_h || has_w) return static_cast<int>(axis == 0 ? h : w);
  if (repeated.empty()) return fallback;
  if (repeated.size() == 1) return static_cast<int>(repeated.Get(0));
  return axis < repeated.size() ? static_cast<int>(repeated.Get(axis)) : fallback;
}

// Offsets a Crop layer states, one per spatial axis (axes before `axis` get 0).
std::vector<int> CropFileOffsets(const CropParameter& cp, int spatial_axes) {
  std::vector<int> offsets(static_cast<std::size_t>(spatial_axes), 0);
  const int axis = cp.axis();
  for (int i = 0; i < spatial_axes; ++i) {
    const int tensor_axis = 2 + i;
    if (tensor_axis < axis) continue;
    const int k = tensor_axis - axis;
    if (cp.offset_size() == 1) {
      offsets[static_cast<std::size_t>(i)] = static_cast<int>(cp.offset(0));
    } else if (k < cp.offset_size()) {
      offsets[static_cast<std::size_t>(i)] = static_cast<int>(cp.offset(k));
    }
  }
  return offsets;
}

}  // namespace

CoordMapAnalysis::CoordMapAnalysis(const NetParameter& param, int spatial_axes)
    : param_(param), axes_(spatial_axes) {
  std::map<std::string, int> current;  // blob name -> latest version
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& lp = param.layer(i);
    std::vector<int> bottoms;
    for (const std::string& b : lp.bottom()) {
      auto it = current.find(b);
      bottoms.push_back(it == current.end() ? -1 : it->second);
    }
    std::vector<int> tops;
    for (const std::string& t : lp.top()) {
      const int v = static_cast<int>(version_blob_.size());
      version_blob_.push_back(t);
      version_producer_.push_back(i);
      current[t] = v;
      tops.push_back(v);
    }
    layer_bottoms_.push_back(std::move(bottoms));
    layer_tops_.push_back(std::move(tops));
  }
  for (int i = 0; i < param.layer_size(); ++i) {
    if (param.layer(i).type() != "Crop") continue;
    // Later crops see the derived offsets of earlier ones, so one wrong offset in the file
    // does not spoil the derivation of the crops after it.
    crops_.push_back(DeriveCrop(i));
    if (crops_.back().problem.empty()) derived_offsets_[i] = crops_.back().derived;
  }
}

bool CoordMapAnalysis::LayerMap(int index, bool derived, std::vector<AxisMap>* maps) const {
  const LayerParameter& lp = param_.layer(index);
  const CoordMapRule rule = RuleOf(lp.type());
  maps->assign(static_cast<std::size_t>(axes_), AxisMap{});
  if (rule == CoordMapRule::kIdentity) return true;
  if (rule == CoordMapRule::kConcat) {
    const int axis = lp.concat_param().has_axis()
                         ? lp.concat_param().axis()
                         : static_cast<int>(lp.concat_param().concat_dim());
    return axis == 0 || axis == 1;
  }
  if (rule == CoordMapRule::kCrop) {
    auto known = derived_offsets_.find(index);
    const std::vector<int> offsets = derived && known != derived_offsets_.end()
                                         ? known->second
                                         : CropFileOffsets(lp.crop_param(), axes_);
    for (int i = 0; i < axes_; ++i)
      (*maps)[static_cast<std::size_t>(i)].b = Fraction::Of(-offsets[static_cast<std::size_t>(i)]);
    return true;
  }
  if (rule == CoordMapRule::kConvolution || rule == CoordMapRule::kDeconvolution) {
    const ConvolutionParameter& cp = lp.convolution_param();
    if (cp.axis() != 1) return false;
    for (int i = 0; i < axes_; ++i) {
      const int k = AxisValue(cp.kernel_size(), cp.has_kernel_h(), cp.kernel_h(), cp.has_kernel_w(),
                              cp.kernel_w(), i, 1);
      const int s = AxisValue(cp.stride(), cp.has_stride_h(), cp.stride_h(), cp.has_stride_w(),
                              cp.stride_w(), i, 1);
      const int p =
          AxisValue(cp.pad(), cp.has_pad_h(), cp.pad_h(), cp.has_pad_w(), cp.pad_w(), i, 0);
      const int d = AxisValue(cp.dilation(), false, 0, false, 0, i, 1);
      if (s <= 0) return false;
      const Fraction half_extent = Fraction::Of(d * (k - 1), 2);
      AxisMap& m = (*maps)[static_cast<std::size_t>(i)];
      if (rule == CoordMapRule::kConvolution) {
        m.a = Fraction::Of(1, s);
        m.b = (Fraction::Of(p) - half_extent) / Fraction::Of(s);
      } else {
        m.a = Fraction::Of(s);
        m.b = half_extent - Fraction::Of(p);
      }
    }
    return true;
  }
  if (rule == CoordMapRule::kPooling) {
    const PoolingParameter& pp = lp.pooling_param();
    if (pp.global_pooling()) return false;
    for (int i = 0; i < axes_; ++i) {
      const int k = pp.has_kernel_h() || pp.has_kernel_w()
                        ? static_cast<int>(i == 0 ? pp.kernel_h() : pp.kernel_w())
                        : static_cast<int>(pp.kernel_size());
      const int s = pp.has_stride_h() || pp.has_stride_w()
                        ? static_cast<int>(i == 0 ? pp.stride_h() : pp.stride_w())
                        : static_cast<int>(pp.stride());
      const int p = pp.has_pad_h() || pp.has_pad_w()
                        ? static_cast<int>(i == 0 ? pp.pad_h() : pp.pad_w())
                        : static_cast<int>(pp.pad());
      if (s <= 0) return false;
      AxisMap& m = (*maps)[static_cast<std::size_t>(i)];
      m.a = Fraction::Of(1, s);
      m.b = (Fraction::Of(p) - Fraction::Of(k - 1, 2)) / Fraction::Of(s);
    }
    return true;
  }
  return false;
}

std::map<int, std::vector<AxisMap>> CoordMapAnalysis::Ancestors(int version) const {
  std::map<int, std::vector<AxisMap>> maps;
  maps[version] = std::vector<AxisMap>(static_cast<std::size_t>(axes_));
  std::deque<int> frontier{version};
  while (!frontier.empty()) {
    const int v = frontier.front();
    frontier.pop_front();
    const int layer = version_producer_[static_cast<std::size_t>(v)];
    std::vector<AxisMap> step;
    if (layer < 0 || !LayerMap(layer, /*derived=*/true, &step)) continue;
    std::vector<int> bottoms = layer_bottoms_[static_cast<std::size_t>(layer)];
    if (RuleOf(param_.layer(layer).type()) == CoordMapRule::kCrop && !bottoms.empty())
      bottoms.resize(1);
    for (int b : bottoms) {
      if (b < 0 || maps.count(b)) continue;
      std::vector<AxisMap> composed(static_cast<std::size_t>(axes_));
      for (std::size_t i = 0; i < composed.size(); ++i) composed[i] = maps[v][i].After(step[i]);
      maps[b] = composed;
      frontier.push_back(b);
    }
  }
  return maps;
}

CropDerivation CoordMapAnalysis::DeriveCrop(int layer_index) const {
  const LayerParameter& lp = param_.layer(layer_index);
  CropDerivation d;
  d.layer = lp.name();
  d.layer_index = layer_index;
  d.axis = lp.crop_param().axis();
  d.file_offsets = CropFileOffsets(lp.crop_param(), axes_);
  const auto& bottoms = layer_bottoms_[static_cast<std::size_t>(layer_index)];
  if (bottoms.size() != 2 || bottoms[0] < 0 || bottoms[1] < 0) {
    d.problem = "needs two bottoms produced earlier in the net";
    return d;
  }
  const auto from_maps = Ancestors(bottoms[0]);
  // Walk back from the reference until a blob the cropped side also descends from.
  std::map<int, std::vector<AxisMap>> to_maps;
  to_maps[bottoms[1]] = std::vector<AxisMap>(static_cast<std::size_t>(axes_));
  std::deque<int> frontier{bottoms[1]};
  while (!frontier.empty()) {
    const int v = frontier.front();
    frontier.pop_front();
    auto hit = from_maps.find(v);
    if (hit != from_maps.end()) {
      for (int i = 0; i < axes_; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        const AxisMap m = to_maps[v][ui].After(hit->second[ui].Inverse());
        if (!(m.a == Fraction::Of(1))) {
          d.problem =
              StrCat("the two bottoms differ in scale (", m.a.ToString(), ") on spatial axis ", i);
          d.derived.clear();
          return d;
        }
        if (!m.b.integral() || m.b.num > 0) {
          d.problem = StrCat("the alignment offset ", (Fraction::Of(0) - m.b).ToString(),
                             " on spatial axis ", i, " is not a non-negative integer");
          d.derived.clear();
          return d;
        }
        d.derived.push_back(static_cast<int>(-m.b.num));
      }
      return d;
    }
    const int layer = version_producer_[static_cast<std::size_t>(v)];
    std::vector<AxisMap> step;
    if (layer < 0 || !LayerMap(layer, /*derived=*/true, &step)) continue;
    std::vector<int> next = layer_bottoms_[static_cast<std::size_t>(layer)];
    if (RuleOf(param_.layer(layer).type()) == CoordMapRule::kCrop && !next.empty()) next.resize(1);
    for (int b : next) {
      if (b < 0 || to_maps.count(b)) continue;
      std::vector<AxisMap> composed(static_cast<std::size_t>(axes_));
      for (std::size_t i = 0; i < composed.size(); ++i) composed[i] = to_maps[v][i].After(step[i]);
      to_maps[b] = composed;
      frontier.push_back(b);
    }
  }
  d.problem = "its bottoms are not connected through layers with a known coordinate map";
  return d;
}

std::map<std::string, BlobGeometry> CoordMapAnalysis::Geometry(const std::string& input) const {
  std::map<int, BlobGeometry> by_version;
  std::map<int, std::vector<Fraction>> field;  // exact receptive fields
  for (std::size_t v = 0; v < version_blob_.size(); ++v) {
    if (version_blob_[v] != input) continue;
    BlobGeometry g;
    g.maps.assign(static_cast<std::size_t>(axes_), AxisMap{});
    g.stride.assign(static_cast<std::size_t>(axes_), Fraction::Of(1));
    by_version[static_cast<int>(v)] = g;
    field[static_cast<int>(v)].assign(static_cast<std::size_t>(axes_), Fraction::Of(1));
    break;
  }
  for (int layer = 0; layer < param_.layer_size(); ++layer) {
    const auto li = static_cast<std::size_t>(layer);
    std::vector<int> bottoms = layer_bottoms_[li];
    if (RuleOf(param_.layer(layer).type()) == CoordMapRule::kCrop && !bottoms.empty())
      bottoms.resize(1);
    if (bottoms.empty()) continue;
    bool known = true;
    for (int b : bottoms) known = known && by_version.count(b);
    std::vector<AxisMap> step;
    if (!known || !LayerMap(layer, /*derived=*/false, &step)) continue;
    const BlobGeometry& first = by_version[bottoms[0]];
    const LayerParameter& lp = param_.layer(layer);
    BlobGeometry g;
    std::vector<Fraction> f = field[bottoms[0]];
    for (int b : bottoms) {
      for (std::size_t i = 0; i < f.size(); ++i) {
        const Fraction& fb = field[b][i];
        if (fb.num * f[i].den > f[i].num * fb.den) f[i] = fb;
      }
    }
    for (int i = 0; i < axes_; ++i) {
      const auto ui = static_cast<std::size_t>(i);
      g.maps.push_back(step[ui].After(first.maps[ui]));
      g.stride.push_back(Fraction::Of(1) / g.maps.back().a);
      // Growth of the receptive field: (input taps reaching one output - 1) * input stride.
      std::int64_t taps = 1;
      if (lp.type() == "Convolution" || lp.type() == "Pooling") {
        const bool conv = lp.type() == "Convolution";
        const ConvolutionParameter& cp = lp.convolution_param();
        const PoolingParameter& pp = lp.pooling_param();
        const int k = conv ? AxisValue(cp.kernel_size(), cp.has_kernel_h(), cp.kernel_h(),
                                       cp.has_kernel_w(), cp.kernel_w(), i, 1)
                           : (pp.has_kernel_h() || pp.has_kernel_w()
                                  ? static_cast<int>(i == 0 ? pp.kernel_h() : pp.kernel_w())
                                  : static_cast<int>(pp.kernel_size()));
        const int dil = conv ? AxisValue(cp.dilation(), false, 0, false, 0, i, 1) : 1;
        taps = static_cast<std::int64_t>(dil) * (k - 1) + 1;
      } else if (lp.type() == "Deconvolution") {
        const ConvolutionParameter& cp = lp.convolution_param();
        const int k = AxisValue(cp.kernel_size(), cp.has_kernel_h(), cp.kernel_h(),
                                cp.has_kernel_w(), cp.kernel_w(), i, 1);
        const int s = AxisValue(cp.stride(), cp.has_stride_h(), cp.stride_h(), cp.has_stride_w(),
                                cp.stride_w(), i, 1);
        const int dil = AxisValue(cp.dilation(), false, 0, false, 0, i, 1);
        const int k_eff = dil * (k - 1) + 1;
        taps = (k_eff + s - 1) / s;
      }
      f[ui] = f[ui] + Fraction::Of(taps - 1) * first.stride[ui];
    }
    for (int t : layer_tops_[li]) {
      by_version[t] = g;
      field[t] = f;
    }
  }
  std::map<std::string, BlobGeometry> out;
  for (auto& [v, g] : by_version) {
    for (const Fraction& fi : field[v]) g.field.push_back((fi.num + fi.den - 1) / fi.den);
    out[version_blob_[static_cast<std::size_t>(v)]] = g;
  }
  return out;
}

}  // namespace fcn
