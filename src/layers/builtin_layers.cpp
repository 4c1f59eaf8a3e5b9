// SPDX-License-Identifier: BSD-2-Clause
// THE list of built-in layer types: one line per type, sorted by type name. Adding a layer
// means adding its files to src/CMakeLists.txt and one line here.
#include "fcn/layer_registry.h"
#include "layers/accuracy.h"
#include "layers/argmax.h"
#include "layers/bias.h"
#include "layers/concat.h"
#include "layers/convolution.h"
#include "layers/crop.h"
#include "layers/data.h"
#include "layers/deconvolution.h"
#include "layers/dropout.h"
#include "layers/dummy_data.h"
#include "layers/eltwise.h"
#include "layers/inner_product.h"
#include "layers/input.h"
#include "layers/lrn.h"
#include "layers/pooling.h"
#include "layers/relu.h"
#include "layers/scale.h"
#include "layers/silence.h"
#include "layers/softmax.h"
#include "layers/softmax_loss.h"
#include "layers/split.h"

namespace fcn {

void RegisterBuiltinLayers(LayerRegistry& registry) {
  registry.Add<AccuracyLayer>();
  registry.Add<ArgMaxLayer>();
  registry.Add<BiasLayer>();
  registry.Add<ConcatLayer>();
  registry.Add<ConvolutionLayer>();
  registry.Add<CropLayer>();
  registry.Add<DataLayer>();
  registry.Add<DeconvolutionLayer>();
  registry.Add<DropoutLayer>();
  registry.Add<DummyDataLayer>();
  registry.Add<EltwiseLayer>();
  registry.Add<InnerProductLayer>();
  registry.Add<InputLayer>();
  registry.Add<LRNLayer>();
  registry.Add<PoolingLayer>();
  registry.Add<ReLULayer>();
  registry.Add<ScaleLayer>();
  registry.Add<SilenceLayer>();
  registry.Add<SoftmaxLayer>();
  registry.Add<SoftmaxWithLossLayer>();
  registry.Add<SplitLayer>();
}

}  // namespace fcn
