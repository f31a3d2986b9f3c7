#include "nbo/train/churn_trainer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/models/simd.hpp"
#include "nbo/train/evaluation.hpp"
#include "nbo/train/market_export.hpp"
#include "support/temp_dir.hpp"
#include "synthetic_data.hpp"

namespace nbo::train {
namespace {

using test::uniform;

namespace fs = std::filesystem;
using features::FieldId;
using json = nlohmann::json;

double sigmoid(double z) {
  return 1.0 / (1.0 + std::exp(-z));
}

// ~n customers with every store field; decline is drawn from a logistic model of promo share,
// minutes on site and marketing activity, so a fitted model has a real signal to find.
MarketDataset synthetic_market(int n, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  const auto categories = features::category_levels(FieldId::kPopularCategory);
  MarketDataset data;
  for (int i = 0; i < n; ++i) {
    LabeledCustomer c;
    c.customer_id = std::to_string(215000 + i);
    auto& r = c.customer;
    const double promo = std::round(uniform(g) * 100.0) / 100.0;
    const double minutes = std::floor(5 + uniform(g) * 20);
    const double activity = std::round((1 + uniform(g) * 5) * 10.0) / 10.0;
    r.set_category(FieldId::kServiceType, i % 3 == 0 ? "премиум" : "стандарт");
    r.set_boolean(FieldId::kAllowMessages, i % 4 != 0);
    r.set_number(FieldId::kMarketingActivity6m, activity);
    r.set_number(FieldId::kMarketingActivityCurrent, std::floor(3 + uniform(g) * 3));
    r.set_number(FieldId::kTenureDays, std::floor(100 + uniform(g) * 1000));
    r.set_number(FieldId::kPromoShare, promo);
    r.set_category(FieldId::kPopularCategory,
                   categories[static_cast<std::size_t>(i) % categories.size()]);
    r.set_number(FieldId::kAvgCategoriesPerVisit, std::floor(1 + uniform(g) * 5));
    r.set_number(FieldId::kUnpaidItemsQuarter, std::floor(uniform(g) * 10));
    r.set_number(FieldId::kServiceErrors, std::floor(uniform(g) * 9));
    r.set_number(FieldId::kPagesPerVisit, std::floor(1 + uniform(g) * 19));
    r.set_number(FieldId::kRevenue2MonthsAgo, std::round(4000 + uniform(g) * 1500));
    r.set_number(FieldId::kRevenueLastMonth, std::round((4000 + uniform(g) * 1500) * 10) / 10);
    r.set_number(FieldId::kRevenueThisMonth, std::round((4000 + uniform(g) * 2500) * 10) / 10);
    r.set_number(FieldId::kMinutesLastMonth, std::floor(5 + uniform(g) * 20));
    r.set_number(FieldId::kMinutesThisMonth, minutes);
    c.profit = std::round(uniform(g) * 700) / 100;
    r.set_number(FieldId::kProfit, c.profit);
    const double z = 4.0 * (promo - 0.5) - 0.25 * (minutes - 15.0) - 0.6 * (activity - 3.5);
    c.declined = uniform(g) < sigmoid(z) ? 1 : 0;
    data.customers.push_back(std::move(c));
  }
  data.fingerprint = "sha256:synthetic-" + std::to_string(seed);
  data.report.customers_read = data.report.customers_kept = data.customers.size();
  return data;
}

ChurnTrainingOptions quick_options() {
  ChurnTrainingOptions options;
  options.folds = 3;
  options.repeats = 1;
  options.seed = 7;
  options.inner_folds = 3;
  options.families = {"logistic_l1", "logistic_l2"};
  options.model_version = "test-1";
  options.trained_at = "2026-01-01T00:00:00Z";
  return options;
}

using ::nbo::test_support::TempDir;

TEST(FitChurnPipelineTest, StandardizesNumbersAndOneHotsPresentLevels) {
  auto data = synthetic_market(60, 1);
  // Drop one category level entirely and make one field constant.
  for (auto& c : data.customers) {
    if (c.customer.category(FieldId::kPopularCategory) == "Кухонная посуда") {
      c.customer.set_category(FieldId::kPopularCategory, "Домашний текстиль");
    }
    c.customer.set_number(FieldId::kServiceErrors, 3);
  }
  const features::Pipeline pipeline = fit_churn_pipeline(data.customers);
  std::size_t model_inputs = 0;
  for (const auto& field : features::store_fields()) model_inputs += field.model_input ? 1 : 0;
  ASSERT_EQ(pipeline.specs().size(), model_inputs);  // every model input, never profit

  double sum = 0.0;
  for (const auto& c : data.customers) sum += c.customer.number(FieldId::kPromoShare);
  const double mean = sum / static_cast<double>(data.customers.size());
  double squares = 0.0;
  for (const auto& c : data.customers) {
    const double d = c.customer.number(FieldId::kPromoShare) - mean;
    squares += d * d;
  }
  const double deviation = std::sqrt(squares / static_cast<double>(data.customers.size()));
  bool saw_promo = false;
  for (const auto& spec : pipeline.specs()) {
    EXPECT_NE(spec.field, FieldId::kProfit);
    EXPECT_EQ(spec.missing, features::MissingPolicy::kReject);  // every field required
    if (spec.field == FieldId::kPromoShare) {
      saw_promo = true;
      EXPECT_NEAR(spec.center, mean, 1e-12);
      EXPECT_NEAR(spec.scale, deviation, 1e-12);
      EXPECT_EQ(spec.transform, features::Transform::kIdentity);
    }
    if (spec.field == FieldId::kServiceErrors) {
      EXPECT_EQ(spec.center, 3.0);
      EXPECT_EQ(spec.scale, 1.0);  // constant field: no division by zero
    }
    if (spec.field == FieldId::kPopularCategory) {
      EXPECT_EQ(spec.encoding, features::Encoding::kOneHot);
      EXPECT_EQ(spec.unseen, features::UnseenPolicy::kReject);
      EXPECT_THAT(spec.levels,
                  ::testing::ElementsAre("Товары для детей", "Домашний текстиль",
                                         "Косметика и аксесуары", "Техника для красоты и здоровья",
                                         "Мелкая бытовая техника и электроника"));
    }
  }
  EXPECT_TRUE(saw_promo);
  // Over the data it was fitted on, each standardized column has mean 0.
  std::vector<double> column_sum(pipeline.column_count(), 0.0);
  std::vector<double> row(pipeline.column_count());
  for (const auto& c : data.customers) {
    pipeline.transform(c.customer, row);
    for (std::size_t k = 0; k < row.size(); ++k) column_sum[k] += row[k];
  }
  for (std::size_t k = 0; k < row.size(); ++k) {
    if (pipeline.specs()[pipeline.column_spec()[k]].encoding == features::Encoding::kNumeric) {
      EXPECT_NEAR(column_sum[k] / static_cast<double>(data.customers.size()), 0.0, 1e-9)
          << pipeline.column_names()[k];
    }
  }
  EXPECT_THROW(fit_churn_pipeline({}), std::invalid_argument);
}

class ChurnTrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new MarketDataset(synthetic_market(210, 2024));
    result_ = new ChurnTrainingResult(train_churn_model(*data_, quick_options()));
  }
  static void TearDownTestSuite() {
    delete result_;
    delete data_;
    result_ = nullptr;
    data_ = nullptr;
  }
  static MarketDataset* data_;
  static ChurnTrainingResult* result_;
};
MarketDataset* ChurnTrainerTest::data_ = nullptr;
ChurnTrainingResult* ChurnTrainerTest::result_ = nullptr;

