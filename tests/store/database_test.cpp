#include "nbo/store/database.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "nbo/store/timestamp.hpp"
#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using testing::migrations_dir;
using testing::TempDir;

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

// True when `text` has the shape of `pattern`, where '#' stands for one decimal digit and every
// other character for itself.
bool has_shape(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (pattern[i] == '#' ? !digit : text[i] != pattern[i]) return false;
  }
  return true;
}

bool table_exists(Database& db, const std::string& name) {
  Statement stmt = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = ?1");
  stmt.bind(1, name);
  return stmt.step();
}

std::int64_t scalar(Database& db, const std::string& sql) {
  Statement stmt = db.prepare(sql);
  EXPECT_TRUE(stmt.step()) << sql;
  return stmt.column_int64(0);
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a StoreError";
  return {};
}

TEST(Database, OpenCreatesParentDirectoriesAndConfiguresTheConnection) {
  TempDir dir;
  const auto file = dir / "a/b/nbo.db";
  Database db = Database::open(file);
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_EQ(db.path(), file);
  EXPECT_FALSE(db.read_only());
  EXPECT_EQ(db.journal_mode(), "wal");
  EXPECT_EQ(scalar(db, "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(scalar(db, "PRAGMA busy_timeout"), 5000);
  EXPECT_EQ(scalar(db, "PRAGMA wal_autocheckpoint"), 1000);  // SQLite's own
  EXPECT_EQ(scalar(db, "PRAGMA cache_size"), -2000);
}

TEST(Database, CacheAndCheckpointOptions) {
  TempDir dir;
  Database db = Database::open(
      dir / "nbo.db", OpenOptions{.cache_kib = 16 * 1024, .wal_autocheckpoint_pages = 10'000});
  EXPECT_EQ(scalar(db, "PRAGMA cache_size"), -16 * 1024);
  EXPECT_EQ(scalar(db, "PRAGMA wal_autocheckpoint"), 10'000);
}

TEST(Database, WalModeIsSeenByASecondConnection) {
  TempDir dir;
  { Database db = Database::open(dir / "nbo.db"); }
  Database other = Database::open(dir / "nbo.db", OpenOptions{.read_only = true});
  EXPECT_EQ(other.journal_mode(), "wal");
}

TEST(Database, SynchronousFullOption) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db", OpenOptions{.synchronous = Synchronous::kFull});
  EXPECT_EQ(scalar(db, "PRAGMA synchronous"), 2);
}

TEST(Database, OpenOfANonDatabaseFileThrowsNamingTheFile) {
  TempDir dir;
  const auto file = dir / "not_a_db.db";
  write_file(file, std::string(4096, 'x'));
  const std::string message = error_of([&] { Database::open(file); });
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("not a database"));
}

TEST(Database, InMemoryIsRejectedBecauseWalDoesNotTakeEffect) {
  const std::string message = error_of([] { Database::open(":memory:"); });
  EXPECT_THAT(message, HasSubstr("journal_mode=WAL"));
}

// The versions of the project's migration files (NNNN_name.sql), ascending.
std::vector<int> project_migration_versions() {
  std::vector<int> versions;
  for (const auto& entry : std::filesystem::directory_iterator(migrations_dir())) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".sql") versions.push_back(std::stoi(name.substr(0, 4)));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

TEST(Database, ProjectMigrationsCreateTheSchema) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  EXPECT_TRUE(db.applied_versions().empty());
  const std::vector<int> versions = project_migration_versions();
  ASSERT_GE(versions.size(), 2U);
  EXPECT_EQ(versions.front(), 1);
  EXPECT_EQ(db.apply_migrations(migrations_dir()), versions);
  EXPECT_EQ(db.applied_versions(), versions);
  for (const char* name :
       {"customers", "request_log", "request_log_requests", "request_log_customers",
        "request_log_requests_request_id", "request_log_customers_block_customer", "schema_migrations",
        "customer_segments", "customer_segments_by_segment", "customer_segments_all",
        "school_courses", "school_users", "school_events", "offer_log", "offer_responses"}) {
    EXPECT_TRUE(table_exists(db, name)) << name;
  }
  Statement row = db.prepare("SELECT name, applied_at FROM schema_migrations WHERE version = 1");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.column_text(0), "initial");
  EXPECT_TRUE(has_shape(row.column_text(1), "####-##-##T##:##:##.###Z")) << row.column_text(1);
}

TEST(Database, MigrationsApplyInNumericOrderAndReapplyingIsANoOp) {
  TempDir dir;
  const auto migrations = dir / "migrations";
  std::filesystem::create_directories(migrations);
  // Each migration depends on the one before it, so a wrong order fails.
  write_file(migrations / "0010_third.sql", "ALTER TABLE t ADD COLUMN c TEXT;");
  write_file(migrations / "0001_first.sql", "CREATE TABLE t(a INTEGER);");
  write_file(migrations / "0002_second.sql",
             "ALTER TABLE t ADD COLUMN b TEXT;\nINSERT INTO t(a, b) VALUES (1, 'x');");
  write_file(migrations / "README.md", "not a migration");

  Database db = Database::open(dir / "nbo.db");
  EXPECT_THAT(db.apply_migrations(migrations), ElementsAre(1, 2, 10));
  EXPECT_THAT(db.applied_versions(), ElementsAre(1, 2, 10));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t WHERE c IS NULL"), 1);

  // Again, on this connection and on a new one: nothing runs (the INSERT would duplicate).
  EXPECT_TRUE(db.apply_migrations(migrations).empty());
  Database other = Database::open(dir / "nbo.db");
  EXPECT_TRUE(other.apply_migrations(migrations).empty());
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 1);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM schema_migrations"), 3);

  // A new migration added later is applied alone.
  write_file(migrations / "0011_fourth.sql", "INSERT INTO t(a) VALUES (2);");
  EXPECT_THAT(other.apply_migrations(migrations), ElementsAre(11));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 2);
}

