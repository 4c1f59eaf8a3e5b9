// SPDX-License-Identifier: BSD-2-Clause
// Solver set-up and the training loop (Caffe's Solver::Init, Step, Solve, Test), with the
// display line extended by images/s and an ETA.
#include "fcn/solver.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "fcn/io.h"
#include "fcn/metrics.h"
#include "fcn/net_paths.h"
#include "fcn/rng.h"
#include "io/hdf5.h"
#include "solver/gradient_reducer.h"
#include "solver/solver_internal.h"

namespace fcn {

namespace fs = std::filesystem;

namespace {

const std::set<std::string>& KnownPolicies() {
  static const std::set<std::string> policies = {"fixed",     "step", "exp",    "inv",
                                                 "multistep", "poly", "sigmoid"};
  return policies;
}

// A real-valued setting that must be a finite number (and >= 0 where `non_negative`).
void CheckFinite(const char* name, float value, bool non_negative) {
  if (!std::isfinite(value)) {
    throw ConfigError(StrCat(name, " must be a finite number, got ", value));
  }
  if (non_negative && value < 0) {
    throw ConfigError(StrCat(name, " must not be negative, got ", value));
  }
}

}  // namespace

void CheckSolverSettings(const SolverParameter& param) {
  if (param.average_loss() < 1) {
    throw ConfigError(StrCat("average_loss must be >= 1, got ", param.average_loss()));
  }
  if (param.iter_size() < 1) {
    throw ConfigError(StrCat("iter_size must be >= 1, got ", param.iter_size()));
  }
  if (!KnownPolicies().count(param.lr_policy())) {
    throw ConfigError(StrCat("unknown lr_policy \"", param.lr_policy(),
                             "\"; expected fixed, step, exp, inv, multistep, poly or sigmoid"));
  }
  if (param.lr_policy() == "step" && param.stepsize() <= 0) {
    throw ConfigError(StrCat("lr_policy \"step\" needs stepsize > 0, got ", param.stepsize()));
  }
  if (param.regularization_type() != "L2" && param.regularization_type() != "L1") {
    throw ConfigError(StrCat("unknown regularization_type \"", param.regularization_type(),
                             "\"; expected \"L2\" or \"L1\""));
  }
  if (param.display() < 0 || param.snapshot() < 0 || param.test_interval() < 0 ||
      param.max_iter() < 0) {
    throw ConfigError("display, snapshot, test_interval and max_iter must not be negative");
  }
  CheckFinite("base_lr", param.base_lr(), true);
  CheckFinite("momentum", param.momentum(), true);
  CheckFinite("weight_decay", param.weight_decay(), true);
  CheckFinite("gamma", param.gamma(), false);
  CheckFinite("power", param.power(), false);
  CheckFinite("clip_gradients", param.clip_gradients(), false);
  CheckFinite("delta", param.delta(), false);
}

namespace {

// Images one forward pass consumes: the batch axis of the first top of the first layer
// without bottoms (a data layer), or 0 when the net has none.
double ImagesPerPass(const Net& net) {
  for (std::size_t i = 0; i < net.layers().size(); ++i) {
    if (!net.bottom_vecs()[i].empty() || net.top_vecs()[i].empty()) continue;
    const Blob* top = net.top_vecs()[i][0];
    return top->num_axes() > 0 ? static_cast<double>(top->shape(0)) : 0.0;
  }
  return 0.0;
}

// A (score, label) blob pair whose segmentation metrics are logged after each test.
struct MetricHead {
  std::string score;
  std::string label;
};

// The heads of a test net: the solver's test_score_blob/test_label_blob (every test net must
// have them), or by default each of (score, label), (score_sem, sem), (score_geo, geo) that
// the net has. See docs/metrics.md.
std::vector<MetricHead> MetricHeads(const SolverParameter& param, const Net& net, int net_id) {
  std::vector<MetricHead> heads;
  if (param.test_score_blob_size() == 0 && param.test_label_blob_size() == 0) {
    static const MetricHead kDefaults[] = {
        {"score", "label"}, {"score_sem", "sem"}, {"score_geo", "geo"}};
    for (const MetricHead& head : kDefaults) {
      if (net.has_blob(head.score) && net.has_blob(head.label)) heads.push_back(head);
    }
    return heads;
  }
  if (param.test_score_blob_size() != param.test_label_blob_size()) {
    throw ConfigError(StrCat("the solver gives ", param.test_score_blob_size(),
                             " test_score_blob and ", param.test_label_blob_size(),
                             " test_label_blob values; give one label blob per score blob"));
  }
  for (int i = 0; i < param.test_score_blob_size(); ++i) {
    heads.push_back({param.test_score_blob(i), param.test_label_blob(i)});
    for (const std::string& blob : {heads.back().score, heads.back().label}) {
      if (!net.has_blob(blob)) {
        throw ConfigError(StrCat(
            "test net #", net_id, " has no blob \"", blob,
            "\" (test_score_blob/test_label_blob); its blobs: ", Join(net.blob_names(), ", ")));
      }
    }
  }
  return heads;
}

}  // namespace

void UpgradeSolverType(SolverParameter* param) {
  if (!param->has_solver_type()) return;
  if (param->has_type()) {
    throw ConfigError(
        "the solver sets both type and the deprecated solver_type; remove solver_type");
  }
  static const char* const kNames[] = {"SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"};
  param->set_type(kNames[param->solver_type()]);
  param->clear_solver_type();
}

SolverParameter ReadSolverFile(const std::string& path) {
  SolverParameter param = ReadSolverParamFromTextFile(path);
  try {
    UpgradeSolverType(&param);
    CheckSolverSettings(param);
  } catch (const ConfigError& e) {
    throw ConfigError(StrCat(path, ": ", e.message()));
  }
  const std::string dir = DirName(path);
  std::error_code ec;
  auto resolve = [&](const std::string& file, const std::string& what) {
    const std::string resolved = ResolveReadPath(file, dir, what);
    if (!fs::exists(resolved, ec)) {
      throw ConfigError(StrCat(path, ": ", what, " \"", file,
                               "\" not found (tried it against the current directory and against ",
                               dir.empty() ? "." : dir, ")"));
    }
    if (fs::is_directory(resolved, ec)) {
      throw ConfigError(StrCat(path, ": ", what, " \"", file, "\" is a directory, not a file"));
    }
    return resolved;
  };
  if (param.has_net()) param.set_net(resolve(param.net(), "net"));
  if (param.has_train_net()) param.set_train_net(resolve(param.train_net(), "train_net"));
  for (int i = 0; i < param.test_net_size(); ++i) {
    param.set_test_net(i, resolve(param.test_net(i), StrCat("test_net #", i)));
  }
  for (int i = 0; i < param.weights_size(); ++i) {
    std::vector<std::string> files;
    std::stringstream ss(param.weights(i));
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) files.push_back(resolve(item, "weights"));
    }
    param.set_weights(i, Join(files, ","));
  }
  // Caffe's snapshot_prefix rules; outputs stay relative to the current directory.
  if (!param.has_snapshot_prefix()) {
    param.set_snapshot_prefix(fs::path(path).replace_extension().string());
  } else if (!param.snapshot_prefix().empty() && fs::is_directory(param.snapshot_prefix(), ec)) {
    param.set_snapshot_prefix((fs::path(param.snapshot_prefix()) / fs::path(path).stem()).string());
  }
  LOG(INFO) << "Snapshot prefix: " << param.snapshot_prefix();
  return param;
}

Solver::Solver(const SolverParameter& param, const std::string& solver_dir,
               std::shared_ptr<Communicator> comm, const Options& options)
    : param_(param),
      solver_dir_(solver_dir),
      comm_(std::move(comm)),
      options_(options),
      rng_(options.random_seed) {
  UpgradeSolverType(&param_);
  if (param_.has_precision()) {
    options_.precision =
        param_.precision() == SolverParameter::BF16 ? Precision::kBfloat16 : Precision::kFloat32;
  }
  LOG(INFO) << "Initializing solver from parameters: " << std::endl << param_.DebugString();
  if (param_.type() == "Nesterov") {
    nesterov_ = true;
  } else if (param_.type() != "SGD") {
    throw ConfigError(StrCat("solver type \"", param_.type(),
                             "\" is not supported; fcn implements \"SGD\" and \"Nesterov\""));
  }
  CheckSolverSettings(param_);
  // Of several ranks, rank 0 alone writes snapshots (and tests).
  if (is_root()) CheckSnapshotWritePermissions();
  if (param_.random_seed() >= 0) rng_.Seed(static_cast<std::uint64_t>(param_.random_seed()));
  InitTrainNet();
  if (is_root()) InitTestNets();
  net_files_.clear();
  for (Blob* p : net_->learnable_params()) {
    history_.push_back(std::make_unique<Blob>(p->shape()));
  }
  images_per_iter_ = ImagesPerPass(*net_) * param_.iter_size();
  if (distributed()) SetUpDataParallel();
  LOG(INFO) << "Solver scaffolding done.";
}

