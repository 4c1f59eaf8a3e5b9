// SPDX-License-Identifier: BSD-2-Clause
// Net's memory plan: which activations and gradients can be released once consumed (test and
// deploy nets), which diffs backward keeps, and the planned peak of backward's diffs.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "fcn/common.h"
#include "fcn/layer.h"
#include "fcn/net.h"

namespace fcn {

void Net::set_release_consumed_data(bool release, const std::vector<std::string>& keep) {
  for (const std::string& name : keep) {
    FCN_CHECK(has_blob(name), "set_release_consumed_data: no blob \"", name, "\"");
  }
  release_consumed_data_ = release;
  keep_data_ = keep;
  // A net that frees each activation once consumed (inference) runs the same allocations in
  // the same order every pass: a freed buffer may serve any smaller request, so the few largest
  // buffers circulate instead of the pool filling up with one of each size (VGG-16 FCN-8s
  // segment at 500x500: peak RSS 1.90 -> 1.62 GB, the same speed).
  host_pool_->set_any_larger(release);
  for (const auto& layer : layers_) layer->set_forward_only(release);
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
    const std::vector<bool> sourced = SourcedBlobs();
    for (std::size_t id = 0; id < keep.size(); ++id) keep[id] = keep[id] || sourced[id];
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
      // A blob the net keeps holds its buffer for the net's life: from a pool that serves any
      // smaller request it could take one of the largest activations' buffers (segment's 21 MB
      // score held a 125 MB one, and the next pass allocated another), so it takes its own.
      if (kept && identity != nullptr) {
        blobs_[static_cast<std::size_t>(members[0])]->data_memory().set_host_pool(nullptr);
      }
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
  if (backward_data_last_read_.empty()) {
    backward_data_last_read_ = BackwardDataLastRead();
    // Every step allocates again what its backward frees, activations and gradients: the pool
    // keeps all of them. Freeing what passes the default limit would cost the next step page
    // faults on each of its pages (FCN-8s at 500x500: forward 0.85 -> 2.2 s, measured).
    const std::vector<bool> keep = KeptDiffs();
    std::size_t circulating = 0;
    for (std::size_t id = 0; id < blobs_.size(); ++id) {
      if (!keep[id])
        circulating += 2 * static_cast<std::size_t>(blobs_[id]->count()) * sizeof(float);
    }
    host_pool_->set_limit_bytes(std::max(host_pool_->limit_bytes(), circulating));
  }
  for (int id : backward_data_last_read_[li]) blobs_[static_cast<std::size_t>(id)]->ReleaseData();
}

std::vector<std::vector<int>> Net::BackwardDataLastRead() const {
  // Blobs that share one data buffer (in-place layers) form a group; the group's data is read
  // by the backward of each layer that runs backward and reads one of its members (as a top
  // or a bottom), and the last of those in backward order is the lowest layer. A group that no
  // backward reads goes at the backward of its highest layer, the first the pass reaches.
  // Inputs, outputs, loss tops and what a layer without bottoms writes keep their data.
  std::vector<bool> keep = KeptDiffs();
  const std::vector<bool> sourced = SourcedBlobs();
  for (std::size_t id = 0; id < keep.size(); ++id) keep[id] = keep[id] || sourced[id];
  constexpr int kNone = std::numeric_limits<int>::max();
  std::vector<int> first_reader(blobs_.size(), kNone), last_user(blobs_.size(), -1);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = *layers_[l];
    const int li = static_cast<int>(l);
    const bool runs = layer_need_backward_[l];
    for (std::size_t j = 0; j < bottom_id_vecs_[l].size(); ++j) {
      const auto id = static_cast<std::size_t>(bottom_id_vecs_[l][j]);
      last_user[id] = std::max(last_user[id], li);
      if (runs && layer.BackwardReadsBottomData(static_cast<int>(j))) {
        first_reader[id] = std::min(first_reader[id], li);
      }
    }
    for (std::size_t j = 0; j < top_id_vecs_[l].size(); ++j) {
      const auto id = static_cast<std::size_t>(top_id_vecs_[l][j]);
      last_user[id] = std::max(last_user[id], li);
      if (runs && layer.BackwardReadsTopData(static_cast<int>(j))) {
        first_reader[id] = std::min(first_reader[id], li);
      }
    }
  }
  std::map<const void*, std::vector<int>> groups;
  for (std::size_t id = 0; id < blobs_.size(); ++id) {
    groups[blobs_[id]->data_identity()].push_back(static_cast<int>(id));
  }
  std::vector<std::vector<int>> last_read(layers_.size());
  for (const auto& [identity, members] : groups) {
    if (identity == nullptr) continue;
    bool kept = false;
    int reader = kNone, user = -1;
    for (int id : members) {
      const auto i = static_cast<std::size_t>(id);
      kept = kept || keep[i];
      reader = std::min(reader, first_reader[i]);
      user = std::max(user, last_user[i]);
    }
    const int at = reader != kNone ? reader : user;
    if (!kept && at >= 0) last_read[static_cast<std::size_t>(at)].push_back(members[0]);
  }
  return last_read;
}

