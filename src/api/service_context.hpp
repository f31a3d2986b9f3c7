// What the areas' route files share: the service's collaborators and limits, and the small
// helpers every handler uses. Private to src/api.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "nbo/api/errors.hpp"
#include "nbo/api/predict_io.hpp"
#include "nbo/api/routes.hpp"
#include "nbo/api/service.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/http/message.hpp"
#include "nbo/json/document.hpp"

namespace nbo::models {
struct ModelSet;
}
namespace nbo::metrics {
class Counter;
class CounterFamily;
class Registry;
}  // namespace nbo::metrics
namespace nbo::store {
class ApiKeyStore;
}

namespace nbo::api {

// Reloads the models directory into the registry (model_reloader.cpp): build and validate every
// file, then publish the new set as one unit. Reloads are serialized by a mutex, so two at once
// publish in the order they finished loading and never interleave. Outcomes are counted in
// nbo_model_reloads_total{result="ok"|"failed"} and logged with the trigger.
// Thread safety: reload() may be called from any thread. Borrows the registry and metrics
// registry, which must outlive it.
class ModelReloader {
 public:
  ModelReloader(models::ModelRegistry& registry, std::filesystem::path directory,
                metrics::Registry& metrics);

  // The published set after a successful reload. Throws ApiError(errors::kReloadFailed) whose
  // message names the file and the problem (and the JSON path inside the file, when the file is
  // readable JSON); the published set is then untouched.
  std::shared_ptr<const models::ModelSet> reload(std::string_view trigger);

 private:
  ModelReloader(models::ModelRegistry& registry, std::filesystem::path directory,
                metrics::CounterFamily& reloads);

  models::ModelRegistry& registry_;
  std::filesystem::path directory_;  // empty: the published set's directory
  metrics::Counter& ok_;
  metrics::Counter& failed_;
  std::mutex mutex_;
};

// The API keys the service accepts, and the check of each request's key against the access its
// route needs (access.cpp). The key set is read from the store by refresh() and published as a
// whole; check() takes the published set once per request.
// Thread safety: every method may be called from any thread. Borrows the store and metrics
// registry, which must outlive it.
class Gatekeeper {
 public:
  Gatekeeper(store::ApiKeyStore& store, bool anonymous_without_keys, metrics::Registry& metrics);
  ~Gatekeeper();
  Gatekeeper(const Gatekeeper&) = delete;
  Gatekeeper& operator=(const Gatekeeper&) = delete;

  // Re-reads the active keys; returns their count. Throws StoreError (the published set is kept).
  std::size_t refresh();

  // Returns when `request` may use a route that needs `access`. Throws ApiError 401 unauthorized
  // (no key, a malformed or unknown or revoked one; with WWW-Authenticate) or 403 forbidden (an
  // active key of a lower role). The message names the key's id, never the token.
  void check(const http::Request& request, auth::Access access) const;

 private:
  Gatekeeper(store::ApiKeyStore& store, bool anonymous_without_keys, metrics::Registry& metrics,
             metrics::CounterFamily& refused);

  store::ApiKeyStore& store_;
  metrics::Registry& metrics_;
  const bool anonymous_without_keys_;
  mutable std::mutex mutex_;
  std::shared_ptr<const auth::KeySet> keys_;
  metrics::Counter& missing_;
  metrics::Counter& invalid_;
  metrics::Counter& forbidden_;
};

struct ServiceContext {
  ServiceDependencies deps;
  ServiceLimits limits;
  std::shared_ptr<ModelReloader> reloader{};  // POST /admin/reload and Service::reload_models()
  std::shared_ptr<Gatekeeper> gatekeeper{};   // every route's key check; /admin/keys

  // The model set this request scores with, taken once per request.
  std::shared_ptr<const models::ModelSet> model_set() const;
};

// A 200..599 response whose body is already JSON text.
http::Response json_response(unsigned status, std::string body);

// The body of `request`, parsed into a token tape. Throws ApiError: 415 unsupported_media_type
// for a declared non-JSON Content-Type, 400 empty_body, 400 too_deep past `max_depth`,
// 400 invalid_json with the byte offset of the syntax error.
json::Document read_json_body(const http::Request& request, std::size_t max_depth);

// Each name=value pair of a request's query string, in order: on_parameter(name, value). Pairs
// are separated by '&'; empty pairs are skipped and a pair without '=' has an empty value. Names
// and values are taken raw (not percent-decoded): nbo's parameters are plain words and numbers.
template <class OnParameter>
void for_each_query_parameter(std::string_view query, OnParameter&& on_parameter) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    on_parameter(pair.substr(0, eq), eq == std::string_view::npos ? "" : pair.substr(eq + 1));
  }
}

// A query parameter's whole number from 0 to `max`; throws ApiError invalid_value (not a whole
// number) or out_of_range (above `max`) naming the parameter.
std::size_t query_integer(std::string_view name, std::string_view text, std::size_t max);

// The ApiError (unknown_field) of a query parameter a route does not take; `known` lists those
// it takes ("limit, offset"), empty for a route that takes none.
ApiError unknown_query_parameter(std::string_view name, std::string_view known);

// A customer that failed validation, as the API answers it: the error's code looked up in the
// error table, its field placed under `features_path` ("features", "customers[3].features").
ApiError features_error(const features::ValidationError& error, std::string_view features_path);

// Whether `id` is a customer id: 1..128 printable ASCII characters without spaces (0x21-0x7e).
bool is_valid_customer_id(std::string_view id) noexcept;

// The customer id of a path or body: 1..128 printable ASCII characters without spaces; throws
// ApiError invalid_value naming `field` otherwise.
std::string validated_customer_id(std::string_view id, std::string_view field);
inline constexpr std::size_t kMaxCustomerIdLength = 128;

// A POST route that scores customers with the churn model in /predict's request shapes (one
// customer or a batch, by features or by stored id; see predict_io.hpp) and writes each scored
// customer with `write_item`. /predict and /segment are such routes (scoring_route.cpp).
struct ScoringRoute {
  std::string path;
  std::string summary;
  std::string metric_name;  // counter of customers answered, by outcome (scored, rejected)
  std::string metric_help;
  // Explain each customer: limits.default_reasons reasons, or as many as ?reasons=N asks (0 up
  // to features::kFieldCount); a route that does not explain takes no query parameter.
  bool explain = false;
  bool needs_segments = false;  // 503 model_not_loaded when the set has no segments
  std::function<void(json::Writer&, const models::ModelSet&, const models::Prediction&,
                     const PredictItem&)>
      write_item;
  std::function<void(json::Writer&, const models::ModelSet&)> write_model;  // batch "model"
};
void add_scoring_route(RouteTable& table, const ServiceContext& context, ScoringRoute route);

// Each area adds its routes (one call per area, from the Service's constructor).
void add_predict_routes(RouteTable& table, const ServiceContext& context);
void add_customer_routes(RouteTable& table, const ServiceContext& context);
void add_operations_routes(RouteTable& table, const ServiceContext& context);
void add_segment_routes(RouteTable& table, const ServiceContext& context);
void add_offers_routes(RouteTable& table, const ServiceContext& context);
void add_key_routes(RouteTable& table, const ServiceContext& context);

}  // namespace nbo::api