Solver::~Solver() {
  if (prefix_lock_fd_ >= 0) ::close(prefix_lock_fd_);  // releases the flock
}

void Solver::LockSnapshotPrefix() {
  if (prefix_lock_fd_ >= 0 || !is_root()) return;  // of several ranks, rank 0 holds it
  if (!param_.has_snapshot_prefix() || (param_.snapshot() == 0 && !param_.snapshot_after_train())) {
    return;
  }
  const std::string path = param_.snapshot_prefix() + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RuntimeError(
        StrCat(path, ": cannot create the snapshot prefix's lock file: ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[32] = {0};
    const ssize_t n = ::pread(fd, holder, sizeof(holder) - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string pid = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "";
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      throw RuntimeError(StrCat("snapshot_prefix \"", param_.snapshot_prefix(),
                                "\" is in use by another training run",
                                pid.empty() ? "" : StrCat(" (process ", pid, ")"), ", which holds ",
                                path, "; give this run another snapshot_prefix, or wait"));
    }
    throw RuntimeError(StrCat(path, ": cannot lock: ", std::strerror(err)));
  }
  // The holder's pid, for the message a second run prints (the lock, not the text, decides).
  const std::string pid = StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    LOG(WARNING) << path << ": cannot record this process's id: " << std::strerror(errno);
  }
  prefix_lock_fd_ = fd;
}

void Solver::CheckSnapshotWritePermissions() const {
  if (param_.snapshot() > 0 && !param_.has_snapshot_prefix()) {
    throw ConfigError("the solver sets snapshot but not snapshot_prefix");
  }
  if (!param_.has_snapshot_prefix() || (param_.snapshot() == 0 && !param_.snapshot_after_train())) {
    return;
  }
  const std::string probe = SnapshotFilename(".tempfile");
  std::ofstream out(probe);
  if (!out.good()) {
    throw ConfigError(StrCat("Cannot write to snapshot prefix '", param_.snapshot_prefix(),
                             "' (the probe file ", probe,
                             " cannot be created).  Make sure that the directory exists and is "
                             "writable."));
  }
  out.close();
  std::remove(probe.c_str());
}

// A net file named by the solver, as ReadNetParamFromTextFile returns it (upgraded, with its
// paths resolved beside it), read once even when the train and test nets share it.
struct Solver::NetFile {
  NetParameter param;
  NetSource source;
};

const Solver::NetFile& Solver::ReadNetFile(const std::string& path) {
  auto it = net_files_.find(path);
  if (it == net_files_.end()) {
    auto file = std::make_unique<NetFile>();
    file->param = ReadNetParamFromTextFile(path, &file->source);
    it = net_files_.emplace(path, std::move(file)).first;
  }
  return *it->second;
}

