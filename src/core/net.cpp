// SPDX-License-Identifier: BSD-2-Clause
// Net construction and execution, following Caffe's net.cpp step by step (see the comments
// in include/fcn/net.h and fcn-reference §3). User errors become ConfigErrors located at the
// layer's text.
#include "fcn/net.h"

#include <glog/logging.h>

#include <algorithm>
#include <exception>
#include <map>
#include <set>

#include "fcn/gpu.h"
#include "fcn/layer_registry.h"
#include "io/hdf5.h"

namespace fcn {

Net::Net(const NetParameter& param, const NetSource* source) : Net(param, Options(), source) {}

Net::Net(const NetParameter& param, const Options& options, const NetSource* source, Rng* rng)
    : ctx_(std::make_unique<ExecContext>(options)) {
  if (options.precision == Precision::kBfloat16 && options.device == Device::kCpu) {
    std::string why;
    if (!PrecisionAvailableOnCpu(options.precision, &why)) {
      throw ConfigError(
          StrCat("precision bf16: ", why, "; run in fp32 (--precision=fp32, the default)"));
    }
  }
  if (options.precision == Precision::kBfloat16 && options.device == Device::kCuda) {
    // bf16 tensor-core math (cuDNN, cuBLAS) starts with Ampere; older devices would emulate it
    // slower than fp32 or refuse it call by call.
    const int cc = gpu::ComputeCapability(options.device_id);
    if (cc < 80) {
      throw ConfigError(StrCat("precision bf16: GPU ", options.device_id,
                               " has compute capability ", cc / 10, ".", cc % 10,
                               "; bf16 needs 8.0 or later (Ampere, Hopper)",
                               "; run in fp32 (--precision=fp32, the default)"));
    }
  }
  if (rng == nullptr) {
    own_rng_ = std::make_unique<Rng>(options.random_seed);
    rng = own_rng_.get();
  }
  rng_ = rng;
  if (source) source_ = *source;
  Init(param);
}

Net::~Net() = default;

void Net::SetState(const NetStateOptions& state, NetParameter* param) {
  NetState* s = param->mutable_state();
  s->set_phase(state.phase);
  s->set_level(state.level);
  for (const std::string& stage : state.stages) s->add_stage(stage);
}

std::unique_ptr<Net> Net::FromFile(const std::string& path, const NetStateOptions& state,
                                   const Options& options, Rng* rng) {
  NetSource source;
  NetParameter param = ReadNetParamFromTextFile(path, &source);
  SetState(state, &param);
  return std::make_unique<Net>(param, options, &source, rng);
}

SourceLocation Net::layer_location(int i) const {
  if (i >= 0 && static_cast<std::size_t>(i) < layer_locations_.size()) {
    return layer_locations_[static_cast<std::size_t>(i)];
  }
  return SourceLocation{source_.path, 0, 0};
}

void Net::ThrowAt(int layer_id, const std::string& message) const {
  const LayerParameter& lp = param_.layer(layer_id);
  throw ConfigError(layer_location(layer_id), lp.name(), lp.type(), message);
}

void Net::ThrowOutOfMemory(int layer_id, const char* pass, const std::string& what) const {
  const LayerParameter& lp = param_.layer(layer_id);
  const SourceLocation where = layer_location(layer_id);
  throw RuntimeError(StrCat(where.known() ? where.ToString() + ": " : "", "layer \"", lp.name(),
                            "\" (", lp.type(), "): ", what, " in its ", pass,
                            " pass (fcntool's --max_memory checks a net's planned memory "
                            "before it runs)"));
}

namespace {
// A layer's runtime failure (a Python layer's exception, for one) named by the layer and
// its place in the prototxt, as a RuntimeError still (fcntool: exit 1).
[[noreturn]] void ThrowLocatedRuntime(const SourceLocation& where, const LayerParameter& lp,
                                      const RuntimeError& e) {
  const std::string prefix = StrCat(where.known() ? where.ToString() + ": " : "", "error: layer \"",
                                    lp.name(), "\" (", lp.type(), "): ");
  const std::string what = e.what();
  if (what.compare(0, prefix.size(), prefix) == 0) throw e;
  throw RuntimeError(prefix + what);
}
}  // namespace

void Net::Rethrow(int layer_id, const ConfigError& e) const {
  if (e.located()) throw e;
  ThrowAt(layer_id, e.message());
}

void Net::Init(const NetParameter& in_param) {
  PrepareParam(in_param);
  const int num_layers = param_.layer_size();
  bottom_vecs_.resize(static_cast<std::size_t>(num_layers));
  top_vecs_.resize(static_cast<std::size_t>(num_layers));
  bottom_id_vecs_.resize(static_cast<std::size_t>(num_layers));
  top_id_vecs_.resize(static_cast<std::size_t>(num_layers));
  bottom_need_backward_.resize(static_cast<std::size_t>(num_layers));

  std::map<std::string, int> available;  // blob name -> index; sorted, as Caffe's std::set
  std::map<std::string, int> blob_name_to_idx;
  for (int layer_id = 0; layer_id < num_layers; ++layer_id) {
    AddLayer(layer_id, &available, &blob_name_to_idx);
  }
  PruneBackward();
  if (param_.force_backward()) ForceBackward();
  // What is left unconsumed is the net's output, sorted by blob name.
  for (const auto& kv : available) {
    output_blob_indices_.push_back(kv.second);
    output_blobs_.push_back(blobs_[static_cast<std::size_t>(kv.second)].get());
  }
  blob_index_ = blob_name_to_idx;
  ShareParams();
}

void Net::PrepareParam(const NetParameter& in_param) {
  phase_ = in_param.state().phase();
  std::vector<int> kept;
  NetParameter filtered;
  try {
    filtered = FilterNet(in_param, &kept);
  } catch (const ConfigError& e) {
    throw ConfigError(SourceLocation{source_.path, 0, 0}, "", "", e.message());
  }
  std::vector<int> origin;
  param_ = InsertSplits(filtered, &origin);
  for (int o : origin) {
    layer_locations_.push_back(source_.LayerLocation(kept[static_cast<std::size_t>(o)]));
  }
  name_ = param_.name();
}

Layer* Net::CreateLayer(int layer_id) {
  if (!param_.layer(layer_id).has_phase()) param_.mutable_layer(layer_id)->set_phase(phase_);
  const LayerParameter& lp = param_.layer(layer_id);
  if (lp.propagate_down_size() > 0 && lp.propagate_down_size() != lp.bottom_size()) {
    ThrowAt(layer_id,
            StrCat("propagate_down must be given 0 times or once per bottom: ",
                   lp.propagate_down_size(), " values for ", lp.bottom_size(), " bottoms"));
  }
  try {
    layers_.push_back(LayerRegistry::Builtin().Create(lp));
  } catch (const ConfigError& e) {
    Rethrow(layer_id, e);
  } catch (const OutOfMemoryError&) {
    throw;
  } catch (const RuntimeError& e) {
    ThrowLocatedRuntime(layer_location(layer_id), lp, e);
  }
  if (const auto first = layer_index_.find(lp.name()); first != layer_index_.end()) {
    // Weights are copied by layer name: a second layer of the same name in one phase would
    // silently take (or give) the first one's parameters. Other phases may reuse a name.
    const SourceLocation where = layer_location(first->second);
    ThrowAt(layer_id, StrCat("the layer name \"", lp.name(), "\" is already used by the layer at ",
                             where.known() ? where.ToString() : "an earlier layer",
                             " in this phase; layer names must be unique within a phase"));
  }
  layer_index_[lp.name()] = layer_id;
  layer_names_.push_back(lp.name());
  return layers_.back().get();
}

void Net::AddLayer(int layer_id, std::map<std::string, int>* available,
                   std::map<std::string, int>* blob_name_to_idx) {
  const auto lid = static_cast<std::size_t>(layer_id);
  Layer* layer = CreateLayer(layer_id);
  const LayerParameter& lp = param_.layer(layer_id);

  bool need_backward = false;
  for (int bottom_id = 0; bottom_id < lp.bottom_size(); ++bottom_id) {
    const int blob_id = AppendBottom(lp, layer_id, bottom_id, available, blob_name_to_idx);
    need_backward = need_backward || blob_need_backward_[static_cast<std::size_t>(blob_id)];
  }
  int num_top = lp.top_size();
  for (int top_id = 0; top_id < num_top; ++top_id) {
    AppendTop(lp, layer_id, top_id, available, blob_name_to_idx);
    if (lp.type() == "Input") {
      const int blob_id = (*blob_name_to_idx)[lp.top(top_id)];
      input_blob_indices_.push_back(blob_id);
      input_blobs_.push_back(blobs_[static_cast<std::size_t>(blob_id)].get());
    }
  }
  if (layer->schema().auto_top) {
    for (; num_top < layer->schema().min_tops; ++num_top) {
      AppendTop(lp, layer_id, num_top, nullptr, nullptr);
    }
  }

  SetUpLayer(layer_id);
  need_backward = AppendParams(layer_id) || need_backward;
  layer_need_backward_.push_back(need_backward);
  if (need_backward) {
    for (int blob_id : top_id_vecs_[lid])
      blob_need_backward_[static_cast<std::size_t>(blob_id)] = true;
  }
}

void Net::SetUpLayer(int layer_id) {
  const auto lid = static_cast<std::size_t>(layer_id);
  Layer* layer = layers_[lid].get();
  // A bottom that no layer has shaped (an Input without input_param.shape) has no axes and no
  // elements; a layer would read it as a scalar (fuzz_prototxt's prototxt-crash-ace454d7…:
  // Split's ShareData then failed its internal check and aborted).
  for (std::size_t b = 0; b < bottom_vecs_[lid].size(); ++b) {
    const Blob& bottom = *bottom_vecs_[lid][b];
    if (bottom.shape().empty() && bottom.count() == 0) {
      const LayerParameter& lp = param_.layer(layer_id);
      throw ConfigError(layer_location(layer_id), lp.name(), lp.type(),
                        StrCat("bottom \"", lp.bottom(static_cast<int>(b)),
                               "\" has no shape: the layer that makes it gave it none (an "
                               "Input layer needs input_param { shape { dim: ... } })"));
    }
  }
  try {
    layer->set_options(ctx_->options());
    layer->set_rng(rng_);
    layer->SetUp(bottom_vecs_[lid], top_vecs_[lid]);
  } catch (const ConfigError& e) {
    Rethrow(layer_id, e);
  } catch (const OutOfMemoryError& e) {
    ThrowOutOfMemory(layer_id, "set-up", e.what());
  } catch (const std::bad_alloc&) {
    ThrowOutOfMemory(layer_id, "set-up", "out of memory");
  } catch (const RuntimeError& e) {
    ThrowLocatedRuntime(layer_location(layer_id), param_.layer(layer_id), e);
  }
  for (std::size_t top_id = 0; top_id < top_vecs_[lid].size(); ++top_id) {
    const auto blob_id = static_cast<std::size_t>(top_id_vecs_[lid][top_id]);
    if (blob_loss_weights_.size() <= blob_id) blob_loss_weights_.resize(blob_id + 1, 0.0f);
    blob_loss_weights_[blob_id] = layer->loss(static_cast<int>(top_id));
  }
}

bool Net::AppendParams(int layer_id) {
  Layer* layer = layers_[static_cast<std::size_t>(layer_id)].get();
  const LayerParameter& lp = param_.layer(layer_id);
  const int num_param_blobs = static_cast<int>(layer->blobs().size());
  if (lp.param_size() > num_param_blobs) {
    ThrowAt(layer_id, StrCat("too many param specs: ", lp.param_size(), " given, the layer has ",
                             num_param_blobs, " parameter blob(s)"));
  }
  bool need_backward = false;
  const ParamSpec default_spec;
  for (int param_id = 0; param_id < num_param_blobs; ++param_id) {
    const ParamSpec& spec = param_id < lp.param_size() ? lp.param(param_id) : default_spec;
    const bool param_need_backward = spec.lr_mult() != 0;
    need_backward = need_backward || param_need_backward;
    layer->set_param_propagate_down(param_id, param_need_backward);
  }
  for (int param_id = 0; param_id < num_param_blobs; ++param_id) {
    AppendParam(lp, layer_id, param_id);
  }
  return need_backward;
}

void Net::PruneBackward() {
  // Walk backwards: a layer needs backward only if it contributes to the loss and some top
  // gets a gradient.
  std::set<std::string> blobs_under_loss;
  std::set<std::string> blobs_skip_backp;
  for (int layer_id = static_cast<int>(layers_.size()) - 1; layer_id >= 0; --layer_id) {
    const auto lid = static_cast<std::size_t>(layer_id);
    bool contributes_loss = false;
    bool skip_propagate_down = true;
    for (std::size_t top_id = 0; top_id < top_vecs_[lid].size(); ++top_id) {
      const std::string& blob_name =
          blob_names_[static_cast<std::size_t>(top_id_vecs_[lid][top_id])];
      if (layers_[lid]->loss(static_cast<int>(top_id)) != 0 || blobs_under_loss.count(blob_name)) {
        contributes_loss = true;
      }
      if (blobs_skip_backp.count(blob_name) == 0) skip_propagate_down = false;
      if (contributes_loss && !skip_propagate_down) break;
    }
    if (layer_need_backward_[lid] && skip_propagate_down) {
      layer_need_backward_[lid] = false;
      for (std::size_t b = 0; b < bottom_vecs_[lid].size(); ++b)
        bottom_need_backward_[lid][b] = false;
    }
    if (!contributes_loss) layer_need_backward_[lid] = false;
    for (std::size_t b = 0; b < bottom_vecs_[lid].size(); ++b) {
      const std::string& blob_name = blob_names_[static_cast<std::size_t>(bottom_id_vecs_[lid][b])];
      if (contributes_loss) {
        blobs_under_loss.insert(blob_name);
      } else {
        bottom_need_backward_[lid][b] = false;
      }
      if (!bottom_need_backward_[lid][b]) blobs_skip_backp.insert(blob_name);
    }
    VLOG(1) << layer_names_[lid]
            << (layer_need_backward_[lid] ? " needs backward computation."
                                          : " does not need backward computation.");
  }
}

void Net::ForceBackward() {
  for (std::size_t lid = 0; lid < layers_.size(); ++lid) {
    layer_need_backward_[lid] = true;
    for (std::size_t b = 0; b < bottom_vecs_[lid].size(); ++b) {
      const bool need =
          bottom_need_backward_[lid][b] || layers_[lid]->AllowForceBackward(static_cast<int>(b));
      bottom_need_backward_[lid][b] = need;
      const auto blob_id = static_cast<std::size_t>(bottom_id_vecs_[lid][b]);
      blob_need_backward_[blob_id] = blob_need_backward_[blob_id] || need;
    }
    for (std::size_t p = 0; p < layers_[lid]->blobs().size(); ++p) {
      layers_[lid]->set_param_propagate_down(static_cast<int>(p), true);
    }
  }
}

void Net::ShareParams() {
  // Parameter sharing: sharers use the owner's data and diff.
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (param_owners_[i] < 0) continue;
    const auto& owner = params_[static_cast<std::size_t>(param_owners_[i])];
    params_[i]->ShareData(*owner);
    params_[i]->ShareDiff(*owner);
  }
}

