// Fitting of L2-penalized logistic regression by Newton's method (IRLS).
//
// Objective (scikit-learn's convention, so C values compare):
//   minimize  C * sum_i logloss(y_i, b + w.x_i)  +  0.5 * ||w||^2      (intercept b unpenalized)
// The problem is strictly convex for C < infinity, so Newton converges to the unique optimum;
// fit stops when the largest coordinate of the Newton step is below `tolerance`.
//
// Thread safety: pure functions.
#pragma once

#include <Eigen/Dense>

namespace nbo::train {

struct LogisticFitOptions {
  double c = 1.0;            // inverse regularization strength, > 0
  double tolerance = 1e-10;  // on the Newton step
  int max_iterations = 100;
};

struct LogisticFit {
  Eigen::VectorXd weights;
  double intercept = 0.0;
  int iterations = 0;
  bool converged = false;
};

// `features`: rows are samples; `labels`: 0/1. Throws std::invalid_argument on shape mismatch
// or labels of one class only.
LogisticFit fit_logistic_l2(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                            const LogisticFitOptions& options);

}  // namespace nbo::train
