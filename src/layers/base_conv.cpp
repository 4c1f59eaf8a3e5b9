// SPDX-License-Identifier: BSD-2-Clause
// BaseConvolutionLayer: convolution_param parsing, weights, shapes and the per-image GEMMs.
#include "layers/base_conv.h"

#include <climits>
#include <cstdlib>
#include <string>

#include "backend/for_each_index.h"
#include "fcn/filler.h"
#include "math/blas.h"
#include "math/im2col_kernels.h"

namespace fcn {

namespace {

int CheckedInt(std::uint32_t value, const char* field) {
  if (value > static_cast<std::uint32_t>(INT_MAX)) {
    throw ConfigError(StrCat("convolution_param.", field, " ", value, " is too large"));
  }
  return static_cast<int>(value);
}

// Repeated values of a field must all be positive.
void RequirePositive(const google::protobuf::RepeatedField<std::uint32_t>& values,
                     const char* field) {
  for (int i = 0; i < values.size(); ++i) {
    if (values.Get(i) == 0) {
      throw ConfigError(StrCat("convolution_param.", field, " must be > 0, got 0 (value ", i + 1,
                               " of ", values.size(), ")"));
    }
  }
}

// A repeated field given 0 times (default), once (every axis) or once per spatial axis.
std::vector<int> PerAxis(const google::protobuf::RepeatedField<std::uint32_t>& values,
                         const char* field, int num_spatial_axes, int default_value) {
  const int given = values.size();
  if (given != 0 && given != 1 && given != num_spatial_axes) {
    throw ConfigError(StrCat("convolution_param.", field,
                             " must be given once or once per spatial axis (", num_spatial_axes,
                             "), got ", given, " values"));
  }
  std::vector<int> result(static_cast<std::size_t>(num_spatial_axes), default_value);
  for (int a = 0; a < num_spatial_axes && given > 0; ++a) {
    result[static_cast<std::size_t>(a)] = CheckedInt(values.Get(given == 1 ? 0 : a), field);
  }
  return result;
}

std::string ShapeOf(const std::vector<int>& dims) {
  std::vector<std::int64_t> shape(dims.begin(), dims.end());
  return ShapeString(shape);
}

std::int64_t Product(const std::vector<int>& dims) {
  std::int64_t p = 1;
  for (int d : dims) p *= d;
  return p;
}

}  // namespace

BaseConvolutionLayer::BaseConvolutionLayer(const LayerParameter& param, bool transposed)
    : Layer(param), transposed_(transposed) {
  const ConvolutionParameter& p = param.convolution_param();
  if (p.num_output() == 0) {
    throw ConfigError("convolution_param.num_output must be > 0 (it is 0 or missing)");
  }
  num_output_ = CheckedInt(p.num_output(), "num_output");
  if (p.group() == 0) throw ConfigError("convolution_param.group must be > 0, got 0");
  group_ = CheckedInt(p.group(), "group");
  if (num_output_ % group_ != 0) {
    throw ConfigError(StrCat("convolution_param.num_output ", num_output_,
                             " is not divisible by group ", group_));
  }
  bias_term_ = p.bias_term();
  force_nd_im2col_ = p.force_nd_im2col();
  switch (p.engine()) {
    case ConvolutionParameter::CAFFE:
      engine_ = Engine::kCaffe;
      break;
    case ConvolutionParameter::DNNL:
      engine_ = Engine::kDnnl;
      break;
    case ConvolutionParameter::DNNL_WINOGRAD:
      engine_ = Engine::kDnnlWinograd;
      break;
    default:  // DEFAULT, and CUDNN on the CPU
      engine_ = Engine::kDefault;
      break;
  }
  if (engine_ == Engine::kDefault) {
    const char* env = std::getenv("FCN_CONV_ENGINE");
    const std::string choice = env ? env : "";
    if (choice == "CAFFE" || choice == "caffe") {
      engine_ = Engine::kCaffe;
    } else if (choice == "DNNL" || choice == "dnnl") {
      engine_ = Engine::kDnnl;
    } else if (!choice.empty() && choice != "DEFAULT" && choice != "default") {
      throw ConfigError(StrCat("FCN_CONV_ENGINE=", choice, ": expected CAFFE, DNNL or DEFAULT"));
    }
  }
  if ((engine_ == Engine::kDnnl || engine_ == Engine::kDnnlWinograd) && !DnnlConv::Available()) {
    throw ConfigError(
        "convolution_param.engine DNNL: this build has no oneDNN (FCN_USE_DNNL=OFF or "
        "libdnnl-dev missing)");
  }
  axis_param_ = p.axis();

  const bool kernel_hw = p.has_kernel_h() || p.has_kernel_w();
  if (kernel_hw && p.kernel_size_size() > 0) {
    throw ConfigError("convolution_param: give either kernel_size or kernel_h/kernel_w, not both");
  }
  if (kernel_hw && !(p.has_kernel_h() && p.has_kernel_w())) {
    throw ConfigError("convolution_param: kernel_h and kernel_w must be given together");
  }
  if (!kernel_hw && p.kernel_size_size() == 0) {
    throw ConfigError("convolution_param: kernel_size (or kernel_h and kernel_w) is required");
  }
  if (kernel_hw && (p.kernel_h() == 0 || p.kernel_w() == 0)) {
    throw ConfigError(StrCat("convolution_param: kernel_h and kernel_w must be > 0, got ",
                             p.kernel_h(), " and ", p.kernel_w()));
  }
  RequirePositive(p.kernel_size(), "kernel_size");

  const bool stride_hw = p.has_stride_h() || p.has_stride_w();
  if (stride_hw && p.stride_size() > 0) {
    throw ConfigError("convolution_param: give either stride or stride_h/stride_w, not both");
  }
  if (stride_hw && !(p.has_stride_h() && p.has_stride_w())) {
    throw ConfigError("convolution_param: stride_h and stride_w must be given together");
  }
  if (stride_hw && (p.stride_h() == 0 || p.stride_w() == 0)) {
    throw ConfigError(StrCat("convolution_param: stride_h and stride_w must be > 0, got ",
                             p.stride_h(), " and ", p.stride_w()));
  }
  RequirePositive(p.stride(), "stride");

  if ((p.has_pad_h() || p.has_pad_w()) && p.pad_size() > 0) {
    throw ConfigError("convolution_param: give either pad or pad_h/pad_w, not both");
  }
  RequirePositive(p.dilation(), "dilation");

  if (p.has_weight_filler()) ValidateFiller(p.weight_filler());
  if (p.has_bias_filler()) ValidateFiller(p.bias_filler());
}

void BaseConvolutionLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  if (top.size() != bottom.size()) {
    throw ConfigError(StrCat(type(), " needs one top per bottom: ", bottom.size(), " bottom(s), ",
                             top.size(), " top(s)"));
  }
  for (std::size_t t = 0; t < top.size(); ++t) {
    for (std::size_t b = 0; b < bottom.size(); ++b) {
      if (top[t] == bottom[b]) {
        throw ConfigError(StrCat(type(), " cannot run in place (top ", t, " is bottom ", b, ")"));
      }
    }
  }
  const Blob& first = *bottom[0];
  channel_axis_ = first.CanonicalAxisIndex(axis_param_);
  num_spatial_axes_ = first.num_axes() - channel_axis_ - 1;
  if (num_spatial_axes_ < 1) {
    throw ConfigError(StrCat("convolution needs at least one spatial axis after the channel axis ",
                             channel_axis_, "; bottom shape is ", first.shape_string()));
  }
  ResolveGeometry(first);