int Net::AppendBottom(const LayerParameter& lp, int layer_id, int bottom_id,
                      std::map<std::string, int>* available,
                      std::map<std::string, int>* blob_name_to_idx) {
  const std::string& blob_name = lp.bottom(bottom_id);
  auto it = available->find(blob_name);
  if (it == available->end()) {
    std::string hint;
    if (blob_name_to_idx->count(blob_name)) {
      hint =
          " (it was already consumed by an earlier layer; a blob produced once is available to "
          "the layers after it until a layer uses it in place)";
    }
    ThrowAt(layer_id,
            StrCat("unknown bottom blob \"", blob_name, "\" (bottom index ", bottom_id, ")", hint));
  }
  const int blob_id = (*blob_name_to_idx)[blob_name];
  const auto lid = static_cast<std::size_t>(layer_id);
  bottom_vecs_[lid].push_back(blobs_[static_cast<std::size_t>(blob_id)].get());
  bottom_id_vecs_[lid].push_back(blob_id);
  available->erase(blob_name);
  bool need_backward = blob_need_backward_[static_cast<std::size_t>(blob_id)];
  if (lp.propagate_down_size() > 0) need_backward = lp.propagate_down(bottom_id);
  bottom_need_backward_[lid].push_back(need_backward);
  return blob_id;
}

