#include "nbo/train/logistic_fit.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>

#include "synthetic_data.hpp"

namespace nbo::train {
namespace {

using test::Dataset;
using test::uniform;

// n samples, 3 features with different scales; labels drawn from a logistic model with weights
// (1.5, -1.0, 0) and intercept -0.3 so both classes appear and the data is not separable.
Dataset synthetic(int n, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  Dataset d{Eigen::MatrixXd(n, 3), Eigen::VectorXd(n)};
  for (int i = 0; i < n; ++i) {
    d.x(i, 0) = 2.0 * uniform(generator) - 1.0;
    d.x(i, 1) = 4.0 * uniform(generator) - 2.0;
    d.x(i, 2) = uniform(generator);
    const double z = 1.5 * d.x(i, 0) - 1.0 * d.x(i, 1) - 0.3;
    const double p = 1.0 / (1.0 + std::exp(-z));
    d.y(i) = uniform(generator) < p ? 1.0 : 0.0;
  }
  return d;
}

// Objective C * sum logloss + 0.5 ||w||^2, computed directly.
double objective(const Dataset& d, const Eigen::VectorXd& w, double b, double c) {
  double loss = 0.0;
  for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
    const double z = d.x.row(i).dot(w) + b;
    // logloss = log(1 + e^z) - y z, stable form
    loss += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - d.y(i) * z;
  }
  return c * loss + 0.5 * w.squaredNorm();
}

// Eigen sizes its matrix-product blocks from the processor's caches, read at run time; the fit
// must not depend on them, or another processor writes another model file. Emulates other
// processors on this one: an AMD Zen 4's caches, and tiny ones that split every product.
TEST(LogisticFitTest, FitIsBitForBitTheSameWhateverTheProcessorsCacheSizes) {
  std::mt19937_64 generator(11);
  const Eigen::Index n = 1500;
  const Eigen::Index columns = 24;
  Eigen::MatrixXd x(n, columns);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    double z = -0.2;
    for (Eigen::Index j = 0; j < columns; ++j) {
      x(i, j) = 2.0 * uniform(generator) - 1.0;
      z += (j % 3 == 0 ? 0.8 : -0.3) * x(i, j);
    }
    y(i) = uniform(generator) < 1.0 / (1.0 + std::exp(-z)) ? 1.0 : 0.0;
  }
  std::ptrdiff_t l1 = 0;
  std::ptrdiff_t l2 = 0;
  std::ptrdiff_t l3 = 0;
  Eigen::internal::manage_caching_sizes(Eigen::GetAction, &l1, &l2, &l3);
  const LogisticFit reference = fit_logistic_l2(x, y, {.c = 1e4});
  const std::ptrdiff_t others[][3] = {{32 * 1024, 1024 * 1024, 32 * 1024 * 1024},
                                      {1024, 4 * 1024, 16 * 1024}};
  for (const auto& sizes : others) {
    Eigen::setCpuCacheSizes(sizes[0], sizes[1], sizes[2]);
    const LogisticFit fit = fit_logistic_l2(x, y, {.c = 1e4});
    Eigen::setCpuCacheSizes(l1, l2, l3);
    EXPECT_EQ(fit.iterations, reference.iterations) << "L1 " << sizes[0];
    EXPECT_EQ(std::bit_cast<std::uint64_t>(fit.intercept),
              std::bit_cast<std::uint64_t>(reference.intercept))
        << "L1 " << sizes[0];
    for (Eigen::Index j = 0; j < columns; ++j) {
      EXPECT_EQ(std::bit_cast<std::uint64_t>(fit.weights(j)),
                std::bit_cast<std::uint64_t>(reference.weights(j)))
          << "L1 " << sizes[0] << ", weight " << j;
    }
  }
}

TEST(LogisticFitTest, GradientOfTheObjectiveVanishesAtTheSolution) {
  const Dataset d = synthetic(300, 7);
  for (const double c : {0.01, 1.0, 100.0}) {
    const LogisticFit fit = fit_logistic_l2(d.x, d.y, {.c = c});
    ASSERT_TRUE(fit.converged) << "C=" << c;
    EXPECT_GT(fit.iterations, 0);
    EXPECT_LT(fit.iterations, 100);
    ASSERT_EQ(fit.weights.size(), 3);
    // d/dw = C * X^T (p - y) + w ; d/db = C * sum (p - y)
    Eigen::VectorXd grad_w = fit.weights;
    double grad_b = 0.0;
    for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
      const double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(fit.weights) + fit.intercept)));
      grad_w += c * (p - d.y(i)) * d.x.row(i).transpose();
      grad_b += c * (p - d.y(i));
    }
    EXPECT_LT(grad_w.cwiseAbs().maxCoeff(), 1e-7) << "C=" << c;
    EXPECT_LT(std::abs(grad_b), 1e-7) << "C=" << c;
    // And it is a minimum: every small move raises the objective.
    const double best = objective(d, fit.weights, fit.intercept, c);
    for (int k = 0; k < 4; ++k) {
      for (const double h : {1e-3, -1e-3}) {
        Eigen::VectorXd w = fit.weights;
        double b = fit.intercept;
        if (k < 3) {
          w(k) += h;
        } else {
          b += h;
        }
        EXPECT_GT(objective(d, w, b, c), best) << "C=" << c << " k=" << k << " h=" << h;
      }
    }
  }
}

TEST(LogisticFitTest, RecoversTheSignalWithLittleRegularization) {
  const Dataset d = synthetic(2000, 11);
  const LogisticFit fit = fit_logistic_l2(d.x, d.y, {.c = 100.0});
  ASSERT_TRUE(fit.converged);
  EXPECT_NEAR(fit.weights(0), 1.5, 0.35);
  EXPECT_NEAR(fit.weights(1), -1.0, 0.25);
  EXPECT_NEAR(fit.weights(2), 0.0, 0.4);
  EXPECT_NEAR(fit.intercept, -0.3, 0.3);
}

