// The segments area's routes:
//   POST /segment                  a customer's (or a batch's) segment, value at risk, actions
//   GET  /segments                 the loaded segments file: thresholds, rules, actions, figures
//   GET  /campaigns/{segment_id}   stored customers of one segment (or "all") by value at risk,
//                                  contactable ones apart from those who refused messages
// A campaign list reads customer_segments (migrations/0002_segments.sql). Rows computed by
// another model set, and customers stored before segments were loaded, are segmented first, in
// chunks, within kRefreshBudget per request; while some remain the list answers 503
// segments_refreshing (Retry-After: 1) saying how many, so a caller never gets a list that
// mixes two model versions.
#include <fmt/format.h>

#include <chrono>

#include "nbo/api/errors.hpp"
#include "nbo/api/segment_io.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/customer_store.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

constexpr std::size_t kDefaultCampaignLimit = 100;
constexpr std::size_t kMaxCampaignLimit = 10000;
constexpr std::size_t kMaxCampaignOffset = 10'000'000;
constexpr std::size_t kRefreshChunk = 2000;
constexpr auto kRefreshBudget = std::chrono::seconds(2);

struct CampaignParameters {
  std::size_t limit = kDefaultCampaignLimit;
  std::size_t offset = 0;
};

// ?limit=N&offset=M; anything else is an error naming the parameter.
CampaignParameters read_campaign_query(std::string_view query) {
  CampaignParameters parameters;
  for_each_query_parameter(query, [&](std::string_view name, std::string_view value) {
    if (name == "limit") {
      parameters.limit = query_integer(name, value, kMaxCampaignLimit);
      if (parameters.limit == 0) {
        throw ApiError(errors::kOutOfRange, "limit", "'limit' must be at least 1");
      }
    } else if (name == "offset") {
      parameters.offset = query_integer(name, value, kMaxCampaignOffset);
    } else {
      throw unknown_query_parameter(name, "limit, offset");
    }
  });
  return parameters;
}

class CampaignHandler {
 public:
  explicit CampaignHandler(const ServiceContext& context) : context_(context) {}

  http::Response operator()(const http::Request& request, const PathParameters& path) const {
    const std::string segment_id(path.get("segment_id"));
    const CampaignParameters parameters = read_campaign_query(request.query);
    const auto set = context_.model_set();
    if (!set->churn || !set->segments) {
      throw ApiError(errors::kModelNotLoaded, "",
                     "the churn model and the segments must both be loaded for campaign lists");
    }
    const segments::SegmentModel& model = *set->segments;
    const segments::Segment* segment = nullptr;
    if (segment_id != "all") {
      segment = model.find_segment(segment_id);
      if (segment == nullptr) {
        throw ApiError(errors::kSegmentNotFound, "segment_id",
                       fmt::format("no segment '{}' in segments {} (GET /segments lists them)",
                                   segment_id, model.metadata().version));
      }
    }
    const std::string key = segments_key(*set->churn, model);
    refresh(*set, key);

    store::CampaignQuery query{.scored_by = key,
                               .segment_id = segment ? segment->id : std::string(),
                               .contactable = true,
                               .limit = parameters.limit,
                               .offset = parameters.offset};
    std::string body;
    json::Writer writer(body);
    writer.begin_object();
    writer.key("contactable");
    write_list(writer, query);
    writer.member_integer("limit", static_cast<std::int64_t>(parameters.limit));
    writer.key("model");
    write_segment_model_summary(writer, *set->churn, model);
    query.contactable = false;
    writer.key("not_contactable");
    write_list(writer, query);
    writer.member_integer("offset", static_cast<std::int64_t>(parameters.offset));
    writer.key("segment");
    if (segment != nullptr) {
      write_segment(writer, model, *segment);
    } else {
      writer.null();
    }
    writer.end_object();
    return json_response(200, std::move(body));
  }

