// The segments trainer's pieces that need no export: the natural break of a profit or behaviour
// column, and the scatter plot of the report.
#include "nbo/train/segments_trainer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nbo/train/report_plots.hpp"

namespace nbo::train {
namespace {

using ::testing::HasSubstr;

TEST(NaturalBreak, CutsBetweenTheTwoGroupsAtTheMidpoint) {
  const NaturalBreak cut = natural_break({10.0, 1.0, 11.0, 2.0, 1.0, 12.0});
  EXPECT_DOUBLE_EQ(cut.threshold, 6.0);
  EXPECT_EQ(cut.low_count, 3U);
  EXPECT_EQ(cut.high_count, 3U);
  EXPECT_NEAR(cut.low_mean, 4.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(cut.high_mean, 11.0);
  EXPECT_GT(cut.explained, 0.95);
  EXPECT_LE(cut.explained, 1.0);
}

TEST(NaturalBreak, NeverCutsBetweenEqualValues) {
  // Most values are 3: the cut must put all of them on one side.
  const NaturalBreak cut = natural_break({3, 3, 3, 3, 3, 4, 9});
  EXPECT_TRUE(cut.threshold > 4.0 && cut.threshold < 9.0) << cut.threshold;
  EXPECT_THROW(natural_break({2.0, 2.0}), std::invalid_argument);
  EXPECT_THROW(natural_break({}), std::invalid_argument);
}

TEST(ScatterSvg, DrawsEveryPointTheCutsAndTheLegendWithCounts) {
  const std::string svg =
      scatter_svg({{0.1, 2.0, 0}, {0.9, 5.0, 1}, {0.8, 6.5, 1}}, {"stable", "at <risk>"}, 0.5, 4.0,
                  "t", "probability", "profit");
  EXPECT_EQ(svg.rfind("<svg", 0), 0U);
  std::size_t circles = 0;
  for (auto at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(circles, 3U + 2U);  // the points and one legend marker per group
  EXPECT_THAT(svg, HasSubstr("stable (n = 1)"));
  EXPECT_THAT(svg, HasSubstr("at &lt;risk&gt; (n = 2)"));
  EXPECT_THAT(svg, HasSubstr(">0.500</text>"));
  EXPECT_THAT(svg, HasSubstr(">4.00</text>"));
  EXPECT_THROW(scatter_svg({{1.5, 1.0, 0}}, {"a"}, 0.5, 1.0, "t", "x", "y"), std::invalid_argument);
  EXPECT_THROW(scatter_svg({{0.5, 1.0, 3}}, {"a"}, 0.5, 1.0, "t", "x", "y"), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
