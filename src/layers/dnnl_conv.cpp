// SPDX-License-Identifier: BSD-2-Clause
// DnnlConv: oneDNN (2.x C++ API) convolution and deconvolution primitives behind the layer's
// Caffe layouts.
#include "layers/dnnl_conv.h"

#include <cstdlib>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fcn/common.h"

#if FCN_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace fcn {

namespace {

// The bottom/right padding that makes oneDNN's exact size relation hold for Caffe's floored
// output size (negative when Caffe's floor drops input rows).
int RightPad(int conv_in, int conv_out, int kernel, int stride, int pad, int dilation) {
  const int extent = dilation * (kernel - 1) + 1;
  return (conv_out - 1) * stride + extent - conv_in - pad;
}

int PadBottom(const DnnlConvGeometry& g) {
  return g.transposed ? RightPad(g.out_h, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h)
                      : RightPad(g.in_h, g.out_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
}

int PadRight(const DnnlConvGeometry& g) {
  return g.transposed ? RightPad(g.out_w, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w)
                      : RightPad(g.in_w, g.out_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
}

}  // namespace

bool DnnlConv::Available() { return FCN_HAVE_DNNL != 0; }

bool DnnlConv::Supported(const DnnlConvGeometry& g, std::string* why) {
  if (!Available()) {
    if (why) *why = "this build has no oneDNN (FCN_USE_DNNL=OFF or libdnnl-dev missing)";
    return false;
  }
  if (PadBottom(g) < 0 || PadRight(g) < 0) {
    if (why) {
      *why = StrCat("the output size drops input rows or columns (stride ", g.stride_h, "x",
                    g.stride_w, " does not divide the padded input)");
    }
    return false;
  }
  if (g.winograd && (g.transposed || g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 ||
                     g.stride_w != 1 || g.dilation_h != 1 || g.dilation_w != 1 || g.group != 1)) {
    if (why) *why = "Winograd takes 3x3 convolutions with stride 1, no dilation and no groups";
    return false;
  }
  return true;
}

#if FCN_HAVE_DNNL

namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& CpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// FCN_DNNL_KEEP_LAYOUTS=0 turns the kept layouts off (activations and weights reordered at
// every call, as before they existed), for comparisons.
bool KeepLayouts() {
  static const bool keep = [] {
    const char* v = std::getenv("FCN_DNNL_KEEP_LAYOUTS");
    return v == nullptr || std::string(v) != "0";
  }();
  return keep;
}

// Runs a reorder on the calling thread's stream and waits for it.
void RunReorder(const dnnl::reorder& r, const memory& from, const memory& to) {
  thread_local dnnl::stream stream(CpuEngine());
  r.execute(stream, const_cast<memory&>(from), const_cast<memory&>(to));
  stream.wait();
}

// A oneDNN layout of an activation (a blocked format such as nChw16c holding exactly the
// plain tensor's elements), in which a blob's buffer can stay between two oneDNN layers.
class DnnlLayout final : public HostLayout {
 public:
  DnnlLayout(const memory::desc& plain, const memory::desc& blocked)
      : plain_(plain), blocked_(blocked) {
    const memory p(plain_, CpuEngine(), DNNL_MEMORY_NONE);
    const memory b(blocked_, CpuEngine(), DNNL_MEMORY_NONE);
    to_blocked_ = dnnl::reorder(p, b);
    to_plain_ = dnnl::reorder(b, p);
  }
  std::size_t bytes() const override { return blocked_.get_size(); }
  void FromPlain(const void* plain, void* out) const override {
    RunReorder(to_blocked_, memory(plain_, CpuEngine(), const_cast<void*>(plain)),
               memory(blocked_, CpuEngine(), out));
  }
  void ToPlain(const void* in, void* plain) const override {
    RunReorder(to_plain_, memory(blocked_, CpuEngine(), const_cast<void*>(in)),
               memory(plain_, CpuEngine(), plain));
  }
  bool Equals(const HostLayout& other) const override {
    const auto* o = dynamic_cast<const DnnlLayout*>(&other);
    return o != nullptr && o->blocked_ == blocked_ && o->plain_ == plain_;
  }
  std::string name() const override {
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

 private:
  memory::desc plain_, blocked_;
  dnnl::reorder to_blocked_, to_plain_;
};

// One primitive argument: the layer's buffer (user layout) and the primitive's layout, with
// the reorders when the two differ. The primitive-layout copy lives in scratch memory that the
// caller carves from the net's shared workspace for the duration of one call.
class Port {
 public:
  Port() = default;
  Port(const memory::desc& user, const memory::desc& prim) : user_(user), prim_(prim) {
    if (user_ != prim_) {
      const memory u(user_, CpuEngine(), DNNL_MEMORY_NONE);
      const memory q(prim_, CpuEngine(), DNNL_MEMORY_NONE);
      to_prim_ = dnnl::reorder(u, q);
      from_prim_ = dnnl::reorder(q, u);
    }
  }
  bool same() const { return user_ == prim_; }
  const memory::desc& prim_desc() const { return prim_; }
  /// Floats of scratch this port needs (0 when the layouts agree), rounded to 64 bytes.
  virtual std::size_t scratch_floats() const {
    return same() ? 0 : (prim_.get_size() / sizeof(float) + 15) / 16 * 16;
  }
  virtual ~Port() = default;
  /// Takes its scratch from *cursor (advancing it).
  void Bind(float** cursor) {
    scratch_ = *cursor;
    *cursor += scratch_floats();
  }

  /// The primitive's view of the read-only user data (reordered when the layouts differ).
  memory In(dnnl::stream& s, const float* data) {
    memory user(user_, CpuEngine(), const_cast<float*>(data));
    if (same()) return user;
    memory prim(prim_, CpuEngine(), scratch_);
    to_prim_.execute(s, user, prim);
    return prim;
  }
  /// Where the primitive writes; Finish() copies it to the user buffer when the layouts differ.
  memory Out(float* data) {
    return same() ? memory(user_, CpuEngine(), data) : memory(prim_, CpuEngine(), scratch_);
  }
  void Finish(dnnl::stream& s, float* data) {
    if (same()) return;
    memory user(user_, CpuEngine(), data);
    memory prim(prim_, CpuEngine(), scratch_);
    from_prim_.execute(s, prim, user);
  }

 protected:
  /// The primitive's layout as a host layout a blob's buffer can stay in: when it differs from
  /// the user's and holds exactly its elements (no padding), and kept layouts are on.
  HostLayoutPtr KeepableLayout() const {
    if (same() || prim_.get_size() != user_.get_size() || !KeepLayouts()) return nullptr;
    return std::make_shared<DnnlLayout>(user_, prim_);
  }

  memory::desc user_, prim_;
  float* scratch_ = nullptr;
  dnnl::reorder to_prim_, from_prim_;
};

// An activation argument (the layer's bottom or top, data or diff). When the primitive's
// layout holds exactly the plain tensor's elements (a blocked format without padding), the
// blob's own buffer is converted to that layout and stays in it (SyncedMemory::host_data_in),
// so the next oneDNN layer reads it without a reorder and a layer that wants plain order gets
// it converted back on access. Otherwise (channels padded to the block size) it reorders
// through scratch like a weight.
class ActivationPort : public Port {
 public:
  ActivationPort() = default;
  ActivationPort(const memory::desc& user, const memory::desc& prim)
      : Port(user, prim), layout_(KeepableLayout()) {}
  bool adopts() const { return same() || layout_ != nullptr; }
  std::size_t scratch_floats() const override { return adopts() ? 0 : Port::scratch_floats(); }

  memory In(dnnl::stream& s, SyncedMemory& blob) {
    if (adopts()) return memory(prim_, CpuEngine(), const_cast<void*>(blob.host_data_in(layout_)));
    return Port::In(s, static_cast<const float*>(blob.host_data()));
  }
  memory Out(SyncedMemory& blob) {
    if (adopts()) return memory(prim_, CpuEngine(), blob.mutable_host_data_in(layout_, true));
    return Port::Out(nullptr);
  }
  void Finish(dnnl::stream& s, SyncedMemory& blob) {
    if (adopts()) return;
    Port::Finish(s, static_cast<float*>(blob.mutable_host_data_in(nullptr, true)));
  }

 private:
  HostLayoutPtr layout_;  // null when the layouts agree (or when they cannot be adopted)
};

memory::desc Any(const memory::dims& dims) { return memory::desc(dims, dt::f32, tag::any); }

}  // namespace

// The forward pass's weights. Where oneDNN's layout holds exactly the weights (no padding), a
// net that does not train (keep) converts the weight blob's buffer to it once and reads it
// there on every later pass: no reorder per call, no second copy. Any net reads it there while
// it is in that layout; a reader that wants Caffe's layout (the solver, a snapshot, the
// backward pass) gets it converted back on access.
class WeightPort : public Port {
 public:
  WeightPort() = default;
  WeightPort(const memory::desc& user, const memory::desc& prim)
      : Port(user, prim), layout_(KeepableLayout()) {}
  /// Lets this port read weights that `other` keeps in its layout with one reorder from there
  /// (the backward-data pass of a net that keeps the forward layout).
  void AcceptFrom(const WeightPort& other) {
    if (!other.layout_ || (layout_ && layout_->Equals(*other.layout_)) || same()) return;
    source_ = other.layout_;
    from_source_ = dnnl::reorder(memory(other.prim_, CpuEngine(), DNNL_MEMORY_NONE),
                                 memory(prim_, CpuEngine(), DNNL_MEMORY_NONE));
    source_desc_ = other.prim_;
  }
  memory In(dnnl::stream& s, SyncedMemory& weights, bool keep) {
    const HostLayoutPtr& current = weights.host_layout();
    if (layout_ && (keep || (current && current->Equals(*layout_)))) {
      return memory(prim_, CpuEngine(), const_cast<void*>(weights.host_data_in(layout_)));
    }
    if (source_ && current && current->Equals(*source_)) {
      memory from(source_desc_, CpuEngine(), const_cast<void*>(weights.host_data_in(current)));
      memory prim(prim_, CpuEngine(), scratch_);
      from_source_.execute(s, from, prim);
      return prim;
    }
    return Port::In(s, static_cast<const float*>(weights.host_data()));
  }

 private:
  HostLayoutPtr layout_;  // oneDNN's layout when it holds exactly the weights
  HostLayoutPtr source_;  // another port's layout this one reorders from directly
  memory::desc source_desc_;
  dnnl::reorder from_source_;
};

struct DnnlConv::Impl {
  dnnl::stream stream{CpuEngine()};
  memory::desc src_md, dst_md, weights_md, bias_md;
  // Forward.
  dnnl::primitive fwd;
  std::string fwd_impl;
  ActivationPort fwd_src, fwd_dst;
  WeightPort fwd_weights;
  // Backward data.
  dnnl::primitive bwd_data;
  ActivationPort bd_diff_dst, bd_diff_src;
  WeightPort bd_weights;
  // Backward weights (+ bias): oneDNN overwrites, the layer accumulates.
  dnnl::primitive bwd_weights;
  ActivationPort bw_src, bw_diff_dst;
  Port bw_diff_weights;
  std::size_t weight_count = 0;  // floats of the weights (the accumulation temporary)
  // When oneDNN's diff-weights layout is not Caffe's: a reorder that adds into the layer's
  // weight diff (post-op sum), so no second weight-sized temporary is needed.
  dnnl::reorder accumulate_weights;
};

DnnlConv::DnnlConv(const DnnlConvGeometry& g) : g_(g), impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!Supported(g, &why)) throw ConfigError(StrCat("engine DNNL: ", why));
  try {
    Build();
  } catch (const dnnl::error& e) {
    throw ConfigError(
        StrCat("engine DNNL: oneDNN has no primitive for this layer on this CPU (", e.what(), ")"));
  }
}

