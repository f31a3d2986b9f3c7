#include "nbo/api/service.hpp"

#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>
#include <span>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "nbo/api/errors.hpp"
#include "nbo/api/request_json.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/http/error_body.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/request_log.hpp"
#include "nbo/store/timestamp.hpp"

namespace nbo::api {
namespace {

using nlohmann::json;

constexpr std::string_view kRoutePredict = "/predict";
constexpr std::string_view kRouteCustomer = "/customers/{id}";
constexpr std::string_view kRouteModels = "/models";
constexpr std::string_view kRouteHealth = "/health";
constexpr std::string_view kRouteReady = "/ready";
constexpr std::string_view kRouteMetrics = "/metrics";
constexpr std::string_view kCustomersPrefix = "/customers/";
constexpr std::size_t kMaxCustomerIdLength = 128;

http::Response json_response(unsigned status, const json& body, std::string_view route) {
  http::Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  response.route = std::string(route);
  return response;
}

json model_summary(const models::ChurnModel& model) {
  return {{"name", model.metadata().name}, {"version", model.metadata().version}};
}

// The customer id of a path or body: 1..128 printable ASCII characters without spaces.
std::string validated_customer_id(std::string_view id, std::string_view field) {
  if (id.empty() || id.size() > kMaxCustomerIdLength) {
    throw ApiError(422, "invalid_value", std::string(field),
                   fmt::format("'{}' must be 1 to {} characters", field, kMaxCustomerIdLength));
  }
  for (const char c : id) {
    if (c <= ' ' || c == 0x7f) {
      throw ApiError(422, "invalid_value", std::string(field),
                     fmt::format("'{}' must not contain spaces or control characters", field));
    }
  }
  return std::string(id);
}

// The route template a path belongs to ("" when none): the label of its metrics, also for errors.
std::string_view route_template(std::string_view path) {
  for (const auto route : {kRoutePredict, kRouteModels, kRouteHealth, kRouteReady, kRouteMetrics}) {
    if (path == route) return route;
  }
  if (path.starts_with(kCustomersPrefix) &&
      path.find('/', kCustomersPrefix.size()) == std::string_view::npos) {
    return kRouteCustomer;
  }
  return {};
}

// Bounded label values: an arbitrary method sent by a client must not create a new series.
std::string method_label(std::string_view method) {
  for (const std::string_view known : {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}) {
    if (method == known) return std::string(known);
  }
  return "other";
}

}  // namespace

struct Service::Impl {
  ServiceDependencies deps;
  ServiceLimits limits;

  metrics::CounterFamily& requests_total;
  metrics::HistogramFamily& request_seconds;
  metrics::GaugeFamily& model_info;
  metrics::CounterFamily& predictions_total;
  // The (name, version) last reported as 1 by nbo_model_info; set to 0 when replaced.
  mutable std::mutex model_info_mutex;
  mutable std::optional<std::pair<std::string, std::string>> model_info_current;

  Impl(ServiceDependencies dependencies, ServiceLimits service_limits)
      : deps(std::move(dependencies)),
        limits(service_limits),
        requests_total(deps.metrics.counter("nbo_http_requests_total",
                                            "HTTP requests answered, by route, method and status",
                                            {"route", "method", "status"})),
        request_seconds(deps.metrics.histogram(
            "nbo_http_request_duration_seconds",
            "Time from request read to response ready, by route", {"route"},
            metrics::default_latency_buckets())),
        model_info(deps.metrics.gauge("nbo_model_info",
                                      "Loaded model (1) by name and version; 0 for replaced ones",
                                      {"name", "version"})),
        predictions_total(deps.metrics.counter(
            "nbo_predictions_total", "Customers scored, by outcome", {"outcome"})) {
    auto& log = deps.request_log;
    deps.metrics.gauge_callback("nbo_request_log_queue_depth",
                                "Scoring-request log rows waiting for the background writer",
                                [&log] { return static_cast<double>(log.queue_depth()); });
    deps.metrics.counter_callback("nbo_request_log_dropped_total",
                                  "Request log rows dropped because the queue was full",
                                  [&log] { return static_cast<double>(log.dropped_total()); });
    deps.metrics.counter_callback("nbo_request_log_written_total",
                                  "Request log rows committed to the database",
                                  [&log] { return static_cast<double>(log.written_total()); });
    deps.metrics.counter_callback(
        "nbo_request_log_write_errors_total", "Request log rows lost to write errors",
        [&log] { return static_cast<double>(log.write_errors_total()); });
  }

