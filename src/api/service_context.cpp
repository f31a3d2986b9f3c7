#include "service_context.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "nbo/api/errors.hpp"
#include "nbo/models/registry.hpp"

namespace nbo::api {
namespace {

bool is_json_content_type(std::string_view content_type) {
  std::string lowered(content_type.substr(0, content_type.find(';')));
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!lowered.empty() && lowered.back() == ' ') lowered.pop_back();
  return lowered.empty() || lowered == "application/json" || lowered.ends_with("+json");
}

}  // namespace

std::size_t query_integer(std::string_view name, std::string_view text, std::size_t max) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw ApiError(errors::kInvalidValue, std::string(name),
                   fmt::format("'{}' must be a whole number, got '{}'", name, text));
  }
  if (value > max) {
    throw ApiError(errors::kOutOfRange, std::string(name),
                   fmt::format("'{}' must be at most {}, got {}", name, max, value));
  }
  return value;
}

ApiError unknown_query_parameter(std::string_view name, std::string_view known) {
  return ApiError(errors::kUnknownField, std::string(name),
                  known.empty()
                      ? fmt::format("unknown query parameter '{}' (this route takes none)", name)
                      : fmt::format("unknown query parameter '{}' (known: {})", name, known));
}

std::shared_ptr<const models::ModelSet> ServiceContext::model_set() const {
  return deps.models.current();
}

http::Response json_response(unsigned status, std::string body) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

json::Document read_json_body(const http::Request& request, std::size_t max_depth) {
  if (!is_json_content_type(request.content_type)) {
    throw ApiError(
        errors::kUnsupportedMediaType, "",
        fmt::format("the body must be application/json, got '{}'", request.content_type));
  }
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw ApiError(errors::kEmptyBody, "", "the request body is empty; a JSON object is expected");
  }
  try {
    return json::Document::parse(request.body, max_depth);
  } catch (const json::ParseError& error) {
    switch (error.reason()) {
      case json::ParseError::Reason::kTooDeep:
        throw ApiError(errors::kTooDeep, "",
                       fmt::format("the JSON body nests deeper than {} levels", max_depth));
      case json::ParseError::Reason::kNumberOutOfRange:
        throw ApiError(errors::kInvalidJson, "",
                       "the body is not valid JSON: a number is too large for a double");
      case json::ParseError::Reason::kSyntax:
        break;
    }
    throw ApiError(errors::kInvalidJson, "",
                   fmt::format("the body is not valid JSON (at byte {})", error.byte()));
  }
}

ApiError features_error(const features::ValidationError& error, std::string_view features_path) {
  std::string field(features_path);
  if (error.field() != "features") {
    field += '.';
    field += error.field();
  }
  return ApiError(find_error_code(error.code()), std::move(field), error.what());
}

bool is_valid_customer_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxCustomerIdLength) return false;
  // As unsigned bytes: a plain char is signed on some platforms and unsigned on others.
  return std::all_of(id.begin(), id.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f;
  });
}

std::string validated_customer_id(std::string_view id, std::string_view field) {
  if (is_valid_customer_id(id)) return std::string(id);
  if (id.empty() || id.size() > kMaxCustomerIdLength) {
    throw ApiError(errors::kInvalidValue, std::string(field),
                   fmt::format("'{}' must be 1 to {} characters", field, kMaxCustomerIdLength));
  }
  throw ApiError(errors::kInvalidValue, std::string(field),
                 fmt::format("'{}' must not contain spaces or control characters", field));
}

}  // namespace nbo::api
