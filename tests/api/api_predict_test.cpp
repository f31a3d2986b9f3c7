// POST /predict over real HTTP: single customer, stored customer, batches.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "api/api_harness.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::api::testing {
namespace {

constexpr double kTolerance = 1e-12;

// The RawCustomer of export customer `id`: ingested from the real export when it is present
// (so the comparison does not go through the API's JSON parser), else parsed from the fixture.
features::RawCustomer raw_customer(const std::string& id) {
  const std::filesystem::path market = std::filesystem::path(NBO_TEST_DATA_DIR) / "market";
  if (std::filesystem::exists(market / "market_file.csv")) {
    static const train::MarketDataset dataset = train::load_market_export(market);
    for (const auto& labeled : dataset.customers) {
      if (labeled.customer_id == id) return labeled.customer;
    }
    ADD_FAILURE() << "customer " << id << " is not in the ingested export";
  }
  return features::customer_from_json(fixture_customer(id)["features"]);
}

models::Prediction expected_prediction(ApiHarness& harness, const std::string& id) {
  const auto model = harness.churn_model();
  if (!model) throw std::runtime_error("model not loaded");
  return model->predict(raw_customer(id), 3);
}

void expect_prediction_shape(const Json& result, const models::ChurnModel& model) {
  ASSERT_TRUE(result.is_object()) << result.dump();
  ASSERT_TRUE(result.contains("probability") && result["probability"].is_number());
  const double probability = result["probability"].get<double>();
  EXPECT_GE(probability, 0.0);
  EXPECT_LE(probability, 1.0);
  ASSERT_TRUE(result.contains("label") && result["label"].is_boolean());
  EXPECT_EQ(result["label"].get<bool>(), probability >= model.decision().threshold);
  ASSERT_TRUE(result.contains("threshold") && result["threshold"].is_number());
  EXPECT_DOUBLE_EQ(result["threshold"].get<double>(), model.decision().threshold);
  ASSERT_TRUE(result.contains("risk_band") && result["risk_band"].is_string());
  ASSERT_TRUE(result.contains("model") && result["model"].is_object());
  EXPECT_EQ(result["model"].value("name", ""), model.metadata().name);
  EXPECT_EQ(result["model"].value("version", ""), model.metadata().version);
  ASSERT_TRUE(result.contains("reasons") && result["reasons"].is_array());
  EXPECT_EQ(result["reasons"].size(), 3U);
  for (const auto& reason : result["reasons"]) {
    ASSERT_TRUE(reason.is_object()) << reason.dump();
    ASSERT_TRUE(reason.contains("feature") && reason["feature"].is_string()) << reason.dump();
    EXPECT_TRUE(features::find_field(reason["feature"].get<std::string>()).has_value())
        << reason.dump();
    EXPECT_TRUE(reason.contains("value")) << reason.dump();
    ASSERT_TRUE(reason.contains("contribution") && reason["contribution"].is_number())
        << reason.dump();
  }
}

TEST(ApiPredict, FixtureIsTheExportRow) {
  const std::filesystem::path market = std::filesystem::path(NBO_TEST_DATA_DIR) / "market";
  if (!std::filesystem::exists(market / "market_file.csv"))
    GTEST_SKIP() << "no export at " << market;
  for (const char* raw_id : {"215349", "215350"}) {
    const std::string id(raw_id);
    EXPECT_EQ(features::customer_from_json(fixture_customer(id)["features"]), raw_customer(id))
        << "fixture customer_" << id << ".json differs from the export";
  }
}

TEST(ApiPredict, SingleCustomerMatchesTheModelAndIsLogged) {
  ApiHarness harness;
  const auto model = harness.churn_model();
  ASSERT_TRUE(model);
  const Json request = fixture_customer("215349");
  const auto response = harness.post_json("/predict", request, "single-1");
  ASSERT_EQ(response.status, 200U) << response.body;
  EXPECT_EQ(response.header("X-Request-Id"), "single-1");
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  const Json body = json_body(response);
  expect_prediction_shape(body, *model);

  const models::Prediction expected = expected_prediction(harness, "215349");
  EXPECT_NEAR(body["probability"].get<double>(), expected.probability, kTolerance);
  EXPECT_EQ(body["label"].get<bool>(), expected.label);
  EXPECT_EQ(body["risk_band"].get<std::string>(), expected.risk_band->name);
  EXPECT_EQ(body.value("customer_id", ""), "215349");
  ASSERT_EQ(body["reasons"].size(), expected.reasons.size());
  const Json raw = request["features"];
  for (std::size_t i = 0; i < expected.reasons.size(); ++i) {
    const Json& reason = body["reasons"][i];
    const std::string name(features::store_field(expected.reasons[i].field).api_name);
    EXPECT_EQ(reason["feature"].get<std::string>(), name);
    EXPECT_NEAR(reason["contribution"].get<double>(), expected.reasons[i].contribution, kTolerance);
    ASSERT_TRUE(raw.contains(name));
    // The raw value as sent: a category level, a boolean or a number.
    if (raw[name].is_string() || raw[name].is_boolean()) {
      EXPECT_EQ(reason["value"], raw[name]) << name;
    } else {
      EXPECT_DOUBLE_EQ(reason["value"].get<double>(), raw[name].get<double>()) << name;
    }
  }

  // Exactly one request_log row, with what an audit needs of what was asked and answered; the
  // input only with --request-log-input.
  EXPECT_EQ(harness.rows(), (RowCounts{0, 1}));
  auto db = harness.inspect();
  auto row = db.prepare(
      "SELECT request_id, route, customer_id, model_version, probability, band, status, "
      "latency_us, received_at_ms, input IS NULL FROM request_log");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.column_text(0), "single-1");
  EXPECT_EQ(row.column_text(1), "/predict");
  EXPECT_EQ(row.column_text(2), "215349");
  EXPECT_EQ(row.column_text(3), model->metadata().version);
  EXPECT_EQ(row.column_double(4), body["probability"].get<double>());
  EXPECT_EQ(row.column_text(5), body["risk_band"].get<std::string>());
  EXPECT_EQ(row.column_int64(6), 200);
  EXPECT_GE(row.column_int64(7), 0);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(row.column_int64(8)), static_cast<double>(now_ms), 60'000.0);
  EXPECT_EQ(row.column_int64(9), 1);
}

