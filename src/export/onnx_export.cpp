// SPDX-License-Identifier: BSD-2-Clause
// The Caffe layer -> ONNX operator mapping (docs/onnx.md lists it with the reasons).
#include "fcn/onnx_export.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "fcn/coord_map.h"
#include "onnx.pb.h"

namespace fcn {

std::string OnnxOutput::name() const {
  switch (append) {
    case Append::kSoftmax:
      return blob + "_softmax";
    case Append::kArgMax:
      return blob + "_argmax";
    case Append::kNone:
      break;
  }
  return blob;
}

std::vector<OnnxOutput> ParseOnnxOutputs(const std::string& text) {
  std::vector<OnnxOutput> outputs;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    OnnxOutput out;
    const std::size_t colon = item.find(':');
    out.blob = item.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string op = item.substr(colon + 1);
      if (op == "softmax") {
        out.append = OnnxOutput::Append::kSoftmax;
      } else if (op == "argmax") {
        out.append = OnnxOutput::Append::kArgMax;
      } else {
        throw ConfigError(StrCat("--outputs=", text, ": \"", item,
                                 "\": the appended operator must be softmax or argmax"));
      }
    }
    if (out.blob.empty()) throw ConfigError(StrCat("--outputs=", text, ": empty blob name"));
    outputs.push_back(out);
  }
  return outputs;
}

namespace {

bool IsLossOrEvaluation(const std::string& type) {
  return type == "Accuracy" || (type.size() > 4 && type.compare(type.size() - 4, 4, "Loss") == 0);
}

// Caffe's repeated geometry fields (kernel_size/stride/pad/dilation) with their _h/_w forms.
std::vector<std::int64_t> SpatialValues(const google::protobuf::RepeatedField<std::uint32_t>& v,
                                        bool has_hw, std::uint32_t h, std::uint32_t w,
                                        std::int64_t fallback, const char* what) {
  if (has_hw) return {h, w};
  if (v.empty()) return {fallback, fallback};
  if (v.size() == 1) return {v.Get(0), v.Get(0)};
  if (v.size() == 2) return {v.Get(0), v.Get(1)};
  throw ConfigError(StrCat(what, " has ", v.size(), " values; 2-D export takes 1 or 2"));
}

class Exporter {
 public:
  Exporter(const Net& net, const NetParameter& analysed, const OnnxExportOptions& options,
           onnx::ModelProto* model, std::vector<std::string>* notes)
      : net_(net),
        analysis_(analysed),
        options_(options),
        model_(model),
        graph_(model->mutable_graph()),
        notes_(notes) {}

  void Run();

 private:
  [[noreturn]] void Fail(int layer, const std::string& message) const {
    const LayerParameter& lp = net_.param().layer(layer);
    throw ConfigError(net_.layer_location(layer), lp.name(), lp.type(), message);
  }

