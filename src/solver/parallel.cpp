// SPDX-License-Identifier: BSD-2-Clause
// The data-parallel side of the solver (docs/distributed.md): set-up across the ranks
// (agreement checks, rank 0's weights and RNG broadcast, data shards, the gradient reducer),
// the per-iteration loss and signal reduction, and a resume that rank 0 reads for everyone.
#include <glog/logging.h>

#include <cstring>
#include <sstream>

#include "fcn/rng.h"
#include "fcn/solver.h"
#include "solver/gradient_reducer.h"

namespace fcn {

namespace {

constexpr std::int64_t kBucketBytes = 25 << 20;      // PyTorch DDP's default bucket
constexpr std::int64_t kFirstBucketBytes = 1 << 20;  // and its smaller first bucket

// FNV-1a, 64 bits: a checksum to compare ranks, not a defence against tampering.
std::uint64_t Fnv1a(const void* data, std::size_t bytes, std::uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) {
    hash ^= p[i];
    hash *= 1099511628211ull;
  }
  return hash;
}
constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;

std::string Hex(std::uint64_t value) {
  std::ostringstream out;
  out << std::hex << value;
  return out.str();
}

}  // namespace

void BroadcastString(Communicator& comm, std::string* text, int root) {
  std::uint64_t size = text->size();
  comm.Broadcast(&size, sizeof(size), root);
  text->resize(size);
  if (size > 0) comm.Broadcast(text->data(), size, root);
}

double Solver::reduce_seconds() const { return reducer_ ? reducer_->reduce_seconds() : 0.0; }

double Solver::exposed_reduce_seconds() const {
  return reducer_ ? reducer_->exposed_seconds() : 0.0;
}

void Solver::CheckRanksAgree(const std::string& what, const std::string& bytes) {
  const std::uint64_t mine = Fnv1a(bytes.data(), bytes.size(), kFnvOffset);
  std::uint64_t root = mine;
  comm_->Broadcast(&root, sizeof(root), 0);
  float differ = mine != root ? 1.0f : 0.0f;
  comm_->AllReduceHost(&differ, 1);
  if (differ == 0) {
    LOG(INFO) << "All " << world_size() << " ranks hold the same " << what << " (checksum "
              << Hex(root) << ")";
    return;
  }
  if (mine != root) {
    LOG(ERROR) << "Rank " << rank() << ": " << what << " checksum " << Hex(mine) << ", rank 0's is "
               << Hex(root);
  }
  throw ConfigError(StrCat(static_cast<int>(differ), " of ", world_size(), " ranks hold ", what,
                           " different from rank 0's (checksum ", Hex(root),
                           "); every rank must be started with the same solver, net and "
                           "flags (docs/distributed.md)"));
}

void Solver::BroadcastParams(bool with_history) {
  std::vector<FloatSpan> spans;
  const bool device = comm_->device() == Device::kCuda;
  for (Blob* p : net_->learnable_params()) {
    spans.push_back({device ? p->mutable_gpu_data() : p->mutable_cpu_data(), p->count()});
  }
  if (with_history) {
    for (const auto& h : history_) {
      spans.push_back({device ? h->mutable_gpu_data() : h->mutable_cpu_data(), h->count()});
    }
  }
  comm_->BroadcastFloats(spans, 0);
}

namespace {

// The bytes of every learnable parameter (and history blob) in order, for a checksum.
std::string ParamBytes(const Net& net, const std::vector<std::unique_ptr<Blob>>* history) {
  std::string bytes;
  auto append = [&bytes](const Blob& b) {
    bytes.append(reinterpret_cast<const char*>(b.cpu_data()),
                 static_cast<std::size_t>(b.count()) * sizeof(float));
  };
  for (const Blob* p : net.learnable_params()) append(*p);
  if (history != nullptr) {
    for (const auto& h : *history) append(*h);
  }
  return bytes;
}

}  // namespace

void Solver::SetUpDataParallel() {
  // The same solver (with the resolved net, train state and flags folded in) and the same
  // parameter shapes everywhere, before anything of a size taken from them is exchanged.
  std::string config = param_.DebugString();
  for (const Blob* p : net_->learnable_params()) config += p->shape_string() + ";";
  CheckRanksAgree("solver file and net", config);
  // Each rank's share of the training data: batch r of every group of N.
  for (const auto& layer : net_->layers()) layer->SetDataShard(rank(), world_size());
  // Rank 0's weights and the solver's RNG (Dropout draws from it; rank 0's test nets drew from it
  // at set-up), so that a fresh run starts as a resumed one does.
  BroadcastParams(false);
  std::string rng = rng_.SaveState();
  BroadcastString(*comm_, &rng, 0);
  CHECK(rng_.LoadState(rng)) << "rank 0's RNG state does not load";
  CheckRanksAgree("weights", ParamBytes(*net_, nullptr));
  reducer_ = std::make_unique<GradientReducer>(net_.get(), comm_.get(), param_.layer_wise_reduce(),
                                               kBucketBytes, kFirstBucketBytes);
  images_per_iter_ *= world_size();
  LOG(INFO) << "Data-parallel training on " << world_size() << " ranks over " << comm_->name()
            << ": " << reducer_->reduced_floats() * sizeof(float) << " gradient bytes in "
            << reducer_->num_buckets() << " bucket(s) all-reduced per iteration "
            << (param_.layer_wise_reduce() ? "during the backward pass (layer_wise_reduce)"
                                           : "after the backward pass (layer_wise_reduce: false)")
            << "; " << images_per_iter_ << " images per iteration over all ranks";
}

float Solver::ReduceStep(float local_loss_sum, SolverAction* action, bool* snapshot) {
  const SolverAction mine = RequestedAction();
  // kSnapshotStop (SIGTERM's default) asks for both: a snapshot, then a stop.
  const bool stop = mine == SolverAction::kStop || mine == SolverAction::kSnapshotStop;
  const bool snap = mine == SolverAction::kSnapshot || mine == SolverAction::kSnapshotStop;
  float values[3] = {local_loss_sum, stop ? 1.0f : 0.0f, snap ? 1.0f : 0.0f};
  comm_->AllReduceHost(values, 3);
  *action = values[1] > 0 ? SolverAction::kStop : SolverAction::kNone;
  *snapshot = values[2] > 0;
  if (values[1] > 0 || values[2] > 0) {
    LOG(INFO) << "Iteration " << iter_ << ": a signal asks for "
              << (values[2] > 0 ? (values[1] > 0 ? "a snapshot and a stop" : "a snapshot")
                                : "a stop")
              << "; every rank acts on it after this iteration";
  }
  return values[0] / static_cast<float>(param_.iter_size() * world_size());
}

void Solver::ShareDisplayOutputs() {
  // One process with iter_size shows the outputs of its last pass: the last rank's here.
  std::vector<float> values;
  for (const Blob* out : net_->output_blobs()) {
    values.insert(values.end(), out->cpu_data(), out->cpu_data() + out->count());
  }
  const int last = world_size() - 1;
  std::uint64_t count = values.size();  // outputs may be shaped by each rank's image
  comm_->Broadcast(&count, sizeof(count), last);
  const std::size_t mine = values.size();
  values.resize(count);
  comm_->Broadcast(values.data(), values.size() * sizeof(float), last);
  if (!is_root() || count != mine) return;  // shapes differ: rank 0 shows its own outputs
  std::size_t offset = 0;
  for (Blob* out : net_->output_blobs()) {
    std::memcpy(out->mutable_cpu_data(), values.data() + offset,
                static_cast<std::size_t>(out->count()) * sizeof(float));
    offset += static_cast<std::size_t>(out->count());
  }
}

void Solver::RestoreDistributed(const std::string& state_file) {
  // Rank 0 reads the files (only it needs to see them); an error stops every rank with
  // rank 0's message.
  std::string error;
  if (is_root()) {
    try {
      RestoreFile(state_file);
    } catch (const ConfigError& e) {
      error = e.what();
    }
  }
  BroadcastString(*comm_, &error, 0);
  if (!error.empty()) throw ConfigError(error);
  SolverState state;
  if (is_root()) {
    state.set_iter(iter_);
    state.set_current_step(current_step_);
    state.set_rng_state(rng_.SaveState());
    for (const auto& layer : net_->layers()) {
      std::string bytes = layer->SaveState();
      if (bytes.empty()) continue;
      LayerState* ls = state.add_layer_state();
      ls->set_layer(layer->name());
      ls->set_state(std::move(bytes));
    }
    if (restored_losses_) {
      for (float loss : losses_) state.add_loss_window(loss);
      state.set_smoothed_loss(smoothed_loss_);
      state.set_loss_start_iter(loss_start_iter_);
    }
  }
  std::string bytes = is_root() ? state.SerializeAsString() : std::string();
  BroadcastString(*comm_, &bytes, 0);
  if (!is_root()) {
    CHECK(state.ParseFromString(bytes)) << "rank 0's state does not parse";
    iter_ = state.iter();
    current_step_ = state.current_step();
    CHECK(rng_.LoadState(state.rng_state())) << "rank 0's RNG state does not load";
    for (const LayerState& ls : state.layer_state()) {
      Layer* layer = net_->layer_by_name(ls.layer());
      CHECK(layer != nullptr) << "rank 0 restored layer " << ls.layer() << ", absent here";
      layer->RestoreState(ls.state());
    }
    if (state.loss_window_size() > 0) {
      losses_.assign(state.loss_window().begin(), state.loss_window().end());
      smoothed_loss_ = state.smoothed_loss();
      loss_start_iter_ = state.loss_start_iter();
      restored_losses_ = true;
    }
  }
  BroadcastParams(true);
  CheckRanksAgree("restored weights and momentum history", ParamBytes(*net_, &history_));
}

}  // namespace fcn
