// SPDX-License-Identifier: BSD-2-Clause
// fcntool: `fcntool <command> --flags`. Exit codes: 0 success, 1 runtime failure, 2 bad input.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "fcn/common.h"
#include "fcn/layer_registry.h"
#include "fcn/threads.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/python_embed.h"
#include "tools/fcntool/tool_options.h"

namespace {

using fcn::tool::Command;
using fcn::tool::Commands;

void PrintUsage(std::ostream& os) {
  os << "fcntool: fully convolutional networks, Caffe-compatible.\n"
        "usage: fcntool <command> [--flag=value ...]\n\ncommands:\n";
  for (const Command& c : Commands()) {
    os << "  " << c.name << std::string(14 - std::string(c.name).size(), ' ') << c.summary << "\n";
  }
  os << "  help          print this list, or a command's usage: fcntool help <command>\n"
        "\nExit status: 0 success, 1 runtime failure, 2 bad input or configuration.\n";
}

void PrintCommandHelp(const Command& c) {
  std::cout << "usage: " << c.usage << "\n\nflags:\n";
  for (const std::string& name : c.flags) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) continue;
    std::cout << "  --" << info.name << " (" << info.description << ")\n      type: " << info.type
              << "  default: \"" << info.default_value << "\"\n";
  }
}

// gflags exits with status 1 on an unknown flag; fcntool reports bad input with 2, so flags
// are checked before gflags sees them.
bool CheckFlagsKnown(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    name = name.substr(0, name.find('='));
    if (name == "help" || name == "helpfull" || name == "version" || name == "helpshort") continue;
    gflags::CommandLineFlagInfo info;
    if (gflags::GetCommandLineFlagInfo(name.c_str(), &info)) continue;
    if (name.rfind("no", 0) == 0 && gflags::GetCommandLineFlagInfo(name.substr(2).c_str(), &info) &&
        info.type == "bool") {
      continue;
    }
    std::cerr << "fcntool: unknown flag --" << name << " (see: fcntool help)\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  FLAGS_logtostderr = true;
  gflags::SetUsageMessage("fcntool <command> [--flags]; run 'fcntool help' for the commands");
  if (!CheckFlagsKnown(argc, argv)) return 2;
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);

  if (argc < 2) {
    PrintUsage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "help") {
    if (argc < 3) {
      PrintUsage(std::cout);
      return 0;
    }
    const Command* c = fcn::tool::FindCommand(argv[2]);
    if (c == nullptr) {
      std::cerr << "fcntool: unknown command '" << argv[2] << "'\n";
      PrintUsage(std::cerr);
      return 2;
    }
    PrintCommandHelp(*c);
    return 0;
  }
  const Command* command = fcn::tool::FindCommand(name);
  if (command == nullptr) {
    std::cerr << "fcntool: unknown command '" << name << "'\n";
    PrintUsage(std::cerr);
    return 2;
  }
  if (command->takes_files) {
    fcn::tool::PositionalArgs().assign(argv + 2, argv + argc);
  } else if (argc > 2) {
    std::cerr << "fcntool " << name << ": unexpected argument '" << argv[2]
              << "' (flags are written --name=value)\n";
    return 2;
  }
  try {
#ifdef FCN_TOOL_PYTHON
    fcn::tool::InstallPythonLayers();
#else
    fcn::LayerRegistry::SetTypeProvider([](const std::string& type) {
      if (type == "Python") {
        throw fcn::ConfigError(
            "this fcntool was built without Python (FCN_PYTHON=OFF, or pybind11-dev, python3-dev "
            "or python3-numpy missing at configure time), so it cannot run Python layers; "
            "install them (scripts/install-deps.sh) and rebuild, or replace the layer (e.g. by "
            "an LMDB \"Data\" layer, data_scripts/convert_*.py)");
      }
    });
#endif
    // The one place where flags and environment variables become the run's settings.
    fcn::tool::CheckThreadsFlag();
    fcn::SetNumThreads(fcn::tool::ThreadsFromFlags(fcn::tool::ProcessEnv));
    fcn::Options& options = fcn::tool::ToolOptions();
    options = fcn::tool::OptionsFromFlags(fcn::tool::ProcessEnv);
    if (command->run != &fcn::tool::RunDeviceQuery &&
        std::find(command->flags.begin(), command->flags.end(), "gpu") != command->flags.end()) {
      fcn::tool::ApplyGpuFlag(&options);
    }
    return command->run();
  } catch (const fcn::ConfigError& e) {
    std::cerr << "fcntool " << name << ": " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "fcntool " << name << ": out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "fcntool " << name << ": " << e.what() << "\n";
    return 1;
  }
}