TEST(Database, BrokenMigrationRollsBackAndTheErrorNamesTheFile) {
  TempDir dir;
  const auto migrations = dir / "migrations";
  std::filesystem::create_directories(migrations);
  write_file(migrations / "0001_good.sql", "CREATE TABLE t(a INTEGER);");
  write_file(migrations / "0002_broken.sql",
             "CREATE TABLE half(x INTEGER);\n"
             "INSERT INTO t(a) VALUES (42);\n"
             "THIS IS NOT SQL;\n");
  write_file(migrations / "0003_later.sql", "CREATE TABLE later(x INTEGER);");

  Database db = Database::open(dir / "nbo.db");
  const std::string message = error_of([&] { db.apply_migrations(migrations); });
  EXPECT_THAT(message, HasSubstr((migrations / "0002_broken.sql").string()));
  EXPECT_THAT(message, HasSubstr((dir / "nbo.db").string()));
  EXPECT_THAT(message, HasSubstr("syntax error"));

  EXPECT_FALSE(db.in_transaction());
  EXPECT_THAT(db.applied_versions(), ElementsAre(1));
  EXPECT_FALSE(table_exists(db, "half"));
  EXPECT_FALSE(table_exists(db, "later"));
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 0);

  // Once fixed, the rest applies.
  write_file(migrations / "0002_broken.sql", "CREATE TABLE half(x INTEGER);");
  EXPECT_THAT(db.apply_migrations(migrations), ElementsAre(2, 3));
}

TEST(Database, MigrationWithTransactionControlIsRejected) {
  TempDir dir;
  const auto migrations = dir / "migrations";
  std::filesystem::create_directories(migrations);
  write_file(migrations / "0001_commits.sql", "CREATE TABLE t(a); COMMIT;");
  Database db = Database::open(dir / "nbo.db");
  const std::string message = error_of([&] { db.apply_migrations(migrations); });
  EXPECT_THAT(message, HasSubstr("0001_commits.sql"));
  EXPECT_THAT(message, HasSubstr("BEGIN, COMMIT or ROLLBACK"));
  EXPECT_TRUE(db.applied_versions().empty());
}

