// Every model family the trainer can choose, trained on the real export, saved, loaded by the
// real server and asked over HTTP: each customer's probability over HTTP equals the trainer's
// in-memory model's to 1e-9, and the reasons name the same fields. This is the serialization
// round trip of each family, end to end (trainer score = server score).

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "api_harness.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/churn_trainer.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::api::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kMarket = fs::path(NBO_TEST_DATA_DIR) / "market";

class TrainedModelOverHttp : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    if (fs::exists(kMarket / "market_file.csv")) {
      data_ = new train::MarketDataset(train::load_market_export(kMarket));
    }
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  static train::MarketDataset* data_;
};

train::MarketDataset* TrainedModelOverHttp::data_ = nullptr;

TEST_P(TrainedModelOverHttp, EveryCustomerScoresTheSameOverHttpAsInTheTrainer) {
  if (data_ == nullptr) GTEST_SKIP() << "the store export is not at " << kMarket;
  const std::string candidate = GetParam();
  // A small nested CV (1x2 outer, 2 inner folds) is enough: the point is the round trip of the
  // chosen family's file, not its CV figures.
  train::ChurnTrainingOptions options;
  options.folds = 2;
  options.repeats = 1;
  options.inner_folds = 2;
  options.threads = 2;
  options.candidate = candidate;
  options.families = candidate == "ensemble"
                         ? std::vector<std::string>{"logistic_l2", "k_nearest_neighbors",
                                                    "support_vector", "gradient_boosting"}
                         : std::vector<std::string>{candidate};
  options.model_version = "http-round-trip-" + candidate;
  options.trained_at = "2026-01-01T00:00:00Z";
  const auto result = train::train_churn_model(*data_, options);

  TempDir models;
  models::save_churn_model(*result.model, models / "churn.json");
  HarnessOptions harness_options;
  harness_options.models_directory = models.path();
  harness_options.max_body_bytes = 4 * 1024 * 1024;
  // 500 customers with TreeSHAP reasons take several seconds under the sanitizers.
  harness_options.client_timeout = std::chrono::seconds(60);
  ApiHarness server(harness_options);

  const auto& customers = data_->customers;
  constexpr std::size_t kBatch = 500;
  std::size_t compared = 0;
  for (std::size_t begin = 0; begin < customers.size(); begin += kBatch) {
    const std::size_t end = std::min(customers.size(), begin + kBatch);
    Json batch = Json::array();
    for (std::size_t i = begin; i < end; ++i) {
      batch.push_back({{"customer_id", customers[i].customer_id},
                       {"features", features::customer_to_json(customers[i].customer)}});
    }
    const auto response = server.post_json("/predict", Json{{"customers", batch}});
    ASSERT_EQ(response.status, 200) << response.body.substr(0, 500);
    const auto body = Json::parse(response.body);
    ASSERT_EQ(body.at("model").at("version"), options.model_version);
    const auto& results = body.at("results");
    ASSERT_EQ(results.size(), end - begin);
    for (std::size_t i = begin; i < end; ++i) {
      const auto& item = results[i - begin];
      ASSERT_EQ(item.at("customer_id"), customers[i].customer_id) << item.dump();
      const auto expected = result.model->predict(customers[i].customer, 3);
      ASSERT_NEAR(item.at("probability").get<double>(), expected.probability, 1e-9)
          << candidate << " customer " << customers[i].customer_id;
      const auto& reasons = item.at("reasons");
      ASSERT_EQ(reasons.size(), expected.reasons.size()) << item.dump();
      for (std::size_t r = 0; r < reasons.size(); ++r) {
        EXPECT_EQ(reasons[r].at("feature"),
                  features::store_field(expected.reasons[r].field).api_name)
            << candidate << " customer " << customers[i].customer_id;
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, customers.size());
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, TrainedModelOverHttp,
                         ::testing::Values("logistic_l1", "logistic_l2", "k_nearest_neighbors",
                                           "kernel_neighbors", "decision_tree", "support_vector",
                                           "gradient_boosting", "random_forest", "ensemble"),
                         [](const ::testing::TestParamInfo<std::string>& family) {
                           return family.param;
                         });

}  // namespace
}  // namespace nbo::api::testing
