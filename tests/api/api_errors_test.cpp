// Every class of bad input over real HTTP: the exact status, error code and field, the request
// id echoed in header and body, and nothing written (customers and request_log row counts).

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "api/api_harness.hpp"

namespace nbo::api::testing {
namespace {

Json full_features() { return fixture_customer("215349")["features"]; }

Json with_feature(const std::string& name, const Json& value) {
  Json body = fixture_customer("215349");
  body["features"][name] = value;
  return body;
}

Json without_feature(const std::string& name) {
  Json body = fixture_customer("215349");
  body["features"].erase(name);
  return body;
}

struct BadInput {
  std::string name;  // also the X-Request-Id
  std::string method;
  std::string target;
  std::function<std::string()> body;
  std::string content_type;  // "" = no Content-Type header
  unsigned status;
  std::string code;
  std::string field;  // "" = no field
  std::string allow = {};  // expected Allow header (405)
};

void PrintTo(const BadInput& input, std::ostream* out) { *out << input.name; }

std::string text(const std::string& value) { return value; }

const std::vector<BadInput>& bad_inputs() {
  static const std::vector<BadInput> inputs{
      {"malformed_json", "POST", "/predict", [] { return text(R"({"features": {"tenure_days": )"); },
       "application/json", 400, "invalid_json", ""},
      {"trailing_garbage", "POST", "/predict",
       [] { return fixture_customer("215349").dump() + " x"; }, "application/json", 400,
       "invalid_json", ""},
      {"invalid_utf8", "POST", "/predict",
       [] { return text("{\"customer_id\": \"\xff\xfe\"}"); }, "application/json", 400,
       "invalid_json", ""},
      {"number_overflow", "POST", "/predict",
       [] { return text(R"({"features": {"tenure_days": 1e400}})"); }, "application/json", 400,
       "invalid_json", ""},
      {"empty_body", "POST", "/predict", [] { return text(""); }, "application/json", 400,
       "empty_body", ""},
      {"whitespace_body", "POST", "/predict", [] { return text(" \r\n\t "); }, "application/json",
       400, "empty_body", ""},
      {"too_deep", "POST", "/predict",
       [] { return "{\"features\": " + std::string(40, '[') + std::string(40, ']') + "}"; },
       "application/json", 400, "too_deep", ""},
      {"text_plain", "POST", "/predict", [] { return fixture_customer("215349").dump(); },
       "text/plain", 415, "unsupported_media_type", ""},
      {"form_urlencoded", "PUT", "/customers/c1", [] { return text("features=1"); },
       "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
      {"body_not_object", "POST", "/predict", [] { return text("[1, 2]"); }, "application/json",
       422, "invalid_type", ""},
      {"wrong_type_integer", "POST", "/predict",
       [] { return with_feature("tenure_days", "819").dump(); }, "application/json", 422,
       "invalid_type", "features.tenure_days"},
      {"wrong_type_fraction", "POST", "/predict",
       [] { return with_feature("tenure_days", 8.5).dump(); }, "application/json", 422,
       "invalid_type", "features.tenure_days"},
      {"wrong_type_boolean", "POST", "/predict",
       [] { return with_feature("allow_messages", "да").dump(); }, "application/json", 422,
       "invalid_type", "features.allow_messages"},
      {"wrong_type_category", "POST", "/predict",
       [] { return with_feature("service_type", 1).dump(); }, "application/json", 422,
       "invalid_type", "features.service_type"},
      {"features_not_object", "POST", "/predict",
       [] { return Json{{"features", Json::array()}}.dump(); }, "application/json", 422,
       "invalid_type", "features"},
      {"customer_id_not_string", "POST", "/predict",
       [] { return Json{{"customer_id", 215349}}.dump(); }, "application/json", 422,
       "invalid_type", "customer_id"},
      {"unknown_feature", "POST", "/predict",
       [] { return with_feature("favourite_colour", "red").dump(); }, "application/json", 422,
       "unknown_field", "features.favourite_colour"},
      {"unknown_top_level_field", "POST", "/predict",
       [] {
         Json body = fixture_customer("215349");
         body["priority"] = "high";
         return body.dump();
       },
       "application/json", 422, "unknown_field", "priority"},
      {"missing_required_feature", "POST", "/predict",
       [] { return without_feature("tenure_days").dump(); }, "application/json", 422,
       "missing_field", "features.tenure_days"},
      {"null_required_feature", "POST", "/predict",
       [] { return with_feature("promo_share", nullptr).dump(); }, "application/json", 422,
       "missing_field", "features.promo_share"},
      {"missing_features_and_id", "POST", "/predict", [] { return text("{}"); },
       "application/json", 422, "missing_field", "features"},
      {"negative_minutes", "POST", "/predict",
       [] { return with_feature("minutes_this_month", -5).dump(); }, "application/json", 422,
       "out_of_range", "features.minutes_this_month"},
      {"promo_share_above_one", "POST", "/predict",
       [] { return with_feature("promo_share", 1.5).dump(); }, "application/json", 422,
       "out_of_range", "features.promo_share"},
      {"negative_revenue", "POST", "/predict",
       [] { return with_feature("revenue_this_month", -0.01).dump(); }, "application/json", 422,
       "out_of_range", "features.revenue_this_month"},
      {"unknown_category", "POST", "/predict",
       [] { return with_feature("popular_category", "Книги").dump(); }, "application/json", 422,
       "unknown_category", "features.popular_category"},
      {"unknown_service_type", "POST", "/predict",
       [] { return with_feature("service_type", "gold").dump(); }, "application/json", 422,
       "unknown_category", "features.service_type"},
      {"customer_id_with_space", "POST", "/predict",
       [] {
         Json body = fixture_customer("215349");
         body["customer_id"] = "a b";
         return body.dump();
       },
       "application/json", 422, "invalid_value", "customer_id"},
      {"put_bad_json", "PUT", "/customers/c1", [] { return text("{\"features\": "); },
       "application/json", 400, "invalid_json", ""},
      {"put_empty_body", "PUT", "/customers/c1", [] { return text(""); }, "application/json", 400,
       "empty_body", ""},
      {"put_too_deep", "PUT", "/customers/c1",
       [] {
         std::string nested;
         for (int i = 0; i < 40; ++i) nested += "{\"a\": ";
         return "{\"features\": " + nested + "1" + std::string(40, '}') + "}";
       },
       "application/json", 400, "too_deep", ""},
      // Depth is checked as the parser reads: a body that breaks the syntax before it gets too
      // deep is invalid JSON, named at its first bad byte ('{' where a key must be).
      {"put_malformed_before_too_deep", "PUT", "/customers/c1",
       [] { return "{\"features\": " + std::string(40, '{') + std::string(40, '}') + "}"; },
       "application/json", 400, "invalid_json", ""},
      {"put_out_of_range", "PUT", "/customers/c1",
       [] { return Json{{"features", {{"promo_share", 1.5}}}}.dump(); }, "application/json", 422,
       "out_of_range", "features.promo_share"},
      {"put_unknown_feature", "PUT", "/customers/c1",
       [] { return Json{{"features", {{"shoe_size", 42}}}}.dump(); }, "application/json", 422,
       "unknown_field", "features.shoe_size"},
      {"unknown_route", "GET", "/nope", [] { return text(""); }, "", 404, "not_found", ""},
      {"unknown_nested_route", "POST", "/predict/batch",
       [] { return fixture_customer("215349").dump(); }, "application/json", 404, "not_found", ""},
      {"customers_subresource", "GET", "/customers/a/b", [] { return text(""); }, "", 404,
       "not_found", ""},
      {"get_predict", "GET", "/predict", [] { return text(""); }, "", 405, "method_not_allowed", "",
       "POST"},
      {"put_predict", "PUT", "/predict", [] { return fixture_customer("215349").dump(); },
       "application/json", 405, "method_not_allowed", "", "POST"},
      {"delete_customer", "DELETE", "/customers/c1", [] { return text(""); }, "", 405,
       "method_not_allowed", "", "GET, PUT"},
      {"post_customer", "POST", "/customers/c1",
       [] { return Json{{"features", full_features()}}.dump(); }, "application/json", 405,
       "method_not_allowed", "", "GET, PUT"},
      {"post_health", "POST", "/health", [] { return text("{}"); }, "application/json", 405,
       "method_not_allowed", "", "GET"},
      {"delete_metrics", "DELETE", "/metrics", [] { return text(""); }, "", 405,
       "method_not_allowed", "", "GET"},
  };
  return inputs;
}

class ApiBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(ApiBadInput, GetsTheExactErrorAndWritesNothing) {
  const BadInput& input = GetParam();
  ApiHarness harness;
  // A stored customer first, so "nothing written" also covers changes to an existing row.
  ASSERT_EQ(harness.put_json("/customers/c1", {{"features", full_features()}}).status, 200U);
  const RowCounts before = harness.rows();
  ASSERT_EQ(before, (RowCounts{1, 0}));

  HttpHeaders headers{{"X-Request-Id", input.name}};
  if (!input.content_type.empty()) headers.emplace_back("Content-Type", input.content_type);
  const auto response = harness.request(input.method, input.target, input.body(), headers);
  expect_error(response, input.status, input.code, input.field, input.name);
  if (!input.allow.empty()) {
    EXPECT_EQ(response.header("Allow"), input.allow);
  }
  EXPECT_EQ(harness.rows(), before);

  const auto stored = harness.get("/customers/c1");
  ASSERT_EQ(stored.status, 200U);
  EXPECT_EQ(json_body(stored)["features"], full_features());

  // The server is still fine afterwards.
  EXPECT_EQ(harness.get("/health").status, 200U);
}

INSTANTIATE_TEST_SUITE_P(AllClasses, ApiBadInput, ::testing::ValuesIn(bad_inputs()),
                         [](const ::testing::TestParamInfo<BadInput>& param_info) {
                           return param_info.param.name;
                         });

TEST(ApiErrors, OversizedBodyIs413AndWritesNothing) {
  HarnessOptions options;
  options.max_body_bytes = 2048;
  ApiHarness harness(options);
  Json body = fixture_customer("215349");
  body["customer_id"] = std::string(8 * 1024, 'x');
  const auto response = harness.send_json("POST", "/predict", body.dump(), "too-big");
  expect_error(response, 413, "payload_too_large", "", "too-big");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
  // A fresh connection still works.
  harness.client().close();
  EXPECT_EQ(harness.post_json("/predict", fixture_customer("215349")).status, 200U);
}

TEST(ApiErrors, InvalidCallerRequestIdIsReplacedByAGeneratedOne) {
  ApiHarness harness;
  const auto response = harness.request("GET", "/customers/nobody", {},
                                        {{"X-Request-Id", "has spaces and ünïcode"}});
  const std::string id = response.header("X-Request-Id");
  EXPECT_EQ(id.size(), 32U);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  expect_error(response, 404, "customer_not_found", "customer_id", id);
}

TEST(ApiErrors, PredictBeforeTheModelLoadsIs503WithRetryAfter) {
  HarnessOptions options;
  options.load_models = false;
  ApiHarness harness(options);
  const auto response = harness.post_json("/predict", fixture_customer("215349"), "early");
  expect_error(response, 503, "model_not_loaded", "", "early");
  EXPECT_EQ(response.header("Retry-After"), "1");
  EXPECT_EQ(harness.rows(), (RowCounts{0, 0}));
}

}  // namespace
}  // namespace nbo::api::testing