std::unique_ptr<Net> Solver::BuildNet(NetParameter param, const NetSource& source,
                                      const NetState& state, const std::string& dir) {
  // A net file was upgraded and had its paths resolved when read; an inline net is done here.
  if (source.path.empty()) {
    UpgradeNetAsNeeded("inline net", &param);
    ResolveNetPaths(dir, &param);
  }
  param.mutable_state()->CopyFrom(state);
  auto net = std::make_unique<Net>(param, options_, source.path.empty() ? nullptr : &source, &rng_);
  for (int id : net->output_blob_indices()) {
    LOG(INFO) << "This network produces output " << net->blob_names()[static_cast<std::size_t>(id)];
  }
  LOG(INFO) << "Network initialization done.";
  return net;
}

void Solver::InitTrainNet() {
  const int num_train_nets = param_.has_net() + param_.has_net_param() + param_.has_train_net() +
                             param_.has_train_net_param();
  const char* kFields = "train_net, train_net_param, net, net_param";
  if (num_train_nets < 1) {
    throw ConfigError(
        StrCat("the solver must specify a train net using one of these fields: ", kFields));
  }
  if (num_train_nets > 1) {
    throw ConfigError(
        StrCat("the solver must not contain more than one of these fields specifying a train net: ",
               kFields));
  }
  NetParameter net_param;
  NetSource source;
  if (param_.has_train_net_param()) {
    LOG(INFO) << "Creating training net specified in train_net_param.";
    net_param = param_.train_net_param();
  } else if (param_.has_train_net()) {
    LOG(INFO) << "Creating training net from train_net file: " << param_.train_net();
    const NetFile& file = ReadNetFile(param_.train_net());
    net_param = file.param;
    source = file.source;
  } else if (param_.has_net_param()) {
    LOG(INFO) << "Creating training net specified in net_param.";
    net_param = param_.net_param();
  } else {
    LOG(INFO) << "Creating training net from net file: " << param_.net();
    const NetFile& file = ReadNetFile(param_.net());
    net_param = file.param;
    source = file.source;
  }
  // Phase TRAIN, then the net's own state, then train_state: the later source wins.
  NetState state;
  state.set_phase(TRAIN);
  state.MergeFrom(net_param.state());
  state.MergeFrom(param_.train_state());
  net_ = BuildNet(net_param, source, state, solver_dir_);
  // Activation gradients are dropped once consumed (nothing reads them after the step).
  net_->set_release_consumed_diffs(true);
  // Of several ranks, rank 0 loads the weights and broadcasts them (SetUpDataParallel).
  if (!is_root()) return;
  for (const std::string& weights : param_.weights()) LoadNetWeights(net_.get(), weights, true);
}

