// Tree ensembles (gradient-boosted trees, random forests, single decision trees), scored natively
// from the model file. Two file layouts are read:
//   "tree_ensemble": nbo's compact layout (docs/model-format.md), what to_json() writes;
//   "xgboost":       {"type": "xgboost", "model": <XGBoost JSON model>}, the document that
//                    XGBoost's Booster.save_model("m.json") / XGBoosterSaveModelToBuffer("json")
//                    write (binary:logistic, gbtree). Converted on load; to_json() writes the
//                    compact layout, which scores identically.
//
// Scoring: margin = base_margin + sum over trees of the reached leaf's value. An internal node
// sends a row left when float(row[feature]) < threshold (XGBoost compares in single precision),
// right otherwise. Rows never hold missing values (the pipeline rejects or imputes them).
//
// Explanations: contributions() are exact path-dependent TreeSHAP values (Lundberg et al. 2018,
// algorithm 2) using each node's cover; they sum with the baseline (expected margin over the
// training covers) to margin() up to floating-point rounding. For shallow trees (at most 64
// splits, at most 5 distinct features on a leaf's path) the algorithm's leaf terms are
// precomputed at construction for every pattern of followed path features (at most 8 MiB per
// ensemble), so explaining a row costs about as much as scoring it a few times; deeper trees
// run the recursion per row.
//
// Thread safety: immutable after construction; all methods const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/models/estimator.hpp"

namespace nbo::models {

struct TreeNode {
  std::int32_t left = -1;     // child index for row[feature] < threshold; -1 for a leaf
  std::int32_t right = -1;    // child index otherwise; -1 for a leaf
  std::int32_t feature = -1;  // column index into the model row; -1 for a leaf
  float threshold = 0.0f;     // internal nodes only
  double value = 0.0;         // leaves: the leaf's contribution to the margin
  double cover = 0.0;         // training weight reaching the node (> 0; TreeSHAP needs it)
};

struct Tree {
  std::vector<TreeNode> nodes;  // nodes[0] is the root; children have larger indices
};

namespace detail {
struct TreeShapTables;
}  // namespace detail

class TreeEnsemble final : public Estimator {
 public:
  // Deepest root-to-leaf path accepted (edges); bounds TreeSHAP's recursion and scratch space.
  static constexpr std::size_t kMaxDepth = 64;
  // Deepest ensemble also stored in the complete-tree layout for batches (2^depth leaves per
  // tree, 16 bytes each: 300 trees of depth 8 take 1.2 MB).
  static constexpr std::size_t kCompleteMaxDepth = 8;

  // Validates the structure (at least one tree, indices in range, children after parents, every
  // node reachable once, features < column count, finite values, cover > 0, depth at most
  // kMaxDepth). Throws std::invalid_argument whose message starts with the offending field's
  // path in the compact layout ("trees[3].left[7]: ..."). `kind` documents the origin
  // ("gradient_boosting", "random_forest", "decision_tree").
  TreeEnsemble(std::vector<std::string> column_names, std::vector<Tree> trees, double base_margin,
               std::string kind);

  std::string_view type() const override { return "tree_ensemble"; }
  std::size_t column_count() const override { return column_names_.size(); }
  // `row` and `out` hold column_count() values; std::invalid_argument otherwise. No heap
  // allocation per call (contributions() keeps per-thread scratch space that only grows).
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override;
  nlohmann::json to_json() const override;

  const std::vector<std::string>& column_names() const noexcept { return column_names_; }
  const std::vector<Tree>& trees() const noexcept { return trees_; }
  double base_margin() const noexcept { return base_margin_; }
  const std::string& kind() const noexcept { return kind_; }

  // Parses nbo's compact layout at the reader's path. Throws JsonError (a
  // std::invalid_argument) naming the JSON path of the problem; structural problems found by
  // the constructor are named the same way. from_json reads `estimator` as the model file's
  // "estimator".
  static std::unique_ptr<const TreeEnsemble> read(const JsonReader& estimator,
                                                  const std::vector<std::string>& columns);
  static std::unique_ptr<const TreeEnsemble> from_json(const nlohmann::json& estimator,
                                                       const std::vector<std::string>& columns);
  // Converts an XGBoost JSON model (the whole document XGBoost saves). Its feature_names, when
  // present, must equal `columns`; otherwise it must use exactly columns.size() features.
  // Only binary:logistic (or reg:logistic / binary:logitraw) gbtree models are accepted.
  // Throws JsonError naming the JSON path and the problem: under the reader's path for
  // read_xgboost (the model file's "estimator.model"), from the document's root for
  // from_xgboost_json ("learner.objective.name").
  static std::unique_ptr<const TreeEnsemble> read_xgboost(const JsonReader& xgboost_model,
                                                          const std::vector<std::string>& columns,
                                                          std::string kind = "gradient_boosting");
  static std::unique_ptr<const TreeEnsemble> from_xgboost_json(
      const nlohmann::json& xgboost_model, const std::vector<std::string>& columns,
      std::string kind = "gradient_boosting");

 protected:
  // Blocks of 64 rows, converted to single precision once, walked through one tree after the
  // other (as XGBoost's CPU predictor and treelite's GTIL do), so a tree's nodes stay in cache
  // for the whole block; each row still adds its leaves in tree order, as margin() does.
  // Shallow ensembles take the complete-tree layout below: the same comparisons and the same
  // leaves in the same order, so the margins are bit for bit those of the node walk.
  void batch_margins(std::span<const double> rows, std::span<double> out) const override;

 private:
  std::vector<std::string> column_names_;
  std::vector<Tree> trees_;
  double base_margin_;
  std::string kind_;
  std::size_t max_depth_ = 0;  // deepest root-to-leaf path, sizes TreeSHAP's scratch space
  // All trees' nodes in one array, child indices absolute; tree t starts at roots_[t].
  std::vector<TreeNode> flat_nodes_;
  std::vector<std::int32_t> roots_;
  // base_margin_ + sum over trees of the cover-weighted mean leaf value: contributions()'s
  // baseline, the expected margin over the training covers.
  double expected_margin_ = 0.0;
  // Every tree as a complete binary tree of depth max_depth_ when max_depth_ <=
  // kCompleteMaxDepth (otherwise empty): internal node i of a tree has children 2i + 1 and
  // 2i + 2, a leaf above the bottom level is copied into every bottom slot below it, so a row
  // takes exactly max_depth_ branch-free steps. Tree t's internal nodes start at
  // t * (2^depth - 1), its leaves at t * 2^depth.
  struct CompleteNode {
    std::int32_t feature = 0;
    float threshold = 0.0f;
  };
  std::vector<CompleteNode> complete_nodes_;
  std::vector<double> complete_leaves_;
  // Rows of at most this many columns are scored by margin() through the complete layout
  // (a stack buffer of floats); wider rows take the node walk.
  static constexpr std::size_t kSingleRowFloats = 256;
  void build_complete_layout();
  // Adds each of `count` rows' leaf of every tree to sums[r], trees in order; Depth ==
  // max_depth_, `block` holds the rows as floats, row-major.
  template <std::size_t Depth>
  void add_complete_trees(const float* block, std::size_t count, double* sums) const;
  // add_complete_trees<max_depth_>; only when the complete layout is built.
  void add_complete(const float* block, std::size_t count, double* sums) const;
  // TreeSHAP's leaf terms precomputed for shallow trees (see tree_ensemble.cpp).
  std::shared_ptr<const detail::TreeShapTables> shap_tables_;
};

}  // namespace nbo::models
