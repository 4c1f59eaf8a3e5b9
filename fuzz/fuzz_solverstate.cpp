// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: .solverstate bytes -> Solver::Restore into a solver over the small net of
// fuzz_util. An input that starts with HDF5's signature is restored from a `.solverstate.h5`
// (Caffe picks the reader by that name), anything else from a binary `.solverstate`. The
// state's learned_net finds the small net's weights beside it (in.caffemodel[.h5]).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fcn/common.h"
#include "fcn/io.h"
#include "fcn/net.h"
#include "fcn/solver.h"
#include "fuzz_util.h"
#include "io/hdf5.h"

namespace {
std::unique_ptr<fcn::Solver> solver;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  const std::string dir = fcn::fuzz::ScratchDir();
  fcn::SolverParameter param;
  *param.mutable_net_param() = fcn::fuzz::SmallNetParam(fcn::TRAIN);
  param.set_base_lr(0.01f);
  param.set_lr_policy("fixed");
  param.set_momentum(0.9f);
  param.set_max_iter(10);
  param.set_snapshot_prefix(dir + "/small");
  solver = std::make_unique<fcn::Solver>(param, dir);
  fcn::NetParameter weights;
  solver->net()->ToProto(&weights);
  fcn::WriteProtoToBinaryFile(weights, dir + "/in.caffemodel");
  solver->net()->ToHdf5(dir + "/in.caffemodel.h5", false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool hdf5 = size >= 4 && std::memcmp(data, "\x89HDF", 4) == 0;
  const std::string path =
      fcn::fuzz::ScratchDir() + (hdf5 ? "/in.solverstate.h5" : "/in.solverstate");
  fcn::fuzz::WriteFile(path, data, size);
  try {
    solver->Restore(path);
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  fcn::fuzz::CheckNoOpenHdf5Objects();
  return 0;
}