  const Blob& BottomBlob(int layer, int i) const {
    return *net_.bottom_vecs()[static_cast<std::size_t>(layer)][static_cast<std::size_t>(i)];
  }
  const Blob& TopBlob(int layer, int i) const {
    return *net_.top_vecs()[static_cast<std::size_t>(layer)][static_cast<std::size_t>(i)];
  }
  // The ONNX value currently holding bottom i of the layer.
  std::string Bottom(int layer, int i) const {
    const std::string& blob = net_.param().layer(layer).bottom(i);
    auto it = current_.find(blob);
    FCN_CHECK(it != current_.end(), "bottom ", blob, " has no ONNX value");
    return it->second;
  }
  // A new ONNX value for top i: the blob's own name when this layer writes it last, else
  // blob/layer (in-place layers write a blob several times; ONNX values are written once).
  std::string Top(int layer, int i) {
    const LayerParameter& lp = net_.param().layer(layer);
    const std::string& blob = lp.top(i);
    const std::string value = last_writer_[blob] == layer ? blob : blob + "/" + lp.name();
    current_[blob] = value;
    return value;
  }
  onnx::NodeProto* Node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs) {
    onnx::NodeProto* node = graph_->add_node();
    node->set_op_type(op);
    node->set_name(name);
    for (const std::string& in : inputs) node->add_input(in);
    for (const std::string& out : outputs) node->add_output(out);
    return node;
  }
  static void AttrInt(onnx::NodeProto* node, const char* name, std::int64_t v) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void AttrFloat(onnx::NodeProto* node, const char* name, float v) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void AttrInts(onnx::NodeProto* node, const char* name,
                       const std::vector<std::int64_t>& v) {
    onnx::AttributeProto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t x : v) a->add_ints(x);
  }
  // A float initializer with the blob's data in `dims`' shape (same element count).
  std::string FloatInit(const std::string& name, const Blob& blob,
                        const std::vector<std::int64_t>& dims) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (std::int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(blob.cpu_data()),
                                static_cast<std::size_t>(blob.count()) * sizeof(float)));
    return name;
  }
  std::string FloatScalarInit(const std::string& name, float v) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(v);
    return name;
  }
  std::string IntsInit(const std::string& name, const std::vector<std::int64_t>& v) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(v.size()));
    for (std::int64_t x : v) t->add_int64_data(x);
    return name;
  }
  // dims of a parameter blob followed by `trailing` ones (numpy broadcasting from the right).
  static std::vector<std::int64_t> WithTrailingOnes(const std::vector<std::int64_t>& dims,
                                                    int trailing) {
    std::vector<std::int64_t> out = dims;
    for (int i = 0; i < trailing; ++i) out.push_back(1);
    return out;
  }

  void Inputs();
  void Layer(int i);
  void Convolution(int i, bool transposed);
  void InnerProduct(int i);
  void Pooling(int i);
  void Crop(int i);
  void Eltwise(int i);
  void ScaleOrBias(int i, bool scale);
  void ArgMax(int i);
  void Outputs();
  void ValueInfo(onnx::ValueInfoProto* info, const std::string& name, const Blob& blob,
                 onnx::TensorProto::DataType type);

  const Net& net_;
  CoordMapAnalysis analysis_;
  const OnnxExportOptions& options_;
  onnx::ModelProto* model_;
  onnx::GraphProto* graph_;
  std::vector<std::string>* notes_;
  std::map<std::string, std::string> current_;    // blob -> ONNX value now holding it
  std::map<std::string, int> last_writer_;        // blob -> last layer that writes a new value
  std::vector<std::string> dropped_predictions_;  // first bottoms of dropped loss layers
};

void Exporter::ValueInfo(onnx::ValueInfoProto* info, const std::string& name, const Blob& blob,
                         onnx::TensorProto::DataType type) {
  info->set_name(name);
  onnx::TypeProto::Tensor* t = info->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  for (int a = 0; a < blob.num_axes(); ++a) {
    onnx::TensorShapeProto::Dimension* d = shape->add_dim();
    if (!options_.dynamic_size || a < 2) d->set_dim_value(blob.shape(a));
  }
}

void Exporter::Inputs() {
  for (std::size_t k = 0; k < net_.input_blobs().size(); ++k) {
    const Blob& blob = *net_.input_blobs()[k];
    const std::string& name =
        net_.blob_names()[static_cast<std::size_t>(net_.input_blob_indices()[k])];
    onnx::ValueInfoProto* info = graph_->add_input();
    ValueInfo(info, name, blob, onnx::TensorProto::FLOAT);
    if (options_.dynamic_size && blob.num_axes() == 4) {
      onnx::TensorShapeProto* shape = info->mutable_type()->mutable_tensor_type()->mutable_shape();
      shape->mutable_dim(2)->set_dim_param(name + "_height");
      shape->mutable_dim(3)->set_dim_param(name + "_width");
    }
    current_[name] = name;
  }
}

