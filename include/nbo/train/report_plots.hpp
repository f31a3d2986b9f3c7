// SVG plots for the model report, drawn without a plotting library: ROC curves, a reliability
// (calibration) diagram and a horizontal bar chart of importances.
//
// Output: each *_svg() function returns a complete standalone SVG 1.1 document as a UTF-8 string
// that starts with "<svg" (no XML declaration; UTF-8 is XML's default) and ends with "</svg>\n".
// All text taken from the caller (titles, series labels, item names) is XML-escaped (& < > " ').
// Coordinates are in pixels and printed with exactly two decimals ("%.2f", locale-independent),
// tick labels and legend figures with fixed decimals too, so equal inputs give byte-identical
// documents. Series are drawn in a fixed palette, cycled in the order given.
//
// Geometry: a kSvgWidth x kSvgHeight canvas. In the ROC and reliability plots the data square
// [0, 1] x [0, 1] maps onto the plot area: x = kPlotLeft + fx * (kPlotRight - kPlotLeft) and
// y = kPlotBottom - fy * (kPlotBottom - kPlotTop). The importance chart keeps the width, moves
// its left edge right to fit the item names, shares the plot height among the bars (each at most
// 24 px thick) and grows taller than kSvgHeight when there are more items than fit at 16 px per
// row.
//
// Failure: std::invalid_argument for inputs that cannot be plotted (lengths that differ, labels
// other than 0/1, non-finite scores or values, probabilities outside [0, 1], a ROC series without
// both classes, bins < 1); the message names the offending series or item.
//
// Thread safety: pure functions of their arguments; reentrant.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nbo::train {

inline constexpr int kSvgWidth = 640;
inline constexpr int kSvgHeight = 480;
inline constexpr double kPlotLeft = 70.0;
inline constexpr double kPlotRight = 610.0;
inline constexpr double kPlotTop = 50.0;
inline constexpr double kPlotBottom = 420.0;

// One classifier's scores on labelled samples (label 1 = positive). Scores may be any finite
// numbers; only their order matters.
struct RocSeries {
  std::string label;
  std::vector<double> scores;
  std::vector<int> labels;
};

// ROC curves: false positive rate (x) against true positive rate (y), one polyline per series
// from (0, 0) to (1, 1) with one vertex per distinct score (samples with tied scores move the
// curve in one diagonal step), the chance diagonal dashed, and a legend entry per series reading
// "<label> (AUC 0.xxx)" (AUC as train::roc_auc, three decimals).
std::string roc_curve_svg(const std::vector<RocSeries>& series, const std::string& title);

// One bin of a reliability diagram. Bins are [lower, upper), the last one [lower, 1].
struct ReliabilityBin {
  double lower;
  double upper;
  std::size_t count;      // samples whose probability falls in the bin
  double mean_predicted;  // mean probability of those samples; NaN when count == 0
  double observed_rate;   // fraction of them with label 1; NaN when count == 0
};

// Splits [0, 1] into `bins` equal-width bins (bin i is [i/bins, (i+1)/bins)) and summarizes the
// samples of each; empty bins are kept with count 0. Throws std::invalid_argument when
// bins < 1, the spans differ in length, a probability is outside [0, 1] (or NaN) or a label is
// not 0/1. Empty input gives `bins` empty bins.
std::vector<ReliabilityBin> reliability_table(std::span<const double> probabilities,
                                              std::span<const int> labels, int bins);

// Calibration plot: per series, mean predicted probability (x) against observed rate (y) of its
// non-empty bins, joined by a line, each bin a circle whose area is proportional to its count
// (largest bin over all series: radius 9 px); the perfect-calibration diagonal dashed; a legend
// entry per series reading "<label> (n = <samples>)".
std::string reliability_svg(
    const std::vector<std::pair<std::string, std::vector<ReliabilityBin>>>& series,
    const std::string& title);

struct Importance {
  std::string name;
  double value;  // any finite number; negative values draw to the left of zero
};

// Horizontal bar chart, one bar per item top to bottom in the order given, each labelled with
// its name on the left and its value ("%+.4f"-style, fixed 4 decimals) at the bar's end; the
// x axis spans 0 and every value with "nice" ticks (1, 2 or 5 x 10^k) and is titled
// `value_label`.
std::string importance_svg(const std::vector<Importance>& items, const std::string& title,
                           const std::string& value_label);

// One point of a scatter plot, in data units; `group` indexes the plot's group labels.
struct ScatterPoint {
  double x;
  double y;
  std::size_t group;
};

// Scatter plot of points coloured by group (a 12-colour palette, cycled), x in [0, 1] (a
// probability) and y from 0 to the largest y rounded up to a nice tick, with a dashed vertical
// line at `x_cut` and a dashed horizontal line at `y_cut`, each labelled; the legend (one entry
// per group, "<label> (n = <points>)") sits right of the plot, on a canvas wider than kSvgWidth
// (kScatterWidth). Throws std::invalid_argument for non-finite coordinates, x outside [0, 1],
// y < 0, or a group index past the labels.
inline constexpr int kScatterWidth = 1000;
std::string scatter_svg(const std::vector<ScatterPoint>& points,
                        const std::vector<std::string>& group_labels, double x_cut, double y_cut,
                        const std::string& title, const std::string& x_title,
                        const std::string& y_title);

// `text` with & < > " ' replaced by XML entities (valid in text and in quoted attributes).
std::string xml_escape(std::string_view text);

}  // namespace nbo::train
