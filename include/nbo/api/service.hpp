// The REST API of nbo: the route table the areas fill in, and the one place where every failure
// becomes the project's JSON error body (Service::handle).
//
// Routes are registered by their areas (src/api/<area>_routes.cpp, see routes.hpp); openapi.yaml
// is the contract and a test keeps it equal to routes(). Today:
//   POST /predict              score one customer or a batch        (predict_routes.cpp)
//   PUT  /customers/{id}       validate and upsert a customer       (customer_routes.cpp)
//   GET  /customers/{id}       the stored features                  (customer_routes.cpp)
//   GET  /models, /health, /ready, /metrics                         (operations_routes.cpp)
//   POST /admin/reload         reload the models directory          (operations_routes.cpp)
//   POST /next-best-offer, POST /offers/{offer_id}/response,
//   POST /users/{id}/events, PUT /courses/{id}                      (offers_routes.cpp)
//
// Threads: dispatch() is the http::Server's DispatchRule: it tells, per request, whether the
// handler runs inline on the I/O thread that read it (a single prediction from its features,
// /health, /metrics...) or on the worker pool (batches, anything that reads or writes the
// database). handle() therefore runs on both kinds of thread, concurrently.
//
// Thread safety: handle(), dispatch() and on_request_finished() are safe to call concurrently;
// the service holds only thread-safe collaborators (borrowed, they must outlive it).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/api/routes.hpp"
#include "nbo/http/message.hpp"
#include "nbo/http/server.hpp"
#include "nbo/offers/recommender.hpp"

namespace nbo::models {
class ModelRegistry;
struct ModelSet;
}  // namespace nbo::models
namespace nbo::store {
class CustomerStore;
class ApiKeyStore;
class OfferStore;
class RequestLogWriter;
}  // namespace nbo::store
namespace nbo::metrics {
class Registry;
}

namespace nbo::api {

struct ServiceLimits {
  std::size_t max_batch = 10000;    // customers in one POST /predict
  std::size_t max_json_depth = 32;  // nesting of any request body
  // Reasons answered per prediction when the request does not ask (/predict?reasons=N).
  std::size_t default_reasons = 3;
  // Bodies up to this size that carry a customer's features are scored inline on the I/O
  // thread; larger ones (batches) and stored-customer lookups go to the workers.
  std::size_t max_inline_body_bytes = 16 * 1024;
  // The offer engine's contact policy (cool-down, cap per window, per channel).
  offers::ContactPolicy offer_policy{};
  std::size_t max_event_batch = 1000;    // events in one POST /users/{id}/events
  std::size_t max_user_events = 100000;  // most recent events read for one offer request
  // Store each scored customer's input (JSON) in the request log (--request-log-input).
  bool log_request_input = false;
  // While the database holds no API key at all (none ever made), every route is open: a server on
  // the loopback interface, or one started with --allow-anonymous. Otherwise a request without an
  // active key gets 401. Once a key has been made, keys are required whatever this says, also
  // after the last one is revoked (rotate by adding the new key first).
  bool anonymous_without_keys = true;
  // GET /metrics needs no key (--metrics-public); otherwise it needs a scorer key.
  bool metrics_public = false;
};

struct ServiceDependencies {
  models::ModelRegistry& models;
  store::CustomerStore& customers;
  store::OfferStore& offers;  // the school's catalog, users, events and offers log
  store::RequestLogWriter& request_log;
  store::ApiKeyStore& api_keys;  // the keys the service accepts (refresh_keys())
  metrics::Registry& metrics;
  // Readiness probe of the database (a real write check); must be thread-safe.
  std::function<bool()> database_writable;
  // The directory a reload reads (POST /admin/reload, reload_models()); when empty, that of the
  // published model set.
  std::filesystem::path models_directory{};
};

struct RouteInfo {
  std::string method;
  std::string path;                            // template, e.g. "/customers/{id}"
  auth::Access access = auth::Access::kAdmin;  // the key it needs
};

class Service final : public http::Observer {
 public:
  Service(ServiceDependencies dependencies, ServiceLimits limits);
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The HTTP handler: never throws; every error becomes a 4xx/5xx JSON error body.
  http::Response handle(const http::Request& request) const;

  // The http::DispatchRule of the server: the matched route's own rule; requests that match no
  // route (404, 405) are answered inline.
  http::Dispatch dispatch(const http::Request& request) const;

  // http::Observer: request counters and latency histograms by route.
  void on_request_finished(const http::Request& request, const http::Response& response,
                           double seconds) override;

  // The routes of this service (method and template), in registration order.
  std::vector<RouteInfo> routes() const;

  // What POST /admin/reload does, for the other triggers (SIGHUP in `nbo serve`): loads and
  // validates every model and data file of the models directory into a new set, then publishes
  // it; requests already running finish with the set they started with. `trigger` names the
  // cause in the log ("POST /admin/reload", "SIGHUP"). Reloads run one at a time (a second
  // waits for the first); each outcome is counted in nbo_model_reloads_total{result="ok"|
  // "failed"}. Blocks for the time the files take to load (file reads, no network).
  // Returns the published set. Throws ApiError(errors::kReloadFailed) naming the file and the
  // problem when any file fails; the published set is then left as it was.
  std::shared_ptr<const models::ModelSet> reload_models(std::string_view trigger) const;

  // Re-reads the active API keys from the store and publishes them; requests already past their
  // key check are not affected. `nbo serve` calls it every second, so keys added or revoked by
  // `nbo keys` take effect within a second; the /admin/keys routes call it themselves. Returns
  // the number of active keys. Throws StoreError when the table cannot be read (the keys
  // published before are kept).
  std::size_t refresh_keys() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nbo::api