void Exporter::Run() {
  if (options_.opset < 13 || options_.opset > kMaxOnnxOpset) {
    throw ConfigError(StrCat("--opset=", options_.opset, ": the exporter writes opsets 13 to ",
                             kMaxOnnxOpset,
                             " (13 is the first whose Softmax normalises one axis only)"));
  }
  model_->set_ir_version(onnx::IR_VERSION);
  model_->set_producer_name("fcn");
  model_->set_producer_version("fcntool export");
  model_->set_doc_string(StrCat("Exported by fcntool export from ", options_.model_path,
                                options_.weights_path.empty() ? "" : " with ",
                                options_.weights_path));
  onnx::OperatorSetIdProto* opset = model_->add_opset_import();
  opset->set_domain("");
  opset->set_version(options_.opset);
  graph_->set_name(net_.name().empty() ? "fcn" : net_.name());

  const NetParameter& param = net_.param();
  // Which layer writes each blob's final value (layers that only alias write nothing).
  for (int i = 0; i < param.layer_size(); ++i) {
    const std::string& type = param.layer(i).type();
    if (type == "Split" || type == "Dropout" || type == "Silence" || type == "Input" ||
        IsLossOrEvaluation(type))
      continue;
    for (const std::string& top : param.layer(i).top()) last_writer_[top] = i;
  }
  Inputs();
  for (int i = 0; i < param.layer_size(); ++i) Layer(i);
  Outputs();
  // Inputs only a dropped layer read (a loss layer's label) are not part of the graph.
  std::set<std::string> used;
  for (const onnx::NodeProto& node : graph_->node())
    used.insert(node.input().begin(), node.input().end());
  for (const onnx::ValueInfoProto& out : graph_->output()) used.insert(out.name());
  for (int k = graph_->input_size() - 1; k >= 0; --k) {
    if (!used.count(graph_->input(k).name())) {
      notes_->push_back(StrCat("input \"", graph_->input(k).name(), "\" is unused and left out"));
      graph_->mutable_input()->DeleteSubrange(k, 1);
    }
  }
}

void Exporter::Layer(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const std::string& type = lp.type();
  const std::string& name = lp.name();
  if (type == "Input") return;  // graph inputs
  if (type == "Split" || type == "Dropout") {
    // Split copies its bottom; Dropout is the identity at test time (Caffe scales in training).
    for (int t = 0; t < lp.top_size(); ++t) current_[lp.top(t)] = Bottom(i, 0);
    return;
  }
  if (type == "Silence") return;  // consumes its bottoms, produces nothing
  if (IsLossOrEvaluation(type)) {
    notes_->push_back(StrCat("dropped ", type, " layer \"", name,
                             "\" (training/evaluation only); its input \"", lp.bottom(0),
                             "\" is an output unless --outputs says otherwise"));
    dropped_predictions_.push_back(lp.bottom(0));
    for (const std::string& top : lp.top()) current_.erase(top);
    return;
  }
  if (type == "Convolution" || type == "Deconvolution") return Convolution(i, type[0] == 'D');
  if (type == "InnerProduct") return InnerProduct(i);
  if (type == "Pooling") return Pooling(i);
  if (type == "Crop") return Crop(i);
  if (type == "Eltwise") return Eltwise(i);
  if (type == "Scale") return ScaleOrBias(i, true);
  if (type == "Bias") return ScaleOrBias(i, false);
  if (type == "ArgMax") return ArgMax(i);
  if (type == "ReLU") {
    const float slope = lp.relu_param().negative_slope();
    onnx::NodeProto* n = Node(slope == 0.f ? "Relu" : "LeakyRelu", name, {Bottom(i, 0)}, {});
    if (slope != 0.f) AttrFloat(n, "alpha", slope);
    n->add_output(Top(i, 0));
    return;
  }
  if (type == "Concat") {
    const ConcatParameter& p = lp.concat_param();
    const int axis = p.has_concat_dim() ? static_cast<int>(p.concat_dim()) : p.axis();
    std::vector<std::string> ins;
    for (int b = 0; b < lp.bottom_size(); ++b) ins.push_back(Bottom(i, b));
    onnx::NodeProto* n = Node("Concat", name, ins, {});
    AttrInt(n, "axis", BottomBlob(i, 0).CanonicalAxisIndex(axis));
    n->add_output(Top(i, 0));
    return;
  }
  if (type == "Softmax") {
    onnx::NodeProto* n = Node("Softmax", name, {Bottom(i, 0)}, {});
    AttrInt(n, "axis", BottomBlob(i, 0).CanonicalAxisIndex(lp.softmax_param().axis()));
    n->add_output(Top(i, 0));
    return;
  }
  if (type == "LRN") {
    const LRNParameter& p = lp.lrn_param();
    if (p.norm_region() != LRNParameter::ACROSS_CHANNELS) {
      Fail(i,
           "LRN with norm_region WITHIN_CHANNEL has no ONNX operator (ONNX's LRN "
           "normalises across channels only)");
    }
    // Caffe: x / (k + alpha/n * sum x^2)^beta; ONNX's LRN is the same formula.
    onnx::NodeProto* n = Node("LRN", name, {Bottom(i, 0)}, {});
    AttrInt(n, "size", p.local_size());
    AttrFloat(n, "alpha", p.alpha());
    AttrFloat(n, "beta", p.beta());
    AttrFloat(n, "bias", p.k());
    n->add_output(Top(i, 0));
    return;
  }
  Fail(i, StrCat("layer type ", type,
                 " has no ONNX mapping in fcntool export (mapped: Convolution, Deconvolution, "
                 "InnerProduct, ReLU, Pooling, Crop, Eltwise, Concat, Scale, Bias, Softmax, "
                 "ArgMax, LRN; removed: Dropout, Split, Silence; dropped: loss layers)"));
}

