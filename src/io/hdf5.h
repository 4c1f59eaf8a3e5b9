// SPDX-License-Identifier: BSD-2-Clause
// Caffe's HDF5 snapshot files (snapshot_format: HDF5): the model file `.caffemodel.h5` with
// /data/<layer>/<i> (and /diff/<layer>/<i>) datasets, and the `.solverstate.h5` file with
// iter, learned_net, current_step and /history/<i>. Writes go through a temporary file and a
// rename, as the binary snapshots do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// Reads a `.caffemodel.h5` into a NetParameter holding one layer (name and blobs with their
/// shapes) per /data group, in the file's order. Throws ConfigError naming the path and the
/// dataset for a file that is not a Caffe HDF5 model.
NetParameter ReadNetParamFromHdf5File(const std::string& path);

/// One parameter blob of a `.caffemodel.h5`: /data/<layers[layer]>/<index>, and
/// /diff/<layers[layer]>/<index> when diffs are written.
struct Hdf5Dataset {
  std::size_t layer = 0;
  int index = 0;
  std::vector<std::int64_t> shape;
  const float* data = nullptr;
  const float* diff = nullptr;
};
/// Writes Caffe's HDF5 model file (Net::ToHDF5's layout): a /data group (and /diff when
/// write_diff) with one group per name in `layers`, in order, holding `datasets` (sorted by
/// layer). Throws RuntimeError when the file cannot be written (nothing is left behind).
void WriteWeightsToHdf5File(const std::vector<std::string>& layers,
                            const std::vector<Hdf5Dataset>& datasets, const std::string& path,
                            bool write_diff);
/// Writes Caffe's HDF5 solver state (iter, learned_net, current_step, /history/<i>) and, in
/// a dataset `fcn_state` Caffe does not read, fcn's extra resume fields (the serialised
/// SolverState fields numbered 10000 and up). Throws RuntimeError on a write failure.
void WriteSolverStateToHdf5File(const SolverState& state, const std::string& path);

/// Reads a `.solverstate.h5` (Caffe's or fcn's) into a SolverState. With `history_counts`
/// (the element count of each of the net's history blobs, in order), a /history with another
/// number of blobs, or a blob that claims another element count, is refused with a
/// ConfigError naming the file and the dataset before any memory is taken for it.
SolverState ReadSolverStateFromHdf5File(const std::string& path,
                                        const std::vector<std::int64_t>* history_counts = nullptr);

/// The HDF5 checker's loop (the executable fcn-hdf5-check): reads each file that the process
/// on the other end of socket `fd` asks for, with the readers above, and answers once it is
/// read, so that a file on which libhdf5 crashes ends this process, not the asking one.
/// Returns the exit status when the asking process hangs up (0) or sends garbage.
int ServeHdf5Checks(int fd);

}  // namespace fcn
