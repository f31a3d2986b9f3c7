// fit_xgboost: the converted TreeEnsemble reproduces XGBoost's own margins and SHAP values
// (XGBoost loads the saved document and predicts through its C API), for boosting and for the
// random-forest recipe; fits are deterministic.
#include "nbo/train/xgboost_fit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xgboost/c_api.h>

#include "synthetic_data.hpp"

namespace nbo::train {
namespace {

using test::uniform;

using ::testing::HasSubstr;
using json = nlohmann::json;

struct Dataset {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
  std::vector<std::string> columns;
};

// n rows, `features` >= 3 features in [-1, 1) (all but three noise); label 1 when
// x0 + x1^2 - 0.5 x2 > 0.2: separable by an axis-aligned tree only approximately, so trees keep
// splitting.
Dataset separable(int n, std::uint64_t seed, int features = 5) {
  std::mt19937_64 generator(seed);
  Dataset d{Eigen::MatrixXd(n, features), Eigen::VectorXd(n), {"a", "b", "c"}};
  for (int j = 3; j < features; ++j) d.columns.push_back("noise=" + std::to_string(j));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < features; ++j) d.x(i, j) = 2.0 * uniform(generator) - 1.0;
    d.y(i) = d.x(i, 0) + d.x(i, 1) * d.x(i, 1) - 0.5 * d.x(i, 2) > 0.2 ? 1.0 : 0.0;
  }
  return d;
}

// XGBoost's own predictions for `x` from the saved `document`: margins (n) and SHAP values
// (n x (columns + 1), the bias last).
struct XgboostPredictions {
  std::vector<float> margins;
  std::vector<float> contributions;
};

XgboostPredictions predict_with_xgboost(const json& document, const Eigen::MatrixXd& x) {
  XgboostPredictions result;
  const std::string text = document.dump();
  BoosterHandle booster = nullptr;
  DMatrixHandle data = nullptr;
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> features =
      x.cast<float>();
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &booster), 0) << XGBGetLastError();
  EXPECT_EQ(XGBoosterLoadModelFromBuffer(booster, text.data(), text.size()), 0)
      << XGBGetLastError();
  EXPECT_EQ(XGBoosterSetParam(booster, "nthread", "1"), 0) << XGBGetLastError();
  EXPECT_EQ(XGDMatrixCreateFromMat(features.data(), static_cast<bst_ulong>(x.rows()),
                                   static_cast<bst_ulong>(x.cols()),
                                   std::numeric_limits<float>::quiet_NaN(), &data),
            0)
      << XGBGetLastError();
  for (const int type : {1, 2}) {  // 1: margin, 2: SHAP contributions
    const std::string config = json{
        {"type", type},
        {"training", false},
        {"iteration_begin", 0},
        {"iteration_end", 0},
        {"strict_shape", false}}.dump();
    const bst_ulong* shape = nullptr;
    bst_ulong dimensions = 0;
    const float* values = nullptr;
    EXPECT_EQ(
        XGBoosterPredictFromDMatrix(booster, data, config.c_str(), &shape, &dimensions, &values), 0)
        << XGBGetLastError();
    bst_ulong size = 1;
    for (bst_ulong i = 0; i < dimensions; ++i) size *= shape[i];
    (type == 1 ? result.margins : result.contributions).assign(values, values + size);
  }
  XGDMatrixFree(data);
  XGBoosterFree(booster);
  return result;
}

void expect_matches_xgboost(const Dataset& d, const XgboostParams& params) {
  const json document = fit_xgboost_document(d.x, d.y, d.columns, params);
  EXPECT_EQ(document.at("learner").at("feature_names"), json(d.columns));
  const auto ensemble = models::TreeEnsemble::from_xgboost_json(document, d.columns, params.mode);
  const XgboostPredictions xgboost = predict_with_xgboost(document, d.x);
  const auto rows = static_cast<std::size_t>(d.x.rows());
  const std::size_t columns = d.columns.size();
  ASSERT_EQ(xgboost.margins.size(), rows);
  ASSERT_EQ(xgboost.contributions.size(), rows * (columns + 1));

  std::vector<double> row(columns);
  std::vector<double> out(columns);
  int correct = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < columns; ++j) row[j] = d.x(static_cast<Eigen::Index>(i), j);
    const double margin = ensemble->margin(row);
    ASSERT_NEAR(margin, xgboost.margins[i], 1e-5) << "row " << i;
    const double baseline = ensemble->contributions(row, out);
    const float* expected = &xgboost.contributions[i * (columns + 1)];
    for (std::size_t j = 0; j < columns; ++j) {
      ASSERT_NEAR(out[j], expected[j], 1e-4) << "row " << i << " column " << j;
    }
    ASSERT_NEAR(baseline, expected[columns], 1e-4) << "row " << i;
    double sum = baseline;
    for (const double value : out) sum += value;
    ASSERT_NEAR(sum, margin, 1e-9);
    correct += (margin > 0) == (d.y(static_cast<Eigen::Index>(i)) == 1.0) ? 1 : 0;
  }
  // The model learned the signal, so the comparison is not between two trivial models.
  EXPECT_GT(correct, static_cast<int>(0.9 * static_cast<double>(rows)));
}

