// SPDX-License-Identifier: BSD-2-Clause
// Snapshots (<prefix>_iter_N.caffemodel + .solverstate, or .caffemodel.h5 + .solverstate.h5
// with snapshot_format: HDF5, each written to a temporary file and renamed) and Restore from
// fcn's or Caffe's .solverstate (binary or HDF5).
#include <glog/logging.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "fcn/io.h"
#include "fcn/net_paths.h"
#include "fcn/rng.h"
#include "fcn/solver.h"
#include "io/hdf5.h"
#include "solver/solver_internal.h"

namespace fcn {

namespace fs = std::filesystem;

namespace {

bool EndsWith(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

std::string NetTag(std::size_t test_net_id, bool train) {
  return train ? "train" : StrCat("test#", test_net_id);
}

void SaveLayerStates(const Net& net, const std::string& tag, SolverState* state) {
  for (const auto& layer : net.layers()) {
    std::string bytes = layer->SaveState();
    if (bytes.empty()) continue;
    LayerState* ls = state->add_layer_state();
    ls->set_layer(layer->name());
    ls->set_state(std::move(bytes));
    ls->set_net(tag);
  }
}

// learned_net as written; else beside the state file; else <state stem>.caffemodel there.
std::string FindLearnedNet(const std::string& learned_net, const std::string& state_file) {
  std::error_code ec;
  if (fs::exists(learned_net, ec)) return learned_net;
  const fs::path dir = fs::path(state_file).parent_path();
  std::vector<std::string> tried = {learned_net};
  std::vector<fs::path> candidates;
  if (fs::path(learned_net).is_relative()) candidates.push_back(dir / learned_net);
  candidates.push_back(dir / fs::path(learned_net).filename());
  const std::string h5_state = ".solverstate.h5";
  if (EndsWith(state_file, h5_state)) {
    candidates.push_back(state_file.substr(0, state_file.size() - h5_state.size()) +
                         ".caffemodel.h5");
  } else {
    candidates.push_back(fs::path(state_file).replace_extension(".caffemodel"));
  }
  for (const fs::path& candidate : candidates) {
    if (fs::exists(candidate, ec)) {
      LOG(INFO) << "learned_net \"" << learned_net << "\" not found as written; using "
                << candidate.string() << " beside " << state_file;
      return candidate.string();
    }
    tried.push_back(candidate.string());
  }
  throw ConfigError(StrCat(state_file, ": its learned_net \"", learned_net,
                           "\" was not found (tried ", Join(tried, ", "), ")"));
}

struct FileDigest {
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
};

// The size and zlib CRC-32 of a file, read in pieces of 4 MiB (or of the file's size, when
// smaller: a small weights file need not zero-fill a 4 MiB buffer).
FileDigest DigestFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError(StrCat(path, ": cannot open to compute its checksum"));
  FileDigest d;
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr std::uintmax_t kPiece = std::uintmax_t{4} << 20;
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  std::vector<char> buf(
      static_cast<std::size_t>(size_error ? kPiece : std::clamp<std::uintmax_t>(size, 1, kPiece)));
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<uInt>(n));
    d.bytes += n;
  }
  if (in.bad()) throw RuntimeError(StrCat(path, ": read error while computing its checksum"));
  d.crc32 = static_cast<std::uint32_t>(crc);
  return d;
}

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08x", v);
  return buf;
}

// A state whose counters no run can have written is damaged: refuse it before it is used
// (a negative iteration trains from there towards max_iter; an out-of-range current_step
// reads past the stepvalues).
void CheckStateValues(const SolverState& state, const SolverParameter& param,
                      const std::string& state_file) {
  auto damaged = [&](const std::string& what) {
    return ConfigError(StrCat(state_file, ": ", what, ": the solver state is damaged"));
  };
  if (state.iter() < 0) throw damaged(StrCat("iter = ", state.iter(), " is negative"));
  if (state.current_step() < 0) {
    throw damaged(StrCat("current_step = ", state.current_step(), " is negative"));
  }
  if (param.lr_policy() == "multistep" && state.current_step() > param.stepvalue_size()) {
    throw damaged(StrCat("current_step = ", state.current_step(), " is past the solver's ",
                         param.stepvalue_size(), " stepvalue(s)"));
  }
  if (state.has_smoothed_loss() && !std::isfinite(state.smoothed_loss())) {
    throw damaged(StrCat("smoothed_loss = ", state.smoothed_loss(), " is not a finite number"));
  }
  for (int i = 0; i < state.loss_window_size(); ++i) {
    if (!std::isfinite(state.loss_window(i))) {
      throw damaged(
          StrCat("loss_window[", i, "] = ", state.loss_window(i), " is not a finite number"));
    }
  }
  if (state.has_loss_start_iter() &&
      (state.loss_start_iter() < 0 || state.loss_start_iter() > state.iter())) {
    throw damaged(StrCat("loss_start_iter = ", state.loss_start_iter(),
                         " is outside [0, iter = ", state.iter(), "]"));
  }
}