TEST(ApiPredict, WithoutCustomerIdIsScoredAndLoggedWithNullCustomer) {
  ApiHarness harness;
  const Json request{{"features", fixture_customer("215350")["features"]}};
  const auto response = harness.post_json("/predict", request);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  EXPECT_FALSE(body.contains("customer_id"));
  EXPECT_NEAR(body["probability"].get<double>(), expected_prediction(harness, "215350").probability,
              kTolerance);
  // A request without X-Request-Id gets a generated one (32 hex chars), echoed and logged.
  const std::string id = response.header("X-Request-Id");
  EXPECT_EQ(id.size(), 32U);
  auto db = harness.inspect();
  auto row = db.prepare("SELECT request_id, customer_id IS NULL FROM request_log");
  ASSERT_TRUE(row.step());
  EXPECT_EQ(row.column_text(0), id);
  EXPECT_EQ(row.column_int64(1), 1);
}

// ?reasons=N asks for N reasons (0 skips the explanation, the costliest part of a kernel
// neighbours prediction); the probability and the reasons that are answered do not change.
TEST(ApiPredict, ReasonsQueryAsksForThatManyReasons) {
  ApiHarness harness;
  const auto model = harness.churn_model();
  ASSERT_TRUE(model);
  const Json request = fixture_customer("215349");
  const Json by_default = json_body(harness.post_json("/predict", request));
  ASSERT_EQ(by_default["reasons"].size(), 3U) << by_default.dump();
  const std::size_t every_field = model->predict(raw_customer("215349"), 100).reasons.size();
  ASSERT_GT(every_field, 5U);

  for (const std::size_t asked :
       {std::size_t{0}, std::size_t{1}, std::size_t{5}, features::kFieldCount}) {
    SCOPED_TRACE(asked);
    const auto response = harness.post_json("/predict?reasons=" + std::to_string(asked), request);
    ASSERT_EQ(response.status, 200U) << response.body;
    const Json body = json_body(response);
    EXPECT_EQ(body["probability"], by_default["probability"]);
    EXPECT_EQ(body["risk_band"], by_default["risk_band"]);
    ASSERT_TRUE(body["reasons"].is_array()) << body.dump();
    ASSERT_EQ(body["reasons"].size(), std::min(asked, every_field));
    for (std::size_t i = 0; i < std::min<std::size_t>(asked, 3); ++i) {
      EXPECT_EQ(body["reasons"][i], by_default["reasons"][i]) << i;
    }
  }
  EXPECT_EQ(harness.rows(), (RowCounts{0, 5}));
}