void DnnlConv::Build() {
  const DnnlConvGeometry& g = g_;
  Impl& m = *impl_;
  const memory::dims src_dims = {g.num, g.in_channels, g.in_h, g.in_w};
  const memory::dims dst_dims = {g.num, g.out_channels, g.out_h, g.out_w};
  // Logical weight dims are (g,) o, i, h, w with o = dst channels; Caffe's Deconvolution
  // stores i before o.
  memory::dims weight_dims;
  tag weight_tag;
  if (g.group == 1) {
    weight_dims = {g.out_channels, g.in_channels, g.kernel_h, g.kernel_w};
    weight_tag = g.transposed ? tag::iohw : tag::oihw;
  } else {
    weight_dims = {g.group, g.out_channels / g.group, g.in_channels / g.group, g.kernel_h,
                   g.kernel_w};
    weight_tag = g.transposed ? tag::giohw : tag::goihw;
  }
  m.src_md = memory::desc(src_dims, dt::f32, tag::nchw);
  m.dst_md = memory::desc(dst_dims, dt::f32, tag::nchw);
  m.weights_md = memory::desc(weight_dims, dt::f32, weight_tag);
  m.bias_md = memory::desc({g.out_channels}, dt::f32, tag::x);
  const memory::dims strides = {g.stride_h, g.stride_w};
  const memory::dims dilates = {g.dilation_h - 1, g.dilation_w - 1};
  const memory::dims pad_l = {g.pad_h, g.pad_w};
  const memory::dims pad_r = {PadBottom(g), PadRight(g)};
  const memory::desc bias_any = g.bias ? Any({g.out_channels}) : memory::desc();
  auto& eng = CpuEngine();

  if (!g.transposed) {
    const algorithm alg =
        g.winograd ? algorithm::convolution_winograd : algorithm::convolution_direct;
    dnnl::convolution_forward::desc fd(prop_kind::forward_training, alg, Any(src_dims),
                                       Any(weight_dims), bias_any, Any(dst_dims), strides, dilates,
                                       pad_l, pad_r);
    dnnl::convolution_forward::primitive_desc fpd(fd, eng);
    m.fwd = dnnl::convolution_forward(fpd);
    m.fwd_impl = fpd.impl_info_str();
    m.fwd_src = ActivationPort(m.src_md, fpd.src_desc());
    m.fwd_weights = WeightPort(m.weights_md, fpd.weights_desc());
    m.fwd_dst = ActivationPort(m.dst_md, fpd.dst_desc());

    dnnl::convolution_backward_data::desc bdd(alg, Any(src_dims), Any(weight_dims), Any(dst_dims),
                                              strides, dilates, pad_l, pad_r);
    dnnl::convolution_backward_data::primitive_desc bdpd(bdd, eng, fpd);
    m.bwd_data = dnnl::convolution_backward_data(bdpd);
    m.bd_diff_dst = ActivationPort(m.dst_md, bdpd.diff_dst_desc());
    m.bd_weights = WeightPort(m.weights_md, bdpd.weights_desc());
    m.bd_weights.AcceptFrom(m.fwd_weights);
    m.bd_diff_src = ActivationPort(m.src_md, bdpd.diff_src_desc());

    auto bwd = g.bias ? dnnl::convolution_backward_weights::desc(
                            alg, Any(src_dims), Any(weight_dims), Any({g.out_channels}),
                            Any(dst_dims), strides, dilates, pad_l, pad_r)
                      : dnnl::convolution_backward_weights::desc(alg, Any(src_dims),
                                                                 Any(weight_dims), Any(dst_dims),
                                                                 strides, dilates, pad_l, pad_r);
    dnnl::convolution_backward_weights::primitive_desc bwpd(bwd, eng, fpd);
    m.bwd_weights = dnnl::convolution_backward_weights(bwpd);
    m.bw_src = ActivationPort(m.src_md, bwpd.src_desc());
    m.bw_diff_dst = ActivationPort(m.dst_md, bwpd.diff_dst_desc());
    m.bw_diff_weights = Port(m.weights_md, bwpd.diff_weights_desc());
  } else {
    const algorithm alg = algorithm::deconvolution_direct;
    dnnl::deconvolution_forward::desc fd(prop_kind::forward_training, alg, Any(src_dims),
                                         Any(weight_dims), bias_any, Any(dst_dims), strides,
                                         dilates, pad_l, pad_r);
    dnnl::deconvolution_forward::primitive_desc fpd(fd, eng);
    m.fwd = dnnl::deconvolution_forward(fpd);
    m.fwd_impl = fpd.impl_info_str();
    m.fwd_src = ActivationPort(m.src_md, fpd.src_desc());
    m.fwd_weights = WeightPort(m.weights_md, fpd.weights_desc());
    m.fwd_dst = ActivationPort(m.dst_md, fpd.dst_desc());

    dnnl::deconvolution_backward_data::desc bdd(alg, Any(src_dims), Any(weight_dims), Any(dst_dims),
                                                strides, dilates, pad_l, pad_r);
    dnnl::deconvolution_backward_data::primitive_desc bdpd(bdd, eng, fpd);
    m.bwd_data = dnnl::deconvolution_backward_data(bdpd);
    m.bd_diff_dst = ActivationPort(m.dst_md, bdpd.diff_dst_desc());
    m.bd_weights = WeightPort(m.weights_md, bdpd.weights_desc());
    m.bd_weights.AcceptFrom(m.fwd_weights);
    m.bd_diff_src = ActivationPort(m.src_md, bdpd.diff_src_desc());

    auto bwd = g.bias ? dnnl::deconvolution_backward_weights::desc(
                            alg, Any(src_dims), Any(weight_dims), Any({g.out_channels}),
                            Any(dst_dims), strides, dilates, pad_l, pad_r)
                      : dnnl::deconvolution_backward_weights::desc(alg, Any(src_dims),
                                                                   Any(weight_dims), Any(dst_dims),
                                                                   strides, dilates, pad_l, pad_r);
    dnnl::deconvolution_backward_weights::primitive_desc bwpd(bwd, eng, fpd);
    m.bwd_weights = dnnl::deconvolution_backward_weights(bwpd);
    m.bw_src = ActivationPort(m.src_md, bwpd.src_desc());
    m.bw_diff_dst = ActivationPort(m.dst_md, bwpd.diff_dst_desc());
    m.bw_diff_weights = Port(m.weights_md, bwpd.diff_weights_desc());
  }
  m.weight_count = m.weights_md.get_size() / sizeof(float);
  if (!m.bw_diff_weights.same()) {
    dnnl::post_ops sum;
    sum.append_sum(1.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(sum);
    m.accumulate_weights = dnnl::reorder(dnnl::reorder::primitive_desc(
        CpuEngine(), m.bw_diff_weights.prim_desc(), CpuEngine(), m.weights_md, attr));
  }
}

DnnlConv::~DnnlConv() = default;

std::string DnnlConv::ForwardImplementation() const { return impl_->fwd_impl; }

void DnnlConv::Forward(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& weights,
                       const float* bias, SyncedMemory& top) {
  Impl& m = *impl_;
  float* cursor = workspace.Get(static_cast<std::int64_t>(
      m.fwd_src.scratch_floats() + m.fwd_weights.scratch_floats() + m.fwd_dst.scratch_floats()));
  m.fwd_src.Bind(&cursor);
  m.fwd_weights.Bind(&cursor);
  m.fwd_dst.Bind(&cursor);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, m.fwd_src.In(m.stream, bottom)},
      {DNNL_ARG_WEIGHTS, m.fwd_weights.In(m.stream, weights, keep_weight_layout_)},
      {DNNL_ARG_DST, m.fwd_dst.Out(top)}};
  if (g_.bias) {
    args[DNNL_ARG_BIAS] = memory(m.bias_md, CpuEngine(), const_cast<float*>(bias));
  }
  m.fwd.execute(m.stream, args);
  m.fwd_dst.Finish(m.stream, top);
  m.stream.wait();
}

