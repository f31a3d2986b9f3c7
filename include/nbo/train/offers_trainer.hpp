// Training and evaluation of the next-best-offer model (offers/offer_model.hpp) on a time split
// of a school export (school_export.hpp).
//
// Time split. With horizon h (28 days by default) and the export's period end E:
//   evaluation cutoff  T_e = E - h: features from events before T_e, labels = first purchases
//                      in [T_e, E);
//   training cutoffs   T_e - h, T_e - h - s, T_e - h - 2s, ... (`training_cutoffs` of them, s =
//                      `cutoff_step_days`): features before each, labels in [T, T + h), so no
//                      training label lies at or after T_e.
// Candidate rows: every (user with history before T, active course the user does not own at T);
// label 1 when the user buys the course in the window. Negative rows are kept with probability
// `negative_rate` (a seeded hash of user, course and cutoff), and the model file's margin offset
// log(negative_rate) turns the sampled odds back into the true ones. Propensity rows: every
// user with history before T; label 1 when the user buys anything in the window.
// Both models: XGBoost gradient boosting, binary:logistic (xgboost_fit.hpp), deterministic.
// The market figures the served model carries are taken at E (all the export's data).
//
// Evaluation at T_e, over the users who buy at least one eligible course in the window:
// HitRate@1, HitRate@3 (some bought course among the top k), NDCG@3 (binary gain, ideal DCG over
// min(bought, 3) positions) and MAP@3 (average precision over the top 3, divided by
// min(bought, 3)) of four rankers of the eligible courses: global popularity (purchases in the 30
// days before T_e), the user's most-engaged not-owned course (view/trial/cart events, ties by
// popularity), item-to-item co-occurrence (Σ over owned courses of users owning both, ties by
// popularity) and the model. Plus ROC-AUC of the buy-again propensity over all users with
// history, against a recency baseline (-days since last action).
//
// Thread safety: reentrant. Failure: std::invalid_argument for unusable options or data (e.g.
// no purchase in a window); XGBoost failures as std::runtime_error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nbo/offers/offer_model.hpp"
#include "nbo/train/school_export.hpp"
#include "nbo/train/xgboost_fit.hpp"

namespace nbo::train {

struct OffersTrainingOptions {
  int horizon_days = 28;
  // Days cut off the end of the export before anything else (0..180): with the horizon, a
  // validation run that chooses settings without ever reading the evaluation window.
  int exclude_last_days = 0;
  int training_cutoffs = 24;
  int cutoff_step_days = 7;     // days between training cutoffs (windows overlap when < horizon)
  double negative_rate = 0.05;  // share of negative candidate rows kept, (0, 1]
  std::uint64_t seed = 42;
  XgboostParams candidate_params{};
  XgboostParams propensity_params{};
  std::string model_version{};  // required
  std::string trained_at{};     // required, ISO-8601 UTC
  std::string trainer = "nbo train offers";
};

// Ranking quality of one ranker at the evaluation cutoff.
struct RankingMetrics {
  std::string name{};
  double hit_rate_1 = 0;
  double hit_rate_3 = 0;
  double ndcg_3 = 0;
  double map_3 = 0;
  std::size_t users = 0;  // users evaluated (bought an eligible course in the window)
};

// Accumulates the four figures over users; `ranking` is the ranked course list (best first),
// `bought` the set of relevant courses.
class RankingAccumulator {
 public:
  explicit RankingAccumulator(std::string name) { metrics_.name = std::move(name); }
  void add(const std::vector<std::int32_t>& ranking, const std::vector<std::int32_t>& bought);
  RankingMetrics result() const;
  // Each added user's NDCG@3, in the order added (for paired resampling).
  const std::vector<double>& user_ndcg() const noexcept { return user_ndcg_; }

 private:
  RankingMetrics metrics_;
  std::vector<double> user_ndcg_{};
};

// Paired bootstrap of mean(model) / mean(baseline) over users (same users, same order):
// `resamples` resamples drawn with a generator seeded by `seed`; returns the 2.5% and 97.5%
// percentiles. Deterministic for the same inputs.
std::pair<double, double> ratio_interval(const std::vector<double>& model,
                                         const std::vector<double>& baseline, std::size_t resamples,
                                         std::uint64_t seed);

struct OffersEvaluation {
  std::string cutoff{};                   // T_e, ISO-8601
  std::vector<RankingMetrics> rankers{};  // popularity, most_engaged, co_occurrence, model
  double propensity_auc = 0;
  double recency_auc = 0;
  std::size_t propensity_users = 0;
  double propensity_positive_rate = 0;
  // For the report's ROC plot.
  std::vector<double> propensity_scores{};
  std::vector<double> recency_scores{};
  std::vector<int> propensity_labels{};
  // Model NDCG@3 / the best baseline's, and its 95% paired-bootstrap interval over users.
  double ndcg_lift = 0;
  double ndcg_lift_low = 0;
  double ndcg_lift_high = 0;
  std::string best_baseline{};
};

struct OffersTrainingResult {
  std::shared_ptr<const offers::OfferModel> model;
  OffersEvaluation evaluation;
  std::size_t candidate_rows = 0;
  std::size_t candidate_positives = 0;
  std::size_t propensity_rows = 0;
  std::size_t propensity_positives = 0;
  std::vector<std::string> training_cutoffs{};  // ISO-8601
  // Total gain per candidate feature over the candidate model's trees (feature importance).
  std::vector<std::pair<std::string, double>> candidate_importance{};
};

OffersTrainingResult train_offers_model(const SchoolDataset& data,
                                        const OffersTrainingOptions& options,
                                        const std::function<void(const std::string&)>& log = {});

}  // namespace nbo::train
