// SPDX-License-Identifier: BSD-2-Clause
// Caffe's HDF5 snapshot files (snapshot_format: HDF5): the model file `.caffemodel.h5` with
// /data/<layer>/<i> (and /diff/<layer>/<i>) datasets, and the `.solverstate.h5` file with
// iter, learned_net, current_step and /history/<i>. Writes go through a temporary file and a
// rename, as the binary snapshots do.
#pragma once

#include <string>

#include "fcn/net.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// True when the file starts with the HDF5 signature (or, when it cannot be read, when the
/// name ends in ".h5").
bool IsHdf5File(const std::string& path);

/// Reads a weights file in either form: HDF5 (by signature) or a binary NetParameter.
NetParameter ReadWeightsFile(const std::string& path);

/// Reads a `.caffemodel.h5` into a NetParameter holding one layer (name and blobs with their
/// shapes) per /data group, in the file's order. Throws ConfigError naming the path and the
/// dataset for a file that is not a Caffe HDF5 model.
NetParameter ReadNetParamFromHdf5File(const std::string& path);

/// Writes `net` as Caffe's Net::ToHDF5: a /data group per layer with one dataset per owned
/// parameter (shared ones are left out), and /diff the same way when write_diff.
/// Throws RuntimeError when the file cannot be written (nothing is left behind).
void WriteNetToHdf5File(const Net& net, const std::string& path, bool write_diff);

/// Writes Caffe's HDF5 solver state (iter, learned_net, current_step, /history/<i>) and, in
/// a dataset `fcn_state` Caffe does not read, fcn's extra resume fields (the serialised
/// SolverState fields numbered 10000 and up). Throws RuntimeError on a write failure.
void WriteSolverStateToHdf5File(const SolverState& state, const std::string& path);

/// Reads a `.solverstate.h5` (Caffe's or fcn's) into a SolverState.
SolverState ReadSolverStateFromHdf5File(const std::string& path);

}  // namespace fcn
