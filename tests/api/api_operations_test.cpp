// /health, /ready, /metrics, /models over real HTTP, and openapi.yaml == Service::routes().

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "api/api_harness.hpp"
#include "nbo/api/errors.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "support/prometheus_text.hpp"

namespace nbo::api::testing {
namespace {

using nbo::test::parse_prometheus_text;
using nbo::test::PrometheusText;

TEST(ApiHealth, AliveWithoutModels) {
  HarnessOptions options;
  options.load_models = false;
  ApiHarness harness(options);
  const auto response = harness.get("/health", "health-1");
  ASSERT_EQ(response.status, 200U);
  EXPECT_EQ(response.header("X-Request-Id"), "health-1");
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  EXPECT_EQ(json_body(response), (Json{{"status", "alive"}}));
}

TEST(ApiReady, NotReadyUntilTheModelsLoadThenReady) {
  HarnessOptions options;
  options.load_models = false;
  ApiHarness harness(options);

  const auto before = harness.get("/ready", "ready-1");
  EXPECT_EQ(before.status, 503U);
  EXPECT_EQ(before.header("X-Request-Id"), "ready-1");
  EXPECT_EQ(before.header("Content-Type"), "application/json");
  const Json before_body = json_body(before);
  EXPECT_EQ(before_body.value("status", ""), "not_ready");
  ASSERT_TRUE(before_body.contains("checks")) << before.body;
  EXPECT_EQ(before_body["checks"]["models_loaded"], false);
  EXPECT_EQ(before_body["checks"]["database_writable"], true);
  // /models is an empty list meanwhile.
  const auto models_before = harness.get("/models");
  ASSERT_EQ(models_before.status, 200U);
  EXPECT_EQ(json_body(models_before)["models"], Json::array());

  harness.models().load_directory(models_dir());

  const auto after = harness.get("/ready");
  EXPECT_EQ(after.status, 200U) << after.body;
  const Json after_body = json_body(after);
  EXPECT_EQ(after_body.value("status", ""), "ready");
  EXPECT_EQ(after_body["checks"]["models_loaded"], true);
  EXPECT_EQ(after_body["checks"]["database_writable"], true);
  // The readiness probe's write is not a data row.
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

TEST(ApiModels, ListsTheChurnModelWithVersionAndFeatures) {
  ApiHarness harness;
  const auto model = harness.churn_model();
  ASSERT_TRUE(model);
  const auto response = harness.get("/models");
  ASSERT_EQ(response.status, 200U);
  const Json body = json_body(response);
  ASSERT_TRUE(body["models"].is_array());
  ASSERT_GE(body["models"].size(), 1U);
  const Json& churn = body["models"][0];
  EXPECT_EQ(churn.value("kind", ""), "churn");
  EXPECT_EQ(churn.value("name", ""), "churn");
  EXPECT_EQ(churn.value("version", ""), model->metadata().version);
  EXPECT_FALSE(churn.value("version", "").empty());
  EXPECT_DOUBLE_EQ(churn.value("threshold", -1.0), model->decision().threshold);
  ASSERT_TRUE(churn["features"].is_array());
  std::set<std::string> names;
  for (const auto& feature : churn["features"]) {
    names.insert(feature.value("name", ""));
    EXPECT_TRUE(feature.contains("required") && feature["required"].is_boolean()) << feature.dump();
  }
  // Every model input of the store (profit is not one) is a feature of the model.
  std::set<std::string> expected;
  for (const auto& field : features::store_fields()) {
    if (field.model_input) expected.insert(std::string(field.api_name));
  }
  EXPECT_EQ(names, expected);
  ASSERT_TRUE(churn["risk_bands"].is_array());
  EXPECT_FALSE(churn["risk_bands"].empty());
}

TEST(ApiModels, ListsEveryLoadedModelOfTheSet) {
  ApiHarness harness;
  const auto set = harness.models().current();
  ASSERT_TRUE(set->churn && set->segments && set->offers) << "the committed models/ has all three";
  const Json models = json_body(harness.get("/models"))["models"];
  ASSERT_EQ(models.size(), 3U) << models.dump();
  EXPECT_EQ(models[0]["kind"], "churn");
  EXPECT_EQ(models[1]["kind"], "segments");
  EXPECT_EQ(models[1]["version"], set->segments->metadata().version);
  EXPECT_EQ(models[1]["churn_model_version"], set->churn->metadata().version);
  EXPECT_EQ(models[1]["segments"], set->segments->segments().size());
  EXPECT_EQ(models[2]["kind"], "offers");
  EXPECT_EQ(models[2]["version"], set->offers->metadata().version);
}

// ---- /metrics ----------------------------------------------------------------------------------

PrometheusText scrape(ApiHarness& harness) {
  const auto response = harness.get("/metrics");
  EXPECT_EQ(response.status, 200U);
  EXPECT_EQ(response.header("Content-Type").rfind("text/plain", 0), 0U)
      << response.header("Content-Type");
  try {
    return parse_prometheus_text(response.body);
  } catch (const std::exception& error) {
    ADD_FAILURE() << "unparsable /metrics: " << error.what() << "\n" << response.body;
    return {};
  }
}

double value_or_zero(const PrometheusText& text, std::string_view name,
                     const nbo::test::PrometheusLabels& labels) {
  return text.value(name, labels).value_or(0.0);
}

TEST(ApiMetrics, CountersMoveByExactlyTheRequestsMade) {
  ApiHarness harness;
  const auto model = harness.churn_model();
  ASSERT_TRUE(model);
  const nbo::test::PrometheusLabels ok{
      {"route", "/predict"}, {"method", "POST"}, {"status", "200"}};
  const nbo::test::PrometheusLabels bad{
      {"route", "/predict"}, {"method", "POST"}, {"status", "422"}};
  const nbo::test::PrometheusLabels predict_route{{"route", "/predict"}};

  const PrometheusText before = scrape(harness);
  constexpr int kOk = 4;
  for (int i = 0; i < kOk; ++i) {
    ASSERT_EQ(
        harness.post_json("/predict", fixture_customer(i % 2 == 0 ? "215349" : "215350")).status,
        200U);
  }
  Json invalid = fixture_customer("215349");
  invalid["features"]["promo_share"] = 2;
  ASSERT_EQ(harness.post_json("/predict", invalid).status, 422U);
  ASSERT_EQ(harness.get("/customers/none").status, 404U);
  const PrometheusText after = scrape(harness);

  EXPECT_EQ(after.type_of("nbo_http_requests_total"), "counter");
  EXPECT_EQ(value_or_zero(after, "nbo_http_requests_total", ok) -
                value_or_zero(before, "nbo_http_requests_total", ok),
            kOk);
  EXPECT_EQ(value_or_zero(after, "nbo_http_requests_total", bad) -
                value_or_zero(before, "nbo_http_requests_total", bad),
            1.0);
  EXPECT_EQ(value_or_zero(after, "nbo_http_requests_total",
                          {{"route", "/customers/{id}"}, {"method", "GET"}, {"status", "404"}}),
            1.0);
  // The first scrape itself was counted by the time of the second.
  EXPECT_GE(value_or_zero(after, "nbo_http_requests_total",
                          {{"route", "/metrics"}, {"method", "GET"}, {"status", "200"}}),
            1.0);

  EXPECT_EQ(after.type_of("nbo_http_request_duration_seconds"), "histogram");
  EXPECT_EQ(value_or_zero(after, "nbo_http_request_duration_seconds_count", predict_route) -
                value_or_zero(before, "nbo_http_request_duration_seconds_count", predict_route),
            kOk + 1);
  EXPECT_FALSE(after.buckets("nbo_http_request_duration_seconds", predict_route).empty());

  EXPECT_EQ(value_or_zero(after, "nbo_predictions_total", {{"outcome", "scored"}}) -
                value_or_zero(before, "nbo_predictions_total", {{"outcome", "scored"}}),
            kOk);

  EXPECT_EQ(after.value("nbo_model_info",
                        {{"name", model->metadata().name}, {"version", model->metadata().version}}),
            std::optional<double>(1.0));
  EXPECT_TRUE(after.value("nbo_request_log_queue_depth").has_value());
  EXPECT_EQ(after.type_of("nbo_request_log_queue_depth"), "gauge");
  EXPECT_TRUE(after.value("nbo_request_log_written_total").has_value());
  EXPECT_TRUE(after.value("nbo_request_log_dropped_total").has_value());
}

TEST(ApiMetrics, UnmatchedRoutesShareOneSeriesAndOddMethodsAreBounded) {
  ApiHarness harness;
  ASSERT_EQ(harness.get("/a").status, 404U);
  ASSERT_EQ(harness.get("/b/c").status, 404U);
  ASSERT_EQ(harness.request("PURGE", "/health").status, 405U);
  const PrometheusText after = scrape(harness);
  EXPECT_EQ(value_or_zero(after, "nbo_http_requests_total",
                          {{"route", "unmatched"}, {"method", "GET"}, {"status", "404"}}),
            2.0);
  EXPECT_EQ(value_or_zero(after, "nbo_http_requests_total",
                          {{"route", "/health"}, {"method", "other"}, {"status", "405"}}),
            1.0);
}

// After a reload to another version, the replaced version reads 0 (as the metric's HELP says)
// and the new one 1: one model is loaded, not two.
TEST(ApiMetrics, ModelInfoFollowsAReload) {
  ApiHarness harness;
  const auto old_model = harness.churn_model();
  ASSERT_TRUE(old_model);
  const nbo::test::PrometheusLabels old_labels{{"name", old_model->metadata().name},
                                               {"version", old_model->metadata().version}};
  EXPECT_EQ(scrape(harness).value("nbo_model_info", old_labels), std::optional<double>(1.0));

  Json file = old_model->to_json();
  file["metadata"]["version"] = "reloaded-for-test";
  harness.publish_churn_model(
      std::make_shared<const models::ChurnModel>(models::ChurnModel::from_json(file)));
  const PrometheusText after = scrape(harness);
  EXPECT_EQ(after.value("nbo_model_info",
                        {{"name", old_model->metadata().name}, {"version", "reloaded-for-test"}}),
            std::optional<double>(1.0));
  EXPECT_EQ(after.value("nbo_model_info", old_labels), std::optional<double>(0.0));
  const auto predict = harness.post_json("/predict", fixture_customer("215349"));
  ASSERT_EQ(predict.status, 200U);
  EXPECT_EQ(json_body(predict)["model"].value("version", ""), "reloaded-for-test");
}

// ---- openapi.yaml ------------------------------------------------------------------------------

// (method, path) -> its x-required-role ("" when the operation has none).
std::map<std::pair<std::string, std::string>, std::string> openapi_routes() {
  std::istringstream in(read_text(std::filesystem::path(NBO_SOURCE_DIR) / "openapi.yaml"));
  static const std::set<std::string> kMethods{"get",     "put",  "post",  "delete",
                                              "options", "head", "patch", "trace"};
  std::map<std::pair<std::string, std::string>, std::string> routes;
  bool in_paths = false;
  std::string path;
  std::pair<std::string, std::string> operation;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.find_first_not_of(' ') == std::string::npos) continue;
    if (line[0] != ' ') {  // a top-level key
      in_paths = line.rfind("paths:", 0) == 0;
      continue;
    }
    if (!in_paths) continue;
    const auto indent = line.find_first_not_of(' ');
    if (line[indent] == '#') continue;
    const auto colon = line.find(':', indent);
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(indent, colon - indent);
    if (indent == 2) {
      path = key;
      EXPECT_EQ(path.rfind('/', 0), 0U) << "path key without a leading '/': " << line;
    } else if (indent == 4 && kMethods.count(key) != 0) {
      EXPECT_FALSE(path.empty()) << "method outside a path: " << line;
      std::string method = key;
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      operation = {method, path};
      EXPECT_TRUE(routes.emplace(operation, "").second) << "duplicate " << method << ' ' << path;
    } else if (indent == 6 && key == "x-required-role" && routes.count(operation) != 0) {
      std::string role = line.substr(colon + 1);
      role = role.substr(0, role.find('#'));
      role.erase(0, role.find_first_not_of(' '));
      role.erase(role.find_last_not_of(' ') + 1);
      routes[operation] = role;
    }
  }
  return routes;
}

TEST(ApiOpenApi, PathsAreExactlyTheServiceRoutes) {
  ApiHarness harness({.load_models = false});
  const auto documented = openapi_routes();
  ASSERT_FALSE(documented.empty()) << "no paths found in openapi.yaml";
  std::map<std::pair<std::string, std::string>, std::string> served;
  for (const auto& route : harness.service().routes()) {
    EXPECT_TRUE(
        served.emplace(std::pair{route.method, route.path}, auth::access_name(route.access)).second)
        << "duplicate route " << route.method << ' ' << route.path;
  }
  for (const auto& [route, access] : served) {
    const auto& [method, path] = route;
    ASSERT_EQ(documented.count(route), 1U)
        << method << ' ' << path << " is served but not in openapi.yaml";
    // The role each operation documents is the one the server checks.
    EXPECT_EQ(documented.at(route), access)
        << method << ' ' << path << ": x-required-role differs from the route's access";
  }
  for (const auto& [route, role] : documented) {
    EXPECT_EQ(served.count(route), 1U)
        << route.first << ' ' << route.second << " is in openapi.yaml but not served";
  }
}

// components.schemas.Error.x-error-codes of openapi.yaml: code -> (status, meaning).
std::map<std::string, std::pair<unsigned, std::string>> openapi_error_codes() {
  std::istringstream in(read_text(std::filesystem::path(NBO_SOURCE_DIR) / "openapi.yaml"));
  std::map<std::string, std::pair<unsigned, std::string>> codes;
  bool in_table = false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    if (line.compare(indent, std::string::npos, "x-error-codes:") == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (indent != 8) break;  // the table's entries are indented by 8
    // "code: {status: 400, meaning: text}"
    const auto colon = line.find(':', indent);
    const auto status_at = line.find("status: ", colon);
    const auto meaning_at = line.find("meaning: ", colon);
    EXPECT_NE(status_at, std::string::npos) << line;
    EXPECT_NE(meaning_at, std::string::npos) << line;
    if (status_at == std::string::npos || meaning_at == std::string::npos) continue;
    const std::string code = line.substr(indent, colon - indent);
    const auto status = static_cast<unsigned>(std::stoul(line.substr(status_at + 8)));
    std::string meaning = line.substr(meaning_at + 9);
    if (!meaning.empty() && meaning.back() == '}') meaning.pop_back();
    EXPECT_TRUE(codes.emplace(code, std::make_pair(status, meaning)).second)
        << "duplicate " << code;
  }
  return codes;
}

TEST(ApiOpenApi, ErrorCodesAreExactlyTheErrorTable) {
  const auto documented = openapi_error_codes();
  ASSERT_FALSE(documented.empty()) << "no x-error-codes in openapi.yaml";
  std::set<std::string> served;
  for (const auto& entry : error_table()) {
    const std::string code(entry.code);
    EXPECT_TRUE(served.insert(code).second) << "duplicate code in the table: " << code;
    const auto found = documented.find(code);
    if (found == documented.end()) {
      ADD_FAILURE() << code << " is in the error table but not in openapi.yaml";
      continue;
    }
    EXPECT_EQ(found->second.first, entry.status) << code;
    EXPECT_EQ(found->second.second, entry.meaning) << code;
  }
  for (const auto& [code, entry] : documented) {
    EXPECT_EQ(served.count(code), 1U) << code << " is in openapi.yaml but not in the error table";
  }
}

// Every route of Service::routes() answers (not 404/405) over HTTP.
TEST(ApiOpenApi, EveryListedRouteIsReachable) {
  ApiHarness harness;
  for (const auto& route : harness.service().routes()) {
    std::string target = route.path;
    if (const auto brace = target.find("{id}"); brace != std::string::npos) {
      target.replace(brace, 4, "215349");
    }
    const std::string body =
        route.method == "GET" ? std::string() : fixture_customer("215349").dump();
    const auto response = harness.send_json(route.method, target, body);
    EXPECT_NE(response.status, 405U) << route.method << ' ' << target << ": " << response.body;
    EXPECT_FALSE(response.status == 404U &&
                 json_body(response)["error"].value("code", "") == "not_found")
        << route.method << ' ' << target << ": " << response.body;
  }
}

}  // namespace
}  // namespace nbo::api::testing
