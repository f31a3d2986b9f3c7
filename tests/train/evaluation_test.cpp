#include "nbo/train/evaluation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace nbo::train {
namespace {

// Pairwise definition: P(score of a positive > score of a negative) + 0.5 P(equal).
double brute_force_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  double wins = 0.0;
  double pairs = 0.0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 1) continue;
    for (std::size_t j = 0; j < scores.size(); ++j) {
      if (labels[j] != 0) continue;
      pairs += 1.0;
      if (scores[i] > scores[j]) wins += 1.0;
      if (scores[i] == scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

TEST(RocAucTest, HandComputedCases) {
  // Classic example: 3 of 4 positive/negative pairs ordered correctly.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<int>{0, 0, 1, 1}),
                   0.75);
  // Perfect and reversed.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.1, 0.2, 0.3, 0.9}, std::vector<int>{0, 0, 1, 1}),
                   1.0);
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.9, 0.8, 0.3, 0.1}, std::vector<int>{0, 0, 1, 1}),
                   0.0);
  // One tie between a positive and a negative counts one half: (1 + 0.5 + 1 + 1) / 4.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.1, 0.5, 0.5, 0.9}, std::vector<int>{0, 1, 0, 1}),
                   0.875);
  // All scores equal: every pair is a tie.
  EXPECT_DOUBLE_EQ(
      roc_auc(std::vector<double>{0.3, 0.3, 0.3, 0.3, 0.3}, std::vector<int>{1, 0, 0, 1, 0}), 0.5);
  // Ties among positives only do not matter.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{0.2, 0.7, 0.7, 0.7}, std::vector<int>{0, 1, 1, 1}),
                   1.0);
  // Only the order matters, not the values.
  EXPECT_DOUBLE_EQ(roc_auc(std::vector<double>{-5, 100, 3, 1e9}, std::vector<int>{0, 0, 1, 1}),
                   roc_auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<int>{0, 0, 1, 1}));
}

TEST(RocAucTest, MatchesThePairwiseDefinitionWithManyTies) {
  std::mt19937_64 generator(99);
  for (int trial = 0; trial < 20; ++trial) {
    const std::size_t n = 20 + generator() % 60;
    std::vector<double> scores(n);
    std::vector<int> labels(n);
    for (std::size_t i = 0; i < n; ++i) {
      scores[i] = static_cast<double>(generator() % 7) / 7.0;  // few distinct values: many ties
      labels[i] = static_cast<int>(generator() % 3 == 0);
    }
    labels[0] = 1;
    labels[1] = 0;
    EXPECT_NEAR(roc_auc(scores, labels), brute_force_auc(scores, labels), 1e-12)
        << "trial " << trial;
  }
}

TEST(RocAucTest, RejectsOneClassAndBadSizes) {
  EXPECT_THROW(roc_auc(std::vector<double>{0.1, 0.2}, std::vector<int>{1, 1}),
               std::invalid_argument);
  EXPECT_THROW(roc_auc(std::vector<double>{0.1, 0.2}, std::vector<int>{0, 0}),
               std::invalid_argument);
  EXPECT_THROW(roc_auc(std::vector<double>{0.1}, std::vector<int>{0, 1}), std::invalid_argument);
  EXPECT_THROW(roc_auc(std::vector<double>{}, std::vector<int>{}), std::invalid_argument);
}

TEST(LogLossTest, HandValues) {
  EXPECT_NEAR(log_loss(std::vector<double>{0.8, 0.3}, std::vector<int>{1, 0}),
              -(std::log(0.8) + std::log(0.7)) / 2.0, 1e-15);
  EXPECT_NEAR(log_loss(std::vector<double>{0.5, 0.5, 0.5}, std::vector<int>{1, 0, 1}),
              std::log(2.0), 1e-15);
  // Clipping keeps certain mistakes finite: -log(1e-15).
  EXPECT_NEAR(log_loss(std::vector<double>{0.0}, std::vector<int>{1}), 15.0 * std::log(10.0), 1e-6);
  EXPECT_NEAR(log_loss(std::vector<double>{1.0}, std::vector<int>{0}), 15.0 * std::log(10.0), 1e-2);
  EXPECT_NEAR(log_loss(std::vector<double>{1.0, 0.0}, std::vector<int>{1, 0}), 0.0, 1e-12);
  EXPECT_THROW(log_loss(std::vector<double>{0.5}, std::vector<int>{1, 0}), std::invalid_argument);
}

