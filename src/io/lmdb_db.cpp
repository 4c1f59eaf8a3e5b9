// SPDX-License-Identifier: BSD-2-Clause
// LMDB access: a read-only reader with cursors and a writer, with errors that name the path.
#include "fcn/lmdb_db.h"

#include <glog/logging.h>
#include <lmdb.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fcn/common.h"

namespace fcn {

namespace {

std::string_view ToView(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

MDB_val ToVal(std::string_view s) {
  MDB_val v;
  v.mv_size = s.size();
  v.mv_data = const_cast<char*>(s.data());
  return v;
}

// LMDB reads its pages straight from the memory map and trusts what they hold: a damaged page
// (a node offset or size overwritten) makes it read outside the map, and the process faults.
// The file's size is checked at open and every record against the pages in use, but the
// inside of a page cannot be checked without LMDB's help. So each LMDB call that walks pages
// runs under a guard: a SIGSEGV or SIGBUS raised on that thread while the guard is set jumps
// back to the call, which then reports the database as damaged. Any other fault goes on to
// the handler that was installed before (the default one, or a sanitizer's).
thread_local sigjmp_buf* t_fault_guard = nullptr;
struct sigaction g_previous_segv {};
struct sigaction g_previous_bus {};

extern "C" void HandleLmdbFault(int signal, siginfo_t* info, void* context) {
  if (sigjmp_buf* guard = t_fault_guard) {
    t_fault_guard = nullptr;
    siglongjmp(*guard, signal);
  }
  const struct sigaction& previous = signal == SIGBUS ? g_previous_bus : g_previous_segv;
  if ((previous.sa_flags & SA_SIGINFO) != 0 && previous.sa_sigaction != nullptr) {
    previous.sa_sigaction(signal, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN &&
      previous.sa_handler != nullptr) {
    previous.sa_handler(signal);
    return;
  }
  // Default action: uninstall and return, so that the faulting instruction faults again.
  sigaction(signal, &previous, nullptr);
}

void InstallFaultGuard() {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_sigaction = &HandleLmdbFault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
    return true;
  }();
  (void)installed;
}

// Runs `call` (an LMDB call returning its status) under the fault guard; a fault becomes
// ConfigError(`damaged`).
template <class Call>
int Guarded(const Call& call, const std::string& path) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_fault_guard = nullptr;
    throw ConfigError(StrCat(path, ": the database is damaged (reading it faulted inside LMDB)"));
  }
  t_fault_guard = &jump;
  const int rc = call();
  t_fault_guard = nullptr;
  return rc;
}

// A failed library call: corruption is the user's data, anything else the environment.
[[noreturn]] void Fail(int rc, const std::string& what) {
  const std::string message = StrCat(what, ": ", mdb_strerror(rc));
  if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
      rc == MDB_PAGE_NOTFOUND) {
    throw ConfigError(message);
  }
  throw RuntimeError(message);
}

}  // namespace