void Net::AppendTop(const LayerParameter& lp, int layer_id, int top_id,
                    std::map<std::string, int>* available,
                    std::map<std::string, int>* blob_name_to_idx) {
  const auto lid = static_cast<std::size_t>(layer_id);
  const std::string blob_name = lp.top_size() > top_id ? lp.top(top_id) : "(automatic)";
  if (blob_name_to_idx && lp.bottom_size() > top_id && blob_name == lp.bottom(top_id)) {
    if (!layers_[lid]->schema().in_place) {
      ThrowAt(layer_id, StrCat(lp.type(), " cannot compute in place (top \"", blob_name,
                               "\" is also its bottom); give the top another name"));
    }
    const int blob_id = (*blob_name_to_idx)[blob_name];
    top_vecs_[lid].push_back(blobs_[static_cast<std::size_t>(blob_id)].get());
    top_id_vecs_[lid].push_back(blob_id);
  } else if (blob_name_to_idx && blob_name_to_idx->count(blob_name)) {
    ThrowAt(layer_id, StrCat("top blob \"", blob_name,
                             "\" is produced by multiple sources (a top may reuse a name only "
                             "as the same-index bottom, for in-place computation)"));
  } else {
    auto blob = std::make_shared<Blob>();
    blob->set_host_pool(host_pool_);
    const int blob_id = static_cast<int>(blobs_.size());
    blobs_.push_back(blob);
    blob_names_.push_back(blob_name);
    blob_need_backward_.push_back(false);
    if (blob_name_to_idx) (*blob_name_to_idx)[blob_name] = blob_id;
    top_id_vecs_[lid].push_back(blob_id);
    top_vecs_[lid].push_back(blob.get());
  }
  if (available) (*available)[blob_name] = (*blob_name_to_idx)[blob_name];
}

