// Quality measures of probabilistic binary classifiers and stratified cross-validation folds.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace nbo::train {

// Area under the ROC curve; ties in score count one half (the Mann-Whitney statistic).
// Throws std::invalid_argument when only one class is present.
double roc_auc(std::span<const double> scores, std::span<const int> labels);
// Mean negative log-likelihood; probabilities are clipped to [1e-15, 1 - 1e-15].
double log_loss(std::span<const double> probabilities, std::span<const int> labels);
// Mean squared error of the probabilities.
double brier_score(std::span<const double> probabilities, std::span<const int> labels);

// Stratified k-fold assignment: fold index (0..k-1) per sample, each class spread evenly over
// the folds in an order shuffled by `seed` (deterministic for the same labels and seed).
std::vector<int> stratified_folds(std::span<const int> labels, int folds, std::uint64_t seed);

}  // namespace nbo::train
