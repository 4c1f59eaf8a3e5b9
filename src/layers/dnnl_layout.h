// SPDX-License-Identifier: BSD-2-Clause
// What the oneDNN engines share (the convolutions of dnnl_conv.cpp, the pooling of
// dnnl_pool.cpp): the CPU engine, a blocking reorder, and DnnlLayout, the host layout in which a
// blob's buffer stays between two oneDNN layers. Internal to the library; only compiled where
// oneDNN is (FCN_HAVE_DNNL).
#pragma once

#include <cstdint>
#include <vector>

#include "fcn/memory.h"

namespace fcn::dnnl_glue {

/// The layout a oneDNN convolution leaves an N x C x H x W fp32 activation in when C is a
/// multiple of 16 (nChw16c), for tests and tools outside the oneDNN glue; null in a build
/// without oneDNN or for another shape.
HostLayoutPtr ChannelBlockedLayout(const std::vector<std::int64_t>& shape);

}  // namespace fcn::dnnl_glue

#if FCN_HAVE_DNNL

#include <cstddef>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

namespace fcn::dnnl_glue {

/// The process's oneDNN CPU engine.
dnnl::engine& CpuEngine();

/// Runs a reorder on the calling thread's stream and waits for it.
void RunReorder(const dnnl::reorder& r, const dnnl::memory& from, const dnnl::memory& to);

/// A oneDNN layout of an activation (a blocked format such as nChw16c holding exactly the
/// plain tensor's elements), in which a blob's buffer can stay between two oneDNN layers.
class DnnlLayout final : public HostLayout {
 public:
  DnnlLayout(const dnnl::memory::desc& plain, const dnnl::memory::desc& blocked);
  std::size_t in_place_scratch_bytes() const override { return slab_bytes_; }
  void ConvertInPlace(void* buffer, void* scratch, bool to_layout) const override;
  std::size_t bytes() const override { return blocked_.get_size(); }
  /// The plain (NCHW) and the blocked descriptions of the tensor.
  const dnnl::memory::desc& plain() const { return plain_; }
  const dnnl::memory::desc& blocked() const { return blocked_; }
  void FromPlain(const void* plain, void* out) const override;
  void ToPlain(const void* in, void* plain) const override;
  bool Equals(const HostLayout& other) const override;
  /// oneDNN's tag notation ("aBcd16b": the channels in blocks of 16, innermost).
  std::string name() const override;

 private:
  void PlanSlabs();

  dnnl::memory::desc plain_, blocked_;
  dnnl::reorder to_blocked_, to_plain_;
  // In-place conversion (PlanSlabs): slabs_ slabs of slab_bytes_ each, at k * slab_bytes_.
  dnnl::memory::desc plain_slab_, blocked_slab_;
  dnnl::reorder slab_to_blocked_, slab_to_plain_;
  std::size_t slabs_ = 0, slab_bytes_ = 0;
};

}  // namespace fcn::dnnl_glue

#endif  // FCN_HAVE_DNNL
