// SPDX-License-Identifier: BSD-2-Clause
// BaseConvolutionLayer: convolution_param, weights, shapes and the engine choice.
#include "layers/base_conv.h"

#include <climits>
#include <string>

#include "fcn/filler.h"
#include "layers/convolution.h"

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

bool IsDnnl(ConvEngine engine) {
  return engine == ConvEngine::kDnnl || engine == ConvEngine::kDnnlWinograd;
}

void RequireDnnlWhenAsked(ConvEngine engine) {
  if (IsDnnl(engine) && !DnnlConv::Available()) {
    throw ConfigError(
        "convolution_param.engine DNNL: this build has no oneDNN (FCN_USE_DNNL=OFF or "
        "libdnnl-dev missing)");
  }
}

}  // namespace

BaseConvolutionLayer::BaseConvolutionLayer(const LayerParameter& param, bool transposed)
    : Layer(param), transposed_(transposed), im2col_(std::make_unique<Im2colConv>()) {
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
      engine_ = ConvEngine::kCaffe;
      break;
    case ConvolutionParameter::DNNL:
      engine_ = ConvEngine::kDnnl;
      break;
    case ConvolutionParameter::DNNL_WINOGRAD:
      engine_ = ConvEngine::kDnnlWinograd;
      break;
    default:  // DEFAULT, and CUDNN on the CPU: the net's options decide at set-up
      engine_ = ConvEngine::kDefault;
      break;
  }
  engine_explicit_ = engine_ != ConvEngine::kDefault;
  RequireDnnlWhenAsked(engine_);
  axis_param_ = p.axis();

  ValidateWindowFields();
  if (p.has_weight_filler()) ValidateFiller(p.weight_filler());
  if (p.has_bias_filler()) ValidateFiller(p.bias_filler());
}

BaseConvolutionLayer::~BaseConvolutionLayer() = default;

// kernel, stride, pad and dilation as far as they can be checked without the bottom.
void BaseConvolutionLayer::ValidateWindowFields() const {
  const ConvolutionParameter& p = layer_param_.convolution_param();
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
}

// Once per layer: a layer that names its engine keeps it; `engine: DEFAULT` follows the net's
// options.
void BaseConvolutionLayer::ChooseEngine() {
  if (engine_ == ConvEngine::kDefault) engine_ = options().conv_engine;
  RequireDnnlWhenAsked(engine_);
}

void BaseConvolutionLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  ChooseEngine();
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
  CheckBottoms(bottom);
  const Blob& first = *bottom[0];
  const std::vector<int> in_spatial = InputSpatial(first);
  const std::vector<int> out_spatial = OutputSpatial(in_spatial);

  std::vector<std::int64_t> top_shape(first.shape().begin(), first.shape().begin() + channel_axis_);
  top_shape.push_back(num_output_);
  top_shape.insert(top_shape.end(), out_spatial.begin(), out_spatial.end());
  for (Blob* t : top) t->Reshape(top_shape);

  last_engine_ = nullptr;
  ReshapeIm2col(first, *top[0], in_spatial, out_spatial);
  have_geometry_ = channel_axis_ == 1 && num_spatial_axes_ == 2 && !force_nd_im2col_;
  if (have_geometry_) geometry_ = Geometry2d(first, in_spatial, out_spatial);
  ReshapeDnnl(first);
  // The ones vector of the im2col path's bias GEMMs (oneDNN adds the bias itself; a GPU run
  // without cuDNN makes it on first use).
  if (bias_term_ && !dnnl_) im2col_->EnsureBiasMultiplier();
}

void BaseConvolutionLayer::CheckBottoms(const BlobVec& bottom) const {
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
}

std::vector<int> BaseConvolutionLayer::InputSpatial(const Blob& bottom) const {
  std::vector<int> in_spatial;
  for (int a = 0; a < num_spatial_axes_; ++a) {
    const std::int64_t in = bottom.shape(channel_axis_ + 1 + a);
    if (in < 1) {
      throw ConfigError(StrCat("bottom ", bottom.shape_string(), " is empty on spatial axis ", a));
    }
    if (in > INT_MAX) {
      throw ConfigError(
          StrCat("bottom ", bottom.shape_string(), " is too large on spatial axis ", a));
    }
    in_spatial.push_back(static_cast<int>(in));
  }
  return in_spatial;
}

std::vector<int> BaseConvolutionLayer::OutputSpatial(const std::vector<int>& in_spatial) const {
  std::vector<int> out_spatial;
  for (int a = 0; a < num_spatial_axes_; ++a) {
    const auto ua = static_cast<std::size_t>(a);
    const std::int64_t in = in_spatial[ua];
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
    out_spatial.push_back(static_cast<int>(out));
  }
  return out_spatial;
}