TEST(LogisticFitTest, LargerCGivesLargerWeights) {
  const Dataset d = synthetic(300, 3);
  double previous = 0.0;
  for (const double c : {0.001, 0.01, 0.1, 1.0, 10.0}) {
    const LogisticFit fit = fit_logistic_l2(d.x, d.y, {.c = c});
    ASSERT_TRUE(fit.converged);
    const double norm = fit.weights.norm();
    EXPECT_GT(norm, previous) << "C=" << c;
    previous = norm;
  }
}

TEST(LogisticFitTest, WithoutFeaturesTheInterceptIsTheLogOdds) {
  // The intercept is unpenalized, so with no features it is the log-odds of the base rate.
  Eigen::MatrixXd x(10, 0);
  Eigen::VectorXd y(10);
  y << 1, 0, 0, 1, 0, 0, 0, 1, 0, 0;
  const LogisticFit fit = fit_logistic_l2(x, y, {.c = 0.5});
  EXPECT_TRUE(fit.converged);
  EXPECT_EQ(fit.weights.size(), 0);
  EXPECT_NEAR(fit.intercept, std::log(3.0 / 7.0), 1e-12);
}

TEST(LogisticFitTest, IterationLimitReportsNotConverged) {
  const Dataset d = synthetic(300, 5);
  const LogisticFit fit = fit_logistic_l2(d.x, d.y, {.c = 10.0, .max_iterations = 1});
  EXPECT_FALSE(fit.converged);
  EXPECT_EQ(fit.iterations, 1);
}

TEST(LogisticFitTest, RejectsOneClassShapeMismatchAndBadC) {
  const Dataset d = synthetic(50, 1);
  EXPECT_THROW(fit_logistic_l2(d.x, Eigen::VectorXd::Zero(50), {}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l2(d.x, Eigen::VectorXd::Ones(50), {}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l2(d.x, Eigen::VectorXd::Ones(49), {}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l2(d.x, d.y, {.c = 0.0}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l2(d.x, d.y, {.c = -1.0}), std::invalid_argument);
}

// L1: the optimum of C * sum logloss + ||w||_1 satisfies the subgradient conditions
// |C * dloss/dw_j| <= 1 where w_j == 0, C * dloss/dw_j == -sign(w_j) elsewhere, dloss/db == 0.
TEST(LogisticFitTest, L1SolutionSatisfiesTheSubgradientConditions) {
  const Dataset d = synthetic(400, 13);
  for (const double c : {0.005, 0.05, 1.0, 30.0}) {
    const LogisticFit fit = fit_logistic_l1(d.x, d.y, {.c = c, .tolerance = 1e-9});
    ASSERT_TRUE(fit.converged) << "C=" << c;
    Eigen::VectorXd grad_w = Eigen::VectorXd::Zero(3);
    double grad_b = 0.0;
    for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
      const double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(fit.weights) + fit.intercept)));
      grad_w += c * (p - d.y(i)) * d.x.row(i).transpose();
      grad_b += c * (p - d.y(i));
    }
    EXPECT_LT(std::abs(grad_b), 1e-6) << "C=" << c;
    for (int j = 0; j < 3; ++j) {
      if (fit.weights(j) == 0.0) {
        EXPECT_LE(std::abs(grad_w(j)), 1.0 + 1e-6) << "C=" << c << " j=" << j;
      } else {
        EXPECT_NEAR(grad_w(j), fit.weights(j) > 0 ? -1.0 : 1.0, 1e-5) << "C=" << c << " j=" << j;
      }
    }
  }
}

TEST(LogisticFitTest, L1ZeroesTheUselessFeatureAndEverythingWhenCIsTiny) {
  const Dataset d = synthetic(600, 17);
  const LogisticFit moderate = fit_logistic_l1(d.x, d.y, {.c = 0.02});
  ASSERT_TRUE(moderate.converged);
  EXPECT_EQ(moderate.weights(2), 0.0) << "feature 2 carries no signal";
  EXPECT_GT(moderate.weights(0), 0.0);
  EXPECT_LT(moderate.weights(1), 0.0);
  const LogisticFit tiny = fit_logistic_l1(d.x, d.y, {.c = 1e-5});
  ASSERT_TRUE(tiny.converged);
  EXPECT_EQ(tiny.weights.cwiseAbs().maxCoeff(), 0.0);
  const double positives = d.y.sum();
  EXPECT_NEAR(tiny.intercept, std::log(positives / (600.0 - positives)), 1e-9);
}

TEST(LogisticFitTest, L1WithLargeCMatchesL2WithLargeC) {
  // With almost no penalty both solve the same unpenalized problem.
  const Dataset d = synthetic(1000, 19);
  const LogisticFit l1 = fit_logistic_l1(d.x, d.y, {.c = 1e6, .tolerance = 1e-10});
  const LogisticFit l2 = fit_logistic_l2(d.x, d.y, {.c = 1e6});
  ASSERT_TRUE(l1.converged);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(l1.weights(j), l2.weights(j), 1e-4) << j;
  EXPECT_NEAR(l1.intercept, l2.intercept, 1e-4);
}

TEST(LogisticFitTest, L1RejectsBadInput) {
  const Dataset d = synthetic(50, 1);
  EXPECT_THROW(fit_logistic_l1(d.x, Eigen::VectorXd::Zero(50), {}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l1(d.x, Eigen::VectorXd::Ones(49), {}), std::invalid_argument);
  EXPECT_THROW(fit_logistic_l1(d.x, d.y, {.c = 0.0}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
