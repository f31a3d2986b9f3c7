#include "nbo/train/report_plots.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "nbo/train/evaluation.hpp"

namespace nbo::train {
namespace {

constexpr std::array<std::string_view, 8> kPalette{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
constexpr double kCharWidth = 7.0;  // rough advance of one character at font-size 12, px
constexpr double kMaxMarkerRadius = 9.0;
constexpr double kMinMarkerRadius = 1.5;

std::string_view color(std::size_t index) {
  return kPalette[index % kPalette.size()];
}

// Fixed two-decimal pixel coordinate.
std::string px(double value) {
  return fmt::format("{:.2f}", value);
}

double plot_x(double fraction) {
  return kPlotLeft + fraction * (kPlotRight - kPlotLeft);
}
double plot_y(double fraction) {
  return kPlotBottom - fraction * (kPlotBottom - kPlotTop);
}

// Number of Unicode code points in UTF-8 text (continuation bytes are not counted).
std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
  }));
}

double text_width(std::string_view text) {
  return static_cast<double>(code_points(text)) * kCharWidth;
}

// The first `max_points` code points of `text`, with "…" appended when anything was cut.
std::string truncate_text(std::string_view text, std::size_t max_points) {
  if (code_points(text) <= max_points) return std::string(text);
  std::size_t points = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0U) != 0x80U) {
      if (points == max_points - 1) break;
      ++points;
    }
  }
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

void open_document(std::string& svg, int height, const std::string& title, int width = kSvgWidth) {
  svg += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
      "font-size=\"12\">\n",
      width, height);
  svg += fmt::format("<title>{}</title>\n", xml_escape(title));
  svg += "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += fmt::format(
      "<text x=\"{}\" y=\"30.00\" text-anchor=\"middle\" font-size=\"16\" "
      "font-weight=\"bold\">{}</text>\n",
      px(width / 2.0), xml_escape(title));
}

void close_document(std::string& svg) {
  svg += "</svg>\n";
}

// The x axis title under the plot area and the y axis title turned along its left side.
void axis_titles(std::string& svg, std::string_view x_title, std::string_view y_title) {
  svg +=
      fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                  px((kPlotLeft + kPlotRight) / 2.0), px(kPlotBottom + 42.0), xml_escape(x_title));
  const double y_middle = (kPlotTop + kPlotBottom) / 2.0;
  svg += fmt::format(
      "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}"
      "</text>\n",
      px(kPlotLeft - 45.0), px(y_middle), xml_escape(y_title));
}

// Frame, grid, ticks and tick labels of the unit square, the axis titles, and the dashed
// diagonal y = x.
void unit_square_axes(std::string& svg, std::string_view x_title, std::string_view y_title) {
  svg += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (int k = 1; k < 5; ++k) {
    const double f = k / 5.0;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", px(plot_x(f)),
                       px(kPlotTop), px(kPlotBottom));
    svg += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n", px(plot_y(f)),
                       px(kPlotLeft), px(kPlotRight));
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n",
      px(kPlotLeft), px(kPlotTop), px(kPlotRight - kPlotLeft), px(kPlotBottom - kPlotTop));
  svg += "<g stroke=\"black\" stroke-width=\"1\">\n";
  for (int k = 0; k <= 5; ++k) {
    const double f = k / 5.0;
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", px(plot_x(f)),
                       px(kPlotBottom), px(kPlotBottom + 5.0));
    svg += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n", px(plot_y(f)),
                       px(kPlotLeft - 5.0), px(kPlotLeft));
  }
  svg += "</g>\n";
  for (int k = 0; k <= 5; ++k) {
    const double f = k / 5.0;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.1f}</text>\n",
                       px(plot_x(f)), px(kPlotBottom + 19.0), f);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.1f}</text>\n",
                       px(kPlotLeft - 8.0), px(plot_y(f) + 4.0), f);
  }
  axis_titles(svg, x_title, y_title);
  svg += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888888\" "
      "stroke-dasharray=\"6 4\"/>\n",
      px(plot_x(0.0)), px(plot_y(0.0)), px(plot_x(1.0)), px(plot_y(1.0)));
}

