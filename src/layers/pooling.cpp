// SPDX-License-Identifier: BSD-2-Clause
// Pooling layer: parameter validation, Caffe's output-size rule, and the functor launches.
#include "layers/pooling.h"

#include "backend/for_each_index.h"
#include "fcn/layer_registry.h"

namespace fcn {

namespace {

// Size of one output axis: Caffe's rounding, then the rule that the last window must start
// inside the image or the leading pad (applied whenever any pad is non-zero, as in Caffe).
std::int64_t PooledSize(std::int64_t size, int kernel, int stride, int pad, bool any_pad,
                        PoolingParameter::RoundMode round_mode, const char* axis_name) {
  const std::int64_t span = size + 2 * pad - kernel;
  if (span < 0) {
    throw ConfigError(StrCat("pooling kernel ", kernel, " is larger than the padded input ",
                             size + 2 * pad, " (", axis_name, " ", size, " + 2 * pad ", pad, ")"));
  }
  std::int64_t pooled =
      round_mode == PoolingParameter::CEIL ? (span + stride - 1) / stride + 1 : span / stride + 1;
  if (any_pad && (pooled - 1) * stride >= size + pad) --pooled;
  return pooled;
}

}  // namespace

const LayerSchema& PoolingLayer::Schema() {
  // type, bottoms min..max, tops min..max (-1: any), in_place, auto_top, loss, params
  static const LayerSchema schema{
      "Pooling", 1, 1, 1, 2, false, false, false, {"pooling_param"}, CoordMapRule::kPooling};
  return schema;
}

FCN_REGISTER_LAYER(PoolingLayer)

PoolingLayer::PoolingLayer(const LayerParameter& param) : Layer(param) {
  const PoolingParameter& p = param.pooling_param();
  pool_ = p.pool();
  engine_ = p.engine();
  round_mode_ = p.round_mode();
  global_pooling_ = p.global_pooling();

  if (global_pooling_) {
    if (p.has_kernel_size() || p.has_kernel_h() || p.has_kernel_w()) {
      throw ConfigError(
          "global_pooling takes the kernel from the input: kernel_size, kernel_h and kernel_w "
          "must not be set");
    }
  } else {
    const bool has_hw = p.has_kernel_h() || p.has_kernel_w();
    if (p.has_kernel_size() && has_hw) {
      throw ConfigError("give kernel_size or kernel_h and kernel_w, not both");
    }
    if (!p.has_kernel_size() && !has_hw) {
      throw ConfigError("pooling needs kernel_size, or kernel_h and kernel_w, or global_pooling");
    }
    if (has_hw && !(p.has_kernel_h() && p.has_kernel_w())) {
      throw ConfigError("kernel_h and kernel_w must be given together");
    }
    kernel_h_ = static_cast<int>(p.has_kernel_size() ? p.kernel_size() : p.kernel_h());
    kernel_w_ = static_cast<int>(p.has_kernel_size() ? p.kernel_size() : p.kernel_w());
    if (kernel_h_ <= 0 || kernel_w_ <= 0) {
      throw ConfigError(StrCat("pooling kernel must be positive, got ", kernel_h_, "x", kernel_w_));
    }
  }

  if (p.has_pad() && (p.has_pad_h() || p.has_pad_w())) {
    throw ConfigError("give pad or pad_h and pad_w, not both");
  }
  if (p.has_pad_h() != p.has_pad_w()) {
    throw ConfigError("pad_h and pad_w must be given together");
  }
  pad_h_ = static_cast<int>(p.has_pad_h() ? p.pad_h() : p.pad());
  pad_w_ = static_cast<int>(p.has_pad_w() ? p.pad_w() : p.pad());

  if (p.has_stride() && (p.has_stride_h() || p.has_stride_w())) {
    throw ConfigError("give stride or stride_h and stride_w, not both");
  }
  if (p.has_stride_h() != p.has_stride_w()) {
    throw ConfigError("stride_h and stride_w must be given together");
  }
  stride_h_ = static_cast<int>(p.has_stride_h() ? p.stride_h() : p.stride());
  stride_w_ = static_cast<int>(p.has_stride_w() ? p.stride_w() : p.stride());
  if (stride_h_ <= 0 || stride_w_ <= 0) {
    throw ConfigError(StrCat("pooling stride must be positive, got ", stride_h_, "x", stride_w_));
  }

  if (global_pooling_ && (pad_h_ != 0 || pad_w_ != 0 || stride_h_ != 1 || stride_w_ != 1)) {
    throw ConfigError(StrCat("global_pooling requires pad 0 and stride 1, got pad ", pad_h_, "x",
                             pad_w_, " and stride ", stride_h_, "x", stride_w_));
  }
  const bool padded = pad_h_ != 0 || pad_w_ != 0;
  if (padded && pool_ != PoolingParameter::MAX && pool_ != PoolingParameter::AVE) {
    throw ConfigError(StrCat("padding is implemented only for MAX and AVE pooling, not ",
                             PoolingParameter::PoolMethod_Name(pool_)));
  }
  if (pool_ == PoolingParameter::STOCHASTIC) {
    throw ConfigError("STOCHASTIC pooling is not supported (use MAX or AVE)");
  }
  if (!global_pooling_ && (pad_h_ >= kernel_h_ || pad_w_ >= kernel_w_)) {
    throw ConfigError(StrCat("pooling pad must be smaller than the kernel: pad ", pad_h_, "x",
                             pad_w_, ", kernel ", kernel_h_, "x", kernel_w_));
  }
}

void PoolingLayer::LayerSetUp(const BlobVec&, const BlobVec& top) {
  if (top.size() > 1 && pool_ != PoolingParameter::MAX) {
    throw ConfigError(StrCat("the second top (the argmax mask) exists only for MAX pooling, not ",
                             PoolingParameter::PoolMethod_Name(pool_)));
  }
}

void PoolingLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& in = *bottom[0];
  if (in.num_axes() != 4) {
    throw ConfigError(StrCat("Pooling input must have 4 axes (N x C x H x W), got ", in.num_axes(),
                             " (shape ", in.shape_string(), ")"));
  }
  num_planes_ = in.shape(0) * in.shape(1);
  height_ = in.shape(2);
  width_ = in.shape(3);
  if (global_pooling_) {
    kernel_h_ = static_cast<int>(height_);
    kernel_w_ = static_cast<int>(width_);
  }
  const bool any_pad = pad_h_ != 0 || pad_w_ != 0;
  pooled_height_ =
      PooledSize(height_, kernel_h_, stride_h_, pad_h_, any_pad, round_mode_, "height");
  pooled_width_ = PooledSize(width_, kernel_w_, stride_w_, pad_w_, any_pad, round_mode_, "width");

