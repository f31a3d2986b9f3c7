// Tests of the test-support parser itself: it must accept valid exposition text and reject
// malformed text with the right line number, otherwise the metrics tests could not fail.
#include "support/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace nbo::test {
namespace {

int error_line(const std::string& text) {
  try {
    parse_prometheus_text(text);
  } catch (const PrometheusParseError& error) {
    return error.line();
  }
  ADD_FAILURE() << "parser accepted malformed input:\n" << text;
  return -1;
}

TEST(PrometheusTextParser, AcceptsAValidScrape) {
  const std::string text =
      "# A plain comment\n"
      "\n"
      "# HELP http_requests_total Requests \\\\ served.\\nSecond line.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\",} 3\n"
      "  http_requests_total { method = \"get\" , code=\"200\" }\t7\n"
      "# TYPE temperature gauge\n"
      "temperature -3.5e-2\n"
      "# TYPE lat_seconds histogram\n"
      "lat_seconds_bucket{le=\"0.05\"} 1\n"
      "lat_seconds_bucket{le=\"1e-01\"} 2\n"
      "lat_seconds_bucket{le=\"+Inf\"} 3\n"
      "lat_seconds_sum 0.2\n"
      "lat_seconds_count 3\n"
      "untyped_thing NaN\n"
      "other_thing +Inf\n";
  const PrometheusText parsed = parse_prometheus_text(text);
  EXPECT_EQ(parsed.samples().size(), 11u);
  EXPECT_EQ(parsed.type_of("http_requests_total"), "counter");
  EXPECT_EQ(parsed.help_of("http_requests_total"), "Requests \\ served.\nSecond line.");
  EXPECT_EQ(parsed.value("http_requests_total", {{"method", "post"}, {"code", "200"}}), 1027.0);
  EXPECT_EQ(parsed.samples("http_requests_total")[0].timestamp, 1395066363000);
  EXPECT_EQ(parsed.value("http_requests_total", {{"method", "get"}, {"code", "200"}}), 7.0);
  EXPECT_EQ(parsed.value("http_requests_total", {{"method", "get"}}), std::nullopt);
  EXPECT_EQ(parsed.value("temperature"), -0.035);
  EXPECT_EQ(parsed.type_of("lat_seconds"), "histogram");
  EXPECT_EQ(parsed.samples("lat_seconds_sum").at(0).family, "lat_seconds");
  const auto buckets = parsed.buckets("lat_seconds");
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[1], (std::pair<double, double>{0.1, 2.0}));
  EXPECT_TRUE(std::isinf(buckets[2].first));
  EXPECT_EQ(parsed.type_of("untyped_thing"), "untyped");
  EXPECT_TRUE(std::isnan(*parsed.value("untyped_thing")));
  EXPECT_EQ(parsed.value("other_thing"), INFINITY);
  EXPECT_EQ(parsed.type_of("no_such_family"), "");
  EXPECT_EQ(parsed.families().size(), 5u);
}

TEST(PrometheusTextParser, AcceptsEmptyInputAndFamiliesWithoutSamples) {
  EXPECT_TRUE(parse_prometheus_text("").samples().empty());
  const PrometheusText parsed = parse_prometheus_text("# HELP a_total x\n# TYPE a_total counter\n");
  EXPECT_EQ(parsed.type_of("a_total"), "counter");
  EXPECT_TRUE(parsed.samples().empty());
}

