// SPDX-License-Identifier: BSD-2-Clause
// fcn._fcn: logging, threads, errors, the device mode and the registry; the classes are bound
// by the other files of python/src.
#include <glog/logging.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "bindings.h"
#include "fcn/common.h"
#include "fcn/gpu.h"
#include "fcn/layer_registry.h"
#include "fcn/threads.h"

namespace fcn::python {

Options& ModuleOptions() {
  static Options options;
  return options;
}

std::string PathArg(const py::handle& path) {
  py::object fspath = py::module_::import("os").attr("fspath")(path);
  if (py::isinstance<py::bytes>(fspath)) return fspath.cast<std::string>();
  return fspath.cast<std::string>();
}

namespace {

// glog once per process, to stderr like fcntool; GLOG_minloglevel and the other GLOG_*
// variables keep working (glog reads them as its flags' defaults).
void InitLogging() {
  if (google::IsGoogleLoggingInitialized()) return;
  if (std::getenv("GLOG_logtostderr") == nullptr) FLAGS_logtostderr = true;
  google::InitGoogleLogging("fcn");
}

// The compute threads as fcntool without --threads: FCN_NUM_THREADS, OMP_NUM_THREADS,
// OPENBLAS_NUM_THREADS, else every core.
void InitThreads() {
  for (const char* name : {"FCN_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::atoi(value) > 0) {
      SetNumThreads(std::atoi(value));
      return;
    }
  }
  SetNumThreads(0);
}

void RequireGpu(const char* what) {
  if (!gpu::Built()) {
    throw RuntimeError(StrCat(what,
                              ": this fcn was built without CUDA (CPU only); rebuild with "
                              "-DFCN_USE_CUDA=ON, or use set_mode_cpu()"));
  }
  std::string why;
  if (gpu::DeviceCount(&why) == 0) throw RuntimeError(StrCat(what, ": no usable GPU: ", why));
}

}  // namespace

}  // namespace fcn::python

PYBIND11_MODULE(_fcn, m) {
  namespace py = pybind11;
  using namespace fcn::python;  // NOLINT
  m.doc() = "fcn's C++ core (Net, Blob, SGDSolver); import fcn, not this module";
  InitLogging();
  InitThreads();

  // Errors (translators are tried last-registered first): a ConfigError (bad prototxt, weights, arguments) is fcn.ConfigError, a ValueError;
  // any other library error is a RuntimeError. Both carry the library's message.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fcn::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
  py::register_exception<fcn::ConfigError>(m, "ConfigError", PyExc_ValueError);

  m.attr("TRAIN") = static_cast<int>(fcn::TRAIN);
  m.attr("TEST") = static_cast<int>(fcn::TEST);
  m.attr("has_cuda") = fcn::gpu::Built();

  m.def(
      "set_mode_cpu", []() { ModuleOptions().device = fcn::Device::kCpu; },
      "Nets and solvers created from now on run on the CPU.");
  m.def(
      "set_mode_gpu",
      []() {
        RequireGpu("set_mode_gpu");
        ModuleOptions().device = fcn::Device::kCuda;
      },
      "Nets and solvers created from now on run on the GPU set by set_device (default 0).");
  m.def(
      "set_device",
      [](int id) {
        RequireGpu("set_device");
        const int count = fcn::gpu::DeviceCount();
        if (id < 0 || id >= count) {
          throw fcn::ConfigError(fcn::StrCat("set_device(", id, "): there are ", count,
                                             " GPUs (ids 0..", count - 1, ")"));
        }
        fcn::gpu::SetDevice(id);
        ModuleOptions().device_id = id;
      },
      py::arg("device_id"));
  m.def(
      "set_random_seed", [](std::uint64_t seed) { ModuleOptions().random_seed = seed; },
      py::arg("seed"), "Seed of the nets created from now on (fillers, Dropout, data order).");
  m.def(
      "set_dnnl_keep_layouts", [](bool keep) { ModuleOptions().dnnl_keep_layouts = keep; },
      py::arg("keep"),
      "oneDNN engine: keep buffers in its blocked layouts between layers (faster; a .data or\n"
      ".diff view taken before a pass is then stale after it). Off by default in Python.");
  m.def(
      "set_precision",
      [](const std::string& precision) {
        if (!fcn::PrecisionFromName(precision, &ModuleOptions().precision)) {
          throw fcn::ConfigError(
              fcn::StrCat("set_precision(\"", precision, "\"): expected \"fp32\" or \"bf16\""));
        }
      },
      py::arg("precision"),
      "What the convolutions, deconvolutions and inner products of the nets created from now\n"
      "on multiply in: \"fp32\" (default) or \"bf16\" (bf16 products, fp32 accumulation;\n"
      "weights, gradients and snapshots stay fp32). A solver file's `precision` field\n"
      "overrides it for that solver's nets. Creating a bf16 net on a CPU without bf16\n"
      "instructions raises fcn.ConfigError.");
  m.def("precision", []() { return std::string(fcn::PrecisionName(ModuleOptions().precision)); });
  m.def(
      "set_num_threads", [](int n) { return fcn::SetNumThreads(n); }, py::arg("n"),
      "Compute threads (OpenBLAS, OpenMP) of the process; n <= 0: every core.");
  m.def("num_threads", []() { return fcn::NumThreads(); });
  m.def(
      "layer_types", []() { return fcn::LayerRegistry::Builtin().Types(); },
      "The layer types of the library's registry (the one fcntool uses).");
  m.def("_registry_address",
        []() { return reinterpret_cast<std::uintptr_t>(&fcn::LayerRegistry::Builtin()); });

  // Python nets keep every buffer in plain order, so .data/.diff views stay valid across
  // passes (pycaffe's behaviour); set_dnnl_keep_layouts(True) trades that for speed.
  ModuleOptions().dnnl_keep_layouts = false;

  BindNet(m);
  BindSolver(m);
  BindCoordMap(m);
  BindPythonLayer(m);
}