void BaseConvolutionLayer::ReshapeIm2col(const Blob& bottom, const Blob& top,
                                         const std::vector<int>& in_spatial,
                                         const std::vector<int>& out_spatial) {
  const std::vector<int>& conv_in_spatial = transposed_ ? out_spatial : in_spatial;
  const std::vector<int>& conv_out_spatial = transposed_ ? in_spatial : out_spatial;
  const std::int64_t conv_out_spatial_dim = Product(conv_out_spatial);
  const std::int64_t top_spatial_dim = Product(out_spatial);
  if (conv_out_spatial_dim > INT_MAX || top_spatial_dim > INT_MAX) {
    throw ConfigError(StrCat("spatial size of ", ShapeOf(in_spatial), " -> ", ShapeOf(out_spatial),
                             " is too large for one GEMM"));
  }
  Im2colConv::Shape s;
  s.transposed = transposed_;
  s.group = group_;
  s.num_output = num_output_;
  s.conv_out_channels = conv_out_channels_;
  s.is_1x1 = is_1x1_;
  s.use_nd = use_nd_;
  s.kernel_dim = kernel_dim_;
  s.weight_offset = weight_offset_;
  s.num = bottom.count(0, channel_axis_);
  s.bottom_dim = bottom.count(channel_axis_);
  s.top_dim = top.count(channel_axis_);
  s.conv_out_spatial_dim = static_cast<int>(conv_out_spatial_dim);
  s.top_spatial_dim = static_cast<int>(top_spatial_dim);
  s.col_offset = static_cast<std::int64_t>(kernel_dim_) * s.conv_out_spatial_dim;
  s.output_offset = static_cast<std::int64_t>(conv_out_channels_ / group_) * s.conv_out_spatial_dim;
  s.col_count = s.col_offset * group_;
  if (use_nd_) {
    s.image_shape = {conv_in_channels_};
    s.image_shape.insert(s.image_shape.end(), conv_in_spatial.begin(), conv_in_spatial.end());
    s.col_shape = {kernel_dim_ * group_};
    s.col_shape.insert(s.col_shape.end(), conv_out_spatial.begin(), conv_out_spatial.end());
    s.kernel = kernel_;
    s.pad = pad_;
    s.stride = stride_;
    s.dilation = dilation_;
  } else {
    s.geometry = Geometry2d(bottom, in_spatial, out_spatial);
  }
  im2col_->set_shape(s);
  im2col_->set_bf16(options().precision == Precision::kBfloat16);
}

math::ConvGeometry BaseConvolutionLayer::Geometry2d(const Blob& bottom,
                                                    const std::vector<int>& in_spatial,
                                                    const std::vector<int>& out_spatial) const {
  math::ConvGeometry g;
  g.transposed = transposed_;
  g.num = bottom.count(0, channel_axis_);
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
  return g;
}

