// SPDX-License-Identifier: BSD-2-Clause
// Fillers: the initial values of parameter blobs (Caffe's constant, gaussian, uniform,
// xavier, msra and bilinear), drawn from the Rng of the run (Layer::rng()).
#pragma once

#include "fcn/blob.h"
#include "fcn/proto/fcn.pb.h"
#include "fcn/rng.h"

namespace fcn {

/// Throws ConfigError when the filler type is unknown or its settings are invalid.
void ValidateFiller(const FillerParameter& param);
/// Fills blob->data according to param (validated first), drawing from `rng`.
void FillBlob(const FillerParameter& param, Blob* blob, Rng& rng);
/// Names of the known filler types.
const std::vector<std::string>& FillerTypes();

}  // namespace fcn