  channels_ = static_cast<int>(first.shape(channel_axis_));
  if (channels_ < 1) {
    throw ConfigError(StrCat("bottom has no channels on axis ", channel_axis_, " (shape ",
                             first.shape_string(), ")"));
  }
  if (channels_ % group_ != 0) {
    throw ConfigError(StrCat("input channels ", channels_, " (axis ", channel_axis_, " of ",
                             first.shape_string(), ") are not divisible by group ", group_));
  }
  conv_in_channels_ = transposed_ ? num_output_ : channels_;
  conv_out_channels_ = transposed_ ? channels_ : num_output_;
  // A kernel larger than the padded input is refused before its weights take memory.
  for (int a = 0; a < num_spatial_axes_ && !transposed_; ++a) {
    const auto ua = static_cast<std::size_t>(a);
    const std::int64_t in = first.shape(channel_axis_ + 1 + a);
    const std::int64_t extent = static_cast<std::int64_t>(dilation_[ua]) * (kernel_[ua] - 1) + 1;
    if (in >= 1 && in + 2 * static_cast<std::int64_t>(pad_[ua]) < extent) {  // empty: Reshape
      throw ConfigError(StrCat("output would be empty on spatial axis ", a, ": input ", in,
                               " + 2 * pad ", pad_[ua], " < dilated kernel extent ", extent));
    }
  }
  kernel_dim_ = static_cast<int>(conv_in_channels_ / group_ * Product(kernel_));
  weight_offset_ = static_cast<std::int64_t>(conv_out_channels_) * kernel_dim_ / group_;
  SetUpBlobs();
  param_propagate_down_.resize(blobs_.size(), true);
}