void Net::AppendParam(const LayerParameter& lp, int layer_id, int param_id) {
  const auto lid = static_cast<std::size_t>(layer_id);
  const std::string param_name = lp.param_size() > param_id ? lp.param(param_id).name() : "";
  param_display_names_.push_back(param_name.empty() ? std::to_string(param_id) : param_name);
  const int net_param_id = static_cast<int>(params_.size());
  params_.push_back(layers_[lid]->blobs()[static_cast<std::size_t>(param_id)]);
  param_layer_indices_.emplace_back(layer_id, param_id);
  const ParamSpec default_spec;
  const ParamSpec& spec = lp.param_size() > param_id ? lp.param(param_id) : default_spec;
  if (param_name.empty() || param_names_index_.count(param_name) == 0) {
    // This layer owns the blob.
    param_owners_.push_back(-1);
    // A net that trains reuses the buffers its parameters change layout through (a test net
    // sharing them converts them each pass); one that does not converts them once (the kept
    // oneDNN weight layout), and pooling the old plain buffers would keep them all: 411 MB
    // for fc6 of FCN-8s.
    if (phase_ != TEST) params_.back()->set_host_pool(host_pool_);
    if (!param_name.empty()) param_names_index_[param_name] = net_param_id;
    const int learnable_id = static_cast<int>(learnable_params_.size());
    learnable_params_.push_back(params_.back().get());
    learnable_param_ids_.push_back(learnable_id);
    has_params_lr_.push_back(spec.has_lr_mult());
    has_params_decay_.push_back(spec.has_decay_mult());
    params_lr_.push_back(spec.lr_mult());
    params_weight_decay_.push_back(spec.decay_mult());
    return;
  }
  // A name seen before: share the owner's blob.
  const int owner_id = param_names_index_[param_name];
  param_owners_.push_back(owner_id);
  const auto [owner_layer, owner_param] = param_layer_indices_[static_cast<std::size_t>(owner_id)];
  const Blob& mine = *layers_[lid]->blobs()[static_cast<std::size_t>(param_id)];
  const Blob& owner = *layers_[static_cast<std::size_t>(owner_layer)]
                           ->blobs()[static_cast<std::size_t>(owner_param)];
  const std::string& owner_name = layer_names_[static_cast<std::size_t>(owner_layer)];
  if (spec.share_mode() == ParamSpec::PERMISSIVE) {
    if (mine.count() != owner.count()) {
      ThrowAt(layer_id, StrCat("cannot share param \"", param_name, "\" owned by layer \"",
                               owner_name, "\": count mismatch (owner shape ", owner.shape_string(),
                               ", this shape ", mine.shape_string(), ")"));
    }
  } else if (mine.shape() != owner.shape()) {
    ThrowAt(layer_id,
            StrCat("cannot share param \"", param_name, "\" owned by layer \"", owner_name,
                   "\": shape mismatch (owner shape ", owner.shape_string(), ", this shape ",
                   mine.shape_string(), "); use share_mode: PERMISSIVE to compare counts only"));
  }
  const int learnable_id = learnable_param_ids_[static_cast<std::size_t>(owner_id)];
  learnable_param_ids_.push_back(learnable_id);
  const auto l = static_cast<std::size_t>(learnable_id);
  if (spec.has_lr_mult()) {
    if (has_params_lr_[l] && params_lr_[l] != spec.lr_mult()) {
      ThrowAt(layer_id, StrCat("shared param \"", param_name, "\" has lr_mult ", spec.lr_mult(),
                               " here but ", params_lr_[l], " in its owner \"", owner_name, "\""));
    }
    has_params_lr_[l] = true;
    params_lr_[l] = spec.lr_mult();
  }
  if (spec.has_decay_mult()) {
    if (has_params_decay_[l] && params_weight_decay_[l] != spec.decay_mult()) {
      ThrowAt(layer_id,
              StrCat("shared param \"", param_name, "\" has decay_mult ", spec.decay_mult(),
                     " here but ", params_weight_decay_[l], " in its owner \"", owner_name, "\""));
    }
    has_params_decay_[l] = true;
    params_weight_decay_[l] = spec.decay_mult();
  }
}

