// fit_decision_tree: learns known splits, respects max_depth and min_leaf, stores thresholds
// that reproduce the evaluated partition in single precision, breaks ties deterministically.
#include "nbo/train/decision_tree_fit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synthetic_data.hpp"

namespace nbo::train {
namespace {

using test::uniform;

using models::TreeNode;

double smoothed_log_odds(double positives, double negatives) {
  return std::log((positives + 0.5) / (negatives + 0.5));
}

// Depth of each leaf and the leaves' covers, walking the single tree.
struct Shape {
  int depth = 0;
  std::vector<double> leaf_covers;
};

Shape shape(const models::TreeEnsemble& ensemble) {
  Shape result;
  const auto& nodes = ensemble.trees().at(0).nodes;
  const std::function<void(std::int32_t, int)> walk = [&](std::int32_t index, int depth) {
    const TreeNode& node = nodes[index];
    if (node.left < 0) {
      result.depth = std::max(result.depth, depth);
      result.leaf_covers.push_back(node.cover);
      return;
    }
    EXPECT_EQ(node.cover, nodes[node.left].cover + nodes[node.right].cover);
    walk(node.left, depth + 1);
    walk(node.right, depth + 1);
  };
  walk(0, 0);
  return result;
}

TEST(DecisionTreeFitTest, LearnsAThresholdOnTheInformativeColumn) {
  // y = 1 exactly when x1 > 0.3; x0 is noise.
  std::mt19937_64 generator(1);
  const int n = 500;
  Eigen::MatrixXd x(n, 2);
  Eigen::VectorXd y(n);
  double below = -1.0;  // the largest x1 with label 0
  double above = 2.0;   // the smallest x1 with label 1
  for (int i = 0; i < n; ++i) {
    x(i, 0) = uniform(generator);
    x(i, 1) = uniform(generator);
    y(i) = x(i, 1) > 0.3 ? 1.0 : 0.0;
    if (y(i) == 0.0) below = std::max(below, x(i, 1));
    if (y(i) == 1.0) above = std::min(above, x(i, 1));
  }
  const auto tree = fit_decision_tree(x, y, {"noise", "signal"}, {.max_depth = 3, .min_leaf = 5});
  EXPECT_EQ(tree->kind(), "decision_tree");
  EXPECT_EQ(tree->base_margin(), 0.0);
  const auto& nodes = tree->trees().at(0).nodes;
  // Both sides are pure, so the root's split is the whole tree.
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].feature, 1);
  EXPECT_GT(nodes[0].threshold, static_cast<float>(below));
  EXPECT_LE(nodes[0].threshold, static_cast<float>(above));
  const double negatives = static_cast<double>(y.size()) - y.sum();
  EXPECT_EQ(nodes[0].cover, n);
  EXPECT_EQ(nodes[nodes[0].left].cover, negatives);
  EXPECT_DOUBLE_EQ(nodes[nodes[0].left].value, smoothed_log_odds(0, negatives));
  EXPECT_DOUBLE_EQ(nodes[nodes[0].right].value, smoothed_log_odds(y.sum(), 0));
  for (int i = 0; i < n; ++i) {
    const std::vector<double> row{x(i, 0), x(i, 1)};
    EXPECT_EQ(tree->margin(row) > 0, y(i) == 1.0) << "row " << i;
  }
}

TEST(DecisionTreeFitTest, PicksTheSplitWithTheLowestGini) {
  // Sorted by column a the labels read 0 0 1 0 1 1: its best cut (after two rows) leaves
  // {1, 0, 1, 1} on the right, weighted Gini 4 * (1 - 1/16 - 9/16) = 1.5. Sorted by column b
  // (rows 0 1 3 4 5 2) they read 0 0 0 1 1 1: a perfect cut between 40 and 50.
  Eigen::MatrixXd x(6, 2);
  x << 1, 10, 2, 20, 3, 70, 4, 40, 5, 50, 6, 60;
  Eigen::VectorXd y(6);
  y << 0, 0, 1, 0, 1, 1;
  const auto tree = fit_decision_tree(x, y, {"a", "b"}, {.max_depth = 1, .min_leaf = 1});
  const auto& nodes = tree->trees().at(0).nodes;
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].feature, 1);
  EXPECT_EQ(nodes[0].threshold, 45.0f);
}

