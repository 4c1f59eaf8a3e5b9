// SPDX-License-Identifier: BSD-2-Clause
// DnnlConv: a 2-D convolution or deconvolution run by oneDNN (forward, backward data,
// backward weights and bias), the `DNNL` engine of Convolution and Deconvolution.
//
// The weights stay in Caffe's layouts (M x C/G x kh x kw for Convolution, C x M/G x kh x kw
// for Deconvolution). oneDNN picks its own (blocked) layouts for the primitives
// (format_tag::any). Activations (bottom and top, data and diff) stay in oneDNN's layout in the
// blobs' own buffers when that layout holds exactly the tensor's elements (SyncedMemory's host
// layouts): the next oneDNN layer reads them as they are, and any other reader gets plain NCHW
// on access. In a net that does not train, the forward weights stay in oneDNN's layout the same
// way. Other weights, and activations whose channels oneDNN would pad, are reordered at the
// call into scratch carved from the net's shared Workspace. Primitives are made for one
// geometry and rebuilt by the layer when a blob of another shape arrives (a whole image of a
// new size).
//
// Differences from the im2col path are rounding only (another summation order): the tests hold
// both engines to a relative tolerance of about 1e-5 of the magnitudes summed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fcn/exec_context.h"
#include "fcn/memory.h"

namespace fcn {

struct DnnlConvGeometry {
  bool transposed = false;  // Deconvolution
  bool winograd = false;    // algorithm::convolution_winograd (3x3, stride 1; opt-in)
  std::int64_t num = 1;
  int in_channels = 0, in_h = 0, in_w = 0;     // the bottom (oneDNN's src)
  int out_channels = 0, out_h = 0, out_w = 0;  // the top (oneDNN's dst)
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1, group = 1;
  bool bias = true;

  bool operator==(const DnnlConvGeometry& o) const {
    return transposed == o.transposed && winograd == o.winograd && num == o.num &&
           in_channels == o.in_channels && in_h == o.in_h && in_w == o.in_w &&
           out_channels == o.out_channels && out_h == o.out_h && out_w == o.out_w &&
           kernel_h == o.kernel_h && kernel_w == o.kernel_w && stride_h == o.stride_h &&
           stride_w == o.stride_w && pad_h == o.pad_h && pad_w == o.pad_w &&
           dilation_h == o.dilation_h && dilation_w == o.dilation_w && group == o.group &&
           bias == o.bias;
  }
  bool operator!=(const DnnlConvGeometry& o) const { return !(*this == o); }
};

class DnnlConv {
 public:
  /// True when oneDNN is compiled in and can run this geometry (2-D; for convolution the
  /// right/bottom padding that Caffe's floor implies must not be negative). Otherwise `why`
  /// says what is missing.
  static bool Supported(const DnnlConvGeometry& g, std::string* why);
  /// Whether this build has oneDNN at all.
  static bool Available();

  explicit DnnlConv(const DnnlConvGeometry& g);
  ~DnnlConv();
  DnnlConv(const DnnlConv&) = delete;
  DnnlConv& operator=(const DnnlConv&) = delete;

  const DnnlConvGeometry& geometry() const { return g_; }
  /// oneDNN's implementation name for the forward primitive (e.g. "jit:avx512_core").
  std::string ForwardImplementation() const;

  /// top = conv(bottom, weights) + bias (bias may be null when the geometry has none).
  /// In a net that does not train, the weights' buffer is converted to oneDNN's forward layout
  /// once and read there on every later pass (see WeightPort); off by default.
  void set_keep_weight_layout(bool keep) { keep_weight_layout_ = keep; }

  /// The activations and weights are the blobs' buffers (any host layout on the way in;
  /// oneDNN's on the way out where it can stay there), the bias a plain host array.
  void Forward(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& weights, const float* bias,
               SyncedMemory& top);
  /// bottom_diff = the gradient w.r.t. the bottom (overwritten).
  void BackwardData(Workspace& workspace, SyncedMemory& top_diff, SyncedMemory& weights,
                    SyncedMemory& bottom_diff);
  /// weight_diff += dL/dW and (when bias_diff is not null) bias_diff += dL/db.
  void BackwardWeights(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& top_diff,
                       float* weight_diff, float* bias_diff);

 private:
  struct Impl;
  void Build();
  DnnlConvGeometry g_;
  bool keep_weight_layout_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcn
