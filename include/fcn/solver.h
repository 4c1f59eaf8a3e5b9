// SPDX-License-Identifier: BSD-2-Clause
// Solver: Caffe's SGD (and Nesterov) training loop with its exact order of operations, lr
// policies, test nets, snapshots and resume, plus the state Caffe leaves out (RNG, data
// layer positions, the smoothed-loss window) so that a resumed run continues bit for bit.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fcn/blob.h"
#include "fcn/communicator.h"
#include "fcn/net.h"
#include "fcn/proto/fcn.pb.h"

namespace fcn {

/// What a signal asks the solver to do (Caffe's SolverAction).
/// kSnapshotStop writes a snapshot and then stops (what SIGTERM asks by default).
enum class SolverAction { kNone, kStop, kSnapshot, kSnapshotStop };

/// Reads a solver prototxt: upgrades the deprecated `solver_type`, resolves the files it
/// reads (`net`, `train_net`, `test_net`, `weights`) as written against the current directory
/// and then against the solver file's directory, and sets `snapshot_prefix` as Caffe does
/// (unset: the solver path without its extension; an existing directory: dir/<solver stem>).
/// Each resolved path is logged. Throws ConfigError for a syntax error or a missing net file.
SolverParameter ReadSolverFile(const std::string& path);

class GradientReducer;

class Solver {
 public:
  /// Builds the train net and the test nets (seeding the global RNG first when random_seed
  /// >= 0) and loads the solver's `weights`. `solver_dir` is where files named by inline nets
  /// are looked for besides the current directory. Throws ConfigError for a bad parameter.
  ///
  /// With a communicator of more than one rank, the solver is one of the data-parallel
  /// ranks of docs/distributed.md: each rank's Data layers read their share, rank 0's weights
  /// (and, on Restore, its state) are broadcast, every rank is checked to hold the same solver
  /// and weights (ConfigError on every rank otherwise), gradients are summed across the ranks
  /// and averaged, and rank 0 alone tests, logs and writes snapshots. The communicator must
  /// outlive the solver. Without one (or with one rank) nothing changes.
  /// The train and test nets run with `options` (device, engines) and share one Rng, the
  /// solver's: seeded with the solver's random_seed when it is not negative, otherwise with
  /// options.random_seed. It is saved in snapshots and, of several ranks, rank 0's is used.
  explicit Solver(const SolverParameter& param, const std::string& solver_dir = "",
                  std::shared_ptr<Communicator> comm = nullptr, const Options& options = Options());
  ~Solver();
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;

  /// Caffe's Solve(): Step(max_iter - iter), the final snapshot, loss line and tests.
  void Solve();
  /// Runs `iters` iterations (Caffe's Step).
  void Step(int iters);
  /// Runs every test net once (Caffe's TestAll).
  void TestAll();
  /// Writes <prefix>_iter_N.caffemodel and .solverstate (each to a temporary file, renamed).
  void Snapshot();
  /// Resumes from a .solverstate (fcn's or Caffe's). Throws ConfigError when the file is
  /// missing or does not fit the net.
  void Restore(const std::string& state_file);
  /// Copies weights (comma-separated .caffemodel list) into the train and every test net.
  void LoadWeights(const std::string& files);

  /// The options its nets run with, and the random source they share.
  const Options& options() const { return options_; }
  Rng& rng() { return rng_; }

  /// Called once per iteration and between test batches; its answer is acted upon.
  void SetActionFunction(std::function<SolverAction()> fn) { action_fn_ = std::move(fn); }
  /// The learning rate at the current iteration (advances multistep's current_step as Caffe).
  float GetLearningRate();

  /// This solver's rank and the number of ranks (0 and 1 without a communicator).
  int rank() const { return comm_ ? comm_->rank() : 0; }
  int world_size() const { return comm_ ? comm_->size() : 1; }
  /// All-reduce seconds so far and the part that the backward pass did not hide (0 and 0
  /// in one process).
  double reduce_seconds() const;
  double exposed_reduce_seconds() const;

  int iter() const { return iter_; }
  int current_step() const { return current_step_; }
  float smoothed_loss() const { return smoothed_loss_; }
  bool requested_early_exit() const { return requested_early_exit_; }
  const SolverParameter& param() const { return param_; }
  Net* net() { return net_.get(); }
  const std::vector<std::unique_ptr<Net>>& test_nets() const { return test_nets_; }
  /// One momentum blob per learnable parameter, in learnable order.
  const std::vector<std::unique_ptr<Blob>>& history() const { return history_; }
  /// <prefix>_iter_<iter><extension>.
  std::string SnapshotFilename(const std::string& extension) const;

 private:
  void InitTrainNet();
  // Data parallelism (solver/parallel.cpp).
  bool distributed() const { return world_size() > 1; }
  bool is_root() const { return rank() == 0; }
  void SetUpDataParallel();
  void BroadcastParams(bool with_history);
  void CheckRanksAgree(const std::string& what, const std::string& bytes);
  void RestoreDistributed(const std::string& state_file);
  float ReduceStep(float local_loss_sum, SolverAction* action, bool* snapshot);
  void ShareDisplayOutputs();
  void RestoreFile(const std::string& state_file);
  void InitTestNets();
  void CheckSnapshotWritePermissions() const;
  /// Takes an exclusive advisory lock (flock) on <snapshot_prefix>.lock, when training starts
  /// or a snapshot is first written, for the solver's life: a second run on the same prefix
  /// fails at its start (RuntimeError naming the holder's pid).
  void LockSnapshotPrefix();
  void ApplyUpdate();
  void ClipGradients();
  void Normalize(std::size_t param_id);
  void Regularize(std::size_t param_id);
  void ComputeUpdateValue(std::size_t param_id, float rate);
  void UpdateSmoothedLoss(float loss, int average_loss);
  void Test(std::size_t test_net_id);
  SolverAction RequestedAction();
  void LogDisplay();
  std::unique_ptr<Net> BuildNet(NetParameter param, const NetSource& source, const NetState& state,
                                const std::string& dir);
  struct NetFile;
  /// Reads a net file the solver names once, for the train and test nets that share it.
  const NetFile& ReadNetFile(const std::string& path);

  SolverParameter param_;
  std::string solver_dir_;
  std::map<std::string, std::unique_ptr<NetFile>> net_files_;  ///< while the nets are built
  std::shared_ptr<Communicator> comm_;
  Options options_;
  Rng rng_;  // declared before the nets, which draw from it
  std::unique_ptr<GradientReducer> reducer_;
  std::unique_ptr<Net> net_;
  std::vector<std::unique_ptr<Net>> test_nets_;
  std::vector<std::unique_ptr<Blob>> history_;
  bool nesterov_ = false;
  double images_per_iter_ = 0;  ///< for the images/s figure of the display line

  int iter_ = 0;
  int current_step_ = 0;
  std::vector<float> losses_;
  float smoothed_loss_ = 0;
  int loss_start_iter_ = 0;
  bool restored_losses_ = false;  ///< the next Step keeps the restored loss window
  bool requested_early_exit_ = false;
  int last_snapshot_iter_ = -1;  ///< the iteration of the last snapshot written (-1: none)
  std::function<SolverAction()> action_fn_;
  /// The descriptor holding the snapshot prefix's lock (-1: none); closed by the destructor.
  int prefix_lock_fd_ = -1;

  std::chrono::steady_clock::time_point timer_start_;
  int iterations_last_ = 0;
};

/// Copies each .caffemodel of a comma-separated list into `net` by layer name, logging
/// "Finetuning from <file>". With require_match, a file none of whose parameterised layers
/// is a parameterised layer of the net is a ConfigError (weights of another net).
void LoadNetWeights(Net* net, const std::string& files, bool require_match);

}  // namespace fcn
