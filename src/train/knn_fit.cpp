#include "nbo/train/knn_fit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nbo/train/evaluation.hpp"
#include "nbo/train/training_set.hpp"

namespace nbo::train {

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
  const auto rows = static_cast<std::size_t>(x.rows());
  const auto cols = static_cast<std::size_t>(x.cols());
  std::vector<double> reference(rows * cols);
  std::vector<std::uint8_t> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const auto r = static_cast<Eigen::Index>(i);
    labels[i] = y(r) == 1.0 ? 1 : 0;
    for (std::size_t j = 0; j < cols; ++j)
      reference[i * cols + j] = x(r, static_cast<Eigen::Index>(j));
  }
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
  std::vector<double> weights;
  if (params.column_weighting == KnnColumnWeighting::kUnivariateAuc) {
    weights = univariate_auc_weights(x, y, params.weight_power);
  }
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
  return std::make_unique<models::KernelNeighbors>(columns, std::move(reference), std::move(labels),
                                                   params.gamma, params.prior, std::move(weights));
}

}  // namespace nbo::train
