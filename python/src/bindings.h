// SPDX-License-Identifier: BSD-2-Clause
// The pieces of the Python module fcn._fcn (docs/python.md), one file each: module.cpp defines
// the module and calls each Bind* below.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "fcn/options.h"

namespace fcn::python {

namespace py = pybind11;

/// The options every Net and Solver created from Python runs with: set_mode_cpu/gpu,
/// set_device and set_random_seed change them (per process, as pycaffe's Caffe::mode).
Options& ModuleOptions();

/// A path argument: str, bytes or any os.PathLike.
std::string PathArg(const py::handle& path);

void BindNet(py::module_& m);       // net.cpp: Blob, Layer, Net
void BindSolver(py::module_& m);    // solver.cpp: SGDSolver, get_solver
void BindCoordMap(py::module_& m);  // coord_map.cpp: crop_offsets
/// python_layer.cpp: adds the "Python" layer type to libfcn's registry.
void BindPythonLayer(py::module_& m);

}  // namespace fcn::python
