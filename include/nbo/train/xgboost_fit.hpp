// Fitting of tree ensembles with XGBoost (C API, gbtree, objective binary:logistic), converted
// into the native TreeEnsemble (see models/tree_ensemble.hpp) that scores them.
//
// Modes:
//   "gradient_boosting": `trees` boosting rounds of one tree each, shrunk by `learning_rate`.
//   "random_forest":     XGBoost's random-forest recipe: one round of `trees` parallel trees
//                        (num_parallel_tree) with learning rate 1; `learning_rate` is ignored.
//                        Rows and columns are sampled per tree / per node with `subsample` and
//                        `colsample_bynode`, which should both be < 1 for a forest.
// Both start from base_score = the training positive rate (base margin = its logit), so the
// trees fit the deviation from the prior rather than from one half.
//
// Determinism: single-threaded "hist" tree method, seeded sampling: the same inputs give a
// bit-identical model (and to_json() dump) on the same XGBoost build.
//
// Thread safety: pure functions; concurrent fits on different threads are independent (XGBoost
// keeps its random engine per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json_fwd.hpp>

#include "nbo/models/tree_ensemble.hpp"

namespace nbo::train {

struct XgboostParams {
  std::string mode = "gradient_boosting";  // or "random_forest"
  int trees = 200;                         // boosting rounds, or the forest's size; >= 1
  int max_depth = 3;                       // edges on the deepest path, 1..64
  double learning_rate = 0.05;             // (0, 1]; gradient boosting only
  double subsample = 0.8;                  // share of rows sampled per tree, (0, 1]
  double colsample_bynode = 1.0;           // share of columns sampled per split, (0, 1]
  double min_child_weight = 1.0;           // minimum hessian sum in a child, >= 0
  double reg_lambda = 1.0;                 // L2 penalty on leaf values, >= 0
  std::uint64_t seed = 42;                 // XGBoost takes the low 63 bits
};

// Trains and returns the XGBoost JSON model document (what XGBoosterSaveModelToBuffer writes
// with {"format": "json"}), with `columns` as its feature names. `x`: rows are samples, finite;
// `y`: 0/1 with both classes present. Throws std::invalid_argument on bad inputs or params,
// std::runtime_error (with XGBGetLastError()) when an XGBoost call fails.
nlohmann::json fit_xgboost_document(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                                    const std::vector<std::string>& columns,
                                    const XgboostParams& params);

// fit_xgboost_document converted with TreeEnsemble::from_xgboost_json; kind = params.mode.
std::unique_ptr<const models::TreeEnsemble> fit_xgboost(const Eigen::MatrixXd& x,
                                                        const Eigen::VectorXd& y,
                                                        const std::vector<std::string>& columns,
                                                        const XgboostParams& params);

}  // namespace nbo::train
