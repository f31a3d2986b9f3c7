// Scores the customers of tests/fixtures/golden/valid_logistic_rows.json with the fixture model
// and compares with the expectations computed independently by make_golden.py (pure Python).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_test_util.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"

namespace nbo::models {
namespace {

using json = nlohmann::json;

TEST(GoldenScoringTest, MatchesTheIndependentPythonImplementation) {
  const json golden = json::parse(test::read_text(test::fixture_path("golden/valid_logistic_rows.json")));
  const auto model =
      load_churn_model(test::fixture_path("models/" + golden.at("model").get<std::string>()));
  const auto& rows = golden.at("rows");
  ASSERT_GE(rows.size(), 8u);
  int positives = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.at("name").get<std::string>());
    const auto& expected = row.at("expected");
    const features::RawCustomer customer = features::customer_from_json(row.at("features"));
    const Prediction prediction = model->predict(customer, features::kFieldCount);

    EXPECT_NEAR(prediction.probability, expected.at("probability").get<double>(), 1e-9);
    EXPECT_EQ(prediction.label, expected.at("label").get<bool>());
    positives += prediction.label ? 1 : 0;
    ASSERT_NE(prediction.risk_band, nullptr);
    EXPECT_EQ(prediction.risk_band->name, expected.at("band").get<std::string>());

    std::vector<std::string> imputed;
    for (const auto field : prediction.imputed) {
      imputed.emplace_back(features::store_field(field).api_name);
    }
    EXPECT_EQ(imputed, expected.at("imputed").get<std::vector<std::string>>());

    ASSERT_FALSE(prediction.reasons.empty());
    EXPECT_EQ(features::store_field(prediction.reasons.front().field).api_name,
              expected.at("top_reason").get<std::string>());
    EXPECT_NEAR(prediction.reasons.front().contribution,
                expected.at("top_reason_contribution").get<double>(), 1e-9);
    // Every model input field of the pipeline gets a reason, and no other field.
    EXPECT_EQ(prediction.reasons.size(), model->pipeline().specs().size());
  }
  EXPECT_GT(positives, 0);
  EXPECT_LT(positives, static_cast<int>(rows.size()));
}

}  // namespace
}  // namespace nbo::models
