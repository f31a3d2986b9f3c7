// The reusable nested cross-validation pieces (nested_cv.hpp) on a data set that is not the
// store's: plain rows and labels, two small logistic families, the fold matrices sliced from one
// matrix. What a segments or offers trainer would do.
#include "nbo/train/nested_cv.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nbo/models/ensemble.hpp"
#include "nbo/train/decision_rule.hpp"
#include "nbo/train/logistic_fit.hpp"
#include "train/synthetic_data.hpp"

namespace nbo::train {
namespace {

constexpr std::size_t kRows = 160;

// Three columns; the label follows the first two (logistic, with noise), the third is noise.
test::Dataset signal_data() {
  std::mt19937_64 generator(21);
  test::Dataset data{Eigen::MatrixXd(kRows, 3), Eigen::VectorXd(kRows)};
  for (Eigen::Index i = 0; i < static_cast<Eigen::Index>(kRows); ++i) {
    for (Eigen::Index j = 0; j < 3; ++j) data.x(i, j) = 4.0 * test::uniform(generator) - 2.0;
    const double margin = 1.8 * data.x(i, 0) - 1.2 * data.x(i, 1);
    data.y(i) = test::uniform(generator) < 1.0 / (1.0 + std::exp(-margin)) ? 1.0 : 0.0;
  }
  return data;
}

ModelFamily logistic_family(const std::string& name, bool l1) {
  ModelFamily family;
  family.name = name;
  family.explanation = "exact";
  for (const double c : {0.05, 1.0}) family.grid.push_back({fmt::format("C={}", c), {{"C", c}}});
  family.fit = [l1](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                    const std::vector<std::string>& columns, const nlohmann::json& values) {
    const LogisticFitOptions options{.c = values.at("C").get<double>(), .tolerance = 1e-8};
    const LogisticFit fit = l1 ? fit_logistic_l1(x, y, options) : fit_logistic_l2(x, y, options);
    return std::unique_ptr<const models::Estimator>(std::make_unique<models::LogisticRegression>(
        columns, std::vector<double>(fit.weights.data(), fit.weights.data() + fit.weights.size()),
        fit.intercept));
  };
  return family;
}

class NestedCvTest : public ::testing::Test {
 protected:
  NestedCvTest() : data_(signal_data()) {
    for (Eigen::Index i = 0; i < data_.y.size(); ++i)
      labels_.push_back(static_cast<int>(data_.y(i)));
    families_ = {logistic_family("l1", true), logistic_family("l2", false)};
  }

  TrainingMatrix rows_of(const std::vector<std::size_t>& rows) const {
    std::vector<Eigen::Index> index(rows.begin(), rows.end());
    return {data_.x(index, Eigen::all), data_.y(index), columns_};
  }

  FoldMatrixBuilder builder() const {
    return [this](const std::vector<std::size_t>& train, const std::vector<std::size_t>& test) {
      return FoldMatrices{rows_of(train), rows_of(test).x};
    };
  }

  TrainingMatrix all_rows() const {
    std::vector<std::size_t> rows(kRows);
    for (std::size_t i = 0; i < kRows; ++i) rows[i] = i;
    return rows_of(rows);
  }

  NestedCvResult run(int threads) const {
    NestedCvOptions options = options_;
    options.threads = threads;
    return run_nested_cv(labels_, builder(), all_rows(), families_, options);
  }