void Exporter::Convolution(int i, bool transposed) {
  const LayerParameter& lp = net_.param().layer(i);
  const ConvolutionParameter& p = lp.convolution_param();
  const auto& weights = net_.layers()[static_cast<std::size_t>(i)]->blobs();
  if (BottomBlob(i, 0).num_axes() != 4) Fail(i, "only 2-D (N x C x H x W) convolutions export");
  if (p.axis() != 1) Fail(i, StrCat("convolution axis ", p.axis(), " does not export (ONNX: 1)"));
  if (weights.empty()) Fail(i, "the layer has no weights");
  std::vector<std::int64_t> pad, stride, dilation;
  try {
    pad = SpatialValues(p.pad(), p.has_pad_h() || p.has_pad_w(), p.pad_h(), p.pad_w(), 0, "pad");
    stride = SpatialValues(p.stride(), p.has_stride_h() || p.has_stride_w(), p.stride_h(),
                           p.stride_w(), 1, "stride");
    dilation = SpatialValues(p.dilation(), false, 0, 0, 1, "dilation");
  } catch (const ConfigError& e) {
    Fail(i, e.message());
  }
  const Blob& w = *weights[0];
  const std::string& name = lp.name();
  std::vector<std::string> ins{Bottom(i, 0), FloatInit(name + "/weight", w, w.shape())};
  if (p.bias_term()) {
    if (weights.size() < 2) Fail(i, "bias_term is set but the layer has no bias blob");
    ins.push_back(FloatInit(name + "/bias", *weights[1], {weights[1]->count()}));
  }
  // Caffe's weights: Convolution (C_out, C_in/g, kh, kw), Deconvolution (C_in, C_out/g, kh, kw);
  // ONNX's Conv and ConvTranspose take the same layouts.
  onnx::NodeProto* n = Node(transposed ? "ConvTranspose" : "Conv", name, ins, {});
  AttrInts(n, "kernel_shape", {w.shape(2), w.shape(3)});
  AttrInts(n, "strides", stride);
  AttrInts(n, "pads", {pad[0], pad[1], pad[0], pad[1]});
  AttrInts(n, "dilations", dilation);
  AttrInt(n, "group", p.group());
  n->add_output(Top(i, 0));
}

void Exporter::InnerProduct(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const InnerProductParameter& p = lp.inner_product_param();
  const auto& weights = net_.layers()[static_cast<std::size_t>(i)]->blobs();
  const int axis = BottomBlob(i, 0).CanonicalAxisIndex(p.axis());
  if (axis != 1) Fail(i, StrCat("InnerProduct axis ", axis, " does not export (only axis 1)"));
  const std::string& name = lp.name();
  const std::string flat = name + "/flat";
  onnx::NodeProto* f = Node("Flatten", flat, {Bottom(i, 0)}, {flat});
  AttrInt(f, "axis", 1);
  const Blob& w = *weights[0];
  std::vector<std::string> ins{flat, FloatInit(name + "/weight", w, w.shape())};
  if (p.bias_term()) ins.push_back(FloatInit(name + "/bias", *weights[1], {weights[1]->count()}));
  onnx::NodeProto* n = Node("Gemm", name, ins, {});
  // Caffe's weight is (N_out, K), or (K, N_out) with `transpose`.
  AttrInt(n, "transB", p.transpose() ? 0 : 1);
  n->add_output(Top(i, 0));
}

