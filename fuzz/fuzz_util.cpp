// SPDX-License-Identifier: BSD-2-Clause
#include "fuzz_util.h"

#include <glog/logging.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "fcn/io.h"
#include "fcn/threads.h"

// AddressSanitizer defaults of every target: an allocation above 256 MiB returns null instead
// of ending the run (the library turns a null buffer into an error, as on a machine out of
// memory), and leaks are reported. A small quarantine and short allocation stacks keep the
// allocator from touching fresh pages on every input (page faults were most of the time).
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=1:"
         "quarantine_size_mb=16:malloc_context_size=8";
}

// Blocks that libhdf5 (Debian 1.10.8) itself allocates and never frees, on some error paths
// of damaged files and once at exit (its metadata cache, through H5FL_reg_malloc), are not
// leaks of fcn: every HDF5 handle fcn opens is checked closed after each input
// (CheckNoOpenHdf5Objects), and leaks of memory fcn allocates are still reported.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5_serial.so\n"; }

namespace fcn::fuzz {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::int64_t IntegerValue(const Message& m, const FieldDescriptor* f, int index) {
  const auto* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64: {
      const std::uint64_t v = rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
      return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
    }
    default:
      return 0;
  }
}

bool IsInteger(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return true;
    default:
      return false;
  }
}

bool WithinLimits(const Message& m) {
  const auto* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      for (int i = 0; i < n; ++i) {
        if (!WithinLimits(f->is_repeated() ? r->GetRepeatedMessage(m, f, i)
                                           : r->GetMessage(m, f))) {
          return false;
        }
      }
      continue;
    }
    if (!IsInteger(f)) continue;
    if (n > kMaxRepeated) return false;
    if (f->name().find("label") != std::string::npos || f->name() == "seed") continue;
    std::int64_t limit = kMaxInteger;
    if (f->name() == "num_output") limit = kMaxOutputs;
    if (f->name() == "dim" || f->name() == "num" || f->name() == "channels" ||
        f->name() == "height" || f->name() == "width") {
      limit = kMaxDim;
    }
    for (int i = 0; i < n; ++i) {
      if (IntegerValue(m, f, i) > limit) return false;
    }
  }
  return true;
}

void RemoveScratch() {
  std::error_code ec;
  std::filesystem::remove_all(ScratchDir(), ec);
}

}  // namespace

const std::string& ScratchDir() {
  static const std::string dir = [] {
    // tmpfs when there is one: every input is written there once.
    const char* tmp = std::getenv("TMPDIR");
    std::error_code ec;
    std::string base = tmp && *tmp                                     ? tmp
                       : std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm"
                                                                       : "/tmp";
    std::string path = base + "/fcn-fuzz-" + std::to_string(::getpid());
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

void Init(char** argv) {
  static bool done = false;
  if (done) return;
  done = true;
  if (std::getenv("OPENCV_IO_MAX_IMAGE_PIXELS") == nullptr) {
    setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(kMaxImagePixels).c_str(), 1);
    execv("/proc/self/exe", argv);
    std::perror("fcn fuzz: execv /proc/self/exe");
    std::abort();
  }
  FLAGS_minloglevel = 2;
  FLAGS_logtostderr = true;
  google::InitGoogleLogging("fcn_fuzz");
  SetNumThreads(1);
  // Every file libhdf5 opens allocates its metadata cache (H5C_create: one large block,
  // calloc'ed from HDF5's free list of fixed-size blocks) and frees it at close. Above that
  // list's limit (64 KB by default) a freed block goes back to malloc, and under
  // AddressSanitizer every such large block is a fresh mapping whose pages fault in on the
  // calloc and are unmapped again: that was most of each input's time in the HDF5 targets.
  // Larger limits for the fixed-size lists (16 MiB a list, 64 MiB in all) let each open
  // reuse a cache. The array and block lists (blocks of whatever sizes a fuzzed file asks
  // for) get no free memory at all: a block kept there is a malloc without a free in that
  // input, which makes libFuzzer run a full leak check after it (-detect_leaks).
  H5set_free_list_limits(64 << 20, 16 << 20, 0, 0, 0, 0);
  ScratchDir();
  std::atexit(RemoveScratch);
}

void CheckNoOpenHdf5Objects() {
  const ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open != 0) {
    std::fprintf(stderr, "fcn fuzz: %zd HDF5 objects left open after the input\n", open);
    std::abort();
  }
}

void WriteFile(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

const char* SmallNetText() {
  return R"(name: "fuzz_small"
layer { name: "data" type: "DummyData" top: "data" top: "label"
  dummy_data_param {
    shape { dim: 1 dim: 3 dim: 8 dim: 8 } shape { dim: 1 dim: 1 dim: 8 dim: 8 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  convolution_param { num_output: 4 kernel_size: 3 pad: 1
    weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "score" type: "Convolution" bottom: "pool1" top: "score"
  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "xavier" } } }
layer { name: "upscore" type: "Deconvolution" bottom: "score" top: "upscore"
  param { lr_mult: 0 }
  convolution_param { num_output: 2 kernel_size: 4 stride: 2 group: 2 bias_term: false
    weight_filler { type: "bilinear" } } }
layer { name: "crop" type: "Crop" bottom: "upscore" bottom: "data" top: "crop"
  crop_param { axis: 2 offset: 1 } }
layer { name: "scale" type: "Scale" bottom: "crop" top: "scaled" scale_param { bias_term: true } }
layer { name: "ip" type: "InnerProduct" bottom: "scaled" top: "ip"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "silence" type: "Silence" bottom: "ip" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "scaled" bottom: "label" top: "loss"
  loss_param { ignore_label: 255 normalize: false } }
)";
}

NetParameter SmallNetParam(Phase phase) {
  NetParameter param = ReadNetParamFromTextString(SmallNetText(), "fuzz_small");
  param.mutable_state()->set_phase(phase);
  return param;
}

bool LimitNetSizes(const NetParameter& param) {
  if (param.layer_size() > kMaxLayers) return false;
  for (const LayerParameter& layer : param.layer()) {
    if (!WithinLimits(layer)) return false;
  }
  return true;
}

}  // namespace fcn::fuzz