TEST(ApiPredict, ReasonsQueryAppliesToEveryCustomerOfABatch) {
  ApiHarness harness;
  const Json batch{
      {"customers", Json::array({fixture_customer("215349"), fixture_customer("215350")})}};
  const Json by_default = json_body(harness.post_json("/predict", batch));
  const auto response = harness.post_json("/predict?reasons=0", batch);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  ASSERT_EQ(body["results"].size(), 2U) << body.dump();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(body["results"][i]["reasons"], Json::array()) << i;
    EXPECT_EQ(body["results"][i]["probability"], by_default["results"][i]["probability"]) << i;
  }
  EXPECT_EQ(harness.rows(), (RowCounts{0, 4}));
}

TEST(ApiPredict, BadQueryParametersAre422AndWriteNothing) {
  ApiHarness harness;
  const Json request = fixture_customer("215349");
  const std::string too_many = std::to_string(features::kFieldCount + 1);
  expect_error(harness.post_json("/predict?reasons=" + too_many, request), 422, "out_of_range",
               "reasons");
  expect_error(harness.post_json("/predict?reasons=three", request), 422, "invalid_value",
               "reasons");
  expect_error(harness.post_json("/predict?reasons=-1", request), 422, "invalid_value", "reasons");
  expect_error(harness.post_json("/predict?reasons=", request), 422, "invalid_value", "reasons");
  const auto misspelt = harness.post_json("/predict?reason=0", request);
  expect_error(misspelt, 422, "unknown_field", "reason");
  EXPECT_NE(misspelt.body.find("known: reasons"), std::string::npos) << misspelt.body;
  // /segment answers no reasons, so it takes no query parameter.
  const auto on_segment = harness.post_json("/segment?reasons=0", request);
  expect_error(on_segment, 422, "unknown_field", "reasons");
  EXPECT_NE(on_segment.body.find("takes none"), std::string::npos) << on_segment.body;
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiPredict, StoredCustomerGivesTheSameProbabilityAsItsFeatures) {
  HarnessOptions options;
  options.limits.log_request_input = true;  // --request-log-input
  ApiHarness harness(options);
  const Json customer = fixture_customer("215349");
  ASSERT_EQ(harness.put_json("/customers/215349", {{"features", customer["features"]}}).status,
            200U);
  const auto direct = harness.post_json("/predict", customer, "direct");
  const auto stored = harness.post_json("/predict", {{"customer_id", "215349"}}, "stored");
  ASSERT_EQ(direct.status, 200U) << direct.body;
  ASSERT_EQ(stored.status, 200U) << stored.body;
  const Json direct_body = json_body(direct);
  const Json stored_body = json_body(stored);
  EXPECT_NEAR(stored_body["probability"].get<double>(), direct_body["probability"].get<double>(),
              kTolerance);
  EXPECT_NEAR(stored_body["probability"].get<double>(),
              expected_prediction(harness, "215349").probability, kTolerance);
  EXPECT_EQ(stored_body["reasons"], direct_body["reasons"]);
  EXPECT_EQ(stored_body.value("customer_id", ""), "215349");

  EXPECT_EQ(harness.rows(), (RowCounts{1, 2}));
  auto db = harness.inspect();
  auto row = db.prepare("SELECT input FROM request_log WHERE request_id = 'stored'");
  ASSERT_TRUE(row.step());
  const Json logged = Json::parse(row.column_text(0));
  EXPECT_EQ(logged.value("features_source", ""), "store");
  EXPECT_TRUE(logged.contains("features"));
}