float Net::ForwardFromTo(int start, int end) {
  float loss = 0;
  for (int i = start; i <= end; ++i) {
    const auto li = static_cast<std::size_t>(i);
    try {
      loss += layers_[li]->Forward(*ctx_, bottom_vecs_[li], top_vecs_[li]);
    } catch (const ConfigError& e) {
      Rethrow(i, e);
    } catch (const OutOfMemoryError& e) {
      ThrowOutOfMemory(i, "forward", e.what());
    } catch (const std::bad_alloc&) {
      ThrowOutOfMemory(i, "forward", "out of memory");
    } catch (const RuntimeError& e) {
      ThrowLocatedRuntime(layer_location(i), param_.layer(i), e);
    }
    ReleaseConsumedData(i);
  }
  return loss;
}

float Net::Forward() { return ForwardFromTo(0, static_cast<int>(layers_.size()) - 1); }

void Net::BackwardFromTo(int start, int end) {
  for (int i = start; i >= end; --i) {
    const auto li = static_cast<std::size_t>(i);
    if (!layer_need_backward_[li]) {
      ReleaseConsumedDiffs(i);
      if (after_backward_) after_backward_(i);
      continue;
    }
    try {
      layers_[li]->Backward(*ctx_, top_vecs_[li], bottom_need_backward_[li], bottom_vecs_[li]);
    } catch (const ConfigError& e) {
      Rethrow(i, e);
    } catch (const OutOfMemoryError& e) {
      ThrowOutOfMemory(i, "backward", e.what());
    } catch (const std::bad_alloc&) {
      ThrowOutOfMemory(i, "backward", "out of memory");
    } catch (const RuntimeError& e) {
      ThrowLocatedRuntime(layer_location(i), param_.layer(i), e);
    }
    ReleaseConsumedDiffs(i);
    if (after_backward_) after_backward_(i);
  }
}

