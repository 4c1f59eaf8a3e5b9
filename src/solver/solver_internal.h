// SPDX-License-Identifier: BSD-2-Clause
// Helpers shared by the solver's source files and fcntool's train and test commands.
#pragma once

#include <string>

#include "fcn/net.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// Converts the deprecated `solver_type` enum into `type` (ConfigError when both are set).
void UpgradeSolverType(SolverParameter* param);

/// Throws ConfigError for settings no training can use: unknown policies, negative counts,
/// a base_lr that is negative or not finite, and the like.
void CheckSolverSettings(const SolverParameter& param);

/// With require_match, throws ConfigError when the file's layers with parameters name none of
/// the net's layers with parameters (the weights of another net), then checks that the file
/// sets a parameter (Net::CheckWeightsSetAParameter).
void CheckWeightsMatch(const WeightsTally& tally, const Net& net, const std::string& file,
                       bool require_match);

/// Reads `file` a layer at a time into `net` (Net::CopyTrainedLayersFromFile with
/// CheckWeightsMatch: its errors first, then the copy's); the names of the file's layers the net lacks go to `ignored`.
void CopyWeightsFile(Net* net, const std::string& file, bool require_match,
                     std::vector<std::string>* ignored);

}  // namespace fcn
