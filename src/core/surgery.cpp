// SPDX-License-Identifier: BSD-2-Clause
// Net surgery (the FCN reference's surgery.transplant, interp and expand_score).
#include "fcn/surgery.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace fcn {

namespace {

const char* KindLabel(SurgeryEntry::Kind kind) {
  switch (kind) {
    case SurgeryEntry::Kind::kCopied:
      return "copied";
    case SurgeryEntry::Kind::kCoerced:
      return "coerced";
    case SurgeryEntry::Kind::kDropped:
      return "dropped";
    case SurgeryEntry::Kind::kExpanded:
      return "expanded";
    case SurgeryEntry::Kind::kKept:
      return "kept";
    case SurgeryEntry::Kind::kInterp:
      return "interp";
  }
  return "?";
}

std::string Named(const std::string& layer, int blob) {
  return blob < 0 ? layer : StrCat(layer, "[", blob, "]");
}

// The values of a BlobProto (legacy or current shape, float or double data).
Blob ProtoValues(const BlobProto& proto, const std::string& layer, int index) {
  Blob values;
  try {
    values.FromProto(proto, /*reshape=*/true);
  } catch (const ConfigError& e) {
    throw ConfigError(
        StrCat("weights: layer \"", layer, "\" parameter ", index, ": ", e.message()));
  }
  return values;
}

std::string KnownParamLayers(const Net& net) {
  std::vector<std::string> names;
  for (const auto& layer : net.layers()) {
    if (!layer->blobs().empty()) names.push_back(layer->name());
  }
  return names.empty() ? "none" : Join(names, ", ");
}

}  // namespace

std::string SurgeryEntry::ToString() const {
  std::string label = KindLabel(kind);
  label.resize(9, ' ');
  const std::string& first = source_layer.empty() ? target_layer : source_layer;
  std::string out = label + Named(first, blob);
  if (!source_layer.empty() && !target_layer.empty() && target_layer != source_layer) {
    out += " -> " + Named(target_layer, blob);
  }
  out += ": ";
  switch (kind) {
    case Kind::kCopied:
      out += ShapeString(target_shape);
      break;
    case Kind::kCoerced:
    case Kind::kExpanded:
      out += ShapeString(source_shape) + " -> " + ShapeString(target_shape);
      break;
    case Kind::kDropped:
      out += ShapeString(source_shape);
      break;
    case Kind::kKept:
    case Kind::kInterp:
      out += ShapeString(target_shape);
      break;
  }
  if (!note.empty()) out += kind == Kind::kDropped ? " (" + note + ")" : ", " + note;
  return out;
}

int SurgeryReport::Count(SurgeryEntry::Kind kind) const {
  return static_cast<int>(std::count_if(entries.begin(), entries.end(),
                                        [kind](const SurgeryEntry& e) { return e.kind == kind; }));
}

std::vector<std::int64_t> EffectiveShape(const BlobProto& proto) {
  std::vector<std::int64_t> shape = ProtoShape(proto);
  if (!proto.has_shape()) {
    std::size_t first = 0;
    while (first + 1 < shape.size() && shape[first] == 1) ++first;
    shape.erase(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(first));
  }
  return shape;
}

