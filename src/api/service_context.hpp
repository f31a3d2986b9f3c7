// What the areas' route files share: the service's collaborators and limits, and the small
// helpers every handler uses. Private to src/api.
#pragma once

#include <functional>
#include <memory>
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

namespace nbo::api {

struct ServiceContext {
  ServiceDependencies deps;
  ServiceLimits limits;

  // The model set this request scores with, taken once per request.
  std::shared_ptr<const models::ModelSet> model_set() const;
};

// A 200..599 response whose body is already JSON text.
http::Response json_response(unsigned status, std::string body);

// The body of `request`, parsed into a token tape. Throws ApiError: 415 unsupported_media_type
// for a declared non-JSON Content-Type, 400 empty_body, 400 too_deep past `max_depth`,
// 400 invalid_json with the byte offset of the syntax error.
json::Document read_json_body(const http::Request& request, std::size_t max_depth);

// A customer that failed validation, as the API answers it: the error's code looked up in the
// error table, its field placed under `features_path` ("features", "customers[3].features").
ApiError features_error(const features::ValidationError& error, std::string_view features_path);

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
  bool explain = false;         // compute up to limits.max_reasons reasons per customer
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

}  // namespace nbo::api