  std::shared_ptr<const models::ChurnModel> churn_model() const {
    auto model = deps.models.churn();
    if (!model) {
      throw ApiError(503, "model_not_loaded", "", "the churn model is not loaded yet");
    }
    return model;
  }

  http::Response route(const http::Request& request) const {
    const std::string& path = request.path;
    const std::string& method = request.method;
    if (path == kRoutePredict) {
      require_method(request, {"POST"}, kRoutePredict);
      return predict(request);
    }
    if (path.starts_with(kCustomersPrefix)) {
      const std::string_view id = std::string_view(path).substr(kCustomersPrefix.size());
      if (id.find('/') == std::string_view::npos) {
        require_method(request, {"GET", "PUT"}, kRouteCustomer);
        return method == "PUT" ? put_customer(request, id) : get_customer(id);
      }
    }
    if (path == kRouteModels) {
      require_method(request, {"GET"}, kRouteModels);
      return list_models();
    }
    if (path == kRouteHealth) {
      require_method(request, {"GET"}, kRouteHealth);
      return json_response(200, {{"status", "alive"}}, kRouteHealth);
    }
    if (path == kRouteReady) {
      require_method(request, {"GET"}, kRouteReady);
      return ready();
    }
    if (path == kRouteMetrics) {
      require_method(request, {"GET"}, kRouteMetrics);
      return render_metrics();
    }
    throw ApiError(404, "not_found", "", fmt::format("no route {} {}", method, path));
  }

  static void require_method(const http::Request& request,
                             std::initializer_list<std::string_view> allowed,
                             std::string_view route) {
    for (const auto method : allowed) {
      if (request.method == method) return;
    }
    std::string allow;
    for (const auto method : allowed) allow += fmt::format("{}{}", allow.empty() ? "" : ", ", method);
    ApiError error(405, "method_not_allowed", "",
                   fmt::format("{} does not accept {}; allowed: {}", route,
                               request.method, allow));
    error.add_header("Allow", allow);
    throw error;
  }

  // ---- POST /predict -------------------------------------------------------------------------

  struct PredictItem {
    std::string customer_id;
    std::optional<features::RawCustomer> customer;  // from the request, or loaded from the store
    json input;                                     // as logged
  };

  json score(const models::ChurnModel& model, const PredictItem& item) const {
    const models::Prediction prediction = model.predict(*item.customer, limits.max_reasons);
    json reasons = json::array();
    const json raw = prediction.reasons.empty() ? json::object()
                                                : features::customer_to_json(*item.customer);
    for (const auto& reason : prediction.reasons) {
      const auto& field = features::store_field(reason.field);
      // An imputed field has no raw value: the reason then says null.
      const auto raw_value = raw.find(std::string(field.api_name));
      json value = raw_value == raw.end() ? json(nullptr) : *raw_value;
      reasons.push_back({{"feature", field.api_name},
                         {"value", std::move(value)},
                         {"contribution", reason.contribution},
                         {"direction", reason.contribution >= 0 ? "raises_risk" : "lowers_risk"}});
    }
    json imputed = json::array();
    for (const auto field : prediction.imputed) {
      imputed.push_back(features::store_field(field).api_name);
    }
    json result{{"probability", prediction.probability},
                {"label", prediction.label},
                {"threshold", model.decision().threshold},
                {"risk_band", prediction.risk_band->name},
                {"model", model_summary(model)},
                {"reasons", std::move(reasons)}};
    if (!item.customer_id.empty()) result["customer_id"] = item.customer_id;
    if (!imputed.empty()) result["imputed"] = std::move(imputed);
    return result;
  }