void Net::Backward() { BackwardFromTo(static_cast<int>(layers_.size()) - 1, 0); }

void Net::Reshape() {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    try {
      layers_[i]->Reshape(bottom_vecs_[i], top_vecs_[i]);
    } catch (const ConfigError& e) {
      Rethrow(static_cast<int>(i), e);
    } catch (const OutOfMemoryError&) {
      throw;
    } catch (const RuntimeError& e) {
      ThrowLocatedRuntime(layer_location(static_cast<int>(i)), param_.layer(static_cast<int>(i)),
                          e);
    }
  }
}

void Net::UseDevice(Device device, int device_id) {
  if (ctx_ && ctx_->device() == device && ctx_->device_id() == device_id) return;
  Options options = ctx_->options();
  options.device = device;
  options.device_id = device_id;
  ctx_ = std::make_unique<ExecContext>(options);
  for (const auto& layer : layers_) layer->set_options(options);
}

void Net::ClearParamDiffs() {
  for (Blob* b : learnable_params_) b->ZeroDiff();
}

Blob* Net::blob_by_name(const std::string& name) const {
  auto it = blob_index_.find(name);
  return it == blob_index_.end() ? nullptr : blobs_[static_cast<std::size_t>(it->second)].get();
}

Layer* Net::layer_by_name(const std::string& name) const {
  const int i = layer_index(name);
  return i < 0 ? nullptr : layers_[static_cast<std::size_t>(i)].get();
}

