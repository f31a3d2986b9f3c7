// "Fitting" of a k-nearest-neighbours classifier: validation, a copy of the training rows and
// labels, which become the model's reference rows (see models/neighbors.hpp), and optionally the
// column weights of its distance.
//
// Thread safety: pure function.
#pragma once

#include <Eigen/Dense>
#include <memory>
#include <string>
#include <vector>

#include "nbo/models/kernel_neighbors.hpp"
#include "nbo/models/neighbors.hpp"

namespace nbo::train {

enum class KnnColumnWeighting {
  kNone,  // plain Euclidean distance on the model row
  // w_j = (|AUC_j - 0.5| / max_i |AUC_i - 0.5|)^power, where AUC_j is the ROC-AUC of column j
  // alone on the training rows: a column that does not separate the classes on its own gets
  // weight 0 and no longer dilutes the distance. All weights 1 if no column separates at all.
  kUnivariateAuc,
};

struct KnnParams {
  int k = 15;  // neighbours per vote, 1 <= k <= training rows
  models::NearestNeighbors::Weighting weighting = models::NearestNeighbors::Weighting::kUniform;
  KnnColumnWeighting column_weighting = KnnColumnWeighting::kNone;
  double weight_power = 1.0;  // kUnivariateAuc: exponent, > 0
};

// The kUnivariateAuc weights for `x` and `y` (see KnnColumnWeighting). Requires both classes.
std::vector<double> univariate_auc_weights(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                           double power);

// `x`: rows are samples over `columns` (x.cols() == columns.size()); `y`: 0/1 labels. Throws
// std::invalid_argument on shape mismatches, non-finite values, labels other than 0/1, k
// outside [1, rows], weight_power <= 0, or kUnivariateAuc with one class only.
std::unique_ptr<const models::NearestNeighbors> fit_nearest_neighbors(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const KnnParams& params);

struct KernelNeighborsParams {
  double gamma = 1.0;  // kernel width: weight exp(-gamma d), > 0
  double prior = 0.5;  // pseudo-votes on each side, > 0
  KnnColumnWeighting column_weighting = KnnColumnWeighting::kUnivariateAuc;
  double weight_power = 0.5;  // kUnivariateAuc: exponent, > 0
  // A column with more distinct values than this is stored coarsened: its values ranked and cut
  // into `levels` groups of about equal size (equal values in the same group), each value
  // replaced by its group's mean. The model then explains that column by lookups in a table of
  // levels (models/kernel_neighbors.hpp) instead of an exp per reference row. 0: never; at most
  // KernelNeighbors::kMaxLevels.
  std::size_t levels = models::KernelNeighbors::kMaxLevels;
};

// Every training row becomes a reference row (see models/kernel_neighbors.hpp), its columns
// coarsened as `levels` says; the model's prior_distance is the median, over the reference rows,
// of the squared weighted distance to the nearest other one. Throws std::invalid_argument on
// shape mismatches, non-finite values, labels other than 0/1, fewer than 2 rows, gamma or prior
// not finite and > 0, weight_power <= 0, levels above KernelNeighbors::kMaxLevels, or
// kUnivariateAuc with one class only.
std::unique_ptr<const models::KernelNeighbors> fit_kernel_neighbors(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const KernelNeighborsParams& params);

}  // namespace nbo::train
