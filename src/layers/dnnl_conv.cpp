// SPDX-License-Identifier: BSD-2-Clause
// DnnlConv: oneDNN (2.x C++ API) convolution and deconvolution primitives behind the layer's
// Caffe layouts.
#include "layers/dnnl_conv.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fcn/common.h"
#include "layers/dnnl_layout.h"

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

int PadBottom(const math::ConvGeometry& g) {
  return g.transposed ? RightPad(g.out_h, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h)
                      : RightPad(g.in_h, g.out_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
}

int PadRight(const math::ConvGeometry& g) {
  return g.transposed ? RightPad(g.out_w, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w)
                      : RightPad(g.in_w, g.out_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
}

}  // namespace

bool DnnlConv::Available() { return FCN_HAVE_DNNL != 0; }

int DnnlConv::SlicesFor(const math::ConvGeometry& g, std::size_t weight_slice_bytes) {
  if (weight_slice_bytes == 0 || g.transposed || g.group != 1) return 1;
  const std::size_t per_channel = sizeof(float) * static_cast<std::size_t>(g.in_channels) *
                                  static_cast<std::size_t>(g.kernel_h) *
                                  static_cast<std::size_t>(g.kernel_w);
  const int channels = g.out_channels;
  if (per_channel * static_cast<std::size_t>(channels) <= weight_slice_bytes) return 1;
  // Slices of a multiple of 16 channels: the blocked layouts' channel block, so each slice
  // runs the same kernels as the whole layer would.
  for (int slices = 2; slices <= channels / 16; ++slices) {
    if (channels % slices != 0 || (channels / slices) % 16 != 0) continue;
    if (per_channel * static_cast<std::size_t>(channels / slices) <= weight_slice_bytes) {
      return slices;
    }
  }
  return 1;
}

bool DnnlConv::Supported(const math::ConvGeometry& g, bool winograd, std::string* why) {
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
  if (winograd && (g.transposed || g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 ||
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

using dnnl_glue::CpuEngine;
using dnnl_glue::DnnlLayout;
using dnnl_glue::RunReorder;

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
  /// Floats of scratch this port needs (0 when the layouts agree), rounded up to 64 bytes (a
  /// bf16 layout takes half a float per element).
  virtual std::size_t scratch_floats() const {
    return same() ? 0 : (prim_.get_size() + 63) / 64 * 16;
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
  /// the user's and holds exactly its elements (no padding), and kept layouts are on (keep).
  HostLayoutPtr KeepableLayout(bool keep) const {
    if (same() || prim_.get_size() != user_.get_size() || !keep) return nullptr;
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
  ActivationPort(const memory::desc& user, const memory::desc& prim, bool keep)
      : Port(user, prim), layout_(KeepableLayout(keep)) {}
  bool adopts() const { return same() || layout_ != nullptr; }
  std::size_t scratch_floats() const override { return adopts() ? 0 : Port::scratch_floats(); }

  memory In(dnnl::stream& s, SyncedMemory& blob) {
    if (adopts()) return memory(prim_, CpuEngine(), const_cast<void*>(blob.host_data_in(layout_)));
    // A blob that another oneDNN layer left in its layout (bf16 primitives read an fp32 blocked
    // top of the layer before) is reordered from there straight into this primitive's layout,
    // without converting the blob back to plain order first.
    const HostLayoutPtr& current = blob.host_layout();
    if (const auto* kept = dynamic_cast<const DnnlLayout*>(current.get())) {
      if (!from_kept_ || from_kept_desc_ != kept->blocked()) {
        from_kept_desc_ = kept->blocked();
        from_kept_ = dnnl::reorder(memory(from_kept_desc_, CpuEngine(), DNNL_MEMORY_NONE),
                                   memory(prim_, CpuEngine(), DNNL_MEMORY_NONE));
      }
      memory from(from_kept_desc_, CpuEngine(), const_cast<void*>(blob.host_data_in(current)));
      memory prim(prim_, CpuEngine(), scratch_);
      from_kept_.execute(s, from, prim);
      return prim;
    }
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
  HostLayoutPtr layout_;         // null when the layouts agree (or when they cannot be adopted)
  memory::desc from_kept_desc_;  // the blocked layout from_kept_ reads
  dnnl::reorder from_kept_;
};

memory::desc Any(const memory::dims& dims, dt type = dt::f32) {
  return memory::desc(dims, type, tag::any);
}

// Every primitive takes its scratchpad from the caller (scratchpad_mode::user): the layer
// carves it from the net's shared Workspace with the reorder scratch, so one buffer serves the
// layout reorders and the algorithms' own scratch (Winograd's transformed tiles: 280 MB for
// FCN-8s's conv2_2 at 500x500), where oneDNN's library mode would hold a second, global one.
dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// A reorder that adds into its destination (post-op sum): to += from, converting the layout.
dnnl::reorder AddingReorder(const memory::desc& from, const memory::desc& to) {
  dnnl::post_ops sum;
  sum.append_sum(1.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(sum);
  return dnnl::reorder(dnnl::reorder::primitive_desc(CpuEngine(), from, CpuEngine(), to, attr));
}

// A primitive's scratchpad: its layout and its size in floats (rounded up to 64 bytes).
struct Scratchpad {
  memory::desc md;
  std::size_t floats = 0;
  explicit Scratchpad(const memory::desc& d = memory::desc())
      : md(d), floats((d.get_size() + 63) / 64 * 16) {}
  /// Takes its floats from *cursor (advancing it); the memory the primitive gets.
  memory Bind(float** cursor) const {
    memory m(md, CpuEngine(), *cursor);
    *cursor += floats;
    return m;
  }
};

}  // namespace

// The forward pass's weights. Where oneDNN's layout holds exactly the weights (no padding), a
// net that does not train (keep) converts the weight blob's buffer to it once and reads it
// there on every later pass: no reorder per call, no second copy. Any net reads it there while
// it is in that layout; a reader that wants Caffe's layout (the solver, a snapshot, the
// backward pass) gets it converted back on access.
class WeightPort : public Port {
 public:
  WeightPort() = default;
  WeightPort(const memory::desc& user, const memory::desc& prim, bool keep)
      : Port(user, prim), layout_(KeepableLayout(keep)) {}
  /// Lets this port read weights that `other` keeps in its layout with one reorder from there
  /// (the backward-data pass of a net that keeps the forward layout).
  void AcceptFrom(const WeightPort& other) {
    if (!other.layout_ || (layout_ && layout_->Equals(*other.layout_)) || same()) return;
    source_ = other.layout_;
    from_source_ = dnnl::reorder(memory(other.prim_, CpuEngine(), DNNL_MEMORY_NONE),
                                 memory(prim_, CpuEngine(), DNNL_MEMORY_NONE));
    source_desc_ = other.prim_;
  }
  /// Scratch for In(s, weights, keep): none when it reads the weights where they are kept (a
  /// weight-sized workspace would otherwise be taken for nothing: 411 MB for FCN-8s's fc6).
  std::size_t scratch_floats(bool keep) const { return layout_ && keep ? 0 : scratch_floats(); }
  using Port::Bind;
  using Port::scratch_floats;
  void Bind(float** cursor, bool keep) {
    scratch_ = *cursor;
    *cursor += scratch_floats(keep);
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

namespace {

// What one geometry gives every primitive: the logical dims and the window.
struct Shapes {
  memory::dims src, dst, weights, bias;
  tag weight_tag = tag::undef;  // Caffe's weight layout
  memory::dims strides, dilates, pad_l, pad_r;
};

// The primitives' shapes: of the whole layer, or of one of `slices` slices of its output
// channels (SlicesFor: convolutions without groups only).
Shapes ShapesOf(const math::ConvGeometry& g, int slices) {
  Shapes d;
  const int out_channels = g.out_channels / slices;
  d.src = {g.num, g.in_channels, g.in_h, g.in_w};
  d.dst = {g.num, out_channels, g.out_h, g.out_w};
  // Logical weight dims are (g,) o, i, h, w with o = dst channels; Caffe's Deconvolution
  // stores i before o.
  if (g.group == 1) {
    d.weights = {out_channels, g.in_channels, g.kernel_h, g.kernel_w};
    d.weight_tag = g.transposed ? tag::iohw : tag::oihw;
  } else {
    d.weights = {g.group, g.out_channels / g.group, g.in_channels / g.group, g.kernel_h,
                 g.kernel_w};
    d.weight_tag = g.transposed ? tag::giohw : tag::goihw;
  }
  d.bias = {out_channels};
  d.strides = {g.stride_h, g.stride_w};
  d.dilates = {g.dilation_h - 1, g.dilation_w - 1};
  d.pad_l = {g.pad_h, g.pad_w};
  d.pad_r = {PadBottom(g), PadRight(g)};
  return d;
}

// The oneDNN primitives of a convolution and of a deconvolution, which take the same
// descriptors.
struct ConvolutionPrimitives {
  using Forward = dnnl::convolution_forward;
  using BackwardData = dnnl::convolution_backward_data;
  using BackwardWeights = dnnl::convolution_backward_weights;
};
struct DeconvolutionPrimitives {
  using Forward = dnnl::deconvolution_forward;
  using BackwardData = dnnl::deconvolution_backward_data;
  using BackwardWeights = dnnl::deconvolution_backward_weights;
};

}  // namespace

struct DnnlConv::Impl {
  dnnl::stream stream{CpuEngine()};
  bool keep_layouts = true;  // ports may adopt oneDNN's layouts
  // Output-channel slices (1: the whole layer). A sliced layer's primitives, descriptors and
  // weight and bias counts are one slice's; its top and bottom diff stay in plain order, so
  // the output-side ports never adopt a layout, and a slice's part of the top starts
  // dst_slice_floats after the previous one's.
  int slices = 1;
  std::size_t dst_slice_floats = 0;
  std::size_t bias_slice = 0;  // output channels per slice
  bool keep_outputs() const { return keep_layouts && slices == 1; }
  // What the primitives multiply: f32, or bf16 (sources, weights and gradients flowing in;
  // every output, and the bias, stays f32).
  dt compute = dt::f32;
  memory::desc src_md, dst_md, weights_md, bias_md;
  // Forward.
  dnnl::primitive fwd;
  Scratchpad fwd_scratch;
  std::string fwd_impl;
  ActivationPort fwd_src, fwd_dst;
  WeightPort fwd_weights;
  // Backward data.
  dnnl::primitive bwd_data;
  Scratchpad bd_scratch;
  ActivationPort bd_diff_dst, bd_diff_src;
  WeightPort bd_weights;
  // Backward weights (+ bias): oneDNN overwrites, the layer accumulates.
  dnnl::primitive bwd_weights;
  Scratchpad bw_scratch;
  ActivationPort bw_src, bw_diff_dst;
  Port bw_diff_weights;
  std::size_t weight_count = 0;  // floats of the weights, of one slice when sliced
  // Sliced backward data: each slice's bottom diff is written in the primitive's layout to a
  // temporary and reordered into the plain bottom diff, the first one copied, later ones added.
  dnnl::reorder diff_src_to_user, diff_src_add_to_user;
  // When oneDNN's diff-weights layout is not Caffe's: a reorder that adds into the layer's
  // weight diff (post-op sum), so no second weight-sized temporary is needed.
  dnnl::reorder accumulate_weights;

  /// The layouts of the layer's own buffers (plain NCHW, Caffe's weights).
  void DescribeUserLayouts(const Shapes& d);
  /// The forward primitive and its ports; returns its descriptor, the hint of the others.
  template <class P>
  typename P::Forward::primitive_desc BuildForward(const Shapes& d, algorithm alg, bool bias);
  template <class P>
  void BuildBackwardData(const Shapes& d, algorithm alg,
                         const typename P::Forward::primitive_desc& hint);
  template <class P>
  void BuildBackwardWeights(const Shapes& d, algorithm alg, bool bias,
                            const typename P::Forward::primitive_desc& hint);
  template <class P>
  void BuildPrimitives(const Shapes& d, algorithm alg, bool bias) {
    const auto hint = BuildForward<P>(d, alg, bias);
    BuildBackwardData<P>(d, alg, hint);
    BuildBackwardWeights<P>(d, alg, bias, hint);
  }
  /// The reorder that adds oneDNN's weight gradient into Caffe's layout, where they differ.
  void BuildWeightAccumulation();
};

void DnnlConv::Impl::DescribeUserLayouts(const Shapes& d) {
  src_md = memory::desc(d.src, dt::f32, tag::nchw);
  // One slice of a sliced layer's top: its channels within the whole plain NCHW tensor.
  const memory::dim plane = d.dst[2] * d.dst[3];
  dst_md =
      memory::desc(d.dst, dt::f32, memory::dims{d.dst[1] * slices * plane, plane, d.dst[3], 1});
  dst_slice_floats = static_cast<std::size_t>(d.dst[1] * plane);
  bias_slice = static_cast<std::size_t>(d.dst[1]);
  weights_md = memory::desc(d.weights, dt::f32, d.weight_tag);
  bias_md = memory::desc(d.bias, dt::f32, tag::x);
  weight_count = weights_md.get_size() / sizeof(float);
}

template <class P>
typename P::Forward::primitive_desc DnnlConv::Impl::BuildForward(const Shapes& d, algorithm alg,
                                                                 bool bias) {
  const memory::desc bias_any = bias ? Any(d.bias) : memory::desc();
  typename P::Forward::desc desc(prop_kind::forward_training, alg, Any(d.src, compute),
                                 Any(d.weights, compute), bias_any, Any(d.dst), d.strides,
                                 d.dilates, d.pad_l, d.pad_r);
  typename P::Forward::primitive_desc pd(desc, UserScratchpad(), CpuEngine());
  fwd = typename P::Forward(pd);
  fwd_scratch = Scratchpad(pd.scratchpad_desc());
  fwd_impl = pd.impl_info_str();
  fwd_src = ActivationPort(src_md, pd.src_desc(), keep_layouts);
  fwd_weights = WeightPort(weights_md, pd.weights_desc(), keep_outputs());
  fwd_dst = ActivationPort(dst_md, pd.dst_desc(), keep_outputs());
  return pd;
}

template <class P>
void DnnlConv::Impl::BuildBackwardData(const Shapes& d, algorithm alg,
                                       const typename P::Forward::primitive_desc& hint) {
  typename P::BackwardData::desc desc(alg, Any(d.src), Any(d.weights, compute), Any(d.dst, compute),
                                      d.strides, d.dilates, d.pad_l, d.pad_r);
  typename P::BackwardData::primitive_desc pd(desc, UserScratchpad(), CpuEngine(), hint);
  bwd_data = typename P::BackwardData(pd);
  bd_scratch = Scratchpad(pd.scratchpad_desc());
  bd_diff_dst = ActivationPort(dst_md, pd.diff_dst_desc(), keep_outputs());
  bd_weights = WeightPort(weights_md, pd.weights_desc(), keep_outputs());
  bd_weights.AcceptFrom(fwd_weights);
  bd_diff_src = ActivationPort(src_md, pd.diff_src_desc(), keep_outputs());
  if (slices > 1) {
    diff_src_to_user = dnnl::reorder(memory(pd.diff_src_desc(), CpuEngine(), DNNL_MEMORY_NONE),
                                     memory(src_md, CpuEngine(), DNNL_MEMORY_NONE));
    diff_src_add_to_user = AddingReorder(pd.diff_src_desc(), src_md);
  }
}

template <class P>
void DnnlConv::Impl::BuildBackwardWeights(const Shapes& d, algorithm alg, bool bias,
                                          const typename P::Forward::primitive_desc& hint) {
  using Desc = typename P::BackwardWeights::desc;
  const Desc desc = bias ? Desc(alg, Any(d.src, compute), Any(d.weights), Any(d.bias),
                                Any(d.dst, compute), d.strides, d.dilates, d.pad_l, d.pad_r)
                         : Desc(alg, Any(d.src, compute), Any(d.weights), Any(d.dst, compute),
                                d.strides, d.dilates, d.pad_l, d.pad_r);
  typename P::BackwardWeights::primitive_desc pd(desc, UserScratchpad(), CpuEngine(), hint);
  bwd_weights = typename P::BackwardWeights(pd);
  bw_scratch = Scratchpad(pd.scratchpad_desc());
  bw_src = ActivationPort(src_md, pd.src_desc(), keep_layouts);
  bw_diff_dst = ActivationPort(dst_md, pd.diff_dst_desc(), keep_outputs());
  bw_diff_weights = Port(weights_md, pd.diff_weights_desc());
}

void DnnlConv::Impl::BuildWeightAccumulation() {
  if (bw_diff_weights.same()) return;
  accumulate_weights = AddingReorder(bw_diff_weights.prim_desc(), weights_md);
}

DnnlConv::DnnlConv(const math::ConvGeometry& g, bool winograd, bool keep_layouts, bool bf16,
                   std::size_t weight_slice_bytes)
    : g_(g), winograd_(winograd), bf16_(bf16), impl_(std::make_unique<Impl>()) {
  std::string why;
  if (!Supported(g, winograd, &why)) throw ConfigError(StrCat("engine DNNL: ", why));
  if (bf16 && winograd) {
    throw ConfigError(
        "engine DNNL_WINOGRAD: oneDNN has no bf16 Winograd kernels (precision bf16 runs the "
        "direct algorithm: engine DNNL or DEFAULT)");
  }
  Impl& m = *impl_;
  m.keep_layouts = keep_layouts;
  m.compute = bf16 ? dt::bf16 : dt::f32;
  m.slices = SlicesFor(g, weight_slice_bytes);
  try {
    const Shapes d = ShapesOf(g, m.slices);
    m.DescribeUserLayouts(d);
    if (!g.transposed) {
      m.BuildPrimitives<ConvolutionPrimitives>(
          d, winograd ? algorithm::convolution_winograd : algorithm::convolution_direct, g.bias);
    } else {
      m.BuildPrimitives<DeconvolutionPrimitives>(d, algorithm::deconvolution_direct, g.bias);
    }
    m.BuildWeightAccumulation();
  } catch (const dnnl::error& e) {
    throw ConfigError(StrCat("engine ", winograd ? "DNNL_WINOGRAD" : "DNNL", ": oneDNN has no ",
                             bf16 ? "bf16 " : "", "primitive for this layer on this CPU (",
                             e.what(), ")"));
  }
}

DnnlConv::~DnnlConv() = default;

std::string DnnlConv::ForwardImplementation() const { return impl_->fwd_impl; }

std::size_t DnnlConv::ForwardScratchpadBytes() const { return impl_->fwd_scratch.md.get_size(); }

int DnnlConv::slices() const { return impl_->slices; }

void DnnlConv::ForwardPair(Workspace& workspace, SyncedMemory& bottom, SyncedMemory& weights,
                           const float* bias, SyncedMemory& top) {
  Impl& m = *impl_;
  const bool keep_weights = keep_weight_layout_ && m.slices == 1;
  float* cursor = workspace.Get(static_cast<std::int64_t>(
      m.fwd_src.scratch_floats() + m.fwd_weights.scratch_floats(keep_weights) +
      m.fwd_dst.scratch_floats() + m.fwd_scratch.floats));
  m.fwd_src.Bind(&cursor);
  m.fwd_weights.Bind(&cursor, keep_weights);
  m.fwd_dst.Bind(&cursor);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, m.fwd_src.In(m.stream, bottom)},
                                          {DNNL_ARG_SCRATCHPAD, m.fwd_scratch.Bind(&cursor)}};
  if (m.slices == 1) {
    args[DNNL_ARG_WEIGHTS] = m.fwd_weights.In(m.stream, weights, keep_weights);
    args[DNNL_ARG_DST] = m.fwd_dst.Out(top);
    if (g_.bias) args[DNNL_ARG_BIAS] = memory(m.bias_md, CpuEngine(), const_cast<float*>(bias));
    m.fwd.execute(m.stream, args);
    m.fwd_dst.Finish(m.stream, top);
  } else {
    // Each slice: its weights reordered into the one slice-sized scratch, its channels of the
    // (plain) top.
    const auto* w = static_cast<const float*>(weights.host_data());
    auto* out = static_cast<float*>(top.mutable_host_data_in(nullptr, /*discard=*/true));
    for (std::size_t s = 0; s < static_cast<std::size_t>(m.slices); ++s) {
      float* out_s = out + s * m.dst_slice_floats;
      args[DNNL_ARG_WEIGHTS] = m.fwd_weights.Port::In(m.stream, w + s * m.weight_count);
      args[DNNL_ARG_DST] = m.fwd_dst.Port::Out(out_s);
      if (g_.bias) {
        args[DNNL_ARG_BIAS] =
            memory(m.bias_md, CpuEngine(), const_cast<float*>(bias) + s * m.bias_slice);
      }
      m.fwd.execute(m.stream, args);
      m.fwd_dst.Port::Finish(m.stream, out_s);
    }
  }
  m.stream.wait();
}

void DnnlConv::BackwardDataPair(Workspace& workspace, SyncedMemory& top_diff, SyncedMemory& weights,
                                SyncedMemory& bottom_diff) {
  Impl& m = *impl_;
  // A sliced layer's slices write to a temporary in the primitive's layout (see Impl), in
  // place of the port's scratch.
  const std::size_t result_floats = m.slices == 1
                                        ? m.bd_diff_src.scratch_floats()
                                        : (m.bd_diff_src.prim_desc().get_size() + 63) / 64 * 16;
  float* cursor = workspace.Get(static_cast<std::int64_t>(m.bd_diff_dst.scratch_floats() +
                                                          m.bd_weights.scratch_floats() +
                                                          result_floats + m.bd_scratch.floats));
  m.bd_diff_dst.Bind(&cursor);
  m.bd_weights.Bind(&cursor);
  float* result = cursor;
  m.bd_diff_src.Bind(&cursor);  // the same floats: the port's scratch when not sliced
  cursor = result + result_floats;
  memory scratchpad = m.bd_scratch.Bind(&cursor);
  if (m.slices == 1) {
    m.bwd_data.execute(m.stream, {{DNNL_ARG_DIFF_DST, m.bd_diff_dst.In(m.stream, top_diff)},
                                  {DNNL_ARG_WEIGHTS, m.bd_weights.In(m.stream, weights, false)},
                                  {DNNL_ARG_DIFF_SRC, m.bd_diff_src.Out(bottom_diff)},
                                  {DNNL_ARG_SCRATCHPAD, scratchpad}});
    m.bd_diff_src.Finish(m.stream, bottom_diff);
  } else {
    const auto* dd = static_cast<const float*>(top_diff.host_data());
    const auto* w = static_cast<const float*>(weights.host_data());
    memory user(m.src_md, CpuEngine(), bottom_diff.mutable_host_data_in(nullptr, /*discard=*/true));
    memory slice(m.bd_diff_src.prim_desc(), CpuEngine(), result);
    for (std::size_t s = 0; s < static_cast<std::size_t>(m.slices); ++s) {
      m.bwd_data.execute(
          m.stream,
          {{DNNL_ARG_DIFF_DST, m.bd_diff_dst.Port::In(m.stream, dd + s * m.dst_slice_floats)},
           {DNNL_ARG_WEIGHTS, m.bd_weights.Port::In(m.stream, w + s * m.weight_count)},
           {DNNL_ARG_DIFF_SRC, slice},
           {DNNL_ARG_SCRATCHPAD, scratchpad}});
      (s == 0 ? m.diff_src_to_user : m.diff_src_add_to_user).execute(m.stream, slice, user);
    }
  }
  m.stream.wait();
}

void DnnlConv::BackwardWeightsPair(Workspace& workspace, SyncedMemory& bottom,
                                   SyncedMemory& top_diff, float* weight_diff, float* bias_diff) {
  Impl& m = *impl_;
  // oneDNN overwrites its outputs; the layer accumulates (iter_size, several bottoms). In
  // oneDNN's own layout the reorder back adds into weight_diff; in Caffe's layout the result
  // goes to a temporary that is added. A sliced layer does this slice by slice, its scratch
  // and temporary one slice's.
  const bool direct = m.bw_diff_weights.same();
  const std::size_t bias_count = g_.bias ? static_cast<std::size_t>(g_.out_channels) : 0;
  const std::size_t weight_temp = direct ? (m.weight_count + 15) / 16 * 16 : 0;
  float* cursor = workspace.Get(
      static_cast<std::int64_t>(m.bw_src.scratch_floats() + m.bw_diff_dst.scratch_floats() +
                                m.bw_diff_weights.scratch_floats() + weight_temp +
                                (bias_count + 15) / 16 * 16 + m.bw_scratch.floats));
  m.bw_src.Bind(&cursor);
  m.bw_diff_dst.Bind(&cursor);
  m.bw_diff_weights.Bind(&cursor);
  float* dw = direct ? cursor : nullptr;
  float* db = cursor + weight_temp;
  cursor += weight_temp + (bias_count + 15) / 16 * 16;
  memory diff_weights = m.bw_diff_weights.Out(dw);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, m.bw_src.In(m.stream, bottom)},
                                          {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                                          {DNNL_ARG_SCRATCHPAD, m.bw_scratch.Bind(&cursor)}};
  const float* dd = m.slices > 1 ? static_cast<const float*>(top_diff.host_data()) : nullptr;
  for (std::size_t s = 0; s < static_cast<std::size_t>(m.slices); ++s) {
    args[DNNL_ARG_DIFF_DST] = m.slices == 1
                                  ? m.bw_diff_dst.In(m.stream, top_diff)
                                  : m.bw_diff_dst.Port::In(m.stream, dd + s * m.dst_slice_floats);
    if (g_.bias) args[DNNL_ARG_DIFF_BIAS] = memory(m.bias_md, CpuEngine(), db + s * m.bias_slice);
    m.bwd_weights.execute(m.stream, args);
    float* weight_diff_s = weight_diff + s * m.weight_count;
    if (!direct) {
      memory user(m.weights_md, CpuEngine(), weight_diff_s);
      m.accumulate_weights.execute(m.stream, diff_weights, user);
    }
    m.stream.wait();
    if (direct) {
      for (std::size_t i = 0; i < m.weight_count; ++i) weight_diff_s[i] += dw[i];
    }
  }
  if (bias_diff) {
    for (std::size_t i = 0; i < bias_count; ++i) bias_diff[i] += db[i];
  }
}

#else  // !FCN_HAVE_DNNL

struct DnnlConv::Impl {};

DnnlConv::DnnlConv(const math::ConvGeometry& g, bool winograd, bool /*keep_layouts*/, bool bf16,
                   std::size_t /*weight_slice_bytes*/)
    : g_(g), winograd_(winograd), bf16_(bf16) {
  throw ConfigError("engine DNNL: this build has no oneDNN");
}
DnnlConv::~DnnlConv() = default;
std::string DnnlConv::ForwardImplementation() const { return ""; }
std::size_t DnnlConv::ForwardScratchpadBytes() const { return 0; }
int DnnlConv::slices() const { return 1; }
void DnnlConv::ForwardPair(Workspace&, SyncedMemory&, SyncedMemory&, const float*, SyncedMemory&) {}
void DnnlConv::BackwardDataPair(Workspace&, SyncedMemory&, SyncedMemory&, SyncedMemory&) {}
void DnnlConv::BackwardWeightsPair(Workspace&, SyncedMemory&, SyncedMemory&, float*, float*) {}

#endif  // FCN_HAVE_DNNL

std::string DnnlConv::name() const {
  const int n = slices();
  return StrCat("DNNL (", winograd_ ? "winograd" : "direct", bf16_ ? ", bf16" : "",
                n > 1 ? StrCat(", ", n, " slices") : std::string(), ": ", ForwardImplementation(),
                ")");
}

void DnnlConv::Forward(const ExecContext& ctx, const BlobVec& bottom, const ConvParams& p,
                       const BlobVec& top) {
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    ForwardPair(ctx.workspace(), bottom[i]->data_memory(), p.weights->data_memory(), p.bias,
                top[i]->data_memory());
  }
}

void DnnlConv::Backward(const ExecContext& ctx, const BlobVec& top,
                        const std::vector<bool>& propagate_down, const ConvParams& p,
                        const BlobVec& bottom) {
  for (std::size_t i = 0; i < top.size(); ++i) {
    // oneDNN takes the buffers themselves (it may keep them in its own layout); the weight
    // pass runs first, so the top diff is converted at most once for both passes. oneDNN
    // computes both gradients; a frozen weight (lr_mult 0) still skips the accumulation.
    if (p.weight_diff) {
      BackwardWeightsPair(ctx.workspace(), bottom[i]->data_memory(), top[i]->diff_memory(),
                          p.weight_diff, p.bias_diff);
    } else if (p.bias_diff) {
      BackwardBiasOnly(top[i]->diff(ctx), p.bias_diff);
    }
    if (i < propagate_down.size() && propagate_down[i]) {
      BackwardDataPair(ctx.workspace(), top[i]->diff_memory(), p.weights->data_memory(),
                       bottom[i]->diff_memory());
    }
  }
}

void DnnlConv::BackwardBiasOnly(const float* top_diff, float* bias_diff) const {
  const std::int64_t spatial = static_cast<std::int64_t>(g_.out_h) * g_.out_w;
  const std::int64_t top_dim = spatial * g_.out_channels;
  for (std::int64_t n = 0; n < g_.num; ++n) {
    for (int m = 0; m < g_.out_channels; ++m) {
      const float* row = top_diff + n * top_dim + static_cast<std::int64_t>(m) * spatial;
      double sum = 0;
      for (std::int64_t i = 0; i < spatial; ++i) sum += row[i];
      bias_diff[m] += static_cast<float>(sum);
    }
  }
}

}  // namespace fcn
