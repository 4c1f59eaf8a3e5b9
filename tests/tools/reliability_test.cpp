// SPDX-License-Identifier: BSD-2-Clause
// Regression tests for what an adversarial probe of fcntool found (issue 17): each test is
// named after the case it reproduces. Bad input must give a clear error (exit 2, or 1 for a
// runtime failure) that names the file, never a signal, a hang or a silent wrong result.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "fcn/io.h"
#include "fcn/lmdb_db.h"
#include "support/test_util.h"

namespace fcn {
namespace {

namespace fs = std::filesystem;
using test::RunFcntool;
using test::RunShell;
using test::TempDir;
using test::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// --- a small classification database and a net that reads it ---------------------------------

// `count` raw 3x12x12 Datums (seeded bytes, label i % 3) in Caffe's key format.
std::string WriteDatumDb(const std::string& dir, int count) {
  LmdbWriter writer(dir);
  std::mt19937 rng(7);
  for (int i = 0; i < count; ++i) {
    Datum d;
    d.set_channels(3);
    d.set_height(12);
    d.set_width(12);
    std::string bytes(3 * 12 * 12, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    d.set_data(bytes);
    d.set_label(i % 3);
    char key[32];
    std::snprintf(key, sizeof(key), "%08d_img%d.png", i, i);
    writer.Put(key, d.SerializeAsString());
  }
  writer.Commit();
  return dir;
}

// Sequential order: shuffle applies to segmentation databases only.
std::string DbNet(const std::string& source, int batch = 1, bool shuffle = false) {
  return StrCat(R"(name: "dbnet"
layer { name: "data" type: "Data" top: "data" top: "label"
        transform_param { scale: 0.0039 }
        data_param { source: ")",
                source, "\" batch_size: ", batch, " backend: LMDB", shuffle ? " shuffle: true" : "",
                R"( } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
)");
}

// A solver for `net`; `extra` lines replace the defaults of the same fields.
std::string Solver(const std::string& net, const std::string& prefix, int max_iter,
                   const std::string& extra = "") {
  std::string out;
  for (const std::string& line : {std::string("base_lr: 0.01"), std::string("lr_policy: \"fixed\""),
                                  std::string("momentum: 0.9"), std::string("display: 1")}) {
    if (extra.find(line.substr(0, line.find(':') + 1)) == std::string::npos) out += line + "\n";
  }
  return StrCat("net: \"", net, "\"\n", out, "max_iter: ", max_iter, "\nsnapshot_prefix: \"",
                prefix, "\"\nrandom_seed: 3\n", extra);
}

// A database of 300 records, several pages long, and a copy of its data.mdb bytes.
struct DamagedDb {
  std::string dir;
  std::string data;  // the intact data.mdb

  explicit DamagedDb(const std::string& root) : dir(root + "/db") {
    WriteDatumDb(dir, 300);
    data = ReadBytes(dir + "/data.mdb");
  }
  void Write(const std::string& bytes) const { WriteBytes(dir + "/data.mdb", bytes); }
};

// Exit code and output of `fcntool train` over the database in `root`.
test::CommandResult TrainOn(const std::string& root, const std::string& db, int iters = 20) {
  WriteFile(root + "/net.prototxt", DbNet(db));
  WriteFile(root + "/solver.prototxt", Solver(root + "/net.prototxt", root + "/snap", iters));
  return RunFcntool(StrCat("train --solver=", root, "/solver.prototxt"));
}

TEST(DamagedLmdb, TruncatedToHalfItsSizeIsAnErrorNamingThePath) {
  const std::string root = TempDir();
  DamagedDb db(root);
  ASSERT_GT(db.data.size(), 40000u);
  db.Write(db.data.substr(0, db.data.size() / 2));
  WriteFile(root + "/net.prototxt", DbNet(db.dir));
  const auto check = RunFcntool(StrCat("check --phase=TRAIN --model=", root, "/net.prototxt"));
  EXPECT_EQ(check.exit_code, 2) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr(db.dir + "/data.mdb"), HasSubstr("truncated")));
  const auto r = TrainOn(root, db.dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(db.dir + "/data.mdb: the database is damaged or truncated"));
}

TEST(DamagedLmdb, TruncatedTo8192BytesIsAnError) {
  const std::string root = TempDir();
  DamagedDb db(root);
  db.Write(db.data.substr(0, 8192));
  const auto r = TrainOn(root, db.dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("damaged or truncated"));
}

TEST(DamagedLmdb, AnEmptyDataFileIsAnErrorNotABadFileDescriptor) {
  const std::string root = TempDir();
  DamagedDb db(root);
  db.Write("");
  const auto r = TrainOn(root, db.dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(db.dir + "/data.mdb: 0 bytes is too short"),
                              Not(HasSubstr("Bad file descriptor"))));
}

// Random bytes written over 8 places past the meta pages (FCN_DAMAGE_SEEDS sets the number of
// seeds; 300 passed when this was written): whatever LMDB makes of them, the
// process ends with an exit status (0 when the damage was in unused space), never a signal.
TEST(DamagedLmdb, RandomBytesPastTheMetaPagesNeverCrash) {
  const std::string root = TempDir();
  DamagedDb db(root);
  int errors = 0;
  const int seeds =
      std::getenv("FCN_DAMAGE_SEEDS") ? std::atoi(std::getenv("FCN_DAMAGE_SEEDS")) : 24;
  for (int seed = 0; seed < seeds; ++seed) {
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    std::string bytes = db.data;
    for (int k = 0; k < 8; ++k) {
      const std::size_t at = 8192 + rng() % (bytes.size() - 8192 - 8);
      for (int b = 0; b < 8; ++b)
        bytes[at + static_cast<std::size_t>(b)] = static_cast<char>(rng());
    }
    db.Write(bytes);
    // 310 iterations at batch 1 read every one of the 300 records.
    const auto r = TrainOn(root, db.dir, 310);
    ASSERT_LT(r.exit_code, 128) << "seed " << seed << ": killed by a signal\n" << r.output;
    ASSERT_NE(r.exit_code, -1) << "seed " << seed;
    if (r.exit_code != 0) {
      ++errors;
      EXPECT_THAT(r.output, HasSubstr(db.dir)) << "seed " << seed;
    }
  }
  EXPECT_GT(errors, 0) << "no seed damaged anything: the test checks nothing";
}

TEST(DamagedLmdb, AnUnreadableDirectoryIsReportedAsUnreadable) {
  if (std::system("command -v setpriv >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "setpriv (util-linux) is needed to drop root's permissions";
  }
  const std::string root = TempDir();
  DamagedDb db(root);
  WriteFile(root + "/net.prototxt", DbNet(db.dir));
  fs::permissions(db.dir, fs::perms::none);
  fs::permissions(root, fs::perms::all);
  const auto r =
      test::RunShell(StrCat("setpriv --reuid=65534 --regid=65534 --clear-groups ", FCNTOOL_PATH,
                            " check --phase=TRAIN --model=", root, "/net.prototxt"));
  fs::permissions(db.dir, fs::perms::owner_all);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(db.dir), HasSubstr("Permission denied"),
                              Not(HasSubstr("no data.mdb"))));
}

// --- flags -------------------------------------------------------------------------------------

const char* kTinyNet = R"(name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 2 kernel_size: 3 } }
)";