TEST(XgboostFitTest, GradientBoostingMatchesXgboostMarginsAndShap) {
  XgboostParams params;
  params.trees = 60;
  params.max_depth = 3;
  params.learning_rate = 0.3;
  expect_matches_xgboost(separable(400, 1), params);
}

TEST(XgboostFitTest, RandomForestMatchesXgboostMarginsAndShap) {
  // In XGBoost 1.7 each of the parallel trees' leaves is scaled by learning_rate /
  // num_parallel_tree, so the forest's margin is the sum of the stored leaves.
  XgboostParams params;
  params.mode = "random_forest";
  params.trees = 40;
  params.max_depth = 6;
  params.subsample = 0.7;
  params.colsample_bynode = 0.6;
  expect_matches_xgboost(separable(400, 2), params);
}

TEST(XgboostFitTest, DeepForestMatchesXgboostMarginsAndShap) {
  // Deep trees over many features: their SHAP values come from the recursion rather than from
  // leaf tables.
  XgboostParams params;
  params.mode = "random_forest";
  params.trees = 20;
  params.max_depth = 9;
  params.subsample = 0.8;
  params.colsample_bynode = 0.8;
  params.min_child_weight = 0.1;
  expect_matches_xgboost(separable(600, 6, 12), params);
}

TEST(XgboostFitTest, FitsAreDeterministic) {
  const Dataset d = separable(300, 3);
  for (const char* mode : {"gradient_boosting", "random_forest"}) {
    SCOPED_TRACE(mode);
    XgboostParams params;
    params.mode = mode;
    params.trees = 20;
    params.max_depth = 4;
    params.colsample_bynode = 0.5;
    const auto first = fit_xgboost(d.x, d.y, d.columns, params);
    const auto second = fit_xgboost(d.x, d.y, d.columns, params);
    EXPECT_EQ(first->kind(), mode);
    EXPECT_EQ(first->trees().size(), 20u);
    EXPECT_EQ(first->to_json().dump(), second->to_json().dump());
    params.seed = 43;  // the sampling depends on the seed
    EXPECT_NE(fit_xgboost(d.x, d.y, d.columns, params)->to_json().dump(), first->to_json().dump());
  }
}

TEST(XgboostFitTest, StartsFromThePositiveRate) {
  Dataset d = separable(200, 4);
  XgboostParams params;
  params.trees = 1;
  const auto ensemble = fit_xgboost(d.x, d.y, d.columns, params);
  const double rate = d.y.mean();
  EXPECT_NEAR(ensemble->base_margin(), std::log(rate / (1.0 - rate)), 1e-6);
}

TEST(XgboostFitTest, RejectsInvalidInputs) {
  const Dataset d = separable(50, 5);
  XgboostParams params;
  params.mode = "boosting";
  EXPECT_THROW(fit_xgboost(d.x, d.y, d.columns, params), std::invalid_argument);
  params = {};
  params.subsample = 0.0;
  EXPECT_THROW(fit_xgboost(d.x, d.y, d.columns, params), std::invalid_argument);
  params = {};
  params.max_depth = 0;
  EXPECT_THROW(fit_xgboost(d.x, d.y, d.columns, params), std::invalid_argument);
  EXPECT_THROW(fit_xgboost(d.x, d.y, {"a", "b"}, {}), std::invalid_argument);
  EXPECT_THROW(fit_xgboost(d.x, Eigen::VectorXd::Ones(50), d.columns, {}), std::invalid_argument);
  Eigen::VectorXd labels = d.y;
  labels(0) = 0.5;
  EXPECT_THROW(fit_xgboost(d.x, labels, d.columns, {}), std::invalid_argument);
  Eigen::MatrixXd x = d.x;
  x(3, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(fit_xgboost(x, d.y, d.columns, {}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
