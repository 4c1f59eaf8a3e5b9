// SPDX-License-Identifier: BSD-2-Clause
// fcntool align: the derived Crop offsets written into a prototxt's text, everything else kept.
#pragma once

#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// Rewrites the `offset` values of the Crop layers in `text` (a prototxt) to the derived
/// ones, keeping everything else (comments, layout) as written: one `offset` where every
/// spatial axis shares the value, one per axis otherwise. Returns the new text; `changes`
/// receives one line per edited layer. Throws ConfigError for a Crop whose offset cannot be
/// derived or whose axis is not the first spatial axis.
std::string AlignCropOffsets(const std::string& text, const std::string& name,
                             const NetParameter& analysed, std::vector<std::string>* changes);

}  // namespace fcn