// Which oneDNN algorithm a layer runs (see "Engine choice" in base_conv.h):
//   engine: DNNL / DNNL_WINOGRAD in the prototxt: that algorithm, or a ConfigError;
//   DEFAULT and Options DNNL_WINOGRAD: Winograd wherever oneDNN has it, else direct;
//   Options DNNL: direct;
// and im2col where oneDNN cannot run the shape at all (unless the prototxt names DNNL).
// "oneDNN has it" is decided by making the primitives: Supported() checks the geometry, and
// oneDNN reports an unimplemented primitive on CPUs without the Winograd kernels.
void BaseConvolutionLayer::ReshapeDnnl(const Blob& bottom) {
  if (engine_ == ConvEngine::kCaffe) return;
  const bool explicit_dnnl = engine_explicit_ && IsDnnl(engine_);
  bool winograd = engine_ == ConvEngine::kDnnlWinograd;
  const bool fall_back = !engine_explicit_ && engine_ != ConvEngine::kDnnl;  // to direct
  const bool bf16 = options().precision == Precision::kBfloat16;
  if (engine_ == ConvEngine::kDefault) {
    winograd = have_geometry_ && DnnlConv::Supported(geometry_, /*winograd=*/true, nullptr);
  }
  // bf16 runs the direct algorithm (oneDNN has no bf16 Winograd); a layer whose prototxt names
  // DNNL_WINOGRAD gets the DnnlConv's ConfigError that says so.
  if (bf16 && fall_back) winograd = false;
  if (winograd && fall_back && winograd_unavailable_ == geometry_) winograd = false;
  std::string why = "oneDNN runs 2-D convolutions with channel axis 1 (no force_nd_im2col)";
  bool can = have_geometry_ && DnnlConv::Supported(geometry_, winograd, &why);
  if (!can && winograd && fall_back) {
    winograd = false;
    can = have_geometry_ && DnnlConv::Supported(geometry_, winograd, &why);
  }
  if (!can) {
    if (explicit_dnnl) {
      throw ConfigError(StrCat("convolution_param.engine ",
                               engine_ == ConvEngine::kDnnlWinograd ? "DNNL_WINOGRAD" : "DNNL",
                               " cannot run bottom ", bottom.shape_string(), ": ", why));
    }
    dnnl_.reset();  // the im2col path
    return;
  }
  if (dnnl_ && dnnl_->geometry() == geometry_ && dnnl_winograd_ == winograd &&
      dnnl_->bf16() == bf16) {
    return;
  }
  dnnl_.reset();
  const bool inference = phase_ == TEST;
  // A net that trains runs a layer with very large weights (fc6) in output-channel slices, so
  // no pass needs a second weight-sized buffer for oneDNN's weight layout; a net that does not
  // train converts its weights to that layout in place once (set_keep_weight_layout).
  const std::size_t slice_bytes = inference ? 0 : DnnlConv::kTrainingWeightSliceBytes;
  auto make = [&](bool with_winograd) {
    return std::make_unique<DnnlConv>(geometry_, with_winograd, options().dnnl_keep_layouts, bf16,
                                      slice_bytes);
  };
  try {
    dnnl_ = make(winograd);
  } catch (const ConfigError&) {
    if (explicit_dnnl) throw;
    if (winograd) {  // no Winograd kernels on this CPU for this shape: the direct algorithm
      winograd = false;
      winograd_unavailable_ = geometry_;
      try {
        dnnl_ = make(winograd);
      } catch (const ConfigError&) {
        dnnl_.reset();
      }
    }
  }
  // In a net that does not train, Winograd's scratch (its transformed tiles, 280 MB for
  // FCN-8s's conv2_2 at 500x500) would be most of the memory beyond the weights and the
  // largest activations: a layer whose Winograd needs more than the limit runs direct.
  if (dnnl_ && winograd && fall_back && inference &&
      dnnl_->ForwardScratchpadBytes() > options().dnnl_inference_scratch_limit_bytes) {
    winograd = false;
    winograd_unavailable_ = geometry_;
    dnnl_ = make(winograd);
  }
  if (!dnnl_) return;  // the im2col path
  dnnl_winograd_ = winograd;
  dnnl_->set_keep_weight_layout(phase_ == TEST);
}

ConvolutionEngine& BaseConvolutionLayer::EngineFor(const ExecContext& ctx) {
  if (ctx.device() == Device::kCpu) {
    if (dnnl_) return *dnnl_;
    return *im2col_;
  }
  // bf16 runs on cuDNN as fp32 does (CudnnConv rounds the operands); the CAFFE engine's GEMMs
  // round them in cuBLAS (math::LayerGemm).
  if (engine_ == ConvEngine::kCaffe || !have_geometry_) return *im2col_;
  if (cudnn_ && cudnn_->geometry() == geometry_) return *cudnn_;
  cudnn_.reset();
  if (!CudnnConv::Supported(geometry_, nullptr)) return *im2col_;  // the GPU im2col path
  cudnn_ = std::make_unique<CudnnConv>(geometry_, options(), im2col_.get());
  return *cudnn_;
}

std::string BaseConvolutionLayer::engine_name() const {
  if (last_engine_) return last_engine_->name();
  return dnnl_ ? dnnl_->name() : im2col_->name();
}

std::size_t BaseConvolutionLayer::internal_bytes() const { return im2col_->internal_bytes(); }

ConvParams BaseConvolutionLayer::Params(const ExecContext& ctx, bool backward) {
  ConvParams p;
  p.weights = blobs_[0].get();
  if (!backward) {
    p.bias = bias_term_ ? blobs_[1]->data(ctx) : nullptr;
    return p;
  }
  p.weight_diff = param_propagate_down(0) ? blobs_[0]->mutable_diff(ctx) : nullptr;
  p.bias_diff = bias_term_ && param_propagate_down(1) ? blobs_[1]->mutable_diff(ctx) : nullptr;
  return p;
}

void BaseConvolutionLayer::ForwardImpl(const ExecContext& ctx, const BlobVec& bottom,
                                       const BlobVec& top) {
  ConvolutionEngine& engine = EngineFor(ctx);
  last_engine_ = &engine;
  engine.Forward(ctx, bottom, Params(ctx, /*backward=*/false), top);
}

void BaseConvolutionLayer::BackwardImpl(const ExecContext& ctx, const BlobVec& top,
                                        const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  ConvolutionEngine& engine = EngineFor(ctx);
  last_engine_ = &engine;
  engine.Backward(ctx, top, propagate_down, Params(ctx, /*backward=*/true), bottom);
}

}  // namespace fcn
