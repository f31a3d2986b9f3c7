#include "nbo/train/churn_trainer.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "nbo/train/evaluation.hpp"
#include "nbo/train/logistic_fit.hpp"

namespace nbo::train {
namespace {

constexpr double kLowBandRate = 0.2;
constexpr double kHighBandRate = 0.7;

Eigen::MatrixXd design_matrix(const features::Pipeline& pipeline,
                              const std::vector<LabeledCustomer>& customers,
                              const std::vector<std::size_t>& rows) {
  Eigen::MatrixXd matrix(static_cast<Eigen::Index>(rows.size()),
                         static_cast<Eigen::Index>(pipeline.column_count()));
  std::vector<double> row(pipeline.column_count());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    pipeline.transform(customers[rows[r]].customer, row);
    for (std::size_t c = 0; c < row.size(); ++c) {
      matrix(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = row[c];
    }
  }
  return matrix;
}

Eigen::VectorXd label_vector(const std::vector<LabeledCustomer>& customers,
                             const std::vector<std::size_t>& rows) {
  Eigen::VectorXd labels(static_cast<Eigen::Index>(rows.size()));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    labels(static_cast<Eigen::Index>(r)) = customers[rows[r]].declined;
  }
  return labels;
}

std::vector<LabeledCustomer> subset(const std::vector<LabeledCustomer>& customers,
                                    const std::vector<std::size_t>& rows) {
  std::vector<LabeledCustomer> out;
  out.reserve(rows.size());
  for (const auto row : rows) out.push_back(customers[row]);
  return out;
}

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

struct Summary {
  double mean = 0.0;
  double std = 0.0;
};

Summary summarize(const std::vector<double>& values) {
  Summary summary;
  summary.mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double squares = 0.0;
  for (const double v : values) squares += (v - summary.mean) * (v - summary.mean);
  summary.std =
      values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return summary;
}

struct ThresholdChoice {
  double threshold = 0.5;
  double f1 = 0.0;
  double precision = 0.0;
  double recall = 0.0;
};

// The probability cut with the highest F1 of the "declined" class over out-of-fold predictions.
ThresholdChoice choose_threshold(const std::vector<double>& probabilities,
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

// Decline rate as a monotone function of the out-of-fold probability (isotonic regression by
// pool-adjacent-violators), evaluated at each customer in ascending-probability order.
std::vector<double> isotonic_rates(const std::vector<std::size_t>& order,
                                   const std::vector<int>& labels) {
  struct Block {
    double sum;
    double count;
  };
  std::vector<Block> blocks;
  for (const auto index : order) {
    blocks.push_back({static_cast<double>(labels[index]), 1.0});
    while (blocks.size() > 1 &&
           blocks[blocks.size() - 2].sum / blocks[blocks.size() - 2].count >=
               blocks.back().sum / blocks.back().count) {
      blocks[blocks.size() - 2].sum += blocks.back().sum;
      blocks[blocks.size() - 2].count += blocks.back().count;
      blocks.pop_back();
    }
  }
  std::vector<double> rates;
  rates.reserve(order.size());
  for (const auto& block : blocks) {
    for (int k = 0; k < static_cast<int>(block.count); ++k) rates.push_back(block.sum / block.count);
  }
  return rates;
}

// The probability where the isotonic decline rate first reaches `rate` (midpoint between the
// neighbouring customers), or `fallback` when it never does.
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

// Risk bands from the observed decline rate around each probability: "low" where fewer than
// kLowBandRate of such customers declined, "high" where at least kHighBandRate did.
models::Decision choose_decision(const std::vector<double>& probabilities,
                                 const std::vector<int>& labels, const ThresholdChoice& choice) {
  std::vector<std::size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return probabilities[a] < probabilities[b]; });
  const auto rates = isotonic_rates(order, labels);
  double low_cut = cut_at_rate(order, probabilities, rates, kLowBandRate, kLowBandRate);
  double high_cut = cut_at_rate(order, probabilities, rates, kHighBandRate, kHighBandRate);
  low_cut = std::clamp(low_cut, 0.01, 0.98);
  high_cut = std::clamp(high_cut, low_cut + 0.01, 0.99);
  models::Decision decision;
  decision.threshold = choice.threshold;
  decision.bands = {{"low", low_cut}, {"medium", high_cut}, {"high", 1.0}};
  decision.rationale = fmt::format(
      "threshold {:.4f} maximizes F1 of 'declined' on out-of-fold predictions (F1 {:.3f}, "
      "precision {:.3f}, recall {:.3f}); bands follow the observed decline rate around each "
      "out-of-fold probability (isotonic fit): 'low' below {:.4f}, where fewer than {:.0f}% "
      "declined; 'high' from {:.4f}, where at least {:.0f}% declined; 'medium' between",
      choice.threshold, choice.f1, choice.precision, choice.recall, low_cut, kLowBandRate * 100,
      high_cut, kHighBandRate * 100);
  return decision;
}