  // Parses one {"customer_id", "features"} object; throws ApiError naming `path`-prefixed fields.
  PredictItem parse_item(const json& object, const std::string& prefix) const {
    if (!object.is_object()) {
      throw ApiError(422, "invalid_type", prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1),
                     "each customer must be a JSON object");
    }
    PredictItem item;
    for (const auto& [key, value] : object.items()) {
      if (key == "customer_id") {
        if (!value.is_string()) {
          throw ApiError(422, "invalid_type", prefix + "customer_id",
                         "'customer_id' must be a string");
        }
        item.customer_id = validated_customer_id(value.get<std::string>(), prefix + "customer_id");
      } else if (key == "features") {
        try {
          item.customer = features::customer_from_json(value);
        } catch (const features::ValidationError& error) {
          throw ApiError(422, error.code(),
                         error.field() == "features" ? prefix + "features"
                                                     : prefix + "features." + error.field(),
                         error.what());
        }
      } else if (!(prefix.empty() && key == "customers")) {
        throw ApiError(422, "unknown_field", prefix + key,
                       fmt::format("unknown field '{}'; a customer has 'customer_id' and "
                                   "'features'",
                                   key));
      }
    }
    if (!item.customer && item.customer_id.empty()) {
      throw ApiError(422, "missing_field", prefix + "features",
                     "give 'features', or the 'customer_id' of a stored customer");
    }
    item.input = object;
    return item;
  }

