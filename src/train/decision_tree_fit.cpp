#include "nbo/train/decision_tree_fit.hpp"
#include "nbo/train/training_set.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace nbo::train {
namespace {

// Exact integer arithmetic for impurity comparisons (counts < 2^24, products < 2^122).
__extension__ typedef __int128 Wide;

constexpr Eigen::Index kMaxRows = Eigen::Index{1} << 24;

// The Gini criterion of a partition, as a fraction: minimizing the weighted Gini impurity
// sum_side n_side * (1 - (p_side / n_side)^2 - (q_side / n_side)^2) is maximizing
// sum_side (p_side^2 + q_side^2) / n_side (p: positives, q: negatives).
struct Purity {
  Wide numerator = 0;
  Wide denominator = 1;

  bool operator>(const Purity& other) const {
    return numerator * other.denominator > other.numerator * denominator;
  }
};

Purity node_purity(std::int64_t positives, std::int64_t count) {
  const std::int64_t negatives = count - positives;
  return {Wide{positives} * positives + Wide{negatives} * negatives, count};
}

Purity split_purity(std::int64_t left_positives, std::int64_t left_count,
                    std::int64_t total_positives, std::int64_t total_count) {
  const std::int64_t right_positives = total_positives - left_positives;
  const std::int64_t right_count = total_count - left_count;
  const std::int64_t left_negatives = left_count - left_positives;
  const std::int64_t right_negatives = right_count - right_positives;
  const Wide left = Wide{left_positives} * left_positives + Wide{left_negatives} * left_negatives;
  const Wide right =
      Wide{right_positives} * right_positives + Wide{right_negatives} * right_negatives;
  return {left * right_count + right * left_count, Wide{left_count} * right_count};
}

// The smallest float t with below < t <= above, near their midpoint: float(x) < t holds for
// x <= below and fails for x >= above.
float threshold_between(float below, float above) {
  const auto midpoint =
      static_cast<float>((static_cast<double>(below) + static_cast<double>(above)) / 2.0);
  return below < midpoint ? midpoint : above;
}

struct Split {
  Eigen::Index column = -1;
  float threshold = 0.0f;
  std::int64_t left_count = 0;
  Purity purity;
};

class Grower {
 public:
  Grower(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const DecisionTreeParams& params)
      : features_(x.cast<float>()), labels_(y), params_(params) {}

  // Appends the subtree over `rows` in preorder and returns its root's index.
  std::int32_t grow(std::vector<Eigen::Index>& rows, int depth) {
    const auto index = static_cast<std::int32_t>(nodes_.size());
    std::int64_t positives = 0;
    for (const Eigen::Index row : rows) positives += labels_(row) == 1.0 ? 1 : 0;
    const auto count = static_cast<std::int64_t>(rows.size());
    models::TreeNode node;
    node.cover = static_cast<double>(count);
    node.value = std::log((static_cast<double>(positives) + 0.5) /
                          (static_cast<double>(count - positives) + 0.5));
    nodes_.push_back(node);

    if (depth >= params_.max_depth || positives == 0 || positives == count ||
        count < 2 * static_cast<std::int64_t>(params_.min_leaf)) {
      return index;
    }
    const Split split = best_split(rows, positives);
    if (split.column < 0) return index;

    std::vector<Eigen::Index> left_rows;
    std::vector<Eigen::Index> right_rows;
    for (const Eigen::Index row : rows) {
      (features_(row, split.column) < split.threshold ? left_rows : right_rows).push_back(row);
    }
    if (static_cast<std::int64_t>(left_rows.size()) != split.left_count) {
      throw std::logic_error(fmt::format(
          "decision tree: threshold {} on column {} sends {} rows left, the split counted {}",
          split.threshold, split.column, left_rows.size(), split.left_count));
    }
    rows.clear();
    rows.shrink_to_fit();
    const std::int32_t left = grow(left_rows, depth + 1);
    const std::int32_t right = grow(right_rows, depth + 1);
    models::TreeNode& internal = nodes_[index];
    internal.left = left;
    internal.right = right;
    internal.feature = static_cast<std::int32_t>(split.column);
    internal.threshold = split.threshold;
    internal.value = 0.0;
    return index;
  }

  std::vector<models::TreeNode> take_nodes() { return std::move(nodes_); }

 private:
  // The purest admissible split that beats the unsplit node; column -1 when there is none.
  Split best_split(const std::vector<Eigen::Index>& rows, std::int64_t positives) {
    const auto count = static_cast<std::int64_t>(rows.size());
    const auto min_leaf = static_cast<std::int64_t>(params_.min_leaf);
    Split best;
    best.purity = node_purity(positives, count);
    for (Eigen::Index column = 0; column < features_.cols(); ++column) {
      sorted_.clear();
      for (const Eigen::Index row : rows) {
        sorted_.emplace_back(features_(row, column), labels_(row) == 1.0);
      }
      std::sort(sorted_.begin(), sorted_.end());
      std::int64_t left_positives = 0;
      for (std::int64_t left_count = 1; left_count < count; ++left_count) {
        const auto& [value, positive] = sorted_[left_count - 1];
        left_positives += positive ? 1 : 0;
        const float next = sorted_[left_count].first;
        if (count - left_count < min_leaf) break;
        if (!(value < next) || left_count < min_leaf) continue;
        const Purity purity = split_purity(left_positives, left_count, positives, count);
        if (purity > best.purity) {
          best = {column, threshold_between(value, next), left_count, purity};
        }
      }
    }
    return best;
  }

  Eigen::MatrixXf features_;
  const Eigen::VectorXd& labels_;
  DecisionTreeParams params_;
  std::vector<models::TreeNode> nodes_;
  std::vector<std::pair<float, bool>> sorted_;  // one column of the node's rows, with labels
};

}  // namespace

std::unique_ptr<const models::TreeEnsemble> fit_decision_tree(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const DecisionTreeParams& params) {
  check_training_set("decision tree fit", x, y, columns, /*require_both_classes=*/false);
  if (x.rows() < 1 || x.rows() >= kMaxRows) {
    throw std::invalid_argument(
        fmt::format("decision tree: needs 1 to {} rows, got {}", kMaxRows - 1, x.rows()));
  }
  if (params.max_depth < 0 ||
      static_cast<std::size_t>(params.max_depth) > models::TreeEnsemble::kMaxDepth) {
    throw std::invalid_argument(
        fmt::format("max_depth: must be in [0, {}]", models::TreeEnsemble::kMaxDepth));
  }
  if (params.min_leaf < 1) throw std::invalid_argument("min_leaf: must be >= 1");

  Grower grower(x, y, params);
  std::vector<Eigen::Index> rows(static_cast<std::size_t>(x.rows()));
  for (Eigen::Index i = 0; i < x.rows(); ++i) rows[static_cast<std::size_t>(i)] = i;
  grower.grow(rows, 0);
  std::vector<models::Tree> trees(1);
  trees[0].nodes = grower.take_nodes();
  return std::make_unique<const models::TreeEnsemble>(columns, std::move(trees), 0.0,
                                                      "decision_tree");
}

}  // namespace nbo::train
