#include "nbo/train/model_selection.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "nbo/train/evaluation.hpp"
#include "nbo/train/logistic_fit.hpp"

namespace nbo::train {
namespace {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::vector<double> margins_of(const models::Estimator& estimator, const Eigen::MatrixXd& x) {
  const RowMajorMatrix rows = x;
  std::vector<double> margins(static_cast<std::size_t>(rows.rows()));
  estimator.margins(std::span<const double>(rows.data(), static_cast<std::size_t>(rows.size())),
                    margins);
  return margins;
}

double PlattScaling::apply(double margin) const { return sigmoid(slope * margin + offset); }

PlattScaling fit_platt(const std::vector<double>& margins, const std::vector<int>& labels) {
  if (margins.size() != labels.size() || margins.empty()) {
    throw std::invalid_argument("Platt scaling needs one label per margin");
  }
  Eigen::MatrixXd x(static_cast<Eigen::Index>(margins.size()), 1);
  Eigen::VectorXd y(static_cast<Eigen::Index>(margins.size()));
  for (std::size_t i = 0; i < margins.size(); ++i) {
    x(static_cast<Eigen::Index>(i), 0) = margins[i];
    y(static_cast<Eigen::Index>(i)) = labels[i];
  }
  // A large C leaves the two parameters essentially unpenalized while keeping Newton's method
  // well-posed when the margins separate the classes.
  const auto fit = fit_logistic_l2(x, y, {.c = 1e4});
  return {fit.weights(0), fit.intercept};
}

double IsotonicCalibration::apply(double margin) const {
  if (margins.empty()) return 0.5;
  if (margin <= margins.front()) return probabilities.front();
  if (margin >= margins.back()) return probabilities.back();
  const auto upper = std::upper_bound(margins.begin(), margins.end(), margin);
  const auto k = static_cast<std::size_t>(upper - margins.begin());
  const double left = margins[k - 1];
  const double right = margins[k];
  const double t = right > left ? (margin - left) / (right - left) : 0.0;
  return probabilities[k - 1] + t * (probabilities[k] - probabilities[k - 1]);
}

IsotonicCalibration fit_isotonic(const std::vector<double>& margins,
                                 const std::vector<int>& labels) {
  if (margins.size() != labels.size() || margins.empty()) {
    throw std::invalid_argument("isotonic calibration needs one label per margin");
  }
  std::vector<std::size_t> order(margins.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return margins[a] < margins[b]; });
  struct Block {
    double sum;
    double count;
    double first_margin;
    double last_margin;
  };
  std::vector<Block> blocks;
  for (const auto index : order) {
    // Equal margins must share one probability: merge them before pooling violators.
    if (!blocks.empty() && blocks.back().last_margin == margins[index]) {
      blocks.back().sum += labels[index];
      blocks.back().count += 1.0;
    } else {
      blocks.push_back({static_cast<double>(labels[index]), 1.0, margins[index], margins[index]});
    }
    while (blocks.size() > 1 && blocks[blocks.size() - 2].sum / blocks[blocks.size() - 2].count >=
                                    blocks.back().sum / blocks.back().count) {
      auto& previous = blocks[blocks.size() - 2];
      previous.sum += blocks.back().sum;
      previous.count += blocks.back().count;
      previous.last_margin = blocks.back().last_margin;
      blocks.pop_back();
    }
  }
  IsotonicCalibration calibration;
  for (const auto& block : blocks) {
    const double rate = block.sum / block.count;
    calibration.margins.push_back(block.first_margin);
    calibration.probabilities.push_back(rate);
    if (block.last_margin > block.first_margin) {
      calibration.margins.push_back(block.last_margin);
      calibration.probabilities.push_back(rate);
    }
  }
  return calibration;
}

double ensemble_margin(const Selection& selection, const std::vector<double>& family_margins) {
  double sum = 0.0;
  for (std::size_t f = 0; f < family_margins.size(); ++f) {
    const double weight = selection.ensemble_weights[f];
    if (weight == 0.0) continue;
    const auto& platt = selection.families[f].platt;
    sum += weight * (platt.slope * family_margins[f] + platt.offset);
  }
  return sum;
}

Selection select_models(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                        const std::vector<std::string>& columns,
                        const std::vector<ModelFamily>& families,
                        const SelectionOptions& options) {
  if (families.empty()) throw std::invalid_argument("no model families to select from");
  if (options.ensemble_rounds < 1) throw std::invalid_argument("ensemble_rounds must be >= 1");
  const auto n = static_cast<std::size_t>(x.rows());
  std::vector<int> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<int>(y(static_cast<Eigen::Index>(i)));
  const auto assignment = stratified_folds(labels, options.inner_folds, options.seed);

  struct FoldRows {
    std::vector<Eigen::Index> train;
    std::vector<Eigen::Index> test;
    Eigen::MatrixXd train_x;
    Eigen::VectorXd train_y;
    std::vector<int> test_labels;
  };
  std::vector<FoldRows> folds(static_cast<std::size_t>(options.inner_folds));
  for (std::size_t i = 0; i < n; ++i) {
    auto& fold = folds[static_cast<std::size_t>(assignment[i])];
    fold.test.push_back(static_cast<Eigen::Index>(i));
    fold.test_labels.push_back(labels[i]);
    for (std::size_t other = 0; other < folds.size(); ++other) {
      if (other != static_cast<std::size_t>(assignment[i])) {
        folds[other].train.push_back(static_cast<Eigen::Index>(i));
      }
    }
  }
  for (auto& fold : folds) {
    fold.train_x = x(fold.train, Eigen::all);
    fold.train_y = y(fold.train);
  }

  Selection selection;
  for (const auto& family : families) {
    if (family.grid.empty()) {
      throw std::invalid_argument(fmt::format("family {} has an empty grid", family.name));
    }
    FamilySelection chosen;
    std::vector<double> best_margins;
    double best_auc = -1.0;
    for (std::size_t point = 0; point < family.grid.size(); ++point) {
      std::vector<double> margins(n, 0.0);
      double auc_sum = 0.0;
      for (const auto& fold : folds) {
        const auto started = std::chrono::steady_clock::now();
        const auto estimator =
            family.fit(fold.train_x, fold.train_y, columns, family.grid[point].values);
        const auto fold_margins = margins_of(*estimator, x(fold.test, Eigen::all));
        selection.fit_seconds += seconds_since(started);
        for (std::size_t r = 0; r < fold.test.size(); ++r) {
          margins[static_cast<std::size_t>(fold.test[r])] = fold_margins[r];
        }
        auc_sum += roc_auc(fold_margins, fold.test_labels);
      }
      const double auc = auc_sum / static_cast<double>(folds.size());
      chosen.inner_auc.push_back(auc);
      if (auc > best_auc) {
        best_auc = auc;
        chosen.chosen_point = point;
        best_margins = std::move(margins);
      }
    }
    chosen.platt = fit_platt(best_margins, labels);
    chosen.inner_margins = std::move(best_margins);
    selection.families.push_back(std::move(chosen));
  }

  // Greedy ensemble selection on calibrated out-of-fold log-odds.
  std::vector<std::vector<double>> calibrated(families.size(), std::vector<double>(n));
  for (std::size_t f = 0; f < families.size(); ++f) {
    const auto& family = selection.families[f];
    for (std::size_t i = 0; i < n; ++i) {
      calibrated[f][i] = family.platt.slope * family.inner_margins[i] + family.platt.offset;
    }
  }
  std::vector<int> picks(families.size(), 0);
  std::vector<double> bag_sum(n, 0.0);
  std::vector<double> trial(n);
  for (int round = 1; round <= options.ensemble_rounds; ++round) {
    double best_auc = -1.0;
    std::size_t best_family = 0;
    for (std::size_t f = 0; f < families.size(); ++f) {
      for (std::size_t i = 0; i < n; ++i) trial[i] = bag_sum[i] + calibrated[f][i];
      const double auc = roc_auc(trial, labels);
      if (auc > best_auc) {
        best_auc = auc;
        best_family = f;
      }
    }
    ++picks[best_family];
    for (std::size_t i = 0; i < n; ++i) bag_sum[i] += calibrated[best_family][i];
  }
  selection.ensemble_weights.resize(families.size());
  for (std::size_t f = 0; f < families.size(); ++f) {
    selection.ensemble_weights[f] =
        static_cast<double>(picks[f]) / static_cast<double>(options.ensemble_rounds);
  }
  selection.ensemble_inner_margins.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    selection.ensemble_inner_margins[i] = bag_sum[i] / static_cast<double>(options.ensemble_rounds);
  }
  selection.ensemble_platt = fit_platt(selection.ensemble_inner_margins, labels);
  return selection;
}

FittedFamilies fit_selected(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                            const std::vector<std::string>& columns,
                            const std::vector<ModelFamily>& families,
                            const Selection& selection) {
  FittedFamilies fitted;
  for (std::size_t f = 0; f < families.size(); ++f) {
    const auto started = std::chrono::steady_clock::now();
    const auto& point = families[f].grid[selection.families[f].chosen_point];
    fitted.estimators.push_back(families[f].fit(x, y, columns, point.values));
    fitted.fit_seconds.push_back(seconds_since(started));
  }
  return fitted;
}

}  // namespace nbo::train
