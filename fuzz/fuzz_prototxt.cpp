// SPDX-License-Identifier: BSD-2-Clause
// libFuzzer target: prototxt text -> NetParameter -> Net build, then CheckPlannedMemory (what
// fcntool's --max_memory runs) with kForwardBudgetBytes, then a forward pass. Before building, a net whose sizes
// could take much memory is set aside (LimitNetSizes); AddressSanitizer's allocation cap
// (fuzz_util.cpp) turns any larger buffer into the library's out-of-memory error.
#include <cstdint>
#include <string>

#include "fcn/common.h"
#include "fcn/io.h"
#include "fcn/net.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char*** argv) {
  fcn::fuzz::Init(*argv);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // One build per input (a build is what costs): the phase follows the length's parity.
  const fcn::Phase phase = size % 2 ? fcn::TRAIN : fcn::TEST;
  try {
    fcn::NetSource source;
    fcn::NetParameter param = fcn::ReadNetParamFromTextString(text, "fuzz.prototxt", &source);
    if (!fcn::fuzz::LimitNetSizes(param)) return 0;
    param.mutable_state()->set_phase(phase);
    fcn::Net net(param, &source);
    // fcntool's --max_memory check, with the fuzzer's budget: a net above it is refused with
    // the library's ConfigError (naming the layer), as `fcntool check --max_memory` would.
    fcn::CheckPlannedMemory(net, phase == fcn::TRAIN,
                            {fcn::fuzz::kForwardBudgetBytes, "--max_memory", "=fuzz budget"});
    net.Forward();
  } catch (const std::exception&) {
    // Bad input is reported with an exception: that is the expected outcome.
  }
  return 0;
}
