// The REST API of nbo: routes requests to handlers and turns every failure into the project's
// JSON error body, in one place (Service::handle).
//
// Routes (the contract is openapi.yaml; routes() lists them for the test that keeps the two in
// sync):
//   POST /predict              score one customer or a batch
//   PUT  /customers/{id}       validate and upsert a customer's raw features
//   GET  /customers/{id}       the stored features
//   GET  /models               metadata of the loaded models
//   GET  /health               process alive
//   GET  /ready                models loaded and database writable
//   GET  /metrics              Prometheus text format
//
// Thread safety: handle() is called concurrently from the HTTP server's I/O threads; the
// service holds only thread-safe collaborators (borrowed, must outlive it).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/http/message.hpp"
#include "nbo/http/server.hpp"

namespace nbo::models {
class ModelRegistry;
}
namespace nbo::store {
class CustomerStore;
class RequestLogWriter;
}  // namespace nbo::store
namespace nbo::metrics {
class Registry;
}

namespace nbo::api {

struct ServiceLimits {
  std::size_t max_batch = 10000;     // customers in one POST /predict
  std::size_t max_json_depth = 32;   // nesting of any request body
  std::size_t max_reasons = 3;       // reasons returned per prediction
};

struct ServiceDependencies {
  models::ModelRegistry& models;
  store::CustomerStore& customers;
  store::RequestLogWriter& request_log;
  metrics::Registry& metrics;
  // Readiness probe of the database (a real write check); must be thread-safe.
  std::function<bool()> database_writable;
};

struct RouteInfo {
  std::string method;
  std::string path;  // template, e.g. "/customers/{id}"
};

class Service final : public http::Observer {
 public:
  Service(ServiceDependencies dependencies, ServiceLimits limits);
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The HTTP handler: never throws; every error becomes a 4xx/5xx JSON error body.
  http::Response handle(const http::Request& request) const;

  // http::Observer: request counters and latency histograms by route.
  void on_request_finished(const http::Request& request, const http::Response& response,
                           double seconds) override;

  static const std::vector<RouteInfo>& routes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nbo::api