std::string PrintableKey(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

LmdbReader::LmdbReader(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status dir_status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw ConfigError(StrCat(path, ": cannot read the LMDB database directory: ", ec.message()));
  }
  if (!fs::exists(dir_status)) {
    throw ConfigError(StrCat(path, ": no such LMDB database directory"));
  }
  if (!fs::is_directory(dir_status)) {
    throw ConfigError(
        StrCat(path, ": is not a directory (an LMDB database is a directory holding data.mdb)"));
  }
  const std::string data_file = (fs::path(path) / "data.mdb").string();
  const fs::file_status data_status = fs::status(data_file, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    throw ConfigError(StrCat(path, ": cannot read the LMDB database directory: ", ec.message()));
  }
  if (!fs::exists(data_status)) {
    throw ConfigError(StrCat(path, ": is not an LMDB database (no data.mdb in the directory)"));
  }
  if (!fs::is_regular_file(data_status)) {
    throw ConfigError(StrCat(data_file, ": is not a regular file"));
  }
  // mdb_env_open maps the file and reads its meta pages: an empty or short file is refused
  // here, with its size, instead of as an obscure library error (or a fault).
  file_bytes_ = static_cast<std::uint64_t>(fs::file_size(data_file, ec));
  if (ec) throw ConfigError(StrCat(data_file, ": cannot read: ", ec.message()));
  if (file_bytes_ < kMinPageBytes * 2) {
    throw ConfigError(StrCat(data_file, ": ", file_bytes_,
                             " bytes is too short for an LMDB database (its two meta pages "
                             "alone take at least 8192); the database is damaged or empty"));
  }
  if (::access(data_file.c_str(), R_OK) != 0) {
    throw ConfigError(StrCat(data_file, ": cannot be read: ", std::strerror(errno)));
  }
  InstallFaultGuard();
  int rc = mdb_env_create(&env_);
  if (rc != 0) Fail(rc, StrCat(path, ": cannot create an LMDB environment"));
  rc = mdb_env_open(env_, path.c_str(), MDB_RDONLY | MDB_NOTLS, 0664);
  if (rc == EACCES) {
    // A read-only directory cannot hold the lock file: read without locking.
    mdb_env_close(env_);
    env_ = nullptr;
    rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_open(env_, path.c_str(), MDB_RDONLY | MDB_NOTLS | MDB_NOLOCK, 0664);
  }
  if (rc == 0) rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_);
  if (rc == 0) rc = mdb_dbi_open(txn_, nullptr, 0, &dbi_);
  if (rc != 0) {
    Close();
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED) {
      throw ConfigError(StrCat(path, ": not a valid LMDB database: ", mdb_strerror(rc)));
    }
    Fail(rc, StrCat(path, ": cannot open the LMDB database"));
  }
  CheckFileHoldsTheDatabase(data_file);
  LOG(INFO) << "Opened lmdb " << path;
}

void LmdbReader::Close() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  if (env_ != nullptr) mdb_env_close(env_);
  txn_ = nullptr;
  env_ = nullptr;
}

// LMDB maps data.mdb and trusts its meta page: pages past the end of a truncated file fault
// (SIGBUS) on the first read. The meta page says how many pages the database uses; the file
// must hold them all. LMDB itself refuses page numbers past that count, and every record's
// value is checked against the file's end when it is read (InFile).
void LmdbReader::CheckFileHoldsTheDatabase(const std::string& data_file) {
  MDB_envinfo info;
  MDB_stat stat;
  int rc = mdb_env_info(env_, &info);
  if (rc == 0) rc = mdb_env_stat(env_, &stat);
  if (rc != 0) {
    Close();
    Fail(rc, StrCat(path_, ": cannot read the database statistics"));
  }
  const std::uint64_t page = stat.ms_psize;
  const std::uint64_t pages = static_cast<std::uint64_t>(info.me_last_pgno) + 1;
  if (page < kMinPageBytes || page > (1u << 16) || pages > file_bytes_ / page) {
    Close();
    throw ConfigError(StrCat(data_file,
                             ": the database is damaged or truncated: its meta page "
                             "says it uses ",
                             pages, " pages of ", page, " bytes (", pages * page,
                             " bytes) but the file has ", file_bytes_, " bytes"));
  }
  map_begin_ = static_cast<const char*>(info.me_mapaddr);
  used_bytes_ = pages * page;
}

bool LmdbReader::InFile(const void* data, std::size_t size) const {
  if (map_begin_ == nullptr) return true;
  const auto* p = static_cast<const char*>(data);
  if (size == 0) return true;
  if (p < map_begin_) return false;
  const auto offset = static_cast<std::uint64_t>(p - map_begin_);
  return offset <= used_bytes_ && size <= used_bytes_ - offset;
}

void LmdbReader::CheckInFile(const void* data, std::size_t size, std::string_view key) const {
  if (!InFile(data, size)) {
    throw ConfigError(StrCat(path_, ": record \"", PrintableKey(key), "\" (", size,
                             " bytes) lies past the end of the database's pages: the database is "
                             "damaged"));
  }
}

