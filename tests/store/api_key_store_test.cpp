// ApiKeyStore on a real SQLite file: keys made, listed, revoked; only their digests stored.

#include "nbo/store/api_key_store.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nbo/store/database.hpp"
#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using testing::migrations_dir;
using testing::TempDir;

class ApiKeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto database = Database::open(db_path_);
    database.apply_migrations(migrations_dir());
  }
  TempDir dir_;
  std::filesystem::path db_path_ = dir_ / "nbo.db";
};

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_F(ApiKeyStoreTest, AddedKeysAreListedAndAcceptedUntilRevoked) {
  ApiKeyStore store(db_path_);
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(store.active_keys().empty());

  const auto scorer = store.add("crm", auth::Role::kScorer);
  const auto admin = store.add("ops", auth::Role::kAdmin);
  EXPECT_FALSE(scorer.key.created_at.empty());

  const auto listed = store.list();
  ASSERT_EQ(listed.size(), 2U);
  // Listed by creation time, then id: two keys made in the same millisecond come in id order, so
  // each is found by its id.
  EXPECT_LE(listed[0].created_at, listed[1].created_at);
  const bool scorer_first = listed[0].id == scorer.key.id;
  const auto& crm = scorer_first ? listed[0] : listed[1];
  const auto& ops = scorer_first ? listed[1] : listed[0];
  EXPECT_EQ(crm.id, scorer.key.id);
  EXPECT_EQ(crm.name, "crm");
  EXPECT_EQ(crm.role, auth::Role::kScorer);
  EXPECT_EQ(crm.digest, auth::digest_of(scorer.token));
  EXPECT_TRUE(crm.revoked_at.empty());
  EXPECT_EQ(ops.id, admin.key.id);
  EXPECT_EQ(ops.role, auth::Role::kAdmin);

  // Another connection (as `nbo keys` beside a server) sees the same keys.
  ApiKeyStore other(db_path_);
  const auto active = other.active_keys();
  EXPECT_EQ(active.size(), 2U);
  ASSERT_TRUE(active.authenticate(scorer.token).has_value());
  EXPECT_EQ(active.authenticate(scorer.token)->role, auth::Role::kScorer);

  const auto revoked = other.revoke(scorer.key.id);
  ASSERT_TRUE(revoked.has_value());
  EXPECT_FALSE(revoked->revoked_at.empty());
  EXPECT_FALSE(store.active_keys().authenticate(scorer.token).has_value());
  EXPECT_TRUE(store.active_keys().authenticate(admin.token).has_value());

  // Revoking again keeps the first revocation time; the key stays listed.
  const auto again = store.revoke(scorer.key.id);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->revoked_at, revoked->revoked_at);
  EXPECT_EQ(store.list().size(), 2U);
  EXPECT_FALSE(store.revoke("0000000000000000").has_value());
}

TEST_F(ApiKeyStoreTest, TheTokenIsNowhereInTheDatabaseFiles) {
  std::string token;
  std::string id;
  {
    ApiKeyStore store(db_path_);
    const auto made = store.add("crm", auth::Role::kWriter);
    token = made.token;
    id = made.key.id;
  }
  const std::string secret = token.substr(token.rfind('_') + 1);
  std::string bytes = file_bytes(db_path_);
  for (const char* suffix : {"-wal", "-shm"}) {
    const auto file = std::filesystem::path(db_path_.string() + suffix);
    if (std::filesystem::exists(file)) bytes += file_bytes(file);
  }
  ASSERT_NE(bytes.find(id), std::string::npos) << "the id is stored (it is public)";
  EXPECT_EQ(bytes.find(secret), std::string::npos) << "the key's secret is stored";
  EXPECT_EQ(bytes.find(secret.substr(0, 16)), std::string::npos);
}

TEST_F(ApiKeyStoreTest, BadNamesAreRefusedAndNothingIsStored) {
  ApiKeyStore store(db_path_);
  EXPECT_THROW(store.add("", auth::Role::kScorer), std::invalid_argument);
  EXPECT_THROW(store.add(std::string(101, 'n'), auth::Role::kScorer), std::invalid_argument);
  EXPECT_TRUE(store.list().empty());
}

TEST_F(ApiKeyStoreTest, TheTableRefusesAnUnknownRole) {
  auto database = Database::open(db_path_);
  EXPECT_THROW(database.execute("INSERT INTO api_keys(id, name, role, key_sha256, created_at) "
                                "VALUES ('0123456789abcdef', 'x', 'root', '" +
                                std::string(64, 'a') + "', '2026-01-01T00:00:00.000Z')"),
               StoreError);
}

}  // namespace
}  // namespace nbo::store
