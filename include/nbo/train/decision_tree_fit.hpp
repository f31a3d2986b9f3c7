// Fitting of a single CART classification tree (Gini impurity), returned as a one-tree
// TreeEnsemble (kind "decision_tree", base_margin 0) that scores and explains it.
//
// Growing: a node is split when it is above max_depth's limit, holds rows of both classes and
// some split leaves at least `min_leaf` rows on each side and strictly lowers the weighted Gini
// impurity; the split chosen lowers it most, ties going to the lowest column, then the lowest
// threshold. Candidate thresholds lie between consecutive distinct single-precision values of a
// column (the model compares float(row[column]) < threshold): the midpoint rounded to float,
// moved up to the larger value when rounding lands on the smaller, so the stored threshold sends
// exactly the rows the split was evaluated on to each side.
// Leaf value: log((positives + 0.5) / (negatives + 0.5)), the smoothed log-odds of the rows
// reaching it; cover: the number of rows reaching the node.
//
// Deterministic (integer impurity comparisons, fixed scan order). Thread safety: pure function.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "nbo/models/tree_ensemble.hpp"

namespace nbo::train {

struct DecisionTreeParams {
  int max_depth = 4;  // edges on the deepest path, 0 (a single leaf) .. 64
  int min_leaf = 20;  // minimum rows in a leaf, >= 1
};

// `x`: rows are samples, finite, fewer than 2^24 rows; `y`: 0/1; columns.size() == x.cols().
// Throws std::invalid_argument on bad inputs or params.
std::unique_ptr<const models::TreeEnsemble> fit_decision_tree(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const DecisionTreeParams& params);

}  // namespace nbo::train
