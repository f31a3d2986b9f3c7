// A small, strict parser of the Prometheus text exposition format 0.0.4, for tests (e.g. to
// check what GET /metrics serves). Independent of nbo::metrics on purpose: it must catch the
// renderer's mistakes, not share them.
//
//   nbo::test::PrometheusText parsed = nbo::test::parse_prometheus_text(body);
//   EXPECT_EQ(parsed.type_of("nbo_http_requests_total"), "counter");
//   EXPECT_EQ(parsed.value("nbo_http_requests_total", {{"route", "POST /predict"}}), 3.0);
//
// What it rejects (throwing PrometheusParseError with the 1-based line number):
//   * syntax: bad metric/label names, unterminated or malformed label sets, escapes other than
//     \\ \" \n in label values (\\ \n in HELP), values Go's ParseFloat would not accept,
//     non-integer timestamps, trailing garbage, CR characters, text not ending in '\n';
//   * structure: a second HELP or TYPE for a name, an unknown type, TYPE after the family's
//     first sample, a family's samples not in one contiguous group, the same series twice,
//     a label name repeated in one sample;
//   * semantics: counters that are negative or NaN; for histograms, a _bucket without a
//     parseable `le`, samples with other suffixes, a label set without le="+Inf", buckets not
//     cumulative (count decreasing as le grows), a missing _sum or _count, or _count differing
//     from the +Inf bucket.
// Blank lines and comments other than HELP/TYPE are accepted and ignored.
//
// Thread-safety: parse_prometheus_text is reentrant; a PrometheusText is immutable after
// parsing, so its const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nbo::test {

using PrometheusLabels = std::map<std::string, std::string>;

struct PrometheusSample {
  std::string name;         // sample name as written, e.g. "x_seconds_bucket"
  std::string family;       // family it belongs to, e.g. "x_seconds"
  PrometheusLabels labels;  // unescaped values
  double value = 0.0;
  std::optional<std::int64_t> timestamp;  // milliseconds, if given
  int line = 0;                           // 1-based
};

struct PrometheusFamily {
  std::string name;
  std::string type;                 // "counter", "gauge", "histogram", "summary" or "untyped"
  std::optional<std::string> help;  // unescaped
};

class PrometheusParseError : public std::runtime_error {
 public:
  PrometheusParseError(int line, const std::string& message);
  int line() const noexcept { return line_; }

 private:
  int line_;
};

class PrometheusText {
 public:
  // All samples in input order.
  const std::vector<PrometheusSample>& samples() const noexcept { return samples_; }
  // Samples whose sample name is exactly `name`, in input order.
  std::vector<PrometheusSample> samples(std::string_view name) const;
  // The value of the series `name` with exactly `labels` (no more, no fewer); nullopt if absent.
  std::optional<double> value(std::string_view name, const PrometheusLabels& labels = {}) const;
  // The declared TYPE of `family`; "untyped" for a family with samples but no TYPE line; ""
  // if the name is unknown.
  std::string type_of(std::string_view family) const;
  // The HELP text of `family` (unescaped), nullopt if none was given.
  std::optional<std::string> help_of(std::string_view family) const;
  // Families in order of first appearance (HELP, TYPE or sample).
  const std::vector<PrometheusFamily>& families() const noexcept { return families_; }
  // Buckets of histogram `family` for the series with `labels` (without `le`), as (le, count)
  // pairs sorted by le, the last one le=+Inf. Empty if there is no such series.
  std::vector<std::pair<double, double>> buckets(std::string_view family,
                                                 const PrometheusLabels& labels = {}) const;

 private:
  friend PrometheusText parse_prometheus_text(std::string_view text);
  std::vector<PrometheusSample> samples_;
  std::vector<PrometheusFamily> families_;
};

// Parses `text` (a whole scrape); throws PrometheusParseError on the first problem.
PrometheusText parse_prometheus_text(std::string_view text);

}  // namespace nbo::test
