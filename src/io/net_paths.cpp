// SPDX-License-Identifier: BSD-2-Clause
// Path resolution for solver and net files (design decision 9).
#include "fcn/net_paths.h"

#include <glog/logging.h>

#include <filesystem>
#include <system_error>

#include "fcn/common.h"

namespace fcn {

namespace fs = std::filesystem;

std::string DirName(const std::string& path) { return fs::path(path).parent_path().string(); }

std::string ResolveReadPath(const std::string& path, const std::string& dir,
                            const std::string& what) {
  std::error_code ec;
  if (path.empty() || fs::exists(path, ec)) {
    if (!path.empty()) LOG(INFO) << "Resolved " << what << " \"" << path << "\" to " << path;
    return path;
  }
  if (!dir.empty() && fs::path(path).is_relative()) {
    const std::string beside = (fs::path(dir) / path).string();
    if (fs::exists(beside, ec)) {
      LOG(INFO) << "Resolved " << what << " \"" << path << "\" to " << beside
                << " (not found in the current directory; found beside the file naming it)";
      return beside;
    }
  }
  return path;
}

void ResolveNetPaths(const std::string& dir, NetParameter* param) {
  for (LayerParameter& layer : *param->mutable_layer()) {
    const std::string of_layer = StrCat(" of layer \"", layer.name(), "\"");
    if (layer.has_data_param() && layer.data_param().has_source()) {
      layer.mutable_data_param()->set_source(
          ResolveReadPath(layer.data_param().source(), dir, "data_param.source" + of_layer));
    }
    if (layer.has_transform_param() && layer.transform_param().has_mean_file()) {
      layer.mutable_transform_param()->set_mean_file(ResolveReadPath(
          layer.transform_param().mean_file(), dir, "transform_param.mean_file" + of_layer));
    }
  }
}

}  // namespace fcn
