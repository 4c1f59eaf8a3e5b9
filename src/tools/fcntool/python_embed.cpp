// SPDX-License-Identifier: BSD-2-Clause
// fcntool's Python layers (docs/python.md, "Python layers"): the first net that asks for the
// "Python" type starts an embedded interpreter, once, and imports the fcn package, whose
// module fcn._fcn adds the type to libfcn's registry (the one fcntool uses). sys.path is:
// the fcn package's folder of this build (build tree: <exe>/../../python; install tree:
// <exe>/../<FCN_PYTHON_INSTALL_DIR>), then the current directory, then PYTHONPATH, then
// Python's own. The GIL is then released: each layer call takes it back. A net without a
// Python layer never starts Python. Compiled only when the Python module is built
// (python/CMakeLists.txt defines FCN_TOOL_PYTHON).
#include "tools/fcntool/python_embed.h"

#include <pybind11/embed.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "fcn/common.h"
#include "fcn/layer_registry.h"
#include "fcn/threads.h"

namespace fcn::tool {

namespace py = pybind11;

namespace {

std::vector<std::string> PackageDirs() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::string> dirs;
  if (ec) return dirs;
  const std::filesystem::path bin = exe.parent_path();
  for (const std::filesystem::path& dir :
       {bin.parent_path() / "python", bin.parent_path() / FCN_PYTHON_INSTALL_DIR}) {
    if (std::filesystem::is_regular_file(dir / "fcn" / "__init__.py", ec)) {
      dirs.push_back(std::filesystem::weakly_canonical(dir, ec).string());
      break;
    }
  }
  return dirs;
}

void FlushPython() {
  if (Py_IsInitialized() == 0) return;
  PyGILState_STATE state = PyGILState_Ensure();
  PyRun_SimpleString("import sys\nfor s in (sys.stdout, sys.stderr):\n  s and s.flush()\n");
  PyGILState_Release(state);
}

void StartPython() {
  static bool started = false;
  if (started) return;
  started = true;
  const int threads = NumThreads();  // importing fcn applies the environment's thread count
  // fcntool keeps its own signal handling (SIGINT: snapshot and stop).
  py::initialize_interpreter(/*init_signal_handlers=*/false);
  std::string failure;
  try {
    py::list path = py::module_::import("sys").attr("path");
    std::error_code ec;
    path.insert(0, std::filesystem::current_path(ec).string());
    const std::vector<std::string> dirs = PackageDirs();
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) path.insert(0, *it);
    py::module_::import("fcn");
  } catch (py::error_already_set& e) {
    failure = e.what();
  }
  SetNumThreads(threads);
  std::atexit(FlushPython);
  // Release the GIL for good: every call into Python (the layers) takes it again.
  PyEval_SaveThread();
  if (!failure.empty()) {
    throw ConfigError(
        StrCat("Python layers: the embedded interpreter cannot import the fcn "
               "package (looked in ",
               Join(PackageDirs(), ", "), ", then PYTHONPATH): ", failure));
  }
  if (LayerRegistry::Builtin().Find("Python") == nullptr) {
    throw ConfigError(
        "Python layers: the fcn package imported belongs to another build of fcn (its libfcn "
        "is not this fcntool's); fix PYTHONPATH");
  }
}

}  // namespace

void InstallPythonLayers() {
  LayerRegistry::SetTypeProvider([](const std::string& type) {
    if (type == "Python") StartPython();
  });
}

}  // namespace fcn::tool
