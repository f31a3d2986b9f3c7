// The project's single JSON error shape, used by the server and the API layer:
//   {"error":{"code":"...","message":"...","field":"..."},"request_id":"..."}
// ("field" is omitted when empty). Strings are JSON-escaped; invalid UTF-8 is replaced by U+FFFD.
// Thread-safety: pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "nbo/http/message.hpp"

namespace nbo::http {

// The JSON text of an error body (see the shape above). Throws only std::bad_alloc.
std::string error_json(std::string_view code, std::string_view message, std::string_view request_id,
                       std::string_view field = {});

// A Response with `status`, Content-Type application/json and error_json(...) as body.
// route is left empty. Throws only std::bad_alloc.
Response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::string_view request_id, std::string_view field = {});

}  // namespace nbo::http
