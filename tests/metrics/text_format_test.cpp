#include "nbo/metrics/text_format.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

namespace nbo::metrics {
namespace {

TEST(MetricsTextFormat, FormatsValuesAsPrometheusParsesThem) {
  EXPECT_EQ(format_value(0.0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(1.0), "1");
  EXPECT_EQ(format_value(42.0), "42");
  EXPECT_EQ(format_value(-3.0), "-3");
  EXPECT_EQ(format_value(400000.0), "400000");
  EXPECT_EQ(format_value(1e20), "100000000000000000000");
  EXPECT_EQ(format_value(9007199254740993.0), "9007199254740992");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.0001), "0.0001");
  EXPECT_EQ(format_value(0.00025), "0.00025");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_value(1e-05), "1e-05");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(MetricsTextFormat, FormattedValuesRoundTrip) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> exponent(-30.0, 30.0);
  for (int i = 0; i < 20000; ++i) {
    double value = 0.0;
    if (i % 2 == 0) {
      value = std::pow(10.0, exponent(rng)) * ((i % 4 == 0) ? -1.0 : 1.0);
    } else {
      value = std::bit_cast<double>(rng());
      if (!std::isfinite(value)) continue;
    }
    const std::string text = format_value(value);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
    EXPECT_EQ(text.find_first_not_of("0123456789.e+-"), std::string::npos) << text;
  }
}

TEST(MetricsTextFormat, ValidatesNames) {
  for (const char* good : {"a", "_a", "nbo_http_requests_total", "a:b", ":a", "A9_"}) {
    EXPECT_TRUE(is_valid_metric_name(good)) << good;
  }
  for (const char* bad : {"", "9a", "a-b", "a b", "a.b", "ä", "a{"}) {
    EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
  }
  for (const char* good : {"a", "_a", "route", "code_2", "le"}) {
    EXPECT_TRUE(is_valid_label_name(good)) << good;
  }
  for (const char* bad : {"", "9a", "a:b", "__name__", "__x", "a-b", "a b"}) {
    EXPECT_FALSE(is_valid_label_name(bad)) << bad;
  }
}

TEST(MetricsTextFormat, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("plain /predict"), "plain /predict");
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("a\\b\"c\nd"), "a\\\\b\"c\\nd");
}

TEST(MetricsTextFormat, SanitizesUtf8) {
  EXPECT_EQ(sanitize_utf8("Привет, мир"), "Привет, мир");
  EXPECT_EQ(sanitize_utf8("a\xff"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // truncated
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");                  // U+1F600
}

}  // namespace
}  // namespace nbo::metrics