// The weight file must be the one written with the state (when the state recorded it).
void CheckPair(const SolverState& state, const std::string& weights,
               const std::string& state_file) {
  if (!state.has_learned_net_bytes() || !state.has_learned_net_crc32()) return;
  const FileDigest d = DigestFile(weights);
  if (d.bytes == state.learned_net_bytes() && d.crc32 == state.learned_net_crc32()) return;
  throw ConfigError(StrCat(weights, " is not the weight file written with ", state_file,
                           ": the state recorded ", state.learned_net_bytes(),
                           " bytes with CRC-32 ", Hex32(state.learned_net_crc32()),
                           ", the file has ", d.bytes, " bytes with CRC-32 ", Hex32(d.crc32),
                           " (a .caffemodel and a .solverstate of different runs?)"));
}

}  // namespace

std::string Solver::SnapshotFilename(const std::string& extension) const {
  return StrCat(param_.snapshot_prefix(), "_iter_", iter_, extension);
}

void Solver::Snapshot() {
  // Of several ranks, rank 0 alone writes (its data layers hold the global cursor) and holds
  // the snapshot prefix's lock.
  if (!is_root()) return;
  LockSnapshotPrefix();
  const bool hdf5 = param_.snapshot_format() == SolverParameter::HDF5;
  const std::string model_filename = SnapshotFilename(hdf5 ? ".caffemodel.h5" : ".caffemodel");
  if (hdf5) {
    LOG(INFO) << "Snapshotting to HDF5 file " << model_filename;
    net_->ToHdf5(model_filename, param_.snapshot_diff());
  } else {
    LOG(INFO) << "Snapshotting to binary proto file " << model_filename;
    NetParameter net_param;
    net_->ToProto(&net_param, param_.snapshot_diff());
    WriteProtoToBinaryFile(net_param, model_filename);
  }

  SolverState state;
  state.set_iter(iter_);
  state.set_learned_net(model_filename);
  if (!hdf5) {
    // The pair's identity (an HDF5 file is not byte-stable across runs of the library, and
    // the HDF5 state has no such fields: HDF5 pairs are not checked).
    const FileDigest digest = DigestFile(model_filename);
    state.set_learned_net_bytes(digest.bytes);
    state.set_learned_net_crc32(digest.crc32);
  }
  state.set_current_step(current_step_);
  for (const auto& h : history_) h->ToProto(state.add_history());
  state.set_rng_state(rng_.SaveState());
  SaveLayerStates(*net_, NetTag(0, true), &state);
  for (std::size_t i = 0; i < test_nets_.size(); ++i) {
    SaveLayerStates(*test_nets_[i], NetTag(i, false), &state);
  }
  for (float loss : losses_) state.add_loss_window(loss);
  state.set_smoothed_loss(smoothed_loss_);
  state.set_loss_start_iter(loss_start_iter_);
  if (distributed()) state.set_world_size(world_size());
  if (hdf5) {
    const std::string state_filename = SnapshotFilename(".solverstate.h5");
    LOG(INFO) << "Snapshotting solver state to HDF5 file " << state_filename;
    WriteSolverStateToHdf5File(state, state_filename);
  } else {
    const std::string state_filename = SnapshotFilename(".solverstate");
    LOG(INFO) << "Snapshotting solver state to binary proto file " << state_filename;
    WriteProtoToBinaryFile(state, state_filename);
  }
  last_snapshot_iter_ = iter_;
}

void Solver::Restore(const std::string& state_file) {
  if (distributed()) {
    RestoreDistributed(state_file);
  } else {
    RestoreFile(state_file);
  }
}

