// The operations area: GET /models, /health, /ready and /metrics, and POST /admin/reload. All
// cheap and CPU-only but /ready, whose database check writes, and the reload, which reads the
// model files; those two run on the workers.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <optional>
#include <utility>

#include "nbo/features/customer.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/offers/offer_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "nbo/store/request_log.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

void write_churn_model_info(json::Writer& writer, const models::ChurnModel& model,
                            const std::string& loaded_at) {
  // Members in byte order of their names, as the API has always written them.
  const auto& meta = model.metadata();
  writer.begin_object();
  writer.member("calibration", model.calibration().type);
  writer.member("estimator", model.estimator().type());
  writer.key("features");
  writer.begin_array();
  for (const auto& spec : model.pipeline().specs()) {
    writer.begin_object();
    writer.member("name", features::store_field(spec.field).api_name);
    writer.member("required", spec.missing == features::MissingPolicy::kReject);
    writer.end_object();
  }
  writer.end_array();
  writer.member("kind", "churn");
  writer.member("loaded_at", loaded_at);
  writer.key("metrics");
  writer.raw(meta.metrics.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  writer.member("name", meta.name);
  writer.key("risk_bands");
  writer.begin_array();
  for (const auto& band : model.decision().bands) {
    writer.begin_object();
    writer.member("name", band.name);
    writer.member("upper", band.upper);
    writer.end_object();
  }
  writer.end_array();
  writer.member("threshold", model.decision().threshold);
  writer.member("trained_at", meta.trained_at);
  writer.member("trainer", meta.trainer);
  writer.member("training_data_fingerprint", meta.training_data_fingerprint);
  writer.member("version", meta.version);
  writer.end_object();
}

// nbo_model_info{name, version} is 1 for the served churn model and 0 for the ones it replaced;
// brought up to date when /metrics is scraped.
class ModelInfoGauge {
 public:
  explicit ModelInfoGauge(metrics::Registry& registry)
      : family_(registry.gauge("nbo_model_info",
                               "Loaded model (1) by name and version; 0 for replaced ones",
                               {"name", "version"})) {}

  void update(const models::ModelSet& set) {
    if (!set.churn) return;
    std::pair<std::string, std::string> current{set.churn->metadata().name,
                                                set.churn->metadata().version};
    std::lock_guard lock(mutex_);
    if (current_ && *current_ != current) {
      family_.with({current_->first, current_->second}).set(0.0);
    }
    family_.with({current.first, current.second}).set(1.0);
    current_ = std::move(current);
  }

 private:
  metrics::GaugeFamily& family_;
  std::mutex mutex_;
  std::optional<std::pair<std::string, std::string>> current_;
};

void expose_request_log_metrics(metrics::Registry& registry, store::RequestLogWriter& log) {
  registry.gauge_callback("nbo_request_log_queue_depth",
                          "Scoring-request log rows waiting for the background writer",
                          [&log] { return static_cast<double>(log.queue_depth()); });
  registry.gauge_callback("nbo_request_log_queue_bytes",
                          "Bytes of request log rows waiting for the background writer "
                          "(bounded by --request-log-max-bytes)",
                          [&log] { return static_cast<double>(log.queue_bytes()); });
  registry.counter_callback("nbo_request_log_dropped_total",
                            "Request log rows dropped because the queue was full "
                            "(--request-log-overflow drop)",
                            [&log] { return static_cast<double>(log.dropped_total()); });
  registry.counter_callback("nbo_request_log_rejected_total",
                            "Request log rows refused because the queue was full; their requests "
                            "were answered 503 request_log_full (--request-log-overflow reject). "
                            "Requests refused before scoring count in nbo_http_requests_total "
                            "with status 503",
                            [&log] { return static_cast<double>(log.rejected_total()); });
  registry.counter_callback("nbo_request_log_purged_total",
                            "Request log rows deleted because they were older than "
                            "--request-log-retention-days",
                            [&log] { return static_cast<double>(log.purged_total()); });
  registry.counter_callback("nbo_request_log_written_total",
                            "Request log rows committed to the database",
                            [&log] { return static_cast<double>(log.written_total()); });
  registry.counter_callback("nbo_request_log_write_errors_total",
                            "Request log rows lost to write errors",
                            [&log] { return static_cast<double>(log.write_errors_total()); });
}

void write_segments_info(json::Writer& writer, const segments::SegmentModel& model,
                         const std::string& loaded_at) {
  const auto& meta = model.metadata();
  writer.begin_object();
  writer.member("churn_model_version", meta.churn_model_version);
  writer.member("kind", "segments");
  writer.member("loaded_at", loaded_at);
  writer.member("name", "segments");
  writer.member_integer("segments", static_cast<std::int64_t>(model.segments().size()));
  writer.member("trained_at", meta.trained_at);
  writer.member("trainer", meta.trainer);
  writer.member("training_data_fingerprint", meta.training_data_fingerprint);
  writer.member("version", meta.version);
  writer.end_object();
}

void write_offers_info(json::Writer& writer, const offers::OfferModel& model,
                       const std::string& loaded_at) {
  const auto& meta = model.metadata();
  writer.begin_object();
  writer.member("kind", "offers");
  writer.member("loaded_at", loaded_at);
  writer.member("name", meta.name);
  writer.member("trained_at", meta.trained_at);
  writer.member("trainer", meta.trainer);
  writer.member("training_data_fingerprint", meta.training_data_fingerprint);
  writer.member("version", meta.version);
  writer.end_object();
}

// "models": [...] of GET /models and of a reload's answer: every model of `set`, each with the
// time the set was loaded.
void write_models_member(json::Writer& writer, const models::ModelSet& set) {
  writer.key("models");
  writer.begin_array();
  if (set.churn) write_churn_model_info(writer, *set.churn, set.loaded_at);
  if (set.segments) write_segments_info(writer, *set.segments, set.loaded_at);
  if (set.offers) write_offers_info(writer, *set.offers, set.loaded_at);
  writer.end_array();
}

// A reload takes no parameters: the body is empty or {}. Anything else is named, as every
// route names a field it does not know.
void check_reload_body(const http::Request& request, std::size_t max_depth) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return;
  const json::Document document = read_json_body(request, max_depth);
  const json::Value root = document.root();
  if (!root.is_object()) {
    throw ApiError(
        errors::kInvalidType, "",
        fmt::format("the body must be an empty JSON object or absent, got {}", root.type_name()));
  }
  root.for_each_member([](std::string_view key, const json::Value&) {
    throw ApiError(errors::kUnknownField, std::string(key),
                   fmt::format("'{}' is not known: POST /admin/reload takes no parameters", key));
  });
}

}  // namespace

