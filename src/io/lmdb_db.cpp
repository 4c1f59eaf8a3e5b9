// SPDX-License-Identifier: BSD-2-Clause
// LMDB access: a read-only reader with cursors and a writer, with errors that name the path.
#include "io/lmdb_db.h"

#include <glog/logging.h>
#include <lmdb.h>

#include <cerrno>
#include <cstdio>
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
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw ConfigError(StrCat(path, ": no such LMDB database directory"));
  }
  if (!std::filesystem::is_directory(path, ec)) {
    throw ConfigError(
        StrCat(path, ": is not a directory (an LMDB database is a directory holding data.mdb)"));
  }
  if (!std::filesystem::exists(std::filesystem::path(path) / "data.mdb", ec)) {
    throw ConfigError(StrCat(path, ": is not an LMDB database (no data.mdb in the directory)"));
  }
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
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    if (env_ != nullptr) mdb_env_close(env_);
    txn_ = nullptr;
    env_ = nullptr;
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED) {
      throw ConfigError(StrCat(path, ": not a valid LMDB database: ", mdb_strerror(rc)));
    }
    Fail(rc, StrCat(path, ": cannot open the LMDB database"));
  }
  LOG(INFO) << "Opened lmdb " << path;
}

LmdbReader::~LmdbReader() {
  mdb_txn_abort(txn_);
  mdb_env_close(env_);
}

std::int64_t LmdbReader::size() const {
  MDB_stat stat;
  const int rc = mdb_stat(txn_, dbi_, &stat);
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot read the database statistics"));
  return static_cast<std::int64_t>(stat.ms_entries);
}

bool LmdbReader::Get(std::string_view key, std::string_view* value) const {
  MDB_val k = ToVal(key);
  MDB_val v;
  const int rc = mdb_get(txn_, dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) Fail(rc, StrCat(path_, ": cannot read record \"", PrintableKey(key), "\""));
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
  const int rc = mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) {
    valid_ = false;
    return false;
  }
  if (rc != 0) {
    valid_ = false;
    Fail(rc,
         StrCat(reader_->path(), ": cannot read the record after \"", PrintableKey(key_), "\""));
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
