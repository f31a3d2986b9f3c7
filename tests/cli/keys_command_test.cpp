// `nbo keys add|list|revoke`: the real executable as a child process on a real SQLite file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nbo/store/api_key_store.hpp"
#include "support/api_key_text.hpp"
#include "support/run_nbo.hpp"
#include "support/temp_dir.hpp"

namespace nbo::cli {
namespace {

using test_support::run_nbo;
using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

class KeysCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_support::nbo_binary() == nullptr) GTEST_SKIP() << "NBO_BINARY is not defined";
  }
  std::vector<std::string> with_db(std::vector<std::string> args) const {
    args.insert(args.end(), {"--db", db_.string(), "--migrations", NBO_MIGRATIONS_DIR});
    return args;
  }
  TempDir dir_;
  std::filesystem::path db_ = dir_ / "var" / "nbo.db";
};

TEST_F(KeysCommand, AddPrintsTheKeyOnceListShowsItsIdAndRoleRevokeEndsIt) {
  const auto added =
      run_nbo(with_db({"keys", "add", "--name", "crm-prod", "--role", "writer"}), dir_);
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const std::string token = test_support::find_api_key(added.output);
  ASSERT_FALSE(token.empty()) << added.output;
  const std::string id = test_support::api_key_id(token);

  // The key works against the database the command wrote (a fresh file, migrated by it).
  store::ApiKeyStore keys(db_);
  const auto active = keys.active_keys();
  ASSERT_TRUE(active.authenticate(token).has_value());
  EXPECT_EQ(active.authenticate(token)->role, auth::Role::kWriter);

  const auto listed = run_nbo(with_db({"keys", "list"}), dir_);
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr(id));
  EXPECT_THAT(listed.output, HasSubstr("writer"));
  EXPECT_THAT(listed.output, HasSubstr("crm-prod"));
  EXPECT_THAT(listed.output, Not(HasSubstr(token)));

  const auto revoked = run_nbo(with_db({"keys", "revoke", "--id", id}), dir_);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_THAT(revoked.output, HasSubstr("revoked API key " + id));
  EXPECT_FALSE(keys.active_keys().authenticate(token).has_value());
  const auto after = run_nbo(with_db({"keys", "list"}), dir_);
  EXPECT_THAT(after.output, HasSubstr(id));
  EXPECT_THAT(after.output, Not(HasSubstr(" - ")));  // the revoked column holds a time
}

TEST_F(KeysCommand, BadUsageIsExit2AndAnUnknownIdExit1) {
  EXPECT_EQ(run_nbo(with_db({"keys", "add", "--name", "x", "--role", "root"}), dir_).exit_code, 2);
  EXPECT_EQ(run_nbo(with_db({"keys", "add", "--role", "scorer"}), dir_).exit_code, 2);
  EXPECT_EQ(run_nbo(with_db({"keys", "add", "--name", "", "--role", "scorer"}), dir_).exit_code, 2);
  EXPECT_EQ(run_nbo({"keys", "list"}, dir_).exit_code, 2);
  EXPECT_EQ(run_nbo({"keys"}, dir_).exit_code, 2);
  const auto unknown = run_nbo(with_db({"keys", "revoke", "--id", "0000000000000000"}), dir_);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("no API key has id"));
  store::ApiKeyStore keys(db_);
  EXPECT_TRUE(keys.list().empty());
}

}  // namespace
}  // namespace nbo::cli
