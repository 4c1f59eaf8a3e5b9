// SPDX-License-Identifier: BSD-2-Clause
// DeconvolutionLayer: its schema. The body is BaseConvolutionLayer's with transposed = true:
// its engines run the convolution's passes with forward and backward swapped.
#include "layers/deconvolution.h"

#include "fcn/layer_registry.h"

namespace fcn {

const LayerSchema& DeconvolutionLayer::Schema() {
  static const LayerSchema schema{
      "Deconvolution",
      /*min_bottoms=*/1,
      /*max_bottoms=*/-1,
      /*min_tops=*/1,
      /*max_tops=*/-1,
      /*in_place=*/false,
      /*auto_top=*/false,
      /*loss=*/false,     {"convolution_param"}, CoordMapRule::kDeconvolution};
  return schema;
}

FCN_REGISTER_LAYER(DeconvolutionLayer)

}  // namespace fcn