void Transplant(const NetParameter& source, Net* target, const std::string& suffix,
                const std::vector<std::string>& skip, SurgeryReport* report) {
  for (const LayerParameter& src : source.layer()) {
    if (src.blobs_size() == 0) continue;
    if (std::find(skip.begin(), skip.end(), src.name()) != skip.end()) continue;
    const std::string target_name = src.name() + suffix;
    Layer* layer = target->layer_by_name(target_name);
    for (int i = 0; i < src.blobs_size(); ++i) {
      SurgeryEntry e;
      e.source_layer = src.name();
      e.blob = i;
      e.source_shape = EffectiveShape(src.blobs(i));
      if (layer == nullptr) {
        e.kind = SurgeryEntry::Kind::kDropped;
        e.note = StrCat("no layer \"", target_name, "\" in the target net");
        report->entries.push_back(e);
        continue;
      }
      e.target_layer = target_name;
      const auto& blobs = layer->blobs();
      if (static_cast<std::size_t>(i) >= blobs.size()) {
        e.kind = SurgeryEntry::Kind::kDropped;
        e.note = StrCat("the target layer has ", blobs.size(), " parameter blob(s)");
        report->entries.push_back(e);
        continue;
      }
      Blob& dst = *blobs[static_cast<std::size_t>(i)];
      e.target_shape = dst.shape();
      const Blob values = ProtoValues(src.blobs(i), src.name(), i);
      if (values.count() != dst.count()) {
        e.kind = SurgeryEntry::Kind::kDropped;
        e.note = StrCat(values.count(), " elements, the target ", dst.shape_string(), " has ",
                        dst.count());
        report->entries.push_back(e);
        continue;
      }
      std::copy(values.cpu_data(), values.cpu_data() + values.count(), dst.mutable_cpu_data());
      e.kind = dst.ShapeEquals(src.blobs(i)) ? SurgeryEntry::Kind::kCopied
                                             : SurgeryEntry::Kind::kCoerced;
      report->entries.push_back(e);
    }
  }
}

void ReportKeptLayers(const Net& target, SurgeryReport* report) {
  std::set<std::string> written;
  for (const SurgeryEntry& e : report->entries) {
    if (e.kind != SurgeryEntry::Kind::kDropped && e.kind != SurgeryEntry::Kind::kKept) {
      written.insert(e.target_layer);
    }
  }
  for (const auto& layer : target.layers()) {
    if (layer->blobs().empty() || written.count(layer->name())) continue;
    SurgeryEntry e;
    e.kind = SurgeryEntry::Kind::kKept;
    e.target_layer = layer->name();
    e.target_shape = layer->blobs()[0]->shape();
    e.note =
        StrCat("not in the weights; keeps its filler values (", layer->blobs().size(), " blob(s))");
    report->entries.push_back(e);
  }
}

std::vector<float> BilinearKernel(int size) {
  const int factor = (size + 1) / 2;
  const double center = size % 2 == 1 ? factor - 1 : factor - 0.5;
  std::vector<float> kernel(static_cast<std::size_t>(size) * static_cast<std::size_t>(size));
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const double value =
          (1 - std::fabs(y - center) / factor) * (1 - std::fabs(x - center) / factor);
      kernel[static_cast<std::size_t>(y * size + x)] = static_cast<float>(value);
    }
  }
  return kernel;
}

std::vector<std::string> DefaultInterpLayers(const Net& net) {
  std::vector<std::string> names;
  for (const auto& layer : net.layers()) {
    if (!layer->blobs().empty() && layer->name().find("up") != std::string::npos) {
      names.push_back(layer->name());
    }
  }
  return names;
}

void InterpLayers(const std::vector<std::string>& layers, Net* net, SurgeryReport* report) {
  for (const std::string& name : layers) {
    Layer* layer = net->layer_by_name(name);
    if (layer == nullptr || layer->blobs().empty()) {
      throw ConfigError(StrCat(
          "interp: ",
          layer ? "layer \"" + name + "\" has no parameters" : "no layer \"" + name + "\"",
          " in net \"", net->name(), "\"; layers with parameters: ", KnownParamLayers(*net)));
    }
    Blob& weight = *layer->blobs()[0];
    const std::vector<std::int64_t>& s = weight.shape();
    if (s.size() != 4 || s[2] != s[3] || (s[0] != s[1] && s[1] != 1)) {
      throw ConfigError(StrCat(
          "interp: layer \"", name, "\" (", layer->type(), ") has weight ", weight.shape_string(),
          "; bilinear interpolation needs m x k x K x K with k = m "
          "(group 1) or k = 1 (one group per channel)",
          name.find("up") != std::string::npos ? "; name the layers to fill with --interp_layers"
                                               : ""));
    }
    const int size = static_cast<int>(s[2]);
    const std::vector<float> kernel = BilinearKernel(size);
    const std::int64_t plane = s[2] * s[3];
    float* w = weight.mutable_cpu_data();
    for (std::int64_t i = 0; i < s[0]; ++i) {
      const std::int64_t in = s[1] == 1 ? 0 : i;
      std::copy(kernel.begin(), kernel.end(), w + (i * s[1] + in) * plane);
    }
    SurgeryEntry e;
    e.kind = SurgeryEntry::Kind::kInterp;
    e.target_layer = name;
    e.blob = 0;
    e.target_shape = s;
    e.note = StrCat("bilinear ", size, "x", size, " kernel on the diagonal");
    report->entries.push_back(e);
  }
}

