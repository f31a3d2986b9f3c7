// Fitting of penalized logistic regression.
//
// Objectives (scikit-learn's convention, so C values compare; intercept b unpenalized):
//   L2: minimize  C * sum_i logloss(y_i, b + w.x_i)  +  0.5 * ||w||^2
//       by Newton's method (IRLS); strictly convex, so Newton converges to the unique optimum;
//       fit stops when the largest coordinate of the Newton step is below `tolerance`.
//   L1: minimize  C * sum_i logloss(y_i, b + w.x_i)  +  ||w||_1
//       by proximal Newton (glmnet's scheme): a weighted least-squares model of the loss at the
//       current point, minimized with the L1 term by cyclic coordinate descent with soft
//       thresholding, then a backtracking line search on the true objective. Converged when the
//       largest coefficient change of an outer step is below `tolerance` (the optimum satisfies
//       the subgradient conditions; tests check them). Weights may be exactly zero.
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
LogisticFit fit_logistic_l1(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                            const LogisticFitOptions& options);

}  // namespace nbo::train
