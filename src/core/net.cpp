// SPDX-License-Identifier: BSD-2-Clause
// Net construction and execution, following Caffe's net.cpp step by step (see the comments
// in include/fcn/net.h and fcn-reference §3). User errors become ConfigErrors located at the
// layer's text.
#include "fcn/net.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <set>

#include "fcn/layer_registry.h"
#include "io/hdf5.h"

namespace fcn {

Net::Net(const NetParameter& param, const NetSource* source) : Net(param, Options(), source) {}

Net::Net(const NetParameter& param, const Options& options, const NetSource* source, Rng* rng)
    : ctx_(std::make_unique<ExecContext>(options)) {
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

void Net::Rethrow(int layer_id, const ConfigError& e) const {
  if (e.located()) throw e;
  ThrowAt(layer_id, e.message());
}

void Net::Init(const NetParameter& in_param) {
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

  const int num_layers = param_.layer_size();
  bottom_vecs_.resize(static_cast<std::size_t>(num_layers));
  top_vecs_.resize(static_cast<std::size_t>(num_layers));
  bottom_id_vecs_.resize(static_cast<std::size_t>(num_layers));
  top_id_vecs_.resize(static_cast<std::size_t>(num_layers));
  bottom_need_backward_.resize(static_cast<std::size_t>(num_layers));

  std::map<std::string, int> available;  // blob name -> index; sorted, as Caffe's std::set
  std::map<std::string, int> blob_name_to_idx;
  const LayerRegistry& registry = LayerRegistry::Builtin();

  for (int layer_id = 0; layer_id < num_layers; ++layer_id) {
    const auto lid = static_cast<std::size_t>(layer_id);
    if (!param_.layer(layer_id).has_phase()) param_.mutable_layer(layer_id)->set_phase(phase_);
    const LayerParameter& lp = param_.layer(layer_id);
    if (lp.propagate_down_size() > 0 && lp.propagate_down_size() != lp.bottom_size()) {
      ThrowAt(layer_id,
              StrCat("propagate_down must be given 0 times or once per bottom: ",
                     lp.propagate_down_size(), " values for ", lp.bottom_size(), " bottoms"));
    }
    try {
      layers_.push_back(registry.Create(lp));
    } catch (const ConfigError& e) {
      Rethrow(layer_id, e);
    }
    Layer* layer = layers_.back().get();
    if (const auto first = layer_index_.find(lp.name()); first != layer_index_.end()) {
      // Weights are copied by layer name: a second layer of the same name in one phase would
      // silently take (or give) the first one's parameters. Other phases may reuse a name.
      const SourceLocation where = layer_location(first->second);
      ThrowAt(layer_id,
              StrCat("the layer name \"", lp.name(), "\" is already used by the layer at ",
                     where.known() ? where.ToString() : "an earlier layer",
                     " in this phase; layer names must be unique within a phase"));
    }
    layer_index_[lp.name()] = layer_id;
    layer_names_.push_back(lp.name());

    bool need_backward = false;
    for (int bottom_id = 0; bottom_id < lp.bottom_size(); ++bottom_id) {
      const int blob_id = AppendBottom(lp, layer_id, bottom_id, &available, &blob_name_to_idx);
      need_backward = need_backward || blob_need_backward_[static_cast<std::size_t>(blob_id)];
    }
    int num_top = lp.top_size();
    for (int top_id = 0; top_id < num_top; ++top_id) {
      AppendTop(lp, layer_id, top_id, &available, &blob_name_to_idx);
      if (lp.type() == "Input") {
        const int blob_id = blob_name_to_idx[lp.top(top_id)];
        input_blob_indices_.push_back(blob_id);
        input_blobs_.push_back(blobs_[static_cast<std::size_t>(blob_id)].get());
      }
    }
    if (layer->schema().auto_top) {
      for (; num_top < layer->schema().min_tops; ++num_top) {
        AppendTop(lp, layer_id, num_top, nullptr, nullptr);
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
    }
    for (std::size_t top_id = 0; top_id < top_vecs_[lid].size(); ++top_id) {
      const auto blob_id = static_cast<std::size_t>(top_id_vecs_[lid][top_id]);
      if (blob_loss_weights_.size() <= blob_id) blob_loss_weights_.resize(blob_id + 1, 0.0f);
      blob_loss_weights_[blob_id] = layer->loss(static_cast<int>(top_id));
    }

    const int num_param_blobs = static_cast<int>(layer->blobs().size());
    if (lp.param_size() > num_param_blobs) {
      ThrowAt(layer_id, StrCat("too many param specs: ", lp.param_size(), " given, the layer has ",
                               num_param_blobs, " parameter blob(s)"));
    }
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
    layer_need_backward_.push_back(need_backward);
    if (need_backward) {
      for (int blob_id : top_id_vecs_[lid])
        blob_need_backward_[static_cast<std::size_t>(blob_id)] = true;
    }
  }

  // Walk backwards: a layer needs backward only if it contributes to the loss and some top
  // gets a gradient.
  std::set<std::string> blobs_under_loss;
  std::set<std::string> blobs_skip_backp;
  for (int layer_id = num_layers - 1; layer_id >= 0; --layer_id) {
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
  if (param_.force_backward()) {
    for (int layer_id = 0; layer_id < num_layers; ++layer_id) {
      const auto lid = static_cast<std::size_t>(layer_id);
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
  // What is left unconsumed is the net's output, sorted by blob name.
  for (const auto& kv : available) {
    output_blob_indices_.push_back(kv.second);
    output_blobs_.push_back(blobs_[static_cast<std::size_t>(kv.second)].get());
  }
  blob_index_ = blob_name_to_idx;
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
    }
    ReleaseConsumedDiffs(i);
    if (after_backward_) after_backward_(i);
  }
}

void Net::set_release_consumed_data(bool release, const std::vector<std::string>& keep) {
  for (const std::string& name : keep) {
    FCN_CHECK(has_blob(name), "set_release_consumed_data: no blob \"", name, "\"");
  }
  release_consumed_data_ = release;
  keep_data_ = keep;
  data_last_read_.clear();
}

void Net::ReleaseConsumedData(int layer_index) {
  if (!release_consumed_data_ || ctx_->device() != Device::kCpu) return;
  if (data_last_read_.empty()) {
    // Group the blobs that share one buffer (set up by the layers' Reshape at Init); a group
    // is freed after the last layer that reads any of its blobs, unless one of them is kept.
    std::map<const void*, std::vector<int>> groups;
    for (std::size_t id = 0; id < blobs_.size(); ++id) {
      groups[blobs_[id]->data_identity()].push_back(static_cast<int>(id));
    }
    std::vector<bool> keep(blobs_.size(), false);
    for (int id : input_blob_indices_) keep[static_cast<std::size_t>(id)] = true;
    for (int id : output_blob_indices_) keep[static_cast<std::size_t>(id)] = true;
    for (std::size_t id = 0; id < blob_loss_weights_.size(); ++id) {
      if (blob_loss_weights_[id] != 0) keep[id] = true;
    }
    for (const std::string& name : keep_data_)
      keep[static_cast<std::size_t>(blob_index_.at(name))] = true;
    std::vector<int> last_read(blobs_.size(), -1);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      for (int id : bottom_id_vecs_[l])
        last_read[static_cast<std::size_t>(id)] = static_cast<int>(l);
    }
    data_last_read_.resize(layers_.size());
    for (const auto& [identity, members] : groups) {
      int last = -1;
      bool kept = identity == nullptr;
      for (int id : members) {
        kept = kept || keep[static_cast<std::size_t>(id)];
        last = std::max(last, last_read[static_cast<std::size_t>(id)]);
      }
      if (!kept && last >= 0) data_last_read_[static_cast<std::size_t>(last)].push_back(members[0]);
    }
  }
  for (int id : data_last_read_[static_cast<std::size_t>(layer_index)]) {
    blobs_[static_cast<std::size_t>(id)]->ReleaseData();
  }
}

void Net::ReleaseConsumedDiffs(int layer_index) {
  if (!release_consumed_diffs_ || ctx_->device() != Device::kCpu) return;
  const auto li = static_cast<std::size_t>(layer_index);
  if (consumed_tops_.empty()) consumed_tops_ = ConsumedTops();
  for (int top : consumed_tops_[li]) {
    Blob* blob = blobs_[static_cast<std::size_t>(top)].get();
    if (!DiffSharedWithABottom(li, *blob)) blob->ReleaseDiff();
  }
}

bool Net::DiffSharedWithABottom(std::size_t layer, const Blob& top) const {
  // A top that shares its diff with a bottom (Concat of one input) keeps it for the bottom.
  for (const Blob* bottom : bottom_vecs_[layer]) {
    if (top.SharesDiffWith(*bottom)) return true;
  }
  return false;
}

std::vector<bool> Net::KeptDiffs() const {
  // Inputs, outputs and loss tops (their diffs hold the loss weights).
  std::vector<bool> keep(blobs_.size(), false);
  for (int id : input_blob_indices_) keep[static_cast<std::size_t>(id)] = true;
  for (int id : output_blob_indices_) keep[static_cast<std::size_t>(id)] = true;
  for (std::size_t id = 0; id < blob_loss_weights_.size(); ++id) {
    if (blob_loss_weights_[id] != 0) keep[id] = true;
  }
  return keep;
}

std::vector<std::vector<int>> Net::ConsumedTops() const {
  const std::vector<bool> keep = KeptDiffs();
  std::vector<std::vector<int>> consumed(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    for (int top : top_id_vecs_[l]) {
      const bool in_place = std::find(bottom_id_vecs_[l].begin(), bottom_id_vecs_[l].end(), top) !=
                            bottom_id_vecs_[l].end();
      if (!in_place && !keep[static_cast<std::size_t>(top)]) consumed[l].push_back(top);
    }
  }
  return consumed;
}

std::int64_t Net::PeakBackwardDiffBytes() const {
  // Replays a training step's backward pass with release_consumed_diffs, forced as in
  // force_backward (every layer runs, every bottom that allows a gradient gets one, whatever
  // the phase this net was built in): a diff is live from the first layer (in backward order)
  // that reads it as a top or writes it as a bottom until the backward of the layer that
  // produced it; the kept diffs (inputs, outputs, loss tops) that a step touches are never
  // freed, so from the second step on they are live throughout; diffs that blobs share count
  // once.
  const auto consumed = ConsumedTops();
  std::map<const SyncedMemory*, std::int64_t> live;
  std::int64_t live_bytes = 0, peak = 0;
  auto touch = [&](int id) {
    const Blob& blob = *blobs_[static_cast<std::size_t>(id)];
    const auto bytes = blob.count() * static_cast<std::int64_t>(sizeof(float));
    if (bytes == 0 || !live.emplace(&blob.diff_memory(), bytes).second) return;
    live_bytes += bytes;
  };
  // The blobs each layer's backward reads (tops) or writes (bottoms); a layer without bottoms
  // (Input, Data) has no backward.
  std::vector<std::vector<int>> touched(layers_.size());
  std::vector<bool> ever(blobs_.size(), false);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if (bottom_id_vecs_[l].empty()) continue;
    touched[l] = top_id_vecs_[l];
    for (std::size_t b = 0; b < bottom_id_vecs_[l].size(); ++b) {
      if (bottom_need_backward_[l][b] || layers_[l]->AllowForceBackward(static_cast<int>(b))) {
        touched[l].push_back(bottom_id_vecs_[l][b]);
      }
    }
    for (int id : touched[l]) ever[static_cast<std::size_t>(id)] = true;
  }
  const std::vector<bool> keep = KeptDiffs();
  for (std::size_t id = 0; id < blobs_.size(); ++id) {
    const bool loss_top = id < blob_loss_weights_.size() && blob_loss_weights_[id] != 0;
    if (keep[id] && (ever[id] || loss_top)) touch(static_cast<int>(id));
  }
  for (std::size_t l = layers_.size(); l-- > 0;) {
    for (int id : touched[l]) touch(id);
    peak = std::max(peak, live_bytes);
    for (int top : consumed[l]) {
      const Blob& blob = *blobs_[static_cast<std::size_t>(top)];
      auto it = DiffSharedWithABottom(l, blob) ? live.end() : live.find(&blob.diff_memory());
      if (it == live.end()) continue;
      live_bytes -= it->second;
      live.erase(it);
    }
  }
  return peak;
}

void Net::Backward() { BackwardFromTo(static_cast<int>(layers_.size()) - 1, 0); }

void Net::Reshape() {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    try {
      layers_[i]->Reshape(bottom_vecs_[i], top_vecs_[i]);
    } catch (const ConfigError& e) {
      Rethrow(static_cast<int>(i), e);
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
  for (const LayerParameter& source : weights.layer()) {
    const int target_id = layer_index(source.name());
    if (target_id < 0) {
      VLOG(1) << "Ignoring source layer " << source.name();
      if (ignored) ignored->push_back(source.name());
      continue;
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
        target.FromProto(source.blobs(j), /*reshape=*/false);
      } catch (const ConfigError& e) {
        throw ConfigError(
            StrCat(what, ": layer \"", source.name(), "\" parameter ", j, ": ", e.message()));
      }
    }
  }
}

void Net::CheckWeightsSetAParameter(const NetParameter& weights, const std::string& file) const {
  std::size_t net_params = 0;
  for (const auto& layer : layers_) net_params += layer->blobs().size();
  if (net_params == 0) return;
  for (const LayerParameter& source : weights.layer()) {
    if (source.blobs_size() > 0 && layer_index(source.name()) >= 0) return;
  }
  std::size_t file_blobs = 0;
  for (const LayerParameter& source : weights.layer()) file_blobs += source.blobs_size();
  throw ConfigError(StrCat(file, ": sets no parameter of net \"", name_, "\" (the file holds ",
                           weights.layer_size(), " layer(s) with ", file_blobs,
                           " parameter blob(s) in all; the net has ", net_params,
                           "): is it truncated, or the weights of another net?"));
}

void Net::CopyTrainedLayersFromFile(const std::string& path, std::vector<std::string>* ignored) {
  const NetParameter weights = ReadWeightsFile(path);
  CheckWeightsSetAParameter(weights, path);
  CopyTrainedLayersFrom(weights, path, ignored);
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

}  // namespace fcn
