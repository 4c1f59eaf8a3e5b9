// SPDX-License-Identifier: BSD-2-Clause
// DnnlPool: oneDNN's (2.x C++ API) max pooling behind the Pooling layer.
#include "layers/dnnl_pool.h"

#include <unordered_map>

#include "fcn/common.h"
#include "layers/dnnl_layout.h"

namespace fcn {

namespace {

// The right/bottom padding that makes oneDNN's exact size relation hold for Caffe's (rounded
// up) output size.
std::int64_t PadAfter(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                      std::int64_t pad) {
  return (out - 1) * stride + kernel - in - pad;
}

}  // namespace

bool DnnlPool::Supported(const kernels::PoolGeometry& g, std::string* why) {
  const std::int64_t after_h = PadAfter(g.height, g.pooled_height, g.kernel_h, g.stride_h, g.pad_h);
  const std::int64_t after_w = PadAfter(g.width, g.pooled_width, g.kernel_w, g.stride_w, g.pad_w);
  if (after_h < 0 || after_w < 0) {
    if (why) *why = "the output size drops input rows or columns";
    return false;
  }
  // The last window must start inside the image (Caffe's windows are clipped to it; one wholly
  // outside gives -FLT_MAX there), and the first must reach into it.
  if ((g.pooled_height - 1) * g.stride_h - g.pad_h >= g.height ||
      (g.pooled_width - 1) * g.stride_w - g.pad_w >= g.width || g.pad_h >= g.kernel_h ||
      g.pad_w >= g.kernel_w) {
    if (why) *why = "a window lies wholly outside the image";
    return false;
  }
  return true;
}

#if FCN_HAVE_DNNL

using dnnl::memory;
using dnnl_glue::CpuEngine;
using dnnl_glue::DnnlLayout;

bool DnnlPool::Reads(const HostLayoutPtr& layout) {
  return dynamic_cast<const DnnlLayout*>(layout.get()) != nullptr;
}

struct DnnlPool::Impl {
  std::int64_t num = 0, channels = 0;
  kernels::PoolGeometry g{};
  bool training = false;
  HostLayoutPtr src_layout, dst_layout;
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward bwd;
  memory::desc src_md, dst_md, workspace_md;
  std::string impl;
  std::unique_ptr<SyncedMemory> workspace;  // training: the argmax (allocated on first use)
  dnnl::stream stream{CpuEngine()};
};

DnnlPool::DnnlPool(std::int64_t num, std::int64_t channels, const kernels::PoolGeometry& g,
                   const HostLayoutPtr& layout, bool training)
    : impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!Supported(g, &why)) throw ConfigError(StrCat("oneDNN pooling: ", why));
  const auto* in = dynamic_cast<const DnnlLayout*>(layout.get());
  if (in == nullptr) throw ConfigError("oneDNN pooling: the bottom is not in a oneDNN layout");
  Impl& m = *impl_;
  m.num = num;
  m.channels = channels;
  m.g = g;
  m.training = training;
  m.src_layout = layout;
  m.src_md = in->blocked();
  const memory::dims dst_dims{num, channels, g.pooled_height, g.pooled_width};
  const memory::dims strides{g.stride_h, g.stride_w}, kernel{g.kernel_h, g.kernel_w};
  const memory::dims pad_l{g.pad_h, g.pad_w};
  const memory::dims pad_r{PadAfter(g.height, g.pooled_height, g.kernel_h, g.stride_h, g.pad_h),
                           PadAfter(g.width, g.pooled_width, g.kernel_w, g.stride_w, g.pad_w)};
  try {
    const memory::desc dst_any(dst_dims, memory::data_type::f32, memory::format_tag::any);
    const dnnl::pooling_forward::desc fd(
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
        dnnl::algorithm::pooling_max, m.src_md, dst_any, strides, kernel, pad_l, pad_r);
    const dnnl::pooling_forward::primitive_desc fpd(fd, CpuEngine());
    const memory::desc plain_dst(dst_dims, memory::data_type::f32, memory::format_tag::nchw);
    m.dst_md = fpd.dst_desc();
    if (m.dst_md.get_size() != plain_dst.get_size()) {
      throw ConfigError("oneDNN pooling: the top's layout pads its channels");
    }
    m.dst_layout =
        m.dst_md == plain_dst ? nullptr : std::make_shared<DnnlLayout>(plain_dst, m.dst_md);
    m.fwd = dnnl::pooling_forward(fpd);
    m.impl = fpd.impl_info_str();
    if (training) {
      m.workspace_md = fpd.workspace_desc();
      m.workspace = std::make_unique<SyncedMemory>(m.workspace_md.get_size());
      const dnnl::pooling_backward::desc bd(dnnl::algorithm::pooling_max, m.src_md, m.dst_md,
                                            strides, kernel, pad_l, pad_r);
      m.bwd = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bd, CpuEngine(), fpd));
    }
  } catch (const dnnl::error& e) {
    throw ConfigError(
        StrCat("oneDNN has no max pooling for this layer on this CPU (", e.what(), ")"));
  }
}

