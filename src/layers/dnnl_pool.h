// SPDX-License-Identifier: BSD-2-Clause
// DnnlPool: MAX pooling run by oneDNN in the blocked layout its input arrives in, the DEFAULT
// engine of Pooling on the CPU where the bottom is the top of a oneDNN layer (VGG's pool1-5
// read nChw16c). The top stays in the primitive's layout, for the next oneDNN convolution; the
// backward pass takes the top diff in that layout and writes the bottom diff in the bottom's.
// Without it, pooling converts its bottom to plain order (pool1 of FCN-8s at 500x500: 125 MB)
// and the next convolution converts pooling's top back.
//
// The values are Caffe's exactly: a window's maximum over the image (padding never wins), the
// first maximum in row-major order when several are equal (oneDNN replaces the running maximum
// only by a strictly greater value, as Caffe does), and its gradient routed to that position
// through oneDNN's workspace (its argmax, one byte per top element for windows of under 256
// positions). Geometries where the two could differ are not Supported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fcn/memory.h"
#include "layers/pooling_kernels.h"

namespace fcn {

class DnnlPool {
 public:
  /// Whether this build has oneDNN and `layout` is a layout of a oneDNN layer's (one that
  /// DnnlPool reads as it is).
  static bool Reads(const HostLayoutPtr& layout);
  /// Whether oneDNN computes this MAX pooling as Caffe does: every window overlaps the image
  /// (Caffe gives -FLT_MAX for a window wholly past the edge, oneDNN the padding's value), and
  /// the window steps fit the padded input (no input rows dropped). Otherwise `why` says which.
  static bool Supported(const kernels::PoolGeometry& g, std::string* why);

  /// num x channels images of g's size in `layout` (Reads(layout)); training keeps the argmax
  /// for Backward. Throws ConfigError when oneDNN has no primitive for it on this CPU.
  DnnlPool(std::int64_t num, std::int64_t channels, const kernels::PoolGeometry& g,
           const HostLayoutPtr& layout, bool training);
  ~DnnlPool();
  DnnlPool(const DnnlPool&) = delete;
  DnnlPool& operator=(const DnnlPool&) = delete;

  /// Whether this was made for these arguments.
  bool Matches(std::int64_t num, std::int64_t channels, const kernels::PoolGeometry& g,
               const HostLayoutPtr& layout, bool training) const;
  /// "DNNL (pooling_max: <oneDNN's implementation>)".
  std::string name() const;
  /// Bytes of the argmax kept for backward (oneDNN's workspace); 0 when not training.
  std::size_t workspace_bytes() const;

  /// top = the windows' maxima of bottom (read in the layout; top left in oneDNN's).
  void Forward(SyncedMemory& bottom, SyncedMemory& top);
  /// bottom_diff = each top diff at its window's argmax (overwritten).
  void Backward(SyncedMemory& top_diff, SyncedMemory& bottom_diff);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcn
