// customer_segments: written with the customer, read back as campaign lists (ordering, consent,
// paging, totals), and the batches that find customers without a row of the current models.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using testing::migrations_dir;
using testing::TempDir;

features::RawCustomer some_customer() {
  features::RawCustomer customer;
  customer.set_number(features::FieldId::kPromoShare, 0.3);
  return customer;
}

CustomerSegment segment(std::string segment_id, std::optional<double> value_at_risk,
                        std::optional<bool> allow_messages, std::string scored_by = "m1") {
  CustomerSegment row;
  row.scored_by = std::move(scored_by);
  row.segment_id = std::move(segment_id);
  row.probability = 0.5;
  if (value_at_risk) {
    row.profit = *value_at_risk * 2.0;
    row.value_at_risk = value_at_risk;
  }
  row.allow_messages = allow_messages;
  return row;
}

class CustomerSegmentsTest : public ::testing::Test {
 protected:
  static std::filesystem::path migrated(const std::filesystem::path& file) {
    auto db = Database::open(file);
    db.apply_migrations(migrations_dir());
    return file;
  }
  void put(const std::string& id, const CustomerSegment& row) {
    store.upsert(id, some_customer(), &row);
  }
  std::vector<std::string> ids(CampaignQuery query) const {
    std::vector<std::string> out;
    for (const auto& entry : store.campaign(query)) out.push_back(entry.customer_id);
    return out;
  }

  TempDir dir;
  CustomerStore store{migrated(dir.path() / "nbo.db")};
};

TEST_F(CustomerSegmentsTest, ListsAreByValueAtRiskThenIdWithUnknownValueLast) {
  put("b", segment("s1", 2.0, true));
  put("a", segment("s1", 2.0, true));
  put("c", segment("s1", 5.0, true));
  put("d", segment("s1", std::nullopt, true));
  put("e", segment("s2", 9.0, true));
  EXPECT_EQ(ids({.scored_by = "m1", .segment_id = "s1"}),
            (std::vector<std::string>{"c", "a", "b", "d"}));
  EXPECT_EQ(ids({.scored_by = "m1"}), (std::vector<std::string>{"e", "c", "a", "b", "d"}));
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1"}), 4U);
  EXPECT_EQ(ids({.scored_by = "m1", .segment_id = "s1", .limit = 2, .offset = 1}),
            (std::vector<std::string>{"a", "b"}));
  const auto entries = store.campaign({.scored_by = "m1", .segment_id = "s1", .limit = 4});
  EXPECT_FALSE(entries[3].value_at_risk.has_value());
  EXPECT_FALSE(entries[3].profit.has_value());
  EXPECT_DOUBLE_EQ(*entries[0].profit, 10.0);
}

TEST_F(CustomerSegmentsTest, SizesFollowEveryWrite) {
  put("a", segment("s1", 1.0, true));
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1"}), 1U);
  put("b", segment("s1", 2.0, true));
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1"}), 2U);
  put("a", segment("s2", 1.0, true));
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1"}), 1U);
  store.record_segments(
      std::vector<std::pair<std::string, CustomerSegment>>{{"a", segment("s1", 1.0, true)}});
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1"}), 2U);
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1", .contactable = false}), 0U);
  EXPECT_EQ(store.campaign_size({.scored_by = "m1"}), 2U);
  put("c", segment("s2", 1.0, false));
  put("a", segment("s1", 1.0, false));  // moves to the other list of its segment
  EXPECT_EQ(store.campaign_size({.scored_by = "m1"}), 1U);
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .contactable = false}), 2U);
  EXPECT_EQ(store.campaign_size({.scored_by = "m1", .segment_id = "s1", .contactable = false}), 1U);
  // A refused batch leaves the sizes as they were.
  std::vector<std::pair<std::string, features::RawCustomer>> bad{{"d", some_customer()},
                                                                 {"", some_customer()}};
  EXPECT_THROW(store.upsert_many(bad, std::vector<CustomerSegment>{segment("s1", 1.0, true),
                                                                   segment("s1", 1.0, true)}),
               std::invalid_argument);
  EXPECT_EQ(store.campaign_size({.scored_by = "m1"}), 1U);
}