void add_operations_routes(RouteTable& table, const ServiceContext& context) {
  const ServiceContext* ctx = &context;
  expose_request_log_metrics(context.deps.metrics, context.deps.request_log);
  auto model_info = std::make_shared<ModelInfoGauge>(context.deps.metrics);

  table.add({.method = "GET",
             .path = "/models",
             .handler =
                 [ctx](const http::Request&, const PathParameters&) {
                   const auto set = ctx->model_set();
                   std::string body;
                   json::Writer writer(body);
                   writer.begin_object();
                   write_models_member(writer, *set);
                   writer.end_object();
                   return json_response(200, std::move(body));
                 },
             .dispatch = always(http::Dispatch::kInline),
             .summary = "metadata of the loaded models, with the time they were loaded",
             .access = auth::Access::kScorer});
  // The files it reads are the operator's (the models directory), never the caller's.
  table.add({.method = "POST",
             .path = "/admin/reload",
             .handler =
                 [ctx](const http::Request& request, const PathParameters&) {
                   check_reload_body(request, ctx->limits.max_json_depth);
                   const auto set = ctx->reloader->reload("POST /admin/reload");
                   std::string body;
                   json::Writer writer(body);
                   writer.begin_object();
                   writer.member("loaded_at", set->loaded_at);
                   write_models_member(writer, *set);
                   writer.member("status", "reloaded");
                   writer.end_object();
                   return json_response(200, std::move(body));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "reload every model and data file of the models directory",
             .access = auth::Access::kAdmin});
  table.add(
      {.method = "GET",
       .path = "/health",
       .handler = [](const http::Request&,
                     const PathParameters&) { return json_response(200, R"({"status":"alive"})"); },
       .dispatch = always(http::Dispatch::kInline),
       .summary = "liveness",
       .access = auth::Access::kPublic});
  table.add({.method = "GET",
             .path = "/ready",
             .handler =
                 [ctx](const http::Request&, const PathParameters&) {
                   const bool models_loaded = ctx->model_set()->ready();
                   bool database_ok = false;
                   try {
                     database_ok = ctx->deps.database_writable && ctx->deps.database_writable();
                   } catch (const std::exception& error) {
                     spdlog::warn("readiness: database check failed: {}", error.what());
                   }
                   const bool ready = models_loaded && database_ok;
                   std::string body;
                   json::Writer writer(body);
                   writer.begin_object();
                   writer.key("checks");
                   writer.begin_object();
                   writer.member("database_writable", database_ok);
                   writer.member("models_loaded", models_loaded);
                   writer.end_object();
                   writer.member("status", ready ? "ready" : "not_ready");
                   writer.end_object();
                   return json_response(ready ? 200 : 503, std::move(body));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "models loaded and database writable",
             .access = auth::Access::kPublic});
  table.add({.method = "GET",
             .path = "/metrics",
             .handler =
                 [ctx, model_info](const http::Request&, const PathParameters&) {
                   model_info->update(*ctx->model_set());
                   http::Response response;
                   response.status = 200;
                   response.content_type = metrics::kTextContentType;
                   response.body = ctx->deps.metrics.render();
                   return response;
                 },
             .dispatch = always(http::Dispatch::kInline),
             .summary = "Prometheus text format",
             .access = ctx->limits.metrics_public ? auth::Access::kPublic : auth::Access::kScorer});
}

}  // namespace nbo::api