TEST_F(ChurnTrainerTest, FindsTheSignalAndReportsTheGrid) {
  const auto& result = *result_;
  ASSERT_NE(result.model, nullptr);
  // Every candidate's cost of a prediction with reasons was measured, and the choice says why.
  for (const auto& candidate : result.candidates) {
    EXPECT_GT(candidate.explain_microseconds, 0.0) << candidate.name;
  }
  EXPECT_FALSE(result.choice_reason.empty());
  ASSERT_EQ(result.candidates.size(), 3u);
  EXPECT_EQ(result.candidates[0].name, "logistic_l1");
  EXPECT_EQ(result.candidates[1].name, "logistic_l2");
  EXPECT_EQ(result.candidates[2].name, "ensemble");
  ASSERT_LT(result.chosen, 3u);
  EXPECT_EQ(result.out_of_fold, result.candidates[result.chosen].out_of_fold);
  // Every outer fold chose a setting for each family.
  for (std::size_t f = 0; f < 2; ++f) {
    int folds = 0;
    for (const auto& [label, count] : result.candidates[f].chosen_settings) folds += count;
    EXPECT_EQ(folds, 3) << result.candidates[f].name;
  }
  ASSERT_EQ(result.final_search.size(), 2u);
  EXPECT_EQ(result.final_search[0].inner_auc.size(), result.final_search[0].labels.size());
  EXPECT_NEAR(result.final_search[0].ensemble_weight + result.final_search[1].ensemble_weight, 1.0,
              1e-12);
  for (const auto& candidate : result.candidates) {
    EXPECT_LE(candidate.auc_mean, result.candidates[result.chosen].auc_mean);
    EXPECT_GT(candidate.log_loss_mean, 0.0);
    EXPECT_GT(candidate.brier_mean, 0.0);
    EXPECT_LT(candidate.brier_mean, 0.25);
  }
  const auto& metrics = result.model->metadata().metrics;
  EXPECT_GT(metrics.at("cv_roc_auc_mean").get<double>(), 0.7);
  EXPECT_NEAR(metrics.at("cv_roc_auc_mean").get<double>(),
              result.candidates[result.chosen].auc_mean, 1e-6);
  EXPECT_EQ(metrics.at("training_customers"), data_->customers.size());

  // Out-of-fold probabilities: one per customer, and as good as the CV says.
  ASSERT_EQ(result.out_of_fold.size(), data_->customers.size());
  std::vector<int> labels;
  for (const auto& c : data_->customers) labels.push_back(c.declined);
  for (const double p : result.out_of_fold) {
    EXPECT_GT(p, 0.0);
    EXPECT_LT(p, 1.0);
  }
  EXPECT_GT(roc_auc(result.out_of_fold, labels), 0.7);

  EXPECT_EQ(result.model->metadata().name, "churn");
  EXPECT_EQ(result.model->metadata().version, "test-1");
  EXPECT_EQ(result.model->metadata().trained_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(result.model->metadata().training_data_fingerprint, data_->fingerprint);
}

TEST_F(ChurnTrainerTest, DecisionIsAThresholdAndAscendingBands) {
  const auto& decision = result_->model->decision();
  EXPECT_GT(decision.threshold, 0.0);
  EXPECT_LT(decision.threshold, 1.0);
  ASSERT_EQ(decision.bands.size(), 3u);
  EXPECT_EQ(decision.bands[0].name, "low");
  EXPECT_EQ(decision.bands[2].name, "high");
  EXPECT_GT(decision.bands[0].upper, 0.0);
  EXPECT_LT(decision.bands[0].upper, decision.bands[1].upper);
  EXPECT_LT(decision.bands[1].upper, decision.bands[2].upper);
  EXPECT_EQ(decision.bands[2].upper, 1.0);
  EXPECT_LE(decision.bands[0].upper, decision.threshold);  // low never above the cut
  EXPECT_GE(decision.bands[1].upper, decision.threshold);  // high never below it
  EXPECT_FALSE(decision.rationale.empty());
}

TEST_F(ChurnTrainerTest, FinalModelIsThePenalizedOptimumOnAllCustomers) {
  // Forcing the L2 candidate: its refit on all customers minimizes C * sum logloss +
  // 0.5 ||w||^2 at the C the final inner search chose, so the gradient vanishes there.
  auto options = quick_options();
  options.candidate = "logistic_l2";
  const auto forced = train_churn_model(*data_, options);
  const auto& model = *forced.model;
  EXPECT_EQ(forced.candidates[forced.chosen].name, "logistic_l2");
  EXPECT_EQ(model.calibration().type, "platt");
  const auto& composition = model.metadata().extra.at("estimator_composition");
  ASSERT_EQ(composition.size(), 1u);
  const double c = composition[0].at("hyperparameters").at("C").get<double>();
  const auto* lr = dynamic_cast<const models::LogisticRegression*>(&model.estimator());
  ASSERT_NE(lr, nullptr);
  std::vector<double> gradient(lr->weights());
  double gradient_b = 0.0;
  std::vector<double> row(model.pipeline().column_count());
  for (const auto& customer : data_->customers) {
    model.pipeline().transform(customer.customer, row);
    const double p = sigmoid(lr->margin(row));
    for (std::size_t k = 0; k < row.size(); ++k)
      gradient[k] += c * (p - customer.declined) * row[k];
    gradient_b += c * (p - customer.declined);
  }
  for (std::size_t k = 0; k < gradient.size(); ++k) {
    EXPECT_NEAR(gradient[k], 0.0, 1e-6) << model.pipeline().column_names()[k];
  }
  EXPECT_NEAR(gradient_b, 0.0, 1e-6);
}

TEST_F(ChurnTrainerTest, SameInputsGiveByteIdenticalModelFiles) {
  const auto again = train_churn_model(*data_, quick_options());
  EXPECT_EQ(again.model->to_json().dump(2), result_->model->to_json().dump(2));
  EXPECT_EQ(again.out_of_fold, result_->out_of_fold);
  // A different seed changes the folds, hence the CV figures.
  auto other = quick_options();
  other.seed = 8;
  const auto reseeded = train_churn_model(*data_, other);
  EXPECT_NE(reseeded.out_of_fold, result_->out_of_fold);
}

// The same file at every SIMD level the processor supports (models/simd.hpp): a k-NN search, its
// cross-validation and its calibration, all through the vector kernels.
TEST(ChurnTrainerSimdTest, SameModelFileAtEverySimdLevel) {
  const models::SimdLevel saved = models::simd_level();
  const MarketDataset data = synthetic_market(160, 2025);
  auto options = quick_options();
  for (const char* family : {"k_nearest_neighbors", "kernel_neighbors"}) {
    options.families = {family};
    models::set_simd_level(models::SimdLevel::kBaseline);
    const std::string baseline = train_churn_model(data, options).model->to_json().dump(2);
    for (const auto level : {models::SimdLevel::kAvx2, models::SimdLevel::kAvx512}) {
      if (level > models::supported_simd_level()) continue;
      models::set_simd_level(level);
      EXPECT_EQ(train_churn_model(data, options).model->to_json().dump(2), baseline)
          << family << " at " << models::simd_level_name(level);
    }
  }
  models::set_simd_level(saved);
}

TEST_F(ChurnTrainerTest, SaveLoadRoundTripKeepsEveryProbability) {
  TempDir dir;
  const auto file = dir.path() / "churn.json";
  models::save_churn_model(*result_->model, file);
  const auto loaded = models::load_churn_model(file);
  EXPECT_EQ(loaded->to_json().dump(2), result_->model->to_json().dump(2));
  for (const auto& customer : data_->customers) {
    const auto a = result_->model->predict(customer.customer);
    const auto b = loaded->predict(customer.customer);
    EXPECT_NEAR(a.probability, b.probability, 1e-12) << customer.customer_id;
    EXPECT_EQ(a.label, b.label) << customer.customer_id;
    EXPECT_EQ(a.risk_band->name, b.risk_band->name) << customer.customer_id;
  }
}

TEST_F(ChurnTrainerTest, TrainedModelRequiresEveryModelInput) {
  auto customer = data_->customers.front().customer;
  customer.clear(FieldId::kTenureDays);
  EXPECT_THROW(result_->model->predict(customer), features::ValidationError);
  // Profit is not a model input: its absence does not matter.
  auto without_profit = data_->customers.front().customer;
  without_profit.clear(FieldId::kProfit);
  EXPECT_EQ(result_->model->predict(without_profit).probability,
            result_->model->predict(data_->customers.front().customer).probability);
}

TEST(ChurnTrainerInputTest, RejectsUnusableInput) {
  auto options = quick_options();
  EXPECT_THROW(train_churn_model(synthetic_market(10, 1), options), std::invalid_argument);
  auto unknown_family = options;
  unknown_family.families = {"logistic_l3"};
  EXPECT_THROW(train_churn_model(synthetic_market(60, 1), unknown_family), std::invalid_argument);
  auto unknown_candidate = options;
  unknown_candidate.candidate = "oracle";
  EXPECT_THROW(train_churn_model(synthetic_market(60, 1), unknown_candidate),
               std::invalid_argument);
  auto no_version = options;
  no_version.model_version.clear();
  EXPECT_THROW(train_churn_model(synthetic_market(60, 1), no_version), std::invalid_argument);
  auto one_class = synthetic_market(60, 1);
  for (auto& c : one_class.customers) c.declined = 0;
  EXPECT_THROW(train_churn_model(one_class, options), std::invalid_argument);
}

TEST(ChurnTrainerInputTest, RareCategoryLevelDoesNotBreakCrossValidation) {
  // One customer is the only one with their popular category. Whichever fold holds them as a
  // test row was fitted without that level; training must still succeed (the level is valid
  // data, and the final model, fitted on everyone, knows it).
  auto data = synthetic_market(90, 5);
  for (auto& c : data.customers) {
    if (c.customer.category(FieldId::kPopularCategory) == "Кухонная посуда") {
      c.customer.set_category(FieldId::kPopularCategory, "Домашний текстиль");
    }
  }
  data.customers[17].customer.set_category(FieldId::kPopularCategory, "Кухонная посуда");
  ChurnTrainingResult result;
  ASSERT_NO_THROW(result = train_churn_model(data, quick_options()));
  ASSERT_NE(result.model, nullptr);
  EXPECT_NO_THROW(result.model->predict(data.customers[17].customer));
}

// The real store export: the model the trainer holds in memory and the model the server loads
// from the saved file give every customer the same probability (one shared pipeline), including
// when the customer travels as API JSON the way the server receives it.
TEST(ChurnTrainerRealDataTest, InMemoryAndSavedModelAgreeForEveryCustomer) {
  const fs::path market = fs::path(NBO_TEST_DATA_DIR) / "market";
  if (!fs::exists(market / "market_file.csv")) {
    GTEST_SKIP() << "shared market data not found at " << market;
  }
  const MarketDataset data = load_market_export(market);
  ASSERT_GT(data.customers.size(), 1000u);
  ChurnTrainingOptions options;
  options.folds = 5;
  options.repeats = 1;
  options.families = {"logistic_l2"};
  options.model_version = "real-data-test-{candidate}";
  options.trained_at = "2026-01-01T00:00:00Z";
  const auto result = train_churn_model(data, options);
  // Published analyses reach ~0.89 cross-validated; a plain logistic model gets close.
  EXPECT_GT(result.model->metadata().metrics.at("cv_roc_auc_mean").get<double>(), 0.8);
  // The version names the chosen candidate.
  EXPECT_EQ(result.model->metadata().version,
            "real-data-test-" + result.candidates[result.chosen].name);

  TempDir dir;
  const auto file = dir.path() / "churn.json";
  models::save_churn_model(*result.model, file);
  const auto loaded = models::load_churn_model(file);
  std::size_t checked = 0;
  for (const auto& customer : data.customers) {
    const double in_memory = result.model->predict(customer.customer).probability;
    const double from_file = loaded->predict(customer.customer).probability;
    ASSERT_NEAR(in_memory, from_file, 1e-9) << customer.customer_id;
    const auto over_api = features::customer_from_json(
        json::parse(features::customer_to_json(customer.customer).dump()));
    ASSERT_NEAR(loaded->predict(over_api).probability, in_memory, 1e-9) << customer.customer_id;
    ++checked;
  }
  EXPECT_EQ(checked, data.customers.size());
}

}  // namespace
}  // namespace nbo::train
