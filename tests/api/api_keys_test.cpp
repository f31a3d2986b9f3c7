// API keys and roles over real HTTP: once a key exists every route but /health and /ready needs
// one of the route's role or above; admins manage keys through /admin/keys; tokens are never
// logged.

#include "nbo/auth/api_keys.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

#include "api/api_harness.hpp"
#include "nbo/store/api_key_store.hpp"
#include "support/api_key_text.hpp"
#include "support/prometheus_text.hpp"

namespace nbo::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A concrete target for a route template: each {parameter} becomes "x".
std::string target_of(const std::string& path_template) {
  std::string target;
  bool in_parameter = false;
  for (const char c : path_template) {
    if (c == '{') {
      in_parameter = true;
      target += 'x';
    } else if (c == '}') {
      in_parameter = false;
    } else if (!in_parameter) {
      target += c;
    }
  }
  return target;
}

HttpHeaders with_key(const std::string& token) {
  return {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
}

Json body_of(const HttpResponse& response) {
  return Json::parse(response.body);
}

TEST(ApiKeysHttp, OnceAKeyExistsEveryRouteButHealthAndReadyAnswers401WithoutOne) {
  ApiHarness harness;
  // Before any key, on the loopback: open.
  EXPECT_EQ(harness.post_json("/predict", fixture_customer("215349")).status, 200U);
  harness.api_keys().add("crm", auth::Role::kScorer);
  EXPECT_EQ(harness.service().refresh_keys(), 1U);

  const auto customers_before = harness.rows().customers;
  for (const auto& route : harness.service().routes()) {
    const auto response = harness.request(route.method, target_of(route.path), "{}",
                                          {{"Content-Type", "application/json"}});
    if (route.access == auth::Access::kPublic) {
      EXPECT_NE(response.status, 401U) << route.method << ' ' << route.path;
      continue;
    }
    expect_error(response, 401, "unauthorized", "");
    EXPECT_EQ(response.header("WWW-Authenticate"), "Bearer realm=\"nbo\"")
        << route.method << ' ' << route.path;
  }
  // A path no route has needs a key too: without one nothing tells whether it exists.
  expect_error(harness.get("/no/such/route"), 401, "unauthorized", "");
  EXPECT_EQ(harness.get("/health").status, 200U);
  EXPECT_EQ(harness.get("/ready").status, 200U);
  EXPECT_EQ(harness.rows().customers, customers_before);
}

TEST(ApiKeysHttp, EachRoleUsesItsRoutesAndThoseBelowAndGets403Above) {
  ApiHarness harness;
  const std::map<auth::Role, std::string> tokens{
      {auth::Role::kScorer, harness.api_keys().add("s", auth::Role::kScorer).token},
      {auth::Role::kWriter, harness.api_keys().add("w", auth::Role::kWriter).token},
      {auth::Role::kAdmin, harness.api_keys().add("a", auth::Role::kAdmin).token}};
  harness.service().refresh_keys();
  int forbidden = 0;
  for (const auto& route : harness.service().routes()) {
    for (const auto& [role, token] : tokens) {
      const auto response =
          harness.request(route.method, target_of(route.path), "{}", with_key(token));
      const std::string what =
          route.method + ' ' + route.path + " as " + std::string(auth::role_name(role));
      if (auth::allows(role, route.access)) {
        EXPECT_NE(response.status, 401U) << what << ": " << response.body;
        EXPECT_NE(response.status, 403U) << what << ": " << response.body;
      } else {
        ++forbidden;
        expect_error(response, 403, "forbidden", "");
        EXPECT_THAT(response.body, HasSubstr(std::string(auth::access_name(route.access)))) << what;
      }
    }
  }
  EXPECT_GT(forbidden, 10);
  // A scorer scores; a writer writes; a scorer may not write.
  const auto scorer = with_key(tokens.at(auth::Role::kScorer));
  const auto writer = with_key(tokens.at(auth::Role::kWriter));
  const std::string customer = fixture_customer("215349").dump();
  EXPECT_EQ(harness.request("POST", "/predict", customer, scorer).status, 200U);
  const std::string features = Json{{"features", fixture_customer("215349")["features"]}}.dump();
  expect_error(harness.request("PUT", "/customers/c1", features, scorer), 403, "forbidden", "");
  EXPECT_EQ(harness.rows().customers, 0);
  const auto stored = harness.request("PUT", "/customers/c1", features, writer);
  EXPECT_TRUE(stored.status == 200U || stored.status == 201U) << stored.body;
  EXPECT_EQ(harness.rows().customers, 1);
}

TEST(ApiKeysHttp, AForgedOrRevokedKeyIs401AndTheAnswerNamesOnlyItsId) {
  ApiHarness harness;
  const auto made = harness.api_keys().add("crm", auth::Role::kScorer);
  harness.service().refresh_keys();
  const std::string customer = fixture_customer("215349").dump();

  std::string forged = made.token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  const auto refused = harness.request("POST", "/predict", customer, with_key(forged));
  expect_error(refused, 401, "unauthorized", "");
  EXPECT_THAT(refused.body, HasSubstr(made.key.id));
  EXPECT_THAT(refused.body, Not(HasSubstr(forged.substr(21))));

  expect_error(
      harness.request("POST", "/predict", customer,
                      {{"Content-Type", "application/json"}, {"Authorization", made.token}}),
      401, "unauthorized", "");  // no "Bearer"
  expect_error(harness.request("POST", "/predict", customer, with_key("nbo_short")), 401,
               "unauthorized", "");

  EXPECT_EQ(harness.request("POST", "/predict", customer, with_key(made.token)).status, 200U);
  harness.api_keys().revoke(made.key.id);
  EXPECT_EQ(harness.service().refresh_keys(), 0U);
  expect_error(harness.request("POST", "/predict", customer, with_key(made.token)), 401,
               "unauthorized", "");
  // Its only key revoked, the server does not go back to serving without keys.
  expect_error(
      harness.request("POST", "/predict", customer, {{"Content-Type", "application/json"}}), 401,
      "unauthorized", "");
}

TEST(ApiKeysHttp, RevokingTheLastKeyOfAServerThatMayNotBeAnonymousOpensNothing) {
  ApiHarness harness({.limits = {.anonymous_without_keys = false}});
  const std::string customer = fixture_customer("215349").dump();
  expect_error(
      harness.request("POST", "/predict", customer, {{"Content-Type", "application/json"}}), 401,
      "unauthorized", "");
  const auto made = harness.api_keys().add("only", auth::Role::kScorer);
  harness.service().refresh_keys();
  EXPECT_EQ(harness.request("POST", "/predict", customer, with_key(made.token)).status, 200U);
  harness.api_keys().revoke(made.key.id);
  EXPECT_EQ(harness.service().refresh_keys(), 0U);
  expect_error(
      harness.request("POST", "/predict", customer, {{"Content-Type", "application/json"}}), 401,
      "unauthorized", "");
  EXPECT_EQ(harness.get("/health").status, 200U);
}

TEST(ApiKeysHttp, AnAdminMakesListsAndRevokesKeysAndNoLogHoldsAToken) {
  std::ostringstream log;
  const auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  capture->set_level(spdlog::level::trace);
  spdlog::set_default_logger(capture);
  std::string token;
  std::string admin_token;
  {
    ApiHarness harness;
    admin_token = harness.api_keys().add("ops", auth::Role::kAdmin).token;
    harness.service().refresh_keys();
    const auto admin = with_key(admin_token);

    const auto made =
        harness.request("POST", "/admin/keys", R"({"name":"crm-prod","role":"writer"})", admin);
    ASSERT_EQ(made.status, 201U) << made.body;
    EXPECT_EQ(made.header("Cache-Control"), "no-store");
    const Json key = body_of(made);
    token = key.value("key", "");
    EXPECT_TRUE(test_support::looks_like_api_key(token)) << token;
    EXPECT_EQ(key["role"], "writer");
    EXPECT_EQ(key["name"], "crm-prod");
    EXPECT_TRUE(key["revoked_at"].is_null());
    const std::string id = key["id"];

    // Usable at once.
    const std::string features = Json{{"features", fixture_customer("215349")["features"]}}.dump();
    const auto stored = harness.request("PUT", "/customers/c1", features, with_key(token));
    EXPECT_TRUE(stored.status == 200U || stored.status == 201U) << stored.body;

    const auto listed = harness.request("GET", "/admin/keys", "", admin);
    ASSERT_EQ(listed.status, 200U);
    EXPECT_EQ(body_of(listed)["keys"].size(), 2U);
    EXPECT_THAT(listed.body, HasSubstr(id));
    EXPECT_THAT(listed.body, Not(HasSubstr(token)));
    EXPECT_THAT(listed.body, Not(HasSubstr("\"key\"")));

    expect_error(harness.request("POST", "/admin/keys", R"({"name":"x","role":"root"})", admin),
                 422, "unknown_category", "role");
    expect_error(harness.request("POST", "/admin/keys", R"({"role":"scorer"})", admin), 422,
                 "missing_field", "name");
    expect_error(harness.request("POST", "/admin/keys", R"({"name":"","role":"scorer"})", admin),
                 422, "invalid_value", "name");
    expect_error(
        harness.request("POST", "/admin/keys", R"({"name":"x","role":"scorer","ttl":1})", admin),
        422, "unknown_field", "ttl");
    EXPECT_EQ(harness.api_keys().list().size(), 2U);
    expect_error(harness.request("DELETE", "/admin/keys/0000000000000000", "", admin), 404,
                 "key_not_found", "id");

    const auto revoked = harness.request("DELETE", "/admin/keys/" + id, "", admin);
    ASSERT_EQ(revoked.status, 200U) << revoked.body;
    EXPECT_FALSE(body_of(revoked)["revoked_at"].is_null());
    expect_error(harness.request("PUT", "/customers/c1", features, with_key(token)), 401,
                 "unauthorized", "");

    // Refusals are counted by reason.
    harness.request("GET", "/models", "", {});
    harness.request("GET", "/admin/keys", "", with_key(token));
    const auto metrics =
        nbo::test::parse_prometheus_text(harness.request("GET", "/metrics", "", admin).body);
    EXPECT_GE(metrics.value("nbo_auth_refused_total", {{"reason", "missing"}}).value_or(0), 1.0);
    EXPECT_GE(metrics.value("nbo_auth_refused_total", {{"reason", "invalid"}}).value_or(0), 2.0);
    EXPECT_EQ(metrics.value("nbo_api_keys_active").value_or(0), 1.0);
  }
  spdlog::set_default_logger(previous);
  const std::string text = log.str();
  EXPECT_THAT(text, HasSubstr("made API key"));
  EXPECT_THAT(text, Not(HasSubstr(token.substr(21))));
  EXPECT_THAT(text, Not(HasSubstr(admin_token.substr(21))));
}

TEST(ApiKeysHttp, MetricsNeedAScorerKeyUnlessPublic) {
  {
    ApiHarness harness;
    const auto made = harness.api_keys().add("prometheus", auth::Role::kScorer);
    harness.service().refresh_keys();
    expect_error(harness.get("/metrics"), 401, "unauthorized", "");
    EXPECT_EQ(harness.request("GET", "/metrics", "", with_key(made.token)).status, 200U);
  }
  {
    ApiHarness harness({.limits = {.metrics_public = true}});
    harness.api_keys().add("crm", auth::Role::kScorer);
    harness.service().refresh_keys();
    EXPECT_EQ(harness.get("/metrics").status, 200U);
    expect_error(harness.get("/models"), 401, "unauthorized", "");
  }
}

}  // namespace
}  // namespace nbo::api::testing