TEST(Database, BadMigrationDirectoryContentsAreRejected) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");

  EXPECT_THAT(error_of([&] { db.apply_migrations(dir / "missing"); }),
              HasSubstr((dir / "missing").string()));

  const auto misnamed = dir / "misnamed";
  std::filesystem::create_directories(misnamed);
  write_file(misnamed / "initial.sql", "SELECT 1;");
  EXPECT_THAT(error_of([&] { db.apply_migrations(misnamed); }), HasSubstr("initial.sql"));

  const auto duplicate = dir / "duplicate";
  std::filesystem::create_directories(duplicate);
  write_file(duplicate / "0001_a.sql", "SELECT 1;");
  write_file(duplicate / "1_b.sql", "SELECT 1;");
  EXPECT_THAT(error_of([&] { db.apply_migrations(duplicate); }), HasSubstr("share version 1"));
  EXPECT_TRUE(db.applied_versions().empty());
}

TEST(Database, StatementBindsAndReadsEveryType) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  db.execute("CREATE TABLE v(i INTEGER, d REAL, t TEXT, n TEXT, e TEXT)");
  Statement insert = db.prepare("INSERT INTO v VALUES (?1, ?2, ?3, ?4, ?5)");
  const std::string text("with\0nul", 8);
  insert.bind(1, std::size_t{1} << 40).bind(2, 2.5).bind(3, text).bind(4, nullptr);
  insert.bind_text_or_null(5, "");
  EXPECT_FALSE(insert.step());
  EXPECT_EQ(db.changes(), 1);
  EXPECT_EQ(db.last_insert_rowid(), 1);

  Statement select = db.prepare("SELECT i, d, t, n, e FROM v");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_count(), 5);
  EXPECT_EQ(select.column_int64(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select.column_double(1), 2.5);
  EXPECT_EQ(select.column_text(2), text);
  EXPECT_TRUE(select.column_is_null(3));
  EXPECT_TRUE(select.column_is_null(4));
  EXPECT_EQ(select.column_text(3), "");
  EXPECT_FALSE(select.step());

  // reset() makes it runnable again with the same bindings.
  insert.reset();
  EXPECT_FALSE(insert.step());
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM v"), 2);

  Statement moved = std::move(select);
  moved.reset();
  EXPECT_TRUE(moved.step());
}

TEST(Database, ErrorsNameTheFileAndTheStatement) {
  TempDir dir;
  const auto file = dir / "nbo.db";
  Database db = Database::open(file);
  db.execute("CREATE TABLE u(k TEXT PRIMARY KEY)");

  std::string message = error_of([&] { db.prepare("SELECT nope FROM u"); });
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("SELECT nope FROM u"));
  EXPECT_THAT(message, HasSubstr("no such column"));

  db.execute("INSERT INTO u VALUES ('a')");
  Statement dup = db.prepare("INSERT INTO u VALUES ('a')");
  try {
    dup.step();
    FAIL() << "expected a constraint violation";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("UNIQUE constraint failed"));
    EXPECT_THAT(e.what(), HasSubstr("INSERT INTO u"));
    EXPECT_EQ(e.code() & 0xff, 19);  // SQLITE_CONSTRAINT
  }

  message = error_of([&] { db.execute("DROP TABLE missing"); });
  EXPECT_THAT(message, HasSubstr("DROP TABLE missing"));
  EXPECT_THAT(message, HasSubstr("no such table"));

  Statement bad_index = db.prepare("SELECT ?1");
  EXPECT_THAT(error_of([&] { bad_index.bind(2, 1); }), HasSubstr("parameter 2"));
  EXPECT_THAT(error_of([&] { bad_index.bind(1, std::uint64_t{1} << 63); }),
              HasSubstr("does not fit"));
}