  test::Dataset data_;
  std::vector<int> labels_;
  std::vector<ModelFamily> families_;
  std::vector<std::string> columns_{"a", "b", "noise"};
  NestedCvOptions options_{
      .folds = 4, .repeats = 2, .inner_folds = 3, .ensemble_rounds = 4, .seed = 5};
};

TEST_F(NestedCvTest, EveryRepeatHoldsOutEveryRowOnce) {
  const NestedCvResult result = run(2);
  ASSERT_EQ(result.folds.size(), 8u);
  for (int repeat = 0; repeat < 2; ++repeat) {
    std::multiset<std::size_t> held_out;
    for (int fold = 0; fold < 4; ++fold) {
      const auto& outer = result.folds[static_cast<std::size_t>(repeat * 4 + fold)];
      held_out.insert(outer.test_rows.begin(), outer.test_rows.end());
      ASSERT_EQ(outer.probabilities.size(), 3u);  // two families and the ensemble
      for (const auto& probabilities : outer.probabilities) {
        EXPECT_EQ(probabilities.size(), outer.test_rows.size());
      }
      EXPECT_EQ(outer.chosen_points.size(), 2u);
    }
    ASSERT_EQ(held_out.size(), kRows);
    for (std::size_t i = 0; i < kRows; ++i) EXPECT_EQ(held_out.count(i), 1u) << i;
  }
  EXPECT_EQ(result.all_rows.fitted.estimators.size(), 2u);
}

TEST_F(NestedCvTest, ResultsDoNotDependOnTheThreadCount) {
  const NestedCvResult one = run(1);
  const NestedCvResult three = run(3);
  ASSERT_EQ(one.folds.size(), three.folds.size());
  for (std::size_t f = 0; f < one.folds.size(); ++f) {
    EXPECT_EQ(one.folds[f].test_rows, three.folds[f].test_rows);
    EXPECT_EQ(one.folds[f].probabilities, three.folds[f].probabilities);
    EXPECT_EQ(one.folds[f].isotonic, three.folds[f].isotonic);
  }
  EXPECT_EQ(one.all_rows.selection.ensemble_weights, three.all_rows.selection.ensemble_weights);
}

TEST_F(NestedCvTest, SummaryChoiceAndAssemblyFindTheSignal) {
  NestedCvResult result = run(2);
  const auto candidates = summarize_candidates(result.folds, labels_, families_, 2);
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0].name, "l1");
  EXPECT_EQ(candidates[2].name, "ensemble");
  for (const auto& candidate : candidates) {
    EXPECT_GT(candidate.auc_mean, 0.8) << candidate.name;
    EXPECT_GE(candidate.auc_std, 0.0);
    EXPECT_EQ(candidate.out_of_fold.size(), kRows);
    EXPECT_THAT(candidate_line(candidate), ::testing::HasSubstr(candidate.name));
  }
  int folds_choosing = 0;
  for (const auto& [label, count] : candidates[1].chosen_settings) folds_choosing += count;
  EXPECT_EQ(folds_choosing, 8);

  const CandidateChoice best = choose_candidate(candidates, "", options_);
  for (const auto& candidate : candidates) {
    EXPECT_LE(candidate.auc_mean, candidates[best.index].auc_mean);
  }
  EXPECT_EQ(best.reason, "highest mean ROC-AUC over 2x4 outer folds");
  EXPECT_EQ(choose_candidate(candidates, "l2", options_).index, 1u);
  EXPECT_THROW(choose_candidate(candidates, "l3", options_), std::invalid_argument);

  const ChosenEstimator ensemble =
      assemble_chosen_estimator(families_, result.all_rows, 2, columns_);
  ASSERT_NE(dynamic_cast<const models::Ensemble*>(ensemble.estimator.get()), nullptr);
  EXPECT_EQ(ensemble.calibration.slope, result.all_rows.selection.ensemble_platt.slope);
  EXPECT_EQ(ensemble.search.size(), 2u);
  EXPECT_FALSE(ensemble.composition.empty());

  const ThresholdChoice threshold = max_f1_threshold(candidates[best.index].out_of_fold, labels_);
  EXPECT_GT(threshold.f1, 0.6);
  const models::Decision decision = risk_band_decision(
      candidates[best.index].out_of_fold, labels_, threshold, {},
      {.positive_class = "bought", .rate = "purchase rate", .happened = "bought"});
  ASSERT_EQ(decision.bands.size(), 3u);
  EXPECT_LT(decision.bands[0].upper, decision.bands[1].upper);
  EXPECT_THAT(decision.rationale, ::testing::HasSubstr("F1 of 'bought'"));
  EXPECT_THAT(decision.rationale, ::testing::HasSubstr("observed purchase rate"));
}