double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

}  // namespace

features::Pipeline fit_churn_pipeline(const std::vector<LabeledCustomer>& customers,
                                      const std::vector<LabeledCustomer>* level_source) {
  if (customers.empty()) throw std::invalid_argument("no customers to fit the pipeline on");
  const auto& level_customers = level_source != nullptr ? *level_source : customers;
  std::vector<features::FeatureSpec> specs;
  for (const auto& field : features::store_fields()) {
    if (!field.model_input) continue;
    features::FeatureSpec spec;
    spec.field = field.id;
    if (field.type == features::FieldType::kCategory) {
      spec.encoding = features::Encoding::kOneHot;
      for (const auto level : features::category_levels(field.id)) {
        const bool present =
            std::any_of(level_customers.begin(), level_customers.end(), [&](const auto& c) {
          return c.customer.has(field.id) && c.customer.category(field.id) == level;
        });
        if (present) spec.levels.emplace_back(level);
      }
      spec.unseen = features::UnseenPolicy::kReject;
    } else {
      double sum = 0.0;
      double squares = 0.0;
      for (const auto& customer : customers) sum += customer.customer.number(field.id);
      const double mean = sum / static_cast<double>(customers.size());
      for (const auto& customer : customers) {
        const double d = customer.customer.number(field.id) - mean;
        squares += d * d;
      }
      const double deviation = std::sqrt(squares / static_cast<double>(customers.size()));
      spec.encoding = features::Encoding::kNumeric;
      spec.center = mean;
      spec.scale = deviation > 0 ? deviation : 1.0;
    }
    specs.push_back(std::move(spec));
  }
  return features::Pipeline(std::move(specs));
}

