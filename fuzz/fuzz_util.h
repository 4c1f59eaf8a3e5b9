// SPDX-License-Identifier: BSD-2-Clause
// What the libFuzzer targets in fuzz/ share: quiet logging and one compute thread, a scratch
// directory for inputs that the library reads by path, the small net that weights, solver
// states and HDF5 snapshots are loaded into, and the memory budget a fuzzed net must fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fcn/net.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn::fuzz {

/// Once per process, from LLVMFuzzerInitialize: glog at ERROR (a build logs every layer), one
/// compute thread, and the scratch dir. OpenCV reads its decoded-image limit
/// (OPENCV_IO_MAX_IMAGE_PIXELS) when it is loaded, so when the variable is not set the process
/// sets it to kMaxImagePixels and executes itself again with the same arguments.
void Init(char** argv);

/// Aborts when an HDF5 object (file, group, dataset, type, space) is still open: after each
/// input every handle the library took must have been closed.
void CheckNoOpenHdf5Objects();

/// A directory of this process (under $TMPDIR, else /dev/shm, else /tmp) for files the library reads by path;
/// removed at exit.
const std::string& ScratchDir();

/// Writes `size` bytes to `path` (replacing it); aborts when the write fails, since that is a
/// fault of the harness, not of the input.
void WriteFile(const std::string& path, const std::uint8_t* data, std::size_t size);

/// The text of the small training net: DummyData -> Convolution -> ReLU -> Deconvolution ->
/// Crop -> Scale -> Bias -> InnerProduct -> SoftmaxWithLoss; 7 learnable blobs, about 1 KB.
const char* SmallNetText();
NetParameter SmallNetParam(Phase phase);

/// Sets aside a fuzzed net whose sizes could take much memory or time before it is built (a
/// Net allocates and fills its parameters while it builds): false when it has more than
/// kMaxLayers layers, or when, anywhere in a layer's parameter messages, an integer exceeds
/// kMaxInteger (fields named *label* and `seed` excepted), a num_output exceeds kMaxOutputs,
/// a blob shape dimension exceeds kMaxDim, or a repeated integer field has more than
/// kMaxRepeated values. The budget check proper comes after the build (CheckPlannedMemory,
/// as fcntool's --max_memory).
bool LimitNetSizes(const NetParameter& param);
constexpr int kMaxLayers = 64;
constexpr std::int64_t kMaxInteger = 128;
constexpr std::int64_t kMaxOutputs = 32;
constexpr std::int64_t kMaxDim = 64;
constexpr int kMaxRepeated = 8;

/// fuzz_prototxt's --max_memory: forward passes of fuzzed nets run only below this many
/// planned bytes (CheckPlannedMemory).
constexpr std::int64_t kForwardBudgetBytes = std::int64_t{8} << 20;
/// The most pixels OpenCV decodes from one image in the targets.
constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 16;

}  // namespace fcn::fuzz
