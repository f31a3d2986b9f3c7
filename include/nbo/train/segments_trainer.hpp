// Derivation of the store's segments (segments/segment_model.hpp) from a store export and the
// churn model trained on it: `nbo train segments`.
//
// What it does, deterministically for the same export, churn model and options:
//   1. Out-of-fold probabilities. The churn model's nested cross-validation is run again with the
//      settings its file records (seed, chosen candidate; 3x5 outer folds, 3 inner) and only the
//      families the chosen candidate needs; the refitted estimator must equal the file's, byte for
//      byte, or the export is not the one the model was trained on and training stops. Each
//      customer's probability is the mean over the repeats of its held-out predictions: never an
//      in-sample score.
//   2. The value-at-risk grid. "At risk" starts at the probability from which the observed
//      decline rate (isotonic fit of the labels over the out-of-fold probabilities) reaches 50%:
//      those customers are more likely than not to decline. "High value" starts at the natural
//      break of profit (the cut that maximizes the between-group variance, Otsu/Jenks with two
//      classes). Both are recorded with their rationale.
//   3. Behavioural sub-groups inside the at-risk cells. Candidate conditions: a high promo share,
//      few marketing contacts, few pages or categories per visit, many unpaid items (each cut at
//      its natural break over all customers), a popular category, the premium service. Greedily,
//      up to options.max_subgroups per cell: among the candidates at least options.min_lift times
//      as common in the cell as among the customers not at risk and matching at least
//      max(options.min_subgroup, options.min_subgroup_share x cell) of the cell's customers not
//      yet taken, and shared by at most options.max_subgroup_share of the cell (more describes
//      the whole cell), the one holding the most value at risk becomes a segment.
//   4. Actions with evidence: the sub-group's defining behaviour's action, then the actions of
//      the other behaviours in which the segment differs from everyone else by at least
//      options.min_difference standard deviations in the risky direction, then the cell's own.
//   5. Every customer is assigned by the finished decision list itself, so the figures of the
//      file and report are those of the rules as served. Each customer's segment as the service
//      answers it (the served model's in-sample probability) is recorded beside it.
//
// Thread safety: reentrant. Failure: std::invalid_argument for an unusable export or a churn
// model that was not trained on it; DataError comes from loading the export.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nbo/models/churn_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "nbo/train/market_export.hpp"
#include "nbo/train/nested_cv.hpp"

namespace nbo::train {

struct SegmentTrainingOptions {
  std::string version;     // required: recorded in the file
  std::string trained_at;  // ISO-8601 UTC, recorded as is
  std::string trainer;     // e.g. "nbo train segments 0.1.0"
  int threads = 0;         // outer folds in parallel; 0 = the hardware's thread count
  int max_subgroups = 3;   // per at-risk cell
  std::size_t min_subgroup = 20;
  double min_subgroup_share = 0.10;
  // A behaviour shared by more of the cell than this describes the whole cell, not a sub-group:
  // it shows in the cell's actions instead.
  double max_subgroup_share = 0.6;
  double min_lift = 1.3;
  double min_difference = 0.5;  // standard deviations
  double at_risk_rate = 0.5;    // observed decline rate from which a customer is "at risk"
};

// One customer of the export as the segments see it.
struct SegmentedCustomer {
  std::string customer_id;
  double probability = 0.0;  // out-of-fold
  std::optional<double> profit;
  std::optional<double> value_at_risk;
  int declined = 0;
  std::size_t segment = 0;  // index into the model's segments, by the out-of-fold probability
  // What the service answers for this customer: the served churn model's probability (in-sample:
  // the model was fitted on these very customers, so it is more extreme than the out-of-fold
  // one) and the segment it gives.
  double served_probability = 0.0;
  std::size_t served_segment = 0;
};

struct SegmentTrainingResult {
  std::shared_ptr<const segments::SegmentModel> model;
  std::vector<SegmentedCustomer> customers;  // in export order
  double out_of_fold_auc = 0.0;              // of the probabilities of step 1
  std::string churn_candidate;               // the churn model's chosen candidate
  double seconds = 0.0;
};

// Two-class natural break of `values` (at least two distinct): the midpoint between consecutive
// distinct sorted values that maximizes the between-class variance.
struct NaturalBreak {
  double threshold = 0.0;
  double low_mean = 0.0;
  double high_mean = 0.0;
  std::size_t low_count = 0;
  std::size_t high_count = 0;
  double explained = 0.0;  // between-class / total variance, in [0, 1]
};
NaturalBreak natural_break(std::vector<double> values);

SegmentTrainingResult train_segments(const MarketDataset& data, const models::ChurnModel& churn,
                                     const SegmentTrainingOptions& options,
                                     const ProgressCallback& progress = {});

}  // namespace nbo::train
