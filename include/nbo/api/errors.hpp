// The error table of the API: every error code the service answers with, the HTTP status it
// carries and what it means, in one place (in the style of ClickHouse's ErrorCodes). A handler
// throws ApiError(errors::kSomething, field, message); Service::handle() turns it into the JSON
// error body once, at the edge. Domain errors (features::ValidationError, json::ParseError) carry
// only a code or a reason; the edge looks their status up here.
//
// openapi.yaml documents the same table (components.schemas.Error, x-error-codes); a test keeps
// the two equal.
//
// Thread safety: the table is immutable static data. ApiError is a value type.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nbo::json {
class Writer;
}

namespace nbo::api {

struct ErrorCode {
  std::string_view code;     // machine-readable, stable: clients switch on it
  unsigned status;           // the HTTP status it is answered with
  std::string_view meaning;  // for the operator and openapi.yaml
};

namespace errors {
// Request body and syntax (400, 413, 415).
inline constexpr ErrorCode kBadRequest{"bad_request", 400, "malformed HTTP request or target"};
inline constexpr ErrorCode kEmptyBody{"empty_body", 400, "the request body is empty"};
inline constexpr ErrorCode kInvalidJson{"invalid_json", 400, "the body is not valid JSON"};
inline constexpr ErrorCode kTooDeep{"too_deep", 400, "the body nests deeper than allowed"};
inline constexpr ErrorCode kPayloadTooLarge{"payload_too_large", 413,
                                            "the body is larger than --max-body-bytes"};
inline constexpr ErrorCode kHeadersTooLarge{"headers_too_large", 431,
                                            "the request headers are too large"};
inline constexpr ErrorCode kUnsupportedMediaType{"unsupported_media_type", 415,
                                                 "the body is not application/json"};
inline constexpr ErrorCode kBatchTooLarge{"batch_too_large", 413,
                                          "a batch holds more items than --max-batch"};
// Values (422): the field names the JSON path.
inline constexpr ErrorCode kInvalidType{"invalid_type", 422, "a value has the wrong JSON type"};
inline constexpr ErrorCode kUnknownField{"unknown_field", 422, "a field name is not known"};
inline constexpr ErrorCode kMissingField{"missing_field", 422, "a required field is absent"};
inline constexpr ErrorCode kOutOfRange{"out_of_range", 422, "a number is outside its range"};
inline constexpr ErrorCode kUnknownCategory{"unknown_category", 422,
                                            "a categorical value is not one of its levels"};
inline constexpr ErrorCode kInvalidValue{"invalid_value", 422,
                                         "a value is malformed or contradicts another"};
// Keys and roles (401, 403): see auth/api_keys.hpp.
inline constexpr ErrorCode kUnauthorized{
    "unauthorized", 401,
    "no active API key was given (header Authorization with Bearer and the key)"};
inline constexpr ErrorCode kForbidden{"forbidden", 403,
                                      "the API key's role may not use this route"};
// Resources and routing (404, 405).
inline constexpr ErrorCode kNotFound{"not_found", 404, "no route has this path"};
inline constexpr ErrorCode kCustomerNotFound{"customer_not_found", 404,
                                             "no customer is stored under this id"};
inline constexpr ErrorCode kSegmentNotFound{"segment_not_found", 404,
                                            "no segment has this id (see GET /segments)"};
inline constexpr ErrorCode kUserNotFound{"user_not_found", 404,
                                         "no school user is stored under this id"};
inline constexpr ErrorCode kOfferNotFound{"offer_not_found", 404,
                                          "no offer was recorded under this id"};
inline constexpr ErrorCode kKeyNotFound{"key_not_found", 404, "no API key has this id"};
inline constexpr ErrorCode kUnknownCourse{"unknown_course", 422,
                                          "a course id is not in the catalog"};
inline constexpr ErrorCode kMethodNotAllowed{"method_not_allowed", 405,
                                             "the route does not accept this method (see Allow)"};
// A reload of the models directory whose files failed to load or validate (the message names the
// file and the JSON path). 422, not 5xx: the service is healthy and keeps serving the models it
// had; what cannot be processed is the content the operator asked it to load, and retrying the
// same request cannot succeed until the files are fixed.
inline constexpr ErrorCode kReloadFailed{
    "reload_failed", 422,
    "a file of the models directory failed to load or validate; the loaded models are kept"};
// The service's own state (5xx).
inline constexpr ErrorCode kModelNotLoaded{"model_not_loaded", 503,
                                           "the model this route needs is not loaded"};
inline constexpr ErrorCode kSegmentsRefreshing{
    "segments_refreshing", 503,
    "stored customers are being segmented by newly loaded models; retry after Retry-After"};
inline constexpr ErrorCode kOverloaded{"overloaded", 503,
                                       "too many requests in flight; retry after Retry-After"};
inline constexpr ErrorCode kRequestLogFull{
    "request_log_full", 503,
    "the request log's writer is behind, so nothing was answered or logged; retry after "
    "Retry-After"};
inline constexpr ErrorCode kStorageUnavailable{
    "storage_unavailable", 503,
    "the database cannot take writes now (disk full, read-only, busy); nothing was written"};
inline constexpr ErrorCode kInternalError{"internal_error", 500,
                                          "a bug or an unexpected failure; see the server log"};
}  // namespace errors

// Every code above, in the order of the table.
std::span<const ErrorCode> error_table();

// The entry of `code` (e.g. a features::ValidationError's code). An unknown code is a bug:
// it maps to kInternalError.
const ErrorCode& find_error_code(std::string_view code);

class ApiError : public std::runtime_error {
 public:
  // `field` is the JSON path of the offending field, empty when the problem is not one field's.
  ApiError(const ErrorCode& code, std::string field, const std::string& message)
      : std::runtime_error(message), code_(&code), field_(std::move(field)) {}

  unsigned status() const noexcept { return code_->status; }
  std::string_view code() const noexcept { return code_->code; }
  const ErrorCode& error_code() const noexcept { return *code_; }
  const std::string& field() const noexcept { return field_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
    return headers_;
  }
  void add_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
  }

  // {"code": ..., "field": ..., "message": ...} (field omitted when empty).
  void write(json::Writer& writer) const;

 private:
  const ErrorCode* code_;
  std::string field_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace nbo::api
