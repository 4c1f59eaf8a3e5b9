// SPDX-License-Identifier: BSD-2-Clause
// Pooling: MAX or AVE over spatial windows, with Caffe's output-size rounding.
#pragma once

#include <cstdint>
#include <memory>

#include "fcn/layer.h"
#include "fcn/memory.h"
#include "fcn/proto/fcn.pb.h"
#include "layers/dnnl_pool.h"
#include "layers/pooling_kernels.h"

namespace fcn {

// Windows of kernel_h x kernel_w every stride_h / stride_w pixels over an image padded by
// pad_h / pad_w on each side (global_pooling: one window over the whole H x W, pad 0,
// stride 1). Output size per axis (round_mode CEIL by default, FLOOR on request):
//   H_out = ceil((H + 2 * pad_h - kernel_h) / stride_h) + 1
// and, when any pad is non-zero, H_out is decremented if the last window would start in the
// trailing pad ((H_out - 1) * stride_h >= H + pad_h); likewise W_out. VGG's 2x2/2 pooling
// thus maps 349 to 175.
// MAX: y = the window's maximum over the image (padding never wins); the first maximum in
//   row-major order is kept (a later value replaces it only when strictly greater), and its
//   plane index y * W + x is recorded. Gradient: each top diff is added to the bottom element
//   at its recorded index.
// AVE: y = (sum of the window clipped to the image) / pool_size, where pool_size is the window
//   area within [-pad, H + pad) x [-pad, W + pad), i.e. counted before clipping, so padded
//   cells count but cells created by ceil rounding do not. Gradient: top diff / pool_size to
//   every in-image cell of the window.
//   bottom[0]: N x C x H x W (4 axes required)
//   top[0]:    N x C x H_out x W_out
//   top[1]:    N x C x H_out x W_out, MAX only: the recorded indices as floats ("mask")
// STOCHASTIC pooling is not supported. Not in place.
// Engine (pooling_param.engine): on the CPU, DEFAULT runs MAX pooling without a mask top in
// oneDNN (DnnlPool) when the bottom arrives in a oneDNN layer's blocked layout and DnnlPool
// supports the geometry, with the same values; otherwise, and under CAFFE, the plain functors.
class PoolingLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit PoolingLayer(const LayerParameter& param);

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;
  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.
  bool RunsOn(Device) const override { return true; }
  /// The argmax buffer of MAX pooling without a mask top (oneDNN's where it ran).
  std::size_t internal_bytes() const override;
  /// "DNNL (pooling_max: ...)" after a pass that oneDNN ran, else empty.
  std::string engine_name() const override;
  /// Backward routes the top gradient through the argmax (or the mask top) or averages it:
  /// the data it reads is the mask top's alone.
  bool BackwardReadsTopData(int index) const override { return index == 1; }
  bool BackwardReadsBottomData(int) const override { return false; }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  kernels::PoolGeometry Geometry() const;
  /// The oneDNN pooling for this pass, made or remade for its bottom; null when the functors
  /// run it (see the class comment).
  DnnlPool* DnnlFor(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top);
  template <typename IndexT>
  void MaxBackward(const ExecContext& ctx, const float* top_diff, const IndexT* argmax,
                   float* bottom_diff, std::int64_t n, std::int64_t planes) const;

  PoolingParameter::PoolMethod pool_ = PoolingParameter::MAX;
  PoolingParameter::RoundMode round_mode_ = PoolingParameter::CEIL;
  bool global_pooling_ = false;
  int kernel_h_ = 0;  // set from the input in Reshape under global_pooling
  int kernel_w_ = 0;
  int stride_h_ = 1;
  int stride_w_ = 1;
  int pad_h_ = 0;
  int pad_w_ = 0;

  std::int64_t num_planes_ = 0;  // N * C
  std::int64_t height_ = 0;
  std::int64_t width_ = 0;
  std::int64_t pooled_height_ = 0;
  std::int64_t pooled_width_ = 0;
  // MAX without a mask top: the argmax of every top element, as int.
  std::unique_ptr<SyncedMemory> argmax_;
  bool compact_argmax_ = false;  // argmax_ holds std::uint8_t window positions, else int
  PoolingParameter::Engine engine_ = PoolingParameter::DEFAULT;
  std::unique_ptr<DnnlPool> dnnl_;
  bool dnnl_ran_ = false;          // the last forward pass ran in dnnl_ (so backward does)
  bool dnnl_unavailable_ = false;  // oneDNN had no primitive for it: not tried again
};

}  // namespace fcn