TEST(BrierScoreTest, HandValues) {
  EXPECT_NEAR(brier_score(std::vector<double>{0.8, 0.3}, std::vector<int>{1, 0}),
              (0.04 + 0.09) / 2.0, 1e-15);
  EXPECT_EQ(brier_score(std::vector<double>{1.0, 0.0}, std::vector<int>{1, 0}), 0.0);
  EXPECT_EQ(brier_score(std::vector<double>{0.0, 1.0}, std::vector<int>{1, 0}), 1.0);
  EXPECT_NEAR(
      brier_score(std::vector<double>{0.25, 0.25, 0.25, 0.25}, std::vector<int>{1, 0, 0, 0}),
      (0.5625 + 3 * 0.0625) / 4.0, 1e-15);
  EXPECT_THROW(brier_score(std::vector<double>{}, std::vector<int>{}), std::invalid_argument);
}

std::vector<int> labels_with(std::size_t n, std::size_t positives, std::uint64_t seed) {
  std::vector<int> labels(n, 0);
  std::fill(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(positives), 1);
  std::mt19937_64 generator(seed);
  for (std::size_t i = n; i > 1; --i) std::swap(labels[i - 1], labels[generator() % i]);
  return labels;
}

TEST(StratifiedFoldsTest, BalancedSizesAndClassRatioPerFold) {
  for (const int k : {2, 3, 5, 10}) {
    const std::size_t n = 103;
    const std::size_t positives = 31;
    const auto labels = labels_with(n, positives, 17);
    const auto folds = stratified_folds(labels, k, 42);
    ASSERT_EQ(folds.size(), n);
    std::vector<std::size_t> size(static_cast<std::size_t>(k), 0);
    std::vector<std::size_t> pos(static_cast<std::size_t>(k), 0);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_GE(folds[i], 0);
      ASSERT_LT(folds[i], k);
      ++size[static_cast<std::size_t>(folds[i])];
      pos[static_cast<std::size_t>(folds[i])] += static_cast<std::size_t>(labels[i]);
    }
    const auto [min_size, max_size] = std::minmax_element(size.begin(), size.end());
    EXPECT_LE(*max_size - *min_size, 1u) << "k=" << k;
    const auto [min_pos, max_pos] = std::minmax_element(pos.begin(), pos.end());
    EXPECT_LE(*max_pos - *min_pos, 1u) << "k=" << k;
    const auto uk = static_cast<std::size_t>(k);
    EXPECT_GE(*min_pos, positives / uk) << "k=" << k;
    EXPECT_LE(*max_pos, (positives + uk - 1) / uk) << "k=" << k;
    const std::size_t negatives = n - positives;
    for (std::size_t f = 0; f < uk; ++f) {
      const std::size_t neg = size[f] - pos[f];
      EXPECT_GE(neg, negatives / uk) << "k=" << k << " fold " << f;
      EXPECT_LE(neg, (negatives + uk - 1) / uk) << "k=" << k << " fold " << f;
    }
  }
}

TEST(StratifiedFoldsTest, DeterministicForASeedAndShuffledByIt) {
  const auto labels = labels_with(200, 80, 3);
  const auto a = stratified_folds(labels, 5, 42);
  EXPECT_EQ(stratified_folds(labels, 5, 42), a);
  const auto b = stratified_folds(labels, 5, 43);
  EXPECT_NE(b, a);
  // Shuffled: not simply consecutive members of a class dealt in index order.
  std::vector<int> in_order(labels.size());
  std::size_t dealt = 0;
  for (const int label : {0, 1}) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == label) in_order[i] = static_cast<int>(dealt++ % 5);
    }
  }
  EXPECT_NE(a, in_order);
  // Different seeds still give valid stratified folds (same fold class counts).
  for (const auto& folds : {a, b}) {
    std::vector<int> pos(5, 0);
    for (std::size_t i = 0; i < labels.size(); ++i)
      pos[static_cast<std::size_t>(folds[i])] += labels[i];
    for (const int p : pos) EXPECT_EQ(p, 16);
  }
}

TEST(StratifiedFoldsTest, RejectsFewerThanTwoFolds) {
  const std::vector<int> labels{0, 1, 0, 1};
  EXPECT_THROW(stratified_folds(labels, 1, 0), std::invalid_argument);
  EXPECT_THROW(stratified_folds(labels, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