// A legend box of coloured line samples and (unescaped) entry texts; `bottom_right` places it
// in the plot area's lower right corner, otherwise in its upper left corner.
void legend(std::string& svg, const std::vector<std::string>& entries, bool bottom_right) {
  if (entries.empty()) return;
  constexpr double kRow = 18.0;
  constexpr double kPad = 8.0;
  constexpr double kSample = 24.0;
  double widest = 0.0;
  for (const auto& entry : entries) widest = std::max(widest, text_width(entry));
  const double width = kPad + kSample + 6.0 + widest + kPad;
  const double height = kPad * 2.0 + kRow * static_cast<double>(entries.size()) - 4.0;
  const double left = bottom_right ? kPlotRight - 10.0 - width : kPlotLeft + 10.0;
  const double top = bottom_right ? kPlotBottom - 10.0 - height : kPlotTop + 10.0;
  svg += fmt::format(
      "<g class=\"legend\">\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"white\" "
      "fill-opacity=\"0.9\" stroke=\"#888888\"/>\n",
      px(left), px(top), px(width), px(height));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const double y = top + kPad + 7.0 + kRow * static_cast<double>(i);
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"2\"/>\n",
        px(left + kPad), px(left + kPad + kSample), px(y), color(i));
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", px(left + kPad + kSample + 6.0),
                       px(y + 4.0), xml_escape(entries[i]));
  }
  svg += "</g>\n";
}

void check_labels(std::span<const int> labels, std::string_view what) {
  for (const int label : labels) {
    if (label != 0 && label != 1) {
      throw std::invalid_argument(fmt::format("{}: label {} is not 0 or 1", what, label));
    }
  }
}

struct Point {
  double x;
  double y;
};

