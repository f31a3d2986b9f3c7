// Parsing of request bodies: bounded nesting, JSON only, errors as ApiError (400/415).
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nbo/http/message.hpp"

namespace nbo::api {

// Nesting depth of arrays/objects in `text`, counted outside strings. Stops counting (and
// returns a value > limit) as soon as `limit` is exceeded, so a hostile body costs O(n).
std::size_t json_nesting_depth(std::string_view text, std::size_t limit);

// The body of `request` as JSON. Throws ApiError: 415 `unsupported_media_type` for a declared
// non-JSON Content-Type, 400 `empty_body`, 400 `too_deep` past `max_depth`, 400 `invalid_json`
// with the byte offset of the syntax error.
nlohmann::json parse_request_body(const http::Request& request, std::size_t max_depth);

}  // namespace nbo::api