 private:
  // Segments every stored customer that has no row of this model set yet, within the budget.
  void refresh(const models::ModelSet& set, const std::string& key) const {
    store::CustomerStore& customers = context_.deps.customers;
    if (customers.segments_complete(key)) return;
    const auto deadline = std::chrono::steady_clock::now() + kRefreshBudget;
    std::int64_t after = 0;
    std::vector<const features::RawCustomer*> batch;
    std::vector<std::pair<std::string, store::CustomerSegment>> rows;
    while (true) {
      store::CustomersToSegment next = customers.customers_to_segment(key, after, kRefreshChunk);
      after = next.last_rowid;
      batch.clear();
      rows.clear();
      for (const auto& customer : next.customers) batch.push_back(&customer.features);
      const auto results = set.churn->predict_many(batch);
      for (std::size_t i = 0; i < results.size(); ++i) {
        const auto* prediction = std::get_if<models::Prediction>(&results[i]);
        // A stored customer the model cannot score (it lacks a field the model requires, or
        // its probability is not finite) gets no row: it is in no list.
        if (prediction == nullptr) continue;
        auto row = customer_segment(*set.churn, *set.segments, prediction->probability,
                                    next.customers[i].features);
        if (row) rows.emplace_back(next.customers[i].customer_id, std::move(*row));
      }
      customers.record_segments(rows);
      if (next.done) {
        customers.mark_segments_complete(key);
        return;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        throw ApiError(errors::kSegmentsRefreshing, "",
                       fmt::format("stored customers are being segmented by models {}; the "
                                   "list is ready when none is left: retry",
                                   key));
      }
    }
  }

  void write_list(json::Writer& writer, const store::CampaignQuery& query) const {
    const auto entries = context_.deps.customers.campaign(query);
    writer.begin_object();
    writer.key("customers");
    writer.begin_array();
    for (const auto& entry : entries) {
      writer.begin_object();
      writer.key("allow_messages");
      if (entry.allow_messages) {
        writer.boolean(*entry.allow_messages);
      } else {
        writer.null();
      }
      writer.member("customer_id", entry.customer_id);
      writer.member("probability", entry.probability);
      writer.key("profit");
      if (entry.profit) {
        writer.number(*entry.profit);
      } else {
        writer.null();
      }
      writer.member("segment_id", entry.segment_id);
      writer.key("value_at_risk");
      if (entry.value_at_risk) {
        writer.number(*entry.value_at_risk);
      } else {
        writer.null();
      }
      writer.end_object();
    }
    writer.end_array();
    writer.member_integer("total",
                          static_cast<std::int64_t>(context_.deps.customers.campaign_size(query)));
    writer.end_object();
  }

  const ServiceContext& context_;
};

}  // namespace

void add_segment_routes(RouteTable& table, const ServiceContext& context) {
  add_scoring_route(table, context,
                    {.path = "/segment",
                     .summary = "segment, value at risk and actions of one customer or a batch",
                     .metric_name = "nbo_segmentations_total",
                     .metric_help = "Customers segmented by POST /segment, by outcome",
                     .explain = false,
                     .needs_segments = true,
                     .write_item =
                         [](json::Writer& writer, const models::ModelSet& set,
                            const models::Prediction& prediction, const PredictItem& item) {
                           write_segment_answer(writer, *set.churn, *set.segments,
                                                prediction.probability, *item.customer,
                                                item.customer_id);
                         },
                     .write_model =
                         [](json::Writer& writer, const models::ModelSet& set) {
                           write_segment_model_summary(writer, *set.churn, *set.segments);
                         }});

  const ServiceContext* ctx = &context;
  table.add({.method = "GET",
             .path = "/segments",
             .handler =
                 [ctx](const http::Request&, const PathParameters&) {
                   const auto set = ctx->model_set();
                   if (!set->segments) {
                     throw ApiError(errors::kModelNotLoaded, "",
                                    "the segments are not loaded (no segments.json in the "
                                    "models directory; see nbo train segments)");
                   }
                   return json_response(200, set->segments->to_json().dump());
                 },
             .dispatch = always(http::Dispatch::kInline),
             .summary = "the loaded segments: thresholds, rules, actions and their evidence",
             .access = auth::Access::kScorer});

  auto campaigns = std::make_shared<const CampaignHandler>(context);
  table.add({.method = "GET",
             .path = "/campaigns/{segment_id}",
             .handler =
                 [campaigns](const http::Request& request, const PathParameters& parameters) {
                   return (*campaigns)(request, parameters);
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "stored customers of a segment (or all) by value at risk, top N",
             .access = auth::Access::kScorer});
}

}  // namespace nbo::api
