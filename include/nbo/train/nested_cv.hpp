// Nested cross-validation of candidate model families on one labelled data set, in the pieces a
// trainer calls in order: run_nested_cv() (the outer folds, each by run_outer_fold(), and the
// inner search on every row), summarize_candidates() (the per-candidate table),
// choose_candidate() (the winner, and why) and assemble_chosen_estimator() (the winner refitted
// on every row, with its calibration). Nothing here knows what a row is: the churn trainer feeds
// it store customers, a segments or offers trainer feeds it its own rows through the same
// FoldMatrixBuilder and ModelFamily (model_selection.hpp) interfaces.
//
// Candidates: each family with its inner tuning (model_selection.hpp select_models()), in
// family order, then the greedy ensemble of them, always the last candidate, named "ensemble".
//
// Determinism: the same labels, matrices, families and options give bit-identical results
// whatever options.threads is: outer fold assignments are seeded by options.seed + repeat, the
// inner search of outer fold i (repeat-major) by options.seed + 1000 + i, the search on every row
// by options.seed; no state is shared between folds.
//
// Thread safety: every function is reentrant. run_nested_cv() calls the FoldMatrixBuilder and
// the families' fit functions from several threads at once, so those must be reentrant too; it
// serializes its calls of the progress callback.
#pragma once

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/models/estimator.hpp"
#include "nbo/train/model_selection.hpp"

