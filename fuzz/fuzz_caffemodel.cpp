// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: .caffemodel bytes (binary NetParameter, V1 or current, or an HDF5 model
// by its signature) -> Net::CopyTrainedLayersFromFile into the small net of fuzz_util, then a
// forward pass with whatever was loaded.
#include <cstdint>
#include <memory>
#include <string>

#include "fcn/common.h"
#include "fcn/net.h"
#include "fuzz_util.h"

namespace {
std::unique_ptr<fcn::Net> net;
std::string path;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  net = std::make_unique<fcn::Net>(fcn::fuzz::SmallNetParam(fcn::TEST));
  path = fcn::fuzz::ScratchDir() + "/in.caffemodel";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fcn::fuzz::WriteFile(path, data, size);
  try {
    net->CopyTrainedLayersFromFile(path);
    net->Forward();
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  fcn::fuzz::CheckNoOpenHdf5Objects();
  return 0;
}