void Exporter::Pooling(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const PoolingParameter& p = lp.pooling_param();
  const std::string& name = lp.name();
  if (lp.top_size() > 1) Fail(i, "the argmax-mask top of MAX pooling does not export");
  if (p.pool() == PoolingParameter::STOCHASTIC) Fail(i, "STOCHASTIC pooling has no ONNX operator");
  const bool max = p.pool() == PoolingParameter::MAX;
  std::string in = Bottom(i, 0);
  if (p.global_pooling()) {
    Node(max ? "GlobalMaxPool" : "GlobalAveragePool", name, {in}, {Top(i, 0)});
    return;
  }
  const std::vector<std::int64_t> kernel{p.has_kernel_size() ? p.kernel_size() : p.kernel_h(),
                                         p.has_kernel_size() ? p.kernel_size() : p.kernel_w()};
  const std::vector<std::int64_t> pad{p.has_pad_h() ? p.pad_h() : p.pad(),
                                      p.has_pad_w() ? p.pad_w() : p.pad()};
  const std::vector<std::int64_t> stride{p.has_stride_h() ? p.stride_h() : p.stride(),
                                         p.has_stride_w() ? p.stride_w() : p.stride()};
  const bool ceil = p.round_mode() == PoolingParameter::CEIL;
  const bool any_pad = pad[0] != 0 || pad[1] != 0;
  // Caffe's size: ceil((in + 2p - k) / s) + 1 (or floor), then, whenever any pad is non-zero,
  // one window less if the last starts at or past in + p (inside the trailing pad). In terms of
  // window starts j*s - p, ceil keeps j*s < in + p + s - k + p, floor j*s < in + 2p - k + 1 and
  // the clip j*s < in + p. ONNX's floor rule with pads (p, e) keeps j*s < in + p + e - k + 1, so
  // the end pad e = (ceil ? p + s - 1 : p), lowered to k - 1 when the clip applies, gives
  // Caffe's size for every input size (ONNX's own ceil_mode has no clip).
  std::vector<std::int64_t> end_pad(2);
  for (int a = 0; a < 2; ++a) {
    std::int64_t e = ceil ? pad[a] + stride[a] - 1 : pad[a];
    if (any_pad) e = std::min(e, kernel[a] - 1);
    if (e >= kernel[a]) {
      Fail(i, StrCat("stride ", stride[a], " larger than the kernel ", kernel[a],
                     " with ceil rounding and no pad: Caffe's last window can lie wholly outside "
                     "the input, which no ONNX pooling expresses; use round_mode: FLOOR or a "
                     "stride no larger than the kernel"));
    }
    end_pad[a] = e;
  }
  std::vector<std::int64_t> pads{pad[0], pad[1], end_pad[0], end_pad[1]};
  if (!max && any_pad) {
    // Caffe's average divides by the window clipped to the padded input [-p, in + p): zeros
    // for the pad, then ONNX's count_include_pad=0 over the extra end pad only.
    const std::string padded = name + "/padded";
    Node("Pad", name + "/pad",
         {in, IntsInit(name + "/pads", {0, 0, pad[0], pad[1], 0, 0, pad[0], pad[1]})}, {padded});
    in = padded;
    pads = {0, 0, end_pad[0] - pad[0], end_pad[1] - pad[1]};
  }
  onnx::NodeProto* n = Node(max ? "MaxPool" : "AveragePool", name, {in}, {});
  AttrInts(n, "kernel_shape", kernel);
  AttrInts(n, "strides", stride);
  AttrInts(n, "pads", pads);
  if (!max) AttrInt(n, "count_include_pad", 0);
  n->add_output(Top(i, 0));
}