namespace nbo::train {

// Rows to fit on: x has one row per sample and one column per entry of `columns`; y holds the
// 0/1 labels, one per row.
struct TrainingMatrix {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  std::vector<std::string> columns;
};

// One outer fold's data: the training part and the held-out rows, both transformed by
// preprocessing fitted on the training part only (so the held-out rows play no part in it).
struct FoldMatrices {
  TrainingMatrix train;
  Eigen::MatrixXd test_x;  // same columns as train.x
};

// Builds an outer fold's matrices from row indices into the data set (each ascending; together
// every row once). Called concurrently by run_nested_cv(): must be reentrant and deterministic.
using FoldMatrixBuilder = std::function<FoldMatrices(const std::vector<std::size_t>& train_rows,
                                                     const std::vector<std::size_t>& test_rows)>;

struct NestedCvOptions {
  int folds = 5;             // outer k
  int repeats = 3;           // outer repetitions
  int inner_folds = 3;       // inner k (hyperparameters, calibration, ensemble weights)
  int ensemble_rounds = 10;  // greedy ensemble steps
  std::uint64_t seed = 42;
  int threads = 0;                // outer folds in parallel; 0 = platform::usable_cores()
  std::string row_noun = "rows";  // what a row is, in progress lines ("customers")
};

// What one outer fold gives, per candidate, on its held-out rows.
struct OuterFoldResult {
  std::vector<std::size_t> test_rows;  // indices into the data set
  // [candidate][held-out row]: Platt-calibrated and isotonically calibrated probabilities.
  std::vector<std::vector<double>> probabilities;
  std::vector<std::vector<double>> isotonic;
  std::vector<std::size_t> chosen_points;  // per family: its grid point chosen by the inner CV
  std::vector<double> fit_seconds;         // per candidate, inner search included
};

// The inner search on one training set and the refit of every family's chosen point on all of
// it: what a final model is taken from.
struct SearchAndRefit {
  Selection selection;
  FittedFamilies fitted;
};

// Everything the outer loop and the search on every row produced.
struct NestedCvResult {
  std::vector<OuterFoldResult> folds;  // repeat-major: folds[repeat * options.folds + fold]
  SearchAndRefit all_rows;             // the search and refit on every row
};

// Progress lines; called one at a time (never concurrently), from any thread.
using ProgressCallback = std::function<void(const std::string& line)>;

// The outer fold: runs the inner search (select_models) on `fold.train`, refits every family's
// chosen point on it (fit_selected), fits an isotonic calibration per candidate on the inner
// out-of-fold margins, and scores `fold.test_x` with every candidate. `test_rows` are recorded
// as the result's test_rows (one per row of test_x). Throws std::invalid_argument as
// select_models does.
OuterFoldResult run_outer_fold(const FoldMatrices& fold, std::vector<std::size_t> test_rows,
                               const std::vector<ModelFamily>& families,
                               const SelectionOptions& inner);

// select_models() and fit_selected() on one training set.
SearchAndRefit search_and_refit(const TrainingMatrix& data,
                                const std::vector<ModelFamily>& families,
                                const SelectionOptions& inner);

// The whole outer loop: options.repeats x options.folds stratified folds over `labels` (one per
// row of the data set, 0/1), each fold's matrices from `build_fold` and its result from
// run_outer_fold(), plus search_and_refit() on `all_rows` (the caller's matrices of every row,
// preprocessing fitted on all of them), all on options.threads threads. Throws
// std::invalid_argument for options below folds 2, repeats 1, inner_folds 2, or labels of one
// class; rethrows the first failure of a fold.
NestedCvResult run_nested_cv(std::span<const int> labels, const FoldMatrixBuilder& build_fold,
                             const TrainingMatrix& all_rows,
                             const std::vector<ModelFamily>& families,
                             const NestedCvOptions& options, const ProgressCallback& progress = {});

// How one candidate did over the outer folds.
struct CandidateResult {
  std::string name;  // a family name or "ensemble"
  double auc_mean = 0.0;
  double auc_std = 0.0;  // sample standard deviation over the repeats x folds outer folds
  double log_loss_mean = 0.0;
  double brier_mean = 0.0;
  double brier_isotonic_mean = 0.0;  // the same margins calibrated isotonically instead
  double fit_seconds = 0.0;          // all fits of all outer folds (inner search included)
  std::map<std::string, int> chosen_settings;  // hyperparameter label -> outer folds choosing it
  std::vector<double> out_of_fold;             // per row: mean probability over the repeats
  // Microseconds to score one row with its explanation (what a served prediction with reasons
  // costs), by the model refitted on every row, one thread; 0 when not measured
  // (measure_explain_cost()).
  double explain_microseconds = 0.0;
};

// The per-candidate table: ROC-AUC (mean, std), log-loss, Brier (Platt and isotonic) over the
// outer folds, summed fit time, settings chosen per fold, and each row's out-of-fold probability
// averaged over the repeats. `labels` as given to run_nested_cv(); `repeats` its
// options.repeats. Candidates in order: families, then "ensemble".
std::vector<CandidateResult> summarize_candidates(const std::vector<OuterFoldResult>& folds,
                                                  std::span<const int> labels,
                                                  const std::vector<ModelFamily>& families,
                                                  int repeats);

// One line per candidate, as the trainers print them: name, ROC-AUC mean ± std, log-loss, Brier
// (isotonic), fit time.
std::string candidate_line(const CandidateResult& candidate);

struct CandidateChoice {
  std::size_t index = 0;  // into the candidates
  std::string reason;     // e.g. "highest mean ROC-AUC over 3x5 outer folds", or "requested"
};

// The selection rule, in words, as reports state it.
inline constexpr std::string_view kSelectionRule =
    "the highest mean outer ROC-AUC (ties to the earlier candidate); but when another candidate "
    "is within one standard error of that mean (its standard deviation over the outer folds "
    "divided by the square root of their number) and scores a row with its explanation at least "
    "twice as fast and at least 1 microsecond faster, the fastest such candidate";

// The candidate named `requested`, or when it is empty the one kSelectionRule picks: the cost
// part applies only when every candidate's explain_microseconds was measured (> 0); the factor
// of two and the microsecond keep the choice from turning on timing noise. `options` sets the
// number of outer folds and words the reason. Throws std::invalid_argument for a requested name
// that is not a candidate, or no candidates.
CandidateChoice choose_candidate(const std::vector<CandidateResult>& candidates,
                                 std::string_view requested, const NestedCvOptions& options);

// Sets each candidate's explain_microseconds from the models refitted on every row: each
// family's estimator explains `rows` (row-major, of its columns) with explain_groups(group_of,
// group_count groups), the median of three passes over them; the ensemble's cost is the sum of
// its members' with a non-zero weight. Runs on the calling thread.
void measure_explain_cost(std::vector<CandidateResult>& candidates, const SearchAndRefit& all_rows,
                          std::span<const double> rows, std::span<const std::size_t> group_of,
                          std::size_t group_count);

// The inner search on every row, per family, as reports show it.
struct FamilySearch {
  std::string family;
  std::vector<std::string> labels;  // grid point labels
  std::vector<double> inner_auc;    // mean inner-fold ROC-AUC per grid point
  std::size_t chosen_point = 0;
  double ensemble_weight = 0.0;
};

// The model part of the chosen candidate, ready for a model file.
struct ChosenEstimator {
  std::unique_ptr<const models::Estimator> estimator;  // the family's, or a models::Ensemble
  PlattScaling calibration;  // of estimator's margin: the family's, or the ensemble's
  // [{"family", "weight", "hyperparameters", "explanation"}] per member (one for a family).
  nlohmann::json composition;
  std::vector<FamilySearch> search;  // per family, in family order
};

// Takes the chosen candidate (index into the candidates, families then the ensemble) out of
// `all_rows` (its fitted estimators are moved from; the rest is left as it was): a family's
// refitted estimator with its Platt calibration, or an Ensemble of the families with a non-zero
// weight, each with its own calibration, recalibrated by the ensemble's. `columns` name the
// estimator's columns. Throws std::invalid_argument for an index past the ensemble.
ChosenEstimator assemble_chosen_estimator(const std::vector<ModelFamily>& families,
                                          SearchAndRefit& all_rows, std::size_t chosen,
                                          const std::vector<std::string>& columns);

}  // namespace nbo::train