TEST(Database, TransactionCommitsOrRollsBack) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  db.execute("CREATE TABLE t(a INTEGER)");
  {
    Transaction tx(db);
    EXPECT_TRUE(db.in_transaction());
    db.execute("INSERT INTO t VALUES (1)");
    tx.commit();
  }
  EXPECT_FALSE(db.in_transaction());
  {
    Transaction tx(db);
    db.execute("INSERT INTO t VALUES (2)");
  }  // no commit: rolled back
  try {
    Transaction tx(db);
    db.execute("INSERT INTO t VALUES (3)");
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  {
    Transaction tx(db, TransactionMode::kDeferred);
    db.execute("INSERT INTO t VALUES (4)");
    tx.rollback();
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 1);

  // A committed row is visible to another connection.
  Database other = Database::open(dir / "nbo.db");
  EXPECT_EQ(scalar(other, "SELECT SUM(a) FROM t"), 1);
}

TEST(Database, MoveKeepsTheConnectionAndItsStatements) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  db.execute("CREATE TABLE t(a INTEGER)");
  Statement insert = db.prepare("INSERT INTO t VALUES (7)");
  Database moved = std::move(db);
  EXPECT_FALSE(insert.step());
  Database assigned = Database::open(dir / "other.db");
  assigned = std::move(moved);
  EXPECT_EQ(scalar(assigned, "SELECT a FROM t"), 7);
}

TEST(Database, WritableOnAGoodDatabase) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  db.apply_migrations(migrations_dir());
  EXPECT_TRUE(db.writable());
  EXPECT_TRUE(db.writable());
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.applied_versions(), project_migration_versions());
}

TEST(Database, NotWritableOnAReadOnlyConnection) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  db.apply_migrations(migrations_dir());
  Database ro = Database::open(dir / "nbo.db", OpenOptions{.read_only = true});
  EXPECT_TRUE(ro.read_only());
  EXPECT_FALSE(ro.writable());
  EXPECT_THAT(error_of([&] { ro.execute("DELETE FROM customers"); }), HasSubstr("readonly"));
}

TEST(Database, NotWritableInsideATransaction) {
  TempDir dir;
  Database db = Database::open(dir / "nbo.db");
  Transaction tx(db);
  EXPECT_FALSE(db.writable());
  EXPECT_TRUE(db.in_transaction());
}

TEST(Database, NotWritableWhileAnotherConnectionHoldsTheWriteLock) {
  TempDir dir;
  Database holder = Database::open(dir / "nbo.db");
  Database probe = Database::open(dir / "nbo.db", OpenOptions{.busy_timeout_ms = 10});
  Transaction tx(holder);
  EXPECT_FALSE(probe.writable());
  tx.rollback();
  EXPECT_TRUE(probe.writable());
}

TEST(Database, ReadOnlyFileOpensReadOnlyAndIsNotWritable) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: file permissions do not stop root from writing; "
                    "NotWritableOnAReadOnlyConnection covers the read-only path";
  }
  TempDir dir;
  const auto file = dir / "nbo.db";
  {
    Database db = Database::open(file);
    db.apply_migrations(migrations_dir());
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  namespace fs = std::filesystem;
  fs::permissions(file, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  Database db = Database::open(file);
  EXPECT_TRUE(db.read_only());
  EXPECT_FALSE(db.writable());
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
}

TEST(Timestamp, Iso8601UtcWithMilliseconds) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1714566896789)};
  EXPECT_EQ(to_iso8601(t), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(to_iso8601(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(to_iso8601(system_clock::time_point{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
  const std::string now = utc_now_iso8601();
  EXPECT_TRUE(has_shape(now, "20##-##-##T##:##:##.###Z")) << now;
}

}  // namespace
}  // namespace nbo::store
