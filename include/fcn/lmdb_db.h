// SPDX-License-Identifier: BSD-2-Clause
// A small RAII wrapper over liblmdb: a read-only database with cursors, and a writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace fcn {

/// Renders a database key for messages: printable ASCII as is, other bytes as \xNN.
std::string PrintableKey(std::string_view key);

/// A read-only LMDB environment (the directory holding data.mdb and lock.mdb) with one
/// long-lived read transaction on its main database. Opened with MDB_NOTLS, so the
/// transaction and its cursors may be used from any one thread at a time (a prefetch thread,
/// for example). Errors name the path (and the key where there is one).
class LmdbReader {
 public:
  /// Opens `path` read-only. Throws ConfigError when the directory is missing or is not an
  /// LMDB environment, RuntimeError for other failures of the library.
  explicit LmdbReader(const std::string& path);
  ~LmdbReader();
  LmdbReader(const LmdbReader&) = delete;
  LmdbReader& operator=(const LmdbReader&) = delete;

  const std::string& path() const { return path_; }
  /// The number of records.
  std::int64_t size() const;
  /// Looks a key up; returns false when it is absent. The view stays valid as long as the
  /// reader lives (it points into the memory map).
  bool Get(std::string_view key, std::string_view* value) const;

  /// A cursor over the records in key order.
  class Cursor {
   public:
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    /// Moves to the first record; false when the database is empty.
    bool SeekToFirst();
    /// Moves to the first record whose key is >= `key`; false when there is none.
    bool Seek(std::string_view key);
    /// Moves to the next record; false (and invalid) past the last one.
    bool Next();
    bool valid() const { return valid_; }
    /// The current record (valid() must be true). The views live as long as the reader.
    std::string_view key() const { return key_; }
    std::string_view value() const { return value_; }

   private:
    friend class LmdbReader;
    Cursor(const LmdbReader* reader, MDB_cursor* cursor) : reader_(reader), cursor_(cursor) {}
    bool Move(int op, std::string_view key);

    const LmdbReader* reader_;
    MDB_cursor* cursor_;
    bool valid_ = false;
    std::string_view key_;
    std::string_view value_;
  };

  /// Opens a new cursor (positioned nowhere: call SeekToFirst or Seek).
  std::unique_ptr<Cursor> NewCursor() const;

 private:
  static constexpr std::uint64_t kMinPageBytes = 4096;
  void Close();
  void CheckFileHoldsTheDatabase(const std::string& data_file);
  /// Whether [data, data + size) lies inside the pages the database uses (within the file).
  bool InFile(const void* data, std::size_t size) const;
  /// Throws ConfigError naming the record when its value lies outside the file.
  void CheckInFile(const void* data, std::size_t size, std::string_view key) const;

  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  unsigned int dbi_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t used_bytes_ = 0;
  const char* map_begin_ = nullptr;
};

/// Writes records into an LMDB environment (created when missing) in one transaction that
/// Commit() (or the destructor) commits. Used by tests and tools that build databases.
class LmdbWriter {
 public:
  /// Opens or creates the environment directory `path` with a memory map of `map_size`
  /// bytes (the largest size the database may reach). Throws RuntimeError on failure.
  explicit LmdbWriter(const std::string& path, std::size_t map_size = std::size_t{1} << 30);
  /// Commits what is pending (errors are logged, not thrown).
  ~LmdbWriter();
  LmdbWriter(const LmdbWriter&) = delete;
  LmdbWriter& operator=(const LmdbWriter&) = delete;

  /// Stores (or replaces) one record.
  void Put(std::string_view key, std::string_view value);
  /// Commits the open transaction; later puts start a new one.
  void Commit();

 private:
  void Begin();

  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  unsigned int dbi_ = 0;
};

}  // namespace fcn
