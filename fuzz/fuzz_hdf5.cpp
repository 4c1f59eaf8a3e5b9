// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: an HDF5 file -> both of Caffe's HDF5 snapshot readers (the model,
// `.caffemodel.h5`, copied into the small net of fuzz_util; the solver state,
// `.solverstate.h5`, with the small net's history sizes as Solver::Restore gives them) and the signature test that picks a weights reader.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/common.h"
#include "fcn/net.h"
#include "fuzz_util.h"
#include "io/hdf5.h"

namespace {
std::unique_ptr<fcn::Net> net;
std::string path;
std::vector<std::int64_t> history_counts;  // the small net's, as Solver::Restore passes them
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  net = std::make_unique<fcn::Net>(fcn::fuzz::SmallNetParam(fcn::TEST));
  path = fcn::fuzz::ScratchDir() + "/in.h5";
  for (const fcn::Blob* p : net->learnable_params()) history_counts.push_back(p->count());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fcn::fuzz::WriteFile(path, data, size);
  (void)fcn::IsHdf5File(path);
  try {
    const fcn::NetParameter weights = fcn::ReadNetParamFromHdf5File(path);
    net->CopyTrainedLayersFrom(weights, path);
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  try {
    (void)fcn::ReadSolverStateFromHdf5File(path, &history_counts);
  } catch (const std::exception&) {
  }
  fcn::fuzz::CheckNoOpenHdf5Objects();
  return 0;
}
