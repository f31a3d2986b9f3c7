// What the areas' route files share: the service's collaborators and limits, and the small
// helpers every handler uses. Private to src/api.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "nbo/api/errors.hpp"
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

// Each area adds its routes (one call per area, from the Service's constructor).
void add_predict_routes(RouteTable& table, const ServiceContext& context);
void add_customer_routes(RouteTable& table, const ServiceContext& context);
void add_operations_routes(RouteTable& table, const ServiceContext& context);
void add_offers_routes(RouteTable& table, const ServiceContext& context);

}  // namespace nbo::api
