// PUT/GET /customers/{id} over real HTTP.

#include <gtest/gtest.h>

#include <string>

#include "api/api_harness.hpp"
#include "nbo/features/customer.hpp"

namespace nbo::api::testing {
namespace {

std::string stored_features_text(ApiHarness& harness, const std::string& id) {
  auto db = harness.inspect();
  auto row = db.prepare("SELECT features FROM customers WHERE customer_id = ?");
  row.bind(1, id);
  if (!row.step()) return "";
  return row.column_text(0);
}

TEST(ApiCustomers, PutThenGetRoundTripsNormalizedFeatures) {
  ApiHarness harness;
  const Json raw = fixture_customer("215350")["features"];
  ASSERT_EQ(raw["service_type"], "стандартт");
  const Json normalized = features::customer_to_json(features::customer_from_json(raw));
  ASSERT_EQ(normalized["service_type"], "стандарт");

  const auto put = harness.put_json("/customers/215350", {{"features", raw}}, "put-1");
  ASSERT_EQ(put.status, 200U) << put.body;
  EXPECT_EQ(put.header("X-Request-Id"), "put-1");
  const Json put_body = json_body(put);
  EXPECT_EQ(put_body.value("customer_id", ""), "215350");
  EXPECT_EQ(put_body["features"], normalized);
  EXPECT_EQ(put_body["features"]["service_type"], "стандарт");
  ASSERT_TRUE(put_body.contains("updated_at") && put_body["updated_at"].is_string());

  const auto get = harness.get("/customers/215350", "get-1");
  ASSERT_EQ(get.status, 200U) << get.body;
  EXPECT_EQ(get.header("X-Request-Id"), "get-1");
  const Json get_body = json_body(get);
  EXPECT_EQ(get_body.value("customer_id", ""), "215350");
  EXPECT_EQ(get_body["features"], normalized);
  EXPECT_EQ(get_body["updated_at"], put_body["updated_at"]);

  // Stored normalized; PUT/GET never touch the request log.
  EXPECT_EQ(Json::parse(stored_features_text(harness, "215350")), normalized);
  EXPECT_EQ(harness.rows(), (RowCounts{1, 0}));
}

TEST(ApiCustomers, PutOverwritesTheStoredFeatures) {
  ApiHarness harness;
  Json features = fixture_customer("215349")["features"];
  const auto first = harness.put_json("/customers/c-1", {{"features", features}});
  ASSERT_EQ(first.status, 200U) << first.body;
  features["tenure_days"] = 1000;
  features["popular_category"] = "Кухонная посуда";
  const auto second = harness.put_json("/customers/c-1", {{"features", features}});
  ASSERT_EQ(second.status, 200U) << second.body;

  const auto get = harness.get("/customers/c-1");
  ASSERT_EQ(get.status, 200U) << get.body;
  const Json body = json_body(get);
  EXPECT_EQ(body["features"]["tenure_days"], 1000);
  EXPECT_EQ(body["features"]["popular_category"], "Кухонная посуда");
  EXPECT_GE(body["updated_at"].get<std::string>(),
            json_body(first)["updated_at"].get<std::string>());
  EXPECT_EQ(harness.rows(), (RowCounts{1, 0}));
}

TEST(ApiCustomers, PartialFeaturesAreStoredButScoringThemNamesTheMissingField) {
  ApiHarness harness;
  Json features = fixture_customer("215349")["features"];
  features.erase("tenure_days");
  ASSERT_EQ(harness.put_json("/customers/partial", {{"features", features}}).status, 200U);
  const auto response = harness.post_json("/predict", {{"customer_id", "partial"}}, "partial-1");
  expect_error(response, 422, "missing_field", "features.tenure_days", "partial-1");
  EXPECT_EQ(harness.rows(), (RowCounts{1, 0}));
}

TEST(ApiCustomers, GetUnknownIs404) {
  ApiHarness harness;
  const auto response = harness.get("/customers/nobody", "get-404");
  expect_error(response, 404, "customer_not_found", "customer_id", "get-404");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiCustomers, PutWithBadFeaturesIs422AndWritesNoRow) {
  ApiHarness harness;
  Json features = fixture_customer("215349")["features"];
  features["promo_share"] = 1.5;
  const auto response = harness.put_json("/customers/c-2", {{"features", features}}, "put-bad");
  expect_error(response, 422, "out_of_range", "features.promo_share", "put-bad");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
  expect_error(harness.get("/customers/c-2"), 404, "customer_not_found", "customer_id");
}

TEST(ApiCustomers, RejectedOverwriteLeavesTheStoredRowUntouched) {
  ApiHarness harness;
  Json features = fixture_customer("215349")["features"];
  ASSERT_EQ(harness.put_json("/customers/c-3", {{"features", features}}).status, 200U);
  const std::string before = stored_features_text(harness, "c-3");
  features["popular_category"] = "Книги";
  expect_error(harness.put_json("/customers/c-3", {{"features", features}}), 422,
               "unknown_category", "features.popular_category");
  EXPECT_EQ(stored_features_text(harness, "c-3"), before);
  EXPECT_EQ(harness.rows(), (RowCounts{1, 0}));
}

TEST(ApiCustomers, PutBodyErrors) {
  ApiHarness harness;
  const Json features = fixture_customer("215349")["features"];
  expect_error(harness.put_json("/customers/c-4", {{"features", features}, {"note", "x"}}, "put-u"),
               422, "unknown_field", "note", "put-u");
  expect_error(harness.put_json("/customers/c-4", Json::object(), "put-m"), 422, "missing_field",
               "features", "put-m");
  expect_error(harness.put_json("/customers/c-4", {{"features", "nope"}}, "put-t"), 422,
               "invalid_type", "features", "put-t");
  expect_error(harness.put_json("/customers/c-4", Json::array({features}), "put-a"), 422,
               "invalid_type", "", "put-a");
  const std::string long_id(129, 'x');
  expect_error(harness.put_json("/customers/" + long_id, {{"features", features}}, "put-id"), 422,
               "invalid_value", "customer_id", "put-id");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

// An integer field far beyond what an integer can hold must be rejected or stored exactly;
// storing a different number than the one accepted is silent corruption.
TEST(ApiCustomers, HugeIntegerIsRejectedOrRoundTripsExactly) {
  ApiHarness harness;
  Json features = fixture_customer("215349")["features"];
  features["tenure_days"] = 1e300;
  const auto put = harness.put_json("/customers/huge", {{"features", features}}, "put-huge");
  if (put.status == 422) {
    expect_error(put, 422, "out_of_range", "features.tenure_days", "put-huge");
    EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
    return;
  }
  ASSERT_EQ(put.status, 200U) << put.body;
  const auto get = harness.get("/customers/huge");
  ASSERT_EQ(get.status, 200U) << get.body;
  const Json stored = json_body(get)["features"]["tenure_days"];
  ASSERT_TRUE(stored.is_number()) << stored.dump();
  EXPECT_EQ(stored.get<double>(), 1e300) << "stored " << stored.dump();
}

}  // namespace
}  // namespace nbo::api::testing

namespace nbo::api::testing {
namespace {

// A full disk (the customer store's file capped at its size): writes answer 503
// storage_unavailable with Retry-After and write nothing; every write answered 200 before
// stays readable; reads and scoring go on.
TEST(ApiCustomersStorage, AFullDiskAnswers503AndLosesNothingAcknowledged) {
  HarnessOptions options;
  options.customer_store.max_page_count = 1;  // SQLite keeps the current size: no page to grow
  ApiHarness harness(options);
  const Json features = fixture_customer("215349")["features"];
  std::vector<std::string> acknowledged;
  HttpResponse refused;
  for (int i = 0; i < 500; ++i) {
    const std::string id = "c" + std::to_string(i);
    const auto response = harness.put_json("/customers/" + id, {{"features", features}});
    if (response.status != 200) {
      refused = response;
      break;
    }
    acknowledged.push_back(id);
  }
  ASSERT_EQ(refused.status, 503U) << "the capped file never filled up";
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(json_body(refused)["error"]["code"], "storage_unavailable");
  const std::string refused_id = "c" + std::to_string(acknowledged.size());
  EXPECT_EQ(harness.get("/customers/" + refused_id).status, 404U);
  for (const auto& id : acknowledged) EXPECT_EQ(harness.get("/customers/" + id).status, 200U);
  EXPECT_EQ(harness.post_json("/predict", fixture_customer("215350")).status, 200U);
}

}  // namespace
}  // namespace nbo::api::testing