void Solver::InitTestNets() {
  const bool has_net_param = param_.has_net_param();
  const bool has_net_file = param_.has_net();
  const int num_generic_nets = has_net_param + has_net_file;
  if (num_generic_nets > 1) throw ConfigError("the solver may not set both net and net_param");
  const int num_test_nets = param_.test_net_param_size() + param_.test_net_size();
  if (num_generic_nets > 0 ? param_.test_iter_size() < num_test_nets
                           : param_.test_iter_size() != num_test_nets) {
    throw ConfigError(
        StrCat("test_iter must be specified for each test network: ", param_.test_iter_size(),
               " test_iter value(s) for ", num_test_nets, " test net(s)"));
  }
  const int num_generic_instances = param_.test_iter_size() - num_test_nets;
  const int num_instances = num_test_nets + num_generic_instances;
  if (param_.test_state_size() > 0 && param_.test_state_size() != num_instances) {
    throw ConfigError(StrCat("test_state must be unspecified or specified once per test net (",
                             num_instances, " test nets, ", param_.test_state_size(),
                             " test_state values)"));
  }
  if (num_instances > 0 && param_.test_interval() <= 0) {
    throw ConfigError(
        StrCat("the solver has ", num_instances, " test net(s) but test_interval is not > 0"));
  }
  for (int i = 0; i < num_instances; ++i) {
    if (param_.test_iter(i) <= 0) {
      throw ConfigError(StrCat("test_iter #", i, " must be > 0, got ", param_.test_iter(i)));
    }
    NetParameter net_param;
    NetSource source;
    std::string what;
    const int file_index = i - param_.test_net_param_size();
    if (i < param_.test_net_param_size()) {
      net_param = param_.test_net_param(i);
      what = "test_net_param";
    } else if (file_index < param_.test_net_size()) {
      const std::string& file = param_.test_net(file_index);
      const NetFile& read = ReadNetFile(file);
      net_param = read.param;
      source = read.source;
      what = "test_net file: " + file;
    } else if (has_net_param) {
      net_param = param_.net_param();
      what = "net_param";
    } else {
      const NetFile& read = ReadNetFile(param_.net());
      net_param = read.param;
      source = read.source;
      what = "net file: " + param_.net();
    }
    NetState state;
    state.set_phase(TEST);
    state.MergeFrom(net_param.state());
    if (param_.test_state_size() > 0) state.MergeFrom(param_.test_state(i));
    LOG(INFO) << "Creating test net (#" << i << ") specified by " << what;
    test_nets_.push_back(BuildNet(net_param, source, state, solver_dir_));
    MetricHeads(param_, *test_nets_.back(), i);
    for (const std::string& weights : param_.weights()) {
      LoadNetWeights(test_nets_.back().get(), weights, false);
    }
  }
}

void Solver::LoadWeights(const std::string& files) {
  LoadNetWeights(net_.get(), files, true);
  for (auto& test_net : test_nets_) LoadNetWeights(test_net.get(), files, false);
}

void LoadNetWeights(Net* net, const std::string& files, bool require_match) {
  std::stringstream ss(files);
  std::string file;
  while (std::getline(ss, file, ',')) {
    if (file.empty()) continue;
    LOG(INFO) << "Finetuning from " << file;
    std::vector<std::string> ignored;
    CopyWeightsFile(net, file, require_match, &ignored);
    for (const std::string& name : ignored) LOG(INFO) << "Ignoring source layer " << name;
  }
}

void CopyWeightsFile(Net* net, const std::string& file, bool require_match,
                     std::vector<std::string>* ignored) {
  net->CopyTrainedLayersFromFile(file, ignored, [&](const WeightsTally& tally) {
    CheckWeightsMatch(tally, *net, file, require_match);
  });
}

void CheckWeightsMatch(const WeightsTally& tally, const Net& net, const std::string& file,
                       bool require_match) {
  if (!require_match) return;
  if (tally.layers_with_params > 0 && !tally.names_a_parametric_layer) {
    throw ConfigError(StrCat(file, ": none of its layers with parameters (",
                             Join(tally.with_params, ", "),
                             ", ...) is a layer with parameters of net \"", net.name(),
                             "\"; these weights belong to another net"));
  }
  net.CheckWeightsSetAParameter(tally, file);
}

