// SPDX-License-Identifier: BSD-2-Clause
// The "Python" layer type (docs/python.md, "Python layers"): python_param { module, layer,
// param_str } names a class, an fcn.Layer, whose setup/reshape/forward/backward run on the
// net's own blobs (fcn.Blob, zero-copy NumPy views). Registered into libfcn's one registry when
// fcn._fcn is imported, so that nets built from Python and from fcntool (which imports this
// module into its embedded interpreter) both have it. Every call into Python takes the GIL.
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "fcn/blob.h"
#include "fcn/common.h"
#include "fcn/layer.h"
#include "fcn/layer_registry.h"

namespace fcn::python {

namespace {

// "Traceback (most recent call last): ... ValueError: ..." of the pending Python error.
std::string Traceback(py::error_already_set& e) {
  try {
    auto or_none = [](const py::object& o) -> py::object { return o ? o : py::none(); };
    py::object lines =
        py::module_::import("traceback")
            .attr("format_exception")(or_none(e.type()), or_none(e.value()), or_none(e.trace()));
    std::string out = py::str("").attr("join")(lines).cast<std::string>();
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  } catch (const std::exception&) {
    return e.what();
  }
}

bool IsInstance(py::error_already_set& e, PyObject* type) {
  return PyErr_GivenExceptionMatches(e.type().ptr(), type) != 0;
}

py::list BlobList(const BlobVec& blobs) {
  py::list out;
  for (Blob* b : blobs) out.append(py::cast(b, py::return_value_policy::reference));
  return out;
}

// self.blobs of a Python layer: its parameter blobs (pycaffe's BlobVec, with add_blob).
struct LayerBlobs {
  std::vector<std::shared_ptr<Blob>>* blobs;
};

class PythonLayer final : public Layer {
 public:
  static const LayerSchema& Schema() {
    static const LayerSchema schema = [] {
      LayerSchema s;
      s.type = "Python";
      s.min_bottoms = 0;
      s.max_bottoms = -1;
      s.min_tops = 0;
      s.max_tops = -1;
      s.params = {"python_param"};
      s.coord_map = CoordMapRule::kNone;
      return s;
    }();
    return schema;
  }

  explicit PythonLayer(const LayerParameter& p) : Layer(p) {
    const PythonParameter& pp = p.python_param();
    if (pp.module().empty() || pp.layer().empty()) {
      throw ConfigError(
          "python_param needs module (the Python module) and layer (the class in it)");
    }
    py::gil_scoped_acquire gil;
    py::object module;
    try {
      module = py::module_::import(pp.module().c_str());
    } catch (py::error_already_set& e) {
      const std::string tb = Traceback(e);
      // The module itself not found (not a module it imports).
      const bool missing = IsInstance(e, PyExc_ModuleNotFoundError) &&
                           py::hasattr(e.value(), "name") &&
                           py::str(e.value().attr("name")).cast<std::string>() == pp.module();
      throw ConfigError(StrCat(
          missing ? "cannot find" : "cannot import", " the Python module \"", pp.module(),
          "\" (python_param.module; searched the current directory, then PYTHONPATH, see "
          "sys.path below):\n",
          tb,
          "\nsys.path: ", py::str(py::module_::import("sys").attr("path")).cast<std::string>()));
    }
    if (!py::hasattr(module, pp.layer().c_str())) {
      std::string file = "?";
      if (py::hasattr(module, "__file__")) file = py::str(module.attr("__file__"));
      throw ConfigError(StrCat("the Python module \"", pp.module(), "\" (", file,
                               ") has no class \"", pp.layer(), "\" (python_param.layer)"));
    }
    try {
      self_ = module.attr(pp.layer().c_str())();
      self_.attr("param_str") = pp.param_str();
      self_.attr("phase") = static_cast<int>(phase());
      self_.attr("blobs") = LayerBlobs{&blobs_};
    } catch (py::error_already_set& e) {
      self_ = py::object();  // released here, with the GIL
      throw RuntimeError(StrCat("Python layer ", pp.module(), ".", pp.layer(),
                                ": creating it raised an exception:\n", Traceback(e)));
    }
  }

  ~PythonLayer() override {
    py::gil_scoped_acquire gil;
    self_ = py::object();
  }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override {
    Call("setup", [&] { self_.attr("setup")(BlobList(bottom), BlobList(top)); });
  }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    Call("reshape", [&] { self_.attr("reshape")(BlobList(bottom), BlobList(top)); });
  }
  bool AllowForceBackward(int /*bottom_index*/) const override { return true; }

 protected:
  void ForwardImpl(const ExecContext& /*ctx*/, const BlobVec& bottom, const BlobVec& top) override {
    Call("forward", [&] { self_.attr("forward")(BlobList(bottom), BlobList(top)); });
  }
  void BackwardImpl(const ExecContext& /*ctx*/, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override {
    Call("backward", [&] {
      py::list down;
      for (bool d : propagate_down) down.append(d);
      self_.attr("backward")(BlobList(top), down, BlobList(bottom));
    });
  }

 private:
  template <class F>
  void Call(const char* method, F&& f) {
    py::gil_scoped_acquire gil;
    try {
      f();
    } catch (py::error_already_set& e) {
      const PythonParameter& pp = layer_param_.python_param();
      throw RuntimeError(StrCat("Python layer ", pp.module(), ".", pp.layer(), " raised in ",
                                method, "():\n", Traceback(e)));
    }
  }

  py::object self_;
};

}  // namespace

void BindPythonLayer(py::module_& m) {
  py::class_<LayerBlobs>(m, "_LayerBlobs")
      .def("__len__", [](const LayerBlobs& b) { return b.blobs->size(); })
      .def("__getitem__",
           [](const LayerBlobs& b, py::ssize_t i) {
             const auto n = static_cast<py::ssize_t>(b.blobs->size());
             if (i < 0) i += n;
             if (i < 0 || i >= n) throw py::index_error("layer blob index out of range");
             return (*b.blobs)[static_cast<std::size_t>(i)];
           })
      .def("add_blob",
           [](LayerBlobs& b, const py::args& args) {
             std::vector<std::int64_t> shape;
             for (const py::handle& a : args) {
               const auto d = a.cast<std::int64_t>();
               if (d < 0) throw ConfigError(StrCat("add_blob: negative dimension ", d));
               shape.push_back(d);
             }
             b.blobs->push_back(std::make_shared<Blob>(shape));
           })
      .def("__repr__",
           [](const LayerBlobs& b) { return StrCat("<fcn layer blobs: ", b.blobs->size(), ">"); });
  LayerRegistry::AddBuiltinType(PythonLayer::Schema(), [](const LayerParameter& p) {
    return std::unique_ptr<Layer>(std::make_unique<PythonLayer>(p));
  });
}

}  // namespace fcn::python