ChurnTrainingResult train_churn_model(const MarketDataset& data,
                                      const ChurnTrainingOptions& options,
                                      const ProgressCallback& progress) {
  const auto& customers = data.customers;
  if (customers.size() < static_cast<std::size_t>(options.folds) * 4) {
    throw std::invalid_argument(fmt::format("{} customers are too few for {}-fold cross-validation",
                                            customers.size(), options.folds));
  }
  if (options.c_grid.empty()) throw std::invalid_argument("the C grid is empty");
  if (options.model_version.empty()) throw std::invalid_argument("a model version is required");
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };

  std::vector<int> labels;
  labels.reserve(customers.size());
  for (const auto& customer : customers) labels.push_back(customer.declined);
  const std::size_t n = customers.size();

  // Fold assignments, one per repeat, shared by every candidate (paired comparison).
  std::vector<std::vector<int>> assignments;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    assignments.push_back(
        stratified_folds(labels, options.folds, options.seed + static_cast<std::uint64_t>(repeat)));
  }

  ChurnTrainingResult result;
  std::vector<std::vector<double>> mean_out_of_fold(options.c_grid.size(),
                                                    std::vector<double>(n, 0.0));
  for (std::size_t candidate = 0; candidate < options.c_grid.size(); ++candidate) {
    const double c = options.c_grid[candidate];
    std::vector<double> aucs;
    std::vector<double> losses;
    std::vector<double> briers;
    double fit_seconds = 0.0;
    for (int repeat = 0; repeat < options.repeats; ++repeat) {
      for (int fold = 0; fold < options.folds; ++fold) {
        std::vector<std::size_t> train_rows;
        std::vector<std::size_t> test_rows;
        for (std::size_t i = 0; i < n; ++i) {
          (assignments[static_cast<std::size_t>(repeat)][i] == fold ? test_rows : train_rows)
              .push_back(i);
        }
        const auto started = std::chrono::steady_clock::now();
        // Scaling from the training rows only; the category vocabulary from every customer
        // (levels carry no label information, and a rare level must not break a fold).
        const auto pipeline = fit_churn_pipeline(subset(customers, train_rows), &customers);
        const auto fit = fit_logistic_l2(design_matrix(pipeline, customers, train_rows),
                                         label_vector(customers, train_rows), {.c = c});
        fit_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (!fit.converged) {
          say(fmt::format("  warning: C={} fold {}.{} did not converge", c, repeat, fold));
        }
        const Eigen::VectorXd margins =
            (design_matrix(pipeline, customers, test_rows) * fit.weights).array() + fit.intercept;
        std::vector<double> probabilities;
        std::vector<int> fold_labels;
        for (std::size_t r = 0; r < test_rows.size(); ++r) {
          const double p = sigmoid(margins(static_cast<Eigen::Index>(r)));
          probabilities.push_back(p);
          fold_labels.push_back(labels[test_rows[r]]);
          mean_out_of_fold[candidate][test_rows[r]] += p / options.repeats;
        }
        aucs.push_back(roc_auc(probabilities, fold_labels));
        losses.push_back(log_loss(probabilities, fold_labels));
        briers.push_back(brier_score(probabilities, fold_labels));
      }
    }
    const Summary auc = summarize(aucs);
    CandidateResult row;
    row.name = fmt::format("logistic_l2 C={}", c);
    row.c = c;
    row.auc_mean = auc.mean;
    row.auc_std = auc.std;
    row.log_loss_mean = summarize(losses).mean;
    row.brier_mean = summarize(briers).mean;
    row.fit_seconds = fit_seconds;
    say(fmt::format("  {:<24} ROC-AUC {:.4f} ± {:.4f}  log-loss {:.4f}  Brier {:.4f}", row.name,
                    row.auc_mean, row.auc_std, row.log_loss_mean, row.brier_mean));
    result.candidates.push_back(row);
  }

  // Highest mean AUC; ties go to the stronger regularization (earlier in an ascending grid).
  for (std::size_t i = 1; i < result.candidates.size(); ++i) {
    if (result.candidates[i].auc_mean > result.candidates[result.chosen].auc_mean) {
      result.chosen = i;
    }
  }
  const CandidateResult& best = result.candidates[result.chosen];
  say(fmt::format("chosen: {} (highest mean ROC-AUC over {}x{} folds)", best.name, options.repeats,
                  options.folds));
  result.out_of_fold = mean_out_of_fold[result.chosen];

  std::vector<std::size_t> all_rows(n);
  std::iota(all_rows.begin(), all_rows.end(), 0);
  auto pipeline = fit_churn_pipeline(customers);
  const auto fit = fit_logistic_l2(design_matrix(pipeline, customers, all_rows),
                                   label_vector(customers, all_rows), {.c = best.c});
  const auto threshold = choose_threshold(result.out_of_fold, labels);
  auto decision = choose_decision(result.out_of_fold, labels, threshold);

  models::ModelMetadata metadata;
  metadata.name = "churn";
  metadata.version = options.model_version;
  metadata.trained_at = options.trained_at;
  metadata.training_data_fingerprint = data.fingerprint;
  metadata.trainer = fmt::format("nbo train churn {}", NBO_VERSION);
  const std::size_t positives =
      static_cast<std::size_t>(std::count(labels.begin(), labels.end(), 1));
  // Rounded so the file reads well and stays byte-identical across platforms' last-bit noise.
  metadata.metrics = {
      {"cv_roc_auc_mean", round_to(best.auc_mean, 6)},
      {"cv_roc_auc_std", round_to(best.auc_std, 6)},
      {"cv_log_loss_mean", round_to(best.log_loss_mean, 6)},
      {"cv_brier_mean", round_to(best.brier_mean, 6)},
      {"cv_scheme", fmt::format("{}x{} repeated stratified k-fold, seed {}", options.repeats,
                                options.folds, options.seed)},
      {"out_of_fold_f1_at_threshold", round_to(threshold.f1, 6)},
      {"out_of_fold_precision_at_threshold", round_to(threshold.precision, 6)},
      {"out_of_fold_recall_at_threshold", round_to(threshold.recall, 6)},
      {"training_customers", n},
      {"training_declined", positives},
  };
  nlohmann::json grid = nlohmann::json::array();
  for (const auto& candidate : result.candidates) {
    grid.push_back({{"candidate", candidate.name},
                    {"cv_roc_auc_mean", round_to(candidate.auc_mean, 6)},
                    {"cv_roc_auc_std", round_to(candidate.auc_std, 6)}});
  }
  metadata.extra = {{"seed", options.seed},
                    {"estimator_hyperparameters", {{"penalty", "l2"}, {"C", best.c}}},
                    {"candidates", std::move(grid)}};

  auto estimator = std::make_unique<models::LogisticRegression>(
      pipeline.column_names(),
      std::vector<double>(fit.weights.data(), fit.weights.data() + fit.weights.size()),
      fit.intercept);
  result.model = std::make_shared<const models::ChurnModel>(
      std::move(metadata), std::move(pipeline), std::move(estimator), models::Calibration{},
      std::move(decision));
  return result;
}

}  // namespace nbo::train
