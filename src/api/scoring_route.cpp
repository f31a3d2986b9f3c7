// The machinery shared by the routes that score customers in /predict's request shapes (one
// customer or a batch, by features or by stored id): reading the body, resolving stored
// customers in one snapshot, scoring, per-item errors in batches, the request log and the
// prediction counters. Each such route (predict_routes.cpp, segment_routes.cpp) adds only how an
// answer is written.
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <string_view>
#include <vector>

#include "nbo/api/errors.hpp"
#include "nbo/api/predict_io.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/request_log.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

class ScoringHandler {
 public:
  ScoringHandler(const ServiceContext& context, ScoringRoute route)
      : context_(context),
        route_(std::move(route)),
        predictions_(
            context.deps.metrics.counter(route_.metric_name, route_.metric_help, {"outcome"})),
        scored_(predictions_.with({"scored"})),
        rejected_(predictions_.with({"rejected"})) {}

  // Small bodies with the customer's features are pure CPU: scored on the I/O thread. Batches
  // and stored-customer lookups (a database read) go to the workers.
  http::Dispatch dispatch(const http::Request& request) const {
    if (request.body.size() > context_.limits.max_inline_body_bytes) return http::Dispatch::kWorker;
    // memmem, not std::string::find: find stops at every '"' of the body (a single customer's
    // body has about forty) to compare the rest; glibc's memmem scans for the whole word at once,
    // 196 -> 83 ns for both searches on a store customer's body.
    const auto contains = [&](std::string_view word) {
      return memmem(request.body.data(), request.body.size(), word.data(), word.size()) != nullptr;
    };
    return contains("\"features\"") && !contains("\"customers\"") ? http::Dispatch::kInline
                                                                  : http::Dispatch::kWorker;
  }

  http::Response operator()(const http::Request& request, const PathParameters&) const {
    // Checked first, so that a writer that is behind costs a 503, not the scoring.
    if (rejects_unlogged() && !context_.deps.request_log.has_room()) throw request_log_full();
    const std::size_t reasons = reasons_asked(request.query);
    const auto body = read_json_body(request, context_.limits.max_json_depth);
    const auto model_set = context_.model_set();
    if (!model_set->churn) {
      throw ApiError(errors::kModelNotLoaded, "", "the churn model is not loaded yet");
    }
    if (route_.needs_segments && !model_set->segments) {
      throw ApiError(errors::kModelNotLoaded, "",
                     "the segments are not loaded (no segments.json in the models directory; "
                     "see nbo train segments)");
    }
    PredictRequest predict = read_predict_request(body.root(), context_.limits.max_batch);
    resolve_stored(predict);
    return predict.batch ? answer_batch(request, *model_set, predict, reasons)
                         : answer_one(request, *model_set, predict, reasons);
  }

 private:
  // The reasons to answer per customer: ?reasons=N (0 to every field), else the default; 0 for a
  // route that does not explain, which takes no query parameter.
  std::size_t reasons_asked(std::string_view query) const {
    std::size_t reasons = route_.explain ? context_.limits.default_reasons : 0;
    for_each_query_parameter(query, [&](std::string_view name, std::string_view value) {
      if (!route_.explain) throw unknown_query_parameter(name, "");
      if (name != "reasons") throw unknown_query_parameter(name, "reasons");
      reasons = query_integer(name, value, features::kFieldCount);
    });
    return reasons;
  }

