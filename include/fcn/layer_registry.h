// SPDX-License-Identifier: BSD-2-Clause
// The layer registry: one explicit table of layer types (src/layers/builtin_layers.cpp).
//
//   const LayerRegistry& registry = LayerRegistry::Builtin();
//   std::unique_ptr<Layer> relu = registry.Create(param);   // param.type() == "ReLU"
//
// Creating an unknown type throws ConfigError listing the known types (and the nearest one).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fcn/layer.h"

namespace fcn {

class LayerRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Layer>(const LayerParameter&)>;

  /// The registry of every built-in layer type.
  static const LayerRegistry& Builtin();

  template <class T>
  void Add() {
    AddEntry(T::Schema(), [](const LayerParameter& p) -> std::unique_ptr<Layer> {
      return std::make_unique<T>(p);
    });
  }
  void AddEntry(const LayerSchema& schema, Factory factory);

  /// nullptr when the type is unknown.
  const LayerSchema* Find(const std::string& type) const;
  /// Throws ConfigError for an unknown type, a wrong bottom/top count or a *_param the type
  /// does not read. `num_tops` counts the tops after automatic ones were added.
  void Validate(const LayerParameter& param) const;
  std::unique_ptr<Layer> Create(const LayerParameter& param) const;
  /// Sorted type names.
  std::vector<std::string> Types() const;
  /// The message for an unknown type: the list of known types and the nearest match.
  std::string UnknownTypeMessage(const std::string& type) const;

 private:
  struct Entry {
    LayerSchema schema;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

/// Fills `registry` with the built-in layers (the one list; see builtin_layers.cpp).
void RegisterBuiltinLayers(LayerRegistry& registry);

}  // namespace fcn
