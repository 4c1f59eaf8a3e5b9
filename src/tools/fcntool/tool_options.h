// SPDX-License-Identifier: BSD-2-Clause
// The edge where fcntool turns its flags, and the environment variables that stand as their
// defaults, into the library's Options and thread count. The library itself reads no
// environment variable (design.md, decision 12); this file is the one place fcntool does.
#pragma once

#include <functional>

#include "fcn/options.h"

namespace fcn::tool {

/// Looks up one environment variable: std::getenv in fcntool, a table in tests.
using EnvLookup = std::function<const char*(const char* name)>;

/// std::getenv.
const char* ProcessEnv(const char* name);

/// The Options of a run from --engine, --dnnl_keep_layouts, --dnnl_scratch_mb, --precision,
/// --cudnn_workspace_mb and --cudnn_deterministic. A flag left at its default takes
/// FCN_CONV_ENGINE, FCN_DNNL_KEEP_LAYOUTS, FCN_DNNL_SCRATCH_MB, FCN_PRECISION,
/// FCN_CUDNN_WORKSPACE_MB or FCN_CUDNN_DETERMINISTIC when set.
/// --gpu is applied by ApplyGpuFlag. Throws ConfigError naming the flag or variable on a bad
/// value.
Options OptionsFromFlags(const EnvLookup& env);

/// Whether --precision was given (train: it then overrides the solver's precision field, which
/// overrides FCN_PRECISION).
bool PrecisionFlagGiven();

/// The compute threads of the run: --threads when given, else FCN_NUM_THREADS, else
/// OMP_NUM_THREADS, else OPENBLAS_NUM_THREADS (values that are not positive integers are
/// ignored), else 0 (SetNumThreads: every core).
int ThreadsFromFlags(const EnvLookup& env);

/// The Options that every Net and Solver of this fcntool run is built with (filled once by
/// main from the flags, before the command runs).
Options& ToolOptions();

}  // namespace fcn::tool
