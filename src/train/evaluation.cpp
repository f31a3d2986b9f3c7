#include "nbo/train/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

namespace nbo::train {
namespace {

void check_sizes(std::size_t a, std::size_t b) {
  if (a != b) throw std::invalid_argument("scores and labels differ in length");
  if (a == 0) throw std::invalid_argument("no samples");
}

}  // namespace

double roc_auc(std::span<const double> scores, std::span<const int> labels) {
  check_sizes(scores.size(), labels.size());
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Average ranks over ties, then the Mann-Whitney U of the positives.
  double positive_rank_sum = 0.0;
  std::size_t positives = 0;
  for (std::size_t start = 0; start < order.size();) {
    std::size_t end = start;
    while (end < order.size() && scores[order[end]] == scores[order[start]]) ++end;
    const double average_rank = (static_cast<double>(start + end - 1) / 2.0) + 1.0;
    for (std::size_t k = start; k < end; ++k) {
      if (labels[order[k]] == 1) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    start = end;
  }
  const std::size_t negatives = labels.size() - positives;
  if (positives == 0 || negatives == 0) {
    throw std::invalid_argument("ROC AUC needs samples of both classes");
  }
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1.0) / 2.0) / (p * static_cast<double>(negatives));
}

double log_loss(std::span<const double> probabilities, std::span<const int> labels) {
  check_sizes(probabilities.size(), labels.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double p = std::clamp(probabilities[i], 1e-15, 1.0 - 1e-15);
    sum -= labels[i] == 1 ? std::log(p) : std::log(1.0 - p);
  }
  return sum / static_cast<double>(labels.size());
}

double brier_score(std::span<const double> probabilities, std::span<const int> labels) {
  check_sizes(probabilities.size(), labels.size());
  double sum = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double error = probabilities[i] - labels[i];
    sum += error * error;
  }
  return sum / static_cast<double>(labels.size());
}

std::vector<int> stratified_folds(std::span<const int> labels, int folds, std::uint64_t seed) {
  if (folds < 2) throw std::invalid_argument("need at least 2 folds");
  std::vector<int> assignment(labels.size(), 0);
  std::mt19937_64 generator(seed);
  std::size_t dealt = 0;  // continues across classes so fold sizes differ by at most one
  for (const int label : {0, 1}) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] == label) members.push_back(i);
    }
    // Fisher-Yates with our own index draw: std::shuffle's output is implementation-defined,
    // and model files must be byte-identical across standard libraries.
    for (std::size_t i = members.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(generator() % i);
      std::swap(members[i - 1], members[j]);
    }
    for (const std::size_t member : members) {
      assignment[member] = static_cast<int>(dealt++ % static_cast<std::size_t>(folds));
    }
  }
  return assignment;
}

}  // namespace nbo::train