void BaseConvolutionLayer::ResolveGeometry(const Blob& bottom) {
  const ConvolutionParameter& p = layer_param_.convolution_param();
  const int n = num_spatial_axes_;
  const auto require_2d = [&](const char* fields) {
    if (n != 2) {
      throw ConfigError(StrCat("convolution_param.", fields,
                               " apply only to 2-D convolution; bottom ", bottom.shape_string(),
                               " has ", n, " spatial axes after channel axis ", channel_axis_));
    }
  };
  if (p.has_kernel_h()) {
    require_2d("kernel_h/kernel_w");
    kernel_ = {CheckedInt(p.kernel_h(), "kernel_h"), CheckedInt(p.kernel_w(), "kernel_w")};
  } else {
    kernel_ = PerAxis(p.kernel_size(), "kernel_size", n, 1);
  }
  if (p.has_stride_h()) {
    require_2d("stride_h/stride_w");
    stride_ = {CheckedInt(p.stride_h(), "stride_h"), CheckedInt(p.stride_w(), "stride_w")};
  } else {
    stride_ = PerAxis(p.stride(), "stride", n, 1);
  }
  if (p.has_pad_h() || p.has_pad_w()) {
    require_2d("pad_h/pad_w");
    pad_ = {CheckedInt(p.pad_h(), "pad_h"), CheckedInt(p.pad_w(), "pad_w")};
  } else {
    pad_ = PerAxis(p.pad(), "pad", n, 0);
  }
  dilation_ = PerAxis(p.dilation(), "dilation", n, 1);

  is_1x1_ = true;
  for (std::size_t a = 0; a < kernel_.size(); ++a) {
    is_1x1_ = is_1x1_ && kernel_[a] == 1 && stride_[a] == 1 && pad_[a] == 0;
  }
  use_nd_ = force_nd_im2col_ || n != 2;
}

void BaseConvolutionLayer::SetUpBlobs() {
  std::vector<std::int64_t> weight_shape = {conv_out_channels_, conv_in_channels_ / group_};
  for (int k : kernel_) weight_shape.push_back(k);
  const std::vector<std::int64_t> bias_shape = {num_output_};
  const std::size_t expected = bias_term_ ? 2 : 1;
  const ConvolutionParameter& p = layer_param_.convolution_param();

  if (blobs_.empty()) {
    blobs_.push_back(std::make_shared<Blob>(weight_shape));
    FillBlob(p.weight_filler(), blobs_[0].get(), rng());
    if (bias_term_) {
      blobs_.push_back(std::make_shared<Blob>(bias_shape));
      FillBlob(p.bias_filler(), blobs_[1].get(), rng());
    }
    return;
  }
  // Weights came with the parameter: keep them, but they must fit.
  if (blobs_.size() != expected) {
    throw ConfigError(
        StrCat("expected ", expected, " parameter blob(s) (weights", bias_term_ ? ", bias" : "",
               ") for bias_term: ", bias_term_ ? "true" : "false", ", got ", blobs_.size()));
  }
  if (blobs_[0]->shape() != weight_shape) {
    throw ConfigError(StrCat("incorrect weight shape: expected ", ShapeString(weight_shape),
                             ", got ", blobs_[0]->shape_string()));
  }
  if (bias_term_ && blobs_[1]->shape() != bias_shape) {
    throw ConfigError(StrCat("incorrect bias shape: expected ", ShapeString(bias_shape), ", got ",
                             blobs_[1]->shape_string()));
  }
}

void BaseConvolutionLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  const Blob& first = *bottom[0];
  const int num_axes = channel_axis_ + 1 + num_spatial_axes_;
  for (std::size_t b = 0; b < bottom.size(); ++b) {
    if (bottom[b]->num_axes() != num_axes) {
      throw ConfigError(StrCat("bottom ", b, " has ", bottom[b]->num_axes(),
                               " axes; this layer was set up for ", num_axes));
    }
    if (bottom[b]->shape(channel_axis_) != channels_) {
      throw ConfigError(StrCat("bottom ", b, " has ", bottom[b]->shape(channel_axis_),
                               " channels; this layer was set up for ", channels_));
    }
    if (bottom[b]->shape() != first.shape()) {
      throw ConfigError(StrCat("all bottoms must have the same shape: bottom 0 is ",
                               first.shape_string(), ", bottom ", b, " is ",
                               bottom[b]->shape_string()));
    }
  }

  std::vector<int> in_spatial, out_spatial;
  for (int a = 0; a < num_spatial_axes_; ++a) {
    const auto ua = static_cast<std::size_t>(a);
    const std::int64_t in = first.shape(channel_axis_ + 1 + a);
    if (in < 1) {
      throw ConfigError(StrCat("bottom ", first.shape_string(), " is empty on spatial axis ", a));
    }
    if (in > INT_MAX) {
      throw ConfigError(
          StrCat("bottom ", first.shape_string(), " is too large on spatial axis ", a));
    }
    const std::int64_t extent = static_cast<std::int64_t>(dilation_[ua]) * (kernel_[ua] - 1) + 1;
    std::int64_t out = 0;
    if (!transposed_) {
      if (in + 2 * pad_[ua] < extent) {
        throw ConfigError(StrCat("output would be empty on spatial axis ", a, ": input ", in,
                                 " + 2 * pad ", pad_[ua], " < dilated kernel extent ", extent));
      }
      out = (in + 2 * pad_[ua] - extent) / stride_[ua] + 1;
    } else {
      out = stride_[ua] * (in - 1) + extent - 2 * pad_[ua];
      if (out < 1) {
        throw ConfigError(StrCat("output would be empty on spatial axis ", a, ": stride ",
                                 stride_[ua], " * (input ", in, " - 1) + dilated kernel extent ",
                                 extent, " - 2 * pad ", pad_[ua], " = ", out));
      }
    }
    if (out > INT_MAX) throw ConfigError(StrCat("output size ", out, " is too large"));
    in_spatial.push_back(static_cast<int>(in));
    out_spatial.push_back(static_cast<int>(out));
  }

  std::vector<std::int64_t> top_shape(first.shape().begin(), first.shape().begin() + channel_axis_);
  top_shape.push_back(num_output_);
  top_shape.insert(top_shape.end(), out_spatial.begin(), out_spatial.end());
  for (Blob* t : top) t->Reshape(top_shape);

  const std::vector<int>& conv_in_spatial = transposed_ ? out_spatial : in_spatial;
  const std::vector<int>& conv_out_spatial = transposed_ ? in_spatial : out_spatial;
  const std::int64_t conv_out_spatial_dim = Product(conv_out_spatial);
  const std::int64_t top_spatial_dim = Product(out_spatial);
  if (conv_out_spatial_dim > INT_MAX || top_spatial_dim > INT_MAX) {
    throw ConfigError(StrCat("spatial size of ", ShapeOf(in_spatial), " -> ", ShapeOf(out_spatial),
                             " is too large for one GEMM"));
  }
  conv_out_spatial_dim_ = static_cast<int>(conv_out_spatial_dim);
  top_spatial_dim_ = static_cast<int>(top_spatial_dim);
  num_ = first.count(0, channel_axis_);
  bottom_dim_ = first.count(channel_axis_);
  top_dim_ = top[0]->count(channel_axis_);
  col_offset_ = static_cast<std::int64_t>(kernel_dim_) * conv_out_spatial_dim_;
  output_offset_ = static_cast<std::int64_t>(conv_out_channels_ / group_) * conv_out_spatial_dim_;
  col_count_ = col_offset_ * group_;

  if (use_nd_) {
    conv_input_shape_ = {conv_in_channels_};
    conv_input_shape_.insert(conv_input_shape_.end(), conv_in_spatial.begin(),
                             conv_in_spatial.end());
    col_shape_ = {kernel_dim_ * group_};
    col_shape_.insert(col_shape_.end(), conv_out_spatial.begin(), conv_out_spatial.end());
  } else {
    geometry_.channels = conv_in_channels_;
    geometry_.height = conv_in_spatial[0];
    geometry_.width = conv_in_spatial[1];
    geometry_.kernel_h = kernel_[0];
    geometry_.kernel_w = kernel_[1];
    geometry_.pad_h = pad_[0];
    geometry_.pad_w = pad_[1];
    geometry_.stride_h = stride_[0];
    geometry_.stride_w = stride_[1];
    geometry_.dilation_h = dilation_[0];
    geometry_.dilation_w = dilation_[1];
    FCN_CHECK(geometry_.out_h() == conv_out_spatial[0] && geometry_.out_w() == conv_out_spatial[1],
              "im2col geometry disagrees with the convolution output ", ShapeOf(conv_out_spatial));
  }

  ReshapeEngine(first, in_spatial, out_spatial);

  // The ones vector of the im2col path's bias GEMMs (oneDNN adds the bias itself; a GPU run
  // without cuDNN makes it on first use).
  if (bias_term_ && !dnnl_) EnsureBiasMultiplier();
}