// Candidates as choose_candidate() sees them: a name and a mean outer ROC-AUC each.
std::vector<CandidateResult> candidates_with(
    std::initializer_list<std::pair<const char*, double>> name_and_auc) {
  std::vector<CandidateResult> candidates;
  for (const auto& [name, auc] : name_and_auc) {
    CandidateResult& candidate = candidates.emplace_back();
    candidate.name = name;
    candidate.auc_mean = auc;
  }
  return candidates;
}

TEST_F(NestedCvTest, TiesGoToTheEarlierCandidate) {
  const auto candidates = candidates_with({{"a", 0.7}, {"b", 0.8}, {"ensemble", 0.8}});
  EXPECT_EQ(choose_candidate(candidates, "", options_).index, 1u);
  EXPECT_EQ(choose_candidate(candidates, "ensemble", options_).reason, "requested");
  EXPECT_THROW(choose_candidate({}, "", options_), std::invalid_argument);
}

TEST_F(NestedCvTest, AFasterCandidateWithinOneStandardErrorIsChosen) {
  // options_: 2x4 outer folds, so the standard error is the best's std / sqrt(8).
  auto candidates = candidates_with({{"slow", 0.90}, {"fast", 0.895}, {"ensemble", 0.85}});
  candidates[0].auc_std = 0.02;  // standard error 0.00707
  candidates[0].explain_microseconds = 20.0;
  candidates[1].explain_microseconds = 5.0;
  candidates[2].explain_microseconds = 1.0;  // faster still, but outside the standard error
  const CandidateChoice fast = choose_candidate(candidates, "", options_);
  EXPECT_EQ(fast.index, 1u);
  EXPECT_THAT(fast.reason, ::testing::HasSubstr("within one standard error (0.0071)"));

  // Less than twice as fast: the higher ROC-AUC stays.
  candidates[1].explain_microseconds = 10.5;
  EXPECT_EQ(choose_candidate(candidates, "", options_).index, 0u);
  // Twice as fast but more than one standard error below.
  candidates[1].explain_microseconds = 5.0;
  candidates[1].auc_mean = 0.892;
  EXPECT_EQ(choose_candidate(candidates, "", options_).index, 0u);
  // Twice as fast, but by less than a microsecond: timing noise, the higher ROC-AUC stays.
  candidates[1].auc_mean = 0.895;
  candidates[0].explain_microseconds = 1.5;
  candidates[1].explain_microseconds = 0.6;
  candidates[2].explain_microseconds = 2.1;
  EXPECT_EQ(choose_candidate(candidates, "", options_).index, 0u);
  candidates[0].explain_microseconds = 20.0;
  candidates[1].explain_microseconds = 5.0;
  // Costs not measured: ROC-AUC alone.
  candidates[1].auc_mean = 0.895;
  candidates[2].explain_microseconds = 0.0;
  const CandidateChoice unmeasured = choose_candidate(candidates, "", options_);
  EXPECT_EQ(unmeasured.index, 0u);
  EXPECT_EQ(unmeasured.reason, "highest mean ROC-AUC over 2x4 outer folds");
  // A request overrides the rule.
  EXPECT_EQ(choose_candidate(candidates, "slow", options_).reason, "requested");
}

TEST_F(NestedCvTest, RefusesOneClassAndTooFewFolds) {
  NestedCvOptions options = options_;
  options.folds = 1;
  EXPECT_THROW(run_nested_cv(labels_, builder(), all_rows(), families_, options),
               std::invalid_argument);
  const std::vector<int> one_class(kRows, 1);
  EXPECT_THROW(run_nested_cv(one_class, builder(), all_rows(), families_, options_),
               std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
