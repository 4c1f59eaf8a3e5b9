// SPDX-License-Identifier: BSD-2-Clause
// LRN: local response normalisation across channels or within a channel.
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/layer.h"
#include "fcn/proto/fcn.pb.h"
#include "layers/lrn_kernels.h"

namespace fcn {

// With n = local_size (odd) and r = (n - 1) / 2, over a 4-D input x:
//   ACROSS_CHANNELS: s(c,h,w) = k + alpha / n * sum_{c' = c-r .. c+r, 0 <= c' < C} x(c',h,w)^2
//   WITHIN_CHANNEL:  s(c,h,w) = 1 + alpha / n^2 * sum_{h' = h-r .. h+r, w' = w-r .. w+r,
//                                                     inside the image} x(c,h',w')^2
//                    (Caffe's AVE pooling of x^2 with pad r, whose divisor is always n^2;
//                     k is not used)
//   y = x * s^-beta
// Gradient, with W(p) the window of position p and A = alpha / n (across) or alpha / n^2
// (within); the windows are symmetric, so p lies in W(q) exactly when q lies in W(p):
//   dx(p) = dy(p) * s(p)^-beta - 2 * A * beta * x(p) * sum_{q in W(p)} dy(q) * y(q) / s(q)
//   bottom[0]: N x C x H x W (4 axes required)
//   top[0]:    N x C x H x W
// Not in place: the gradient reads x and y.
class LRNLayer final : public Layer {
 public:
  static const LayerSchema& Schema();
  explicit LRNLayer(const LayerParameter& param);

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  /// Runs on a GPU as well: the math is ForEachIndex functors and math:: calls.

  bool RunsOn(Device) const override { return true; }
  /// The scale s, kept from forward for backward.
  std::size_t internal_bytes() const override { return scale_.capacity_bytes(); }

 protected:
  void ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                    const std::vector<bool>& propagate_down, const BlobVec& bottom) override;

 private:
  kernels::LrnWindow Window(const Blob& x) const;
  /// alpha / n across channels, alpha / n^2 within a channel.
  float Coeff() const;

  LRNParameter::NormRegion region_ = LRNParameter::ACROSS_CHANNELS;
  std::int64_t size_ = 5;
  float alpha_ = 1.0f;
  float beta_ = 0.75f;
  float k_ = 1.0f;
  Blob scale_;  // s, shaped like the input
};

}  // namespace fcn