float Solver::GetLearningRate() {
  const std::string& policy = param_.lr_policy();
  const float base_lr = param_.base_lr();
  const float gamma = param_.gamma();
  const float power = param_.power();
  // Caffe computes the powers and exponentials in double (glibc's pow/exp on promoted float
  // arguments) and rounds the product to float; the bases are float expressions.
  double rate = base_lr;
  if (policy == "fixed") {
    rate = base_lr;
  } else if (policy == "step") {
    current_step_ = iter_ / param_.stepsize();
    rate = base_lr * std::pow(static_cast<double>(gamma), static_cast<double>(current_step_));
  } else if (policy == "exp") {
    rate = base_lr * std::pow(static_cast<double>(gamma), static_cast<double>(iter_));
  } else if (policy == "inv") {
    const float base = 1.0f + gamma * static_cast<float>(iter_);
    rate = base_lr * std::pow(static_cast<double>(base), static_cast<double>(-power));
  } else if (policy == "multistep") {
    if (current_step_ < param_.stepvalue_size() && iter_ >= param_.stepvalue(current_step_)) {
      ++current_step_;
      LOG(INFO) << "MultiStep Status: Iteration " << iter_ << ", step = " << current_step_;
    }
    rate = base_lr * std::pow(static_cast<double>(gamma), static_cast<double>(current_step_));
  } else if (policy == "poly") {
    const float base = 1.0f - static_cast<float>(iter_) / static_cast<float>(param_.max_iter());
    rate = base_lr * std::pow(static_cast<double>(base), static_cast<double>(power));
  } else if (policy == "sigmoid") {
    const float arg = -gamma * (static_cast<float>(iter_) - static_cast<float>(param_.stepsize()));
    rate = base_lr * (1.0f / (1.0f + std::exp(static_cast<double>(arg))));
  }
  return static_cast<float>(rate);
}

SolverAction Solver::RequestedAction() { return action_fn_ ? action_fn_() : SolverAction::kNone; }

void Solver::UpdateSmoothedLoss(float loss, int average_loss) {
  if (losses_.size() < static_cast<std::size_t>(average_loss)) {
    losses_.push_back(loss);
    const int size = static_cast<int>(losses_.size());
    smoothed_loss_ =
        (smoothed_loss_ * static_cast<float>(size - 1) + loss) / static_cast<float>(size);
  } else {
    const auto idx = static_cast<std::size_t>((iter_ - loss_start_iter_) % average_loss);
    smoothed_loss_ += (loss - losses_[idx]) / static_cast<float>(average_loss);
    losses_[idx] = loss;
  }
}

void Solver::LogDisplay() {
  const float lapse =
      std::chrono::duration<float>(std::chrono::steady_clock::now() - timer_start_).count();
  const float per_s = static_cast<float>(iter_ - iterations_last_) / (lapse != 0 ? lapse : 1);
  std::ostringstream extra;
  extra << " img/s=" << per_s * images_per_iter_;
  if (distributed()) extra << " ranks=" << world_size();
  extra << " eta=";
  if (per_s > 0) {
    extra << FormatDuration((param_.max_iter() - iter_) / per_s);
  } else {
    extra << "?";
  }
  LOG(INFO) << "Iteration " << iter_ << " (" << per_s << " iter/s, " << lapse << "s/"
            << param_.display() << " iters), loss = " << smoothed_loss_ << extra.str();
  timer_start_ = std::chrono::steady_clock::now();
  iterations_last_ = iter_;
  int score_index = 0;
  for (std::size_t j = 0; j < net_->output_blobs().size(); ++j) {
    const Blob* result = net_->output_blobs()[j];
    const auto blob_index = static_cast<std::size_t>(net_->output_blob_indices()[j]);
    const std::string& name = net_->blob_names()[blob_index];
    const float loss_weight = net_->blob_loss_weights()[blob_index];
    const float* values = result->cpu_data();
    for (std::int64_t k = 0; k < result->count(); ++k) {
      std::ostringstream loss_msg;
      if (loss_weight != 0) {
        loss_msg << " (* " << loss_weight << " = " << loss_weight * values[k] << " loss)";
      }
      LOG(INFO) << "    Train net output #" << score_index++ << ": " << name << " = " << values[k]
                << loss_msg.str();
    }
  }
}