// The ROC curve's vertices: (0, 0), then after each group of equal scores, highest first, the
// (false positive rate, true positive rate) reached.
std::vector<Point> roc_vertices(const RocSeries& series) {
  const std::string what = fmt::format("ROC series '{}'", series.label);
  if (series.scores.size() != series.labels.size()) {
    throw std::invalid_argument(what + ": scores and labels differ in length");
  }
  check_labels(series.labels, what);
  for (const double score : series.scores) {
    if (!std::isfinite(score)) throw std::invalid_argument(what + ": a score is not finite");
  }
  const auto positives =
      static_cast<std::size_t>(std::count(series.labels.begin(), series.labels.end(), 1));
  const std::size_t negatives = series.labels.size() - positives;
  if (positives == 0 || negatives == 0) {
    throw std::invalid_argument(what + ": needs samples of both classes");
  }
  std::vector<std::size_t> order(series.scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return series.scores[a] > series.scores[b];
  });
  std::vector<Point> vertices{{0.0, 0.0}};
  std::size_t true_positives = 0;
  std::size_t false_positives = 0;
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end < order.size() && series.scores[order[end]] == series.scores[order[start]]) {
      (series.labels[order[end]] == 1 ? true_positives : false_positives) += 1;
      ++end;
    }
    vertices.push_back({static_cast<double>(false_positives) / static_cast<double>(negatives),
                        static_cast<double>(true_positives) / static_cast<double>(positives)});
    start = end;
  }
  return vertices;
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about five intervals over `span`.
double nice_step(double span) {
  const double raw = span / 5.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  if (normalized <= 1.0) return magnitude;
  if (normalized <= 2.0) return 2.0 * magnitude;
  if (normalized <= 5.0) return 5.0 * magnitude;
  return 10.0 * magnitude;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string roc_curve_svg(const std::vector<RocSeries>& series, const std::string& title) {
  std::vector<std::vector<Point>> curves;
  std::vector<std::string> entries;
  for (const auto& one : series) {
    curves.push_back(roc_vertices(one));
    entries.push_back(fmt::format("{} (AUC {:.3f})", one.label, roc_auc(one.scores, one.labels)));
  }
  std::string svg;
  open_document(svg, kSvgHeight, title);
  unit_square_axes(svg, "False positive rate", "True positive rate");
  for (std::size_t i = 0; i < curves.size(); ++i) {
    std::string points;
    for (const auto& vertex : curves[i]) {
      points += points.empty() ? "" : " ";
      points += px(plot_x(vertex.x)) + "," + px(plot_y(vertex.y));
    }
    svg += fmt::format(
        "<polyline class=\"roc\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
        "points=\"{}\"/>\n",
        color(i), points);
  }
  legend(svg, entries, true);
  close_document(svg);
  return svg;
}

std::vector<ReliabilityBin> reliability_table(std::span<const double> probabilities,
                                              std::span<const int> labels, int bins) {
  if (bins < 1) throw std::invalid_argument(fmt::format("bins must be >= 1, got {}", bins));
  if (probabilities.size() != labels.size()) {
    throw std::invalid_argument("probabilities and labels differ in length");
  }
  check_labels(labels, "reliability table");
  const auto count = static_cast<std::size_t>(bins);
  std::vector<ReliabilityBin> table(count);
  for (std::size_t i = 0; i < count; ++i) {
    table[i] = {static_cast<double>(i) / bins, static_cast<double>(i + 1) / bins, 0, 0.0, 0.0};
  }
  for (std::size_t k = 0; k < probabilities.size(); ++k) {
    const double p = probabilities[k];
    if (!(p >= 0.0 && p <= 1.0)) {
      throw std::invalid_argument(
          fmt::format("probability {} (sample {}) is outside [0, 1]", p, k));
    }
    // Start from the arithmetic guess, then settle against the stored edges so that a bin's
    // members always satisfy lower <= p < upper (p == 1 goes to the last bin).
    auto i = std::min(static_cast<std::size_t>(p * bins), count - 1);
    while (i > 0 && p < table[i].lower) --i;
    while (i + 1 < count && p >= table[i].upper) ++i;
    table[i].count += 1;
    table[i].mean_predicted += p;
    table[i].observed_rate += labels[k];
  }
  for (auto& bin : table) {
    if (bin.count == 0) {
      bin.mean_predicted = std::nan("");
      bin.observed_rate = std::nan("");
    } else {
      bin.mean_predicted /= static_cast<double>(bin.count);
      bin.observed_rate /= static_cast<double>(bin.count);
    }
  }
  return table;
}

std::string reliability_svg(
    const std::vector<std::pair<std::string, std::vector<ReliabilityBin>>>& series,
    const std::string& title) {
  std::size_t largest = 0;
  std::vector<std::string> entries;
  for (const auto& [label, table] : series) {
    std::size_t total = 0;
    for (const auto& bin : table) {
      if (bin.count == 0) continue;
      if (!(bin.mean_predicted >= 0.0 && bin.mean_predicted <= 1.0 && bin.observed_rate >= 0.0 &&
            bin.observed_rate <= 1.0)) {
        throw std::invalid_argument(
            fmt::format("reliability series '{}': a bin's mean or rate is outside [0, 1]", label));
      }
      total += bin.count;
      largest = std::max(largest, bin.count);
    }
    entries.push_back(fmt::format("{} (n = {})", label, total));
  }
  std::string svg;
  open_document(svg, kSvgHeight, title);
  unit_square_axes(svg, "Mean predicted probability", "Observed rate");
  for (std::size_t i = 0; i < series.size(); ++i) {
    std::string points;
    std::string markers;
    for (const auto& bin : series[i].second) {
      if (bin.count == 0) continue;
      const double x = plot_x(bin.mean_predicted);
      const double y = plot_y(bin.observed_rate);
      points += points.empty() ? "" : " ";
      points += px(x) + "," + px(y);
      const double radius =
          std::max(kMinMarkerRadius, kMaxMarkerRadius * std::sqrt(static_cast<double>(bin.count) /
                                                                  static_cast<double>(largest)));
      markers += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"><title>{}</title></circle>\n",
                             px(x), px(y), px(radius),
                             fmt::format("[{:.3f}, {:.3f}{}: n = {}, mean predicted {:.3f}, "
                                         "observed {:.3f}",
                                         bin.lower, bin.upper, bin.upper >= 1.0 ? "]" : ")",
                                         bin.count, bin.mean_predicted, bin.observed_rate));
    }
    svg += fmt::format(
        "<polyline class=\"reliability\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" "
        "points=\"{}\"/>\n",
        color(i), points);
    svg += fmt::format("<g fill=\"{}\" fill-opacity=\"0.6\" stroke=\"{}\">\n{}</g>\n", color(i),
                       color(i), markers);
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"10\" fill=\"#555555\">marker area "
      "proportional to the number of samples in the bin</text>\n",
      px(kPlotRight), px(kPlotBottom + 56.0));
  legend(svg, entries, false);
  close_document(svg);
  return svg;
}