TEST(ThreadsFlag, OutsideOneToFourTimesTheCoresIsRefused) {
  const std::string net = WriteFile(TempDir() + "/net.prototxt", kTinyNet);
  for (const char* bad : {"100000", "20000", "-4", "0"}) {
    const auto r = RunFcntool(StrCat("check --threads=", bad, " --model=", net));
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(StrCat("--threads=", bad, ": expected 1 to ")));
  }
  const auto ok = RunFcntool(StrCat("check --threads=1 --model=", net));
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

// --- prototxt and solver files -----------------------------------------------------------------

TEST(PrototxtFiles, ADirectoryOrAnEmptyFileIsNotANet) {
  const std::string dir = TempDir();
  fs::create_directories(dir + "/adir");
  WriteFile(dir + "/empty.prototxt", "");
  WriteFile(dir + "/comments.prototxt", "# nothing here\n\n");
  for (const char* command : {"check", "time --iterations=1", "draw"}) {
    const auto d = RunFcntool(StrCat(command, " --model=", dir, "/adir"));
    EXPECT_EQ(d.exit_code, 2) << command << ": " << d.output;
    EXPECT_THAT(d.output, HasSubstr(dir + "/adir: is a directory, not a file"));
    for (const char* empty : {"empty", "comments"}) {
      const auto e = RunFcntool(StrCat(command, " --model=", dir, "/", empty, ".prototxt"));
      EXPECT_EQ(e.exit_code, 2) << command << ": " << e.output;
      EXPECT_THAT(e.output, HasSubstr("the file defines no layers"));
    }
  }
  const auto s = RunFcntool(
      StrCat("surgery --model=", dir, "/empty.prototxt --output=", dir, "/out.caffemodel"));
  EXPECT_EQ(s.exit_code, 2) << s.output;
  EXPECT_FALSE(fs::exists(dir + "/out.caffemodel"));
}