void Exporter::Crop(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const std::string& name = lp.name();
  const Blob& data = BottomBlob(i, 0);
  const Blob& ref = BottomBlob(i, 1);
  const int rank = data.num_axes();
  const int axis = data.CanonicalAxisIndex(lp.crop_param().axis());
  const auto& file = lp.crop_param().offset();
  std::vector<std::int64_t> offsets;
  for (int a = axis; a < rank; ++a) {
    offsets.push_back(file.empty() ? 0 : file.size() == 1 ? file.Get(0) : file.Get(a - axis));
  }
  // The offset does not depend on the input size (it follows from the coordinate maps of the
  // layers between the bottoms), so a constant start and an end read from the reference's
  // runtime shape serve every size. The derived offset is used: it is what the file says
  // unless `fcntool check` reports a mismatch, and then fcn itself runs the file's offset,
  // which the export reproduces (with a note).
  for (const CropDerivation& d : analysis_.crops()) {
    if (d.layer != name) continue;
    if (!d.problem.empty()) {
      notes_->push_back(StrCat("Crop \"", name, "\": offset not derivable (", d.problem,
                               "); exported as written"));
    } else {
      for (int a = std::max(axis, 2); a < rank; ++a) {
        const std::int64_t derived = d.derived[static_cast<std::size_t>(a - 2)];
        if (derived != offsets[static_cast<std::size_t>(a - axis)]) {
          notes_->push_back(StrCat("Crop \"", name, "\": the file's offset ",
                                   offsets[static_cast<std::size_t>(a - axis)], " on axis ", a,
                                   " differs from the derived ", derived,
                                   "; exported as fcn runs it (fcntool align fixes the file)"));
        }
      }
    }
  }
  std::vector<std::int64_t> axes;
  for (int a = axis; a < rank; ++a) axes.push_back(a);
  std::string ends;
  if (options_.dynamic_size) {
    // ends = Shape(ref)[axis:] + offsets
    const std::string shape = name + "/ref_shape";
    Node("Shape", shape, {Bottom(i, 1)}, {shape});
    const std::string sizes = name + "/ref_sizes";
    Node("Slice", sizes,
         {shape, IntsInit(name + "/axis_begin", {axis}), IntsInit(name + "/axis_end", {rank}),
          IntsInit(name + "/axis0", {0})},
         {sizes});
    ends = name + "/ends";
    Node("Add", ends, {sizes, IntsInit(name + "/offsets", offsets)}, {ends});
  } else {
    std::vector<std::int64_t> fixed;
    for (int a = axis; a < rank; ++a)
      fixed.push_back(ref.shape(a) + offsets[static_cast<std::size_t>(a - axis)]);
    ends = IntsInit(name + "/ends", fixed);
  }
  const std::string in = Bottom(i, 0);
  Node("Slice", name,
       {in, IntsInit(name + "/starts", offsets), ends, IntsInit(name + "/axes", axes)},
       {Top(i, 0)});
}

void Exporter::Eltwise(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const EltwiseParameter& p = lp.eltwise_param();
  const std::string& name = lp.name();
  const int n = lp.bottom_size();
  if (p.operation() == EltwiseParameter::MAX) {
    std::vector<std::string> ins;
    for (int b = 0; b < n; ++b) ins.push_back(Bottom(i, b));
    const std::string out = Top(i, 0);
    Node("Max", name, ins, {out});
    return;
  }
  const bool sum = p.operation() == EltwiseParameter::SUM;
  if (!sum && p.coeff_size() > 0) Fail(i, "Eltwise coefficients apply to SUM only");
  if (sum && p.coeff_size() != 0 && p.coeff_size() != n) {
    Fail(i, StrCat("Eltwise SUM has ", p.coeff_size(), " coefficients for ", n, " bottoms"));
  }
  // Chained binary operators (Sum has no coefficients; Add/Mul broadcast like Caffe needs not).
  std::vector<std::string> terms;
  for (int b = 0; b < n; ++b) {
    std::string term = Bottom(i, b);
    if (sum && p.coeff_size() > 0 && p.coeff(b) != 1.f) {
      const std::string scaled = StrCat(name, "/scaled", b);
      Node("Mul", scaled, {term, FloatScalarInit(StrCat(name, "/coeff", b), p.coeff(b))}, {scaled});
      term = scaled;
    }
    terms.push_back(term);
  }
  std::string acc = terms[0];
  for (int b = 1; b < n; ++b) {
    const std::string out = b == n - 1 ? Top(i, 0) : StrCat(name, "/partial", b);
    Node(sum ? "Add" : "Mul", b == n - 1 ? name : out, {acc, terms[static_cast<std::size_t>(b)]},
         {out});
    acc = out;
  }
  if (n == 1) Node("Identity", name, {acc}, {Top(i, 0)});
}