std::string importance_svg(const std::vector<Importance>& items, const std::string& title,
                           const std::string& value_label) {
  double low = 0.0;
  double high = 0.0;
  for (const auto& item : items) {
    if (!std::isfinite(item.value)) {
      throw std::invalid_argument(fmt::format("importance '{}': value is not finite", item.name));
    }
    low = std::min(low, item.value);
    high = std::max(high, item.value);
  }
  if (low == high) high = 1.0;
  const double step = nice_step(high - low);
  const auto first_tick = static_cast<long long>(std::floor(low / step + 1e-9));
  const auto last_tick = static_cast<long long>(std::ceil(high / step - 1e-9));
  const double axis_low = static_cast<double>(first_tick) * step;
  const double axis_high = static_cast<double>(last_tick) * step;
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));

  constexpr double kMaxNameColumn = 300.0;
  constexpr double kValueColumn = 70.0;
  constexpr double kMinRow = 16.0;
  constexpr double kMaxBar = 24.0;
  constexpr double kBottomMargin = 60.0;
  std::vector<std::string> names;
  double name_column = 60.0;
  for (const auto& item : items) {
    names.push_back(
        truncate_text(item.name, static_cast<std::size_t>((kMaxNameColumn - 12.0) / kCharWidth)));
    name_column = std::max(name_column, text_width(names.back()) + 12.0);
  }
  name_column = std::min(name_column, kMaxNameColumn);
  const double left = name_column;
  const double right = kSvgWidth - kValueColumn;
  const double available = kPlotBottom - kPlotTop;
  const double rows = static_cast<double>(std::max<std::size_t>(items.size(), 1));
  const double row = std::max(available / rows, kMinRow);
  const double bottom = kPlotTop + row * rows;
  const int height = std::max(kSvgHeight, static_cast<int>(std::ceil(bottom + kBottomMargin)));
  const auto x_of = [&](double value) {
    return left + (value - axis_low) / (axis_high - axis_low) * (right - left);
  };

  std::string svg;
  open_document(svg, height, title);
  svg += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (long long k = first_tick; k <= last_tick; ++k) {
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n",
                       px(x_of(static_cast<double>(k) * step)), px(kPlotTop), px(bottom));
  }
  svg += "</g>\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    const double y = kPlotTop + row * static_cast<double>(i);
    const double bar = std::min(row * 0.7, kMaxBar);
    const double x0 = x_of(std::min(0.0, items[i].value));
    const double x1 = x_of(std::max(0.0, items[i].value));
    const double middle = y + row / 2.0 + 4.0;
    svg += fmt::format(
        "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", px(x0),
        px(y + (row - bar) / 2.0), px(x1 - x0), px(bar),
        items[i].value < 0.0 ? color(1) : color(0));
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", px(left - 6.0),
                       px(middle), xml_escape(names[i]));
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{:+.4f}</text>\n", px(right + 6.0), px(middle),
                       items[i].value);
  }
  svg += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n"
      "<line x1=\"{3}\" y1=\"{2}\" x2=\"{4}\" y2=\"{2}\" stroke=\"black\"/>\n",
      px(x_of(0.0)), px(kPlotTop), px(bottom), px(left), px(right));
  for (long long k = first_tick; k <= last_tick; ++k) {
    double value = static_cast<double>(k) * step;
    if (k == 0) value = 0.0;
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n"
        "<text x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4:.{5}f}</text>\n",
        px(x_of(value)), px(bottom), px(bottom + 5.0), px(bottom + 19.0), value, decimals);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     px((left + right) / 2.0), px(bottom + 42.0), xml_escape(value_label));
  if (items.empty()) {
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555555\">no items</text>\n",
        px((left + right) / 2.0), px((kPlotTop + bottom) / 2.0));
  }
  close_document(svg);
  return svg;
}

}  // namespace nbo::train