void Solver::RestoreFile(const std::string& state_file) {
  std::error_code ec;
  if (!fs::is_regular_file(state_file, ec)) {
    throw ConfigError(StrCat("snapshot ", state_file, " not found (no such file)"));
  }
  // As Caffe: HDF5 is selected when the name ends in ".h5". Its history blobs are checked
  // against the net's parameters before they are read (a damaged header may claim any size); a
  // binary state holds its values in the file, so its size bounds what it takes.
  std::vector<std::int64_t> history_counts;
  for (const auto& h : history_) history_counts.push_back(h->count());
  const SolverState state = EndsWith(state_file, ".h5")
                                ? ReadSolverStateFromHdf5File(state_file, &history_counts)
                                : ReadSolverStateFromBinaryFile(state_file);
  CheckStateValues(state, param_, state_file);
  if (static_cast<std::size_t>(state.history_size()) != history_.size()) {
    throw ConfigError(StrCat(state_file, ": ", state.history_size(), " history blobs, but net \"",
                             net_->name(), "\" has ", history_.size(),
                             " learnable parameters; the state belongs to "
                             "another net"));
  }
  for (int i = 0; i < state.history_size(); ++i) {
    const auto hi = static_cast<std::size_t>(i);
    if (!history_[hi]->ShapeEquals(state.history(i))) {
      throw ConfigError(StrCat(state_file, ": history blob ", i, " has shape ",
                               ShapeString(ProtoShape(state.history(i))),
                               ", the net's learnable parameter ", i, " has ",
                               history_[hi]->shape_string(), "; the state belongs to another net"));
    }
  }
  if (state.has_learned_net()) {
    const std::string weights = FindLearnedNet(state.learned_net(), state_file);
    CheckPair(state, weights, state_file);
    CopyWeightsFile(net_.get(), weights, true, nullptr);
  }
  if (state.world_size() != world_size()) {
    LOG(WARNING) << state_file << " was written by a run of " << state.world_size()
                 << " rank(s); this run has " << world_size()
                 << ": the data continue from the saved global position, each iteration now "
                    "taking "
                 << world_size() << " x iter_size batches (docs/distributed.md)";
  }
  iter_ = state.iter();
  current_step_ = state.current_step();
  LOG(INFO) << "SGDSolver: restoring history";
  for (int i = 0; i < state.history_size(); ++i) {
    try {
      history_[static_cast<std::size_t>(i)]->FromProto(state.history(i), /*reshape=*/false);
    } catch (const ConfigError& e) {
      throw ConfigError(StrCat(state_file, ": history blob ", i, ": ", e.message()));
    }
  }
  if (state.has_rng_state()) {
    if (!rng_.LoadState(state.rng_state())) {
      throw ConfigError(StrCat(state_file, ": rng_state is not a saved RNG state"));
    }
  } else {
    LOG(INFO) << state_file
              << " holds no RNG or data-layer state (written by Caffe?): random numbers and "
                 "data continue from a fresh start, as in Caffe";
  }
  for (const LayerState& ls : state.layer_state()) {
    Net* target = nullptr;
    if (ls.net() == "train") {
      target = net_.get();
    } else {
      for (std::size_t i = 0; i < test_nets_.size(); ++i) {
        if (ls.net() == NetTag(i, false)) target = test_nets_[i].get();
      }
    }
    Layer* layer = target ? target->layer_by_name(ls.layer()) : nullptr;
    if (layer == nullptr) {
      LOG(WARNING) << state_file << ": no layer \"" << ls.layer() << "\" in the " << ls.net()
                   << " net to restore its state into; ignored";
      continue;
    }
    try {
      layer->RestoreState(ls.state());
    } catch (const ConfigError& e) {
      throw ConfigError(StrCat(state_file, ": layer \"", ls.layer(), "\": ", e.message()));
    }
  }
  if (state.loss_window_size() > 0 && state.loss_window_size() <= param_.average_loss()) {
    losses_.assign(state.loss_window().begin(), state.loss_window().end());
    smoothed_loss_ = state.smoothed_loss();
    loss_start_iter_ = state.loss_start_iter();
    restored_losses_ = true;
  }
}

}  // namespace fcn
