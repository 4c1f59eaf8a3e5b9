// SPDX-License-Identifier: BSD-2-Clause
// LMDB wrapper: reading a database written with liblmdb directly (key order, lookups,
// cursors, use from another thread), the writer's round trip, and errors naming the path.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fcn/lmdb_db.h"
#include "support/test_util.h"

namespace fcn::test {
namespace {

using ::testing::HasSubstr;

// Writes the records with plain liblmdb calls (independent of the wrapper under test).
void WriteWithLiblmdb(const std::string& dir, const std::map<std::string, std::string>& records) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, std::size_t{1} << 24), 0);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0664), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  // Inserted in reverse order: the reader must still see key order.
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    MDB_val k{it->first.size(), const_cast<char*>(it->first.data())};
    MDB_val v{it->second.size(), const_cast<char*>(it->second.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

using Records = std::vector<std::pair<std::string, std::string>>;

const std::map<std::string, std::string> kRecords = {
    {"00000000_a/data", "first"},
    {"00000000_a/label", std::string("\0\1\2", 3)},
    {"00000001_b/data", std::string(5000, 'x')},  // larger than a page
    {"~meta", "{}"},
};

TEST(LmdbReader, ReadsRecordsInKeyOrder) {
  const std::string dir = TempDir();
  WriteWithLiblmdb(dir, kRecords);
  LmdbReader reader(dir);
  EXPECT_EQ(reader.size(), 4);
  auto cursor = reader.NewCursor();
  Records seen;
  for (bool ok = cursor->SeekToFirst(); ok; ok = cursor->Next()) {
    seen.emplace_back(cursor->key(), cursor->value());
  }
  EXPECT_FALSE(cursor->valid());
  EXPECT_EQ(seen, Records(kRecords.begin(), kRecords.end()));
}

TEST(LmdbReader, GetFindsPresentKeysOnly) {
  const std::string dir = TempDir();
  WriteWithLiblmdb(dir, kRecords);
  LmdbReader reader(dir);
  std::string_view value;
  ASSERT_TRUE(reader.Get("00000000_a/label", &value));
  EXPECT_EQ(value, std::string("\0\1\2", 3));
  ASSERT_TRUE(reader.Get("00000001_b/data", &value));
  EXPECT_EQ(value.size(), 5000u);
  EXPECT_FALSE(reader.Get("00000001_b/label", &value));
}

TEST(LmdbReader, SeekGoesToTheFirstKeyNotBefore) {
  const std::string dir = TempDir();
  WriteWithLiblmdb(dir, kRecords);
  LmdbReader reader(dir);
  auto cursor = reader.NewCursor();
  ASSERT_TRUE(cursor->Seek("00000001_"));
  EXPECT_EQ(cursor->key(), "00000001_b/data");
  ASSERT_TRUE(cursor->Seek("00000000_a/label"));
  EXPECT_EQ(cursor->key(), "00000000_a/label");
  EXPECT_FALSE(cursor->Seek("~zzz"));
  EXPECT_FALSE(cursor->valid());
  EXPECT_FALSE(cursor->Next());
}

TEST(LmdbReader, CursorWorksFromAnotherThread) {
  const std::string dir = TempDir();
  WriteWithLiblmdb(dir, kRecords);
  LmdbReader reader(dir);
  auto cursor = reader.NewCursor();
  int count = 0;
  std::thread worker([&] {
    for (bool ok = cursor->SeekToFirst(); ok; ok = cursor->Next()) ++count;
  });
  worker.join();
  EXPECT_EQ(count, 4);
}

TEST(LmdbReader, TwoReadersOfOneDatabase) {
  const std::string dir = TempDir();
  WriteWithLiblmdb(dir, kRecords);
  LmdbReader a(dir);
  LmdbReader b(dir);
  std::string_view va;
  std::string_view vb;
  ASSERT_TRUE(a.Get("00000000_a/data", &va));
  ASSERT_TRUE(b.Get("00000000_a/data", &vb));
  EXPECT_EQ(va, "first");
  EXPECT_EQ(vb, "first");
}

TEST(LmdbWriter, RoundTripAndReplace) {
  const std::string dir = TempDir() + "/db";
  {
    LmdbWriter writer(dir);
    writer.Put("k2", "two");
    writer.Put("k1", "one");
    writer.Commit();
    writer.Put("k1", "uno");  // committed by the destructor
  }
  LmdbReader reader(dir);
  EXPECT_EQ(reader.size(), 2);
  std::string_view value;
  ASSERT_TRUE(reader.Get("k1", &value));
  EXPECT_EQ(value, "uno");
  ASSERT_TRUE(reader.Get("k2", &value));
  EXPECT_EQ(value, "two");
}

TEST(LmdbReaderErrors, MissingDirectoryNamesThePath) {
  const std::string dir = TempDir() + "/nope";
  EXPECT_THAT(ConfigErrorOf([&] { LmdbReader reader(dir); }),
              HasSubstr(dir + ": no such LMDB database directory"));
}

TEST(LmdbReaderErrors, PlainFileIsNotADatabase) {
  const std::string file = TempDir() + "/file.mdb";
  std::ofstream(file) << "hello";
  EXPECT_THAT(ConfigErrorOf([&] { LmdbReader reader(file); }),
              HasSubstr(file + ": is not a directory"));
}

TEST(LmdbReaderErrors, DirectoryWithoutDataFile) {
  const std::string dir = TempDir();
  EXPECT_THAT(ConfigErrorOf([&] { LmdbReader reader(dir); }),
              HasSubstr(dir + ": is not an LMDB database (no data.mdb"));
}

TEST(LmdbReaderErrors, GarbageDataFile) {
  const std::string dir = TempDir();
  std::ofstream(dir + "/data.mdb") << std::string(16384, 'z');
  EXPECT_THAT(ConfigErrorOf([&] { LmdbReader reader(dir); }),
              HasSubstr(dir + ": not a valid LMDB database"));
}

TEST(PrintableKey, EscapesNonPrintableBytes) {
  EXPECT_EQ(PrintableKey("00000001_a/data"), "00000001_a/data");
  EXPECT_EQ(PrintableKey(std::string("a\0\n\xff", 4)), "a\\x00\\x0a\\xff");
}

}  // namespace
}  // namespace fcn::test