void BaseConvolutionLayer::EnsureBiasMultiplier() {
  if (bias_multiplier_.count() == top_spatial_dim_) return;
  bias_multiplier_.Reshape({top_spatial_dim_});
  float* ones = bias_multiplier_.mutable_cpu_data();
  for (int i = 0; i < top_spatial_dim_; ++i) ones[i] = 1.0f;
}

void BaseConvolutionLayer::ReshapeEngine(const Blob& bottom, const std::vector<int>& in_spatial,
                                         const std::vector<int>& out_spatial) {
  std::string why;
  have_geometry_ = channel_axis_ == 1 && num_spatial_axes_ == 2 && !force_nd_im2col_;
  if (!have_geometry_) {
    why = "oneDNN runs 2-D convolutions with channel axis 1 (no force_nd_im2col)";
  } else {
    DnnlConvGeometry& g = geometry2d_;
    g.transposed = transposed_;
    g.winograd = engine_ == Engine::kDnnlWinograd;
    g.num = bottom.shape(0);
    g.in_channels = channels_;
    g.in_h = in_spatial[0];
    g.in_w = in_spatial[1];
    g.out_channels = num_output_;
    g.out_h = out_spatial[0];
    g.out_w = out_spatial[1];
    g.kernel_h = kernel_[0];
    g.kernel_w = kernel_[1];
    g.stride_h = stride_[0];
    g.stride_w = stride_[1];
    g.pad_h = pad_[0];
    g.pad_w = pad_[1];
    g.dilation_h = dilation_[0];
    g.dilation_w = dilation_[1];
    g.group = group_;
    g.bias = bias_term_;
  }
  if (engine_ == Engine::kCaffe) return;
  const bool can = have_geometry_ && DnnlConv::Supported(geometry2d_, &why);
  if (!can) {
    if (engine_ != Engine::kDefault) {
      throw ConfigError(StrCat("convolution_param.engine DNNL cannot run bottom ",
                               bottom.shape_string(), ": ", why));
    }
    dnnl_.reset();  // the im2col path
    return;
  }
  if (dnnl_ && dnnl_->geometry() == geometry2d_) return;
  try {
    dnnl_ = std::make_unique<DnnlConv>(geometry2d_);
    dnnl_->set_keep_weight_layout(phase_ == TEST);
  } catch (const ConfigError&) {
    dnnl_.reset();
    if (engine_ != Engine::kDefault) throw;  // asked for explicitly
  }
}

DnnlConv* BaseConvolutionLayer::dnnl(const ExecContext& ctx) const {
  return ctx.device() == Device::kCpu ? dnnl_.get() : nullptr;
}

CudnnConv* BaseConvolutionLayer::cudnn(const ExecContext& ctx) {
  if (ctx.device() != Device::kCuda || engine_ == Engine::kCaffe || !have_geometry_) {
    return nullptr;
  }
  if (cudnn_ && cudnn_->geometry() == geometry2d_) return cudnn_.get();
  cudnn_.reset();
  if (!CudnnConv::Supported(geometry2d_, nullptr)) return nullptr;  // the GPU im2col path
  cudnn_ = std::make_unique<CudnnConv>(geometry2d_, CudnnConvOptionsFromEnv());
  return cudnn_.get();
}