LmdbReader::~LmdbReader() { Close(); }

std::int64_t LmdbReader::size() const {
  MDB_stat stat;
  const int rc = Guarded([&] { return mdb_stat(txn_, dbi_, &stat); }, path_);
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot read the database statistics"));
  return static_cast<std::int64_t>(stat.ms_entries);
}

bool LmdbReader::Get(std::string_view key, std::string_view* value) const {
  MDB_val k = ToVal(key);
  MDB_val v;
  const int rc = Guarded([&] { return mdb_get(txn_, dbi_, &k, &v); }, path_);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot read record \"", PrintableKey(key), "\""));
  CheckInFile(v.mv_data, v.mv_size, key);
  *value = ToView(v);
  return true;
}

std::unique_ptr<LmdbReader::Cursor> LmdbReader::NewCursor() const {
  MDB_cursor* cursor = nullptr;
  const int rc = mdb_cursor_open(txn_, dbi_, &cursor);
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot open a cursor"));
  return std::unique_ptr<Cursor>(new Cursor(this, cursor));
}

LmdbReader::Cursor::~Cursor() { mdb_cursor_close(cursor_); }

bool LmdbReader::Cursor::Move(int op, std::string_view key) {
  MDB_val k = ToVal(key);
  MDB_val v;
  const int rc =
      Guarded([&] { return mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op)); },
              reader_->path());
  if (rc == MDB_NOTFOUND) {
    valid_ = false;
    return false;
  }
  if (rc != 0) {
    valid_ = false;
    Fail(rc,
         StrCat(reader_->path(), ": cannot read the record after \"", PrintableKey(key_), "\""));
  }
  if (!reader_->InFile(k.mv_data, k.mv_size)) {
    valid_ = false;
    throw ConfigError(StrCat(reader_->path(), ": the key after \"", PrintableKey(key_),
                             "\" lies past the end of the database's pages: the database is "
                             "damaged"));
  }
  try {
    reader_->CheckInFile(v.mv_data, v.mv_size, ToView(k));
  } catch (...) {
    valid_ = false;
    throw;
  }
  key_ = ToView(k);
  value_ = ToView(v);
  valid_ = true;
  return true;
}

bool LmdbReader::Cursor::SeekToFirst() { return Move(MDB_FIRST, {}); }

bool LmdbReader::Cursor::Seek(std::string_view key) { return Move(MDB_SET_RANGE, key); }

bool LmdbReader::Cursor::Next() {
  if (!valid_) return false;
  return Move(MDB_NEXT, {});
}

LmdbWriter::LmdbWriter(const std::string& path, std::size_t map_size) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw RuntimeError(StrCat(path, ": cannot create the directory: ", ec.message()));
  int rc = mdb_env_create(&env_);
  if (rc == 0) rc = mdb_env_set_mapsize(env_, map_size);
  if (rc == 0) rc = mdb_env_open(env_, path.c_str(), 0, 0664);
  if (rc != 0) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
    Fail(rc, StrCat(path, ": cannot open the LMDB database for writing"));
  }
  Begin();
}

LmdbWriter::~LmdbWriter() {
  if (txn_ != nullptr) {
    const int rc = mdb_txn_commit(txn_);
    if (rc != 0) LOG(ERROR) << path_ << ": cannot commit: " << mdb_strerror(rc);
  }
  mdb_env_close(env_);
}

void LmdbWriter::Begin() {
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn_);
  if (rc == 0) rc = mdb_dbi_open(txn_, nullptr, 0, &dbi_);
  if (rc != 0) {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
    Fail(rc, StrCat(path_, ": cannot begin a write transaction"));
  }
}

void LmdbWriter::Put(std::string_view key, std::string_view value) {
  if (txn_ == nullptr) Begin();
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  const int rc = mdb_put(txn_, dbi_, &k, &v, 0);
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot write record \"", PrintableKey(key), "\""));
}

void LmdbWriter::Commit() {
  if (txn_ == nullptr) return;
  const int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot commit"));
}

}  // namespace fcn
