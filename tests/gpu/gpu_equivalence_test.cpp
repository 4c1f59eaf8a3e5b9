// SPDX-License-Identifier: BSD-2-Clause
// The GPU path equals the CPU path: every layer type's forward outputs, bottom gradients and
// parameter gradients, computed by the same net on the CPU and on CUDA device 0, and a few
// solver steps. Without a device (no driver, or a CPU-only build) every case is skipped, and
// ctest lists it as skipped.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backend/device_memory.h"
#include "fcn/exec_context.h"
#include "fcn/gpu.h"
#include "fcn/layer_registry.h"
#include "fcn/memory.h"
#include "fcn/net.h"
#include "fcn/rng.h"
#include "fcn/solver.h"
#include "math/blas.h"
#include "support/test_util.h"

namespace fcn {
namespace {

using test::Data;
using test::Diff;
using test::FillGaussian;
using test::GaussianBlob;
using test::MakeNet;

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (gpu::DeviceCount(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

// |a - b| <= tol * max(1, max |a|) per blob (test::AllNear with that absolute tolerance): the
// devices sum in other orders (cuBLAS, cuDNN, gathers instead of scatters), element-wise math
// agrees to the last bit.
::testing::AssertionResult BlobsNear(const std::string& what, const std::vector<float>& cpu,
                                     const std::vector<float>& gpu_values, float tol) {
  float scale = 1.0f;
  for (float v : cpu) scale = std::max(scale, std::fabs(v));
  ::testing::AssertionResult near = test::AllNear(gpu_values, cpu, tol * scale);
  if (!near) near << " (" << what << ", scale " << scale << ")";
  return near;
}

struct LayerCase {
  const char* name;
  // Layers after the inputs "data" (and "label" when label_classes > 0).
  const char* layers;
  std::vector<std::int64_t> data_shape;
  int label_classes = 0;  // > 0: a label input of data_shape with channel 1, values in [0, C)
  float tol = 1e-5f;
};

std::string NetText(const LayerCase& c) {
  std::string text = "name: 'gpu_case' force_backward: true\n";
  text += "layer { name: 'data' type: 'Input' top: 'data' input_param { shape { ";
  for (auto d : c.data_shape) text += StrCat("dim: ", d, " ");
  text += "} } }\n";
  if (c.label_classes > 0) {
    text += StrCat("layer { name: 'label' type: 'Input' top: 'label' input_param { shape { dim: ",
                   c.data_shape[0], " dim: 1 dim: ", c.data_shape[2], " dim: ", c.data_shape[3],
                   " } } }\n");
  }
  return text + c.layers;
}

void FillInputs(Net* net, const LayerCase& c) {
  FillGaussian(net->blob_by_name("data"), 11);
  if (c.label_classes > 0) {
    Blob* label = net->blob_by_name("label");
    float* l = label->mutable_cpu_data();
    for (std::int64_t i = 0; i < label->count(); ++i) {
      // Every class, and the ignore label 255 now and then.
      l[i] = i % 7 == 3 ? 255.0f : static_cast<float>((i * 5) % c.label_classes);
    }
  }
}

void RunForwardBackward(Net* net) {
  net->rng().Seed(1234);  // dropout masks are drawn on the host: the same on both devices
  net->Forward();
  net->Backward();
}

void ExpectSameOnBothDevices(const LayerCase& c) {
  SCOPED_TRACE(c.name);
  const std::string text = NetText(c);
  std::unique_ptr<Net> cpu = MakeNet(text);
  std::unique_ptr<Net> gpu_net = MakeNet(text);
  gpu_net->UseDevice(Device::kCuda, 0);
  FillInputs(cpu.get(), c);
  FillInputs(gpu_net.get(), c);
  for (std::size_t p = 0; p < cpu->params().size(); ++p) {
    FillGaussian(cpu->params()[p].get(), static_cast<std::uint32_t>(100 + p), 0.0f, 0.3f);
    gpu_net->params()[p]->CopyFrom(*cpu->params()[p]);
  }
  RunForwardBackward(cpu.get());
  RunForwardBackward(gpu_net.get());
  for (std::size_t b = 0; b < cpu->blobs().size(); ++b) {
    const std::string& name = cpu->blob_names()[b];
    EXPECT_TRUE(
        BlobsNear(name + " data", Data(*cpu->blobs()[b]), Data(*gpu_net->blobs()[b]), c.tol));
    if (name == "label") continue;
    EXPECT_TRUE(
        BlobsNear(name + " diff", Diff(*cpu->blobs()[b]), Diff(*gpu_net->blobs()[b]), c.tol));
  }
  for (std::size_t p = 0; p < cpu->params().size(); ++p) {
    EXPECT_TRUE(BlobsNear(StrCat("param ", p, " diff"), Diff(*cpu->params()[p]),
                          Diff(*gpu_net->params()[p]), c.tol));
  }
}

// A loss on top of a layer's output, so that every gradient is non-trivial: a fixed 1x1
// convolution to `classes` channels (im2col path) and SoftmaxWithLoss.
std::string WithLoss(const std::string& layers, const std::string& top, int classes) {
  return layers + StrCat("layer { name: 'score' type: 'Convolution' bottom: '", top,
                         "' top: 'score' convolution_param { num_output: ", classes,
                         " kernel_size: 1 engine: CAFFE } }\n"
                         "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'score' bottom: "
                         "'label' top: 'loss' loss_param { ignore_label: 255 } }\n");
}

std::vector<LayerCase> Cases() {
  const std::vector<std::int64_t> shape = {2, 4, 9, 11};
  std::vector<LayerCase> cases;
  auto add = [&](const char* name, const std::string& layers, const std::string& top,
                 std::vector<std::int64_t> s, float tol) {
    LayerCase c;
    c.name = name;
    static std::vector<std::string> keep;  // c.layers points into it
    keep.push_back(WithLoss(layers, top, 3));
    c.layers = keep.back().c_str();
    c.data_shape = std::move(s);
    c.label_classes = 3;
    c.tol = tol;
    cases.push_back(c);
  };
  add("ReLU", "layer { name: 'r' type: 'ReLU' bottom: 'data' top: 'r' }", "r", shape, 1e-6f);
  add("LeakyReLU",
      "layer { name: 'r' type: 'ReLU' bottom: 'data' top: 'r' relu_param { negative_slope: 0.1 } }",
      "r", shape, 1e-6f);
  add("Dropout",
      "layer { name: 'd' type: 'Dropout' bottom: 'data' top: 'd' dropout_param { dropout_ratio: "
      "0.3 } }",
      "d", shape, 1e-6f);
  for (const char* op : {"SUM", "PROD", "MAX"}) {
    static std::vector<std::string> names;
    names.push_back(StrCat("Eltwise", op));
    add(names.back().c_str(),
        StrCat("layer { name: 'a' type: 'ReLU' bottom: 'data' top: 'a' relu_param { "
               "negative_slope: 0.5 } }\n"
               "layer { name: 'e' type: 'Eltwise' bottom: 'data' bottom: 'a' top: 'e' "
               "eltwise_param { operation: ",
               op, " } }"),
        "e", shape, 1e-6f);
  }
  add("ScaleWithBias",
      "layer { name: 's' type: 'Scale' bottom: 'data' top: 's' scale_param { bias_term: true } }",
      "s", shape, 1e-6f);
  add("Bias", "layer { name: 'b' type: 'Bias' bottom: 'data' top: 'b' }", "b", shape, 1e-6f);
  add("Concat",
      "layer { name: 'a' type: 'ReLU' bottom: 'data' top: 'a' }\n"
      "layer { name: 'c' type: 'Concat' bottom: 'data' bottom: 'a' top: 'c' }",
      "c", shape, 1e-6f);
  add("MaxPool",
      "layer { name: 'p' type: 'Pooling' bottom: 'data' top: 'p' pooling_param { pool: MAX "
      "kernel_size: 3 stride: 2 } }\n"
      "layer { name: 'u' type: 'Deconvolution' bottom: 'p' top: 'u' convolution_param { "
      "num_output: 4 kernel_size: 3 stride: 2 engine: CAFFE } }",
      "u", shape, 1e-5f);
  add("AvePool",
      "layer { name: 'p' type: 'Pooling' bottom: 'data' top: 'p' pooling_param { pool: AVE "
      "kernel_size: 3 stride: 2 pad: 1 } }\n"
      "layer { name: 'u' type: 'Deconvolution' bottom: 'p' top: 'u' convolution_param { "
      "num_output: 4 kernel_size: 3 stride: 2 pad: 1 engine: CAFFE } }\n"
      "layer { name: 'k' type: 'Crop' bottom: 'u' bottom: 'data' top: 'k' }",
      "k", shape, 1e-5f);
  add("Softmax", "layer { name: 's' type: 'Softmax' bottom: 'data' top: 's' }", "s", shape, 1e-6f);
  add("LRN", "layer { name: 'n' type: 'LRN' bottom: 'data' top: 'n' lrn_param { local_size: 3 } }",
      "n", shape, 1e-5f);
  for (const char* engine : {"CAFFE", "CUDNN"}) {
    static std::vector<std::string> names;
    names.push_back(StrCat("Convolution3x3_", engine));
    add(names.back().c_str(),
        StrCat("layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param "
               "{ num_output: 6 kernel_size: 3 pad: 1 engine: ",
               engine, " } }"),
        "c", shape, 1e-5f);
    names.push_back(StrCat("ConvolutionStrideGroupDilation_", engine));
    add(names.back().c_str(),
        StrCat("layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param "
               "{ num_output: 6 kernel_size: 3 stride: 2 group: 2 dilation: 2 pad: 2 engine: ",
               engine,
               " } }\n"
               "layer { name: 'u' type: 'Deconvolution' bottom: 'c' top: 'u' convolution_param "
               "{ num_output: 4 kernel_size: 4 stride: 2 group: 2 engine: ",
               engine,
               " } }\n"
               "layer { name: 'k' type: 'Crop' bottom: 'u' bottom: 'data' top: 'k' "
               "crop_param { offset: 1 } }"),
        "k", shape, 1e-5f);
    names.push_back(StrCat("FcnPad100AndBilinearUp_", engine));
    add(names.back().c_str(),
        StrCat("layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param "
               "{ num_output: 5 kernel_size: 3 pad: 100 engine: ",
               engine,
               " } }\n"
               "layer { name: 'fc' type: 'Convolution' bottom: 'c' top: 'fc' convolution_param "
               "{ num_output: 6 kernel_size: 7 stride: 4 engine: ",
               engine,
               " } }\n"
               "layer { name: 'up' type: 'Deconvolution' bottom: 'fc' top: 'up' "
               "convolution_param { num_output: 6 kernel_size: 16 stride: 8 group: 6 "
               "bias_term: false engine: ",
               engine,
               " } }\n"
               "layer { name: 'k' type: 'Crop' bottom: 'up' bottom: 'data' top: 'k' "
               "crop_param { offset: 19 } }"),
        "k", shape, 1e-5f);
  }
  add("Silence",
      "layer { name: 'r' type: 'ReLU' bottom: 'data' top: 'r' }\n"
      "layer { name: 's' type: 'Silence' bottom: 'r' }",
      "data", shape, 1e-6f);
  // Derived from the registry: every element-wise type (identity coordinate map, one bottom,
  // one top) that no case above uses, with its default parameters. A new element-wise layer
  // that runs on CUDA is compared here without an entry of its own.
  const LayerRegistry& registry = LayerRegistry::Builtin();
  for (const std::string& type : registry.Types()) {
    const LayerSchema& schema = *registry.Find(type);
    if (schema.coord_map != CoordMapRule::kIdentity || schema.min_bottoms != 1 ||
        schema.max_bottoms != 1 || schema.min_tops != 1 || schema.max_tops != 1) {
      continue;
    }
    const std::string used = StrCat("type: '", type, "'");
    if (std::any_of(cases.begin(), cases.end(), [&](const LayerCase& c) {
          return std::string(c.layers).find(used) != std::string::npos;
        })) {
      continue;
    }
    static std::vector<std::string> names;
    names.push_back(type);
    add(names.back().c_str(), StrCat("layer { name: 'g' ", used, " bottom: 'data' top: 'g' }"), "g",
        shape, 1e-6f);
  }
  add("InnerProduct",
      "layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip' inner_product_param { "
      "num_output: 11 axis: 3 } }",
      "ip", shape, 1e-5f);
  return cases;
}

// Runs without a device: every registered type that runs on CUDA (as created with its
// default parameters) appears in some case's net, so no GPU layer goes uncompared.
TEST(GpuCasesTest, CoverEveryLayerTypeThatRunsOnCuda) {
  std::set<std::string> covered;
  for (const LayerCase& c : Cases()) {
    std::unique_ptr<Net> net = MakeNet(NetText(c));
    for (const auto& layer : net->layers()) covered.insert(layer->type());
  }
  const LayerRegistry& registry = LayerRegistry::Builtin();
  int checked = 0;
  for (const std::string& type : registry.Types()) {
    const LayerSchema& schema = *registry.Find(type);
    LayerParameter p;
    p.set_name("probe");
    p.set_type(type);
    for (int i = 0; i < schema.min_bottoms; ++i) p.add_bottom(StrCat("b", i));
    for (int i = 0; i < std::max(schema.min_tops, schema.auto_top ? 0 : 1) &&
                    (schema.max_tops < 0 || i < schema.max_tops);
         ++i) {
      p.add_top(StrCat("t", i));
    }
    std::unique_ptr<Layer> layer;
    try {
      layer = registry.Create(p);
    } catch (const ConfigError&) {
      continue;  // needs parameters (Data, Input, ...): not decidable here
    }
    ++checked;
    if (layer->RunsOn(Device::kCuda)) {
      EXPECT_TRUE(covered.count(type)) << type << " runs on CUDA but no GPU case uses it";
    }
  }
  EXPECT_GE(checked, 10);
  EXPECT_TRUE(covered.count("AbsVal"));
}

TEST_F(GpuTest, EveryLayerEqualsTheCpu) {
  for (const LayerCase& c : Cases()) ExpectSameOnBothDevices(c);
}

TEST_F(GpuTest, FallbackLayersRunOnTheHost) {
  // Accuracy and ArgMax have no GPU implementation: they run on ctx.host() with their blobs
  // copied to the host, and the net's other layers stay on the device.
  LayerCase c;
  c.name = "AccuracyArgMax";
  c.layers =
      "layer { name: 'c' type: 'Convolution' bottom: 'data' top: 'c' convolution_param { "
      "num_output: 3 kernel_size: 1 } }\n"
      "layer { name: 'acc' type: 'Accuracy' bottom: 'c' bottom: 'label' top: 'acc' "
      "accuracy_param { ignore_label: 255 } }\n"
      "layer { name: 'am' type: 'ArgMax' bottom: 'c' top: 'am' argmax_param { axis: 1 } }\n"
      "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'c' bottom: 'label' top: 'loss' "
      "loss_param { ignore_label: 255 } }\n";
  c.data_shape = {2, 4, 9, 11};
  c.label_classes = 3;
  ExpectSameOnBothDevices(c);
}

TEST_F(GpuTest, SyncedMemoryRoundTrips) {
  SyncedMemory m(16 * sizeof(float));
  auto* host = static_cast<float*>(m.mutable_host_data());
  for (int i = 0; i < 16; ++i) host[i] = static_cast<float>(i);
  const void* device = m.device_data();
  EXPECT_EQ(m.head(), SyncedMemory::Head::kSynced);
  std::vector<float> back(16);
  device::CopyDeviceToHost(back.data(), device, back.size() * sizeof(float));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], i);
  m.mutable_device_data();
  m.ZeroFill();
  EXPECT_EQ(m.head(), SyncedMemory::Head::kDevice);
  const auto* zeroed = static_cast<const float*>(m.host_data());
  for (int i = 0; i < 16; ++i) EXPECT_EQ(zeroed[i], 0.0f);
}

TEST_F(GpuTest, GemmAndGemvEqualTheCpuInEveryTransposition) {
  const ExecContext cpu;
  const ExecContext gpu_ctx(Device::kCuda, 0);
  const int m = 7, n = 5, k = 9;
  auto a = GaussianBlob({m * k}, 1);
  auto b = GaussianBlob({k * n}, 2);
  for (auto ta : {math::Trans::kNo, math::Trans::kYes}) {
    for (auto tb : {math::Trans::kNo, math::Trans::kYes}) {
      Blob c_cpu({m * n});
      Blob c_gpu({m * n});
      FillGaussian(&c_cpu, 3);
      c_gpu.CopyFrom(c_cpu);
      math::Gemm(cpu, ta, tb, m, n, k, 0.5f, a->cpu_data(), b->cpu_data(), 2.0f,
                 c_cpu.mutable_cpu_data());
      math::Gemm(gpu_ctx, ta, tb, m, n, k, 0.5f, a->gpu_data(), b->gpu_data(), 2.0f,
                 c_gpu.mutable_gpu_data());
      EXPECT_TRUE(BlobsNear("gemm", Data(c_cpu), Data(c_gpu), 1e-5f));
    }
    Blob y_cpu({ta == math::Trans::kNo ? m : k});
    Blob y_gpu({ta == math::Trans::kNo ? m : k});
    auto x = GaussianBlob({ta == math::Trans::kNo ? k : m}, 4);
    math::Gemv(cpu, ta, m, k, 1.0f, a->cpu_data(), x->cpu_data(), 0.0f, y_cpu.mutable_cpu_data());
    math::Gemv(gpu_ctx, ta, m, k, 1.0f, a->gpu_data(), x->gpu_data(), 0.0f,
               y_gpu.mutable_gpu_data());
    EXPECT_TRUE(BlobsNear("gemv", Data(y_cpu), Data(y_gpu), 1e-5f));
  }
}

// Three SGD steps (momentum, weight decay, a frozen layer, iter_size 2) of a small FCN on
// DummyData give the same weights on both devices.
TEST_F(GpuTest, SolverStepsEqualTheCpu) {
  const std::string net =
      "name: 'tiny_fcn'\n"
      "layer { name: 'data' type: 'DummyData' top: 'data' top: 'label' dummy_data_param {\n"
      "  shape { dim: 2 dim: 3 dim: 16 dim: 16 } shape { dim: 2 dim: 1 dim: 16 dim: 16 }\n"
      "  data_filler { type: 'gaussian' std: 1 } data_filler { type: 'constant' value: 1 } } }\n"
      "layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1' convolution_param "
      "{ num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: 'gaussian' std: 0.1 } } }\n"
      "layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' }\n"
      "layer { name: 'pool1' type: 'Pooling' bottom: 'conv1' top: 'pool1' pooling_param { "
      "pool: MAX kernel_size: 2 stride: 2 } }\n"
      "layer { name: 'score' type: 'Convolution' bottom: 'pool1' top: 'score' "
      "convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: 'gaussian' std: "
      "0.1 } } }\n"
      "layer { name: 'up' type: 'Deconvolution' bottom: 'score' top: 'up' param { lr_mult: 0 } "
      "convolution_param { num_output: 2 group: 2 kernel_size: 4 stride: 2 pad: 1 bias_term: "
      "false weight_filler { type: 'bilinear' } } }\n"
      "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'up' bottom: 'label' top: 'loss' }\n";
  SolverParameter param;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      StrCat("base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 "
             "lr_policy: 'fixed' max_iter: 3 iter_size: 2 display: 0 "
             "snapshot_after_train: false random_seed: 5 net_param { ",
             net, " }"),
      &param));
  auto train = [&](Device device) {
    Options options;
    options.device = device;
    Solver solver(param, "", nullptr, options);
    solver.Step(3);
    std::vector<std::vector<float>> weights;
    for (Blob* p : solver.net()->learnable_params()) weights.push_back(Data(*p));
    return weights;
  };
  const auto cpu = train(Device::kCpu);
  const auto gpu_weights = train(Device::kCuda);
  ASSERT_EQ(cpu.size(), gpu_weights.size());
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    EXPECT_TRUE(BlobsNear(StrCat("param ", i), cpu[i], gpu_weights[i], 1e-5f));
  }
}

}  // namespace
}  // namespace fcn
