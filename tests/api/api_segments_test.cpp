// POST /segment, GET /segments, GET /campaigns/{segment_id} and the segment in /predict, over
// real HTTP against the committed models (models/churn.json + models/segments.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "api/api_harness.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/segments/segment_model.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::api::testing {
namespace {

// The served answer, computed here from the published models, to compare the HTTP one with.
struct Expected {
  double probability = 0.0;
  std::string segment;
  std::optional<double> value_at_risk;
};

Expected expected_for(ApiHarness& harness, const Json& features) {
  const auto set = harness.models().current();
  const features::RawCustomer customer = features::customer_from_json(features);
  const double probability = set->churn->predict(customer, 0).probability;
  const auto assignment = set->segments->assign(probability, customer);
  return {probability, assignment.segment->id, assignment.value_at_risk};
}

Json with(Json features, const std::string& field, const Json& value) {
  if (value.is_null()) {
    features.erase(field);
  } else {
    features[field] = value;
  }
  return features;
}

TEST(ApiSegment, OneCustomerGetsItsSegmentValueAtRiskAndActions) {
  ApiHarness harness;
  const Json features = fixture_customer("215349")["features"];
  const auto response =
      harness.post_json("/segment", {{"customer_id", "a"}, {"features", features}});
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  const Expected expected = expected_for(harness, features);
  EXPECT_EQ(body["customer_id"], "a");
  EXPECT_DOUBLE_EQ(body["probability"].get<double>(), expected.probability);
  EXPECT_DOUBLE_EQ(body["profit"].get<double>(), features["profit"].get<double>());
  ASSERT_TRUE(expected.value_at_risk.has_value());
  EXPECT_DOUBLE_EQ(body["value_at_risk"].get<double>(), *expected.value_at_risk);
  EXPECT_EQ(body["segment"]["id"], expected.segment);
  const auto* segment = harness.models().current()->segments->find_segment(expected.segment);
  ASSERT_NE(segment, nullptr);
  EXPECT_EQ(body["segment"]["name"], segment->name);
  ASSERT_EQ(body["segment"]["actions"].size(), segment->actions.size());
  EXPECT_EQ(body["segment"]["actions"][0]["id"], segment->actions[0].action);
  EXPECT_FALSE(body["segment"]["actions"][0]["title"].get<std::string>().empty());
  EXPECT_EQ(body["model"]["segments_version"],
            harness.models().current()->segments->metadata().version);
  // One scored customer, one request log row with the route.
  auto db = harness.inspect();
  auto row = db.prepare("SELECT route, customer_id FROM request_log");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.column_text(0), "/segment");
  EXPECT_EQ(row.column_text(1), "a");
}

TEST(ApiSegment, ACustomerWithoutProfitGetsNullsAndASegmentDecidedWithoutIt) {
  ApiHarness harness;
  const Json features = with(fixture_customer("215349")["features"], "profit", nullptr);
  const auto response = harness.post_json("/segment", {{"features", features}});
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  EXPECT_TRUE(body["profit"].is_null());
  EXPECT_TRUE(body["value_at_risk"].is_null());
  const Expected expected = expected_for(harness, features);
  EXPECT_EQ(body["segment"]["id"], expected.segment);
  const double threshold = harness.models().current()->segments->probability_threshold().value;
  EXPECT_EQ(body["segment"]["id"],
            expected.probability >= threshold ? "at_risk_profit_unknown" : "stable");
}