  const std::vector<std::int64_t> shape{in.shape(0), in.shape(1), pooled_height_, pooled_width_};
  top[0]->Reshape(shape);
  if (top.size() > 1) {
    top[1]->Reshape(shape);
  } else if (pool_ == PoolingParameter::MAX && forward_only()) {
    argmax_.reset();  // only backward reads it
  } else if (pool_ == PoolingParameter::MAX) {
    // A window of at most 255 positions keeps each argmax as its position in the window, one
    // byte (kernels::StoreArgmax); larger windows keep the plane index.
    compact_argmax_ = kernel_h_ * kernel_w_ < kernels::kCompactArgmaxEmpty;
    const auto bytes = static_cast<std::size_t>(top[0]->count()) *
                       (compact_argmax_ ? sizeof(std::uint8_t) : sizeof(int));
    if (!argmax_ || argmax_->size() != bytes) argmax_ = std::make_unique<SyncedMemory>(bytes);
  }
}

kernels::PoolGeometry PoolingLayer::Geometry() const {
  return kernels::PoolGeometry{height_,   width_,    pooled_height_, pooled_width_, kernel_h_,
                               kernel_w_, stride_h_, stride_w_,      pad_h_,        pad_w_};
}

std::size_t PoolingLayer::internal_bytes() const {
  if (dnnl_ran_) return dnnl_->workspace_bytes();
  return argmax_ ? argmax_->size() : 0;
}

std::string PoolingLayer::engine_name() const { return dnnl_ran_ ? dnnl_->name() : ""; }

