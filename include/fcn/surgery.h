// SPDX-License-Identifier: BSD-2-Clause
// Net surgery as the FCN reference's surgery.py: transplanting a classifier's weights into a
// fully convolutional net by layer name (fully connected -> convolution by a flat row-major
// copy of equal element counts), FCN's diagonal bilinear weights for upsampling
// deconvolutions, and growing a score layer to more classes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fcn/net.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// What happened to one parameter blob (or one whole layer) during surgery.
struct SurgeryEntry {
  enum class Kind {
    kCopied,    ///< same shape: copied
    kCoerced,   ///< same element count, other shape: flat row-major copy
    kDropped,   ///< no target layer or blob, or a different element count
    kExpanded,  ///< expand_score: the old classes fill the first rows
    kKept,      ///< a target layer absent from the source keeps its filler values
    kInterp,    ///< bilinear upsampling weights on the diagonal
  };
  Kind kind = Kind::kCopied;
  std::string source_layer;  ///< empty for kKept and kInterp
  std::string target_layer;  ///< empty when the target layer does not exist
  int blob = -1;             ///< parameter index; -1 for a whole layer
  std::vector<std::int64_t> source_shape;
  std::vector<std::int64_t> target_shape;
  std::string note;  ///< why a blob was dropped, or what was written

  /// One report line, e.g. "coerced fc6[0]: 4096x25088 -> 4096x512x7x7".
  std::string ToString() const;
};

/// Every entry of a surgery run, in the order the operations happened.
struct SurgeryReport {
  std::vector<SurgeryEntry> entries;
  int Count(SurgeryEntry::Kind kind) const;
};

/// The shape a BlobProto stands for: its `shape`, or for legacy 4-D protos (num, channels,
/// height, width, as V1 files store them) the dimensions with leading 1s removed.
std::vector<std::int64_t> EffectiveShape(const BlobProto& proto);

/// surgery.transplant: for each source layer p with parameters, the target layer
/// p + suffix receives each blob i: a copy when the shapes agree, a flat row-major copy when
/// only the element counts agree; otherwise (or when the target has no such layer or blob)
/// the blob is dropped. Layers named in `skip` are left out (expand_score handles them).
/// Entries are appended to `report`.
void Transplant(const NetParameter& source, Net* target, const std::string& suffix,
                const std::vector<std::string>& skip, SurgeryReport* report);

/// Appends a kKept entry for each target layer with parameters that no copy, coercion,
/// expansion or interp entry of `report` wrote (they keep their filler values).
void ReportKeptLayers(const Net& target, SurgeryReport* report);

/// FCN's upsample_filt: a size x size bilinear kernel, row-major (§4.7 of the reference).
std::vector<float> BilinearKernel(int size);

/// The layers surgery.interp fills by default: every layer with parameters whose name
/// contains "up".
std::vector<std::string> DefaultInterpLayers(const Net& net);

/// surgery.interp: writes BilinearKernel(K) on the diagonal W[i, i] (W[i, 0] when the weight
/// is m x 1 x K x K) of each named layer; other entries keep their values. Throws ConfigError
/// naming the layer when it is absent or its weight is not m x k x K x K with k = m or k = 1.
void InterpLayers(const std::vector<std::string>& layers, Net* net, SurgeryReport* report);

/// surgery.expand_score: the source layer's k' classes (weight rows and bias) go into the
/// first k' of the target layer's k >= k' classes; the rest keep their values. With
/// num_classes > 0 the target layer must have that many. Throws ConfigError naming the layer
/// and both shapes when they do not fit.
void ExpandScore(const NetParameter& source, const std::string& layer, int num_classes, Net* target,
                 SurgeryReport* report);

}  // namespace fcn
