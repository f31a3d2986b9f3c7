// Small request helpers used by the server (exposed for tests and for other layers).
// Thread-safety: all functions are safe to call concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nbo::http {

// True when `id` is an acceptable caller-supplied request id: 1..128 chars of [A-Za-z0-9._:-].
bool is_valid_request_id(std::string_view id) noexcept;

// A new request id: 32 lowercase hex chars, the first 12 the milliseconds since 1970 (so ids made
// later sort after earlier ones), the other 20 random (80 bits from a per-thread PRNG seeded by
// std::random_device). Time order is what keeps the request log's index on request_id cheap to
// insert into: new ids land at its end instead of on a random page. Not a security token.
std::string generate_request_id();

// Percent-decodes a URL path ("%2F" -> '/', '+' stays '+'). Returns std::nullopt when a '%' is
// not followed by two hex digits or when the decoded text contains a NUL byte.
std::optional<std::string> percent_decode_path(std::string_view path);

// Splits a request target into {path, query} at the first '?'. An absolute-form target
// ("http://host/p?q") is reduced to its path first ("/p"). The path is NOT decoded.
std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept;

}  // namespace nbo::http
