// Low-level helpers for the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Thread-safety: every function here is pure (no shared state) and safe to call concurrently.
// Failure behaviour: none of them throws except through std::bad_alloc.
#pragma once

#include <string>
#include <string_view>

namespace nbo::metrics {

// The HTTP Content-Type of Registry::render()'s output.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// True when `name` matches the metric-name regex [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name) noexcept;

// True when `name` matches the label-name regex [a-zA-Z_][a-zA-Z0-9_]* and does not start
// with "__" (reserved for Prometheus' internal use).
bool is_valid_label_name(std::string_view name) noexcept;

// Formats a sample value (or an `le` bound) the way Prometheus parses it (Go's ParseFloat):
// "NaN", "+Inf", "-Inf"; integral values below 1e21 in plain digits without exponent or ".0"
// ("0", "42", "-3"); other values in 1e-4 <= |v| < 1e21 in the shortest fixed notation that
// round-trips ("0.25", "0.0001"); anything else in the shortest round-trip scientific notation
// ("1e-05", "1.5e+300"). -0 is written "0". Parsing the result back yields the same double.
std::string format_value(double value);
// Appends format_value(value) to `out` without a temporary string.
void append_value(std::string& out, double value);

// Escapes a label value for use between double quotes: backslash -> \\, double quote -> \",
// line feed -> \n. Every other byte is copied unchanged.
std::string escape_label_value(std::string_view value);

// Escapes a HELP docstring: backslash -> \\, line feed -> \n. Every other byte is copied.
std::string escape_help(std::string_view help);

// Returns `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, so that Prometheus
// (which rejects label values that are not valid UTF-8) accepts it. Valid input is returned
// unchanged.
std::string sanitize_utf8(std::string_view text);

}  // namespace nbo::metrics
