#include "nbo/store/customer_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using ::testing::HasSubstr;
using testing::migrations_dir;
using testing::TempDir;

using features::FieldId;
using features::RawCustomer;

nlohmann::json sample_features_json(double promo_share) {
  return {{"service_type", "премиум"},
          {"allow_messages", true},
          {"marketing_activity_6m", 4.4},
          {"marketing_activity_current", 4},
          {"tenure_days", 819},
          {"promo_share", promo_share},
          {"popular_category", "Товары для детей"},
          {"pages_per_visit", 5}};
}

RawCustomer sample_features(double promo_share) {
  return features::customer_from_json(sample_features_json(promo_share));
}

class CustomerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = dir_ / "data/nbo.db";
    Database::open(file_).apply_migrations(migrations_dir());
  }

  TempDir dir_;
  std::filesystem::path file_;
};

TEST_F(CustomerStoreTest, UpsertFindAndOverwrite) {
  CustomerStore store(file_);
  EXPECT_EQ(store.count(), 0U);
  EXPECT_FALSE(store.find("215348").has_value());

  store.upsert("215348", sample_features(0.75));
  auto found = store.find("215348");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->customer_id, "215348");
  EXPECT_EQ(found->features, sample_features(0.75));
  EXPECT_EQ(found->features.category(FieldId::kServiceType), "премиум");
  EXPECT_EQ(found->updated_at.size(), 24U);  // 2024-05-01T12:34:56.789Z
  EXPECT_EQ(store.count(), 1U);

  const std::string first_update = found->updated_at;
  store.upsert("215348", sample_features(0.2));
  found = store.find("215348");
  ASSERT_TRUE(found.has_value());
  EXPECT_DOUBLE_EQ(found->features.number(FieldId::kPromoShare), 0.2);
  EXPECT_GE(found->updated_at, first_update);
  EXPECT_EQ(store.count(), 1U);

  store.upsert("215349", RawCustomer{});
  EXPECT_EQ(store.count(), 2U);
  EXPECT_TRUE(store.writable());
}

TEST_F(CustomerStoreTest, UpsertIsDurableForANewConnection) {
  {
    CustomerStore store(file_);
    store.upsert("c1", sample_features(0.5));
    // Visible to another connection while the first one is still open: committed.
    Database other = Database::open(file_);
    Statement stmt = other.prepare("SELECT features FROM customers WHERE customer_id = 'c1'");
    ASSERT_TRUE(stmt.step());
    // Stored as the API's features object, the text customer_to_json() would dump.
    EXPECT_EQ(nlohmann::json::parse(stmt.column_text(0)), sample_features_json(0.5));
    EXPECT_EQ(stmt.column_text(0), features::customer_to_json(sample_features(0.5)).dump());
  }
  CustomerStore reopened(file_);
  const auto found = reopened.find("c1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->features, sample_features(0.5));
}

TEST_F(CustomerStoreTest, FindManyKeepsOrderAndReportsMisses) {
  CustomerStore store(file_);
  store.upsert("a", sample_features(0.1));
  store.upsert("b", sample_features(0.2));
  store.upsert("c", sample_features(0.3));

  const std::vector<std::string> ids{"c", "missing", "a", "c", ""};
  const auto found = store.find_many(ids);
  ASSERT_EQ(found.size(), ids.size());
  ASSERT_TRUE(found[0].has_value());
  EXPECT_EQ(found[0]->customer_id, "c");
  EXPECT_DOUBLE_EQ(found[0]->features.number(FieldId::kPromoShare), 0.3);
  EXPECT_FALSE(found[1].has_value());
  ASSERT_TRUE(found[2].has_value());
  EXPECT_EQ(found[2]->customer_id, "a");
  ASSERT_TRUE(found[3].has_value());
  EXPECT_EQ(found[3]->customer_id, "c");
  EXPECT_FALSE(found[4].has_value());

  EXPECT_TRUE(store.find_many({}).empty());
}

TEST_F(CustomerStoreTest, RejectsCallerMistakes) {
  CustomerStore store(file_);
  EXPECT_THROW(store.upsert("", sample_features(0.1)), std::invalid_argument);
  EXPECT_EQ(store.count(), 0U);
}

TEST_F(CustomerStoreTest, CorruptedFeaturesAreReportedWithTheCustomer) {
  CustomerStore store(file_);
  Database::open(file_).execute(
      "INSERT INTO customers VALUES ('broken', '{not json', '2024-01-01T00:00:00.000Z'), "
      "('wrong', '{\"promo_share\": 7}', '2024-01-01T00:00:00.000Z')");
  for (const std::string id : {"broken", "wrong"}) {
    try {
      store.find(id);
      FAIL() << "expected a StoreError for " << id;
    } catch (const StoreError& e) {
      EXPECT_THAT(e.what(), HasSubstr("'" + id + "'"));
      EXPECT_THAT(e.what(), HasSubstr(file_.string()));
    }
  }
  try {
    store.find("wrong");
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("promo_share"));
  }
  // The statement was reset: the store keeps working.
  store.upsert("ok", sample_features(0.1));
  EXPECT_TRUE(store.find("ok").has_value());
}

TEST_F(CustomerStoreTest, ConcurrentUpsertsAndReads) {
  CustomerStore store(file_);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        RawCustomer customer;
        customer.set_number(FieldId::kTenureDays, i);
        store.upsert(id, customer);
        const auto found = store.find(id);
        ASSERT_TRUE(found.has_value());
        EXPECT_EQ(found->features.number(FieldId::kTenureDays), i);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store.count(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(CustomerStore, WithoutMigrationsTheConstructorExplains) {
  TempDir dir;
  try {
    CustomerStore store(dir / "empty.db");
    FAIL() << "expected a StoreError";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no such table: customers"));
    EXPECT_THAT(e.what(), HasSubstr("migrations"));
    EXPECT_THAT(e.what(), HasSubstr((dir / "empty.db").string()));
  }
}

}  // namespace
}  // namespace nbo::store
