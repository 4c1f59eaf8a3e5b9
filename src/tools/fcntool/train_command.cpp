// SPDX-License-Identifier: BSD-2-Clause
// fcntool train: Caffe's `caffe train` (solver, resume, fine-tuning, SIGINT/SIGHUP effects).
#include <glog/logging.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "fcn/gpu.h"
#include "fcn/net_paths.h"
#include "fcn/solver.h"
#include "tools/fcntool/commands.h"
#include "tools/fcntool/tool_options.h"

#if FCN_HAVE_MPI
#include "fcn/mpi_communicator.h"
#include "fcn/nccl_communicator.h"
#endif

DEFINE_string(solver, "", "The solver definition (prototxt); required for train.");
DEFINE_string(snapshot, "",
              "A .solverstate to resume training from (not together with --weights).");
DEFINE_string(sigint_effect, "stop",
              "What SIGINT (Ctrl-C) does during training: stop, snapshot or none.");
DEFINE_string(sighup_effect, "snapshot",
              "What SIGHUP does during training: stop, snapshot or none.");
DEFINE_string(sigterm_effect, "snapshot_stop",
              "What SIGTERM (a scheduler's 'stop now') does during training: snapshot_stop "
              "(write a snapshot, then stop), stop, snapshot or none.");
DEFINE_double(comm_timeout, 900,
              "Under mpirun: seconds a rank waits in one collective (a gradient all-reduce, "
              "or for rank 0 to finish a test pass or snapshot) before it decides that another "
              "rank died or its host stopped answering, and exits with code 1; 0 waits forever.");

