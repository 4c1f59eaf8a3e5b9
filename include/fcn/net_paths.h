// SPDX-License-Identifier: BSD-2-Clause
// Path rules of design decision 9: files that are read are tried as written (against the
// current directory), then against the directory of the file that names them.
#pragma once

#include <string>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// The directory part of a path ("" for a bare name).
std::string DirName(const std::string& path);

/// Returns `path` when it exists as written, else `dir`/`path` when that exists (and path is
/// relative), else `path` unchanged (the reader reports it). `what` names the field for the
/// log line, e.g. "net" or "data_param.source of layer \"data\"".
std::string ResolveReadPath(const std::string& path, const std::string& dir,
                            const std::string& what);

/// Resolves the files a net reads (data_param.source, transform_param.mean_file) against
/// `dir` (the directory of the net file, or of the solver for an inline net).
void ResolveNetPaths(const std::string& dir, NetParameter* param);

}  // namespace fcn