  void resolve_stored(std::vector<PredictItem>& items,
                      std::vector<std::optional<ApiError>>& errors, bool batch) const {
    std::vector<std::string> ids;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!errors[i] && !items[i].customer) {
        ids.push_back(items[i].customer_id);
        positions.push_back(i);
      }
    }
    if (ids.empty()) return;
    const auto stored = deps.customers.find_many(ids);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const std::size_t i = positions[k];
      const std::string prefix = batch ? fmt::format("customers[{}].", i) : std::string();
      if (!stored[k]) {
        errors[i] = ApiError(404, "customer_not_found", prefix + "customer_id",
                             fmt::format("no stored features for customer '{}'; send "
                                         "'features' or PUT /customers/{}",
                                         items[i].customer_id, items[i].customer_id));
        continue;
      }
      try {
        items[i].customer = features::customer_from_json(stored[k]->features);
        items[i].input["features"] = stored[k]->features;
        items[i].input["features_source"] = "store";
      } catch (const features::ValidationError& error) {
        errors[i] = ApiError(422, error.code(), prefix + "features." + error.field(),
                             fmt::format("stored features are invalid: {}", error.what()));
      }
    }
  }

  void log_prediction(const http::Request& request, const models::ChurnModel& model,
                      const PredictItem& item, const json& output, int status) const {
    store::RequestLogEntry entry;
    entry.request_id = request.request_id;
    entry.received_at = store::utc_now_iso8601();
    entry.route = std::string(kRoutePredict);
    entry.customer_id = item.customer_id;
    entry.model_name = model.metadata().name;
    entry.model_version = model.metadata().version;
    entry.input = item.input.dump(-1, ' ', false, json::error_handler_t::replace);
    entry.output = output.dump(-1, ' ', false, json::error_handler_t::replace);
    entry.status = status;
    entry.latency_ms = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - request.received_at)
                           .count();
    deps.request_log.enqueue(std::move(entry));
  }

  http::Response predict(const http::Request& request) const {
    const json body = parse_request_body(request, limits.max_json_depth);
    if (!body.is_object()) throw ApiError(422, "invalid_type", "", "the body must be a JSON object");
    const auto model = churn_model();

    if (const auto batch = body.find("customers"); batch != body.end()) {
      if (body.contains("features") || body.contains("customer_id")) {
        throw ApiError(422, "invalid_value", "customers",
                       "send either one customer or a 'customers' batch, not both");
      }
      for (const auto& [key, value] : body.items()) {
        if (key != "customers") {
          throw ApiError(422, "unknown_field", key,
                         fmt::format("unknown field '{}'; a batch is {{\"customers\": [...]}}", key));
        }
      }
      return predict_batch(request, *model, *batch);
    }

    std::vector<PredictItem> items{parse_item(body, "")};
    std::vector<std::optional<ApiError>> errors(1);
    resolve_stored(items, errors, false);
    if (errors[0]) throw *errors[0];
    json result;
    try {
      result = score(*model, items[0]);
    } catch (const features::ValidationError& error) {
      predictions_total.with({"rejected"}).inc();
      throw ApiError(422, error.code(), "features." + error.field(), error.what());
    }
    predictions_total.with({"scored"}).inc();
    log_prediction(request, *model, items[0], result, 200);
    return json_response(200, result, kRoutePredict);
  }

  http::Response predict_batch(const http::Request& request, const models::ChurnModel& model,
                               const json& batch) const {
    if (!batch.is_array()) throw ApiError(422, "invalid_type", "customers", "'customers' must be an array");
    if (batch.empty()) throw ApiError(422, "invalid_value", "customers", "'customers' is empty");
    if (batch.size() > limits.max_batch) {
      throw ApiError(413, "batch_too_large", "customers",
                     fmt::format("a batch holds at most {} customers, got {}", limits.max_batch,
                                 batch.size()));
    }
    std::vector<PredictItem> items(batch.size());
    std::vector<std::optional<ApiError>> errors(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        items[i] = parse_item(batch[i], fmt::format("customers[{}].", i));
      } catch (const ApiError& error) {
        errors[i] = error;
        // Echo the item's customer_id in its error (PredictBatchResponse), when it is a string.
        if (batch[i].is_object()) {
          const auto id = batch[i].find("customer_id");
          if (id != batch[i].end() && id->is_string() && id->get_ref<const std::string&>().size() <= kMaxCustomerIdLength) {
            items[i].customer_id = id->get<std::string>();
          }
        }
      }
    }
    resolve_stored(items, errors, true);

    json results = json::array();
    std::size_t scored = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!errors[i]) {
        try {
          json result = score(model, items[i]);
          log_prediction(request, model, items[i], result, 200);
          results.push_back(std::move(result));
          ++scored;
          continue;
        } catch (const features::ValidationError& error) {
          errors[i] = ApiError(422, error.code(),
                               fmt::format("customers[{}].features.{}", i, error.field()),
                               error.what());
        }
      }
      json failed{{"error", errors[i]->to_json()}, {"status", errors[i]->status()}};
      if (!items[i].customer_id.empty()) failed["customer_id"] = items[i].customer_id;
      results.push_back(std::move(failed));
    }
    predictions_total.with({"scored"}).inc(static_cast<double>(scored));
    predictions_total.with({"rejected"}).inc(static_cast<double>(items.size() - scored));
    return json_response(200,
                         {{"results", std::move(results)},
                          {"model", model_summary(model)},
                          {"scored", scored},
                          {"failed", items.size() - scored},
                          {"request_id", request.request_id}},
                         kRoutePredict);
  }

  // ---- /customers/{id} -----------------------------------------------------------------------

  http::Response put_customer(const http::Request& request, std::string_view raw_id) const {
    const std::string id = validated_customer_id(raw_id, "customer_id");
    const json body = parse_request_body(request, limits.max_json_depth);
    if (!body.is_object()) throw ApiError(422, "invalid_type", "", "the body must be a JSON object");
    for (const auto& [key, value] : body.items()) {
      if (key != "features") {
        throw ApiError(422, "unknown_field", key,
                       fmt::format("unknown field '{}'; the body is {{\"features\": {{...}}}}", key));
      }
    }
    const auto features_it = body.find("features");
    if (features_it == body.end()) {
      throw ApiError(422, "missing_field", "features", "'features' is required");
    }
    features::RawCustomer customer;
    try {
      customer = features::customer_from_json(*features_it);
    } catch (const features::ValidationError& error) {
      throw ApiError(422, error.code(),
                     error.field() == "features" ? "features" : "features." + error.field(),
                     error.what());
    }
    const json normalized = features::customer_to_json(customer);
    deps.customers.upsert(id, normalized);
    const auto stored = deps.customers.find(id);
    json result{{"customer_id", id}, {"features", normalized}};
    if (stored) result["updated_at"] = stored->updated_at;
    auto response = json_response(200, result, kRouteCustomer);
    return response;
  }

  http::Response get_customer(std::string_view raw_id) const {
    const std::string id = validated_customer_id(raw_id, "customer_id");
    const auto stored = deps.customers.find(id);
    if (!stored) {
      throw ApiError(404, "customer_not_found", "customer_id",
                     fmt::format("no stored customer '{}'", id));
    }
    return json_response(200,
                         {{"customer_id", stored->customer_id},
                          {"features", stored->features},
                          {"updated_at", stored->updated_at}},
                         kRouteCustomer);
  }

  // ---- operations ------------------------------------------------------------------------------

  http::Response list_models() const {
    json list = json::array();
    if (const auto model = deps.models.churn()) {
      const auto& meta = model->metadata();
      json bands = json::array();
      for (const auto& band : model->decision().bands) {
        bands.push_back({{"name", band.name}, {"upper", band.upper}});
      }
      json inputs = json::array();
      for (const auto& spec : model->pipeline().specs()) {
        const auto& field = features::store_field(spec.field);
        inputs.push_back(
            {{"name", field.api_name},
             {"required", spec.missing == features::MissingPolicy::kReject}});
      }
      list.push_back({{"kind", "churn"},
                      {"name", meta.name},
                      {"version", meta.version},
                      {"trained_at", meta.trained_at},
                      {"training_data_fingerprint", meta.training_data_fingerprint},
                      {"trainer", meta.trainer},
                      {"estimator", model->estimator().type()},
                      {"calibration", model->calibration().type},
                      {"threshold", model->decision().threshold},
                      {"risk_bands", std::move(bands)},
                      {"features", std::move(inputs)},
                      {"metrics", meta.metrics}});
    }
    return json_response(200, {{"models", std::move(list)}}, kRouteModels);
  }

  http::Response ready() const {
    const bool models_loaded = deps.models.ready();
    bool database_ok = false;
    try {
      database_ok = deps.database_writable && deps.database_writable();
    } catch (const std::exception& error) {
      spdlog::warn("readiness: database check failed: {}", error.what());
    }
    const bool is_ready = models_loaded && database_ok;
    return json_response(is_ready ? 200 : 503,
                         {{"status", is_ready ? "ready" : "not_ready"},
                          {"checks", {{"models_loaded", models_loaded},
                                      {"database_writable", database_ok}}}},
                         kRouteReady);
  }

  http::Response render_metrics() const {
    if (const auto model = deps.models.churn()) {
      std::pair<std::string, std::string> current{model->metadata().name,
                                                  model->metadata().version};
      std::lock_guard lock(model_info_mutex);
      if (model_info_current && *model_info_current != current) {
        model_info.with({model_info_current->first, model_info_current->second}).set(0.0);
      }
      model_info.with({current.first, current.second}).set(1.0);
      model_info_current = std::move(current);
    }
    http::Response response;
    response.status = 200;
    response.content_type = std::string(metrics::kTextContentType);
    response.body = deps.metrics.render();
    response.route = std::string(kRouteMetrics);
    return response;
  }
};