TEST(ApiSegment, BatchMixesFeaturesStoredIdsAndPerItemErrors) {
  ApiHarness harness;
  const Json stored = fixture_customer("215350")["features"];
  ASSERT_EQ(harness.put_json("/customers/s-1", {{"features", stored}}).status, 200U);
  const Json features = fixture_customer("215349")["features"];
  const Json batch = {{"customers",
                       {{{"customer_id", "f-1"}, {"features", features}},
                        {{"customer_id", "s-1"}},
                        {{"customer_id", "missing"}},
                        {{"features", with(features, "promo_share", 7)}}}}};
  const auto response = harness.post_json("/segment", batch);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  EXPECT_EQ(body["scored"], 2);
  EXPECT_EQ(body["failed"], 2);
  const Json& results = body["results"];
  ASSERT_EQ(results.size(), 4U);
  EXPECT_EQ(results[0]["segment"]["id"], expected_for(harness, features).segment);
  EXPECT_EQ(results[1]["segment"]["id"],
            expected_for(harness, features::customer_to_json(features::customer_from_json(stored)))
                .segment);
  EXPECT_EQ(results[2]["error"]["code"], "customer_not_found");
  EXPECT_EQ(results[2]["error"]["field"], "customers[2].customer_id");
  EXPECT_EQ(results[3]["error"]["code"], "out_of_range");
  EXPECT_EQ(results[3]["error"]["field"], "customers[3].features.promo_share");
}

TEST(ApiSegment, BadInputIsA4xxAndWritesNothing) {
  ApiHarness harness;
  const RowCounts before = harness.rows();
  expect_error(harness.send_json("POST", "/segment", "{\"features\": "), 400, "invalid_json", "");
  expect_error(harness.post_json("/segment", {{"features", {{"promo_share", "high"}}}}), 422,
               "invalid_type", "features.promo_share");
  expect_error(harness.post_json("/segment", {{"customer", "x"}}), 422, "unknown_field",
               "customer");
  expect_error(harness.post_json("/segment", Json::array()), 422, "invalid_type", "");
  expect_error(harness.post_json("/segment", {{"customer_id", "nobody"}}), 404,
               "customer_not_found", "customer_id");
  EXPECT_EQ(harness.rows(), before);
}

TEST(ApiSegment, PredictCarriesTheSegmentAndValueAtRisk) {
  ApiHarness harness;
  const Json features = fixture_customer("215349")["features"];
  const Json body = json_body(harness.post_json("/predict", {{"features", features}}));
  const Expected expected = expected_for(harness, features);
  EXPECT_EQ(body["segment"]["id"], expected.segment);
  EXPECT_DOUBLE_EQ(body["value_at_risk"].get<double>(), *expected.value_at_risk);
  const Json without =
      json_body(harness.post_json("/predict", {{"features", with(features, "profit", nullptr)}}));
  EXPECT_TRUE(without["value_at_risk"].is_null());
  EXPECT_TRUE(without.contains("segment"));
}

// A models directory with only the churn model: /predict answers as before, the segment routes
// say the segments are not loaded.
TEST(ApiSegment, WithoutSegmentsFileTheRoutesSayWhatIsMissing) {
  const test_support::TempDir dir;
  std::filesystem::copy_file(models_dir() / "churn.json", dir.path() / "churn.json");
  ApiHarness harness(HarnessOptions{.models_directory = dir.path()});
  const Json features = fixture_customer("215349")["features"];
  const Json predicted = json_body(harness.post_json("/predict", {{"features", features}}));
  EXPECT_FALSE(predicted.contains("segment"));
  EXPECT_FALSE(predicted.contains("value_at_risk"));
  expect_error(harness.post_json("/segment", {{"features", features}}), 503, "model_not_loaded",
               "");
  expect_error(harness.get("/segments"), 503, "model_not_loaded", "");
  expect_error(harness.get("/campaigns/all"), 503, "model_not_loaded", "");
}

TEST(ApiSegment, GetSegmentsAnswersTheLoadedFile) {
  ApiHarness harness;
  const auto response = harness.get("/segments");
  ASSERT_EQ(response.status, 200U) << response.body;
  EXPECT_EQ(json_body(response), Json::parse(read_text(models_dir() / "segments.json")));
}

// Customers with chosen probabilities are not at hand, so the campaign tests store real
// customers with chosen profit and consent and check the lists against what the models say.
class ApiCampaign : public ::testing::Test {
 protected:
  void store(const std::string& id, const std::string& fixture, const Json& profit,
             const Json& allow_messages) {
    Json features = fixture_customer(fixture)["features"];
    features = with(features, "profit", profit);
    features = with(features, "allow_messages", allow_messages);
    ASSERT_EQ(harness.put_json("/customers/" + id, {{"features", features}}).status, 200U);
    expected[id] = expected_for(harness, features);
    consent[id] = allow_messages;
  }