DnnlPool::~DnnlPool() = default;

bool DnnlPool::Matches(std::int64_t num, std::int64_t channels, const kernels::PoolGeometry& g,
                       const HostLayoutPtr& layout, bool training) const {
  const Impl& m = *impl_;
  const kernels::PoolGeometry& h = m.g;
  return num == m.num && channels == m.channels && training == m.training && g.height == h.height &&
         g.width == h.width && g.pooled_height == h.pooled_height &&
         g.pooled_width == h.pooled_width && g.kernel_h == h.kernel_h && g.kernel_w == h.kernel_w &&
         g.stride_h == h.stride_h && g.stride_w == h.stride_w && g.pad_h == h.pad_h &&
         g.pad_w == h.pad_w && layout && layout->Equals(*m.src_layout);
}

std::string DnnlPool::name() const { return StrCat("DNNL (pooling_max: ", impl_->impl, ")"); }

std::size_t DnnlPool::workspace_bytes() const {
  return impl_->training ? impl_->workspace_md.get_size() : 0;
}

void DnnlPool::Forward(SyncedMemory& bottom, SyncedMemory& top) {
  Impl& m = *impl_;
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC,
       memory(m.src_md, CpuEngine(), const_cast<void*>(bottom.host_data_in(m.src_layout)))},
      {DNNL_ARG_DST,
       memory(m.dst_md, CpuEngine(), top.mutable_host_data_in(m.dst_layout, /*overwrite=*/true))}};
  if (m.training) {
    args[DNNL_ARG_WORKSPACE] =
        memory(m.workspace_md, CpuEngine(), m.workspace->mutable_host_data());
  }
  m.fwd.execute(m.stream, args);
  m.stream.wait();
}

void DnnlPool::Backward(SyncedMemory& top_diff, SyncedMemory& bottom_diff) {
  Impl& m = *impl_;
  FCN_CHECK(m.training, "DnnlPool: backward of a pooling made for inference");
  m.bwd.execute(
      m.stream,
      {{DNNL_ARG_DIFF_DST,
        memory(m.dst_md, CpuEngine(), const_cast<void*>(top_diff.host_data_in(m.dst_layout)))},
       {DNNL_ARG_DIFF_SRC,
        memory(m.src_md, CpuEngine(), bottom_diff.mutable_host_data_in(m.src_layout, true))},
       {DNNL_ARG_WORKSPACE,
        memory(m.workspace_md, CpuEngine(), const_cast<void*>(m.workspace->host_data()))}});
  m.stream.wait();
}

#else  // !FCN_HAVE_DNNL

struct DnnlPool::Impl {};

bool DnnlPool::Reads(const HostLayoutPtr&) { return false; }
DnnlPool::DnnlPool(std::int64_t, std::int64_t, const kernels::PoolGeometry&, const HostLayoutPtr&,
                   bool) {
  throw ConfigError("oneDNN pooling: this build has no oneDNN");
}
DnnlPool::~DnnlPool() = default;
bool DnnlPool::Matches(std::int64_t, std::int64_t, const kernels::PoolGeometry&,
                       const HostLayoutPtr&, bool) const {
  return false;
}
std::string DnnlPool::name() const { return ""; }
std::size_t DnnlPool::workspace_bytes() const { return 0; }
void DnnlPool::Forward(SyncedMemory&, SyncedMemory&) {}
void DnnlPool::Backward(SyncedMemory&, SyncedMemory&) {}

#endif  // FCN_HAVE_DNNL

}  // namespace fcn