bool Net::DiffSharedWithABottom(std::size_t layer, const Blob& top) const {
  // A top that shares its diff with a bottom (Concat of one input) keeps it for the bottom.
  for (const Blob* bottom : bottom_vecs_[layer]) {
    if (top.SharesDiffWith(*bottom)) return true;
  }
  return false;
}

std::vector<bool> Net::SourcedBlobs() const {
  // A layer without bottoms (Input, Data, DummyData, a Python data layer) need not write its
  // tops on every pass: DummyData fills a constant top once, at set-up. Its tops are never
  // freed (the regression: a released constant label came back as zeros on the next step).
  std::vector<bool> sourced(blobs_.size(), false);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if (!bottom_id_vecs_[l].empty()) continue;
    for (int top : top_id_vecs_[l]) sourced[static_cast<std::size_t>(top)] = true;
  }
  return sourced;
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

std::string FormatBytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024.0 * 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  } else if (bytes >= 1024.0 * 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
  } else if (bytes >= 1024.0) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  }
  return buf;
}

std::int64_t CheckPlannedMemory(const Net& net, bool training, const MemoryLimit& limit,
                                std::int64_t extra) {
  const double per_param = training ? 3.0 : 1.0;       // data (+ gradient and SGD history)
  const double per_activation = training ? 2.0 : 1.0;  // data (+ gradient)
  double planned = static_cast<double>(extra);
  std::set<const Blob*> params;
  for (std::size_t i = 0; i < net.layers().size(); ++i) {
    const Layer& layer = *net.layers()[i];
    for (const auto& p : layer.blobs()) {
      if (params.insert(p.get()).second) {
        planned += per_param * static_cast<double>(p->count()) * sizeof(float);
      }
    }
    const LayerParameter& lp = net.param().layer(static_cast<int>(i));
    for (int t = 0; t < lp.top_size(); ++t) {
      const bool in_place =
          std::find(lp.bottom().begin(), lp.bottom().end(), lp.top(t)) != lp.bottom().end();
      if (in_place) continue;
      const Blob& top =
          *net.blobs()[static_cast<std::size_t>(net.top_ids()[i][static_cast<std::size_t>(t)])];
      // Split tops share their bottom's data; their gradients are their own.
      const double factor = lp.type() == "Split" ? per_activation - 1.0 : per_activation;
      planned += factor * static_cast<double>(top.count()) * sizeof(float);
    }
    planned += static_cast<double>(layer.internal_bytes());
    if (planned > static_cast<double>(limit.bytes)) {
      throw ConfigError(
          net.layer_location(static_cast<int>(i)), lp.name(), lp.type(),
          StrCat("the net's planned memory reaches ", FormatBytes(planned), " at this layer (",
                 training ? "training: parameters with gradients and history, "
                            "activations with gradients"
                          : "parameters and activations",
                 "), above ", limit.setting, limit.value,
                 "; use a smaller batch or input, or raise ", limit.setting));
    }
  }
  return static_cast<std::int64_t>(planned);
}

}  // namespace fcn