int Net::layer_index(const std::string& name) const {
  auto it = layer_index_.find(name);
  return it == layer_index_.end() ? -1 : it->second;
}

void Net::CopyTrainedLayersFrom(const NetParameter& weights, const std::string& what,
                                std::vector<std::string>* ignored) {
  for (const LayerParameter& source : weights.layer()) CopyTrainedLayer(source, what, ignored);
}

void Net::CopyTrainedLayer(const LayerParameter& source, const std::string& what,
                           std::vector<std::string>* ignored,
                           const std::vector<std::int64_t>& delivered) {
  const int target_id = layer_index(source.name());
  if (target_id < 0) {
    VLOG(1) << "Ignoring source layer " << source.name();
    if (ignored) ignored->push_back(source.name());
    return;
  }
  auto& target_blobs = layers_[static_cast<std::size_t>(target_id)]->blobs();
  if (static_cast<int>(target_blobs.size()) != source.blobs_size()) {
    throw ConfigError(StrCat(what, ": layer \"", source.name(), "\" has ", source.blobs_size(),
                             " parameter blob(s) in the file but ", target_blobs.size(),
                             " in the net; rename the layer in the net to learn it from "
                             "scratch"));
  }
  for (int j = 0; j < source.blobs_size(); ++j) {
    Blob& target = *target_blobs[static_cast<std::size_t>(j)];
    if (!target.ShapeEquals(source.blobs(j))) {
      throw ConfigError(StrCat(what, ": cannot copy parameter ", j, " of layer \"", source.name(),
                               "\": shape mismatch, the file has ",
                               ShapeString(ProtoShape(source.blobs(j))), ", the net expects ",
                               target.shape_string(),
                               "; rename the layer in the net to learn it from scratch"));
    }
    try {
      const auto jj = static_cast<std::size_t>(j);
      target.FromProto(source.blobs(j), /*reshape=*/false,
                       jj < delivered.size() ? delivered[jj] : -1);
    } catch (const ConfigError& e) {
      throw ConfigError(
          StrCat(what, ": layer \"", source.name(), "\" parameter ", j, ": ", e.message()));
    }
  }
}

void WeightsTally::Add(const LayerParameter& layer, const Net& net) {
  ++layers;
  blobs += static_cast<std::size_t>(layer.blobs_size());
  if (layer.blobs_size() == 0) return;
  if (layers_with_params++ < 5) with_params.push_back(layer.name());
  const Layer* target = net.layer_by_name(layer.name());
  names_a_layer = names_a_layer || target != nullptr;
  names_a_parametric_layer =
      names_a_parametric_layer || (target != nullptr && !target->blobs().empty());
}

void Net::CheckWeightsSetAParameter(const NetParameter& weights, const std::string& file) const {
  WeightsTally tally;
  for (const LayerParameter& source : weights.layer()) tally.Add(source, *this);
  CheckWeightsSetAParameter(tally, file);
}

void Net::CheckWeightsSetAParameter(const WeightsTally& tally, const std::string& file) const {
  std::size_t net_params = 0;
  for (const auto& layer : layers_) net_params += layer->blobs().size();
  if (net_params == 0 || tally.names_a_layer) return;
  throw ConfigError(StrCat(file, ": sets no parameter of net \"", name_, "\" (the file holds ",
                           tally.layers, " layer(s) with ", tally.blobs,
                           " parameter blob(s) in all; the net has ", net_params,
                           "): is it truncated, or the weights of another net?"));
}

void Net::CopyTrainedLayersFromFile(const std::string& path, std::vector<std::string>* ignored) {
  CopyTrainedLayersFromFile(
      path, ignored, [&](const WeightsTally& tally) { CheckWeightsSetAParameter(tally, path); });
}

