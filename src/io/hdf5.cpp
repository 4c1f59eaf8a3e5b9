// SPDX-License-Identifier: BSD-2-Clause
// Caffe's HDF5 snapshot layout through the HDF5 C API: float datasets shaped like the blobs,
// scalar int and string datasets for the solver state, one group per layer.
#include "io/hdf5.h"

#include <fcntl.h>
#include <hdf5.h>
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
#include <utility>
#include <vector>

#include "fcn/io.h"

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
  void ReadBlob(hid_t loc, const std::string& name, const std::string& where,
                BlobProto* blob) const {
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
// check through its API can foresee. So a file is first read by a forked child with the same
// code: a child that dies (a signal, or a sanitizer's exit) means the file is damaged, and the
// error names it instead of taking this process down. A child that finishes, with or without
// an error of its own, is followed by the real read here, which gives that error. Without
// fork (it failed), the file is read directly, as before.
template <class Read>
void SurvivesReading(const std::string& path, Read&& read) {
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
      read();
    } catch (...) {
    }
    std::_Exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string how =
      WIFSIGNALED(status) ? StrCat("signal ", WTERMSIG(status), ", ", strsignal(WTERMSIG(status)))
                          : StrCat("exit status ", WEXITSTATUS(status));
  throw ConfigError(StrCat(path,
                           ": damaged HDF5 file: libhdf5 failed while reading its "
                           "structure (in a checking process: ",
                           how, "); it cannot be loaded"));
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
  SurvivesReading(path, [&] { ReadNetParamUnchecked(path); });
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

SolverState ReadSolverStateUnchecked(const std::string& path) {
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
  for (std::size_t i = 0; i < n; ++i) {
    const std::string name = std::to_string(i);
    if (!reader.Exists(history.get(), name)) {
      reader.Fail(StrCat("/history has ", n, " entries but no dataset \"", name, "\""));
    }
    reader.ReadBlob(history.get(), name, StrCat("/history/", name), state.add_history());
  }
  return state;
}

}  // namespace

SolverState ReadSolverStateFromHdf5File(const std::string& path) {
  SurvivesReading(path, [&] { ReadSolverStateUnchecked(path); });
  return ReadSolverStateUnchecked(path);
}

}  // namespace fcn