void ExpandScore(const NetParameter& source, const std::string& layer, int num_classes, Net* target,
                 SurgeryReport* report) {
  const LayerParameter* src = nullptr;
  for (const LayerParameter& l : source.layer()) {
    if (l.name() == layer && l.blobs_size() > 0) src = &l;
  }
  if (src == nullptr) {
    throw ConfigError(
        StrCat("expand_score: the weights have no layer \"", layer, "\" with parameters"));
  }
  Layer* dst = target->layer_by_name(layer);
  if (dst == nullptr || dst->blobs().empty()) {
    throw ConfigError(StrCat("expand_score: no layer \"", layer, "\" with parameters in net \"",
                             target->name(),
                             "\"; layers with parameters: ", KnownParamLayers(*target)));
  }
  const int num_blobs = std::min<int>(src->blobs_size(), static_cast<int>(dst->blobs().size()));
  const Blob old_weight = ProtoValues(src->blobs(0), layer, 0);
  Blob& new_weight = *dst->blobs()[0];
  const std::vector<std::int64_t> old_shape = EffectiveShape(src->blobs(0));
  const std::int64_t old_classes = old_shape.empty() ? 1 : old_shape[0];
  const std::int64_t new_classes = new_weight.shape(0);
  if (num_classes > 0 && new_classes != num_classes) {
    throw ConfigError(StrCat("expand_score: layer \"", layer, "\" of net \"", target->name(),
                             "\" has ", new_classes, " outputs (weight ", new_weight.shape_string(),
                             "), not ", num_classes));
  }
  if (old_classes > new_classes || old_weight.count() / old_classes != new_weight.count(1)) {
    throw ConfigError(StrCat("expand_score: layer \"", layer, "\": the weights' ",
                             ShapeString(old_shape), " does not fit into the first rows of ",
                             new_weight.shape_string(),
                             " (needs at most as many classes and the same row size)"));
  }
  for (int b = 0; b < num_blobs; ++b) {
    const Blob values = ProtoValues(src->blobs(b), layer, b);
    Blob& target_blob = *dst->blobs()[static_cast<std::size_t>(b)];
    if (b > 0 && values.count() > target_blob.count()) {
      throw ConfigError(StrCat("expand_score: layer \"", layer, "\" parameter ", b,
                               ": the weights' ", ShapeString(EffectiveShape(src->blobs(b))),
                               " is larger than ", target_blob.shape_string()));
    }
    std::copy(values.cpu_data(), values.cpu_data() + values.count(),
              target_blob.mutable_cpu_data());
    SurgeryEntry e;
    e.kind = SurgeryEntry::Kind::kExpanded;
    e.source_layer = layer;
    e.target_layer = layer;
    e.blob = b;
    e.source_shape = EffectiveShape(src->blobs(b));
    e.target_shape = target_blob.shape();
    e.note = StrCat("classes 0..", old_classes - 1, " of ", new_classes);
    report->entries.push_back(e);
  }
}

}  // namespace fcn
