// SPDX-License-Identifier: BSD-2-Clause
// fcntool score's confusion-matrix heat map (OpenCV).
#pragma once

#include <string>
#include <vector>

#include "fcn/metrics.h"

namespace fcn {

/// Writes a PNG heat map of the row-normalised matrix (each row divided by t_i, so a cell is
/// the fraction of class i's pixels predicted as j; empty rows stay blank) in the viridis
/// colour map, with the class names (or indices) along both axes. Throws RuntimeError when
/// the file cannot be written.
void WriteConfusionPng(const ConfusionMatrix& matrix, const std::string& path,
                       const std::vector<std::string>& class_names = {});

}  // namespace fcn