TEST(ApiPredict, UnknownStoredCustomerIs404AndWritesNothing) {
  ApiHarness harness;
  const auto response = harness.post_json("/predict", {{"customer_id", "nobody"}}, "ghost-1");
  expect_error(response, 404, "customer_not_found", "customer_id", "ghost-1");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

// ---- batches ---------------------------------------------------------------------------------

TEST(ApiPredictBatch, KeepsOrderAndReportsPerItemErrors) {
  HarnessOptions options;
  options.limits.max_batch = 5;
  ApiHarness harness(options);
  const auto model = harness.churn_model();
  ASSERT_TRUE(model);
  Json invalid = fixture_customer("215350");
  invalid["customer_id"] = "bad-promo";
  invalid["features"]["promo_share"] = 1.5;
  const Json batch{
      {"customers", Json::array({fixture_customer("215349"), invalid,
                                 Json{{"customer_id", "ghost"}}, fixture_customer("215350")})}};
  const auto response = harness.post_json("/predict", batch, "batch-1");
  ASSERT_EQ(response.status, 200U) << response.body;
  EXPECT_EQ(response.header("X-Request-Id"), "batch-1");
  const Json body = json_body(response);
  EXPECT_EQ(body.value("request_id", ""), "batch-1");
  EXPECT_EQ(body.value("scored", -1), 2);
  EXPECT_EQ(body.value("failed", -1), 2);
  EXPECT_EQ(body["model"].value("name", ""), model->metadata().name);
  EXPECT_EQ(body["model"].value("version", ""), model->metadata().version);
  ASSERT_TRUE(body["results"].is_array());
  ASSERT_EQ(body["results"].size(), 4U);
  const Json& results = body["results"];

  expect_prediction_shape(results[0], *model);
  EXPECT_EQ(results[0].value("customer_id", ""), "215349");
  EXPECT_NEAR(results[0]["probability"].get<double>(),
              expected_prediction(harness, "215349").probability, kTolerance);

  EXPECT_EQ(results[1].value("status", 0), 422);
  EXPECT_EQ(results[1]["error"].value("code", ""), "out_of_range");
  EXPECT_EQ(results[1]["error"].value("field", ""), "customers[1].features.promo_share");
  EXPECT_FALSE(results[1]["error"].value("message", "").empty());
  EXPECT_FALSE(results[1].contains("probability"));

  EXPECT_EQ(results[2].value("customer_id", ""), "ghost");
  EXPECT_EQ(results[2].value("status", 0), 404);
  EXPECT_EQ(results[2]["error"].value("code", ""), "customer_not_found");
  EXPECT_FALSE(results[2].contains("probability"));

  expect_prediction_shape(results[3], *model);
  EXPECT_EQ(results[3].value("customer_id", ""), "215350");
  EXPECT_NEAR(results[3]["probability"].get<double>(),
              expected_prediction(harness, "215350").probability, kTolerance);

  // Only the two scored customers are logged, under the batch's request id.
  EXPECT_EQ(harness.rows(), (RowCounts{0, 2}));
  auto db = harness.inspect();
  auto logged =
      db.prepare("SELECT customer_id FROM request_log WHERE request_id = 'batch-1' ORDER BY id");
  std::vector<std::string> ids;
  while (logged.step()) ids.push_back(logged.column_text(0));
  EXPECT_EQ(ids, (std::vector<std::string>{"215349", "215350"}));
}

// Every per-item error field is a JSON path into the request ("customers[i]...."), like the
// validation errors; the 404 of an unknown stored customer must name its item too.
TEST(ApiPredictBatch, UnknownStoredCustomerErrorNamesItsItemPath) {
  ApiHarness harness;
  const Json batch{
      {"customers", Json::array({fixture_customer("215349"), Json{{"customer_id", "ghost"}}})}};
  const auto response = harness.post_json("/predict", batch);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  ASSERT_EQ(body["results"].size(), 2U);
  EXPECT_EQ(body["results"][1]["error"].value("field", ""), "customers[1].customer_id");
}

// An invalid customer_id in a batch fails its item only, named by its path in both the field and
// the message, for items past the first ten too.
TEST(ApiPredictBatch, InvalidCustomerIdsNameTheirItemPath) {
  ApiHarness harness;
  Json customers = Json::array();
  for (int i = 0; i < 12; ++i) customers.push_back(fixture_customer("215349"));
  customers[3]["customer_id"] = "has space";
  customers[11]["customer_id"] = std::string(129, 'x');
  const auto response = harness.post_json("/predict", Json{{"customers", customers}});
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  ASSERT_EQ(body["results"].size(), 12U);
  const Json& spaced = body["results"][3]["error"];
  EXPECT_EQ(spaced.value("field", ""), "customers[3].customer_id");
  EXPECT_EQ(spaced.value("message", ""),
            "'customers[3].customer_id' must not contain spaces or control characters");
  const Json& long_id = body["results"][11]["error"];
  EXPECT_EQ(long_id.value("field", ""), "customers[11].customer_id");
  EXPECT_EQ(long_id.value("message", ""),
            "'customers[11].customer_id' must be 1 to 128 characters");
  EXPECT_TRUE(body["results"][10].contains("probability")) << body["results"][10];
}

// A failed item carries its customer_id (openapi.yaml: PredictBatchResponse), whatever failed,
// so callers can match errors to customers.
TEST(ApiPredictBatch, FailedItemEchoesItsCustomerId) {
  ApiHarness harness;
  Json invalid = fixture_customer("215350");
  invalid["customer_id"] = "bad-promo";
  invalid["features"]["promo_share"] = 1.5;
  const Json batch{{"customers", Json::array({fixture_customer("215349"), invalid})}};
  const auto response = harness.post_json("/predict", batch);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  ASSERT_EQ(body["results"].size(), 2U);
  EXPECT_EQ(body["results"][1].value("status", 0), 422);
  EXPECT_EQ(body["results"][1].value("customer_id", ""), "bad-promo") << body["results"][1].dump();
}

// A batch item that is not an object: the field is the item's path, without a trailing dot.
TEST(ApiPredictBatch, NonObjectItemErrorNamesTheItem) {
  ApiHarness harness;
  const Json batch{{"customers", Json::array({fixture_customer("215349"), 42})}};
  const auto response = harness.post_json("/predict", batch);
  ASSERT_EQ(response.status, 200U) << response.body;
  const Json body = json_body(response);
  ASSERT_EQ(body["results"].size(), 2U);
  EXPECT_EQ(body["results"][1].value("status", 0), 422);
  EXPECT_EQ(body["results"][1]["error"].value("code", ""), "invalid_type");
  EXPECT_EQ(body["results"][1]["error"].value("field", ""), "customers[1]");
  EXPECT_EQ(body.value("scored", -1), 1);
  EXPECT_EQ(body.value("failed", -1), 1);
}

TEST(ApiPredictBatch, AtMaxBatchIsAccepted) {
  HarnessOptions options;
  options.limits.max_batch = 5;
  ApiHarness harness(options);
  Json customers = Json::array();
  for (int i = 0; i < 5; ++i)
    customers.push_back(fixture_customer(i % 2 == 0 ? "215349" : "215350"));
  const auto response = harness.post_json("/predict", {{"customers", customers}});
  ASSERT_EQ(response.status, 200U) << response.body;
  EXPECT_EQ(json_body(response).value("scored", -1), 5);
  EXPECT_EQ(harness.rows(), (RowCounts{0, 5}));
}

TEST(ApiPredictBatch, AboveMaxBatchIs413AndWritesNothing) {
  HarnessOptions options;
  options.limits.max_batch = 5;
  ApiHarness harness(options);
  Json customers = Json::array();
  for (int i = 0; i < 6; ++i) customers.push_back(fixture_customer("215349"));
  const auto response = harness.post_json("/predict", {{"customers", customers}}, "too-many");
  expect_error(response, 413, "batch_too_large", "customers", "too-many");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiPredictBatch, EmptyBatchIs422AndWritesNothing) {
  ApiHarness harness;
  const auto response =
      harness.post_json("/predict", {{"customers", Json::array()}}, "empty-batch");
  expect_error(response, 422, "invalid_value", "customers", "empty-batch");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiPredictBatch, CustomersNotAnArrayIs422) {
  ApiHarness harness;
  const auto response = harness.post_json("/predict", {{"customers", {{"a", 1}}}}, "not-array");
  expect_error(response, 422, "invalid_type", "customers", "not-array");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiPredictBatch, BatchTogetherWithASingleCustomerIs422) {
  ApiHarness harness;
  Json body = fixture_customer("215349");
  body["customers"] = Json::array({fixture_customer("215350")});
  const auto response = harness.post_json("/predict", body, "both");
  expect_error(response, 422, "invalid_value", "customers", "both");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

// An unknown top-level member next to "customers" is an error like everywhere else, not ignored.
TEST(ApiPredictBatch, UnknownTopLevelFieldIs422AndWritesNothing) {
  ApiHarness harness;
  const Json body{{"customers", Json::array({fixture_customer("215349")})}, {"dry_run", true}};
  const auto response = harness.post_json("/predict", body, "batch-extra");
  expect_error(response, 422, "unknown_field", "dry_run", "batch-extra");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

}  // namespace
}  // namespace nbo::api::testing

namespace nbo::api::testing {
namespace {

// The request log's queue bounded to one row and not drained: the first answer fills it.
HarnessOptions full_request_log(store::RequestLogOverflow overflow) {
  HarnessOptions options;
  options.request_log = {.capacity_bytes = 1, .overflow = overflow, .autostart = false};
  return options;
}

TEST(ApiPredictRequestLog, AFullLogAnswers503AndNothingAnsweredGoesUnlogged) {
  ApiHarness harness(full_request_log(store::RequestLogOverflow::kReject));
  const Json customer = fixture_customer("215349");
  ASSERT_EQ(harness.post_json("/predict", customer, "fits").status, 200U);
  for (const auto& [request, id] :
       {std::pair{customer, "single-refused"},
        std::pair{Json{{"customers", Json::array({customer, fixture_customer("215350")})}},
                  "batch-refused"}}) {
    const auto refused = harness.post_json("/predict", request, id);
    EXPECT_EQ(refused.status, 503U) << refused.body;
    EXPECT_EQ(refused.header("Retry-After"), "1");
    EXPECT_EQ(json_body(refused)["error"]["code"], "request_log_full");
  }
  const std::string metrics = harness.get("/metrics").body;
  EXPECT_NE(metrics.find("nbo_request_log_rejected_total 0\n"), std::string::npos) << metrics;
  // Refused before scoring: nothing was counted as scored or offered to the log.
  EXPECT_EQ(harness.request_log().rejected_total(), 0U);
  harness.request_log().start();
  EXPECT_EQ(harness.rows(), (RowCounts{0, 1}));
  // Drained: answered and logged again.
  ASSERT_EQ(harness.post_json("/predict", customer, "after").status, 200U);
  EXPECT_EQ(harness.rows(), (RowCounts{0, 2}));
}

TEST(ApiPredictRequestLog, TheDropPolicyAnswersAndCountsTheDroppedRows) {
  ApiHarness harness(full_request_log(store::RequestLogOverflow::kDrop));
  const Json customer = fixture_customer("215349");
  ASSERT_EQ(harness.post_json("/predict", customer, "fits").status, 200U);
  const auto answered = harness.post_json("/predict", customer, "dropped");
  EXPECT_EQ(answered.status, 200U) << answered.body;
  EXPECT_EQ(harness.request_log().dropped_total(), 1U);
  const std::string metrics = harness.get("/metrics").body;
  EXPECT_NE(metrics.find("nbo_request_log_dropped_total 1\n"), std::string::npos) << metrics;
  harness.request_log().start();
  EXPECT_EQ(harness.rows(), (RowCounts{0, 1}));
}

}  // namespace
}  // namespace nbo::api::testing

namespace nbo::api::testing {
namespace {

// The body limit through the whole service, to the byte: a /predict body of exactly
// max_body_bytes (JSON padded with trailing whitespace) is scored; one byte more is 413
// payload_too_large and nothing is logged.
TEST(ApiPredictLimits, ABodyAtTheLimitIsScoredAndOneByteOverIs413) {
  HarnessOptions options;
  options.max_body_bytes = 4096;
  ApiHarness harness(options);
  const std::string json = fixture_customer("215349").dump();
  ASSERT_LT(json.size(), options.max_body_bytes);
  const std::string at_limit = json + std::string(options.max_body_bytes - json.size(), ' ');
  const auto scored = harness.send_json("POST", "/predict", at_limit);
  EXPECT_EQ(scored.status, 200U) << scored.body;
  const auto refused = harness.send_json("POST", "/predict", at_limit + " ");
  EXPECT_EQ(refused.status, 413U) << refused.body;
  EXPECT_EQ(json_body(refused)["error"]["code"], "payload_too_large");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 1}));
}

}  // namespace
}  // namespace nbo::api::testing
