// SPDX-License-Identifier: BSD-2-Clause
// The layer registry. Each layer registers itself in its own .cpp, next to its schema:
//
//   FCN_REGISTER_LAYER(ReLULayer)   // in namespace fcn, in src/layers/relu.cpp
//
//   const LayerRegistry& registry = LayerRegistry::Builtin();
//   std::unique_ptr<Layer> relu = registry.Create(param);   // param.type() == "ReLU"
//
// FCN_REGISTER_LAYER adds the type during static initialisation of libfcn. The layers'
// object files go into libfcn whole (src/CMakeLists.txt: object libraries, not an archive
// the linker may pick from), so no registrar is dropped; layer_registry_test checks the list.
// A schema without a CoordMapRule, or a type registered twice, fails on the first use of
// the registry.
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
  /// Adds a type to Builtin() at run time: the Python module registers "Python" this way when
  /// it is imported (docs/python.md). A type already there is left as it is.
  static void AddBuiltinType(const LayerSchema& schema, Factory factory);
  /// Called (once per lookup) when Builtin() is asked for a type it does not hold; it may add
  /// the type with AddBuiltinType (fcntool starts its Python interpreter for "Python") or throw
  /// ConfigError. Null (the default): unknown types are errors at once.
  static void SetTypeProvider(std::function<void(const std::string& type)> provider);

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

/// Fills `registry` with the built-in layers (every FCN_REGISTER_LAYER in libfcn).
void RegisterBuiltinLayers(LayerRegistry& registry);

namespace internal {
/// FCN_REGISTER_LAYER's static object: records the type for RegisterBuiltinLayers.
struct LayerRegistrar {
  LayerRegistrar(const LayerSchema& (*schema)(), LayerRegistry::Factory factory);
};
}  // namespace internal

}  // namespace fcn

/// Registers layer class T (with a static `const LayerSchema& Schema()` and a constructor
/// from LayerParameter) as a built-in type. Use once, in T's .cpp, inside namespace fcn.
#define FCN_REGISTER_LAYER(T)                                                           \
  static const ::fcn::internal::LayerRegistrar fcn_layer_registrar_##T(                 \
      &T::Schema, [](const ::fcn::LayerParameter& p) -> std::unique_ptr<::fcn::Layer> { \
        return std::make_unique<T>(p);                                                  \
      });

namespace fcn {}  // namespace fcn
