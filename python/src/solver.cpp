// SPDX-License-Identifier: BSD-2-Clause
// SGDSolver / get_solver over the library's Solver: the same training loop, logs and
// snapshots as `fcntool train`, with the GIL released while it computes.
#include "fcn/solver.h"

#include <glog/logging.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <string>

#include "bindings.h"
#include "fcn/common.h"

namespace fcn::python {

namespace {

// A Solver that stops at the next iteration when Python has a pending signal (Ctrl-C), so a
// KeyboardInterrupt ends step()/solve() as it ends any Python loop.
class PySolver {
 public:
  explicit PySolver(const std::string& path) {
    SolverParameter param = ReadSolverFile(path);
    if (ModuleOptions().device == Device::kCpu) LOG(INFO) << "Use CPU.";
    solver_ = std::make_unique<Solver>(param, std::filesystem::path(path).parent_path().string(),
                                       nullptr, ModuleOptions());
    // pycaffe keeps every blob's gradient after a step, for scripts that read
    // net.blobs[name].diff, and a NumPy view of a diff must not outlive its memory: fcntool's
    // train net frees each gradient once backward has consumed it, Python's keeps them.
    solver_->net()->set_release_consumed_diffs(false);
    solver_->SetActionFunction([this]() {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        interrupted_ = true;
        return SolverAction::kStop;
      }
      return SolverAction::kNone;
    });
  }

  Solver& solver() { return *solver_; }

  void Step(int iters) {
    {
      py::gil_scoped_release release;
      solver_->Step(iters);
    }
    RaiseIfInterrupted();
  }
  void Solve(const py::object& resume) {
    if (!resume.is_none()) {
      const std::string state = PathArg(resume);
      LOG(INFO) << "Resuming from " << state;
      solver_->Restore(state);
    }
    LOG(INFO) << "Starting Optimization";
    {
      py::gil_scoped_release release;
      solver_->Solve();
    }
    RaiseIfInterrupted();
    LOG(INFO) << "Optimization Done.";
  }

 private:
  void RaiseIfInterrupted() {
    if (!interrupted_) return;
    interrupted_ = false;
    if (PyErr_Occurred() != nullptr) throw py::error_already_set();
  }

  std::unique_ptr<Solver> solver_;
  bool interrupted_ = false;
};

}  // namespace

void BindSolver(py::module_& m) {
  py::class_<PySolver>(m, "SGDSolver", py::dynamic_attr())
      .def(py::init(
               [](const py::object& path) { return std::make_unique<PySolver>(PathArg(path)); }),
           py::arg("filename"))
      .def_property_readonly(
          "net", [](PySolver& s) { return s.solver().net(); },
          py::return_value_policy::reference_internal)
      .def_property_readonly(
          "test_nets",
          [](const py::object& self) {
            PySolver& s = self.cast<PySolver&>();
            py::list out;
            for (const auto& net : s.solver().test_nets()) {
              out.append(py::cast(net.get(), py::return_value_policy::reference_internal, self));
            }
            return out;
          })
      .def_property_readonly("iter", [](PySolver& s) { return s.solver().iter(); })
      .def_property_readonly(
          "param", [](PySolver& s) { return py::bytes(s.solver().param().SerializeAsString()); },
          "The solver's parameter as a serialized SolverParameter (bytes).")
      .def("step", &PySolver::Step, py::arg("iters"))
      .def("solve", &PySolver::Solve, py::arg("resume") = py::none())
      .def(
          "restore", [](PySolver& s, const py::object& path) { s.solver().Restore(PathArg(path)); },
          py::arg("state_file"))
      .def("snapshot", [](PySolver& s) { s.solver().Snapshot(); })
      .def("test_all", [](PySolver& s) {
        py::gil_scoped_release release;
        s.solver().TestAll();
      });
}

}  // namespace fcn::python