void Solver::Step(int iters) {
  const int stop_iter = iter_ + iters;
  const int average_loss = param_.average_loss();
  // Caffe starts a fresh loss window with every Step; a window restored from an fcn
  // snapshot is kept so that a resumed run prints what the uninterrupted one prints.
  if (!restored_losses_ || losses_.size() > static_cast<std::size_t>(average_loss)) {
    losses_.clear();
    smoothed_loss_ = 0;
    loss_start_iter_ = iter_;
  }
  restored_losses_ = false;
  timer_start_ = std::chrono::steady_clock::now();
  iterations_last_ = iter_;

  // The prefix is taken when training starts (bad input before that writes nothing).
  LockSnapshotPrefix();
  while (iter_ < stop_iter) {
    net_->ClearParamDiffs();
    if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0 &&
        (iter_ > 0 || param_.test_initialization())) {
      if (is_root()) TestAll();
      if (requested_early_exit_) break;
    }
    const bool display = param_.display() > 0 && iter_ % param_.display() == 0;
    float loss = 0;
    SolverAction request = SolverAction::kNone;
    bool snapshot_request = false;
    for (int i = 0; i < param_.iter_size(); ++i) {
      if (reducer_) reducer_->BeginPass(i == param_.iter_size() - 1);
      loss += net_->ForwardBackward();
    }
    if (distributed()) {
      // Gradients summed over the ranks (Normalize divides by iter_size x ranks), the loss
      // averaged over every pass of every rank, and the ranks' signal requests combined.
      reducer_->Finish();
      loss = ReduceStep(loss, &request, &snapshot_request);
    } else {
      loss /= static_cast<float>(param_.iter_size());
    }
    if (!std::isfinite(loss)) {
      throw RuntimeError(StrCat("Iteration ", iter_, ": the loss is ", loss,
                                "; training stopped before the update (snapshots already written "
                                "are kept; lower base_lr or check the data)"));
    }
    UpdateSmoothedLoss(loss, average_loss);
    if (display) {
      if (distributed()) ShareDisplayOutputs();
      if (is_root()) LogDisplay();
    }
    ApplyUpdate();
    ++iter_;

    if (!distributed()) {
      request = RequestedAction();
      snapshot_request =
          request == SolverAction::kSnapshot || request == SolverAction::kSnapshotStop;
    }
    if ((param_.snapshot() > 0 && iter_ % param_.snapshot() == 0) || snapshot_request) {
      Snapshot();
    }
    if (request == SolverAction::kStop || request == SolverAction::kSnapshotStop) {
      requested_early_exit_ = true;
      break;
    }
  }
}

void Solver::Solve() {
  LOG(INFO) << "Solving " << net_->name();
  LOG(INFO) << "Learning Rate Policy: " << param_.lr_policy();
  requested_early_exit_ = false;
  Step(param_.max_iter() - iter_);
  if (distributed() && is_root()) {
    const double total = reduce_seconds();
    const double exposed = exposed_reduce_seconds();
    LOG(INFO) << "All-reduce over " << world_size() << " ranks (" << comm_->name() << "): " << total
              << " s, of which " << exposed << " s were not hidden behind the backward pass ("
              << (total > 0 ? 100.0 * std::max(0.0, 1.0 - exposed / total) : 0.0) << "% hidden)";
  }
  if (param_.snapshot_after_train() && (param_.snapshot() == 0 || iter_ % param_.snapshot() != 0) &&
      last_snapshot_iter_ != iter_) {
    Snapshot();
  }
  if (requested_early_exit_) {
    LOG(INFO) << "Optimization stopped early.";
    return;
  }
  if (param_.display() > 0 && iter_ % param_.display() == 0) {
    const float loss = net_->Forward();
    UpdateSmoothedLoss(loss, param_.average_loss());
    LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_;
  }
  if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0 && is_root()) TestAll();
  LOG(INFO) << "Optimization Done.";
}

void Solver::TestAll() {
  for (std::size_t i = 0; i < test_nets_.size() && !requested_early_exit_; ++i) Test(i);
}