TEST(DecisionTreeFitTest, BreaksTiesTowardsTheLowestColumnAndThreshold) {
  // Two identical columns, and labels 0 1 1 0 along them: cutting after the first or before the
  // last row is equally good (Gini 0 + 3 * 4/9 = 4/3); the lowest threshold on column 0 wins.
  Eigen::MatrixXd x(4, 2);
  x << 1, 1, 2, 2, 3, 3, 4, 4;
  Eigen::VectorXd y(4);
  y << 0, 1, 1, 0;
  const auto tree = fit_decision_tree(x, y, {"a", "b"}, {.max_depth = 1, .min_leaf = 1});
  const auto& nodes = tree->trees().at(0).nodes;
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].feature, 0);
  EXPECT_EQ(nodes[0].threshold, 1.5f);
}

TEST(DecisionTreeFitTest, ThresholdsSeparateAdjacentSinglePrecisionValues) {
  // 1 and the next float up: their midpoint rounds to one of them in single precision; the
  // stored threshold must still send 1 left and its neighbour right. Values that differ only
  // in double precision are one value to the model and cannot be split.
  const float next = std::nextafter(1.0f, 2.0f);
  Eigen::MatrixXd x(6, 1);
  x << 1.0, 1.0, 1.0 + 1e-12, next, next, 1.5;
  Eigen::VectorXd y(6);
  y << 0, 0, 0, 1, 1, 1;
  const auto tree = fit_decision_tree(x, y, {"a"}, {.max_depth = 2, .min_leaf = 1});
  const auto& nodes = tree->trees().at(0).nodes;
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].threshold, next);
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    EXPECT_EQ(tree->margin(std::vector<double>{x(i, 0)}) > 0, y(i) == 1.0) << "row " << i;
  }
}

TEST(DecisionTreeFitTest, RespectsMaxDepthAndMinLeaf) {
  // Noisy labels so that the tree would keep splitting without the limits.
  std::mt19937_64 generator(2);
  const int n = 1000;
  Eigen::MatrixXd x(n, 4);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 4; ++j) x(i, j) = uniform(generator);
    y(i) = uniform(generator) < 0.2 + 0.6 * x(i, 0) * x(i, 1) ? 1.0 : 0.0;
  }
  const std::vector<std::string> columns{"a", "b", "c", "d"};
  for (const DecisionTreeParams params : {DecisionTreeParams{.max_depth = 4, .min_leaf = 20},
                                          DecisionTreeParams{.max_depth = 8, .min_leaf = 60},
                                          DecisionTreeParams{.max_depth = 2, .min_leaf = 1}}) {
    SCOPED_TRACE(::testing::Message() << params.max_depth << " " << params.min_leaf);
    const auto tree = fit_decision_tree(x, y, columns, params);
    const Shape s = shape(*tree);
    EXPECT_LE(s.depth, params.max_depth);
    EXPECT_GE(s.depth, 2);  // there is signal to split on
    for (const double cover : s.leaf_covers) EXPECT_GE(cover, params.min_leaf);
    // Deterministic: a refit gives the same tree.
    EXPECT_EQ(fit_decision_tree(x, y, columns, params)->to_json(), tree->to_json());
  }
  const auto stump = fit_decision_tree(x, y, columns, {.max_depth = 0, .min_leaf = 1});
  ASSERT_EQ(stump->trees()[0].nodes.size(), 1u);
  EXPECT_DOUBLE_EQ(stump->margin(std::vector<double>(4, 0.5)),
                   smoothed_log_odds(y.sum(), n - y.sum()));
}

TEST(DecisionTreeFitTest, RejectsInvalidInputs) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(4, 2);
  Eigen::VectorXd y(4);
  y << 0, 1, 0, 1;
  EXPECT_THROW(fit_decision_tree(x, y, {"a"}, {}), std::invalid_argument);
  EXPECT_THROW(fit_decision_tree(x, y, {"a", "b"}, {.max_depth = -1, .min_leaf = 1}),
               std::invalid_argument);
  EXPECT_THROW(fit_decision_tree(x, y, {"a", "b"}, {.max_depth = 2, .min_leaf = 0}),
               std::invalid_argument);
  y(0) = 2;
  EXPECT_THROW(fit_decision_tree(x, y, {"a", "b"}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
