// Training of the activity-decline (churn) model from an ingested store export.
//
// What it does, deterministically for the same data, options and seed:
//   1. OUTER loop: options.repeats x options.folds repeated stratified k-fold. On each outer
//      fold's training part it fits the feature pipeline (numeric: mean / standard deviation;
//      categorical: one-hot over the levels of the whole export, which carry no label), runs
//      the INNER model selection (model_selection.hpp: hyperparameters per family by inner CV,
//      Platt calibration on inner out-of-fold margins, a greedy ensemble), refits the chosen
//      settings, and scores the held-out part with every family and with the ensemble.
//      Each candidate (a family with its inner tuning, or the ensemble) is thus judged on rows
//      that played no part in choosing its settings.
//   2. The candidate with the highest mean outer ROC-AUC is chosen (or options.candidate).
//   3. The inner selection is run once more on every customer and the chosen candidate is
//      refitted on all of them: that is the model. Its decision threshold (maximum F1) and risk
//      bands (where the observed decline rate, fitted monotone in the probability, crosses 20%
//      and 70%) come from the chosen candidate's outer out-of-fold probabilities.
// Outer folds run on options.threads threads; results do not depend on the thread count. The
// steps are the reusable ones of nested_cv.hpp (run_nested_cv, summarize_candidates,
// choose_candidate, assemble_chosen_estimator) and decision_rule.hpp; only the rows (store
// customers through the fitted pipeline) and the model file's metadata are churn's own.
//
// Thread safety: train_churn_model is reentrant. Failure: std::invalid_argument for unusable
// data or options (too few customers, one class only, an unknown family or candidate).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nbo/features/pipeline.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/market_export.hpp"
#include "nbo/train/nested_cv.hpp"

namespace nbo::train {

struct ChurnTrainingOptions {
  int folds = 5;        // outer k
  int repeats = 3;      // outer repetitions
  int inner_folds = 3;  // inner k (hyperparameters, calibration, ensemble weights)
  int ensemble_rounds = 10;
  std::uint64_t seed = 42;
  // Families to consider, by name (churn_model_families()); empty = all.
  std::vector<std::string> families;
  // Force this candidate (a family name or "ensemble") instead of the best outer ROC-AUC.
  std::string candidate;
  int threads = 0;            // outer folds in parallel; 0 = the hardware's thread count
  // Required: recorded in the model file, its first "{candidate}" replaced by the chosen
  // candidate's name.
  std::string model_version;
  std::string trained_at;     // ISO-8601 UTC; recorded as is (tests pass a fixed one)
};

struct ChurnTrainingResult {
  std::shared_ptr<const models::ChurnModel> model;
  std::vector<CandidateResult> candidates;  // families in order, then "ensemble"
  std::size_t chosen = 0;                   // index into candidates
  std::string choice_reason;                // why (choose_candidate())
  std::vector<double> out_of_fold;          // chosen candidate: == candidates[chosen].out_of_fold
  std::vector<int> labels;                  // per customer, 0/1
  std::vector<FamilySearch> final_search;
  // Global importance: mean |contribution| to the log-odds per model input field over every
  // training customer, descending.
  std::vector<std::pair<features::FieldId, double>> importance;
  double seconds = 0.0;  // wall time of train_churn_model
};

// Fits the pipeline's statistics on `customers` (see 1. above). One-hot levels are those present
// in `level_source` when given (cross-validation folds pass the whole data set), else in
// `customers`.
features::Pipeline fit_churn_pipeline(const std::vector<LabeledCustomer>& customers,
                                      const std::vector<LabeledCustomer>* level_source = nullptr);

// Progress lines go to `progress` (one call at a time, from any thread; see nested_cv.hpp).
ChurnTrainingResult train_churn_model(const MarketDataset& data,
                                      const ChurnTrainingOptions& options,
                                      const ProgressCallback& progress = {});

}  // namespace nbo::train
