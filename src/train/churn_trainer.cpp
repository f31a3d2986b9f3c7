#include "nbo/train/churn_trainer.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "nbo/train/candidate_families.hpp"
#include "nbo/train/decision_rule.hpp"
#include "nbo/train/model_selection.hpp"

namespace nbo::train {
namespace {

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

// Refuses options and data that cannot be cross-validated, before any work.
void check_training_input(const std::vector<LabeledCustomer>& customers,
                          const ChurnTrainingOptions& options) {
  if (options.folds < 2 || options.repeats < 1 || options.inner_folds < 2) {
    throw std::invalid_argument("need folds >= 2, repeats >= 1 and inner_folds >= 2");
  }
  if (customers.size() < static_cast<std::size_t>(options.folds * options.inner_folds) * 4) {
    throw std::invalid_argument(
        fmt::format("{} customers are too few for {}-fold cross-validation with {} inner folds",
                    customers.size(), options.folds, options.inner_folds));
  }
  if (options.model_version.empty()) throw std::invalid_argument("a model version is required");
}

NestedCvOptions nested_cv_options(const ChurnTrainingOptions& options) {
  return {.folds = options.folds,
          .repeats = options.repeats,
          .inner_folds = options.inner_folds,
          .ensemble_rounds = options.ensemble_rounds,
          .seed = options.seed,
          .threads = options.threads,
          .row_noun = "customers"};
}

TrainingMatrix training_matrix(const features::Pipeline& pipeline,
                               const std::vector<LabeledCustomer>& customers,
                               const std::vector<std::size_t>& rows) {
  return {design_matrix(pipeline, customers, rows), label_vector(customers, rows),
          pipeline.column_names()};
}

// An outer fold's matrices: scaling from its training rows only; the category vocabulary from
// every customer (levels carry no label information, and a rare level must not break a fold).
FoldMatrixBuilder churn_fold_builder(const std::vector<LabeledCustomer>& customers) {
  return [&customers](const std::vector<std::size_t>& train_rows,
                      const std::vector<std::size_t>& test_rows) {
    const auto pipeline = fit_churn_pipeline(subset(customers, train_rows), &customers);
    return FoldMatrices{training_matrix(pipeline, customers, train_rows),
                        design_matrix(pipeline, customers, test_rows)};
  };
}

// The model file's metadata: who made it from what, the chosen candidate's figures (rounded so
// the file reads well and stays byte-identical across platforms' last-bit noise), the
// candidate table and the estimator's composition.
models::ModelMetadata churn_metadata(const MarketDataset& data, const ChurnTrainingOptions& options,
                                     const ChurnTrainingResult& result,
                                     const ThresholdChoice& threshold, nlohmann::json composition) {
  const CandidateResult& best = result.candidates[result.chosen];
  const auto& labels = result.labels;
  models::ModelMetadata metadata;
  metadata.name = "churn";
  metadata.version = options.model_version;
  // "{candidate}" names the chosen candidate, so two models of the same data and seed but of
  // different families have different versions (the segments file checks its churn model's).
  const std::string placeholder = "{candidate}";
  if (const auto at = metadata.version.find(placeholder); at != std::string::npos) {
    metadata.version.replace(at, placeholder.size(), best.name);
  }
  metadata.trained_at = options.trained_at;
  metadata.training_data_fingerprint = data.fingerprint;
  metadata.trainer = fmt::format("nbo train churn {}", NBO_VERSION);
  const std::size_t positives =
      static_cast<std::size_t>(std::count(labels.begin(), labels.end(), 1));
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
      {"training_customers", labels.size()},
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
  return metadata;
}

// Global importance: mean |contribution| per field over the training customers, descending.
std::vector<std::pair<features::FieldId, double>> global_importance(
    const models::ChurnModel& model, const std::vector<LabeledCustomer>& customers) {
  const auto& specs = model.pipeline().specs();
  std::vector<double> totals(specs.size(), 0.0);
  for (const auto& customer : customers) {
    const auto prediction = model.predict(customer.customer, specs.size());
    for (const auto& reason : prediction.reasons) {
      for (std::size_t s = 0; s < specs.size(); ++s) {
        if (specs[s].field == reason.field) totals[s] += std::abs(reason.contribution);
      }
    }
  }
  std::vector<std::pair<features::FieldId, double>> importance;
  for (std::size_t s = 0; s < specs.size(); ++s) {
    importance.emplace_back(specs[s].field, totals[s] / static_cast<double>(customers.size()));
  }
  std::stable_sort(importance.begin(), importance.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return importance;
}

}  // namespace

ChurnTrainingResult train_churn_model(const MarketDataset& data,
                                      const ChurnTrainingOptions& options,
                                      const ProgressCallback& progress) {
  const auto started = std::chrono::steady_clock::now();
  const auto& customers = data.customers;
  check_training_input(customers, options);
  const auto families = chosen_families(options);
  ChurnTrainingResult result;
  for (const auto& customer : customers) result.labels.push_back(customer.declined);
  if (std::count(result.labels.begin(), result.labels.end(), 1) == 0 ||
      std::count(result.labels.begin(), result.labels.end(), 0) == 0) {
    throw std::invalid_argument("the customers are all of one class");
  }

  // The model's own pipeline, fitted on every customer; the outer folds fit theirs.
  features::Pipeline pipeline = fit_churn_pipeline(customers);
  std::vector<std::size_t> all_rows(customers.size());
  std::iota(all_rows.begin(), all_rows.end(), 0);
  const NestedCvOptions cv = nested_cv_options(options);
  const TrainingMatrix everyone = training_matrix(pipeline, customers, all_rows);
  NestedCvResult nested =
      run_nested_cv(result.labels, churn_fold_builder(customers), everyone, families, cv, progress);

  result.candidates = summarize_candidates(nested.folds, result.labels, families, cv.repeats);
  // The cost of a prediction with reasons, per candidate, on the first customers: part of the
  // selection rule and of the report.
  const auto sample = static_cast<Eigen::Index>(std::min<std::size_t>(200, customers.size()));
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> sample_rows =
      everyone.x.topRows(sample);
  measure_explain_cost(
      result.candidates, nested.all_rows,
      std::span<const double>(sample_rows.data(), static_cast<std::size_t>(sample_rows.size())),
      pipeline.column_spec(), pipeline.specs().size());
  for (const auto& candidate : result.candidates) {
    if (progress) progress(candidate_line(candidate));
  }
  const CandidateChoice choice = choose_candidate(result.candidates, options.candidate, cv);
  result.chosen = choice.index;
  result.choice_reason = choice.reason;
  result.out_of_fold = result.candidates[result.chosen].out_of_fold;
  if (progress) {
    progress(fmt::format("chosen: {} ({})", result.candidates[result.chosen].name, choice.reason));
  }

  ChosenEstimator chosen =
      assemble_chosen_estimator(families, nested.all_rows, result.chosen, pipeline.column_names());
  result.final_search = std::move(chosen.search);
  const models::Calibration calibration{"platt", chosen.calibration.slope,
                                        chosen.calibration.offset};
  // Threshold and bands from out-of-fold probabilities: the refitted model's own would be
  // optimistic.
  const ThresholdChoice threshold = max_f1_threshold(result.out_of_fold, result.labels);
  models::Decision decision = risk_band_decision(result.out_of_fold, result.labels, threshold);
  result.model = std::make_shared<const models::ChurnModel>(
      churn_metadata(data, options, result, threshold, std::move(chosen.composition)),
      std::move(pipeline), std::move(chosen.estimator), calibration, std::move(decision));
  result.importance = global_importance(*result.model, customers);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace nbo::train
