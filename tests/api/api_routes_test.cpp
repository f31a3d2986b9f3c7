// The route table: matching, parameters, 405 lists, registration mistakes; and the dispatch
// decision the service gives the server for each kind of request.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "api/api_harness.hpp"
#include "nbo/api/routes.hpp"

namespace nbo::api::testing {
namespace {

RouteHandler answer(std::string text) {
  return [text = std::move(text)](const http::Request&, const PathParameters& parameters) {
    http::Response response;
    response.body = text + ":" + std::string(parameters.get("id"));
    return response;
  };
}

RouteTable sample_table() {
  RouteTable table;
  table.add({.method = "GET", .path = "/customers/{id}", .handler = answer("get")});
  table.add({.method = "PUT", .path = "/customers/{id}", .handler = answer("put")});
  table.add({.method = "POST",
             .path = "/predict",
             .handler = answer("predict"),
             .dispatch = always(http::Dispatch::kInline)});
  table.add({.method = "GET", .path = "/users/{id}/events", .handler = answer("events")});
  return table;
}

TEST(RouteTable, MatchesLiteralsAndParameters) {
  const RouteTable table = sample_table();
  const auto get = table.find("GET", "/customers/42");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.path_template, "/customers/{id}");
  EXPECT_EQ(get.parameters.get("id"), "42");
  EXPECT_EQ(get.route->handler(http::Request{}, get.parameters).body, "get:42");

  const auto events = table.find("GET", "/users/u-7/events");
  ASSERT_NE(events.route, nullptr);
  EXPECT_EQ(events.parameters.get("id"), "u-7");
  EXPECT_EQ(events.parameters.get("other"), "");

  // A parameter is one segment, possibly empty (the handler names the problem).
  EXPECT_NE(table.find("GET", "/customers/").route, nullptr);
  EXPECT_EQ(table.find("GET", "/customers/a/b").path_template, "");
  EXPECT_EQ(table.find("GET", "/customers").path_template, "");
  EXPECT_EQ(table.find("GET", "/users/x/events/y").path_template, "");
  EXPECT_EQ(table.find("POST", "/predict/").path_template, "");
  EXPECT_EQ(table.find("POST", "").path_template, "");
}

TEST(RouteTable, AnotherMethodOfAKnownPathListsWhatItAllows) {
  const RouteTable table = sample_table();
  const auto remove = table.find("DELETE", "/customers/42");
  EXPECT_EQ(remove.route, nullptr);
  EXPECT_EQ(remove.path_template, "/customers/{id}");
  EXPECT_EQ(remove.allow, "GET, PUT");
  EXPECT_EQ(table.find("GET", "/predict").allow, "POST");
  EXPECT_EQ(table.find("get", "/predict").allow, "POST");  // methods are case-sensitive
}

TEST(RouteTable, RegistrationMistakesAreLogicErrors) {
  RouteTable table = sample_table();
  EXPECT_THROW(table.add({.method = "GET", .path = "/customers/{id}", .handler = answer("x")}),
               std::logic_error);
  EXPECT_THROW(table.add({.method = "GET", .path = "customers", .handler = answer("x")}),
               std::logic_error);
  EXPECT_THROW(table.add({.method = "GET", .path = "/a/{id", .handler = answer("x")}),
               std::logic_error);
  EXPECT_THROW(table.add({.method = "GET", .path = "/a/{}", .handler = answer("x")}),
               std::logic_error);
  EXPECT_THROW(table.add({.method = "GET", .path = "/no-handler"}), std::logic_error);
  // Without a rule a route runs on the workers.
  table.add({.method = "GET", .path = "/plain", .handler = answer("x")});
  EXPECT_EQ(table.find("GET", "/plain").route->dispatch(http::Request{}), http::Dispatch::kWorker);
}

http::Request request(std::string method, std::string path, std::string body = {}) {
  http::Request out;
  out.method = std::move(method);
  out.path = std::move(path);
  out.body = std::move(body);
  return out;
}

TEST(ServiceDispatch, OneCustomerWithFeaturesRunsInlineBatchesAndTheDatabaseOnWorkers) {
  ApiHarness harness({.load_models = false});
  const Service& service = harness.service();
  const std::string one = fixture_customer("215349").dump();
  EXPECT_EQ(service.dispatch(request("POST", "/predict", one)), http::Dispatch::kInline);
  // By stored id: a database read.
  EXPECT_EQ(service.dispatch(request("POST", "/predict", R"({"customer_id": "215349"})")),
            http::Dispatch::kWorker);
  const Json batch{{"customers", Json::array({fixture_customer("215349")})}};
  EXPECT_EQ(service.dispatch(request("POST", "/predict", batch.dump())), http::Dispatch::kWorker);
  // A body past the inline limit goes to the workers whatever it holds.
  const std::string large = one + std::string(ServiceLimits{}.max_inline_body_bytes, ' ');
  EXPECT_EQ(service.dispatch(request("POST", "/predict", large)), http::Dispatch::kWorker);

  EXPECT_EQ(service.dispatch(request("PUT", "/customers/1", one)), http::Dispatch::kWorker);
  EXPECT_EQ(service.dispatch(request("GET", "/customers/1")), http::Dispatch::kWorker);
  EXPECT_EQ(service.dispatch(request("GET", "/ready")), http::Dispatch::kWorker);
  EXPECT_EQ(service.dispatch(request("GET", "/health")), http::Dispatch::kInline);
  EXPECT_EQ(service.dispatch(request("GET", "/metrics")), http::Dispatch::kInline);
  EXPECT_EQ(service.dispatch(request("GET", "/models")), http::Dispatch::kInline);
  // What matches no route is answered at once.
  EXPECT_EQ(service.dispatch(request("GET", "/nope")), http::Dispatch::kInline);
  EXPECT_EQ(service.dispatch(request("DELETE", "/predict")), http::Dispatch::kInline);
}

// Single predictions run on the I/O threads: they are answered and logged as on the workers.
TEST(ServiceDispatch, InlinePredictionsAreAnsweredAndLogged) {
  ApiHarness harness;
  for (int i = 0; i < 20; ++i) {
    const auto response =
        harness.post_json("/predict", fixture_customer("215349"), "inline-" + std::to_string(i));
    ASSERT_EQ(response.status, 200U) << response.body;
  }
  EXPECT_EQ(harness.rows(), (RowCounts{0, 20}));
}

}  // namespace
}  // namespace nbo::api::testing
