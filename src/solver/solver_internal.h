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

void CheckWeightsMatch(const NetParameter& weights, const Net& net, const std::string& file,
                       bool require_match);

}  // namespace fcn
