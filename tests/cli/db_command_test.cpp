// `nbo db backup` and `nbo db check`: the real executable as a child process on real SQLite
// files, one of them written to by another connection during the backup.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "nbo/store/database.hpp"
#include "support/live_database.hpp"
#include "support/run_nbo.hpp"
#include "support/temp_dir.hpp"

namespace nbo::cli {
namespace {

using test_support::Completed;
using test_support::LiveWriter;
using test_support::make_items_database;
using test_support::run_nbo;
using test_support::TempDir;
using ::testing::HasSubstr;

std::filesystem::path migrations() {
  return NBO_MIGRATIONS_DIR;
}

std::int64_t query_int(const std::filesystem::path& file, const std::string& sql) {
  store::OpenOptions read_only;
  read_only.read_only = true;
  auto db = store::Database::open(file, read_only);
  auto statement = db.prepare(sql);
  statement.step();
  return statement.column_int64(0);
}

std::int64_t count_rows(const std::filesystem::path& file, const std::string& where) {
  return query_int(file, "SELECT COUNT(*) FROM items " + where);
}

class DbCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_support::nbo_binary() == nullptr) GTEST_SKIP() << "NBO_BINARY is not defined";
  }
  TempDir dir_;
};

TEST_F(DbCommand, BackupOfALiveDatabaseHoldsEveryRowCommittedBeforeItAndPassesTheCheck) {
  const auto source = dir_ / "live.db";
  const auto copy = dir_ / "backups" / "copy.db";
  make_items_database(source, migrations(), 3000);
  std::int64_t committed_before = 0;
  Completed backup;
  {
    LiveWriter writer(source);
    writer.wait_for_rows(20);
    committed_before = writer.committed();
    backup = run_nbo({"db", "backup", "--db", source.string(), "--to", copy.string(),
                      "--pages-per-step", "16", "--pause-ms", "1"},
                     dir_);
    writer.stop();
  }
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  EXPECT_THAT(backup.output, HasSubstr("backed up"));
  EXPECT_EQ(count_rows(copy, "WHERE id <= " + std::to_string(committed_before)), committed_before);
  // One snapshot: the writer commits increasing ids one at a time, so no id is missing.
  EXPECT_EQ(count_rows(copy, ""), query_int(copy, "SELECT MAX(id) FROM items"));

  const auto check = run_nbo({"db", "check", "--db", copy.string()}, dir_);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("ok"));
}

TEST_F(DbCommand, BackupRefusesAnExistingTargetUnlessForced) {
  const auto source = dir_ / "live.db";
  const auto copy = dir_ / "copy.db";
  make_items_database(source, migrations(), 50);
  {
    std::ofstream out(copy);
    out << "keep me";
  }
  const auto refused =
      run_nbo({"db", "backup", "--db", source.string(), "--to", copy.string()}, dir_);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("already exists"));
  EXPECT_THAT(refused.output, HasSubstr("--force"));
  EXPECT_EQ(test_support::read_bytes(copy), "keep me");

  const auto forced =
      run_nbo({"db", "backup", "--db", source.string(), "--to", copy.string(), "--force"}, dir_);
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(count_rows(copy, ""), 50);

  const auto missing = run_nbo(
      {"db", "backup", "--db", (dir_ / "absent.db").string(), "--to", (dir_ / "x.db").string()},
      dir_);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("absent.db"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.db"));
}

TEST_F(DbCommand, CheckExitsOneOnACorruptedCopy) {
  const auto good = dir_ / "good.db";
  const auto bad = dir_ / "bad.db";
  make_items_database(good, migrations(), 3000);
  ASSERT_EQ(run_nbo({"db", "backup", "--db", good.string(), "--to", bad.string()}, dir_).exit_code,
            0);
  test_support::overwrite_middle_pages(bad);

  const auto ok = run_nbo({"db", "check", "--db", good.string()}, dir_);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  const auto corrupt = run_nbo({"db", "check", "--db", bad.string()}, dir_);
  EXPECT_EQ(corrupt.exit_code, 1) << corrupt.output;
  EXPECT_THAT(corrupt.output, HasSubstr("problem"));
  const auto missing = run_nbo({"db", "check", "--db", (dir_ / "absent.db").string()}, dir_);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "absent.db"));
}

TEST_F(DbCommand, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"db"},
        {"db", "restore"},
        {"db", "check"},
        {"db", "check", "--bogus"},
        {"db", "backup", "--db", "a.db"},
        {"db", "backup", "--to", "b.db"},
        {"db", "backup", "--db", "a.db", "--to", "b.db", "--pages-per-step", "0"}}) {
    const auto result = run_nbo(args, dir_);
    EXPECT_EQ(result.exit_code, 2) << args.size() << " args: " << result.output;
  }
  const auto help = run_nbo({"db", "backup", "--help"}, dir_);
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_THAT(help.output, HasSubstr("--force"));
  const auto main_help = run_nbo({"--help"}, dir_);
  EXPECT_THAT(main_help.output, HasSubstr("db "));
}

}  // namespace
}  // namespace nbo::cli
