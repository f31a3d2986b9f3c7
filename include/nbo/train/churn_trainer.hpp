// Training of the activity-decline (churn) model from an ingested store export.
//
// What it does, deterministically for the same data and seed:
//   1. fits the feature pipeline on all kept customers (numeric: mean / standard deviation;
//      categorical: one-hot over the levels present, unseen levels rejected; every field
//      required);
//   2. for each C of the grid, L2 logistic regression scored by repeated stratified k-fold
//      ROC-AUC (the pipeline is refitted inside every fold, so no fold sees its test rows);
//   3. refits the best C on all customers; out-of-fold probabilities of the best C choose the
//      decision threshold (maximum F1) and the risk bands (where the observed decline rate,
//      fitted monotone in the probability, crosses 20% and 70%);
//   4. returns the model with its metrics and the CV table.
//
// Thread safety: train_churn_model is reentrant. Failure: std::invalid_argument for unusable
// data (too few customers, one class only).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nbo/features/pipeline.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::train {

struct ChurnTrainingOptions {
  int folds = 5;
  int repeats = 3;
  std::uint64_t seed = 42;
  std::vector<double> c_grid{0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0};
  std::string model_version;  // required: recorded in the model file
  std::string trained_at;     // ISO-8601 UTC; recorded as is (tests pass a fixed one)
};

struct CandidateResult {
  std::string name;  // e.g. "logistic_l2 C=0.1"
  double c = 0.0;
  double auc_mean = 0.0;
  double auc_std = 0.0;
  double log_loss_mean = 0.0;
  double brier_mean = 0.0;
  double fit_seconds = 0.0;  // total over all folds; not written to the model file
};

struct ChurnTrainingResult {
  std::shared_ptr<const models::ChurnModel> model;
  std::vector<CandidateResult> candidates;  // in grid order
  std::size_t chosen = 0;                   // index into candidates
  std::vector<double> out_of_fold;          // chosen candidate, first repeat, per customer
};

// Fits the pipeline's statistics on `customers` (see 1. above). One-hot levels are those present
// in `level_source` when given (cross-validation folds pass the whole data set), else in
// `customers`.
features::Pipeline fit_churn_pipeline(const std::vector<LabeledCustomer>& customers,
                                      const std::vector<LabeledCustomer>* level_source = nullptr);

using ProgressCallback = std::function<void(const std::string& line)>;

ChurnTrainingResult train_churn_model(const MarketDataset& data,
                                      const ChurnTrainingOptions& options,
                                      const ProgressCallback& progress = {});

}  // namespace nbo::train
