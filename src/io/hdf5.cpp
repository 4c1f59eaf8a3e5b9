// SPDX-License-Identifier: BSD-2-Clause
// Caffe's HDF5 snapshot layout through the HDF5 C API: float datasets shaped like the blobs,
// scalar int and string datasets for the solver state, one group per layer.
#include "io/hdf5.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "fcn/io.h"

extern char** environ;

namespace fcn {

namespace {

namespace fs = std::filesystem;

// Closes an HDF5 handle of any kind when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  // Closes now; returns false when closing failed (the file's last writes went wrong).
  bool Close() {
    const herr_t status = id_ >= 0 ? close_(id_) : 0;
    id_ = -1;
    return status >= 0;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints an error stack to stderr by default; fcn reports errors itself.
void SilenceHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

const char kSignature[] = "\x89HDF\r\n\x1a\n";

// ---- writing ----

struct WriteError {
  std::string what;
};

void WriteFloats(hid_t loc, const std::string& name, const std::vector<std::int64_t>& shape,
                 const float* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  if (!space.ok()) throw WriteError{StrCat("cannot create the dataspace of ", name)};
  Handle set(H5Dcreate2(loc, name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose);
  if (!set.ok()) throw WriteError{StrCat("cannot create dataset ", name)};
  if (H5Dwrite(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ||
      !set.Close()) {
    throw WriteError{StrCat("cannot write dataset ", name)};
  }
}

void WriteInt(hid_t loc, const std::string& name, int value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle set(H5Dcreate2(loc, name.c_str(), H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose);
  if (!set.ok() || H5Dwrite(set.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0) {
    throw WriteError{StrCat("cannot write dataset ", name)};
  }
}

// A scalar fixed-length, NUL-terminated string (what Caffe's hdf5_save_string writes).
void WriteString(hid_t loc, const std::string& name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size() + 1);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle set(
      H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  if (!set.ok() ||
      H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.c_str()) < 0) {
    throw WriteError{StrCat("cannot write dataset ", name)};
  }
}

void WriteBytes(hid_t loc, const std::string& name, const std::string& bytes) {
  const hsize_t dims[1] = {bytes.size()};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle set(H5Dcreate2(loc, name.c_str(), H5T_STD_U8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose);
  if (!set.ok() ||
      H5Dwrite(set.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) {
    throw WriteError{StrCat("cannot write dataset ", name)};
  }
}

hid_t CreateGroup(hid_t loc, const std::string& name) {
  const hid_t group = H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (group < 0) throw WriteError{StrCat("cannot create group ", name)};
  return group;
}

// Builds the file in memory (HDF5's core driver, no backing store), lets `fill` write its
// content, and writes the file image with WriteStringToFile: a temporary file, flushed and
// renamed over `path`. HDF5 itself never touches the disk, so a failed write (a full disk)
// is fcn's own I/O error and leaves no half-written or temporary file.
template <class Fill>
void WriteHdf5Atomically(const std::string& path, Fill&& fill) {
  SilenceHdf5Errors();
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!access.ok() || H5Pset_fapl_core(access.get(), 1 << 20, /*backing_store=*/0) < 0) {
    throw RuntimeError(StrCat(path, ": cannot set up HDF5's in-memory file driver"));
  }
  std::string image;
  {
    Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
    if (!file.ok()) throw RuntimeError(StrCat(path, ": cannot create the HDF5 file in memory"));
    try {
      fill(file.get());
    } catch (const WriteError& e) {
      throw RuntimeError(StrCat(path, ": cannot write the HDF5 file: ", e.what));
    }
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
      throw RuntimeError(StrCat(path, ": cannot flush the HDF5 file"));
    }
    const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    if (size > 0) {
      image.resize(static_cast<std::size_t>(size));
      if (H5Fget_file_image(file.get(), image.data(), image.size()) != size) image.clear();
    }
    if (image.empty()) throw RuntimeError(StrCat(path, ": cannot get the HDF5 file image"));
  }
  WriteStringToFile(image, path);
}

// ---- reading ----

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), file_(Open(path), H5Fclose) {}
  hid_t file() const { return file_.get(); }

  bool Exists(hid_t loc, const std::string& name) const {
    return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0;
  }

  [[noreturn]] void Fail(const std::string& what) const {
    throw ConfigError(StrCat(path_, ": ", what));
  }

  // Names of the links in a group, in HDF5's name order.
  std::vector<std::string> Names(hid_t group, const std::string& where) const {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) Fail(StrCat("cannot list group ", where));
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t size =
          H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      if (size < 0) Fail(StrCat("cannot list group ", where));
      std::string name(static_cast<std::size_t>(size) + 1, '\0');
      H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                         H5P_DEFAULT);
      name.resize(static_cast<std::size_t>(size));
      names.push_back(name);
    }
    return names;
  }

