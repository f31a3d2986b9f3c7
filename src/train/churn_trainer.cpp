#include "nbo/train/churn_trainer.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "nbo/models/ensemble.hpp"
#include "nbo/train/candidate_families.hpp"
#include "nbo/train/evaluation.hpp"
#include "nbo/train/model_selection.hpp"

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

namespace {

// Everything one outer fold (or the final all-customers run) produces.
struct OuterFoldResult {
  std::vector<std::size_t> test_rows;
  // [candidate][test row]: Platt-calibrated and isotonic probabilities.
  std::vector<std::vector<double>> probabilities;
  std::vector<std::vector<double>> isotonic;
  std::vector<std::size_t> chosen_points;  // per family
  std::vector<double> fit_seconds;         // per candidate
};

struct FinalFit {
  std::optional<features::Pipeline> pipeline;  // set by the final job
  Selection selection;
  FittedFamilies fitted;
};

std::vector<ModelFamily> chosen_families(const ChurnTrainingOptions& options) {
  auto all = churn_model_families(options.seed);
  if (options.families.empty()) return all;
  std::vector<ModelFamily> families;
  for (const auto& name : options.families) {
    const auto found =
        std::find_if(all.begin(), all.end(), [&](const ModelFamily& f) { return f.name == name; });
    if (found == all.end()) {
      std::string known;
      for (const auto& family : all) known += (known.empty() ? "" : ", ") + family.name;
      throw std::invalid_argument(
          fmt::format("unknown model family '{}' (known: {})", name, known));
    }
    families.push_back(*found);
  }
  return families;
}

void run_parallel(std::size_t jobs, int threads, const std::function<void(std::size_t)>& job) {
  std::size_t workers = threads > 0 ? static_cast<std::size_t>(threads)
                                    : std::max(1u, std::thread::hardware_concurrency());
  workers = std::min(workers, jobs);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(jobs);
  auto work = [&] {
    for (std::size_t index = next++; index < jobs; index = next++) {
      try {
        job(index);
      } catch (...) {
        errors[index] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace

ChurnTrainingResult train_churn_model(const MarketDataset& data,
                                      const ChurnTrainingOptions& options,
                                      const ProgressCallback& progress) {
  const auto started = std::chrono::steady_clock::now();
  const auto& customers = data.customers;
  if (options.folds < 2 || options.repeats < 1 || options.inner_folds < 2) {
    throw std::invalid_argument("need folds >= 2, repeats >= 1 and inner_folds >= 2");
  }
  if (customers.size() < static_cast<std::size_t>(options.folds * options.inner_folds) * 4) {
    throw std::invalid_argument(fmt::format(
        "{} customers are too few for {}-fold cross-validation with {} inner folds",
        customers.size(), options.folds, options.inner_folds));
  }
  if (options.model_version.empty()) throw std::invalid_argument("a model version is required");
  const auto families = chosen_families(options);
  const std::size_t candidate_count = families.size() + 1;  // + the ensemble
  const std::size_t ensemble_index = families.size();
  std::mutex progress_mutex;
  auto say = [&](const std::string& line) {
    if (!progress) return;
    const std::lock_guard lock(progress_mutex);
    progress(line);
  };

  ChurnTrainingResult result;
  std::vector<int>& labels = result.labels;
  for (const auto& customer : customers) labels.push_back(customer.declined);
  if (std::count(labels.begin(), labels.end(), 1) == 0 ||
      std::count(labels.begin(), labels.end(), 0) == 0) {
    throw std::invalid_argument("the customers are all of one class");
  }
  const std::size_t n = customers.size();
  std::vector<std::size_t> all_rows(n);
  std::iota(all_rows.begin(), all_rows.end(), 0);

  // Fold assignments, one per repeat, shared by every candidate (paired comparison).
  std::vector<std::vector<int>> assignments;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    assignments.push_back(
        stratified_folds(labels, options.folds, options.seed + static_cast<std::uint64_t>(repeat)));
  }
  const std::size_t outer_jobs = static_cast<std::size_t>(options.repeats * options.folds);
  std::vector<OuterFoldResult> outer(outer_jobs);
  FinalFit final_fit;
  std::atomic<std::size_t> finished{0};
  say(fmt::format("nested cross-validation: {} families + ensemble, {}x{} outer folds, {} inner "
                  "folds, {} threads",
                  families.size(), options.repeats, options.folds, options.inner_folds,
                  options.threads > 0 ? options.threads
                                      : static_cast<int>(std::thread::hardware_concurrency())));

  // Job outer_jobs is the final selection on every customer; it runs first so the longest job
  // does not start last.
  run_parallel(outer_jobs + 1, options.threads, [&](std::size_t job_index) {
    const auto job_started = std::chrono::steady_clock::now();
    if (job_index == 0) {
      final_fit.pipeline = fit_churn_pipeline(customers);
      const Eigen::MatrixXd x = design_matrix(*final_fit.pipeline, customers, all_rows);
      const Eigen::VectorXd y = label_vector(customers, all_rows);
      const auto& columns = final_fit.pipeline->column_names();
      final_fit.selection = select_models(
          x, y, columns, families,
          {.inner_folds = options.inner_folds, .seed = options.seed,
           .ensemble_rounds = options.ensemble_rounds});
      final_fit.fitted = fit_selected(x, y, columns, families, final_fit.selection);
      say(fmt::format("  final search on all {} customers done ({:.1f} s)", n,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - job_started)
                          .count()));
      return;
    }
    const std::size_t outer_index = job_index - 1;
    const auto repeat = outer_index / static_cast<std::size_t>(options.folds);
    const auto fold = static_cast<int>(outer_index % static_cast<std::size_t>(options.folds));
    OuterFoldResult& out = outer[outer_index];
    std::vector<std::size_t> train_rows;
    for (std::size_t i = 0; i < n; ++i) {
      (assignments[repeat][i] == fold ? out.test_rows : train_rows).push_back(i);
    }
    // Scaling from the training rows only; the category vocabulary from every customer
    // (levels carry no label information, and a rare level must not break a fold).
    const auto pipeline = fit_churn_pipeline(subset(customers, train_rows), &customers);
    const Eigen::MatrixXd train_x = design_matrix(pipeline, customers, train_rows);
    const Eigen::VectorXd train_y = label_vector(customers, train_rows);
    const Eigen::MatrixXd test_x = design_matrix(pipeline, customers, out.test_rows);
    const auto& columns = pipeline.column_names();
    const auto selection = select_models(
        train_x, train_y, columns, families,
        {.inner_folds = options.inner_folds,
         .seed = options.seed + 1000 + outer_index,
         .ensemble_rounds = options.ensemble_rounds});
    const auto fitted = fit_selected(train_x, train_y, columns, families, selection);

    std::vector<int> train_labels;
    for (const auto row : train_rows) train_labels.push_back(labels[row]);
    out.probabilities.assign(candidate_count, std::vector<double>(out.test_rows.size()));
    out.isotonic.assign(candidate_count, std::vector<double>(out.test_rows.size()));
    out.fit_seconds.assign(candidate_count, 0.0);
    std::vector<IsotonicCalibration> isotonic;
    for (std::size_t f = 0; f < families.size(); ++f) {
      out.chosen_points.push_back(selection.families[f].chosen_point);
      isotonic.push_back(fit_isotonic(selection.families[f].inner_margins, train_labels));
      out.fit_seconds[f] = fitted.fit_seconds[f];
    }
    isotonic.push_back(fit_isotonic(selection.ensemble_inner_margins, train_labels));
    for (std::size_t f = 0; f < families.size(); ++f) {
      out.fit_seconds[ensemble_index] += selection.ensemble_weights[f] > 0 ? out.fit_seconds[f] : 0;
    }
    out.fit_seconds[ensemble_index] += selection.fit_seconds;  // the search chose the members
    std::vector<std::vector<double>> test_margins;
    for (const auto& estimator : fitted.estimators) {
      test_margins.push_back(margins_of(*estimator, test_x));
    }
    std::vector<double> family_margins(families.size());
    for (std::size_t r = 0; r < out.test_rows.size(); ++r) {
      for (std::size_t f = 0; f < families.size(); ++f) {
        family_margins[f] = test_margins[f][r];
        out.probabilities[f][r] = selection.families[f].platt.apply(family_margins[f]);
        out.isotonic[f][r] = isotonic[f].apply(family_margins[f]);
      }
      const double pooled = ensemble_margin(selection, family_margins);
      out.probabilities[ensemble_index][r] = selection.ensemble_platt.apply(pooled);
      out.isotonic[ensemble_index][r] = isotonic[ensemble_index].apply(pooled);
    }
    say(fmt::format("  outer fold {}/{} (repeat {}, fold {}) done in {:.1f} s", ++finished,
                    outer_jobs, repeat + 1, fold + 1,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - job_started)
                        .count()));
  });

  // Per-candidate figures over the outer folds.
  for (std::size_t c = 0; c < candidate_count; ++c) {
    CandidateResult row;
    row.name = c < families.size() ? families[c].name : "ensemble";
    row.out_of_fold.assign(n, 0.0);
    std::vector<double> aucs;
    std::vector<double> losses;
    std::vector<double> briers;
    std::vector<double> isotonic_briers;
    for (const auto& fold : outer) {
      std::vector<int> fold_labels;
      for (const auto row_index : fold.test_rows) fold_labels.push_back(labels[row_index]);
      aucs.push_back(roc_auc(fold.probabilities[c], fold_labels));
      losses.push_back(log_loss(fold.probabilities[c], fold_labels));
      briers.push_back(brier_score(fold.probabilities[c], fold_labels));
      isotonic_briers.push_back(brier_score(fold.isotonic[c], fold_labels));
      for (std::size_t r = 0; r < fold.test_rows.size(); ++r) {
        row.out_of_fold[fold.test_rows[r]] += fold.probabilities[c][r] / options.repeats;
      }
      row.fit_seconds += fold.fit_seconds[c];
      if (c < families.size()) ++row.chosen_settings[families[c].grid[fold.chosen_points[c]].label];
    }
    const Summary auc = summarize(aucs);
    row.auc_mean = auc.mean;
    row.auc_std = auc.std;
    row.log_loss_mean = summarize(losses).mean;
    row.brier_mean = summarize(briers).mean;
    row.brier_isotonic_mean = summarize(isotonic_briers).mean;
    say(fmt::format("  {:<22} ROC-AUC {:.4f} ± {:.4f}  log-loss {:.4f}  Brier {:.4f} (isotonic "
                    "{:.4f})  fit {:.1f} s",
                    row.name, row.auc_mean, row.auc_std, row.log_loss_mean, row.brier_mean,
                    row.brier_isotonic_mean, row.fit_seconds));
    result.candidates.push_back(std::move(row));
  }

  if (!options.candidate.empty()) {
    const auto found = std::find_if(result.candidates.begin(), result.candidates.end(),
                                    [&](const auto& c) { return c.name == options.candidate; });
    if (found == result.candidates.end()) {
      throw std::invalid_argument(fmt::format("unknown candidate '{}'", options.candidate));
    }
    result.chosen = static_cast<std::size_t>(found - result.candidates.begin());
  } else {
    // Highest mean outer ROC-AUC; ties go to the earlier (simpler) candidate.
    for (std::size_t i = 1; i < result.candidates.size(); ++i) {
      if (result.candidates[i].auc_mean > result.candidates[result.chosen].auc_mean) {
        result.chosen = i;
      }
    }
  }
  const CandidateResult& best = result.candidates[result.chosen];
  say(fmt::format("chosen: {} ({})", best.name,
                  options.candidate.empty()
                      ? fmt::format("highest mean ROC-AUC over {}x{} outer folds", options.repeats,
                                    options.folds)
                      : "requested"));
  result.out_of_fold = best.out_of_fold;

  // The model: the chosen candidate from the search on every customer.
  const auto& selection = final_fit.selection;
  const auto& columns = final_fit.pipeline->column_names();
  std::unique_ptr<const models::Estimator> estimator;
  models::Calibration calibration;
  calibration.type = "platt";
  nlohmann::json hyperparameters;
  for (std::size_t f = 0; f < families.size(); ++f) {
    const auto& point = families[f].grid[selection.families[f].chosen_point];
    result.final_search.push_back({families[f].name, {}, selection.families[f].inner_auc,
                                   selection.families[f].chosen_point,
                                   selection.ensemble_weights[f]});
    for (const auto& p : families[f].grid) result.final_search.back().labels.push_back(p.label);
    hyperparameters[families[f].name] = point.values;
  }
  auto fitted = std::move(final_fit.fitted.estimators);
  nlohmann::json composition = nlohmann::json::array();
  if (result.chosen == ensemble_index) {
    std::vector<models::EnsembleMember> members;
    for (std::size_t f = 0; f < families.size(); ++f) {
      if (selection.ensemble_weights[f] == 0.0) continue;
      const auto& platt = selection.families[f].platt;
      members.push_back({families[f].name, selection.ensemble_weights[f], platt.slope,
                         platt.offset, std::move(fitted[f])});
      composition.push_back({{"family", families[f].name},
                             {"weight", selection.ensemble_weights[f]},
                             {"hyperparameters", hyperparameters[families[f].name]},
                             {"explanation", families[f].explanation}});
    }
    estimator = std::make_unique<models::Ensemble>(columns, std::move(members));
    calibration.slope = selection.ensemble_platt.slope;
    calibration.offset = selection.ensemble_platt.offset;
  } else {
    const auto f = result.chosen;
    estimator = std::move(fitted[f]);
    calibration.slope = selection.families[f].platt.slope;
    calibration.offset = selection.families[f].platt.offset;
    composition.push_back({{"family", families[f].name},
                           {"weight", 1.0},
                           {"hyperparameters", hyperparameters[families[f].name]},
                           {"explanation", families[f].explanation}});
  }
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
      {"cv_scheme",
       fmt::format("nested: {}x{} repeated stratified k-fold outside, {}-fold inside, seed {}",
                   options.repeats, options.folds, options.inner_folds, options.seed)},
      {"out_of_fold_f1_at_threshold", round_to(threshold.f1, 6)},
      {"out_of_fold_precision_at_threshold", round_to(threshold.precision, 6)},
      {"out_of_fold_recall_at_threshold", round_to(threshold.recall, 6)},
      {"training_customers", n},
      {"training_declined", positives},
  };
  nlohmann::json table = nlohmann::json::array();
  for (const auto& candidate : result.candidates) {
    table.push_back({{"candidate", candidate.name},
                     {"cv_roc_auc_mean", round_to(candidate.auc_mean, 6)},
                     {"cv_roc_auc_std", round_to(candidate.auc_std, 6)},
                     {"cv_log_loss_mean", round_to(candidate.log_loss_mean, 6)},
                     {"cv_brier_mean", round_to(candidate.brier_mean, 6)}});
  }
  metadata.extra = {{"seed", options.seed},
                    {"chosen_candidate", best.name},
                    {"estimator_composition", std::move(composition)},
                    {"candidates", std::move(table)}};

  result.model = std::make_shared<const models::ChurnModel>(
      std::move(metadata), std::move(*final_fit.pipeline), std::move(estimator), calibration,
      std::move(decision));

  // Global importance: mean |contribution| per field over the training customers.
  const auto& specs = result.model->pipeline().specs();
  std::vector<double> totals(specs.size(), 0.0);
  for (const auto& customer : customers) {
    const auto prediction = result.model->predict(customer.customer, specs.size());
    for (const auto& reason : prediction.reasons) {
      for (std::size_t s = 0; s < specs.size(); ++s) {
        if (specs[s].field == reason.field) totals[s] += std::abs(reason.contribution);
      }
    }
  }
  for (std::size_t s = 0; s < specs.size(); ++s) {
    result.importance.emplace_back(specs[s].field, totals[s] / static_cast<double>(n));
  }
  std::stable_sort(result.importance.begin(), result.importance.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace nbo::train
