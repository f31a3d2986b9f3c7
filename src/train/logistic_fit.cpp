#include "nbo/train/logistic_fit.hpp"

#include <cmath>
#include <stdexcept>

namespace nbo::train {
namespace {

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

}  // namespace

LogisticFit fit_logistic_l2(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                            const LogisticFitOptions& options) {
  const Eigen::Index n = features.rows();
  const Eigen::Index d = features.cols();
  if (labels.size() != n) throw std::invalid_argument("features and labels differ in length");
  if (!(options.c > 0)) throw std::invalid_argument("C must be > 0");
  const double positives = labels.sum();
  if (positives <= 0 || positives >= static_cast<double>(n)) {
    throw std::invalid_argument("logistic regression needs samples of both classes");
  }

  // Parameters theta = [w; b]; design matrix with a trailing column of ones.
  Eigen::MatrixXd design(n, d + 1);
  design.leftCols(d) = features;
  design.col(d).setOnes();
  Eigen::VectorXd theta = Eigen::VectorXd::Zero(d + 1);
  theta(d) = std::log(positives / (static_cast<double>(n) - positives));

  LogisticFit fit;
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    const Eigen::VectorXd margins = design * theta;
    Eigen::VectorXd residual(n);
    Eigen::VectorXd curvature(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const double p = sigmoid(margins(i));
      residual(i) = p - labels(i);
      curvature(i) = std::max(p * (1.0 - p), 1e-12);
    }
    Eigen::VectorXd gradient = options.c * (design.transpose() * residual);
    gradient.head(d) += theta.head(d);
    Eigen::MatrixXd hessian = options.c * (design.transpose() * curvature.asDiagonal() * design);
    hessian.diagonal().head(d).array() += 1.0;
    const Eigen::VectorXd step = hessian.ldlt().solve(gradient);
    theta -= step;
    fit.iterations = iteration;
    if (step.cwiseAbs().maxCoeff() < options.tolerance) {
      fit.converged = true;
      break;
    }
  }
  fit.weights = theta.head(d);
  fit.intercept = theta(d);
  return fit;
}

}  // namespace nbo::train
