#pragma once

#include <chrono>
#include <string>

namespace nbo::store {

// Formats a point in time as ISO-8601 UTC with milliseconds, e.g. "2024-05-01T12:34:56.789Z".
// This is the format of every timestamp column the store writes (customers.updated_at,
// schema_migrations.applied_at) and the one callers should use for request_log.received_at;
// it sorts lexicographically in time order. Thread-safe; never throws except std::bad_alloc.
std::string to_iso8601(std::chrono::system_clock::time_point time);

// to_iso8601(std::chrono::system_clock::now()).
std::string utc_now_iso8601();

}  // namespace nbo::store