std::string BaseConvolutionLayer::engine_name() const {
  return dnnl_ ? StrCat("DNNL (", dnnl_->ForwardImplementation(), ")")
               : std::string("CAFFE (im2col + GEMM)");
}

std::size_t BaseConvolutionLayer::internal_bytes() const {
  return static_cast<std::size_t>(bias_multiplier_.count()) * sizeof(float);
}

bool BaseConvolutionLayer::EngineForward(const ExecContext& ctx, const BlobVec& bottom,
                                         const BlobVec& top) {
  DnnlConv* dnnl_engine = dnnl(ctx);
  CudnnConv* cudnn_engine = dnnl_engine ? nullptr : cudnn(ctx);
  if (!dnnl_engine && !cudnn_engine) return false;
  const float* bias = bias_term_ ? blobs_[1]->data(ctx) : nullptr;
  for (std::size_t i = 0; i < bottom.size(); ++i) {
    if (dnnl_engine) {
      dnnl_engine->Forward(ctx.workspace(), bottom[i]->data_memory(), blobs_[0]->data_memory(),
                           bias, top[i]->data_memory());
    } else {
      cudnn_engine->Forward(ctx, bottom[i]->data(ctx), blobs_[0]->data(ctx), bias,
                            top[i]->mutable_data(ctx));
    }
  }
  return true;
}

bool BaseConvolutionLayer::EngineBackward(const ExecContext& ctx, const BlobVec& top,
                                          const std::vector<bool>& propagate_down,
                                          const BlobVec& bottom) {
  DnnlConv* dnnl_engine = dnnl(ctx);
  CudnnConv* cudnn_engine = dnnl_engine ? nullptr : cudnn(ctx);
  if (!dnnl_engine && !cudnn_engine) return false;
  const bool weight_grad = param_propagate_down(0);
  const bool bias_grad = bias_term_ && param_propagate_down(1);
  float* weight_diff = weight_grad ? blobs_[0]->mutable_diff(ctx) : nullptr;
  float* bias_diff = bias_grad ? blobs_[1]->mutable_diff(ctx) : nullptr;
  for (std::size_t i = 0; i < top.size(); ++i) {
    // oneDNN takes the buffers themselves (it may keep them in its own layout); the weight
    // pass runs first, so the top diff is converted at most once for both passes.
    // The engines compute both; a frozen weight (lr_mult 0) still skips the accumulation.
    if (weight_grad) {
      if (dnnl_engine) {
        dnnl_engine->BackwardWeights(ctx.workspace(), bottom[i]->data_memory(),
                                     top[i]->diff_memory(), weight_diff, bias_diff);
      } else {
        cudnn_engine->BackwardWeights(ctx, bottom[i]->data(ctx), top[i]->diff(ctx), weight_diff,
                                      bias_diff);
      }
    } else if (bias_grad) {
      BackwardBiasAll(ctx, top[i]->diff(ctx), bias_diff);
    }
    if (i < propagate_down.size() && propagate_down[i]) {
      if (dnnl_engine) {
        dnnl_engine->BackwardData(ctx.workspace(), top[i]->diff_memory(), blobs_[0]->data_memory(),
                                  bottom[i]->diff_memory());
      } else {
        cudnn_engine->BackwardData(ctx, top[i]->diff(ctx), blobs_[0]->data(ctx),
                                   bottom[i]->mutable_diff(ctx));
      }
    }
  }
  return true;
}

float* BaseConvolutionLayer::ColBuffer(const ExecContext& ctx) const {
  return is_1x1_ ? nullptr : ctx.workspace().Get(col_count_);
}

void BaseConvolutionLayer::Im2ColInput(const ExecContext& ctx, const float* input,
                                       float* col) const {
  if (ctx.device() == Device::kCuda) {
    FCN_CHECK(!use_nd_, "the N-d im2col runs on the host only");
    const auto shape = kernels::Im2ColShape::From(geometry_);
    ForEachIndex(ctx, static_cast<std::int64_t>(shape.channels) * shape.out_h * shape.out_w,
                 kernels::Im2ColIndex{input, col, shape});
  } else if (use_nd_) {
    math::Im2ColNd(input, num_spatial_axes_, conv_input_shape_, col_shape_, kernel_, pad_, stride_,
                   dilation_, col);
  } else {
    math::Im2Col(input, geometry_, col);
  }
}

