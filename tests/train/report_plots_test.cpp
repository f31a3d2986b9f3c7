#include "nbo/train/report_plots.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace nbo::train {
namespace {

// True when an XML entity (&amp; &lt; &gt; &quot; &apos; or &#digits;) of at most 8 characters
// starts at `svg[at]`.
bool entity_at(const std::string& svg, std::size_t at) {
  const std::string rest = svg.substr(at, 8);
  for (const char* named : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
    if (rest.rfind(named, 0) == 0) return true;
  }
  if (rest.rfind("&#", 0) != 0) return false;
  std::size_t end = 2;
  while (end < rest.size() && std::isdigit(static_cast<unsigned char>(rest[end]))) ++end;
  return end > 2 && end < rest.size() && rest[end] == ';';
}

// Checks that every element opened in `svg` is closed in order, that there is exactly one root
// <svg> element and nothing but whitespace after it, and that text content holds no raw '<' or
// stray '&'. Returns "" when the document is well balanced, else what is wrong.
std::string tag_balance_problem(const std::string& svg) {
  std::vector<std::string> open;
  int roots = 0;
  std::size_t i = 0;
  while (i < svg.size()) {
    if (svg[i] == '&') {
      if (!entity_at(svg, i)) {
        return "stray '&' at offset " + std::to_string(i);
      }
      ++i;
      continue;
    }
    if (svg[i] != '<') {
      if (open.empty() && roots == 1 && !std::isspace(static_cast<unsigned char>(svg[i]))) {
        return "text after the root element";
      }
      ++i;
      continue;
    }
    const std::size_t end = svg.find('>', i);
    if (end == std::string::npos) return "unterminated tag at offset " + std::to_string(i);
    const std::string tag = svg.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside tag at " + std::to_string(i);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "unexpected </" + name + ">";
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty()) {
      if (name != "svg" || roots != 0) return "element <" + name + "> outside the root";
      ++roots;
    }
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (roots != 1) return "no root element";
  return "";
}

void expect_document(const std::string& svg) {
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0U) << svg.substr(0, 80);
  EXPECT_NE(svg.find("width=\"640\""), std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(tag_balance_problem(svg), "") << svg;
}

// The `points` attribute of every <polyline class="<klass>">, in document order.
std::vector<std::string> polyline_points(const std::string& svg, const std::string& klass) {
  const std::string open = "<polyline class=\"" + klass + "\"";
  const std::string points = " points=\"";
  std::vector<std::string> out;
  for (auto at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const std::size_t tag_end = svg.find('>', at);
    const std::size_t attribute = svg.find(points, at + open.size());
    if (attribute == std::string::npos || attribute > tag_end) continue;
    const std::size_t value = attribute + points.size();
    const std::size_t value_end = svg.find('"', value);
    if (value_end == std::string::npos) continue;
    out.push_back(svg.substr(value, value_end - value));
    at = value_end;
  }
  return out;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST(ReportPlotsTest, TagBalanceCheckerCatchesBrokenDocuments) {
  EXPECT_EQ(tag_balance_problem("<svg><g><line/></g></svg>\n"), "");
  EXPECT_NE(tag_balance_problem("<svg><g></svg>"), "");
  EXPECT_NE(tag_balance_problem("<svg></g></svg>"), "");
  EXPECT_NE(tag_balance_problem("<svg><text>a < b</text></svg>"), "");
  EXPECT_NE(tag_balance_problem("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(tag_balance_problem("<svg></svg><svg></svg>"), "");
  EXPECT_EQ(tag_balance_problem("<svg><text>a &lt; b &amp; c</text></svg>"), "");
}

TEST(ReportPlotsTest, RocPolylineOfAHandMadeInput) {
  // Sorted by score: 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): AUC 0.75.
  const std::string svg = roc_curve_svg({{"model", {0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}}}, "ROC");
  expect_document(svg);
  // Unit square -> pixels: x = 70 + 540 fx, y = 420 - 370 fy.
  EXPECT_EQ(polyline_points(svg, "roc"),
            std::vector<std::string>{
                "70.00,420.00 70.00,235.00 340.00,235.00 340.00,50.00 610.00,50.00"});
  EXPECT_NE(svg.find(">model (AUC 0.750)</text>"), std::string::npos);
  // The dashed chance diagonal from (0, 0) to (1, 1).
  EXPECT_NE(svg.find("<line x1=\"70.00\" y1=\"420.00\" x2=\"610.00\" y2=\"50.00\" "
                     "stroke=\"#888888\" stroke-dasharray=\"6 4\"/>"),
            std::string::npos);
}

TEST(ReportPlotsTest, RocTiedScoresMoveInOneDiagonalStep) {
  // 0.9 (+), then 0.5 shared by a positive and a negative, then 0.1 (-): AUC 0.875.
  const std::string svg = roc_curve_svg(
      {{"tied", {0.1, 0.5, 0.5, 0.9}, {0, 1, 0, 1}}, {"all tied", {0.3, 0.3}, {1, 0}}}, "ties");
  expect_document(svg);
  EXPECT_EQ(polyline_points(svg, "roc"),
            (std::vector<std::string>{"70.00,420.00 70.00,235.00 340.00,50.00 610.00,50.00",
                                      "70.00,420.00 610.00,50.00"}));
  EXPECT_NE(svg.find(">tied (AUC 0.875)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">all tied (AUC 0.500)</text>"), std::string::npos);
  // Two series in two palette colours.
  EXPECT_NE(svg.find("stroke=\"#1f77b4\" stroke-width=\"2\" points="), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#d62728\" stroke-width=\"2\" points="), std::string::npos);
}

TEST(ReportPlotsTest, RocRejectsUnplottableSeries) {
  EXPECT_THROW(roc_curve_svg({{"one class", {0.1, 0.2}, {1, 1}}}, "t"), std::invalid_argument);
  EXPECT_THROW(roc_curve_svg({{"lengths", {0.1, 0.2}, {1}}}, "t"), std::invalid_argument);
  EXPECT_THROW(roc_curve_svg({{"label 2", {0.1, 0.2}, {0, 2}}}, "t"), std::invalid_argument);
  EXPECT_THROW(roc_curve_svg({{"nan", {0.1, std::nan("")}, {0, 1}}}, "t"), std::invalid_argument);
}

TEST(ReportPlotsTest, EscapesTitlesAndLabels) {
  const std::string title = "AUC < 0.9 & \"calibrated\"";
  const std::string roc = roc_curve_svg({{"a<b & c", {0.2, 0.8}, {0, 1}}}, title);
  expect_document(roc);
  EXPECT_NE(roc.find("AUC &lt; 0.9 &amp; &quot;calibrated&quot;"), std::string::npos);
  EXPECT_NE(roc.find("a&lt;b &amp; c (AUC 1.000)"), std::string::npos);
  EXPECT_EQ(roc.find("a<b"), std::string::npos);

  const auto table = reliability_table(std::vector<double>{0.2, 0.7}, std::vector<int>{0, 1}, 2);
  const std::string reliability = reliability_svg({{"<platt> & co", table}}, "R&D <plot>");
  expect_document(reliability);
  EXPECT_NE(reliability.find("&lt;platt&gt; &amp; co (n = 2)"), std::string::npos);
  EXPECT_NE(reliability.find("R&amp;D &lt;plot&gt;"), std::string::npos);

  const std::string bars = importance_svg({{"popular_category=A&B <x>", 0.5}, {"тенюр", -0.25}},
                                          "Weights & <biases>", "weight <log-odds>");
  expect_document(bars);
  EXPECT_NE(bars.find(">popular_category=A&amp;B &lt;x&gt;</text>"), std::string::npos);
  EXPECT_NE(bars.find(">тенюр</text>"), std::string::npos);
  EXPECT_NE(bars.find(">weight &lt;log-odds&gt;</text>"), std::string::npos);
  EXPECT_EQ(xml_escape("'\"<>&x"), "&apos;&quot;&lt;&gt;&amp;x");
}

TEST(ReportPlotsTest, ReliabilityTableCountsAndRates) {
  const std::vector<double> p{0.05, 0.10, 0.15, 0.30, 0.49, 0.5, 0.75, 0.99, 1.0, 0.0};
  const std::vector<int> y{0, 0, 1, 0, 1, 1, 1, 1, 1, 0};
  const auto table = reliability_table(p, y, 4);
  ASSERT_EQ(table.size(), 4U);
  // [0, .25): 0.05, 0.10, 0.15, 0.0 -> one positive of four.
  EXPECT_DOUBLE_EQ(table[0].lower, 0.0);
  EXPECT_DOUBLE_EQ(table[0].upper, 0.25);
  EXPECT_EQ(table[0].count, 4U);
  EXPECT_DOUBLE_EQ(table[0].mean_predicted, 0.075);
  EXPECT_DOUBLE_EQ(table[0].observed_rate, 0.25);
  // [.25, .5): 0.30, 0.49.
  EXPECT_EQ(table[1].count, 2U);
  EXPECT_DOUBLE_EQ(table[1].mean_predicted, 0.395);
  EXPECT_DOUBLE_EQ(table[1].observed_rate, 0.5);
  // [.5, .75): 0.5 exactly (the lower edge belongs to the bin).
  EXPECT_EQ(table[2].count, 1U);
  EXPECT_DOUBLE_EQ(table[2].mean_predicted, 0.5);
  EXPECT_DOUBLE_EQ(table[2].observed_rate, 1.0);
  // [.75, 1]: 0.75, 0.99 and 1.0 (the last bin is closed).
  EXPECT_DOUBLE_EQ(table[3].upper, 1.0);
  EXPECT_EQ(table[3].count, 3U);
  EXPECT_DOUBLE_EQ(table[3].mean_predicted, (0.75 + 0.99 + 1.0) / 3.0);
  EXPECT_DOUBLE_EQ(table[3].observed_rate, 1.0);
}

TEST(ReportPlotsTest, ReliabilityTableKeepsEmptyBinsAndRespectsEdges) {
  // 0.3 and 0.7 sit exactly on bin edges of a 10-bin table.
  const auto table =
      reliability_table(std::vector<double>{0.3, 0.7, 0.69999}, std::vector<int>{1, 0, 0}, 10);
  ASSERT_EQ(table.size(), 10U);
  for (std::size_t i = 0; i < table.size(); ++i) {
    EXPECT_DOUBLE_EQ(table[i].lower, static_cast<double>(i) / 10.0);
    const std::size_t expected = i == 3 || i == 7 || i == 6 ? 1 : 0;
    EXPECT_EQ(table[i].count, expected) << "bin " << i;
    if (expected == 0) {
      EXPECT_TRUE(std::isnan(table[i].mean_predicted));
      EXPECT_TRUE(std::isnan(table[i].observed_rate));
    }
  }
  EXPECT_DOUBLE_EQ(table[3].mean_predicted, 0.3);
  EXPECT_DOUBLE_EQ(table[7].mean_predicted, 0.7);

  EXPECT_EQ(reliability_table(std::vector<double>{}, std::vector<int>{}, 3).size(), 3U);
  EXPECT_THROW(reliability_table(std::vector<double>{0.5}, std::vector<int>{1}, 0),
               std::invalid_argument);
  EXPECT_THROW(reliability_table(std::vector<double>{1.5}, std::vector<int>{1}, 5),
               std::invalid_argument);
  EXPECT_THROW(reliability_table(std::vector<double>{std::nan("")}, std::vector<int>{1}, 5),
               std::invalid_argument);
  EXPECT_THROW(reliability_table(std::vector<double>{0.5}, std::vector<int>{3}, 5),
               std::invalid_argument);
  EXPECT_THROW(reliability_table(std::vector<double>{0.5, 0.2}, std::vector<int>{1}, 5),
               std::invalid_argument);
}

TEST(ReportPlotsTest, ReliabilityPlotDrawsNonEmptyBinsWithCountScaledMarkers) {
  // Bin [0, .5): 4 samples at mean 0.25, rate 0.25; bin [.5, 1]: 1 sample at 1.0, rate 1.
  const auto table = reliability_table(std::vector<double>{0.1, 0.2, 0.3, 0.4, 1.0},
                                       std::vector<int>{0, 0, 0, 1, 1}, 2);
  const std::string svg = reliability_svg({{"model", table}}, "Calibration");
  expect_document(svg);
  EXPECT_EQ(polyline_points(svg, "reliability"),
            std::vector<std::string>{"205.00,327.50 610.00,50.00"});
  // Area proportional to count: the largest bin has radius 9, one of four has radius 4.5.
  EXPECT_NE(svg.find("<circle cx=\"205.00\" cy=\"327.50\" r=\"9.00\">"), std::string::npos);
  EXPECT_NE(svg.find("<circle cx=\"610.00\" cy=\"50.00\" r=\"4.50\">"), std::string::npos);
  EXPECT_NE(svg.find(">model (n = 5)</text>"), std::string::npos);
  EXPECT_EQ(occurrences(svg, "<circle "), 2U);
}

TEST(ReportPlotsTest, ImportanceBarsInTheGivenOrderWithTicks) {
  const std::string svg =
      importance_svg({{"tenure_days", -0.8}, {"service_errors", 0.35}, {"promo_share", 1.2}},
                     "Weights", "weight (log-odds)");
  expect_document(svg);
  EXPECT_EQ(occurrences(svg, "<rect class=\"bar\""), 3U);
  const auto tenure = svg.find(">tenure_days</text>");
  const auto errors = svg.find(">service_errors</text>");
  const auto promo = svg.find(">promo_share</text>");
  ASSERT_NE(tenure, std::string::npos);
  ASSERT_NE(errors, std::string::npos);
  ASSERT_NE(promo, std::string::npos);
  EXPECT_LT(tenure, errors);
  EXPECT_LT(errors, promo);
  EXPECT_NE(svg.find(">-0.8000</text>"), std::string::npos);
  EXPECT_NE(svg.find(">+1.2000</text>"), std::string::npos);
  // Range [-0.8, 1.2] -> step 0.5, ticks -1.0 .. 1.5 with one decimal.
  for (const char* tick : {">-1.0</text>", ">-0.5</text>", ">0.0</text>", ">0.5</text>",
                           ">1.0</text>", ">1.5</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  EXPECT_EQ(svg.find(">-0.0</text>"), std::string::npos);
  EXPECT_NE(svg.find(">weight (log-odds)</text>"), std::string::npos);
  EXPECT_THROW(importance_svg({{"x", INFINITY}}, "t", "v"), std::invalid_argument);
  expect_document(importance_svg({}, "empty", "v"));
}

TEST(ReportPlotsTest, ImportanceChartGrowsForManyItems) {
  std::vector<Importance> items;
  for (int i = 0; i < 40; ++i) items.push_back({"column_" + std::to_string(i), i * 0.01});
  const std::string svg = importance_svg(items, "Many", "value");
  expect_document(svg);
  // 40 rows of 16 px from y = 50, plus the 60 px axis margin.
  EXPECT_NE(svg.find("height=\"750\""), std::string::npos);
  EXPECT_EQ(occurrences(svg, "<rect class=\"bar\""), 40U);
}

TEST(ReportPlotsTest, OutputIsDeterministic) {
  const std::vector<RocSeries> roc{{"a", {0.3, 0.1, 0.9, 0.5, 0.5}, {0, 0, 1, 1, 0}},
                                   {"b", {1, 2, 3, 4, 5}, {0, 1, 0, 1, 1}}};
  EXPECT_EQ(roc_curve_svg(roc, "same"), roc_curve_svg(roc, "same"));
  const auto table = reliability_table(std::vector<double>{0.11, 0.52, 0.93, 0.4},
                                       std::vector<int>{0, 1, 1, 0}, 5);
  EXPECT_EQ(reliability_svg({{"x", table}}, "r"), reliability_svg({{"x", table}}, "r"));
  const std::vector<Importance> items{{"a", 0.123456789}, {"b", -2.5}};
  EXPECT_EQ(importance_svg(items, "i", "v"), importance_svg(items, "i", "v"));
}

}  // namespace
}  // namespace nbo::train
