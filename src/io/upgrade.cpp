// SPDX-License-Identifier: BSD-2-Clause
// In-memory upgrades of old net definitions, as Caffe's upgrade_proto.cpp: the V1 form
// (`layers`, enum types) and the deprecated net-level input fields.
#include <google/protobuf/descriptor.h>

#include <map>

#include "fcn/io.h"

namespace fcn {

namespace pb = google::protobuf;

namespace {

std::string V1TypeName(V1LayerParameter::LayerType type) {
  static const std::map<V1LayerParameter::LayerType, std::string> names = {
      {V1LayerParameter::NONE, ""},
      {V1LayerParameter::ABSVAL, "AbsVal"},
      {V1LayerParameter::ACCURACY, "Accuracy"},
      {V1LayerParameter::ARGMAX, "ArgMax"},
      {V1LayerParameter::BNLL, "BNLL"},
      {V1LayerParameter::CONCAT, "Concat"},
      {V1LayerParameter::CONTRASTIVE_LOSS, "ContrastiveLoss"},
      {V1LayerParameter::CONVOLUTION, "Convolution"},
      {V1LayerParameter::DATA, "Data"},
      {V1LayerParameter::DECONVOLUTION, "Deconvolution"},
      {V1LayerParameter::DROPOUT, "Dropout"},
      {V1LayerParameter::DUMMY_DATA, "DummyData"},
      {V1LayerParameter::EUCLIDEAN_LOSS, "EuclideanLoss"},
      {V1LayerParameter::ELTWISE, "Eltwise"},
      {V1LayerParameter::EXP, "Exp"},
      {V1LayerParameter::FLATTEN, "Flatten"},
      {V1LayerParameter::HDF5_DATA, "HDF5Data"},
      {V1LayerParameter::HDF5_OUTPUT, "HDF5Output"},
      {V1LayerParameter::HINGE_LOSS, "HingeLoss"},
      {V1LayerParameter::IM2COL, "Im2col"},
      {V1LayerParameter::IMAGE_DATA, "ImageData"},
      {V1LayerParameter::INFOGAIN_LOSS, "InfogainLoss"},
      {V1LayerParameter::INNER_PRODUCT, "InnerProduct"},
      {V1LayerParameter::LRN, "LRN"},
      {V1LayerParameter::MEMORY_DATA, "MemoryData"},
      {V1LayerParameter::MULTINOMIAL_LOGISTIC_LOSS, "MultinomialLogisticLoss"},
      {V1LayerParameter::MVN, "MVN"},
      {V1LayerParameter::POOLING, "Pooling"},
      {V1LayerParameter::POWER, "Power"},
      {V1LayerParameter::RELU, "ReLU"},
      {V1LayerParameter::SIGMOID, "Sigmoid"},
      {V1LayerParameter::SIGMOID_CROSS_ENTROPY_LOSS, "SigmoidCrossEntropyLoss"},
      {V1LayerParameter::SILENCE, "Silence"},
      {V1LayerParameter::SOFTMAX, "Softmax"},
      {V1LayerParameter::SOFTMAX_LOSS, "SoftmaxWithLoss"},
      {V1LayerParameter::SPLIT, "Split"},
      {V1LayerParameter::SLICE, "Slice"},
      {V1LayerParameter::TANH, "TanH"},
      {V1LayerParameter::WINDOW_DATA, "WindowData"},
      {V1LayerParameter::THRESHOLD, "Threshold"},
  };
  auto it = names.find(type);
  return it == names.end() ? "" : it->second;
}

}  // namespace

bool UpgradeNetInput(NetParameter* param) {
  if (param->input_size() == 0 && param->input_dim_size() == 0 && param->input_shape_size() == 0) {
    return false;
  }
  const int num_inputs = param->input_size();
  if (param->input_dim_size() > 0 && param->input_dim_size() != 4 * num_inputs) {
    throw ConfigError(StrCat("net input: ", param->input_dim_size(), " input_dim values for ",
                             num_inputs, " input(s); give 4 per input"));
  }
  if (param->input_shape_size() > 0 && param->input_shape_size() != num_inputs) {
    throw ConfigError(StrCat("net input: ", param->input_shape_size(), " input_shape entries for ",
                             num_inputs, " input(s); give one per input"));
  }
  LayerParameter input;
  input.set_name("input");
  input.set_type("Input");
  for (int i = 0; i < num_inputs; ++i) {
    input.add_top(param->input(i));
    if (param->input_shape_size() > 0) {
      *input.mutable_input_param()->add_shape() = param->input_shape(i);
    } else if (param->input_dim_size() > 0) {
      BlobShape* shape = input.mutable_input_param()->add_shape();
      for (int d = 0; d < 4; ++d) shape->add_dim(param->input_dim(4 * i + d));
    }
  }
  NetParameter upgraded = *param;
  upgraded.clear_layer();
  *upgraded.add_layer() = input;
  for (const LayerParameter& layer : param->layer()) *upgraded.add_layer() = layer;
  upgraded.clear_input();
  upgraded.clear_input_dim();
  upgraded.clear_input_shape();
  *param = std::move(upgraded);
  return true;
}

LayerParameter UpgradeV1Layer(const std::string& what, const V1LayerParameter& v1) {
  if (v1.has_layer()) {
    throw ConfigError(StrCat(what, ": layer \"", v1.name(),
                             "\" uses the V0 layer format (a `layer` inside `layers`), which fcn "
                             "does not read; upgrade the file with Caffe's upgrade_net_proto_text "
                             "/ upgrade_net_proto_binary tools first"));
  }
  LayerParameter out;
  out.set_name(v1.name());
  out.set_type(V1TypeName(v1.type()));
  out.mutable_bottom()->CopyFrom(v1.bottom());
  out.mutable_top()->CopyFrom(v1.top());
  out.mutable_include()->CopyFrom(v1.include());
  out.mutable_exclude()->CopyFrom(v1.exclude());
  out.mutable_blobs()->CopyFrom(v1.blobs());
  out.mutable_loss_weight()->CopyFrom(v1.loss_weight());
  const int num_params = std::max(
      {v1.param_size(), v1.blob_share_mode_size(), v1.blobs_lr_size(), v1.weight_decay_size()});
  for (int i = 0; i < num_params; ++i) {
    ParamSpec* spec = out.add_param();
    if (i < v1.param_size()) spec->set_name(v1.param(i));
    if (i < v1.blob_share_mode_size()) {
      spec->set_share_mode(v1.blob_share_mode(i) == V1LayerParameter::PERMISSIVE
                               ? ParamSpec::PERMISSIVE
                               : ParamSpec::STRICT);
    }
    if (i < v1.blobs_lr_size()) spec->set_lr_mult(v1.blobs_lr(i));
    if (i < v1.weight_decay_size()) spec->set_decay_mult(v1.weight_decay(i));
  }
  // Every *_param sub-message keeps its name and type; only the field number differs.
  const pb::Reflection* from_refl = v1.GetReflection();
  const pb::Reflection* to_refl = out.GetReflection();
  std::vector<const pb::FieldDescriptor*> fields;
  from_refl->ListFields(v1, &fields);
  for (const pb::FieldDescriptor* field : fields) {
    if (field->type() != pb::FieldDescriptor::TYPE_MESSAGE || field->is_repeated()) continue;
    const std::string& name = field->name();
    if (name.size() < 6 || name.compare(name.size() - 6, 6, "_param") != 0) continue;
    const pb::FieldDescriptor* target = LayerParameter::descriptor()->FindFieldByName(name);
    if (target == nullptr) continue;
    to_refl->MutableMessage(&out, target)->CopyFrom(from_refl->GetMessage(v1, field));
  }
  // Old Data layers kept transformation settings inside data_param.
  if (out.has_data_param()) {
    DataParameter* data = out.mutable_data_param();
    TransformationParameter* transform = out.mutable_transform_param();
    if (data->has_scale()) transform->set_scale(data->scale());
    if (data->has_mean_file()) transform->set_mean_file(data->mean_file());
    if (data->has_crop_size()) transform->set_crop_size(data->crop_size());
    if (data->has_mirror()) transform->set_mirror(data->mirror());
    data->clear_scale();
    data->clear_mean_file();
    data->clear_crop_size();
    data->clear_mirror();
    if (transform->ByteSizeLong() == 0) out.clear_transform_param();
  }
  return out;
}

bool UpgradeNetAsNeeded(const std::string& what, NetParameter* param) {
  bool changed = false;
  if (param->layers_size() > 0) {
    if (param->layer_size() > 0) {
      throw ConfigError(StrCat(what,
                               ": the net uses both `layer` (current) and `layers` (V1) "
                               "fields; use one"));
    }
    for (const V1LayerParameter& v1 : param->layers())
      *param->add_layer() = UpgradeV1Layer(what, v1);
    param->clear_layers();
    changed = true;
  }
  if (param->input_size() > 0 || param->input_dim_size() > 0 || param->input_shape_size() > 0) {
    try {
      changed = UpgradeNetInput(param) || changed;
    } catch (const ConfigError& e) {
      throw ConfigError(StrCat(what, ": ", e.message()));
    }
  }
  return changed;
}

}  // namespace fcn