TEST(SolverFiles, ADirectoryOrAnEmptyFileIsNotASolverOrNet) {
  const std::string dir = TempDir();
  fs::create_directories(dir + "/adir");
  WriteFile(dir + "/empty.prototxt", "\n");
  const auto d = RunFcntool(StrCat("train --solver=", dir, "/adir"));
  EXPECT_EQ(d.exit_code, 2) << d.output;
  EXPECT_THAT(d.output,
              AllOf(HasSubstr("is a directory, not a file"), Not(HasSubstr("unknown lr_policy"))));
  const auto e = RunFcntool(StrCat("train --solver=", dir, "/empty.prototxt"));
  EXPECT_EQ(e.exit_code, 2) << e.output;
  EXPECT_THAT(e.output, HasSubstr("the file sets no solver field"));
  WriteFile(dir + "/solver.prototxt", Solver(dir + "/adir", dir + "/snap", 3));
  const auto n = RunFcntool(StrCat("train --solver=", dir, "/solver.prototxt"));
  EXPECT_EQ(n.exit_code, 2) << n.output;
  EXPECT_THAT(n.output, HasSubstr("is a directory, not a file"));
  EXPECT_FALSE(fs::exists(dir + "/snap_iter_3.caffemodel"));
}

TEST(SolverFiles, BadSettingsNameTheSolverFileAndBaseLrMustBeFiniteAndNonNegative) {
  const std::string dir = TempDir();
  WriteFile(dir + "/net.prototxt", kTinyNet);
  struct Case {
    std::string setting, expected;
  };
  for (const Case& c : {Case{"base_lr: nan", "base_lr must be a finite number"},
                        Case{"base_lr: inf", "base_lr must be a finite number"},
                        Case{"base_lr: -0.1", "base_lr must not be negative"},
                        Case{"momentum: nan", "momentum must be a finite number"},
                        Case{"lr_policy: \"bogus\"", "unknown lr_policy \"bogus\""},
                        Case{"iter_size: 0", "iter_size must be >= 1"}}) {
    const std::string solver = StrCat(dir, "/solver.prototxt");
    const bool policy = c.setting.rfind("lr_policy", 0) == 0;
    WriteFile(solver, StrCat("net: \"", dir, "/net.prototxt\"\nmax_iter: 1\n",
                             policy ? "" : "lr_policy: \"fixed\"\n", c.setting, "\n"));
    const auto r = RunFcntool(StrCat("train --solver=", solver));
    EXPECT_EQ(r.exit_code, 2) << c.setting << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr(StrCat(solver, ": ", c.expected))) << c.setting;
  }
}