void Exporter::ScaleOrBias(int i, bool scale) {
  const LayerParameter& lp = net_.param().layer(i);
  const std::string& name = lp.name();
  const auto& blobs = net_.layers()[static_cast<std::size_t>(i)]->blobs();
  const Blob& in = BottomBlob(i, 0);
  const int rank = in.num_axes();
  const int axis_param = scale ? lp.scale_param().axis() : lp.bias_param().axis();
  const int num_axes_param = scale ? lp.scale_param().num_axes() : lp.bias_param().num_axes();
  const int axis = in.CanonicalAxisIndex(axis_param);
  // The factor spans axes [axis, axis + num_axes) of the input; ONNX broadcasts from the
  // right, so it gets trailing ones (a parameter's dims, or an Unsqueeze of a second bottom).
  const std::string x = Bottom(i, 0);
  std::string factor;
  std::size_t next_blob = 0;
  if (lp.bottom_size() == 2) {
    const Blob& f = BottomBlob(i, 1);
    const int factor_axes = f.num_axes();
    const int trailing = rank - axis - factor_axes;
    factor = Bottom(i, 1);
    if (trailing > 0) {
      std::vector<std::int64_t> axes;
      for (int a = 0; a < trailing; ++a) axes.push_back(factor_axes + a);
      const std::string u = name + "/factor";
      Node("Unsqueeze", u, {factor, IntsInit(name + "/unsqueeze_axes", axes)}, {u});
      factor = u;
    }
  } else {
    if (blobs.empty()) Fail(i, "the layer has no parameter blob");
    const Blob& f = *blobs[next_blob++];
    (void)num_axes_param;  // the parameter blob's shape already spans num_axes axes
    factor = FloatInit(name + (scale ? "/scale" : "/bias"), f,
                       WithTrailingOnes(f.shape(), rank - axis - f.num_axes()));
  }
  const bool bias_term = scale && lp.scale_param().bias_term();
  const std::string product = bias_term ? name + "/scaled" : Top(i, 0);
  Node(scale ? "Mul" : "Add", name, {x, factor}, {product});
  if (bias_term) {
    if (next_blob >= blobs.size()) Fail(i, "bias_term is set but the layer has no bias blob");
    const Blob& b = *blobs[next_blob];
    const Blob& f = lp.bottom_size() == 2 ? BottomBlob(i, 1) : *blobs[0];
    const std::string bias =
        FloatInit(name + "/bias", b, WithTrailingOnes(f.shape(), rank - axis - f.num_axes()));
    Node("Add", name + "/add_bias", {product, bias}, {Top(i, 0)});
  }
}

void Exporter::ArgMax(int i) {
  const LayerParameter& lp = net_.param().layer(i);
  const ArgMaxParameter& p = lp.argmax_param();
  const std::string& name = lp.name();
  if (p.top_k() != 1) Fail(i, StrCat("ArgMax top_k ", p.top_k(), " does not export (only 1)"));
  if (p.has_axis()) {
    const int axis = BottomBlob(i, 0).CanonicalAxisIndex(p.axis());
    if (p.out_max_val()) {
      const std::string in = Bottom(i, 0);
      onnx::NodeProto* n = Node("ReduceMax", name, {in}, {Top(i, 0)});
      AttrInts(n, "axes", {axis});
      AttrInt(n, "keepdims", 1);
      return;
    }
    const std::string idx = name + "/index";
    onnx::NodeProto* n = Node("ArgMax", idx, {Bottom(i, 0)}, {idx});
    AttrInt(n, "axis", axis);
    AttrInt(n, "keepdims", 1);
    onnx::NodeProto* c = Node("Cast", name, {idx}, {Top(i, 0)});
    AttrInt(c, "to", onnx::TensorProto::FLOAT);  // Caffe's ArgMax top is float
    return;
  }
  if (p.out_max_val()) Fail(i, "ArgMax with out_max_val and no axis does not export");
  // Without an axis Caffe takes the argmax of each item's flattened data: N x 1 x 1.
  const std::string flat = name + "/flat", idx = name + "/index", fidx = name + "/float";
  onnx::NodeProto* f = Node("Flatten", flat, {Bottom(i, 0)}, {flat});
  AttrInt(f, "axis", 1);
  onnx::NodeProto* n = Node("ArgMax", idx, {flat}, {idx});
  AttrInt(n, "axis", 1);
  AttrInt(n, "keepdims", 1);
  onnx::NodeProto* c = Node("Cast", fidx, {idx}, {fidx});
  AttrInt(c, "to", onnx::TensorProto::FLOAT);
  // Caffe's top keeps the bottom's rank: N x 1 x 1 (x 1 ...).
  std::vector<std::int64_t> axes;
  for (int a = 2; a < TopBlob(i, 0).num_axes(); ++a) axes.push_back(a);
  if (axes.empty()) {
    Node("Identity", name, {fidx}, {Top(i, 0)});
  } else {
    Node("Unsqueeze", name, {fidx, IntsInit(name + "/axes", axes)}, {Top(i, 0)});
  }
}

