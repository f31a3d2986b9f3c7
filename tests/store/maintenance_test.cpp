// store::backup_database and store::check_database on real SQLite files: a copy of a database
// that another connection keeps writing to, refusals, and the check on good, corrupted and
// inconsistent files.

#include "nbo/store/maintenance.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "nbo/store/database.hpp"
#include "nbo/store/error.hpp"
#include "store/store_test_util.hpp"
#include "support/live_database.hpp"

namespace nbo::store {
namespace {

using ::testing::HasSubstr;
using testing::migrations_dir;
using testing::TempDir;
using namespace std::chrono_literals;
using nbo::test_support::LiveWriter;
using nbo::test_support::make_items_database;
using nbo::test_support::overwrite_middle_pages;

std::int64_t scalar(Database& db, const std::string& sql) {
  auto statement = db.prepare(sql);
  EXPECT_TRUE(statement.step()) << sql;
  return statement.column_int64(0);
}

Database open_read_only(const std::filesystem::path& file) {
  OpenOptions options;
  options.read_only = true;
  return Database::open(file, options);
}

TEST(StoreBackup, ALiveDatabaseGivesACompleteConsistentCopy) {
  TempDir dir;
  const auto source = dir / "live.db";
  make_items_database(source, migrations_dir(), 4000);
  LiveWriter writer(source);
  writer.wait_for_rows(50);
  const std::int64_t committed_before = writer.committed();

  BackupOptions options;
  options.pages_per_step = 8;
  options.pause = 1ms;
  const auto result = backup_database(source, dir / "copy.db", options);
  const std::int64_t committed_after = writer.committed();
  writer.stop();

  EXPECT_GT(result.steps, 1);
  EXPECT_GT(result.pages, 8);
  EXPECT_EQ(result.bytes, static_cast<std::int64_t>(std::filesystem::file_size(dir / "copy.db")));
  EXPECT_TRUE(check_database(dir / "copy.db").ok());
  auto copy = open_read_only(dir / "copy.db");
  // Every row committed before the copy began, and one snapshot: the writer commits one row at a
  // time with increasing ids, so a consistent copy holds 1..max without a gap.
  const std::int64_t rows = scalar(copy, "SELECT COUNT(*) FROM items");
  EXPECT_EQ(
      scalar(copy, "SELECT COUNT(*) FROM items WHERE id <= " + std::to_string(committed_before)),
      committed_before);
  EXPECT_EQ(scalar(copy, "SELECT MAX(id) FROM items"), rows);
  EXPECT_LE(rows, committed_after);
  // The migrated schema came along.
  EXPECT_GE(scalar(copy, "SELECT COUNT(*) FROM schema_migrations"), 1);
  // The source is untouched and still written to.
  EXPECT_GT(writer.committed(), 4000);
}

TEST(StoreBackup, AnExistingTargetIsKeptUnlessOverwriteIsAsked) {
  TempDir dir;
  const auto source = dir / "live.db";
  make_items_database(source, migrations_dir(), 100);
  const auto target = dir / "copy.db";
  {
    std::ofstream out(target);
    out << "precious";
  }
  try {
    backup_database(source, target);
    ADD_FAILURE() << "an existing target was replaced";
  } catch (const StoreError& error) {
    EXPECT_THAT(error.what(), HasSubstr(target.string()));
    EXPECT_THAT(error.what(), HasSubstr("already exists"));
  }
  EXPECT_EQ(std::filesystem::file_size(target), 8U);

  // A stale -wal beside the old target must not be applied to the new copy.
  {
    std::ofstream out(target.string() + "-wal");
    out << "stale";
  }
  BackupOptions overwrite;
  overwrite.overwrite = true;
  backup_database(source, target, overwrite);
  EXPECT_FALSE(std::filesystem::exists(target.string() + "-wal"));
  EXPECT_TRUE(check_database(target).ok());
  auto copy = open_read_only(target);
  EXPECT_EQ(scalar(copy, "SELECT COUNT(*) FROM items"), 100);

  EXPECT_THROW(backup_database(source, source, overwrite), StoreError);
}

TEST(StoreBackup, AMissingOrInvalidSourceFailsAndLeavesNothingBehind) {
  TempDir dir;
  try {
    backup_database(dir / "absent.db", dir / "copy.db");
    ADD_FAILURE() << "a missing source was copied";
  } catch (const StoreError& error) {
    EXPECT_THAT(error.what(), HasSubstr((dir / "absent.db").string()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));

  {
    std::ofstream out(dir / "notes.txt");
    for (int i = 0; i < 200; ++i) out << "this is not a database file\n";
  }
  EXPECT_THROW(backup_database(dir / "notes.txt", dir / "copy.db"), StoreError);
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "notes.txt") << "left behind: " << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 1U);
}

TEST(StoreCheck, AGoodFileIsOkAndACorruptedCopyIsNot) {
  TempDir dir;
  make_items_database(dir / "good.db", migrations_dir(), 3000);
  EXPECT_TRUE(check_database(dir / "good.db").ok());
  backup_database(dir / "good.db", dir / "bad.db");
  overwrite_middle_pages(dir / "bad.db");
  const auto report = check_database(dir / "bad.db");
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(report.problems.empty());

  EXPECT_THROW(check_database(dir / "absent.db"), StoreError);
  EXPECT_FALSE(std::filesystem::exists(dir / "absent.db"));

  {
    std::ofstream out(dir / "notes.txt");
    for (int i = 0; i < 200; ++i) out << "this is not a database file\n";
  }
  EXPECT_FALSE(check_database(dir / "notes.txt").ok());
}

TEST(StoreCheck, AForeignKeyViolationIsReported) {
  TempDir dir;
  {
    auto db = Database::open(dir / "fk.db");
    db.execute(
        "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
        "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));"
        "INSERT INTO parent(id) VALUES (1);"
        "PRAGMA foreign_keys=OFF;"
        "INSERT INTO child(id, parent_id) VALUES (1, 1), (2, 7);");
  }
  const auto report = check_database(dir / "fk.db");
  ASSERT_EQ(report.problems.size(), 1U);
  EXPECT_THAT(report.problems[0], HasSubstr("child"));
  EXPECT_THAT(report.problems[0], HasSubstr("rowid 2"));
  EXPECT_THAT(report.problems[0], HasSubstr("parent"));
}

}  // namespace
}  // namespace nbo::store