TEST(PrototxtFiles, ANulByteInAStringDoesNotCutTheMessageShort) {
  const std::string dir = TempDir();
  std::string text = kTinyNet;
  const std::string conv = "type: \"Convolution\"";
  text.replace(text.find(conv), conv.size(), std::string("type: \"Conv\0olution\"", 20));
  WriteFile(dir + "/net.prototxt", text);
  const auto r = RunFcntool(StrCat("check --model=", dir, "/net.prototxt"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // The message goes on past the NUL: the rest of the type and the parser's message.
  EXPECT_THAT(r.output, HasSubstr("(Conv\\x00olution): Unexpected end of string."));
}

TEST(DuplicateLayerNames, InOnePhaseAreRefusedNamingBothLines) {
  const std::string dir = TempDir();
  const std::string net = WriteFile(dir + "/net.prototxt", StrCat(kTinyNet, R"(
layer { name: "conv" type: "ReLU" bottom: "conv" top: "conv" }
)"));
  const auto r = RunFcntool(StrCat("check --model=", net));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(net + ":6:1: error: layer \"conv\" (ReLU)"),
                              HasSubstr("already used by the layer at " + net + ":3:1")));
  // Another phase may reuse a name, as in Caffe.
  const std::string phased = WriteFile(dir + "/phased.prototxt", StrCat(kTinyNet, R"(
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" include { phase: TRAIN } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" include { phase: TEST } }
)"));
  for (const char* phase : {"TRAIN", "TEST"}) {
    const auto ok = RunFcntool(StrCat("check --phase=", phase, " --model=", phased));
    EXPECT_EQ(ok.exit_code, 0) << ok.output;
  }
}

// --- weights and solver states -----------------------------------------------------------------

// Trains the tiny database net for `iters` iterations (snapshot every `every`) in `dir`.
test::CommandResult TrainTiny(const std::string& dir, int iters, int every,
                              const std::string& extra = "", const std::string& flags = "") {
  if (!fs::exists(dir + "/db")) WriteDatumDb(dir + "/db", 16);
  WriteFile(dir + "/net.prototxt", DbNet(dir + "/db"));
  WriteFile(dir + "/solver.prototxt", Solver(dir + "/net.prototxt", dir + "/snap", iters,
                                             StrCat("snapshot: ", every, "\n", extra)));
  return RunFcntool(StrCat("train --solver=", dir, "/solver.prototxt ", flags));
}

TEST(TruncatedCaffemodel, EveryTruncationIsRefusedOrSetsParameters) {
  const std::string dir = TempDir();
  ASSERT_EQ(TrainTiny(dir, 2, 2).exit_code, 0);
  const std::string full = ReadBytes(dir + "/snap_iter_2.caffemodel");
  ASSERT_GT(full.size(), 200u);
  int refused = 0;
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string cut = full.substr(0, n);
    NetParameter parsed;
    const bool parses = parsed.ParseFromString(cut);
    bool sets_ip = false;
    for (const auto& l : parsed.layer()) sets_ip = sets_ip || (l.name() == "ip" && l.blobs_size());
    // Only the lengths protobuf accepts get as far as loading: run fcntool on those (and a
    // sample of the others) to keep the test fast.
    if (!parses && n % 97 != 0) continue;
    WriteBytes(dir + "/cut.caffemodel", cut);
    const auto r = RunFcntool(StrCat("test --iterations=1 --model=", dir,
                                     "/net.prototxt --weights=", dir, "/cut.caffemodel"));
    if (parses && sets_ip) {
      EXPECT_EQ(r.exit_code, 0) << n << ": " << r.output;
    } else {
      EXPECT_EQ(r.exit_code, 2) << n << " bytes: " << r.output;
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(TruncatedCaffemodel, AWeightsFileWithOnlyAParameterlessLayerIsAnError) {
  const std::string dir = TempDir();
  ASSERT_EQ(TrainTiny(dir, 1, 1).exit_code, 0);
  NetParameter only_data;
  only_data.add_layer()->set_name("data");
  WriteProtoToBinaryFile(only_data, dir + "/data_only.caffemodel");
  const auto r = RunFcntool(StrCat("test --iterations=1 --model=", dir,
                                   "/net.prototxt --weights=", dir, "/data_only.caffemodel"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(dir + "/data_only.caffemodel: sets no parameter of net"));
  const auto c = RunFcntool(StrCat("check --phase=TRAIN --model=", dir,
                                   "/net.prototxt --weights=", dir, "/data_only.caffemodel"));
  EXPECT_EQ(c.exit_code, 2) << c.output;
  // As a solverstate's learned_net: refused (by its checksum and by its content).
  SolverState state = ReadSolverStateFromBinaryFile(dir + "/snap_iter_1.solverstate");
  state.set_learned_net(dir + "/data_only.caffemodel");
  state.clear_learned_net_bytes();
  state.clear_learned_net_crc32();
  WriteProtoToBinaryFile(state, dir + "/mixed.solverstate");
  const auto t = TrainTiny(dir, 3, 1, "", StrCat("--snapshot=", dir, "/mixed.solverstate"));
  EXPECT_EQ(t.exit_code, 2) << t.output;
  EXPECT_THAT(t.output, HasSubstr("sets no parameter of net"));
}

// A solver state edited to hold `edit`'s values, resumed: refused with exit 2, at once.
void ExpectDamagedState(const std::string& extra, const std::function<void(SolverState*)>& edit,
                        const std::string& expected) {
  const std::string dir = TempDir();
  ASSERT_EQ(TrainTiny(dir, 2, 2, extra).exit_code, 0);
  SolverState state = ReadSolverStateFromBinaryFile(dir + "/snap_iter_2.solverstate");
  edit(&state);
  WriteProtoToBinaryFile(state, dir + "/bad.solverstate");
  const auto r = TrainTiny(dir, 10, 100, extra, StrCat("--snapshot=", dir, "/bad.solverstate"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr(dir + "/bad.solverstate: " + expected),
                    HasSubstr("the solver state is damaged"), Not(HasSubstr("Iteration -"))));
}

TEST(DamagedSolverState, ANegativeIterationIsRefusedNotTrainedFrom) {
  ExpectDamagedState(
      "", [](SolverState* s) { s->set_iter(-2147483647 - 1); }, "iter = -2147483648 is negative");
  ExpectDamagedState(
      "", [](SolverState* s) { s->set_iter(-5); }, "iter = -5 is negative");
}

TEST(DamagedSolverState, CurrentStepOutsideTheStepvaluesIsRefused) {
  const std::string multistep =
      "lr_policy: \"multistep\"\ngamma: 0.1\nstepvalue: 5\nstepvalue: 8\n";
  ExpectDamagedState(
      multistep, [](SolverState* s) { s->set_current_step(-3); }, "current_step = -3 is negative");
  ExpectDamagedState(
      multistep, [](SolverState* s) { s->set_current_step(2147483647); },
      "current_step = 2147483647 is past the solver's 2 stepvalue(s)");
}

TEST(DamagedSolverState, ANanSmoothedLossIsRefused) {
  ExpectDamagedState(
      "average_loss: 2\n", [](SolverState* s) { s->set_smoothed_loss(std::nanf("")); },
      "smoothed_loss = nan is not a finite number");
}

TEST(DamagedSolverState, AHistoryBlobErrorNamesTheStateFile) {
  const std::string dir = TempDir();
  ASSERT_EQ(TrainTiny(dir, 2, 2).exit_code, 0);
  SolverState state = ReadSolverStateFromBinaryFile(dir + "/snap_iter_2.solverstate");
  state.mutable_history(0)->mutable_data()->RemoveLast();
  WriteProtoToBinaryFile(state, dir + "/bad.solverstate");
  const auto r = TrainTiny(dir, 10, 100, "", StrCat("--snapshot=", dir, "/bad.solverstate"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(dir + "/bad.solverstate: history blob 0"));
}

// --- a snapshot prefix belongs to one run ------------------------------------------------------

TEST(SnapshotPrefix, ASecondRunOnTheSamePrefixFailsAtStart) {
  const std::string dir = TempDir();
  WriteDatumDb(dir + "/db", 16);
  WriteFile(dir + "/net.prototxt", DbNet(dir + "/db"));
  WriteFile(dir + "/long.prototxt",
            Solver(dir + "/net.prototxt", dir + "/snap", 100000000, "snapshot: 1000000\n"));
  const std::string log = dir + "/first.log";
  const int pid = test::SpawnFcntool(dir, {"train", "--solver=long.prototxt"}, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(test::WaitForText(log, "Iteration 2,", 60)) << test::ReadFile(log);
  const auto second = RunFcntool(StrCat("train --solver=", dir, "/long.prototxt"));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_THAT(second.output, AllOf(HasSubstr(StrCat("snapshot_prefix \"", dir,
                                                    "/snap\" is in use by another "
                                                    "training run (process ",
                                                    pid, ")")),
                                   HasSubstr(dir + "/snap.lock")));
  // Once the first run has ended, the prefix is free again.
  WriteFile(dir + "/short.prototxt", Solver(dir + "/net.prototxt", dir + "/snap", 1));
  const auto third = RunFcntool(StrCat("train --solver=", dir, "/short.prototxt"));
  EXPECT_EQ(third.exit_code, 0) << third.output;
}

TEST(SnapshotPrefix, AWeightFileFromAnotherRunIsRefusedOnResume) {
  const std::string a = TempDir();
  const std::string b = TempDir();
  ASSERT_EQ(TrainTiny(a, 2, 2).exit_code, 0);
  ASSERT_EQ(TrainTiny(b, 2, 2, "base_lr: 0.02\n").exit_code, 0);
  fs::copy_file(a + "/snap_iter_2.caffemodel", b + "/snap_iter_2.caffemodel",
                fs::copy_options::overwrite_existing);
  const auto r =
      TrainTiny(b, 4, 100, "base_lr: 0.02\n", StrCat("--snapshot=", b, "/snap_iter_2.solverstate"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(b +
                                        "/snap_iter_2.caffemodel is not the weight file "
                                        "written with " +
                                        b + "/snap_iter_2.solverstate"),
                              HasSubstr("CRC-32")));
}

TEST(Signals, SigtermSnapshotsThenStops) {
  const std::string dir = TempDir();
  WriteDatumDb(dir + "/db", 16);
  WriteFile(dir + "/net.prototxt", DbNet(dir + "/db"));
  // No snapshot after training: SIGTERM's default still writes one before stopping.
  WriteFile(dir + "/long.prototxt", Solver(dir + "/net.prototxt", dir + "/snap", 100000000,
                                           "snapshot: 1000000\nsnapshot_after_train: false\n"));
  const std::string log = dir + "/train.log";
  const int pid = test::SpawnFcntool(dir, {"train", "--solver=long.prototxt"}, log);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(test::WaitForText(log, "Iteration 3,", 60)) << test::ReadFile(log);
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string output = test::ReadFile(log);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_THAT(output, HasSubstr("Optimization stopped early."));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      output, m, std::regex(R"(Snapshotting solver state to binary proto file (\S+))")))
      << output;
  const SolverState state = ReadSolverStateFromBinaryFile(m[1]);
  EXPECT_GE(state.iter(), 3);
  EXPECT_EQ(output.find("Snapshotting solver state", m.position(0) + 1), std::string::npos)
      << "one snapshot only";
}

// --- sizes are checked before memory is taken --------------------------------------------------

TEST(AllocationBeforeValidation, ABlobClaimingHugeCountsWithoutDataIsRefusedFirst) {
  const std::string dir = TempDir();
  const std::string net = WriteFile(dir + "/net.prototxt", kTinyNet);
  NetParameter weights;
  LayerParameter* conv = weights.add_layer();
  conv->set_name("conv");
  BlobProto* blob = conv->add_blobs();
  for (int d : {1 << 14, 1 << 15}) blob->mutable_shape()->add_dim(d);  // 2^29 values, none stored
  WriteProtoToBinaryFile(weights, dir + "/claims.caffemodel");
  Blob b;
  EXPECT_THAT(test::ConfigErrorOf([&] { b.FromProto(*blob); }),
              HasSubstr("blob holds 0 values for shape 16384x32768 (536870912 expected)"));
  EXPECT_EQ(b.count(), 0);
  const auto r = RunFcntool(StrCat("surgery --model=", net, " --weights=", dir,
                                   "/claims.caffemodel --output=", dir, "/out.caffemodel"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("536870912 expected"));
}

TEST(AllocationBeforeValidation, AKernelLargerThanTheInputIsRefusedBeforeItsWeights) {
  const std::string dir = TempDir();
  std::string text = kTinyNet;
  text.replace(text.find("kernel_size: 3"), 14, "kernel_size: 6000");
  text.replace(text.find("num_output: 2"), 13, "num_output: 64");
  const auto r = RunShell(StrCat("ulimit -v 4000000; ", FCNTOOL_PATH,
                                 " check --model=", WriteFile(dir + "/net.prototxt", text)));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("layer \"conv\" (Convolution)"),
                              HasSubstr("input 8 + 2 * pad 0 < dilated kernel extent 6000")));
}

TEST(AllocationBeforeValidation, ANetAboveMaxMemoryStopsNamingTheLayerAndBytes) {
  const std::string dir = TempDir();
  // A stride-40 deconvolution of 8x8 to 64 channels: 64x280x280 floats, 20 MB of output.
  const std::string net = WriteFile(dir + "/net.prototxt", StrCat(kTinyNet, R"(
layer { name: "up" type: "Deconvolution" bottom: "conv" top: "up"
        convolution_param { num_output: 64 kernel_size: 40 stride: 40 bias_term: false } }
)"));
  for (const char* command : {"check", "time --iterations=1"}) {
    const auto r = RunFcntool(StrCat(command, " --max_memory=8M --model=", net));
    EXPECT_EQ(r.exit_code, 2) << command << ": " << r.output;
    EXPECT_THAT(r.output, AllOf(HasSubstr(net + ":6:1: error: layer \"up\" (Deconvolution)"),
                                HasSubstr("above --max_memory=8M = 8.0 MiB")))
        << command;
  }
  EXPECT_EQ(RunFcntool(StrCat("check --max_memory=64M --model=", net)).exit_code, 0);
  const auto bad = RunFcntool(StrCat("check --max_memory=lots --model=", net));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.output, HasSubstr("--max_memory=lots: expected a size"));
}

TEST(AllocationBeforeValidation, ABatchLargerThanTheDatabaseIsRefused) {
  const std::string dir = TempDir();
  WriteDatumDb(dir + "/db", 8);
  const std::string net = WriteFile(dir + "/net.prototxt", DbNet(dir + "/db", 50000));
  const auto r = RunFcntool(StrCat("check --phase=TRAIN --model=", net));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("data_param.batch_size 50000 is larger than the 8 sample(s) of " +
                                  dir + "/db"));
}

// A PNG whose header declares `width` x `height` (8-bit RGB) and holds no pixel data.
std::string PngHeaderOnly(std::uint32_t width, std::uint32_t height) {
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = static_cast<std::uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    return be32(static_cast<std::uint32_t>(data.size())) + body + be32(crc);
  };
  const std::string ihdr = be32(width) + be32(height) + std::string{8, 2, 0, 0, 0};
  // A few bytes of deflate data: the header readers stop at the first IDAT.
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
         chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + chunk("IEND", "");
}

std::string Jpeg(int size) {
  cv::Mat image(size, size, CV_8UC3);
  cv::randu(image, 0, 255);
  std::vector<unsigned char> buf;
  cv::imencode(".jpg", image, buf);
  return std::string(buf.begin(), buf.end());
}

TEST(Images, ADatumWhosePngHeaderDisagreesWithItsSizeIsRefusedUndecoded) {
  struct Case {
    std::uint32_t size;
    std::string expected;
  };
  // 20000x20000 is past the pixel limit; 16000x16000 is under it but is not the declared size.
  for (const Case& c :
       {Case{20000, "the PNG header declares 20000x20000 pixels; at most 268435456"},
        Case{16000,
             "the PNG image is 16000x16000 (height x width) but its Datum declares 32x32"}}) {
    const std::string dir = TempDir();
    {
      LmdbWriter writer(dir + "/db");
      Datum d;
      d.set_channels(3);
      d.set_height(32);
      d.set_width(32);
      d.set_encoded(true);
      d.set_data(PngHeaderOnly(c.size, c.size));
      writer.Put("00000000_bomb.png", d.SerializeAsString());
      writer.Commit();
    }
    const std::string net = WriteFile(dir + "/net.prototxt", DbNet(dir + "/db"));
    // Decoding either would take gigabytes: a 3 GB address-space limit makes that fail loudly.
    const auto r =
        RunShell(StrCat("ulimit -v 3000000; ", FCNTOOL_PATH, " check --phase=TRAIN --model=", net));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, AllOf(HasSubstr("record \"00000000_bomb.png\""), HasSubstr(c.expected)));
  }
}

