#include "nbo/api/service.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <vector>

#include "nbo/api/errors.hpp"
#include "nbo/http/error_body.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/store/error.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

constexpr std::string_view kUnmatchedRoute = "unmatched";

// Bounded label values: an arbitrary method sent by a client must not create a new series.
constexpr std::array<std::string_view, 8> kMethodLabels{"GET",  "POST",  "PUT",     "DELETE",
                                                        "HEAD", "PATCH", "OPTIONS", "other"};
std::size_t method_label_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodLabels.size(); ++i) {
    if (method == kMethodLabels[i]) return i;
  }
  return kMethodLabels.size() - 1;
}

// The metric children of one route label, resolved once: a request only does an array index
// and an atomic increment. Counters by (method, status) are created on first use.
class RouteMetrics {
 public:
  RouteMetrics(std::string route, metrics::CounterFamily& requests,
               metrics::HistogramFamily& seconds)
      : route_(std::move(route)), requests_(requests), seconds_(seconds.with({route_})) {}

  const std::string& route() const noexcept { return route_; }

  void observe(std::string_view method, unsigned status, double seconds) {
    seconds_.observe(seconds);
    const std::size_t m = method_label_index(method);
    const std::size_t s =
        status >= kFirstStatus && status < kFirstStatus + kStatuses ? status - kFirstStatus : 0;
    auto& slot = counters_[m][s];
    metrics::Counter* counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Concurrent first uses resolve the same child: the registry returns one per label set.
      counter = &requests_.with(
          {route_, std::string(kMethodLabels[m]), std::to_string(kFirstStatus + s)});
      slot.store(counter, std::memory_order_release);
    }
    counter->inc();
  }

 private:
  static constexpr unsigned kFirstStatus = 100;
  static constexpr unsigned kStatuses = 500;  // 100..599

  std::string route_;
  metrics::CounterFamily& requests_;
  metrics::Histogram& seconds_;
  std::array<std::array<std::atomic<metrics::Counter*>, kStatuses>, kMethodLabels.size()>
      counters_{};
};

}  // namespace

struct Service::Impl {
  ServiceContext context;
  RouteTable table;
  metrics::CounterFamily& requests_total;
  metrics::HistogramFamily& request_seconds;
  // One per route label; filled in the constructor, then only read (no lock needed). A handful
  // of entries: a linear scan beats hashing the label.
  std::vector<std::unique_ptr<RouteMetrics>> route_metrics;

  Impl(ServiceDependencies dependencies, ServiceLimits limits)
      : context{std::move(dependencies), limits},
        requests_total(context.deps.metrics.counter(
            "nbo_http_requests_total", "HTTP requests answered, by route, method and status",
            {"route", "method", "status"})),
        request_seconds(
            context.deps.metrics.histogram("nbo_http_request_duration_seconds",
                                           "Time from request read to response ready, by route",
                                           {"route"}, metrics::default_latency_buckets())) {
    context.reloader = std::make_shared<ModelReloader>(
        context.deps.models, context.deps.models_directory, context.deps.metrics);
    context.gatekeeper = std::make_shared<Gatekeeper>(
        context.deps.api_keys, context.limits.anonymous_without_keys, context.deps.metrics);
    context.gatekeeper->refresh();
    // The areas, one call each: every route is registered by its own area's file.
    add_predict_routes(table, context);
    add_customer_routes(table, context);
    add_operations_routes(table, context);
    add_segment_routes(table, context);
    add_offers_routes(table, context);
    add_key_routes(table, context);

    for (const auto& route : table.routes()) add_route_metrics(route.path);
    add_route_metrics(std::string(kUnmatchedRoute));
  }

  void add_route_metrics(const std::string& label) {
    if (find_route_metrics(label) == nullptr) {
      route_metrics.push_back(
          std::make_unique<RouteMetrics>(label, requests_total, request_seconds));
    }
  }

  RouteMetrics* find_route_metrics(std::string_view label) const {
    for (const auto& metrics : route_metrics) {
      if (metrics->route() == label) return metrics.get();
    }
    return nullptr;
  }

  http::Response route(const http::Request& request, RouteTable::Match& match) const {
    // The key is checked before anything else, so that a caller without one learns nothing, not
    // even whether a path exists: a path that matches no route needs a scorer key too.
    context.gatekeeper->check(request,
                              match.route != nullptr ? match.route->access : auth::Access::kScorer);
    if (match.route != nullptr) return match.route->handler(request, match.parameters);
    if (match.path_template.empty()) {
      throw ApiError(errors::kNotFound, "",
                     fmt::format("no route {} {}", request.method, request.path));
    }
    ApiError error(errors::kMethodNotAllowed, "",
                   fmt::format("{} does not accept {}; allowed: {}", match.path_template,
                               request.method, match.allow));
    error.add_header("Allow", match.allow);
    throw error;
  }
};

Service::Service(ServiceDependencies dependencies, ServiceLimits limits)
    : impl_(std::make_unique<Impl>(std::move(dependencies), limits)) {}

Service::~Service() = default;

namespace {

// A failure nobody planned for: logged with the request id, answered 500 without details.
http::Response internal_error_response(const http::Request& request, const std::string& route,
                                       const std::exception& error) {
  spdlog::error("request_id={} {} {}: internal error: {}", request.request_id, request.method,
                request.path, error.what());
  auto response = http::error_response(500, errors::kInternalError.code,
                                       "internal error; the server log has the details under "
                                       "this request id",
                                       request.request_id);
  response.route = route;
  return response;
}

}  // namespace

http::Response Service::handle(const http::Request& request) const {
  auto match = impl_->table.find(request.method, request.path);
  const std::string route(match.path_template);
  try {
    http::Response response = impl_->route(request, match);
    response.route = route;
    return response;
  } catch (const ApiError& error) {
    auto response = http::error_response(error.status(), error.code(), error.what(),
                                         request.request_id, error.field());
    for (const auto& header : error.headers()) response.headers.push_back(header);
    if (error.status() == 503) response.headers.emplace_back("Retry-After", "1");
    response.route = route;
    return response;
  } catch (const store::StoreError& error) {
    if (!error.storage_unavailable()) return internal_error_response(request, route, error);
    spdlog::error("request_id={} {} {}: storage unavailable: {}", request.request_id,
                  request.method, request.path, error.what());
    auto response = http::error_response(
        503, errors::kStorageUnavailable.code,
        "the database cannot take writes now (disk full, read-only, busy); nothing was written",
        request.request_id);
    response.headers.emplace_back("Retry-After", "1");
    response.route = route;
    return response;
  } catch (const std::exception& error) {
    return internal_error_response(request, route, error);
  }
}

http::Dispatch Service::dispatch(const http::Request& request) const {
  const auto match = impl_->table.find(request.method, request.path);
  return match.route != nullptr ? match.route->dispatch(request) : http::Dispatch::kInline;
}

void Service::on_request_finished(const http::Request& request, const http::Response& response,
                                  double seconds) {
  const std::string_view label = response.route.empty() ? kUnmatchedRoute : response.route;
  if (auto* metrics = impl_->find_route_metrics(label)) {
    metrics->observe(request.method, response.status, seconds);
  }
}

std::shared_ptr<const models::ModelSet> Service::reload_models(std::string_view trigger) const {
  return impl_->context.reloader->reload(trigger);
}

std::size_t Service::refresh_keys() const {
  return impl_->context.gatekeeper->refresh();
}

std::vector<RouteInfo> Service::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& route : impl_->table.routes()) {
    out.push_back({route.method, route.path, route.access});
  }
  return out;
}

}  // namespace nbo::api
