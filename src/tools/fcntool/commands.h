// SPDX-License-Identifier: BSD-2-Clause
// fcntool's command table and the flags shared by its commands (Caffe's flag names).
#pragma once

#include <gflags/gflags.h>

#include <memory>
#include <string>
#include <vector>

#include "fcn/net.h"
#include "fcn/options.h"

DECLARE_string(model);
DECLARE_string(weights);
DECLARE_string(input_shape);
DECLARE_string(phase);
DECLARE_int32(level);
DECLARE_string(stage);
DECLARE_string(gpu);
DECLARE_int32(threads);
DECLARE_int32(iterations);
DECLARE_string(output);
DECLARE_string(output_dir);
DECLARE_string(class_names);
DECLARE_string(score_blobs);
DECLARE_string(max_memory);

namespace fcn::tool {

struct Command {
  const char* name;
  const char* summary;             ///< one line for the command list
  const char* usage;               ///< the synopsis and description for `fcntool help <name>`
  std::vector<std::string> flags;  ///< flags the command reads
  int (*run)();
  bool takes_files = false;  ///< positional arguments (files) follow the command: PositionalArgs()
};

/// Every command, in the order `fcntool help` lists them.
const std::vector<Command>& Commands();
const Command* FindCommand(const std::string& name);

/// Parses "1,3,500,500"; throws ConfigError naming the flag on bad text.
std::vector<std::int64_t> ParseShapeFlag(const std::string& flag, const std::string& text);
/// TRAIN / TEST from --phase (default given); throws ConfigError otherwise.
Phase ParsePhaseFlag(Phase default_phase);
/// The net state from --phase, --level and --stage.
NetStateOptions StateFromFlags(Phase default_phase);
/// Splits "a,b,c" (empty items dropped).
std::vector<std::string> SplitList(const std::string& text);
/// Throws ConfigError when a required flag is empty.
void RequireFlag(const char* name, const std::string& value);
/// The device ids of --gpu (empty: the CPU); throws ConfigError on bad text or in a build
/// without CUDA, RuntimeError for 'all' without devices.
std::vector<int> ParseGpuFlag();
/// Puts --gpu's device into `options` (nothing when --gpu is empty) and makes it current;
/// throws RuntimeError when it cannot be used.
void ApplyGpuFlag(Options* options);

/// Throws ConfigError when --threads was given outside [1, 4 x the machine's cores].
void CheckThreadsFlag();
/// --max_memory in bytes: the flag's value (bytes, or K/M/G/T with 1024 steps), or when empty
/// the memory this machine has available now (MemAvailable in /proc/meminfo).
std::int64_t MaxMemoryBytes();
/// Stops a net whose planned memory exceeds --max_memory before it runs: the parameters (with
/// their gradients and SGD history when `training`), every activation (with its gradient when
/// `training`) and the layers' own buffers, summed layer by layer in order, plus `extra`
/// bytes already planned elsewhere (the train net, for a test net). Throws ConfigError at the
/// layer whose sum crosses the line, naming the bytes. Returns the net's planned bytes.
std::int64_t CheckPlannedMemory(const Net& net, bool training, std::int64_t extra = 0);
/// test and score: --model in the TEST phase at --level/--stage with the tool's Options, its
/// planned memory checked against --max_memory, and --weights copied in.
std::unique_ptr<Net> LoadTestNet();

/// The positional arguments after the command name, for commands with takes_files.
std::vector<std::string>& PositionalArgs();

int RunAlign();
int RunCheck();
int RunTest();
int RunTrain();
int RunTime();
int RunDraw();
int RunExport();
int RunSurgery();
int RunScore();
int RunSegment();
int RunDeviceQuery();

}  // namespace fcn::tool
