// Fitting of an RBF-kernel support vector classifier (C-SVC) with libsvm, converted to the native
// SupportVectorClassifier that scores without libsvm.
//
// Problem (libsvm's C_SVC): minimize 0.5 * ||w||^2 + C * sum_i hinge(y_i, f(x_i)) with kernel
// K(a, b) = exp(-gamma * ||a - b||^2); solver tolerance eps = 1e-3, shrinking on, 100 MB kernel
// cache, no probability estimates (the caller calibrates the margin). The fitted model's margin
// is positive towards label 1, whichever label libsvm saw first.
//
// Deterministic: the same inputs give the same model.
//
// Thread safety: fit_svc may run concurrently with itself. Its first call silences libsvm's
// progress output for the whole process (libsvm's print function is a global setting).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "nbo/models/support_vector.hpp"

namespace nbo::train {

struct SvcParams {
  double c = 1.0;       // penalty on the hinge loss, > 0
  double gamma = 0.05;  // RBF width, > 0, in 1 / (squared model-row distance)
};

// `x`: rows are samples over `columns` (model-row columns, x.cols() == columns.size()); `y`: 0/1
// labels, both present. The returned estimator's column means are x's column means (the
// occlusion reference). Throws std::invalid_argument on shape mismatches, non-finite values,
// labels other than 0/1, one class only, or parameters libsvm rejects (with libsvm's message).
std::unique_ptr<const models::SupportVectorClassifier> fit_svc(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const SvcParams& params);

}  // namespace nbo::train
