// SPDX-License-Identifier: BSD-2-Clause
#include "fcn/layer_registry.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cctype>

namespace fcn {

namespace {

struct PendingLayer {
  const LayerSchema& (*schema)();
  LayerRegistry::Factory factory;
};

// Filled by the FCN_REGISTER_LAYER objects during static initialisation (a function-local
// static, so that it exists before the first registrar runs, whatever the order of files).
std::vector<PendingLayer>& PendingLayers() {
  static std::vector<PendingLayer> pending;
  return pending;
}

}  // namespace

namespace internal {
LayerRegistrar::LayerRegistrar(const LayerSchema& (*schema)(), LayerRegistry::Factory factory) {
  PendingLayers().push_back(PendingLayer{schema, std::move(factory)});
}
}  // namespace internal

void RegisterBuiltinLayers(LayerRegistry& registry) {
  for (const PendingLayer& layer : PendingLayers())
    registry.AddEntry(layer.schema(), layer.factory);
}

namespace {

LayerRegistry& MutableBuiltin() {
  static LayerRegistry registry = [] {
    LayerRegistry r;
    RegisterBuiltinLayers(r);
    return r;
  }();
  return registry;
}

std::function<void(const std::string&)>& TypeProvider() {
  static std::function<void(const std::string&)> provider;
  return provider;
}

}  // namespace

const LayerRegistry& LayerRegistry::Builtin() { return MutableBuiltin(); }

void LayerRegistry::AddBuiltinType(const LayerSchema& schema, Factory factory) {
  LayerRegistry& r = MutableBuiltin();
  if (r.Find(schema.type) != nullptr) return;
  r.AddEntry(schema, std::move(factory));
}

void LayerRegistry::SetTypeProvider(std::function<void(const std::string& type)> provider) {
  TypeProvider() = std::move(provider);
}

void LayerRegistry::AddEntry(const LayerSchema& schema, Factory factory) {
  FCN_CHECK(entries_.count(schema.type) == 0, "layer type registered twice: ", schema.type);
  FCN_CHECK(schema.coord_map != CoordMapRule::kUndeclared, "layer type ", schema.type,
            " declares no coordinate-map rule (LayerSchema::coord_map)");
  entries_[schema.type] = Entry{schema, std::move(factory)};
}

const LayerSchema* LayerRegistry::Find(const std::string& type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? nullptr : &it->second.schema;
}

std::vector<std::string> LayerRegistry::Types() const {
  std::vector<std::string> types;
  for (const auto& kv : entries_) types.push_back(kv.first);
  return types;
}

namespace {

std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string CountText(int lo, int hi) {
  if (hi < 0) return StrCat("at least ", lo);
  if (lo == hi) return std::to_string(lo);
  return StrCat(lo, " to ", hi);
}

}  // namespace

std::string LayerRegistry::UnknownTypeMessage(const std::string& type) const {
  std::string msg;
  if (type.empty()) {
    msg = "layer has no type";
  } else if (type == "Python") {
    msg =
        "Python layers run in fcntool built with Python (FCN_PYTHON, pybind11-dev) and in the "
        "Python module fcn (docs/python.md, \"Python layers\"); this program has no Python "
        "interpreter. Without Python, the FCN reference data layers (voc_layers, nyud_layers, "
        "siftflow_layers) are replaced by the LMDB \"Data\" layer: convert the dataset with "
        "data_scripts/convert_*.py and use type: \"Data\" with data_param { source: \"<lmdb "
        "dir>\" backend: LMDB batch_size: 1 }";
    return msg;
  } else {
    msg = StrCat("unknown layer type \"", type, "\"");
    std::string best;
    std::size_t best_distance = 3;
    for (const auto& kv : entries_) {
      const std::size_t d = EditDistance(type, kv.first);
      if (d < best_distance) {
        best_distance = d;
        best = kv.first;
      }
    }
    if (!best.empty()) msg += StrCat(" (did you mean \"", best, "\"?)");
  }
  return msg + StrCat("; known types: ", Join(Types(), ", "));
}

void LayerRegistry::Validate(const LayerParameter& param) const {
  const LayerSchema* schema = Find(param.type());
  if (schema == nullptr && this == &Builtin() && TypeProvider()) {
    TypeProvider()(param.type());
    schema = Find(param.type());
  }
  if (schema == nullptr) throw ConfigError(UnknownTypeMessage(param.type()));
  const int bottoms = param.bottom_size();
  if (bottoms < schema->min_bottoms ||
      (schema->max_bottoms >= 0 && bottoms > schema->max_bottoms)) {
    throw ConfigError(StrCat(param.type(), " takes ",
                             CountText(schema->min_bottoms, schema->max_bottoms),
                             " bottom blob(s), got ", bottoms));
  }
  const int tops = param.top_size();
  const int min_tops = schema->auto_top ? 0 : schema->min_tops;
  if (tops < min_tops || (schema->max_tops >= 0 && tops > schema->max_tops)) {
    throw ConfigError(StrCat(param.type(), " takes ", CountText(schema->min_tops, schema->max_tops),
                             " top blob(s), got ", tops));
  }
  // Every *_param sub-message that is set must be one this type reads.
  const auto* reflection = param.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(param, &fields);
  for (const auto* field : fields) {
    const std::string& name = field->name();
    if (name.size() < 6 || name.compare(name.size() - 6, 6, "_param") != 0) continue;
    if (std::find(schema->params.begin(), schema->params.end(), name) == schema->params.end()) {
      std::string allowed = schema->params.empty() ? "none" : Join(schema->params, ", ");
      throw ConfigError(
          StrCat(name, " does not apply to a ", param.type(), " layer (it reads: ", allowed, ")"));
    }
  }
}

std::unique_ptr<Layer> LayerRegistry::Create(const LayerParameter& param) const {
  Validate(param);
  const Entry& entry = entries_.at(param.type());
  std::unique_ptr<Layer> layer = entry.factory(param);
  layer->schema_ = &entry.schema;
  return layer;
}

}  // namespace fcn
