// SPDX-License-Identifier: BSD-2-Clause
// crop_offsets: the library's coordinate maps (fcn::CoordMapAnalysis) for fcn.coord_map.crop.
#include "fcn/coord_map.h"

#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "fcn/common.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn::python {

void BindCoordMap(py::module_& m) {
  m.def(
      "crop_offsets",
      [](const py::bytes& net_param) {
        NetParameter param;
        if (!param.ParseFromString(std::string(net_param))) {
          throw ConfigError("crop_offsets: the bytes are not a serialized NetParameter");
        }
        CoordMapAnalysis analysis(param);
        std::vector<std::tuple<std::string, std::vector<int>, std::string>> out;
        for (const CropDerivation& crop : analysis.crops()) {
          out.emplace_back(crop.layer, crop.derived, crop.problem);
        }
        return out;
      },
      py::arg("net_param"),
      "For each Crop layer of a serialized NetParameter, in file order: (layer name, the\n"
      "offsets derived from the coordinate maps (one per spatial axis; empty when none could\n"
      "be derived), the reason when none could be).");
}

}  // namespace fcn::python
