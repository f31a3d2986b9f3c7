#include "nbo/train/decision_rule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace nbo::train {
namespace {

// Positive rate as a monotone function of the probability (isotonic regression by
// pool-adjacent-violators), evaluated at each row in ascending-probability order.
std::vector<double> isotonic_rates(const std::vector<std::size_t>& order,
                                   const std::vector<int>& labels) {
  struct Block {
    double sum;
    double count;
  };
  std::vector<Block> blocks;
  for (const auto index : order) {
    blocks.push_back({static_cast<double>(labels[index]), 1.0});
    while (blocks.size() > 1 && blocks[blocks.size() - 2].sum / blocks[blocks.size() - 2].count >=
                                    blocks.back().sum / blocks.back().count) {
      blocks[blocks.size() - 2].sum += blocks.back().sum;
      blocks[blocks.size() - 2].count += blocks.back().count;
      blocks.pop_back();
    }
  }
  std::vector<double> rates;
  rates.reserve(order.size());
  for (const auto& block : blocks) {
    for (int k = 0; k < static_cast<int>(block.count); ++k)
      rates.push_back(block.sum / block.count);
  }
  return rates;
}

// The probability where the isotonic positive rate first reaches `rate` (midpoint between the
// neighbouring rows), or `fallback` when it never does.
double cut_at_rate(const std::vector<std::size_t>& order, const std::vector<double>& probabilities,
                   const std::vector<double>& rates, double rate, double fallback) {
  for (std::size_t k = 0; k < order.size(); ++k) {
    if (rates[k] >= rate) {
      if (k == 0) return fallback;
      return (probabilities[order[k - 1]] + probabilities[order[k]]) / 2.0;
    }
  }
  return fallback;
}

}  // namespace

ThresholdChoice max_f1_threshold(const std::vector<double>& probabilities,
                                 const std::vector<int>& labels) {
  std::vector<std::size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return probabilities[a] > probabilities[b]; });
  const double positives = std::accumulate(labels.begin(), labels.end(), 0.0);
  ThresholdChoice best;
  double true_positives = 0.0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    true_positives += labels[order[k]];
    // Cut between this probability and the next lower one: predicted positive = top k+1.
    if (k + 1 < order.size() && probabilities[order[k + 1]] == probabilities[order[k]]) continue;
    const double predicted = static_cast<double>(k + 1);
    const double precision = true_positives / predicted;
    const double recall = true_positives / positives;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    if (f1 > best.f1) {
      const double next = k + 1 < order.size() ? probabilities[order[k + 1]] : 0.0;
      best = {(probabilities[order[k]] + next) / 2.0, f1, precision, recall};
    }
  }
  best.threshold = std::clamp(best.threshold, 0.01, 0.99);
  return best;
}

models::Decision risk_band_decision(const std::vector<double>& probabilities,
                                    const std::vector<int>& labels,
                                    const ThresholdChoice& threshold, const RiskBandRates& rates,
                                    const DecisionWording& wording) {
  std::vector<std::size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return probabilities[a] < probabilities[b];
  });
  const auto fitted_rates = isotonic_rates(order, labels);
  double low_cut = cut_at_rate(order, probabilities, fitted_rates, rates.low, rates.low);
  double high_cut = cut_at_rate(order, probabilities, fitted_rates, rates.high, rates.high);
  low_cut = std::clamp(low_cut, 0.01, 0.98);
  high_cut = std::clamp(high_cut, low_cut + 0.01, 0.99);
  models::Decision decision;
  decision.threshold = threshold.threshold;
  decision.bands = {{"low", low_cut}, {"medium", high_cut}, {"high", 1.0}};
  decision.rationale = fmt::format(
      "threshold {:.4f} maximizes F1 of '{}' on out-of-fold predictions (F1 {:.3f}, "
      "precision {:.3f}, recall {:.3f}); bands follow the observed {} around each "
      "out-of-fold probability (isotonic fit): 'low' below {:.4f}, where fewer than {:.0f}% "
      "{}; 'high' from {:.4f}, where at least {:.0f}% {}; 'medium' between",
      threshold.threshold, wording.positive_class, threshold.f1, threshold.precision,
      threshold.recall, wording.rate, low_cut, rates.low * 100, wording.happened, high_cut,
      rates.high * 100, wording.happened);
  return decision;
}

}  // namespace nbo::train
