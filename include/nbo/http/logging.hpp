// Log setup and the one-line-per-request log record of the HTTP server.
//
// Thread-safety: configure_logging() is meant to be called once at startup, before other threads
// log (it swaps spdlog formatters); log_request() is safe from any thread.
#pragma once

#include <string_view>

namespace nbo::http {

// Sets the level and the formatter of every registered spdlog logger (the default one included)
// and of loggers created later:
//  - plain: `2024-05-01T12:00:00.123Z [info] message` (UTC)
//  - json:  one JSON object per line,
//           {"time":"2024-05-01T12:00:00.123456Z","level":"info","msg":"..."} (UTC); the message
//           is JSON-escaped, so any text logged through spdlog yields valid JSON.
// `level`: trace, debug, info, warn|warning, err|error, critical, off.
// Throws std::invalid_argument for an unknown level (nothing is changed then).
void configure_logging(bool json, std::string_view level);

// Makes spdlog's default logger write to stdout through stdio's buffer: a line reaches stdout when
// flush_log() runs, when a record of level warn or above is logged (that flushes everything
// before it too), or when the buffer fills, instead of one write() per line, which cost about
// 10 us per request on a 2-core virtual machine. `nbo serve` calls flush_log() every second.
// Unless stdout is a terminal (line-buffered anyway), its buffer becomes 64 KiB instead of stdio's
// 4 KiB: under 40 000 requests/s to a file, 64 write() calls in 3 s instead of 938. Call before
// anything is written to stdout, before configure_logging() and before other threads log.
void use_buffered_stdout_log();

// Writes out what the default logger has buffered. Never throws.
void flush_log() noexcept;

// True when the last configure_logging() chose JSON lines.
bool json_logging() noexcept;

// Logs one info record for a finished request via spdlog's default logger.
//  - plain: `request method=POST path=/predict status=200 latency_ms=0.412 request_id=abc`
//    (values with spaces, quotes, '=' or control characters are written as JSON strings)
//  - json:  {"time":...,"level":"info","msg":"request","method":"POST","path":"/predict",
//            "status":200,"latency_ms":0.412,"request_id":"abc"}
// Never throws (logging failures are swallowed).
void log_request(std::string_view method, std::string_view path, unsigned status, double latency_ms,
                 std::string_view request_id) noexcept;

}  // namespace nbo::http