void Net::CopyTrainedLayersFromFile(const std::string& path, std::vector<std::string>* ignored,
                                    const std::function<void(const WeightsTally&)>& check) {
  // Copied as the layers come; the first copy error is held until the whole file has been
  // tallied and checked, so that the check's error comes first, as when the file was read
  // whole and checked before the copy.
  // The values of a blob whose element count matches go straight from the file into it; its
  // shape is checked when the layer is complete (the file's shape follows the values).
  WeightsTally tally;
  std::exception_ptr copy_error;
  const WeightsSink sink = [&](const std::string& name, int j, std::int64_t count) -> float* {
    const Layer* target = copy_error ? nullptr : layer_by_name(name);
    if (target == nullptr || j >= static_cast<int>(target->blobs().size())) return nullptr;
    Blob& blob = *target->blobs()[static_cast<std::size_t>(j)];
    if (blob.count() != count) return nullptr;
    return static_cast<float*>(blob.data_memory().mutable_host_data_in(nullptr, true));
  };
  const WeightsVisitor visit = [&](const LayerParameter& layer,
                                   const std::vector<std::int64_t>& delivered) {
    tally.Add(layer, *this);
    if (copy_error) return;
    try {
      CopyTrainedLayer(layer, path, ignored, delivered);
    } catch (const ConfigError&) {
      copy_error = std::current_exception();
    }
  };
  ForEachWeightsLayer(path, visit, sink);
  check(tally);
  if (copy_error) std::rethrow_exception(copy_error);
}

void Net::ShareTrainedLayersWith(const Net& other) {
  for (std::size_t i = 0; i < other.layers_.size(); ++i) {
    const int target_id = layer_index(other.layer_names_[i]);
    if (target_id < 0) continue;
    auto& target_blobs = layers_[static_cast<std::size_t>(target_id)]->blobs();
    const auto& source_blobs = other.layers_[i]->blobs();
    if (target_blobs.size() != source_blobs.size()) {
      throw ConfigError(StrCat("layer \"", other.layer_names_[i], "\" has ", source_blobs.size(),
                               " parameter blobs in one net and ", target_blobs.size(),
                               " in the other"));
    }
    for (std::size_t j = 0; j < target_blobs.size(); ++j) {
      if (target_blobs[j]->shape() != source_blobs[j]->shape()) {
        throw ConfigError(StrCat("layer \"", other.layer_names_[i], "\" parameter ", j,
                                 ": shapes differ (", source_blobs[j]->shape_string(), " vs ",
                                 target_blobs[j]->shape_string(), ")"));
      }
      target_blobs[j]->ShareData(*source_blobs[j]);
    }
  }
}

void Net::ToProto(NetParameter* param, bool write_diff) const {
  param->Clear();
  param->set_name(name_);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    LayerParameter* lp = param->add_layer();
    *lp = layers_[i]->layer_param();
    lp->clear_blobs();
    for (const auto& blob : layers_[i]->blobs()) blob->ToProto(lp->add_blobs(), write_diff);
  }
}

void Net::ToHdf5(const std::string& path, bool write_diff) const {
  // The index into params() of each (layer, parameter) pair: a shared parameter is written
  // only by its owner, as Caffe's Net::ToHDF5 does.
  std::map<std::pair<int, int>, std::size_t> param_index;
  for (std::size_t i = 0; i < param_layer_indices_.size(); ++i) {
    param_index[param_layer_indices_[i]] = i;
  }
  std::vector<Hdf5Dataset> datasets;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const auto& blobs = layers_[l]->blobs();
    for (std::size_t j = 0; j < blobs.size(); ++j) {
      const auto it = param_index.find({static_cast<int>(l), static_cast<int>(j)});
      if (it != param_index.end() && param_owners_[it->second] != -1) continue;
      Hdf5Dataset d;
      d.layer = l;
      d.index = static_cast<int>(j);
      d.shape = blobs[j]->shape();
      d.data = blobs[j]->cpu_data();
      if (write_diff) d.diff = blobs[j]->cpu_diff();
      datasets.push_back(std::move(d));
    }
  }
  WriteWeightsToHdf5File(layer_names_, datasets, path, write_diff);
}

}  // namespace fcn