  ApiHarness harness;
  std::map<std::string, Expected> expected;
  std::map<std::string, Json> consent;
};

TEST_F(ApiCampaign, AllSegmentsByValueAtRiskWithConsentApart) {
  store("p1", "215349", 6.0, true);
  store("p2", "215349", 2.0, true);
  store("p3", "215350", 5.0, true);
  store("n1", "215349", 7.0, false);
  store("n2", "215350", 3.0, false);
  store("z1", "215349", nullptr, true);  // no profit: last
  const auto response = harness.get("/campaigns/all?limit=10");
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  EXPECT_TRUE(body["segment"].is_null());
  EXPECT_EQ(body["limit"], 10);
  const auto ids = [](const Json& list) {
    std::vector<std::string> out;
    for (const auto& entry : list["customers"]) out.push_back(entry["customer_id"]);
    return out;
  };
  // Contactable: by value at risk, highest first, the customer without profit last.
  std::vector<std::string> contactable{"p1", "p2", "p3"};
  std::sort(contactable.begin(), contactable.end(), [&](const auto& a, const auto& b) {
    return *expected[a].value_at_risk > *expected[b].value_at_risk;
  });
  contactable.push_back("z1");
  EXPECT_EQ(ids(body["contactable"]), contactable);
  EXPECT_EQ(body["contactable"]["total"], 4);
  std::vector<std::string> refused{"n1", "n2"};
  std::sort(refused.begin(), refused.end(), [&](const auto& a, const auto& b) {
    return *expected[a].value_at_risk > *expected[b].value_at_risk;
  });
  EXPECT_EQ(ids(body["not_contactable"]), refused);
  EXPECT_EQ(body["not_contactable"]["total"], 2);
  for (const auto& list : {body["contactable"], body["not_contactable"]}) {
    for (const auto& entry : list["customers"]) {
      const Expected& e = expected[entry["customer_id"].get<std::string>()];
      EXPECT_EQ(entry["segment_id"], e.segment);
      EXPECT_DOUBLE_EQ(entry["probability"].get<double>(), e.probability);
      EXPECT_EQ(entry["allow_messages"], consent[entry["customer_id"].get<std::string>()]);
      if (e.value_at_risk) {
        EXPECT_DOUBLE_EQ(entry["value_at_risk"].get<double>(), *e.value_at_risk);
      } else {
        EXPECT_TRUE(entry["value_at_risk"].is_null());
        EXPECT_TRUE(entry["profit"].is_null());
      }
    }
  }
  // Paging: limit and offset apply to each list.
  const Json page = json_body(harness.get("/campaigns/all?limit=2&offset=1"));
  EXPECT_EQ(ids(page["contactable"]), (std::vector<std::string>{contactable[1], contactable[2]}));
  EXPECT_EQ(ids(page["not_contactable"]), (std::vector<std::string>{refused[1]}));
  EXPECT_EQ(page["contactable"]["total"], 4);
}

TEST_F(ApiCampaign, OneSegmentListsOnlyItsCustomers) {
  store("a", "215349", 6.0, true);
  store("b", "215350", 6.0, true);
  store("c", "215349", 1.0, true);
  for (const auto& [id, e] : expected) {
    const Json body = json_body(harness.get("/campaigns/" + e.segment));
    EXPECT_EQ(body["segment"]["id"], e.segment);
    std::size_t members = 0;
    for (const auto& [other, oe] : expected) members += oe.segment == e.segment ? 1 : 0;
    EXPECT_EQ(body["contactable"]["total"], members) << e.segment;
    for (const auto& entry : body["contactable"]["customers"]) {
      EXPECT_EQ(entry["segment_id"], e.segment);
    }
  }
}

