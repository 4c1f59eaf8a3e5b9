// SPDX-License-Identifier: BSD-2-Clause
// The parts of net construction that rewrite the NetParameter before any layer exists:
// include/exclude filtering by net state and automatic Split insertion (Caffe's FilterNet
// and insert_splits.cpp).
#include <algorithm>
#include <map>

#include "fcn/net.h"

namespace fcn {

bool StateMeetsRule(const NetState& state, const NetStateRule& rule, const std::string&) {
  if (rule.has_phase() && rule.phase() != state.phase()) return false;
  if (rule.has_min_level() && state.level() < rule.min_level()) return false;
  if (rule.has_max_level() && state.level() > rule.max_level()) return false;
  for (const std::string& stage : rule.stage()) {
    if (std::find(state.stage().begin(), state.stage().end(), stage) == state.stage().end())
      return false;
  }
  for (const std::string& stage : rule.not_stage()) {
    if (std::find(state.stage().begin(), state.stage().end(), stage) != state.stage().end())
      return false;
  }
  return true;
}

NetParameter FilterNet(const NetParameter& param, std::vector<int>* kept) {
  NetParameter filtered = param;
  filtered.clear_layer();
  if (kept) kept->clear();
  const NetState& state = param.state();
  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& layer = param.layer(i);
    if (layer.include_size() > 0 && layer.exclude_size() > 0) {
      throw ConfigError(StrCat("layer \"", layer.name(),
                               "\" gives both include and exclude rules; give one kind only"));
    }
    bool included = layer.include_size() == 0;
    for (const NetStateRule& rule : layer.exclude()) {
      if (StateMeetsRule(state, rule, layer.name())) included = false;
    }
    for (const NetStateRule& rule : layer.include()) {
      if (StateMeetsRule(state, rule, layer.name())) included = true;
    }
    if (!included) continue;
    *filtered.add_layer() = layer;
    if (kept) kept->push_back(i);
  }
  return filtered;
}

std::string SplitLayerName(const std::string& blob, const std::string& layer, int top_index) {
  return StrCat(blob, "_", layer, "_", top_index, "_split");
}

std::string SplitBlobName(const std::string& blob, const std::string& layer, int top_index,
                          int split_index) {
  return StrCat(blob, "_", layer, "_", top_index, "_split_", split_index);
}

NetParameter InsertSplits(const NetParameter& param, std::vector<int>* origin) {
  using TopId = std::pair<int, int>;  // (layer, top index)
  std::map<std::string, TopId> last_producer;
  std::map<TopId, TopId> bottom_source;  // (layer, bottom index) -> producing top
  std::map<TopId, int> consumers;
  std::map<TopId, float> loss_weights;
  std::map<TopId, int> next_split;

  for (int i = 0; i < param.layer_size(); ++i) {
    const LayerParameter& layer = param.layer(i);
    for (int j = 0; j < layer.bottom_size(); ++j) {
      auto it = last_producer.find(layer.bottom(j));
      if (it == last_producer.end()) continue;  // the Net reports unknown bottoms with a location
      bottom_source[{i, j}] = it->second;
      ++consumers[it->second];
    }
    for (int j = 0; j < layer.top_size(); ++j) last_producer[layer.top(j)] = {i, j};
    // A top that is part of the loss is one more consumer.
    for (int j = 0; j < layer.loss_weight_size() && j < layer.top_size(); ++j) {
      if (layer.loss_weight(j) == 0) continue;
      const TopId id = last_producer[layer.top(j)];
      loss_weights[id] = layer.loss_weight(j);
      ++consumers[id];
    }
  }

  NetParameter out = param;
  out.clear_layer();
  if (origin) origin->clear();
  for (int i = 0; i < param.layer_size(); ++i) {
    const int layer_index = out.layer_size();
    *out.add_layer() = param.layer(i);
    LayerParameter* layer = out.mutable_layer(layer_index);
    if (origin) origin->push_back(i);
    for (int j = 0; j < layer->bottom_size(); ++j) {
      auto src = bottom_source.find({i, j});
      if (src == bottom_source.end()) continue;
      const TopId top = src->second;
      if (consumers[top] <= 1) continue;
      const std::string& producer = param.layer(top.first).name();
      layer->set_bottom(j,
                        SplitBlobName(layer->bottom(j), producer, top.second, next_split[top]++));
    }
    for (int j = 0; j < layer->top_size(); ++j) {
      const TopId top{i, j};
      const int count = consumers.count(top) ? consumers[top] : 0;
      if (count <= 1) continue;
      const std::string blob = layer->top(j);
      const float loss_weight = loss_weights.count(top) ? loss_weights[top] : 0.0f;
      LayerParameter split;
      split.set_name(SplitLayerName(blob, layer->name(), j));
      split.set_type("Split");
      split.add_bottom(blob);
      for (int k = 0; k < count; ++k) {
        split.add_top(SplitBlobName(blob, layer->name(), j, k));
        if (loss_weight != 0) split.add_loss_weight(k == 0 ? loss_weight : 0.0f);
      }
      if (loss_weight != 0) {
        layer->clear_loss_weight();
        ++next_split[top];  // split top 0 carries the loss
      }
      *out.add_layer() = split;
      layer = out.mutable_layer(layer_index);
      if (origin) origin->push_back(i);
    }
  }
  return out;
}

}  // namespace fcn