  // A float (or any numeric) dataset as a BlobProto with its shape.
  // With `expected` >= 0 (a history blob, whose size the net gives), a dataset that claims
  // another element count is refused before anything is allocated for it.
  void ReadBlob(hid_t loc, const std::string& name, const std::string& where, BlobProto* blob,
                std::int64_t expected = -1) const {
    Handle set(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) Fail(StrCat("dataset ", where, " cannot be opened"));
    Handle type(H5Dget_type(set.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
      Fail(StrCat("dataset ", where, " is not numeric, so it is not a parameter blob"));
    }
    Handle space(H5Dget_space(set.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0) Fail(StrCat("dataset ", where, " has no simple shape"));
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    hsize_t count = 1;
    blob->Clear();
    for (hsize_t d : dims) {
      blob->mutable_shape()->add_dim(static_cast<std::int64_t>(d));
      if (d != 0 && count > static_cast<hsize_t>(std::numeric_limits<int>::max()) / d) {
        Fail(StrCat("dataset ", where, " has shape ", ShapeText(dims),
                    ", more elements than a blob can hold"));
      }
      count *= d;
    }
    if (expected >= 0 && count != static_cast<hsize_t>(expected)) {
      Fail(StrCat("dataset ", where, " claims shape ", ShapeText(dims), " (", count,
                  " elements), but the net's learnable parameter it belongs to has ", expected,
                  " elements; the state belongs to another net or is damaged"));
    }
    CheckStored(set.get(), type.get(), count, where, dims);
    std::vector<float> values(count);
    if (count > 0 &&
        H5Dread(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
      Fail(StrCat("dataset ", where, " cannot be read"));
    }
    blob->mutable_data()->Add(values.begin(), values.end());
  }

  // H5Dread with H5S_ALL writes every element of a dataset: one that holds more than the
  // single value asked for would overflow the buffer.
  void CheckOneElement(hid_t set, const std::string& name) const {
    Handle space(H5Dget_space(set), H5Sclose);
    const hssize_t n = space.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (n != 1) Fail(StrCat("dataset /", name, " holds ", n, " values, not one"));
  }

  int ReadInt(const std::string& name) const {
    Handle set(H5Dopen2(file(), name.c_str(), H5P_DEFAULT), H5Dclose);
    int value = 0;
    if (set.ok()) CheckOneElement(set.get(), name);
    if (!set.ok() ||
        H5Dread(set.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value) < 0) {
      Fail(StrCat("dataset /", name, " (an integer) cannot be read"));
    }
    return value;
  }

  std::string ReadString(const std::string& name) const {
    Handle set(H5Dopen2(file(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) Fail(StrCat("dataset /", name, " cannot be opened"));
    Handle type(H5Dget_type(set.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
      Fail(StrCat("dataset /", name, " is not a fixed-length string"));
    }
    CheckOneElement(set.get(), name);
    CheckStored(set.get(), type.get(), 1, "/" + name, {1});
    std::string value(H5Tget_size(type.get()), '\0');
    if (H5Dread(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.data()) < 0) {
      Fail(StrCat("dataset /", name, " cannot be read"));
    }
    return value.substr(0, value.find('\0'));
  }

  std::string ReadBytes(const std::string& name) const {
    Handle set(H5Dopen2(file(), name.c_str(), H5P_DEFAULT), H5Dclose);
    Handle space(H5Dget_space(set.get()), H5Sclose);
    const hssize_t n = set.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    if (n < 0) Fail(StrCat("dataset /", name, " cannot be read"));
    Handle type(H5Dget_type(set.get()), H5Tclose);
    CheckStored(set.get(), type.get(), static_cast<hsize_t>(n), "/" + name,
                {static_cast<hsize_t>(n)});
    std::string bytes(static_cast<std::size_t>(n), '\0');
    if (n > 0 &&
        H5Dread(set.get(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) {
      Fail(StrCat("dataset /", name, " cannot be read"));
    }
    return bytes;
  }

 private:
  static std::string ShapeText(const std::vector<hsize_t>& dims) {
    std::string text = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) text += StrCat(i ? " " : "", dims[i]);
    return text + ")";
  }

  // A damaged header can claim any shape: the elements a dataset claims must be stored in the
  // file before memory is taken for them. Contiguous and compact data are stored at their
  // full size; chunked data may be compressed, by at most deflate's ratio (about 1032:1).
  void CheckStored(hid_t set, hid_t type, hsize_t count, const std::string& where,
                   const std::vector<hsize_t>& dims) const {
    if (count == 0) return;
    const std::size_t element = type >= 0 ? H5Tget_size(type) : 0;
    const hsize_t stored = H5Dget_storage_size(set);
    Handle plist(H5Dget_create_plist(set), H5Pclose);
    const bool chunked = plist.ok() && H5Pget_layout(plist.get()) == H5D_CHUNKED;
    const hsize_t limit = chunked ? stored * 1032 : stored;
    if (element == 0 || count > limit / element) {
      Fail(StrCat("dataset ", where, " claims shape ", ShapeText(dims), " (", count,
                  " elements of ", element, " bytes) but stores ", stored,
                  " bytes (truncated or damaged file)"));
    }
  }

  static hid_t Open(const std::string& path) {
    SilenceHdf5Errors();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      throw ConfigError(StrCat(path, ": cannot open HDF5 file (no such file)"));
    }
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
      throw ConfigError(StrCat(path, ": not a readable HDF5 file (truncated or corrupt?)"));
    }
    return file;
  }

  std::string path_;
  Handle file_;
};

// libhdf5 (1.10) trusts a file's metadata: damaged B-tree or heap entries can make it read
// through a null pointer (a SIGSEGV that fuzz_hdf5 found, fuzz/findings/hdf5-crash-*), which no
// check through its API can foresee. So a file is first read, with the same code, by another
// process: a checker that dies (a signal, or a sanitizer's exit) means the file is damaged, and
// the error names it instead of taking this process down. A checker that finishes, with or
// without an error of its own, is followed by the real read here, which gives that error.
//
// The checker is the executable fcn-hdf5-check (hdf5_check_main.cpp, ServeHdf5Checks below),
// started once with posix_spawn and kept: each file costs one request and one answer over a
// socket. The checker reads the files in a worker it forks, so a damaged file ends the worker
// only (the answer says so; ServeHdf5Checks); a checker that died itself is started again for
// the next file. posix_spawn copies
// nothing of this process (fork of a large process, a fuzzer's under AddressSanitizer most of
// all, copies its page tables, and a forked child of a multi-threaded process may only call
// async-signal-safe functions, which libhdf5 is not). Without the executable (FCN_HDF5_CHECK
// names a missing file, or neither the build nor the install tree has it), each file is read by
// a forked child as before, after a one-time warning. docs/reliability.md has the design.

// What a checking process is asked to read: a model ('M') or a solver state ('S', with the
// element counts of the net's history blobs when they are known).
struct CheckRequest {
  char kind = 'M';
  const std::vector<std::int64_t>* history_counts = nullptr;
};

NetParameter ReadNetParamUnchecked(const std::string& path);
SolverState ReadSolverStateUnchecked(const std::string& path,
                                     const std::vector<std::int64_t>* history_counts);

void ReadUnchecked(const std::string& path, const CheckRequest& request) {
  if (request.kind == 'S') {
    ReadSolverStateUnchecked(path, request.history_counts);
  } else {
    ReadNetParamUnchecked(path);
  }
}

[[noreturn]] void ThrowDamaged(const std::string& path, int status) {
  const std::string how =
      WIFSIGNALED(status) ? StrCat("signal ", WTERMSIG(status), ", ", strsignal(WTERMSIG(status)))
                          : StrCat("exit status ", WEXITSTATUS(status));
  throw ConfigError(StrCat(path,
                           ": damaged HDF5 file: libhdf5 failed while reading its "
                           "structure (in a checking process: ",
                           how, "); it cannot be loaded"));
}

// The fallback without fcn-hdf5-check: a forked child reads the file. Without fork (it
// failed), the file is read directly.
void ForkProbe(const std::string& path, const CheckRequest& request) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    // The child's own crash reports would look like this process's: silence them, and let a
    // fault end it by its signal.
    const int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, STDERR_FILENO);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
    try {
      ReadUnchecked(path, request);
    } catch (...) {
    }
    std::_Exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  ThrowDamaged(path, status);
}

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

// Where fcn-hdf5-check is: $FCN_HDF5_CHECK when set; else beside the library (or executable)
// holding this code (the build tree: build/src), or in ../libexec/fcn from it (the install
// tree: lib/libfcn.so, libexec/fcn/fcn-hdf5-check); else the paths compiled in (the install
// prefix's, then the build tree's). Empty when none is there.
std::string FindChecker() {
  if (const char* env = std::getenv("FCN_HDF5_CHECK")) return IsExecutable(env) ? env : "";
  std::vector<std::string> candidates;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&FindChecker), &info) != 0 && info.dli_fname != nullptr) {
    const fs::path dir = fs::path(info.dli_fname).parent_path();
    candidates.push_back((dir / "fcn-hdf5-check").string());
    candidates.push_back((dir / ".." / "libexec" / "fcn" / "fcn-hdf5-check").string());
  }
#ifdef FCN_HDF5_CHECK_INSTALLED
  candidates.emplace_back(FCN_HDF5_CHECK_INSTALLED);
#endif
#ifdef FCN_HDF5_CHECK_BUILT
  candidates.emplace_back(FCN_HDF5_CHECK_BUILT);
#endif
  for (const std::string& c : candidates) {
    if (IsExecutable(c)) return c;
  }
  return "";
}

bool SendAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads up to and including the next '\n' (false at EOF or on an error first).
bool ReadLine(int fd, std::string* line) {
  line->clear();
  char c = 0;
  for (;;) {
    const ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    line->push_back(c);
    if (line->size() > 4096) return false;
  }
}

bool ReadExactly(int fd, std::size_t size, std::string* bytes) {
  bytes->assign(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = read(fd, bytes->data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The request line: "<kind> <number of counts, or -1> <count>... <path length>\n", then the
// path's bytes. The answer: "ok\n" once the read has finished (with or without an error), or
// "died <wait status>\n" when the checker's worker died reading the file.
std::string EncodeRequest(const std::string& path, const CheckRequest& request) {
  std::string text = StrCat(request.kind, " ");
  if (request.history_counts == nullptr) {
    text += "-1 ";
  } else {
    text += StrCat(request.history_counts->size(), " ");
    for (std::int64_t c : *request.history_counts) text += StrCat(c, " ");
  }
  return StrCat(text, path.size(), "\n", path);
}

// The one persistent checker of this process.
class Checker {
 public:
  enum class Outcome { kRead, kUnavailable };

  static Checker& Get() {
    static Checker* checker = new Checker;  // never destroyed: the checker ends at our EOF
    return *checker;
  }

  // Has the checker read `path`; throws the damaged-file error when it died doing so.
  Outcome Check(const std::string& path, const CheckRequest& request) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (owner_ != getpid()) {  // a forked copy of this process: the checker is not its own
      pid_ = -1;
      fd_ = -1;
      owner_ = getpid();
    }
    const std::string message = EncodeRequest(path, request);
    // A checker that died since its last answer is started again, once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (pid_ < 0 && !Spawn()) return Outcome::kUnavailable;
      if (!SendAll(fd_, message)) {
        Reap();
        continue;
      }
      std::string answer;
      const bool answered = ReadLine(fd_, &answer);
      if (answered && answer == "ok") return Outcome::kRead;
      // The checker's worker died reading the file; the checker lives on for the next one.
      int status = 0;
      if (answered && std::sscanf(answer.c_str(), "died %d", &status) == 1) {
        ThrowDamaged(path, status);
      }
      ThrowDamaged(path, Reap());
    }
    return Outcome::kUnavailable;
  }

 private:
  bool Spawn() {
    if (!searched_) {
      executable_ = FindChecker();
      searched_ = true;
    }
    if (executable_.empty()) return false;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, sv[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    // No other descriptor of this process (a snapshot prefix's flock above all) may live on
    // in the checker.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigfillset(&defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::string arg0 = executable_;
    char* argv[] = {arg0.data(), nullptr};
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, executable_.c_str(), &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(sv[1]);
    if (rc != 0) {
      close(sv[0]);
      LOG(WARNING) << "cannot start " << executable_ << " (" << std::strerror(rc)
                   << "): HDF5 files are checked in a forked process instead";
      executable_.clear();
      return false;
    }
    pid_ = pid;
    fd_ = sv[0];
    return true;
  }

  // Ends the connection to a checker that died (or misbehaves) and returns its wait status.
  int Reap() {
    close(fd_);
    fd_ = -1;
    int status = 0;
    kill(pid_, SIGKILL);  // no-op for one that is gone; ends one that answered garbage
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

  std::mutex mutex_;
  pid_t owner_ = getpid();
  pid_t pid_ = -1;
  int fd_ = -1;
  bool searched_ = false;
  std::string executable_;
};

void SurvivesReading(const std::string& path, const CheckRequest& request) {
  if (Checker::Get().Check(path, request) == Checker::Outcome::kRead) return;
  static std::once_flag warned;
  std::call_once(warned, [] {
    LOG(WARNING) << "fcn-hdf5-check not found (set FCN_HDF5_CHECK to its path): each HDF5 file "
                    "is checked in a forked process instead";
  });
  ForkProbe(path, request);
}

}  // namespace

bool IsHdf5File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  if (in.read(head, sizeof(head))) return std::memcmp(head, kSignature, sizeof(head)) == 0;
  return path.size() >= 3 && path.compare(path.size() - 3, 3, ".h5") == 0;
}

NetParameter ReadWeightsFile(const std::string& path) {
  return IsHdf5File(path) ? ReadNetParamFromHdf5File(path) : ReadNetParamFromBinaryFile(path);
}

void ForEachWeightsLayer(const std::string& path, const WeightsVisitor& visit,
                         const WeightsSink& sink) {
  if (!IsHdf5File(path)) {
    ForEachLayerInBinaryNetParam(path, visit, sink);
    return;
  }
  const NetParameter weights = ReadNetParamFromHdf5File(path);
  for (const LayerParameter& layer : weights.layer()) {
    visit(layer, std::vector<std::int64_t>(static_cast<std::size_t>(layer.blobs_size()), -1));
  }
}

namespace {

NetParameter ReadNetParamUnchecked(const std::string& path) {
  const Reader reader(path);
  if (!reader.Exists(reader.file(), "data")) {
    reader.Fail("has no /data group, so it is not a Caffe HDF5 model (.caffemodel.h5)");
  }
  Handle data(H5Gopen2(reader.file(), "data", H5P_DEFAULT), H5Gclose);
  if (!data.ok()) reader.Fail("/data is not a group");
  NetParameter param;
  for (const std::string& layer_name : reader.Names(data.get(), "/data")) {
    const std::string where = StrCat("/data/", layer_name);
    Handle layer(H5Gopen2(data.get(), layer_name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!layer.ok()) reader.Fail(StrCat(where, " is not a group"));
    LayerParameter* lp = param.add_layer();
    lp->set_name(layer_name);
    const std::size_t num_blobs = reader.Names(layer.get(), where).size();
    for (std::size_t i = 0; i < num_blobs; ++i) {
      const std::string name = std::to_string(i);
      if (!reader.Exists(layer.get(), name)) {
        reader.Fail(StrCat(where, " has ", num_blobs, " entries but no dataset \"", name,
                           "\" (parameters shared with another layer are not stored; fcn "
                           "cannot load such a file)"));
      }
      reader.ReadBlob(layer.get(), name, StrCat(where, "/", name), lp->add_blobs());
    }
  }
  if (param.layer_size() == 0) reader.Fail("its /data group holds no layers");
  return param;
}

}  // namespace

NetParameter ReadNetParamFromHdf5File(const std::string& path) {
  SurvivesReading(path, CheckRequest{'M', nullptr});
  return ReadNetParamUnchecked(path);
}

void WriteWeightsToHdf5File(const std::vector<std::string>& layers,
                            const std::vector<Hdf5Dataset>& datasets, const std::string& path,
                            bool write_diff) {
  WriteHdf5Atomically(path, [&](hid_t file) {
    Handle data(CreateGroup(file, "data"), H5Gclose);
    Handle diff(write_diff ? CreateGroup(file, "diff") : -1, H5Gclose);
    std::size_t next = 0;  // datasets are in layer order
    for (std::size_t l = 0; l < layers.size(); ++l) {
      Handle layer_data(CreateGroup(data.get(), layers[l]), H5Gclose);
      Handle layer_diff(write_diff ? CreateGroup(diff.get(), layers[l]) : -1, H5Gclose);
      for (; next < datasets.size() && datasets[next].layer == l; ++next) {
        const Hdf5Dataset& d = datasets[next];
        const std::string key = std::to_string(d.index);
        WriteFloats(layer_data.get(), key, d.shape, d.data);
        if (write_diff) WriteFloats(layer_diff.get(), key, d.shape, d.diff);
      }
    }
    FCN_CHECK(next == datasets.size(), "HDF5 datasets out of layer order");
  });
}

void WriteSolverStateToHdf5File(const SolverState& state, const std::string& path) {
  SolverState extra = state;
  extra.clear_iter();
  extra.clear_learned_net();
  extra.clear_current_step();
  extra.clear_history();
  const std::string extra_bytes = extra.SerializeAsString();
  WriteHdf5Atomically(path, [&](hid_t file) {
    WriteInt(file, "iter", state.iter());
    WriteString(file, "learned_net", state.learned_net());
    WriteInt(file, "current_step", state.current_step());
    Handle history(CreateGroup(file, "history"), H5Gclose);
    for (int i = 0; i < state.history_size(); ++i) {
      const BlobProto& h = state.history(i);
      WriteFloats(history.get(), std::to_string(i), ProtoShape(h), h.data().data());
    }
    if (!extra_bytes.empty()) WriteBytes(file, "fcn_state", extra_bytes);
  });
}

namespace {

SolverState ReadSolverStateUnchecked(const std::string& path,
                                     const std::vector<std::int64_t>* history_counts) {
  const Reader reader(path);
  SolverState state;
  for (const char* required : {"iter", "history"}) {
    if (!reader.Exists(reader.file(), required)) {
      reader.Fail(StrCat("has no /", required, ", so it is not a Caffe HDF5 solver state"));
    }
  }
  if (reader.Exists(reader.file(), "fcn_state") &&
      !state.ParseFromString(reader.ReadBytes("fcn_state"))) {
    reader.Fail("dataset /fcn_state is not fcn's saved resume state");
  }
  state.set_iter(reader.ReadInt("iter"));
  if (reader.Exists(reader.file(), "learned_net")) {
    state.set_learned_net(reader.ReadString("learned_net"));
  }
  if (reader.Exists(reader.file(), "current_step")) {
    state.set_current_step(reader.ReadInt("current_step"));
  }
  Handle history(H5Gopen2(reader.file(), "history", H5P_DEFAULT), H5Gclose);
  if (!history.ok()) reader.Fail("/history is not a group");
  const std::size_t n = reader.Names(history.get(), "/history").size();
  if (history_counts != nullptr && n != history_counts->size()) {
    reader.Fail(StrCat("/history holds ", n, " blobs, but the net has ", history_counts->size(),
                       " learnable parameters; the state belongs to another net"));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::string name = std::to_string(i);
    if (!reader.Exists(history.get(), name)) {
      reader.Fail(StrCat("/history has ", n, " entries but no dataset \"", name, "\""));
    }
    reader.ReadBlob(history.get(), name, StrCat("/history/", name), state.add_history(),
                    history_counts != nullptr ? (*history_counts)[i] : -1);
  }
  return state;
}

}  // namespace

SolverState ReadSolverStateFromHdf5File(const std::string& path,
                                        const std::vector<std::int64_t>* history_counts) {
  SurvivesReading(path, CheckRequest{'S', history_counts});
  return ReadSolverStateUnchecked(path, history_counts);
}

namespace {

// What a worker of the checker returns (an ASan report exits with 1, a crash by its signal).
constexpr int kWorkerEof = 0;         // the asking process closed the connection
constexpr int kWorkerBadRequest = 2;  // a request it could not parse
constexpr int kWorkerCannotSend = 3;  // the answer could not be sent

// Serves requests until EOF: reads each file and answers "ok".
int ServeRequests(int fd) {
  std::string line;
  std::string path;
  while (ReadLine(fd, &line)) {
    std::istringstream in(line);
    char kind = 0;
    long long n = 0;
    in >> kind >> n;
    std::vector<std::int64_t> counts;
    for (long long i = 0; in && i < n && i < (1 << 20); ++i) {
      std::int64_t c = 0;
      in >> c;
      counts.push_back(c);
    }
    std::size_t size = 0;
    in >> size;
    if (!in || (kind != 'M' && kind != 'S') || size > (1u << 20) || !ReadExactly(fd, size, &path)) {
      return kWorkerBadRequest;
    }
    try {
      ReadUnchecked(path, CheckRequest{kind, n >= 0 ? &counts : nullptr});
    } catch (const std::exception&) {
      // The reader's own error comes from the real read in the asking process.
    }
    if (!SendAll(fd, "ok\n")) return kWorkerCannotSend;
  }
  return kWorkerEof;
}

}  // namespace

int ServeHdf5Checks(int fd) {
  // Each file libhdf5 opens calloc's its metadata cache (H5C_create, about 0.5 MB) and frees it
  // at close; above the fixed-size free list's limit (64 KB by default) the block goes back to
  // malloc, which maps fresh pages and faults each of them in again for the next file. This
  // long-lived checker keeps up to 16 MiB a list (64 MiB in all) so that every file reuses one
  // cache: that page faulting was about 70% of the HDF5 fuzz target's time (fuzz/fuzz_util.cpp
  // sets the same limits in the fuzzing process).
  H5set_free_list_limits(64 << 20, 16 << 20, 0, 0, 0, 0);
  // The files are read by a worker forked from this process, which has loaded its libraries
  // but read nothing (and runs no thread). A worker serves file after file; one that dies on a
  // damaged file is reported to the asking process as "died <wait status>" and replaced by a
  // new fork, at a fraction of the cost of starting the executable again (its ~150 shared
  // libraries, and AddressSanitizer's start in the sanitizer builds: about 0.5 s of CPU, which
  // was most of the HDF5 fuzz target's time once its corpus held damaged files). Without
  // fork, the requests are served here and a damaged file ends this process, as before.
  for (;;) {
    const pid_t worker = fork();
    if (worker < 0) return ServeRequests(fd);
    if (worker == 0) _exit(ServeRequests(fd));
    int status = 0;
    while (waitpid(worker, &status, 0) < 0) {
      if (errno != EINTR) return 1;
    }
    if (WIFEXITED(status) &&
        (WEXITSTATUS(status) == kWorkerEof || WEXITSTATUS(status) == kWorkerBadRequest ||
         WEXITSTATUS(status) == kWorkerCannotSend)) {
      return WEXITSTATUS(status);
    }
    if (!SendAll(fd, StrCat("died ", status, "\n"))) return kWorkerCannotSend;
  }
}

}  // namespace fcn