TEST(Images, SegmentRefusesABombTruncationAndNonFiniteMeanOrScale) {
  const std::string dir = TempDir();
  const std::string net = WriteFile(dir + "/net.prototxt", StrCat(kTinyNet, R"(
layer { name: "score" type: "Convolution" bottom: "conv" top: "score"
        convolution_param { num_output: 3 kernel_size: 1 pad: 1 } }
)"));
  std::string tiny_net_weights = dir + "/w.caffemodel";
  ASSERT_EQ(RunFcntool(StrCat("surgery --model=", net, " --output=", tiny_net_weights)).exit_code,
            0);
  const std::string seg = StrCat("segment --model=", net, " --weights=", tiny_net_weights,
                                 " --output_dir=", dir, "/out ");
  WriteBytes(dir + "/bomb.png", PngHeaderOnly(100000, 100000));
  const auto bomb = RunFcntool(seg + dir + "/bomb.png");
  EXPECT_EQ(bomb.exit_code, 2) << bomb.output;
  EXPECT_THAT(bomb.output, HasSubstr(dir + "/bomb.png: the PNG header declares 100000x100000"));
  const std::string jpeg = Jpeg(64);
  WriteBytes(dir + "/whole.jpg", jpeg);
  WriteBytes(dir + "/half.jpg", jpeg.substr(0, jpeg.size() / 2));
  const auto whole = RunFcntool(seg + dir + "/whole.jpg");
  EXPECT_EQ(whole.exit_code, 0) << whole.output;
  const auto half = RunFcntool(seg + dir + "/half.jpg");
  EXPECT_EQ(half.exit_code, 2) << half.output;
  EXPECT_THAT(half.output,
              HasSubstr(dir + "/half.jpg: the JPEG data (" + std::to_string(jpeg.size() / 2) +
                        " bytes) has no end-of-image marker: the file is truncated"));
  for (const char* flag :
       {"--mean_value=nan", "--scale=nan", "--scale=inf", "--mean_value=1,inf,2"}) {
    const auto r = RunFcntool(StrCat(seg, flag, " ", dir, "/whole.jpg"));
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("is not a finite number")) << flag;
  }
}