void BaseConvolutionLayer::Col2ImInput(const ExecContext& ctx, const float* col,
                                       float* input) const {
  if (ctx.device() == Device::kCuda) {
    FCN_CHECK(!use_nd_, "the N-d col2im runs on the host only");
    const auto shape = kernels::Im2ColShape::From(geometry_);
    ForEachIndex(ctx, static_cast<std::int64_t>(shape.channels) * shape.height * shape.width,
                 kernels::Col2ImIndex{col, input, shape});
  } else if (use_nd_) {
    math::Col2ImNd(col, num_spatial_axes_, conv_input_shape_, col_shape_, kernel_, pad_, stride_,
                   dilation_, input);
  } else {
    math::Col2Im(col, geometry_, input);
  }
}

void BaseConvolutionLayer::ForwardGemm(const ExecContext& ctx, const float* input,
                                       const float* weights, float* col, float* output,
                                       bool col_ready) {
  const float* col_data = input;
  if (!is_1x1_) {
    if (!col_ready) Im2ColInput(ctx, input, col);
    col_data = col;
  }
  const int group_out = conv_out_channels_ / group_;
  for (int g = 0; g < group_; ++g) {
    math::Gemm(ctx, math::Trans::kNo, math::Trans::kNo, group_out, conv_out_spatial_dim_,
               kernel_dim_, 1.0f, weights + weight_offset_ * g, col_data + col_offset_ * g, 0.0f,
               output + output_offset_ * g);
  }
}

void BaseConvolutionLayer::ForwardBias(const ExecContext& ctx, const float* bias, float* output) {
  EnsureBiasMultiplier();
  math::Gemm(ctx, math::Trans::kNo, math::Trans::kNo, num_output_, top_spatial_dim_, 1, 1.0f, bias,
             bias_multiplier_.data(ctx), 1.0f, output);
}

void BaseConvolutionLayer::BackwardGemm(const ExecContext& ctx, const float* output,
                                        const float* weights, float* col, float* input) {
  float* col_data = is_1x1_ ? input : col;
  const int group_out = conv_out_channels_ / group_;
  for (int g = 0; g < group_; ++g) {
    math::Gemm(ctx, math::Trans::kYes, math::Trans::kNo, kernel_dim_, conv_out_spatial_dim_,
               group_out, 1.0f, weights + weight_offset_ * g, output + output_offset_ * g, 0.0f,
               col_data + col_offset_ * g);
  }
  if (!is_1x1_) Col2ImInput(ctx, col, input);
}

void BaseConvolutionLayer::WeightGemm(const ExecContext& ctx, const float* input,
                                      const float* output, float* col, float* weight_diff) {
  const float* col_data = input;
  if (!is_1x1_) {
    Im2ColInput(ctx, input, col);
    col_data = col;
  }
  const int group_out = conv_out_channels_ / group_;
  for (int g = 0; g < group_; ++g) {
    math::Gemm(ctx, math::Trans::kNo, math::Trans::kYes, group_out, kernel_dim_,
               conv_out_spatial_dim_, 1.0f, output + output_offset_ * g, col_data + col_offset_ * g,
               1.0f, weight_diff + weight_offset_ * g);
  }
}

void BaseConvolutionLayer::BackwardBiasAll(const ExecContext& ctx, const float* top_diff,
                                           float* bias_diff) {
  if (dnnl(ctx) == nullptr) {
    for (std::int64_t n = 0; n < num_; ++n) BackwardBias(ctx, top_diff + n * top_dim_, bias_diff);
    return;
  }
  for (std::int64_t n = 0; n < num_; ++n) {
    for (int m = 0; m < num_output_; ++m) {
      const float* row = top_diff + n * top_dim_ + static_cast<std::int64_t>(m) * top_spatial_dim_;
      double sum = 0;
      for (int i = 0; i < top_spatial_dim_; ++i) sum += row[i];
      bias_diff[m] += static_cast<float>(sum);
    }
  }
}

void BaseConvolutionLayer::BackwardBias(const ExecContext& ctx, const float* top_diff,
                                        float* bias_diff) {
  EnsureBiasMultiplier();
  math::Gemv(ctx, math::Trans::kNo, num_output_, top_spatial_dim_, 1.0f, top_diff,
             bias_multiplier_.data(ctx), 1.0f, bias_diff);
}

}  // namespace fcn