void DnnlConv::BackwardData(Workspace& workspace, SyncedMemory& top_diff, SyncedMemory& weights,
                            SyncedMemory& bottom_diff) {
  Impl& m = *impl_;
  float* cursor = workspace.Get(static_cast<std::int64_t>(m.bd_diff_dst.scratch_floats() +
                                                          m.bd_weights.scratch_floats() +
                                                          m.bd_diff_src.scratch_floats()));
  m.bd_diff_dst.Bind(&cursor);
  m.bd_weights.Bind(&cursor);
  m.bd_diff_src.Bind(&cursor);
  m.bwd_data.execute(m.stream, {{DNNL_ARG_DIFF_DST, m.bd_diff_dst.In(m.stream, top_diff)},
                                {DNNL_ARG_WEIGHTS, m.bd_weights.In(m.stream, weights, false)},
                                {DNNL_ARG_DIFF_SRC, m.bd_diff_src.Out(bottom_diff)}});
  m.bd_diff_src.Finish(m.stream, bottom_diff);
  m.stream.wait();
}

void DnnlConv::BackwardWeights(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& top_diff,
                               float* weight_diff, float* bias_diff) {
  Impl& m = *impl_;
  // oneDNN overwrites its outputs; the layer accumulates (iter_size, several bottoms). In
  // oneDNN's own layout the reorder back adds into weight_diff; in Caffe's layout the result
  // goes to a temporary that is added.
  const bool direct = m.bw_diff_weights.same();
  const std::size_t bias_count = g_.bias ? static_cast<std::size_t>(g_.out_channels) : 0;
  const std::size_t weight_temp = direct ? (m.weight_count + 15) / 16 * 16 : 0;
  float* cursor = workspace.Get(static_cast<std::int64_t>(
      m.bw_src.scratch_floats() + m.bw_diff_dst.scratch_floats() +
      m.bw_diff_weights.scratch_floats() + weight_temp + (bias_count + 15) / 16 * 16));
  m.bw_src.Bind(&cursor);
  m.bw_diff_dst.Bind(&cursor);
  m.bw_diff_weights.Bind(&cursor);
  float* dw = direct ? cursor : nullptr;
  float* db = cursor + weight_temp;
  memory diff_weights = m.bw_diff_weights.Out(dw);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, m.bw_src.In(m.stream, bottom)},
                                          {DNNL_ARG_DIFF_DST, m.bw_diff_dst.In(m.stream, top_diff)},
                                          {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
  if (g_.bias) args[DNNL_ARG_DIFF_BIAS] = memory(m.bias_md, CpuEngine(), db);
  m.bwd_weights.execute(m.stream, args);
  if (!direct) {
    memory user(m.weights_md, CpuEngine(), weight_diff);
    m.accumulate_weights.execute(m.stream, diff_weights, user);
  }
  m.stream.wait();
  if (direct) {
    for (std::size_t i = 0; i < m.weight_count; ++i) weight_diff[i] += dw[i];
  }
  if (bias_diff) {
    for (std::size_t i = 0; i < bias_count; ++i) bias_diff[i] += db[i];
  }
}

#else  // !FCN_HAVE_DNNL

struct DnnlConv::Impl {};

void DnnlConv::Build() {}
DnnlConv::DnnlConv(const DnnlConvGeometry& g) : g_(g) {
  throw ConfigError("engine DNNL: this build has no oneDNN");
}
DnnlConv::~DnnlConv() = default;
std::string DnnlConv::ForwardImplementation() const { return ""; }
void DnnlConv::Forward(Workspace&, SyncedMemory&, SyncedMemory&, const float*, SyncedMemory&) {}
void DnnlConv::BackwardData(Workspace&, SyncedMemory&, SyncedMemory&, SyncedMemory&) {}
void DnnlConv::BackwardWeights(Workspace&, SyncedMemory&, SyncedMemory&, float*, float*) {}

#endif  // FCN_HAVE_DNNL

}  // namespace fcn
