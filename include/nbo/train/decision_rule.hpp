// The decision rule of a binary model from its out-of-fold probabilities: the label threshold
// (maximum F1 of the positive class) and the risk bands (where the observed positive rate,
// fitted monotone in the probability, crosses two rates). Any trainer that cross-validates a
// calibrated classifier (churn today) can use it.
//
// Determinism: pure functions of their arguments; ties are broken by input order.
// Thread safety: reentrant.
#pragma once

#include <string>
#include <vector>

#include "nbo/models/churn_model.hpp"

namespace nbo::train {

struct ThresholdChoice {
  double threshold = 0.5;  // probability; label = probability >= threshold
  double f1 = 0.0;         // of the positive class at that threshold, out-of-fold
  double precision = 0.0;
  double recall = 0.0;
};

// The probability cut with the highest F1 of the positive class (label 1) over `probabilities`
// (one per labelled row), midway between the two probabilities it separates, clamped to
// [0.01, 0.99]. Sizes must match and at least one label must be 1.
ThresholdChoice max_f1_threshold(const std::vector<double>& probabilities,
                                 const std::vector<int>& labels);

// Words of the rationale, so it reads in the model's own terms.
struct DecisionWording {
  std::string positive_class = "declined";  // the positive label's name: "F1 of 'declined'"
  std::string rate = "decline rate";        // "the observed decline rate"
  std::string happened = "declined";        // "where fewer than 20% declined"
};

struct RiskBandRates {
  double low = 0.2;   // "low" below the probability where the positive rate reaches it
  double high = 0.7;  // "high" from the probability where it reaches this
};

// `threshold` and three bands, "low", "medium", "high": the low band ends where the isotonic
// (pool-adjacent-violators) fit of the labels against `probabilities` first reaches rates.low
// (midway between the neighbouring rows; rates.low itself when it never does or at once), the
// medium one where it reaches rates.high (likewise), clamped so that 0.01 <= low < medium <=
// 0.99. The rationale states both choices with their figures.
models::Decision risk_band_decision(const std::vector<double>& probabilities,
                                    const std::vector<int>& labels,
                                    const ThresholdChoice& threshold,
                                    const RiskBandRates& rates = {},
                                    const DecisionWording& wording = {});

}  // namespace nbo::train