TEST_F(CustomerSegmentsTest, OnlyConsentedCustomersAreContactable) {
  put("yes", segment("s1", 1.0, true));
  put("no", segment("s1", 3.0, false));
  put("unknown", segment("s1", 2.0, std::nullopt));
  EXPECT_EQ(ids({.scored_by = "m1", .contactable = true}), (std::vector<std::string>{"yes"}));
  EXPECT_EQ(ids({.scored_by = "m1", .contactable = false}),
            (std::vector<std::string>{"no", "unknown"}));
  const auto refused = store.campaign({.scored_by = "m1", .contactable = false});
  EXPECT_EQ(refused[0].allow_messages, std::optional<bool>(false));
  EXPECT_EQ(refused[1].allow_messages, std::nullopt);
}

TEST_F(CustomerSegmentsTest, ListsHoldOnlyRowsOfTheAskedModels) {
  put("old", segment("s1", 1.0, true, "m0"));
  put("new", segment("s1", 1.0, true, "m1"));
  EXPECT_EQ(ids({.scored_by = "m1"}), (std::vector<std::string>{"new"}));
  EXPECT_EQ(store.campaign_size({.scored_by = "m0"}), 1U);
}

TEST_F(CustomerSegmentsTest, CustomersToSegmentFindsMissingAndStaleRowsInBatches) {
  store.upsert("none-1", some_customer());
  put("stale", segment("s1", 1.0, true, "m0"));
  put("fresh", segment("s1", 1.0, true, "m1"));
  store.upsert("none-2", some_customer());
  const CustomersToSegment first = store.customers_to_segment("m1", 0, 2);
  ASSERT_EQ(first.customers.size(), 2U);
  EXPECT_EQ(first.customers[0].customer_id, "none-1");
  EXPECT_EQ(first.customers[1].customer_id, "stale");
  EXPECT_FALSE(first.done);
  const CustomersToSegment second = store.customers_to_segment("m1", first.last_rowid, 2);
  ASSERT_EQ(second.customers.size(), 1U);
  EXPECT_EQ(second.customers[0].customer_id, "none-2");
  EXPECT_TRUE(second.done);
  std::vector<std::pair<std::string, CustomerSegment>> rows;
  for (const auto& batch : {first, second}) {
    for (const auto& customer : batch.customers) {
      rows.emplace_back(customer.customer_id, segment("s1", 1.0, true, "m1"));
    }
  }
  store.record_segments(rows);
  EXPECT_TRUE(store.customers_to_segment("m1", 0, 10).customers.empty());
  EXPECT_EQ(store.campaign_size({.scored_by = "m1"}), 4U);
}

TEST_F(CustomerSegmentsTest, CompletenessIsForgottenByAWriteWithoutACurrentSegment) {
  store.mark_segments_complete("m1");
  EXPECT_TRUE(store.segments_complete("m1"));
  EXPECT_FALSE(store.segments_complete("m2"));
  put("x", segment("s1", 1.0, true, "m1"));
  EXPECT_TRUE(store.segments_complete("m1"));
  store.upsert("y", some_customer());
  EXPECT_FALSE(store.segments_complete("m1"));
  store.mark_segments_complete("m1");
  put("z", segment("s1", 1.0, true, "m0"));
  EXPECT_FALSE(store.segments_complete("m1"));
}

TEST_F(CustomerSegmentsTest, UpsertManyWritesCustomersAndRowsTogether) {
  std::vector<std::pair<std::string, features::RawCustomer>> customers{{"a", some_customer()},
                                                                       {"b", some_customer()}};
  std::vector<CustomerSegment> rows{segment("s1", 1.0, true), segment("s2", 2.0, false)};
  store.upsert_many(customers, rows);
  EXPECT_EQ(store.count(), 2U);
  EXPECT_EQ(ids({.scored_by = "m1"}), (std::vector<std::string>{"a"}));
  EXPECT_EQ(ids({.scored_by = "m1", .contactable = false}), (std::vector<std::string>{"b"}));
  std::vector<std::pair<std::string, features::RawCustomer>> bad{{"c", some_customer()},
                                                                 {"", some_customer()}};
  EXPECT_THROW(store.upsert_many(bad), std::invalid_argument);
  EXPECT_EQ(store.count(), 2U);
  EXPECT_THROW(store.upsert_many(customers, std::vector<CustomerSegment>(1)),
               std::invalid_argument);
}

}  // namespace
}  // namespace nbo::store
