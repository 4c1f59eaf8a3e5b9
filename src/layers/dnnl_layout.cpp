// SPDX-License-Identifier: BSD-2-Clause
// The oneDNN glue shared by the oneDNN engines (see dnnl_layout.h).
#include "layers/dnnl_layout.h"

#if !FCN_HAVE_DNNL

namespace fcn::dnnl_glue {

HostLayoutPtr ChannelBlockedLayout(const std::vector<std::int64_t>&) { return nullptr; }

}  // namespace fcn::dnnl_glue

#else

#include <algorithm>
#include <cstring>
#include <vector>

#include "fcn/common.h"

namespace fcn::dnnl_glue {

using dnnl::memory;

HostLayoutPtr ChannelBlockedLayout(const std::vector<std::int64_t>& shape) {
  if (shape.size() != 4 || shape[1] % 16 != 0) return nullptr;
  const memory::dims dims(shape.begin(), shape.end());
  return std::make_shared<DnnlLayout>(
      memory::desc(dims, memory::data_type::f32, memory::format_tag::nchw),
      memory::desc(dims, memory::data_type::f32, memory::format_tag::nChw16c));
}

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Runs a reorder on the calling thread's stream and waits for it.
void RunReorder(const dnnl::reorder& r, const memory& from, const memory& to) {
  thread_local dnnl::stream stream(CpuEngine());
  r.execute(stream, const_cast<memory&>(from), const_cast<memory&>(to));
  stream.wait();
}

DnnlLayout::DnnlLayout(const memory::desc& plain, const memory::desc& blocked)
    : plain_(plain), blocked_(blocked) {
  const memory p(plain_, CpuEngine(), DNNL_MEMORY_NONE);
  const memory b(blocked_, CpuEngine(), DNNL_MEMORY_NONE);
  to_blocked_ = dnnl::reorder(p, b);
  to_plain_ = dnnl::reorder(b, p);
  PlanSlabs();
}

void DnnlLayout::ConvertInPlace(void* buffer, void* scratch, bool to_layout) const {
  const memory::desc& from = to_layout ? plain_slab_ : blocked_slab_;
  const memory::desc& to = to_layout ? blocked_slab_ : plain_slab_;
  const dnnl::reorder& r = to_layout ? slab_to_blocked_ : slab_to_plain_;
  for (std::size_t k = 0; k < slabs_; ++k) {
    char* slab = static_cast<char*>(buffer) + k * slab_bytes_;
    std::memcpy(scratch, slab, slab_bytes_);
    RunReorder(r, memory(from, CpuEngine(), scratch), memory(to, CpuEngine(), slab));
  }
}

void DnnlLayout::FromPlain(const void* plain, void* out) const {
  RunReorder(to_blocked_, memory(plain_, CpuEngine(), const_cast<void*>(plain)),
             memory(blocked_, CpuEngine(), out));
}

void DnnlLayout::ToPlain(const void* in, void* plain) const {
  RunReorder(to_plain_, memory(blocked_, CpuEngine(), const_cast<void*>(in)),
             memory(plain_, CpuEngine(), plain));
}

bool DnnlLayout::Equals(const HostLayout& other) const {
  const auto* o = dynamic_cast<const DnnlLayout*>(&other);
  return o != nullptr && o->blocked_ == blocked_ && o->plain_ == plain_;
}

std::string DnnlLayout::name() const {
  // oneDNN's tag notation: dimensions a, b, c, ...; an inner block adds its size and letter
  // (aBcd16b: the channels in blocks of 16, innermost).
  const dnnl_memory_desc_t& d = blocked_.data;
  std::string name;
  for (int i = 0; i < d.ndims; ++i) name += static_cast<char>('a' + i);
  const auto& blk = d.format_desc.blocking;
  for (int i = 0; i < blk.inner_nblks; ++i) {
    const auto axis = static_cast<std::size_t>(blk.inner_idxs[i]);
    name[axis] = static_cast<char>('A' + blk.inner_idxs[i]);
    name += StrCat(blk.inner_blks[i]) + static_cast<char>('a' + blk.inner_idxs[i]);
  }
  return name;
}

// Finds the slabs of an in-place conversion: the parts of the tensor that hold the same
// elements at the same bytes in both layouts. Walking the dimensions from the plain layout's
// outermost, each one whose blocked stride also spans everything inside it (times its inner
// block) splits the tensor further; the walk ends at the first blocked dimension. nChw16c
// gives slabs of 16 channels of one image, OIhw16i16o slabs of 16 output channels. None
// (slab_bytes_ 0) when the layouts are not both dense, or the whole tensor is one slab.
void DnnlLayout::PlanSlabs() {
  const dnnl_memory_desc_t& p = plain_.data;
  const dnnl_memory_desc_t& b = blocked_.data;
  auto dense = [](const dnnl_memory_desc_t& d) {
    if (d.format_kind != dnnl_blocked || d.offset0 != 0 || d.extra.flags != 0) return false;
    for (int i = 0; i < d.ndims; ++i) {
      if (d.padded_dims[i] != d.dims[i] || d.padded_offsets[i] != 0) return false;
    }
    return true;
  };
  if (!dense(p) || !dense(b) || p.ndims != b.ndims || p.data_type != b.data_type ||
      p.format_desc.blocking.inner_nblks != 0) {
    return;
  }
  const int n = p.ndims;
  std::vector<int> order(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return p.format_desc.blocking.strides[x] > p.format_desc.blocking.strides[y];
  });
  const auto& blk = b.format_desc.blocking;
  std::vector<dnnl_dim_t> block(static_cast<std::size_t>(n), 1);
  dnnl_dim_t inner = 1, total = 1;
  for (int k = 0; k < blk.inner_nblks; ++k) {
    block[static_cast<std::size_t>(blk.inner_idxs[k])] *= blk.inner_blks[k];
    inner *= blk.inner_blks[k];
  }
  for (int i = 0; i < n; ++i) total *= p.dims[i];
  dnnl_dim_t rest = total, slab = 0;
  int last = -1;  // the innermost position of `order` that splits the tensor
  for (int t = 0; t < n; ++t) {
    const int d = order[static_cast<std::size_t>(t)];
    rest /= p.dims[d];
    const dnnl_dim_t bd = block[static_cast<std::size_t>(d)];
    if (p.format_desc.blocking.strides[d] != rest || blk.strides[d] != bd * rest) break;
    last = t;
    slab = bd * rest;
    if (bd != 1) break;
  }
  if (last < 0 || slab <= 0 || total / slab < 2) return;
  // Inside a slab the blocked layout must address exactly its elements (offsets 0..slab-1).
  dnnl_dim_t span = inner - 1;
  for (int t = last + 1; t < n; ++t) {
    const int d = order[static_cast<std::size_t>(t)];
    span += (p.dims[d] / block[static_cast<std::size_t>(d)] - 1) * blk.strides[d];
  }
  if (span != slab - 1) return;
  dnnl_memory_desc_t ps = p, bs = b;
  for (int t = 0; t <= last; ++t) {
    const int d = order[static_cast<std::size_t>(t)];
    const dnnl_dim_t extent = t == last ? block[static_cast<std::size_t>(d)] : 1;
    ps.dims[d] = ps.padded_dims[d] = bs.dims[d] = bs.padded_dims[d] = extent;
  }
  plain_slab_ = memory::desc(ps);
  blocked_slab_ = memory::desc(bs);
  const std::size_t bytes = plain_.get_size() / static_cast<std::size_t>(total / slab);
  if (plain_slab_.get_size() != bytes || blocked_slab_.get_size() != bytes) return;
  const memory ms(plain_slab_, CpuEngine(), DNNL_MEMORY_NONE);
  const memory mb(blocked_slab_, CpuEngine(), DNNL_MEMORY_NONE);
  slab_to_blocked_ = dnnl::reorder(ms, mb);
  slab_to_plain_ = dnnl::reorder(mb, ms);
  slabs_ = static_cast<std::size_t>(total / slab);
  slab_bytes_ = bytes;
}

}  // namespace fcn::dnnl_glue

#endif  // FCN_HAVE_DNNL
