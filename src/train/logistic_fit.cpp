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

// Validates the inputs both fits share; returns the number of positive labels.
double checked_positives(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                         const LogisticFitOptions& options) {
  if (labels.size() != features.rows()) {
    throw std::invalid_argument("features and labels differ in length");
  }
  if (!(options.c > 0)) throw std::invalid_argument("C must be > 0");
  const double positives = labels.sum();
  if (positives <= 0 || positives >= static_cast<double>(features.rows())) {
    throw std::invalid_argument("logistic regression needs samples of both classes");
  }
  return positives;
}

}  // namespace

LogisticFit fit_logistic_l2(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                            const LogisticFitOptions& options) {
  const Eigen::Index n = features.rows();
  const Eigen::Index d = features.cols();
  const double positives = checked_positives(features, labels, options);

  // Parameters theta = [w; b]; design matrix with a trailing column of ones.
  Eigen::MatrixXd design(n, d + 1);
  design.leftCols(d) = features;
  design.col(d).setOnes();
  Eigen::VectorXd theta = Eigen::VectorXd::Zero(d + 1);
  theta(d) = std::log(positives / (static_cast<double>(n) - positives));

  LogisticFit fit;
  // The sums below run row by row in a fixed order. Eigen's matrix products would split the
  // rows into blocks sized from the processor's caches, read at run time, so the same data gave
  // another last digit on another processor (an AMD Zen 4 against this Zen 5) and the model
  // file differed (tests/train/logistic_fit_test.cpp checks this under other cache sizes).
  const Eigen::Index p_count = d + 1;
  Eigen::VectorXd gradient(p_count);
  Eigen::MatrixXd hessian(p_count, p_count);
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    gradient.setZero();
    hessian.setZero();
    for (Eigen::Index i = 0; i < n; ++i) {
      double margin = 0;
      for (Eigen::Index j = 0; j < p_count; ++j) margin += design(i, j) * theta(j);
      const double p = sigmoid(margin);
      const double residual = p - labels(i);
      const double curvature = std::max(p * (1.0 - p), 1e-12);
      for (Eigen::Index j = 0; j < p_count; ++j) {
        const double weighted = curvature * design(i, j);
        gradient(j) += design(i, j) * residual;
        for (Eigen::Index k = 0; k <= j; ++k) hessian(j, k) += weighted * design(i, k);
      }
    }
    for (Eigen::Index j = 0; j < p_count; ++j) {
      for (Eigen::Index k = 0; k < j; ++k) hessian(k, j) = hessian(j, k);
    }
    gradient *= options.c;
    hessian *= options.c;
    gradient.head(d) += theta.head(d);
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

namespace nbo::train {
namespace {

double soft_threshold(double value, double threshold) {
  if (value > threshold) return value - threshold;
  if (value < -threshold) return value + threshold;
  return 0.0;
}

// sum_i logloss(y_i, margin_i), stable for large |margin|.
double total_log_loss(const Eigen::VectorXd& margins, const Eigen::VectorXd& labels) {
  double loss = 0.0;
  for (Eigen::Index i = 0; i < margins.size(); ++i) {
    const double z = margins(i);
    loss += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - labels(i) * z;
  }
  return loss;
}

}  // namespace

LogisticFit fit_logistic_l1(const Eigen::MatrixXd& features, const Eigen::VectorXd& labels,
                            const LogisticFitOptions& options) {
  const Eigen::Index n = features.rows();
  const Eigen::Index d = features.cols();
  const double positives = checked_positives(features, labels, options);
  // Work with the loss scaled by 1/C: minimize sum logloss + lambda * ||w||_1.
  const double lambda = 1.0 / options.c;
  Eigen::VectorXd weights = Eigen::VectorXd::Zero(d);
  double intercept = std::log(positives / (static_cast<double>(n) - positives));
  Eigen::VectorXd margins = Eigen::VectorXd::Constant(n, intercept);
  double objective = total_log_loss(margins, labels);

  LogisticFit fit;
  Eigen::VectorXd curvature(n);
  Eigen::VectorXd working_residual(n);  // z_i - (current quadratic model's margin)
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    for (Eigen::Index i = 0; i < n; ++i) {
      const double p = sigmoid(margins(i));
      curvature(i) = std::max(p * (1.0 - p), 1e-10);
      working_residual(i) = (labels(i) - p) / curvature(i);
    }
    // Coordinate descent on 0.5 * sum h_i (r_i - db - dw.x_i)^2 + lambda * ||w + dw||_1.
    Eigen::VectorXd new_weights = weights;
    double new_intercept = intercept;
    const double curvature_sum = curvature.sum();
    for (int sweep = 0; sweep < 200; ++sweep) {
      double largest_change = 0.0;
      const double intercept_step = curvature.dot(working_residual) / curvature_sum;
      new_intercept += intercept_step;
      working_residual.array() -= intercept_step;
      largest_change = std::abs(intercept_step);
      for (Eigen::Index j = 0; j < d; ++j) {
        const auto column = features.col(j);
        const double scale = (curvature.array() * column.array().square()).sum();
        if (scale <= 0) continue;
        const double old = new_weights(j);
        const double rho =
            (curvature.array() * column.array() * working_residual.array()).sum() + scale * old;
        const double updated = soft_threshold(rho, lambda) / scale;
        if (updated != old) {
          working_residual -= (updated - old) * column;
          new_weights(j) = updated;
          largest_change = std::max(largest_change, std::abs(updated - old));
        }
      }
      if (largest_change < options.tolerance * 0.1) break;
    }
    // Backtracking on the true objective along the proximal Newton direction.
    const Eigen::VectorXd weight_step = new_weights - weights;
    const double intercept_step = new_intercept - intercept;
    double step = 1.0;
    Eigen::VectorXd candidate_weights;
    double candidate_intercept = 0.0;
    double candidate_objective = 0.0;
    for (int halving = 0; halving < 30; ++halving) {
      candidate_weights = weights + step * weight_step;
      candidate_intercept = intercept + step * intercept_step;
      margins = (features * candidate_weights).array() + candidate_intercept;
      candidate_objective =
          total_log_loss(margins, labels) + lambda * candidate_weights.lpNorm<1>();
      if (candidate_objective <= objective + 1e-12 * std::abs(objective)) break;
      step *= 0.5;
    }
    const double change = std::max(std::abs(step * intercept_step),
                                   d > 0 ? (step * weight_step).cwiseAbs().maxCoeff() : 0.0);
    weights = candidate_weights;
    intercept = candidate_intercept;
    objective = candidate_objective;
    fit.iterations = iteration;
    if (change < options.tolerance) {
      fit.converged = true;
      break;
    }
  }
  fit.weights = weights;
  fit.intercept = intercept;
  return fit;
}

}  // namespace nbo::train