TEST(Labels, ANonIntegerLabelIsAnErrorNotTruncated) {
  auto net = test::MakeNet(R"(name: "l"
layer { name: "s" type: "Input" top: "s" input_param { shape { dim: 1 dim: 3 dim: 1 dim: 2 } } }
layer { name: "l" type: "Input" top: "l" input_param { shape { dim: 1 dim: 1 dim: 1 dim: 2 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "s" bottom: "l" top: "loss" }
)");
  float* labels = net->blob_by_name("l")->mutable_cpu_data();
  labels[0] = 1;
  labels[1] = 2.5f;
  EXPECT_THAT(test::ConfigErrorOf([&] { net->Forward(); }),
              AllOf(HasSubstr("layer \"loss\" (SoftmaxWithLoss)"),
                    HasSubstr("label 2.5 at position 1"), HasSubstr("is not a whole number")));
  labels[1] = 2;
  EXPECT_NO_THROW(net->Forward());
}

TEST(MeanFile, ABadMeanBlobNamesTheFile) {
  const std::string dir = TempDir();
  WriteDatumDb(dir + "/db", 4);
  BlobProto mean;
  for (int d : {1, 3, 12, 12}) mean.mutable_shape()->add_dim(d);
  mean.add_data(1.0f);  // one value for 432
  WriteProtoToBinaryFile(mean, dir + "/mean.binaryproto");
  std::string text = DbNet(dir + "/db");
  text.replace(text.find("scale: 0.0039"), 13,
               StrCat("scale: 0.0039 mean_file: \"", dir, "/mean.binaryproto\""));
  const auto r =
      RunFcntool(StrCat("check --phase=TRAIN --model=", WriteFile(dir + "/net.prototxt", text)));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr(dir + "/mean.binaryproto: the mean blob: blob holds 1 values"));
}

TEST(OutOfMemory, AFailedAllocationNamesTheLayer) {
  const std::string dir = TempDir();
  // 64 x 3000 x 3000 floats (2.3 GB) under a 1.5 GB address-space limit: the allocation fails
  // (the planned-memory check is lifted with a large --max_memory).
  std::string text = kTinyNet;
  text.replace(text.find("dim: 8 dim: 8"), 13, "dim: 3000 dim: 3000");
  text.replace(text.find("num_output: 2"), 13, "num_output: 64");
  const auto r = RunShell(StrCat(
      "ulimit -v 1500000; ", FCNTOOL_PATH,
      " time --iterations=1 --max_memory=1T --model=", WriteFile(dir + "/net.prototxt", text)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr("layer \"conv\" (Convolution)"), HasSubstr("out of memory")));
}

// --- kill -9 while snapshotting every iteration ------------------------------------------------

// Kills a training that snapshots every iteration with SIGKILL at `kills` random moments.
// After each kill, every snapshot pair on disk must load and belong together, and the newest
// pair must resume to the uninterrupted run's final weights, byte for byte.
void KillNineAtRandomMoments(int kills, std::uint32_t seed) {
  const std::string dir = TempDir();
  WriteDatumDb(dir + "/db", 16);
  WriteFile(dir + "/net.prototxt", DbNet(dir + "/db"));
  const int iters = 30;
  auto solver_file = [&](const std::string& prefix) {
    return WriteFile(
        StrCat(dir, "/", prefix, ".prototxt"),
        Solver(dir + "/net.prototxt", StrCat(dir, "/", prefix, "/snap"), iters, "snapshot: 1\n"));
  };
  fs::create_directories(dir + "/ref");
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(RunFcntool("train --solver=" + solver_file("ref")).exit_code, 0);
  const double run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const std::string expected = ReadBytes(StrCat(dir, "/ref/snap_iter_", iters, ".caffemodel"));
  ASSERT_FALSE(expected.empty());

  std::mt19937 rng(seed);
  for (int k = 0; k < kills; ++k) {
    const std::string run = StrCat("run", k);
    fs::create_directories(dir + "/" + run);
    const std::string solver = solver_file(run);
    const int pid =
        test::SpawnFcntool(dir, {"train", "--solver=" + solver}, dir + "/" + run + ".log");
    ASSERT_GT(pid, 0);
    const auto wait = std::chrono::microseconds(
        static_cast<long>(std::uniform_real_distribution<double>(0.05, 0.95)(rng) * run_ms * 1000));
    std::this_thread::sleep_for(wait);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    // Every pair on disk loads and belongs together; find the newest.
    int newest = -1;
    for (const auto& entry : fs::directory_iterator(dir + "/" + run)) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() != ".solverstate") continue;
      SolverState state;
      ASSERT_NO_THROW(state = ReadSolverStateFromBinaryFile(entry.path().string())) << name;
      const std::string weights = ReadBytes(state.learned_net());
      ASSERT_EQ(weights.size(), state.learned_net_bytes()) << name;
      ASSERT_EQ(static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(weights.data()),
                                                 static_cast<uInt>(weights.size()))),
                state.learned_net_crc32())
          << name;
      NetParameter parsed;
      ASSERT_TRUE(parsed.ParseFromString(weights)) << name;
      newest = std::max(newest, state.iter());
    }
    if (newest < 0) continue;  // killed before the first snapshot
    if (newest < iters) {
      const auto resumed = RunFcntool(StrCat("train --solver=", solver, " --snapshot=", dir, "/",
                                             run, "/snap_iter_", newest, ".solverstate"));
      ASSERT_EQ(resumed.exit_code, 0) << "kill " << k << ": " << resumed.output;
    }
    EXPECT_EQ(ReadBytes(StrCat(dir, "/", run, "/snap_iter_", iters, ".caffemodel")), expected)
        << "kill " << k << " (newest snapshot " << newest << ")";
  }
}

TEST(KillNine, FiveRandomMomentsLeaveLoadablePairsAndAnExactResume) {
  KillNineAtRandomMoments(5, 11);
}

// Label `slow`: ctest runs it as reliability_kill_nine_slow (FCN_SLOW_TESTS=1).
TEST(KillNineSlow, AHundredRandomMomentsLeaveLoadablePairsAndAnExactResume) {
  if (std::getenv("FCN_SLOW_TESTS") == nullptr) {
    GTEST_SKIP() << "slow: run with ctest -L slow (or FCN_SLOW_TESTS=1)";
  }
  KillNineAtRandomMoments(100, 12);
}

}  // namespace
}  // namespace fcn
