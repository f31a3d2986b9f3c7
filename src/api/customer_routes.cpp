// The store area's customer routes: PUT and GET /customers/{id}. Both touch the database, so
// they run on the workers.
#include <fmt/format.h>

#include <optional>

#include "nbo/api/errors.hpp"
#include "nbo/api/segment_io.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/customer_store.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

std::string customer_body(std::string_view id, const features::RawCustomer& customer,
                          std::string_view updated_at) {
  std::string body;
  json::Writer writer(body);
  writer.begin_object();
  writer.member("customer_id", id);
  writer.key("features");
  features::write_customer(writer, customer);
  writer.member("updated_at", updated_at);
  writer.end_object();
  return body;
}

// The `features` member of a PUT body, validated.
features::RawCustomer read_put_body(json::Value body) {
  if (!body.is_object()) {
    throw ApiError(errors::kInvalidType, "", "the body must be a JSON object");
  }
  std::optional<json::Value> features_value;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key != "features") {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}'; the body is {{\"features\": {{...}}}}", key));
    }
    features_value = value;
  });
  if (!features_value) throw ApiError(errors::kMissingField, "features", "'features' is required");
  try {
    return features::customer_from_json(*features_value);
  } catch (const features::ValidationError& error) {
    throw features_error(error, "features");
  }
}

}  // namespace

void add_customer_routes(RouteTable& table, const ServiceContext& context) {
  const ServiceContext* ctx = &context;
  table.add({.method = "GET",
             .path = "/customers/{id}",
             .handler =
                 [ctx](const http::Request&, const PathParameters& parameters) {
                   const std::string id =
                       validated_customer_id(parameters.get("id"), "customer_id");
                   const auto stored = ctx->deps.customers.find(id);
                   if (!stored) {
                     throw ApiError(errors::kCustomerNotFound, "customer_id",
                                    fmt::format("no stored customer '{}'", id));
                   }
                   return json_response(200, customer_body(stored->customer_id, stored->features,
                                                           stored->updated_at));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "the stored features of a customer",
             .access = auth::Access::kScorer});
  table.add({.method = "PUT",
             .path = "/customers/{id}",
             .handler =
                 [ctx](const http::Request& request, const PathParameters& parameters) {
                   const std::string id =
                       validated_customer_id(parameters.get("id"), "customer_id");
                   const auto body = read_json_body(request, ctx->limits.max_json_depth);
                   const features::RawCustomer customer = read_put_body(body.root());
                   // With segments loaded, the customer's segment row is written with it, so
                   // campaign lists need not segment it later.
                   const auto set = ctx->model_set();
                   std::optional<store::CustomerSegment> segment;
                   if (set->churn && set->segments) {
                     try {
                       // nullopt for a probability that is not finite: stored without a segment.
                       segment =
                           customer_segment(*set->churn, *set->segments,
                                            set->churn->predict(customer, 0).probability, customer);
                     } catch (const features::ValidationError&) {
                       // Stored all the same: these are raw features, scored when complete.
                     }
                   }
                   // Answered only once committed; the answer shows what was stored.
                   const std::string updated_at =
                       ctx->deps.customers.upsert(id, customer, segment ? &*segment : nullptr);
                   return json_response(200, customer_body(id, customer, updated_at));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "validate and store a customer's raw features",
             .access = auth::Access::kWriter});
}

}  // namespace nbo::api
