#include "nbo/api/request_json.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "nbo/api/errors.hpp"

namespace nbo::api {

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

namespace {

bool is_json_content_type(std::string_view content_type) {
  std::string lowered(content_type.substr(0, content_type.find(';')));
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!lowered.empty() && lowered.back() == ' ') lowered.pop_back();
  return lowered.empty() || lowered == "application/json" || lowered.ends_with("+json");
}

}  // namespace

nlohmann::json parse_request_body(const http::Request& request, std::size_t max_depth) {
  if (!is_json_content_type(request.content_type)) {
    throw ApiError(415, "unsupported_media_type", "",
                   fmt::format("the body must be application/json, got '{}'",
                               request.content_type));
  }
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw ApiError(400, "empty_body", "", "the request body is empty; a JSON object is expected");
  }
  if (json_nesting_depth(request.body, max_depth) > max_depth) {
    throw ApiError(400, "too_deep", "",
                   fmt::format("the JSON body nests deeper than {} levels", max_depth));
  }
  try {
    return nlohmann::json::parse(request.body);
  } catch (const nlohmann::json::parse_error& error) {
    throw ApiError(400, "invalid_json", "",
                   fmt::format("the body is not valid JSON (at byte {})", error.byte));
  } catch (const nlohmann::json::exception&) {
    // nlohmann reports a number too large for a double (1e400) as out_of_range.406, not as a
    // parse_error.
    throw ApiError(400, "invalid_json", "",
                   "the body is not valid JSON: a number is too large for a double");
  }
}

}  // namespace nbo::api
