// SPDX-License-Identifier: BSD-2-Clause
// The one table of fcntool commands: usage text and dispatch come from it.
#include "tools/fcntool/commands.h"

#include <sstream>

DEFINE_string(model, "", "The net definition (prototxt).");
DEFINE_string(weights, "",
              "Comma-separated .caffemodel files whose weights are copied into the net by layer "
              "name, in order.");
DEFINE_string(input_shape, "",
              "Reshape the net's (first) input to this shape before building the report, e.g. "
              "1,3,500,500.");
DEFINE_string(phase, "", "Net phase: TRAIN or TEST (each command has its own default).");
DEFINE_int32(level, 0, "Net state level.");
DEFINE_string(stage, "", "Comma-separated net state stages.");
DEFINE_string(gpu, "", "GPU device ids, comma-separated, or 'all' (CPU when empty).");

namespace fcn::tool {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"check",
       "build a net and report its layers, shapes, parameters and memory",
       "fcntool check --model=NET.prototxt [--weights=W.caffemodel] [--input_shape=N,C,H,W]\n"
       "              [--phase=TEST] [--level=0] [--stage=a,b]\n"
       "  Builds the net (and loads the weights, if given), then prints every layer with its\n"
       "  top shapes, parameter count and memory, and the totals.",
       {"model", "weights", "input_shape", "phase", "level", "stage"},
       &RunCheck},
  };
  return commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::vector<std::int64_t> ParseShapeFlag(const std::string& flag, const std::string& text) {
  std::vector<std::int64_t> shape;
  for (const std::string& item : SplitList(text)) {
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value <= 0) {
      throw ConfigError(StrCat("--", flag, "=", text,
                               ": expected positive integers separated by commas, e.g. "
                               "1,3,500,500"));
    }
    shape.push_back(value);
  }
  if (shape.empty()) throw ConfigError(StrCat("--", flag, " is empty"));
  return shape;
}

Phase ParsePhaseFlag(Phase default_phase) {
  if (FLAGS_phase.empty()) return default_phase;
  if (FLAGS_phase == "TRAIN") return TRAIN;
  if (FLAGS_phase == "TEST") return TEST;
  throw ConfigError(StrCat("--phase=", FLAGS_phase, ": expected TRAIN or TEST"));
}

NetStateOptions StateFromFlags(Phase default_phase) {
  NetStateOptions state;
  state.phase = ParsePhaseFlag(default_phase);
  state.level = FLAGS_level;
  state.stages = SplitList(FLAGS_stage);
  return state;
}

void RequireFlag(const char* name, const std::string& value) {
  if (value.empty()) throw ConfigError(StrCat("--", name, " is required (see: fcntool help)"));
}

}  // namespace fcn::tool
