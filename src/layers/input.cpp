// SPDX-License-Identifier: BSD-2-Clause
// Input layer: validates and applies the declared input shapes.
#include "layers/input.h"

#include "fcn/layer_registry.h"

namespace fcn {

const LayerSchema& InputLayer::Schema() {
  static const LayerSchema schema{"Input",
                                  0,
                                  0,
                                  1,
                                  -1,
                                  /*in_place=*/false,
                                  /*auto_top=*/false,
                                  /*loss=*/false,
                                  {"input_param"},
                                  CoordMapRule::kNone};
  return schema;
}

FCN_REGISTER_LAYER(InputLayer)

InputLayer::InputLayer(const LayerParameter& param) : Layer(param) {
  const int num_shapes = param.input_param().shape_size();
  const int num_tops = param.top_size();
  if (num_shapes == 0) return;
  if (num_shapes != 1 && num_shapes != num_tops) {
    throw ConfigError(StrCat("input_param.shape must be given 0 times, once, or once per top (",
                             num_tops, " tops); got ", num_shapes, " shapes"));
  }
  for (int i = 0; i < num_tops; ++i) {
    const BlobShape& declared = param.input_param().shape(num_shapes == 1 ? 0 : i);
    std::vector<std::int64_t> shape(declared.dim().begin(), declared.dim().end());
    for (std::int64_t d : shape) {
      if (d < 0) {
        throw ConfigError(StrCat("input_param.shape for top ", i,
                                 " has a negative dimension: ", ShapeString(shape)));
      }
    }
    shapes_.push_back(std::move(shape));
  }
}

void InputLayer::LayerSetUp(const BlobVec&, const BlobVec& top) {
  if (shapes_.empty()) return;
  FCN_CHECK(shapes_.size() == top.size(), shapes_.size(), " shapes for ", top.size(), " tops");
  for (std::size_t i = 0; i < top.size(); ++i) top[i]->Reshape(shapes_[i]);
}

void InputLayer::Reshape(const BlobVec&, const BlobVec&) {}

void InputLayer::ForwardImpl(const ExecContext&, const BlobVec&, const BlobVec&) {}

}  // namespace fcn
