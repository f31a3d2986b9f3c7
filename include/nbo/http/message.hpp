// Plain HTTP request/response value types shared by the server and the handlers.
//
// No Beast (or any other network library) in here: application handlers include only this.
// Thread-safety: plain values; a const Request may be read from any number of threads.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nbo::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One parsed HTTP request, as handed to a Handler. Owns all its strings.
struct Request {
  std::string method;  // "GET", "POST", ... exactly as sent (case preserved)
  std::string target;  // raw request target, e.g. "/customers/42?x=1"
  std::string path;    // target without the query string, percent-decoded ('+' is kept as is)
  std::string query;   // text after the first '?', raw (not decoded); may be empty
  std::string body;
  // The caller's X-Request-Id when valid (1..128 chars of [A-Za-z0-9._:-]), otherwise a freshly
  // generated one (32 lowercase hex chars). Always non-empty for requests built by the server.
  std::string request_id;
  std::string content_type;  // request Content-Type header value; "" when absent
  // When the first byte of this request arrived (monotonic clock).
  std::chrono::steady_clock::time_point received_at{};
  // Every request header in arrival order (names as sent), including Content-Type and
  // X-Request-Id. Prefer header() for lookups.
  HeaderList headers;

  // Value of the first header whose name equals `name` ignoring ASCII case; "" when absent.
  // Repeated headers are not joined: only the first occurrence is returned.
  std::string header(std::string_view name) const;
};

// What a handler answers. The server adds Server, X-Request-Id, Content-Length and Connection.
struct Response {
  unsigned status = 200;  // 200..599; anything else is turned into a 500 by the server
  // A constant (a string literal, a constexpr string_view): the text is not owned. "" is sent as
  // application/octet-stream. A std::string would allocate for "application/json" in every
  // response, one byte past its short-string buffer.
  std::string_view content_type = "application/json";
  std::string body;
  // Extra headers, e.g. Retry-After, Allow. Names that the server controls (Content-Length,
  // Transfer-Encoding, Connection, Server, X-Request-Id, Content-Type) and headers containing
  // CR, LF or NUL are dropped by the server (with a warning in the log).
  HeaderList headers;
  std::string route;  // route template for metrics/logs, e.g. "/customers/{id}"; "" = unmatched
};

// Case-insensitive (ASCII) equality of two header names.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace nbo::http
