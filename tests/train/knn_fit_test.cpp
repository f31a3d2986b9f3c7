// fit_nearest_neighbors and fit_kernel_neighbors: the training rows become the reference rows,
// with the requested k or kernel, weighting and column weights; bad input is rejected.
#include "nbo/train/knn_fit.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "nbo/models/estimator.hpp"

namespace nbo::train {
namespace {

using Weighting = models::NearestNeighbors::Weighting;

const std::vector<std::string> kColumns = {"a", "b"};

// Four rows: (0, 0) -> 1, (1, 0) -> 0, (0, 1) -> 1, (5, 5) -> 0.
struct Tiny {
  Eigen::MatrixXd x{{0, 0}, {1, 0}, {0, 1}, {5, 5}};
  Eigen::VectorXd y{{1, 0, 1, 0}};
};

TEST(KnnFitTest, TrainingRowsBecomeTheReference) {
  const Tiny data;
  const auto model = fit_nearest_neighbors(data.x, data.y, kColumns, {.k = 3});
  EXPECT_EQ(model->k(), 3);
  EXPECT_EQ(model->weighting(), Weighting::kUniform);
  EXPECT_EQ(model->to_json(), nlohmann::json::parse(R"({"type": "k_nearest_neighbors", "k": 3,
      "weighting": "uniform", "columns": ["a", "b"], "labels": [1, 0, 1, 0],
      "rows": [[0, 0], [1, 0], [0, 1], [5, 5]]})"));
  // From (0.1, 0.1): rows 0, 1, 2 are nearest; two of three positive.
  EXPECT_DOUBLE_EQ(model->margin(std::vector<double>{0.1, 0.1}), std::log(2.5 / 1.5));
  // From (4, 4): row 3 (label 0), then rows 1 (label 0) and 2 (label 1), both at distance 5.
  EXPECT_DOUBLE_EQ(model->margin(std::vector<double>{4, 4}), std::log(1.5 / 2.5));
  // With k = 2 the tie goes to row 1, the lower index: no positive of two.
  EXPECT_DOUBLE_EQ(
      fit_nearest_neighbors(data.x, data.y, kColumns, {.k = 2})->margin(std::vector<double>{4, 4}),
      std::log(0.5 / 2.5));
  const auto loaded = models::estimator_from_json(model->to_json(), kColumns);
  EXPECT_EQ(loaded->margin(std::vector<double>{4, 4}), model->margin(std::vector<double>{4, 4}));
}

TEST(KnnFitTest, DistanceWeighting) {
  const Tiny data;
  const auto model =
      fit_nearest_neighbors(data.x, data.y, kColumns, {.k = 2, .weighting = Weighting::kDistance});
  EXPECT_EQ(model->weighting(), Weighting::kDistance);
  // From (0.8, 0): row 1 (label 0) at 0.2, row 0 (label 1) at 0.8: s = 1.25 / 6.25.
  const double s = 1.25 / 6.25;
  EXPECT_NEAR(model->margin(std::vector<double>{0.8, 0}),
              std::log((2 * s + 0.5) / (2 * (1 - s) + 0.5)), 1e-12);
}

TEST(KnnFitTest, UnivariateAucWeights) {
  // Column "perfect" separates the classes (AUC 1), "mirror" is its negation (AUC 0: it separates
  // just as well), "noise" does not separate (AUC 0.5), "partial" has AUC 2/3.
  Eigen::MatrixXd x{{3, -3, 1, 1}, {4, -4, 0, 1}, {5, -5, 0, 0},
                    {0, 0, 1, 1},  {1, -1, 0, 0}, {2, -2, 0, 0}};
  const Eigen::VectorXd y{{1, 1, 1, 0, 0, 0}};
  const std::vector<std::string> columns = {"perfect", "mirror", "noise", "partial"};
  const auto linear = univariate_auc_weights(x, y, 1.0);
  ASSERT_EQ(linear.size(), 4U);
  EXPECT_DOUBLE_EQ(linear[0], 1.0);
  EXPECT_DOUBLE_EQ(linear[1], 1.0);
  EXPECT_DOUBLE_EQ(linear[2], 0.0);
  // "partial": positives (1, 1, 0) against negatives (1, 0, 0), pair by pair (ties count 1/2).
  const double partial_auc = (0.5 + 1.0 + 1.0 + 0.5 + 1.0 + 1.0 + 0.0 + 0.5 + 0.5) / 9.0;
  EXPECT_DOUBLE_EQ(linear[3], std::abs(partial_auc - 0.5) / 0.5);
  const auto root = univariate_auc_weights(x, y, 0.5);
  EXPECT_DOUBLE_EQ(root[3], std::sqrt(linear[3]));

  const auto model = fit_nearest_neighbors(
      x, y, columns,
      {.k = 1, .column_weighting = KnnColumnWeighting::kUnivariateAuc, .weight_power = 1.0});
  EXPECT_EQ(model->column_weights(), linear);
  EXPECT_EQ(model->to_json().at("column_weights").size(), 4U);
  // No separating column at all: every weight 1 rather than a model with no distance.
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Ones(6, 2);
  EXPECT_EQ(univariate_auc_weights(constant, y, 1.0), (std::vector<double>{1.0, 1.0}));
  EXPECT_THROW(univariate_auc_weights(x, y, 0.0), std::invalid_argument);
  EXPECT_THROW(univariate_auc_weights(x, Eigen::VectorXd::Ones(6), 1.0), std::invalid_argument);
}

TEST(KnnFitTest, RejectsBadInput) {
  const Tiny data;
  EXPECT_THROW(fit_nearest_neighbors(data.x, data.y, kColumns, {.k = 0}), std::invalid_argument);
  EXPECT_THROW(fit_nearest_neighbors(data.x, data.y, kColumns, {.k = 5}), std::invalid_argument);
  EXPECT_THROW(fit_nearest_neighbors(data.x, data.y, {"a"}, {.k = 1}), std::invalid_argument);
  EXPECT_THROW(fit_nearest_neighbors(data.x, data.y.head(3), kColumns, {.k = 1}),
               std::invalid_argument);
  Eigen::VectorXd labels = data.y;
  labels(2) = 0.5;
  EXPECT_THROW(fit_nearest_neighbors(data.x, labels, kColumns, {.k = 1}), std::invalid_argument);
  Eigen::MatrixXd x = data.x;
  x(1, 1) = INFINITY;
  EXPECT_THROW(fit_nearest_neighbors(x, data.y, kColumns, {.k = 1}), std::invalid_argument);
}

TEST(KernelNeighborsFitTest, TrainingRowsBecomeTheReferenceWithAucWeights) {
  const Tiny data;
  const auto model = fit_kernel_neighbors(data.x, data.y, kColumns,
                                          {.gamma = 0.5, .prior = 0.25, .weight_power = 1.0});
  const auto weights = univariate_auc_weights(data.x, data.y, 1.0);
  // The median over the rows of the squared weighted distance to the nearest other row.
  const auto squared = [&weights](double a, double b) {
    return weights[0] * weights[0] * a * a + weights[1] * weights[1] * b * b;
  };
  std::vector<double> nearest{std::min(squared(1, 0), squared(0, 1)),
                              std::min(squared(1, 0), squared(1, 1)),
                              std::min(squared(0, 1), squared(1, 1)),
                              std::min({squared(5, 5), squared(4, 5), squared(5, 4)})};
  std::nth_element(nearest.begin(), nearest.begin() + 2, nearest.end());
  nlohmann::json expected = nlohmann::json::parse(R"({"type": "kernel_neighbors", "gamma": 0.5,
      "prior": 0.25, "columns": ["a", "b"], "labels": [1, 0, 1, 0],
      "rows": [[0, 0], [1, 0], [0, 1], [5, 5]]})");
  expected["prior_distance"] = nearest[2];
  if (weights != std::vector<double>{1.0, 1.0}) expected["column_weights"] = weights;
  EXPECT_EQ(model->to_json(), expected);
  // Near the positive rows the vote leans to 1, near (5, 5) to 0.
  EXPECT_GT(model->margin(std::vector<double>{0.0, 0.5}), 0.0);
  EXPECT_LT(model->margin(std::vector<double>{5.0, 4.5}), 0.0);
  const auto unweighted = fit_kernel_neighbors(
      data.x, data.y, kColumns, {.gamma = 0.5, .column_weighting = KnnColumnWeighting::kNone});
  EXPECT_FALSE(unweighted->to_json().contains("column_weights"));
  EXPECT_THROW(fit_kernel_neighbors(data.x, data.y, kColumns, {.gamma = 0.0}),
               std::invalid_argument);
  EXPECT_THROW(fit_kernel_neighbors(data.x, data.y, kColumns, {.prior = -1.0}),
               std::invalid_argument);
  EXPECT_THROW(fit_kernel_neighbors(data.x, data.y.head(3), kColumns, {}), std::invalid_argument);
  EXPECT_THROW(fit_kernel_neighbors(data.x, data.y, kColumns, {.levels = 33}),
               std::invalid_argument);
}

// A column of more distinct values than `levels` is stored as the means of `levels` groups of
// about equal size, equal values never split; the others are kept as they are.
TEST(KernelNeighborsFitTest, ColumnsOfManyValuesAreCoarsenedIntoGroupMeans) {
  const int rows = 100;
  Eigen::MatrixXd x(rows, 2);
  Eigen::VectorXd y(rows);
  for (int i = 0; i < rows; ++i) {
    x(i, 0) = i < 10 ? 0.0 : static_cast<double>(i);  // ten equal values, then ninety distinct
    x(i, 1) = static_cast<double>(i % 3);
    y(i) = i % 2;
  }
  const auto model = fit_kernel_neighbors(
      x, y, kColumns, {.column_weighting = KnnColumnWeighting::kNone, .levels = 4});
  const auto stored = model->to_json().at("rows");
  std::vector<double> first;
  std::vector<double> second;
  for (const auto& row : stored) {
    first.push_back(row[0].get<double>());
    second.push_back(row[1].get<double>());
  }
  // Groups by rank: [0, 25) moved on to keep equal values together, then [25, 50), [50, 75),
  // [75, 100).
  EXPECT_EQ(first[0], (0.0 * 10 + (10 + 24) * 15 / 2.0) / 25.0);
  EXPECT_EQ(first[24], first[0]);
  EXPECT_EQ(first[25], (25 + 49) / 2.0);
  EXPECT_EQ(first[99], (75 + 99) / 2.0);
  std::vector<double> distinct = first;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  EXPECT_EQ(distinct.size(), 4U);
  for (int i = 0; i < rows; ++i) EXPECT_EQ(second[static_cast<std::size_t>(i)], i % 3);
}

}  // namespace
}  // namespace nbo::train