TEST(PrometheusTextParser, RejectsSyntaxErrorsWithTheLineNumber) {
  EXPECT_EQ(error_line("a 1\nb 2"), 2);                   // no final newline
  EXPECT_EQ(error_line("a 1\r\n"), 1);                    // CR
  EXPECT_EQ(error_line("ok 1\n1metric 1\n"), 2);          // bad metric name
  EXPECT_EQ(error_line("metric-x 1\n"), 1);               // bad character in name
  EXPECT_EQ(error_line("m abc\n"), 1);                    // bad value
  EXPECT_EQ(error_line("m 1,5\n"), 1);                    // decimal comma
  EXPECT_EQ(error_line("m 0x10\n"), 1);                   // hex not accepted
  EXPECT_EQ(error_line("m 1e\n"), 1);                     // exponent without digits
  EXPECT_EQ(error_line("m 1e999\n"), 1);                  // out of range
  EXPECT_EQ(error_line("m\n"), 1);                        // no value
  EXPECT_EQ(error_line("m 1 2 3\n"), 1);                  // trailing garbage
  EXPECT_EQ(error_line("m 1 1.5\n"), 1);                  // non-integer timestamp
  EXPECT_EQ(error_line("m{a=\"b} 1\n"), 1);               // unterminated value
  EXPECT_EQ(error_line("m{a=\"b\" 1\n"), 1);              // unterminated label set
  EXPECT_EQ(error_line("m{a=\"b\" c=\"d\"} 1\n"), 1);     // missing comma
  EXPECT_EQ(error_line("m{a=b} 1\n"), 1);                 // unquoted value
  EXPECT_EQ(error_line("m{a=\"\\x\"} 1\n"), 1);           // invalid escape
  EXPECT_EQ(error_line("m{a=\"b\",a=\"c\"} 1\n"), 1);     // repeated label
  EXPECT_EQ(error_line("m{1a=\"b\"} 1\n"), 1);            // bad label name
  EXPECT_EQ(error_line("m{a=\"b\"}1\n"), 1);              // no blank before value
  EXPECT_EQ(error_line("m{a=\"\xff\"} 1\n"), 1);          // invalid UTF-8
  EXPECT_EQ(error_line("# HELP m bad \\t escape\n"), 1);  // invalid HELP escape
  EXPECT_EQ(error_line("# TYPE m\n"), 1);                 // TYPE without type
  EXPECT_EQ(error_line("# TYPE m countr\n"), 1);          // unknown type
  EXPECT_EQ(error_line("# TYPE m gauge extra\n"), 1);     // trailing token
  EXPECT_EQ(error_line("# HELP 9m x\n"), 1);              // bad name in HELP
}

TEST(PrometheusTextParser, RejectsStructuralErrors) {
  EXPECT_EQ(error_line("# TYPE m gauge\n# TYPE m gauge\nm 1\n"), 2);         // second TYPE
  EXPECT_EQ(error_line("# HELP m x\n# HELP m y\n"), 2);                      // second HELP
  EXPECT_EQ(error_line("m 1\n# TYPE m gauge\n"), 2);                         // TYPE after samples
  EXPECT_EQ(error_line("a 1\nb 1\na{x=\"y\"} 2\n"), 3);                      // not contiguous
  EXPECT_EQ(error_line("a{x=\"1\"} 1\nb 1\n# HELP a late\n"), 3);            // HELP in a new group
  EXPECT_EQ(error_line("a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n"), 2);  // same series
}

TEST(PrometheusTextParser, RejectsSemanticErrors) {
  EXPECT_EQ(error_line("# TYPE c_total counter\nc_total -1\n"), 2);
  EXPECT_EQ(error_line("# TYPE c_total counter\nc_total NaN\n"), 2);
  const std::string head = "# TYPE h histogram\n";
  // A valid one first, to show the checks below are what fails.
  EXPECT_NO_THROW(parse_prometheus_text(
      head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"));
  EXPECT_EQ(error_line(head + "h_bucket{le=\"1\"} 1\nh_sum 3\nh_count 1\n"), 2);  // no +Inf
  EXPECT_EQ(error_line(head + "h_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n"
                              "h_count 2\n"),
            3);  // not cumulative
  EXPECT_EQ(error_line(head + "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 5\n"), 2);  // count
  EXPECT_EQ(error_line(head + "h_bucket{le=\"+Inf\"} 2\nh_count 2\n"), 2);           // no _sum
  EXPECT_EQ(error_line(head + "h_bucket{le=\"+Inf\"} 2\nh_sum 2\n"), 2);             // no _count
  EXPECT_EQ(error_line(head + "h_bucket{le=\"x\"} 2\n"), 2);                         // bad le
  EXPECT_EQ(error_line(head + "h_bucket 2\n"), 2);                                   // no le
  EXPECT_EQ(error_line(head + "h 2\n"), 2);                                          // no suffix
  EXPECT_EQ(error_line(head + "h_sum{le=\"1\"} 2\n"), 2);                            // le on _sum
  EXPECT_EQ(error_line(head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n"
                              "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"),
            3);  // repeated bound
}

TEST(PrometheusTextParser, ErrorMessageNamesTheLine) {
  try {
    parse_prometheus_text("a 1\nb x\n");
    FAIL() << "expected a parse error";
  } catch (const PrometheusParseError& error) {
    EXPECT_NE(std::string(error.what()).find("line 2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace nbo::test