TEST_F(ApiCampaign, CustomersStoredBeforeTheSegmentsAreSegmentedOnFirstUse) {
  // Written straight to the store, as by a server without segments: no segment row.
  features::RawCustomer customer =
      features::customer_from_json(fixture_customer("215349")["features"]);
  harness.customers().upsert("old-1", customer);
  auto count_rows = [&] {
    auto db = harness.inspect();
    auto statement = db.prepare("SELECT COUNT(*) FROM customer_segments");
    statement.step();
    return statement.column_int64(0);
  };
  EXPECT_EQ(count_rows(), 0);
  const Json body = json_body(harness.get("/campaigns/all"));
  ASSERT_EQ(body["contactable"]["customers"].size(), 1U) << body.dump();
  EXPECT_EQ(body["contactable"]["customers"][0]["customer_id"], "old-1");
  EXPECT_EQ(count_rows(), 1);
}

TEST_F(ApiCampaign, BadRequestsAreA4xx) {
  expect_error(harness.get("/campaigns/no_such_segment"), 404, "segment_not_found", "segment_id");
  expect_error(harness.get("/campaigns/all?limit=0"), 422, "out_of_range", "limit");
  expect_error(harness.get("/campaigns/all?limit=10001"), 422, "out_of_range", "limit");
  expect_error(harness.get("/campaigns/all?limit=ten"), 422, "invalid_value", "limit");
  expect_error(harness.get("/campaigns/all?offset=-1"), 422, "invalid_value", "offset");
  expect_error(harness.get("/campaigns/all?top=5"), 422, "unknown_field", "top");
  expect_error(harness.request("POST", "/campaigns/all"), 405, "method_not_allowed", "");
}

// The report's promise: every customer of the store export gets over HTTP the segment that
// reports/segments/segments_customers.csv lists for it as served.
TEST(ApiSegmentExport, EveryExportCustomerGetsTheSegmentTheReportLists) {
  const std::filesystem::path export_dir = std::filesystem::path(NBO_TEST_DATA_DIR) / "market";
  if (!std::filesystem::exists(export_dir / "market_file.csv")) {
    GTEST_SKIP() << "the store export is not at " << export_dir << " (../shared/data/market)";
  }
  std::map<std::string, std::string> reported;
  {
    std::ifstream csv(std::filesystem::path(NBO_SOURCE_DIR) /
                      "reports/segments/segments_customers.csv");
    ASSERT_TRUE(csv) << "reports/segments/segments_customers.csv is missing";
    std::string line;
    std::getline(csv, line);
    ASSERT_EQ(line,
              "customer_id,probability,profit,value_at_risk,declined,segment,served_probability,"
              "served_segment");
    while (std::getline(csv, line)) {
      reported[line.substr(0, line.find(','))] = line.substr(line.rfind(',') + 1);
    }
  }
  const train::MarketDataset data = train::load_market_export(export_dir);
  ASSERT_EQ(reported.size(), data.customers.size());
  ApiHarness harness(
      HarnessOptions{.limits = ServiceLimits{}, .client_timeout = std::chrono::seconds(60)});
  std::vector<std::pair<std::string, features::RawCustomer>> customers;
  for (const auto& customer : data.customers)
    customers.emplace_back(customer.customer_id, customer.customer);
  harness.customers().upsert_many(customers);
  std::size_t compared = 0;
  for (std::size_t start = 0; start < customers.size(); start += 500) {
    Json batch = {{"customers", Json::array()}};
    for (std::size_t i = start; i < std::min(customers.size(), start + 500); ++i) {
      batch["customers"].push_back({{"customer_id", customers[i].first}});
    }
    const auto response = harness.post_json("/segment", batch);
    ASSERT_EQ(response.status, 200U) << response.body.substr(0, 400);
    const Json body = json_body(response);
    ASSERT_EQ(body["scored"], batch["customers"].size()) << response.body.substr(0, 600);
    for (const auto& result : body["results"]) {
      const std::string id = result["customer_id"];
      EXPECT_EQ(result["segment"]["id"], reported[id]) << "customer " << id;
      ++compared;
    }
  }
  EXPECT_EQ(compared, data.customers.size());
}

}  // namespace
}  // namespace nbo::api::testing