void Exporter::Outputs() {
  std::vector<OnnxOutput> outputs = options_.outputs;
  if (outputs.empty()) {
    for (int idx : net_.output_blob_indices()) {
      const std::string& blob = net_.blob_names()[static_cast<std::size_t>(idx)];
      if (current_.count(blob)) outputs.push_back({blob, OnnxOutput::Append::kNone});
    }
    for (const std::string& blob : dropped_predictions_) {
      // A Split in front of the loss layer names its copy; export the blob it copies.
      std::string source = blob;
      for (const auto& [name, value] : current_) {
        if (value == current_[blob] && name == value) source = name;
      }
      bool seen = false;
      for (const OnnxOutput& o : outputs) seen = seen || o.blob == source;
      if (!seen && current_.count(source)) outputs.push_back({source, OnnxOutput::Append::kNone});
    }
  }
  if (outputs.empty()) {
    throw ConfigError("the net has no output to export; name the blobs with --outputs");
  }
  std::set<std::string> names;
  for (const OnnxOutput& out : outputs) {
    const Blob* blob = net_.blob_by_name(out.blob);
    if (!blob || !current_.count(out.blob)) {
      throw ConfigError(
          StrCat("--outputs: \"", out.blob, "\" is not a blob the exported graph computes"));
    }
    const std::string name = out.name();
    if (!names.insert(name).second) throw ConfigError(StrCat("--outputs: \"", name, "\" twice"));
    std::string value = current_[out.blob];
    onnx::ValueInfoProto* info = graph_->add_output();
    if (out.append == OnnxOutput::Append::kNone) {
      if (value != name) Node("Identity", name, {value}, {name});
      ValueInfo(info, name, *blob, onnx::TensorProto::FLOAT);
      continue;
    }
    if (blob->num_axes() < 2) {
      throw ConfigError(StrCat("--outputs: \"", out.blob, "\" has no class axis (shape ",
                               blob->shape_string(), ")"));
    }
    if (out.append == OnnxOutput::Append::kSoftmax) {
      onnx::NodeProto* n = Node("Softmax", name, {value}, {name});
      AttrInt(n, "axis", 1);
      ValueInfo(info, name, *blob, onnx::TensorProto::FLOAT);
    } else {
      onnx::NodeProto* n = Node("ArgMax", name, {value}, {name});
      AttrInt(n, "axis", 1);
      AttrInt(n, "keepdims", 1);
      ValueInfo(info, name, *blob, onnx::TensorProto::INT64);
      info->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(
          1);
    }
  }
}

}  // namespace

void ExportOnnx(const Net& net, const NetParameter& analysed, const OnnxExportOptions& options,
                onnx::ModelProto* model, std::vector<std::string>* notes) {
  Exporter(net, analysed, options, model, notes).Run();
}

void WriteOnnxModel(const onnx::ModelProto& model, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw RuntimeError(StrCat("cannot open ", path, " for writing"));
  if (!model.SerializeToOstream(&out) || !out.flush()) {
    throw RuntimeError(StrCat("writing ", path, " failed"));
  }
}

}  // namespace fcn
