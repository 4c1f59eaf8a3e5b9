// SPDX-License-Identifier: BSD-2-Clause
// fcntool align: writes a copy of a prototxt whose Crop offsets are the ones derived from the
// coordinate maps (design.md decision 8); everything else in the file stays as written.
#include <cstdio>

#include "fcn/coord_map.h"
#include "tools/fcntool/align_text.h"
#include "tools/fcntool/commands.h"

DECLARE_string(output);

namespace fcn::tool {

int RunAlign() {
  RequireFlag("model", FLAGS_model);
  RequireFlag("output", FLAGS_output);
  const std::string text = ReadFileToString(FLAGS_model);
  NetParameter param = ReadNetParamFromTextString(text, FLAGS_model);
  Net::SetState(StateFromFlags(TEST), &param);
  std::vector<std::string> changes;
  const std::string aligned = AlignCropOffsets(text, FLAGS_model, FilterNet(param), &changes);
  WriteStringToFile(aligned, FLAGS_output);
  for (const std::string& c : changes) std::printf("%s\n", c.c_str());
  std::printf("Wrote %s (%zu crop offset(s) changed)\n", FLAGS_output.c_str(), changes.size());
  return 0;
}

}  // namespace fcn::tool