namespace nbo::train {

std::string scatter_svg(const std::vector<ScatterPoint>& points,
                        const std::vector<std::string>& group_labels, double x_cut, double y_cut,
                        const std::string& title, const std::string& x_title,
                        const std::string& y_title) {
  constexpr std::array<std::string_view, 12> kGroupPalette{
      "#d62728", "#ff7f0e", "#bcbd22", "#e377c2", "#8c564b", "#9467bd",
      "#17becf", "#1f77b4", "#7f7f7f", "#2ca02c", "#98df8a", "#aec7e8"};
  double y_max = y_cut;
  std::vector<std::size_t> counts(group_labels.size(), 0);
  for (const ScatterPoint& point : points) {
    if (!std::isfinite(point.x) || !std::isfinite(point.y) || point.x < 0.0 || point.x > 1.0 ||
        point.y < 0.0) {
      throw std::invalid_argument(
          fmt::format("scatter point ({}, {}): x must be in [0, 1] and y >= 0", point.x, point.y));
    }
    if (point.group >= group_labels.size()) {
      throw std::invalid_argument(fmt::format("scatter point group {} has no label ({} labels)",
                                              point.group, group_labels.size()));
    }
    ++counts[point.group];
    y_max = std::max(y_max, point.y);
  }
  const double step = nice_step(y_max > 0.0 ? y_max : 1.0);
  const double y_top = std::max(step, std::ceil(y_max / step) * step);
  const auto sx = [](double x) { return plot_x(x); };
  const auto sy = [&](double y) { return plot_y(y / y_top); };

  std::string svg;
  open_document(svg, kSvgHeight, title, kScatterWidth);
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n",
      px(kPlotLeft), px(kPlotTop), px(kPlotRight - kPlotLeft), px(kPlotBottom - kPlotTop));
  for (int k = 0; k <= 5; ++k) {
    const double f = k / 5.0;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.1f}</text>\n", px(sx(f)),
                       px(kPlotBottom + 19.0), f);
  }
  for (double y = 0.0; y <= y_top + step / 2.0; y += step) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:g}</text>\n",
                       px(kPlotLeft - 8.0), px(sy(y) + 4.0), y);
  }
  axis_titles(svg, x_title, y_title);
  svg += "<g fill-opacity=\"0.7\">\n";
  for (const ScatterPoint& point : points) {
    svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.50\" fill=\"{}\"/>\n", px(sx(point.x)),
                       px(sy(point.y)), kGroupPalette[point.group % kGroupPalette.size()]);
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\" "
      "stroke-dasharray=\"6 4\"/>\n",
      px(sx(x_cut)), px(kPlotTop), px(kPlotBottom));
  svg += fmt::format("<text x=\"{}\" y=\"{}\">{:.3f}</text>\n", px(sx(x_cut) + 4.0),
                     px(kPlotTop + 14.0), x_cut);
  svg += fmt::format(
      "<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\" stroke=\"black\" "
      "stroke-dasharray=\"6 4\"/>\n",
      px(sy(y_cut)), px(kPlotLeft), px(kPlotRight));
  svg += fmt::format("<text x=\"{}\" y=\"{}\">{:.2f}</text>\n", px(kPlotLeft + 4.0),
                     px(sy(y_cut) - 4.0), y_cut);
  constexpr double kRow = 18.0;
  const double legend_left = kPlotRight + 20.0;
  svg += "<g class=\"legend\">\n";
  for (std::size_t g = 0; g < group_labels.size(); ++g) {
    const double y = kPlotTop + 10.0 + kRow * static_cast<double>(g);
    svg += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"5.00\" fill=\"{}\"/>\n",
                       px(legend_left + 5.0), px(y), kGroupPalette[g % kGroupPalette.size()]);
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\">{}</text>\n", px(legend_left + 16.0), px(y + 4.0),
        xml_escape(fmt::format("{} (n = {})", truncate_text(group_labels[g], 40), counts[g])));
  }
  svg += "</g>\n";
  close_document(svg);
  return svg;
}

}  // namespace nbo::train
