#include "nbo/train/knn_fit.hpp"
#include "nbo/train/training_set.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace nbo::train {

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
  return std::make_unique<models::NearestNeighbors>(columns, std::move(reference),
                                                    std::move(labels), params.k, params.weighting);
}

}  // namespace nbo::train