namespace fcn::tool {

namespace {

volatile std::sig_atomic_t got_sigint = 0;
volatile std::sig_atomic_t got_sighup = 0;
volatile std::sig_atomic_t got_sigterm = 0;

extern "C" void HandleSignal(int signal) {
  if (signal == SIGINT) got_sigint = 1;
  if (signal == SIGHUP) got_sighup = 1;
  if (signal == SIGTERM) got_sigterm = 1;
}

SolverAction ParseEffect(const char* flag, const std::string& value) {
  if (value == "stop") return SolverAction::kStop;
  if (value == "snapshot") return SolverAction::kSnapshot;
  if (value == "none") return SolverAction::kNone;
  if (value == "snapshot_stop") return SolverAction::kSnapshotStop;
  throw ConfigError(
      StrCat("--", flag, "=", value, ": expected stop, snapshot or none, or snapshot_stop"));
}

// Installs the handlers for the life of a training run and restores the old ones after.
class SignalHandlers {
 public:
  SignalHandlers() {
    struct sigaction sa {};
    sa.sa_handler = &HandleSignal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGHUP, &sa, &old_hup_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalHandlers() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGHUP, &old_hup_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  SignalHandlers(const SignalHandlers&) = delete;
  SignalHandlers& operator=(const SignalHandlers&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_hup_ {};
  struct sigaction old_term_ {};
};

}  // namespace

int Train(std::shared_ptr<Communicator> comm);

#if FCN_HAVE_MPI
// Whether an MPI launcher (mpirun/mpiexec) started this process: OpenMPI's or PMIx's rank
// variables are set. Only then is MPI initialised.
bool LaunchedByMpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// Under mpirun: MPI for the life of the command, one communicator (NCCL when the net runs
// on a GPU and NCCL is built, MPI otherwise), logging on rank 0 only, and an error on any
// rank ending every rank (MPI_Abort) instead of leaving the others waiting.
int TrainUnderMpi() {
  InitMpi(nullptr, nullptr);
  auto mpi = std::make_shared<MpiCommunicator>(FLAGS_comm_timeout);
  if (mpi->size() == 1) {
    mpi.reset();
    const int code = Train(nullptr);
    FinalizeMpi();
    return code;
  }
  const int rank = mpi->rank();
  if (rank != 0) FLAGS_minloglevel = google::WARNING;
  int code = 0;
  try {
    std::shared_ptr<Communicator> comm = mpi;
    if (ToolOptions().device == Device::kCuda) {
      comm = CreateNcclCommunicator(mpi, ToolOptions().device_id);
    }
    LOG(INFO) << "Rank 0 of " << mpi->size() << " (" << comm->name() << ")";
    code = Train(comm);
    mpi->Barrier();
  } catch (const ConfigError& e) {
    std::cerr << "fcntool train: rank " << rank << ": " << e.what() << std::endl;
    AbortMpi(2);
  } catch (const std::exception& e) {
    std::cerr << "fcntool train: rank " << rank << ": " << e.what() << std::endl;
    AbortMpi(1);
  }
  mpi.reset();
  FinalizeMpi();
  return code;
}
#endif

int RunTrain() {
#if FCN_HAVE_MPI
  if (LaunchedByMpi()) return TrainUnderMpi();
#endif
  return Train(nullptr);
}

int Train(std::shared_ptr<Communicator> comm) {
  RequireFlag("solver", FLAGS_solver);
  if (!FLAGS_snapshot.empty() && !FLAGS_weights.empty()) {
    throw ConfigError(
        "Give a snapshot to resume training or weights to finetune but not both (--snapshot "
        "and --weights)");
  }
  const SolverAction sigint_action = ParseEffect("sigint_effect", FLAGS_sigint_effect);
  const SolverAction sighup_action = ParseEffect("sighup_effect", FLAGS_sighup_effect);
  const SolverAction sigterm_action = ParseEffect("sigterm_effect", FLAGS_sigterm_effect);
  std::error_code ec;
  // Of several ranks, rank 0 alone reads the snapshot (the others may run on hosts without it).
  const bool reads_files = comm == nullptr || comm->rank() == 0;
  if (reads_files && !FLAGS_snapshot.empty() &&
      !std::filesystem::is_regular_file(FLAGS_snapshot, ec)) {
    throw ConfigError(StrCat("--snapshot=", FLAGS_snapshot, ": no such file"));
  }

  SolverParameter param = ReadSolverFile(FLAGS_solver);
  param.mutable_train_state()->set_level(FLAGS_level);
  for (const std::string& stage : SplitList(FLAGS_stage)) {
    param.mutable_train_state()->add_stage(stage);
  }
  // As caffe train: without --gpu, the solver's solver_mode GPU picks its device_id.
  if (FLAGS_gpu.empty() && param.has_solver_mode() && param.solver_mode() == SolverParameter::GPU) {
    std::string why;
    if (gpu::DeviceCount(&why) > 0) {
      gpu::SetDevice(param.device_id());  // throws when the device cannot be used
      ToolOptions().device = Device::kCuda;
      ToolOptions().device_id = param.device_id();
      LOG(INFO) << "Use GPU with device ID " << param.device_id();
    } else {
      LOG(WARNING) << FLAGS_solver << " asks for solver_mode: GPU; running on the CPU: " << why;
    }
  }
  if (ToolOptions().device == Device::kCpu) LOG(INFO) << "Use CPU.";
  // --precision overrides the solver's precision field, which overrides FCN_PRECISION.
  if (PrecisionFlagGiven() || !param.has_precision()) {
    param.set_precision(ToolOptions().precision == Precision::kBfloat16 ? SolverParameter::BF16
                                                                        : SolverParameter::FP32);
  }
  if (!FLAGS_snapshot.empty()) {
    param.clear_weights();
  } else if (!FLAGS_weights.empty()) {
    param.clear_weights();
    param.add_weights(FLAGS_weights);
  }

  SignalHandlers handlers;
  Solver solver(param, DirName(FLAGS_solver), std::move(comm), ToolOptions());
  solver.SetActionFunction([sigint_action, sighup_action, sigterm_action]() {
    if (got_sigterm) {
      got_sigterm = 0;
      return sigterm_action;
    }
    if (got_sighup) {
      got_sighup = 0;
      return sighup_action;
    }
    if (got_sigint) {
      got_sigint = 0;
      return sigint_action;
    }
    return SolverAction::kNone;
  });
  {
    const std::int64_t planned = CheckPlannedMemory(*solver.net(), true);
    for (const auto& test_net : solver.test_nets()) CheckPlannedMemory(*test_net, false, planned);
  }
  if (!FLAGS_snapshot.empty()) {
    LOG(INFO) << "Resuming from " << FLAGS_snapshot;
    solver.Restore(FLAGS_snapshot);
  }
  LOG(INFO) << "Starting Optimization";
  solver.Solve();
  LOG(INFO) << "Optimization Done.";
  return 0;
}

}  // namespace fcn::tool