Service::Service(ServiceDependencies dependencies, ServiceLimits limits)
    : impl_(std::make_unique<Impl>(std::move(dependencies), limits)) {}

Service::~Service() = default;

http::Response Service::handle(const http::Request& request) const {
  try {
    return impl_->route(request);
  } catch (const ApiError& error) {
    auto response = http::error_response(error.status(), error.code(), error.what(),
                                         request.request_id, error.field());
    for (const auto& header : error.headers()) response.headers.push_back(header);
    response.route = std::string(route_template(request.path));
    if (error.status() == 503) response.headers.emplace_back("Retry-After", "1");
    return response;
  } catch (const std::exception& error) {
    spdlog::error("request_id={} {} {}: internal error: {}", request.request_id, request.method,
                  request.path, error.what());
    auto response = http::error_response(500, "internal_error",
                                         "internal error; the server log has the details under "
                                         "this request id",
                                         request.request_id);
    response.route = std::string(route_template(request.path));
    return response;
  }
}

void Service::on_request_finished(const http::Request& request, const http::Response& response,
                                  double seconds) {
  const std::string route = response.route.empty() ? "unmatched" : response.route;
  impl_->requests_total.with({route, method_label(request.method), std::to_string(response.status)})
      .inc();
  impl_->request_seconds.with({route}).observe(seconds);
}

const std::vector<RouteInfo>& Service::routes() {
  static const std::vector<RouteInfo> kRoutes{
      {"POST", std::string(kRoutePredict)},  {"PUT", std::string(kRouteCustomer)},
      {"GET", std::string(kRouteCustomer)},  {"GET", std::string(kRouteModels)},
      {"GET", std::string(kRouteHealth)},    {"GET", std::string(kRouteReady)},
      {"GET", std::string(kRouteMetrics)},
  };
  return kRoutes;
}

}  // namespace nbo::api
