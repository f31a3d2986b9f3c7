// "Fitting" of a k-nearest-neighbours classifier: validation and a copy of the training rows
// and labels, which become the model's reference rows (see models/neighbors.hpp).
//
// Thread safety: pure function.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "nbo/models/neighbors.hpp"

namespace nbo::train {

struct KnnParams {
  int k = 15;  // neighbours per vote, 1 <= k <= training rows
  models::NearestNeighbors::Weighting weighting = models::NearestNeighbors::Weighting::kUniform;
};

// `x`: rows are samples over `columns` (x.cols() == columns.size()); `y`: 0/1 labels. Throws
// std::invalid_argument on shape mismatches, non-finite values, labels other than 0/1, or k
// outside [1, rows].
std::unique_ptr<const models::NearestNeighbors> fit_nearest_neighbors(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const KnnParams& params);

}  // namespace nbo::train
