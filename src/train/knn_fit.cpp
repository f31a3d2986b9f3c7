#include "nbo/train/knn_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nbo/train/evaluation.hpp"
#include "nbo/train/training_set.hpp"

namespace nbo::train {
namespace {

// The rows of `x`, row-major, and the 0/1 labels of `y`: a reference set as the models keep it.
std::pair<std::vector<double>, std::vector<std::uint8_t>> reference_set_of(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
  const auto rows = static_cast<std::size_t>(x.rows());
  const auto cols = static_cast<std::size_t>(x.cols());
  std::vector<double> reference(rows * cols);
  std::vector<std::uint8_t> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    labels[i] = y(r) == 1.0 ? 1 : 0;
    for (std::size_t j = 0; j < cols; ++j) {
      reference[i * cols + j] = x(r, static_cast<Eigen::Index>(j));
    }
  }
  return {std::move(reference), std::move(labels)};
}

// Coarsens column `column` of row-major `rows` (see KernelNeighborsParams::levels).
void coarsen_column(std::vector<double>& rows, std::size_t columns, std::size_t column,
                    std::size_t levels) {
  const std::size_t count = rows.size() / columns;
  std::vector<std::pair<double, std::size_t>> order;
  order.reserve(count);
  for (std::size_t i = 0; i < count; ++i) order.emplace_back(rows[i * columns + column], i);
  std::sort(order.begin(), order.end());
  std::size_t distinct = 1;
  for (std::size_t i = 1; i < count; ++i) distinct += order[i].first != order[i - 1].first ? 1 : 0;
  if (distinct <= levels) return;
  // Group g ends at rank (g + 1) * count / levels, moved on past values equal to its last.
  std::size_t begin = 0;
  for (std::size_t group = 0; group < levels && begin < count; ++group) {
    std::size_t end = std::max(begin + 1, (group + 1) * count / levels);
    while (end < count && order[end].first == order[end - 1].first) ++end;
    double sum = 0.0;
    for (std::size_t i = begin; i < end; ++i) sum += order[i].first;
    const double mean = sum / static_cast<double>(end - begin);
    for (std::size_t i = begin; i < end; ++i) rows[order[i].second * columns + column] = mean;
    begin = end;
  }
}

// The median over the rows of the squared weighted distance to the nearest other row.
double median_nearest_distance(const std::vector<double>& rows, std::size_t columns,
                               const std::vector<double>& weights) {
  const std::size_t count = rows.size() / columns;
  std::vector<double> nearest(count, std::numeric_limits<double>::infinity());
  for (std::size_t a = 0; a < count; ++a) {
    for (std::size_t b = a + 1; b < count; ++b) {
      double sum = 0.0;
      for (std::size_t j = 0; j < columns; ++j) {
        const double weight = weights.empty() ? 1.0 : weights[j];
        const double difference = weight * (rows[a * columns + j] - rows[b * columns + j]);
        sum += difference * difference;
      }
      nearest[a] = std::min(nearest[a], sum);
      nearest[b] = std::min(nearest[b], sum);
    }
  }
  const auto middle = nearest.begin() + static_cast<std::ptrdiff_t>(count / 2);
  std::nth_element(nearest.begin(), middle, nearest.end());
  return *middle;
}

}  // namespace

std::vector<double> univariate_auc_weights(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                           double power) {
  if (!(power > 0.0) || !std::isfinite(power)) {
    throw std::invalid_argument(
        fmt::format("k-NN fit: the column weight power must be > 0, is {}", power));
  }
  std::vector<int> labels(static_cast<std::size_t>(y.size()));
  for (Eigen::Index i = 0; i < y.size(); ++i) labels[static_cast<std::size_t>(i)] = y(i) == 1.0;
  std::vector<double> separation(static_cast<std::size_t>(x.cols()));
  std::vector<double> column(static_cast<std::size_t>(x.rows()));
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    for (Eigen::Index i = 0; i < x.rows(); ++i) column[static_cast<std::size_t>(i)] = x(i, j);
    separation[static_cast<std::size_t>(j)] = std::abs(roc_auc(column, labels) - 0.5);
  }
  const double strongest = *std::max_element(separation.begin(), separation.end());
  std::vector<double> weights(separation.size(), 1.0);
  if (strongest > 0.0) {
    for (std::size_t j = 0; j < weights.size(); ++j) {
      weights[j] = std::pow(separation[j] / strongest, power);
    }
  }
  return weights;
}

std::unique_ptr<const models::NearestNeighbors> fit_nearest_neighbors(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const KnnParams& params) {
  check_training_set("k-NN fit", x, y, columns, /*require_both_classes=*/false);
  if (params.k < 1 || params.k > x.rows()) {
    throw std::invalid_argument(fmt::format(
        "k-NN fit: k must be in [1, {}] (the training rows), is {}", x.rows(), params.k));
  }
  auto [reference, labels] = reference_set_of(x, y);
  std::vector<double> weights;
  if (params.column_weighting == KnnColumnWeighting::kUnivariateAuc) {
    weights = univariate_auc_weights(x, y, params.weight_power);
  }
  return std::make_unique<models::NearestNeighbors>(columns, std::move(reference),
                                                    std::move(labels), params.k, params.weighting,
                                                    std::move(weights));
}

std::unique_ptr<const models::KernelNeighbors> fit_kernel_neighbors(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const KernelNeighborsParams& params) {
  check_training_set("kernel neighbours fit", x, y, columns, /*require_both_classes=*/false);
  if (x.rows() < 2) throw std::invalid_argument("kernel neighbours fit: needs at least 2 rows");
  if (params.levels > models::KernelNeighbors::kMaxLevels) {
    throw std::invalid_argument(
        fmt::format("kernel neighbours fit: levels must be at most {}, is {}",
                    models::KernelNeighbors::kMaxLevels, params.levels));
  }
  std::vector<double> weights;
  if (params.column_weighting == KnnColumnWeighting::kUnivariateAuc) {
    weights = univariate_auc_weights(x, y, params.weight_power);
  }
  const auto cols = static_cast<std::size_t>(x.cols());
  auto [reference, labels] = reference_set_of(x, y);
  if (params.levels > 0) {
    for (std::size_t j = 0; j < cols; ++j) coarsen_column(reference, cols, j, params.levels);
  }
  const double prior_distance = median_nearest_distance(reference, cols, weights);
  return std::make_unique<models::KernelNeighbors>(columns, std::move(reference), std::move(labels),
                                                   params.gamma, params.prior, prior_distance,
                                                   std::move(weights));
}

}  // namespace nbo::train
