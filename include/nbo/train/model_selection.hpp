// Model selection by nested cross-validation over candidate model families.
//
// select_models() is the INNER loop, run on one training set (an outer fold's training part, or
// every customer for the final model):
//   1. stratified k-fold over the training rows (options.inner_folds, seeded);
//   2. for each family and each point of its hyperparameter grid: fit on the inner-training
//      rows, score the inner-test rows; the point with the highest mean inner-fold ROC-AUC wins
//      (ties: the earlier grid point, so grids list simpler settings first);
//   3. each family's Platt calibration, p = sigmoid(slope * margin + offset), fitted on the
//      winning point's out-of-fold margins;
//   4. the ensemble: greedy forward selection with replacement (Caruana et al. 2004) of
//      families, options.ensemble_rounds steps, each adding the family whose calibrated
//      log-odds most raise the pooled out-of-fold ROC-AUC of the bag's mean; weights = picks /
//      rounds; then a Platt recalibration of the pooled margin.
// fit_selected() refits every family's winning point on the whole training set.
//
// The outer loop (churn_trainer.cpp) calls both on each outer fold's training part and scores
// the held-out part, so the reported figures never see the rows that chose the settings.
//
// Determinism: the same inputs, families and options give bit-identical results (no shared
// random state; ties broken by order). Thread safety: reentrant; the families' fit functions
// must be reentrant too (they are called from several threads at once by the outer loop).
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nbo/models/estimator.hpp"

namespace nbo::train {

struct HyperparameterPoint {
  std::string label;      // e.g. "C=0.1", shown in reports
  nlohmann::json values;  // passed to the family's fit function, recorded in the model file
};

// Fits one estimator on a design matrix (rows = customers, columns = pipeline columns) and 0/1
// labels. Must be deterministic and reentrant.
using FitFunction = std::function<std::unique_ptr<const models::Estimator>(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const nlohmann::json& values)>;

struct ModelFamily {
  std::string name;         // e.g. "logistic_l1"; candidate name in reports and model files
  std::string explanation;  // how /predict's reasons are computed for this family
  std::vector<HyperparameterPoint> grid;  // simpler settings first
  FitFunction fit;
};

struct SelectionOptions {
  int inner_folds = 3;
  std::uint64_t seed = 42;
  int ensemble_rounds = 10;
};

// Platt scaling p = sigmoid(slope * margin + offset).
struct PlattScaling {
  double slope = 1.0;
  double offset = 0.0;
  double apply(double margin) const;  // the probability
};

// Fits Platt scaling by (almost unpenalized) logistic regression of labels on margins.
PlattScaling fit_platt(const std::vector<double>& margins, const std::vector<int>& labels);

// Isotonic calibration: a non-decreasing step function from margin to probability
// (pool-adjacent-violators); between fitted points the probability is interpolated linearly.
struct IsotonicCalibration {
  std::vector<double> margins;        // ascending knots
  std::vector<double> probabilities;  // non-decreasing, same size
  double apply(double margin) const;
};
IsotonicCalibration fit_isotonic(const std::vector<double>& margins,
                                 const std::vector<int>& labels);

struct FamilySelection {
  std::size_t chosen_point = 0;
  std::vector<double> inner_auc;  // mean inner-fold ROC-AUC per grid point
  PlattScaling platt;
  std::vector<double> inner_margins;  // chosen point, out-of-fold, per training row
};

struct Selection {
  std::vector<FamilySelection> families;  // in family order
  std::vector<double> ensemble_weights;   // per family; sum 1
  PlattScaling ensemble_platt;
  std::vector<double> ensemble_inner_margins;  // pooled calibrated log-odds, per training row
  double fit_seconds = 0.0;                    // CPU time of every fit in the inner loop
};

Selection select_models(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                        const std::vector<std::string>& columns,
                        const std::vector<ModelFamily>& families, const SelectionOptions& options);

// estimator.margin() of every row of x (rows = customers), computed by estimator.margins().
std::vector<double> margins_of(const models::Estimator& estimator, const Eigen::MatrixXd& x);

// Pooled margin of the ensemble: sum_f weight_f * calibrated log-odds_f.
double ensemble_margin(const Selection& selection, const std::vector<double>& family_margins);

struct FittedFamilies {
  std::vector<std::unique_ptr<const models::Estimator>> estimators;  // in family order
  std::vector<double> fit_seconds;
};

// Refits each family's chosen point on the whole of (x, y).
FittedFamilies fit_selected(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                            const std::vector<std::string>& columns,
                            const std::vector<ModelFamily>& families, const Selection& selection);

}  // namespace nbo::train