void Solver::Test(std::size_t test_net_id) {
  LOG(INFO) << "Iteration " << iter_ << ", Testing net (#" << test_net_id << ")";
  Net& test_net = *test_nets_[test_net_id];
  test_net.ShareTrainedLayersWith(*net_);
  const int test_iter = param_.test_iter(static_cast<int>(test_net_id));
  std::vector<float> scores;
  std::vector<std::size_t> score_output;
  const std::vector<MetricHead> heads =
      MetricHeads(param_, test_net, static_cast<int>(test_net_id));
  std::vector<ConfusionMatrix> matrices;
  std::vector<bool> skipped(heads.size(), false);
  float loss = 0;
  for (int i = 0; i < test_iter; ++i) {
    // Of several ranks, requests are combined once per iteration (ReduceStep), not here.
    for (SolverAction request = distributed() ? SolverAction::kNone : RequestedAction();
         request != SolverAction::kNone; request = RequestedAction()) {
      if (request == SolverAction::kSnapshot || request == SolverAction::kSnapshotStop) {
        Snapshot();
      }
      if (request == SolverAction::kStop || request == SolverAction::kSnapshotStop) {
        requested_early_exit_ = true;
      }
    }
    if (requested_early_exit_) break;
    const float iter_loss = test_net.Forward();
    if (param_.test_compute_loss()) loss += iter_loss;
    for (std::size_t h = 0; h < heads.size(); ++h) {
      const Blob& score = *test_net.blob_by_name(heads[h].score);
      if (matrices.size() == h) {
        matrices.emplace_back(static_cast<int>(score.num_axes() > 1 ? score.shape(1) : 1),
                              IgnoreLabelFor(test_net.param(), heads[h].label));
      }
      if (skipped[h]) continue;
      try {
        matrices[h].Accumulate(score, *test_net.blob_by_name(heads[h].label),
                               StrCat("test net #", test_net_id, " blob \"", heads[h].label, "\""));
      } catch (const ConfigError& e) {
        // Blobs the solver named must be scorable; blobs found by their default names may
        // belong to a net that is not a segmentation net, which is no reason to stop training.
        if (param_.test_score_blob_size() > 0) throw;
        LOG(WARNING) << "No metrics for test net #" << test_net_id << " head " << heads[h].score
                     << ": " << e.what();
        skipped[h] = true;
      }
    }
    std::size_t idx = 0;
    for (std::size_t j = 0; j < test_net.output_blobs().size(); ++j) {
      const Blob* result = test_net.output_blobs()[j];
      const float* values = result->cpu_data();
      for (std::int64_t k = 0; k < result->count(); ++k, ++idx) {
        if (i == 0) {
          scores.push_back(values[k]);
          score_output.push_back(j);
        } else {
          scores[idx] += values[k];
        }
      }
    }
  }
  if (requested_early_exit_) {
    LOG(INFO) << "Test interrupted.";
    return;
  }
  if (param_.test_compute_loss()) {
    loss /= static_cast<float>(test_iter);
    LOG(INFO) << "Test loss: " << loss;
  }
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const auto blob_index =
        static_cast<std::size_t>(test_net.output_blob_indices()[score_output[i]]);
    const float loss_weight = test_net.blob_loss_weights()[blob_index];
    const float mean_score = scores[i] / static_cast<float>(test_iter);
    std::ostringstream loss_msg;
    if (loss_weight != 0) {
      loss_msg << " (* " << loss_weight << " = " << loss_weight * mean_score << " loss)";
    }
    LOG(INFO) << "    Test net output #" << i << ": " << test_net.blob_names()[blob_index] << " = "
              << mean_score << loss_msg.str();
  }
  // fcn's addition after Caffe's lines: the FCN paper's four metrics per head.
  for (std::size_t h = 0; h < matrices.size(); ++h) {
    if (skipped[h]) continue;
    const SegmentationScores s = matrices[h].Scores();
    LOG(INFO) << "    Test net metrics #" << h << ": pixel_acc = " << s.pixel_acc
              << ", mean_acc = " << s.mean_acc << ", mean_iu = " << s.mean_iu
              << ", fwavacc = " << s.fwavacc << " (" << heads[h].score << ")";
  }
}

}  // namespace fcn
