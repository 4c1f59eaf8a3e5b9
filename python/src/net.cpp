// SPDX-License-Identifier: BSD-2-Clause
// Blob, Layer and Net as pycaffe's _caffe module binds them; fcn/_net.py adds the dict views
// (blobs, params, layer_dict...) and forward/backward with their keyword arguments.
#include "fcn/net.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "bindings.h"
#include "fcn/blob.h"
#include "fcn/common.h"
#include "fcn/layer.h"

namespace fcn::python {

namespace {

// A NumPy array over the blob's host buffer in plain order (no copy): writes go into the
// blob. `owner` (the Python Blob) is the array's base, so the blob outlives the array. A
// reshape may move the buffer: views are re-made by reading .data/.diff again, as in pycaffe.
py::array HostView(const py::object& owner, bool diff) {
  Blob& blob = owner.cast<Blob&>();
  std::vector<py::ssize_t> shape(blob.shape().begin(), blob.shape().end());
  if (blob.count() == 0) return py::array_t<float>(shape);
  float* p = diff ? blob.mutable_cpu_diff() : blob.mutable_cpu_data();
  return py::array_t<float>(shape, p, owner);
}

void CheckLayerIndex(const Net& net, int i, const char* what) {
  const int n = static_cast<int>(net.layers().size());
  if (i < 0 || i >= n) {
    throw py::index_error(StrCat(what, " layer index ", i, " outside 0..", n - 1));
  }
}

std::unique_ptr<Net> MakeNet(const py::object& file, int phase, int level, const py::object& stages,
                             const py::object& weights) {
  if (phase != TRAIN && phase != TEST) {
    throw ConfigError(StrCat("Net: phase must be fcn.TRAIN (0) or fcn.TEST (1), not ", phase));
  }
  NetStateOptions state;
  state.phase = static_cast<Phase>(phase);
  state.level = level;
  if (!stages.is_none()) state.stages = stages.cast<std::vector<std::string>>();
  auto net = Net::FromFile(PathArg(file), state, ModuleOptions());
  if (!weights.is_none()) net->CopyTrainedLayersFromFile(PathArg(weights));
  return net;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void BindNet(py::module_& m) {
  py::class_<Blob, std::shared_ptr<Blob>>(m, "Blob")
      .def(py::init([](const std::vector<std::int64_t>& shape) {
             for (std::int64_t d : shape) {
               if (d < 0)
                 throw ConfigError(StrCat("Blob: negative dimension in ", ShapeString(shape)));
             }
             return std::make_shared<Blob>(shape);
           }),
           py::arg("shape") = std::vector<std::int64_t>())
      .def_property_readonly("data", [](const py::object& self) { return HostView(self, false); })
      .def_property_readonly("diff", [](const py::object& self) { return HostView(self, true); })
      .def_property_readonly("shape",
                             [](const Blob& b) {
                               py::tuple t(b.shape().size());
                               for (std::size_t i = 0; i < b.shape().size(); ++i)
                                 t[i] = b.shape()[i];
                               return t;
                             })
      .def_property_readonly("count", [](const Blob& b) { return b.count(); })
      .def_property_readonly("num", [](const Blob& b) { return b.LegacyShape(0); })
      .def_property_readonly("channels", [](const Blob& b) { return b.LegacyShape(1); })
      .def_property_readonly("height", [](const Blob& b) { return b.LegacyShape(2); })
      .def_property_readonly("width", [](const Blob& b) { return b.LegacyShape(3); })
      .def("reshape",
           [](Blob& b, const py::args& args) {
             std::vector<std::int64_t> shape;
             for (const py::handle& a : args) {
               const auto d = a.cast<std::int64_t>();
               if (d < 0) throw ConfigError(StrCat("Blob.reshape: negative dimension ", d));
               shape.push_back(d);
             }
             b.Reshape(shape);
           })
      .def("__repr__", [](const Blob& b) { return StrCat("<fcn.Blob ", b.shape_string(), ">"); });

  // A layer of a net (owned by it: the net stays alive while a Python reference to one of its
  // layers does).
  py::class_<Layer, std::unique_ptr<Layer, py::nodelete>>(m, "Layer")
      .def_property_readonly("type", [](const Layer& l) { return l.type(); })
      .def_property_readonly("name", [](const Layer& l) { return l.name(); })
      .def_property_readonly("blobs", [](Layer& l) { return l.blobs(); })
      .def_property_readonly("phase", [](const Layer& l) { return static_cast<int>(l.phase()); })
      .def("__repr__",
           [](const Layer& l) { return StrCat("<fcn.Layer ", l.name(), " (", l.type(), ")>"); });

  py::class_<Net>(m, "Net", py::dynamic_attr())
      .def(py::init(&MakeNet), py::arg("network_file"), py::arg("phase"), py::arg("level") = 0,
           py::arg("stages") = py::none(), py::arg("weights") = py::none(),
           "Net(network_file, phase, level=0, stages=None, weights=None)")
      // The old form, Net(network_file, weights, phase).
      .def(py::init([](const py::object& file, const py::object& weights, int phase) {
             return MakeNet(file, phase, 0, py::none(), weights);
           }),
           py::arg("network_file"), py::arg("pretrained_param_file"), py::arg("phase"))
      .def_property_readonly("name", &Net::name)
      .def_property_readonly("phase", [](const Net& n) { return static_cast<int>(n.phase()); })
      .def(
          "_forward",
          [](Net& n, int start, int end) {
            CheckLayerIndex(n, start, "forward: start");
            CheckLayerIndex(n, end, "forward: end");
            py::gil_scoped_release release;
            return n.ForwardFromTo(start, end);
          },
          py::arg("start"), py::arg("end"))
      .def(
          "_backward",
          [](Net& n, int start, int end) {
            CheckLayerIndex(n, start, "backward: start");
            CheckLayerIndex(n, end, "backward: end");
            py::gil_scoped_release release;
            n.BackwardFromTo(start, end);
          },
          py::arg("start"), py::arg("end"))
      .def("reshape", &Net::Reshape, py::call_guard<py::gil_scoped_release>())
      .def("clear_param_diffs", &Net::ClearParamDiffs)
      .def(
          "copy_from",
          [](Net& n, const py::object& path) { n.CopyTrainedLayersFromFile(PathArg(path)); },
          py::arg("weights"))
      .def(
          "load_hdf5",
          [](Net& n, const py::object& path) { n.CopyTrainedLayersFromFile(PathArg(path)); },
          py::arg("filename"))
      .def("share_with", &Net::ShareTrainedLayersWith, py::arg("other"))
      .def(
          "save",
          [](const Net& n, const py::object& path, bool write_diff) {
            const std::string file = PathArg(path);
            if (EndsWith(file, ".h5")) {
              n.ToHdf5(file, write_diff);
              return;
            }
            NetParameter param;
            n.ToProto(&param, write_diff);
            WriteProtoToBinaryFile(param, file);
          },
          py::arg("filename"), py::arg("write_diff") = false,
          "Writes the weights: a .caffemodel, or Caffe's HDF5 form when the name ends in .h5.")
      .def(
          "save_hdf5",
          [](const Net& n, const py::object& path, bool write_diff) {
            n.ToHdf5(PathArg(path), write_diff);
          },
          py::arg("filename"), py::arg("write_diff") = false)
      .def(
          "to_proto",
          [](const Net& n, bool write_diff) {
            NetParameter param;
            n.ToProto(&param, write_diff);
            return py::bytes(param.SerializeAsString());
          },
          py::arg("write_diff") = false, "The net as a serialized NetParameter (bytes).")
      .def_property_readonly("_blob_names", &Net::blob_names)
      .def_property_readonly("_blobs", &Net::blobs)
      .def_property_readonly("_layer_names", &Net::layer_names)
      .def_property_readonly(
          "layers",
          [](const py::object& self) {
            const Net& n = self.cast<const Net&>();
            py::list out;
            for (const auto& layer : n.layers()) {
              out.append(py::cast(layer.get(), py::return_value_policy::reference_internal, self));
            }
            return out;
          })
      .def_property_readonly("_inputs", &Net::input_blob_indices)
      .def_property_readonly("_outputs", &Net::output_blob_indices)
      .def_property_readonly("_blob_loss_weights", &Net::blob_loss_weights)
      .def("_top_ids",
           [](const Net& n, int i) {
             CheckLayerIndex(n, i, "_top_ids:");
             return n.top_ids()[static_cast<std::size_t>(i)];
           })
      .def("_bottom_ids", [](const Net& n, int i) {
        CheckLayerIndex(n, i, "_bottom_ids:");
        return n.bottom_ids()[static_cast<std::size_t>(i)];
      });
}

}  // namespace fcn::python