DnnlPool* PoolingLayer::DnnlFor(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  if (ctx.device() != Device::kCpu || pool_ != PoolingParameter::MAX || top.size() > 1 ||
      engine_ == PoolingParameter::CAFFE) {
    return nullptr;
  }
  const HostLayoutPtr& layout = bottom[0]->data_memory().host_layout();
  if (dnnl_unavailable_ || !DnnlPool::Reads(layout) || !DnnlPool::Supported(Geometry(), nullptr)) {
    return nullptr;
  }
  const std::int64_t num = bottom[0]->shape(0), channels = bottom[0]->shape(1);
  const bool training = !forward_only();
  if (dnnl_ && dnnl_->Matches(num, channels, Geometry(), layout, training)) return dnnl_.get();
  try {
    dnnl_ = std::make_unique<DnnlPool>(num, channels, Geometry(), layout, training);
  } catch (const ConfigError&) {
    dnnl_.reset();  // no oneDNN kernel for it on this CPU: the functors, from now on
    dnnl_unavailable_ = true;
  }
  return dnnl_.get();
}

void PoolingLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom, const BlobVec& top) {
  if (DnnlPool* dnnl = DnnlFor(ctx, bottom, top)) {
    dnnl->Forward(bottom[0]->data_memory(), top[0]->data_memory());
    dnnl_ran_ = true;
    return;
  }
  dnnl_ran_ = false;
  const float* in = bottom[0]->data(ctx);
  float* out = top[0]->mutable_data(ctx);
  const std::int64_t n = top[0]->count();
  if (pool_ == PoolingParameter::AVE) {
    ForEachIndex(ctx, n, kernels::AvePoolForward{in, out, Geometry()});
  } else if (top.size() > 1) {
    ForEachIndex(ctx, n,
                 kernels::MaxPoolForward<float>{in, out, top[1]->mutable_data(ctx), Geometry()});
  } else if (argmax_ == nullptr) {  // forward only
    ForEachIndex(ctx, n, kernels::MaxPoolForward<int>{in, out, nullptr, Geometry()});
  } else if (compact_argmax_) {
    auto* argmax = static_cast<std::uint8_t*>(argmax_->mutable_data(ctx));
    ForEachIndex(ctx, n, kernels::MaxPoolForward<std::uint8_t>{in, out, argmax, Geometry()});
  } else {
    auto* argmax = static_cast<int*>(argmax_->mutable_data(ctx));
    ForEachIndex(ctx, n, kernels::MaxPoolForward<int>{in, out, argmax, Geometry()});
  }
}

template <typename IndexT>
void PoolingLayer::MaxBackward(const ExecContext& ctx, const float* top_diff, const IndexT* argmax,
                               float* bottom_diff, std::int64_t n, std::int64_t planes) const {
  if (ctx.device() == Device::kCuda) {
    ForEachIndex(ctx, n,
                 kernels::MaxPoolBackward<IndexT>{top_diff, argmax, bottom_diff, Geometry()});
  } else {
    ForEachIndex(ctx, planes,
                 kernels::MaxPoolBackwardPlane<IndexT>{top_diff, argmax, bottom_diff, Geometry()},
                 n / planes);
  }
}

void PoolingLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  if (dnnl_ran_) {
    dnnl_->Backward(top[0]->diff_memory(), bottom[0]->diff_memory());
    return;
  }
  const float* top_diff = top[0]->diff(ctx);
  float* bottom_diff = bottom[0]->mutable_diff(ctx);
  const std::int64_t n = bottom[0]->count();
  if (pool_ == PoolingParameter::AVE) {
    ForEachIndex(ctx, n, kernels::AvePoolBackward{top_diff, bottom_diff, Geometry()});
  } else {
    // The CPU scatters per plane (MaxPoolBackwardPlane): one pass over the tops. A GPU gathers
    // per bottom element (MaxPoolBackward), without atomics; both give the same floats.
    const std::int64_t planes = bottom[0]->count(0, 2);
    if (top.size() > 1) {
      MaxBackward(ctx, top_diff, top[1]->data(ctx), bottom_diff, n, planes);
    } else {
      FCN_CHECK(argmax_ != nullptr, "Pooling ", name(),
                ": backward on a forward-only net (set_release_consumed_data)");
      if (compact_argmax_) {
        MaxBackward(ctx, top_diff, static_cast<const std::uint8_t*>(argmax_->data(ctx)),
                    bottom_diff, n, planes);
      } else {
        MaxBackward(ctx, top_diff, static_cast<const int*>(argmax_->data(ctx)), bottom_diff, n,
                    planes);
      }
    }
  }
}

}  // namespace fcn