  // Reads the stored features of every item that named only its customer_id, in one snapshot.
  void resolve_stored(PredictRequest& predict) const {
    std::vector<std::string> ids;
    std::vector<std::size_t> positions;
    for (std::size_t i = 0; i < predict.items.size(); ++i) {
      const auto& item = predict.items[i];
      if (!item.error && !item.customer) {
        ids.push_back(item.customer_id);
        positions.push_back(i);
      }
    }
    if (ids.empty()) return;
    const auto stored = context_.deps.customers.find_many(ids);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const std::size_t i = positions[k];
      auto& item = predict.items[i];
      if (!stored[k]) {
        const std::string prefix = predict.batch ? fmt::format("customers[{}].", i) : "";
        item.error = ApiError(errors::kCustomerNotFound, prefix + "customer_id",
                              fmt::format("no stored features for customer '{}'; send "
                                          "'features' or PUT /customers/{}",
                                          item.customer_id, item.customer_id));
        continue;
      }
      item.customer = stored[k]->features;
      item.from_store = true;
    }
  }

  // Scores `item` with up to `reasons` reasons. Throws features::ValidationError when the
  // customer lacks a field the model requires.
  static models::Prediction score(const models::ModelSet& set, const PredictItem& item,
                                  std::size_t reasons) {
    return set.churn->predict(*item.customer, reasons);
  }

  bool rejects_unlogged() const {
    return context_.deps.request_log.options().overflow == store::RequestLogOverflow::kReject;
  }

  static ApiError request_log_full() {
    return ApiError(errors::kRequestLogFull, "",
                    "the request log's writer is behind; nothing was scored or logged");
  }

  // The request log row of one answered customer (what an audit needs; the input only with
  // --request-log-input). log() stamps the request's time and latency, the same on every row of
  // the request, which the log stores once per request.
  store::RequestLogEntry log_entry(const http::Request& request, const models::ChurnModel& model,
                                   const PredictItem& item,
                                   const models::Prediction& prediction) const {
    store::RequestLogEntry entry;
    entry.request_id = request.request_id;
    entry.route = route_.path;
    entry.customer_id = item.customer_id;
    entry.model_version = model.metadata().version;
    entry.probability = prediction.probability;
    if (prediction.risk_band != nullptr) entry.band = prediction.risk_band->name;
    entry.status = 200;
    if (context_.limits.log_request_input) {
      json::Writer input(entry.input);
      write_logged_input(input, item);
    }
    return entry;
  }

  // Hands the answered customers' rows to the request log, all or none. When the log refuses
  // them (its queue is full) and the server runs with --request-log-overflow reject, the
  // answer is not sent: 503, so no acknowledged request goes unlogged.
  void log(const http::Request& request, std::vector<store::RequestLogEntry>& entries) const {
    const auto now = std::chrono::steady_clock::now();
    // The wall-clock time of receipt: now, less the time since receipt on the steady clock.
    const auto received_at =
        std::chrono::system_clock::now() -
        std::chrono::duration_cast<std::chrono::system_clock::duration>(now - request.received_at);
    const std::int64_t received_at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(received_at.time_since_epoch())
            .count();
    const std::int64_t latency_us =
        std::chrono::duration_cast<std::chrono::microseconds>(now - request.received_at).count();
    for (auto& entry : entries) {
      entry.received_at_ms = received_at_ms;
      entry.latency_us = latency_us;
    }
    if (!context_.deps.request_log.enqueue(entries) && rejects_unlogged()) {
      throw request_log_full();
    }
  }

  http::Response answer_one(const http::Request& request, const models::ModelSet& set,
                            PredictRequest& predict, std::size_t reasons) const {
    const PredictItem& item = predict.items[0];
    if (item.error) throw *item.error;
    // Room for an answer as large as this thread's last one: the body is written in one
    // allocation instead of growing through eight (an answer with its segment is about 1.4 KB).
    thread_local std::size_t last_answer_bytes = 0;
    std::string body;
    body.reserve(last_answer_bytes);
    std::vector<store::RequestLogEntry> entries;
    try {
      const models::Prediction prediction = score(set, item, reasons);
      json::Writer writer(body);
      route_.write_item(writer, set, prediction, item);
      last_answer_bytes = body.size();
      entries.push_back(log_entry(request, *set.churn, item, prediction));
    } catch (const features::ValidationError& error) {
      rejected_.inc();
      throw features_error(error, "features");
    }
    log(request, entries);
    scored_.inc();
    return json_response(200, std::move(body));
  }

  http::Response answer_batch(const http::Request& request, const models::ModelSet& set,
                              PredictRequest& predict, std::size_t reasons) const {
    std::string body;
    json::Writer writer(body);
    // Members in byte order of their names, as the API has always written them.
    writer.begin_object();
    std::size_t scored = 0;
    std::vector<store::RequestLogEntry> entries;
    entries.reserve(predict.items.size());
    // "failed" comes first but is known only at the end: results are written to a buffer.
    std::string results;
    json::Writer results_writer(results);
    results_writer.begin_array();
    for (std::size_t i = 0; i < predict.items.size(); ++i) {
      auto& item = predict.items[i];
      if (!item.error) {
        try {
          const models::Prediction prediction = score(set, item, reasons);
          route_.write_item(results_writer, set, prediction, item);
          entries.push_back(log_entry(request, *set.churn, item, prediction));
          // The first answer's size tells how much room the others need.
          if (scored++ == 0) results.reserve(results.size() * predict.items.size() + 64);
          continue;
        } catch (const features::ValidationError& error) {
          item.error = features_error(error, fmt::format("customers[{}].features", i));
        }
      }
      results_writer.begin_object();
      if (!item.customer_id.empty()) results_writer.member("customer_id", item.customer_id);
      results_writer.key("error");
      item.error->write(results_writer);
      results_writer.member_integer("status", item.error->status());
      results_writer.end_object();
    }
    results_writer.end_array();
    log(request, entries);
    const std::size_t rejected = predict.items.size() - scored;
    scored_.inc(static_cast<double>(scored));
    rejected_.inc(static_cast<double>(rejected));

    writer.member_integer("failed", static_cast<std::int64_t>(rejected));
    writer.key("model");
    route_.write_model(writer, set);
    writer.member("request_id", request.request_id);
    writer.key("results");
    writer.raw(results);
    writer.member_integer("scored", static_cast<std::int64_t>(scored));
    writer.end_object();
    return json_response(200, std::move(body));
  }

  const ServiceContext& context_;
  ScoringRoute route_;
  metrics::CounterFamily& predictions_;
  metrics::Counter& scored_;
  metrics::Counter& rejected_;
};

}  // namespace

void add_scoring_route(RouteTable& table, const ServiceContext& context, ScoringRoute route) {
  std::string path = route.path;
  std::string summary = route.summary;
  auto handler = std::make_shared<const ScoringHandler>(context, std::move(route));
  table.add(
      {.method = "POST",
       .path = std::move(path),
       .handler = [handler](
                      const http::Request& request,
                      const PathParameters& parameters) { return (*handler)(request, parameters); },
       .dispatch = [handler](const http::Request& request) { return handler->dispatch(request); },
       .summary = std::move(summary),
       .access = auth::Access::kScorer});
}

}  // namespace nbo::api
