// ChurnModel and LogisticRegression semantics on small models built in the test.
#include "nbo/models/churn_model.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model_test_util.hpp"

namespace nbo::models {
namespace {

using features::Encoding;
using features::FeatureSpec;
using features::FieldId;
using features::Pipeline;
using features::RawCustomer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

double logit(double p) { return std::log(p / (1.0 - p)); }

ModelMetadata metadata() {
  ModelMetadata m;
  m.name = "churn";
  m.version = "unit-1";
  m.trained_at = "2026-01-01T00:00:00Z";
  m.training_data_fingerprint = "sha256:00";
  return m;
}

// promo_share (numeric, center 0, scale 1), service_type (one-hot, 2 levels), minutes (numeric).
Pipeline small_pipeline() {
  std::vector<FeatureSpec> specs(3);
  specs[0].field = FieldId::kPromoShare;
  specs[1].field = FieldId::kServiceType;
  specs[1].encoding = Encoding::kOneHot;
  specs[1].levels = {"стандарт", "премиум"};
  specs[2].field = FieldId::kMinutesThisMonth;
  specs[2].center = 10.0;
  specs[2].scale = 5.0;
  return Pipeline(std::move(specs));
}

std::unique_ptr<const Estimator> estimator(std::vector<double> weights, double intercept) {
  return std::make_unique<LogisticRegression>(small_pipeline().column_names(), std::move(weights),
                                              intercept);
}

Decision decision(double threshold = 0.5) {
  Decision d;
  d.threshold = threshold;
  d.bands = {{"low", 0.3}, {"medium", 0.5}, {"high", 1.0}};
  return d;
}

RawCustomer customer(double promo, const char* service, double minutes) {
  RawCustomer c;
  c.set_number(FieldId::kPromoShare, promo);
  c.set_category(FieldId::kServiceType, service);
  c.set_number(FieldId::kMinutesThisMonth, minutes);
  return c;
}

TEST(LogisticRegressionTest, MarginAndContributions) {
  const LogisticRegression lr({"a", "b", "c"}, {0.5, -2.0, 1.5}, 0.25);
  const std::vector<double> row{2.0, 0.5, -1.0};
  EXPECT_DOUBLE_EQ(lr.margin(row), 0.25 + 1.0 - 1.0 - 1.5);
  std::vector<double> out(3);
  const double baseline = lr.contributions(row, out);
  EXPECT_EQ(baseline, 0.25);
  EXPECT_THAT(out, ElementsAre(1.0, -1.0, -1.5));
  EXPECT_DOUBLE_EQ(baseline + out[0] + out[1] + out[2], lr.margin(row));
  const json j = lr.to_json();
  EXPECT_EQ(j.at("type"), "logistic_regression");
  EXPECT_EQ(j.at("intercept"), 0.25);
  EXPECT_EQ(j.at("coefficients")[1], json({{"column", "b"}, {"weight", -2.0}}));
  // The JSON reads back against the same columns only.
  const auto back = estimator_from_json(j, {"a", "b", "c"});
  EXPECT_EQ(back->margin(row), lr.margin(row));
  EXPECT_THROW(estimator_from_json(j, {"a", "c", "b"}), std::invalid_argument);
  EXPECT_THROW(estimator_from_json(j, {"a", "b"}), std::invalid_argument);
}

TEST(LogisticRegressionTest, ConstructorRejectsMismatchAndNonFinite) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(LogisticRegression({"a", "b"}, {1.0}, 0.0), std::invalid_argument);
  EXPECT_THROW(LogisticRegression({"a"}, {nan}, 0.0), std::invalid_argument);
  EXPECT_THROW(LogisticRegression({"a"}, {-inf}, 0.0), std::invalid_argument);
  EXPECT_THROW(LogisticRegression({"a"}, {1.0}, inf), std::invalid_argument);
  try {
    LogisticRegression({"a", "bad"}, {1.0, nan}, 0.0);
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("bad"));
  }
}

TEST(ChurnModelTest, ProbabilityIsSigmoidOfCalibratedMargin) {
  Calibration platt{"platt", 0.8, -0.3};
  const ChurnModel model(metadata(), small_pipeline(), estimator({1.2, -0.4, 0.4, -0.7}, 0.1),
                         platt, decision());
  const RawCustomer c = customer(0.6, "премиум", 4);
  const double margin = 0.1 + 1.2 * 0.6 + 0.4 * 1.0 - 0.7 * (4.0 - 10.0) / 5.0;
  const double expected = 1.0 / (1.0 + std::exp(-(0.8 * margin - 0.3)));
  const Prediction p = model.predict(c);
  EXPECT_NEAR(p.probability, expected, 1e-15);
  EXPECT_EQ(p.label, expected >= 0.5);
  EXPECT_TRUE(p.imputed.empty());
}

TEST(ChurnModelTest, ExtremeMarginsStayInZeroOne) {
  const ChurnModel model(metadata(), small_pipeline(), estimator({800.0, 0, 0, 0}, 0.0),
                         Calibration{}, decision());
  const Prediction high = model.predict(customer(1.0, "стандарт", 10));
  EXPECT_EQ(high.probability, 1.0);
  EXPECT_EQ(high.risk_band->name, "high");  // probability 1 falls in the last band
  EXPECT_TRUE(high.label);
  const ChurnModel negative(metadata(), small_pipeline(), estimator({-800.0, 0, 0, 0}, 0.0),
                            Calibration{}, decision());
  const Prediction low = negative.predict(customer(1.0, "стандарт", 10));
  EXPECT_GE(low.probability, 0.0);
  EXPECT_LT(low.probability, 1e-300);
  EXPECT_FALSE(std::isnan(low.probability));
  EXPECT_EQ(low.risk_band->name, "low");
  EXPECT_FALSE(low.label);
}

TEST(ChurnModelTest, ThresholdAndBandBoundariesAreInclusiveBelow) {
  // All weights zero and no calibration: probability is exactly sigmoid(0) = 0.5, which is the
  // threshold and the "medium" band's upper bound.
  const ChurnModel model(metadata(), small_pipeline(), estimator({0, 0, 0, 0}, 0.0),
                         Calibration{}, decision(0.5));
  const Prediction p = model.predict(customer(0.2, "стандарт", 3));
  ASSERT_EQ(p.probability, 0.5);
  EXPECT_TRUE(p.label);                     // p >= threshold
  EXPECT_EQ(p.risk_band->name, "high");     // 0.5 is not < 0.5, so not "medium"
  EXPECT_EQ(p.risk_band, &model.decision().bands[2]);  // points into the model

  // Just below the threshold: intercept -1e-9.
  const ChurnModel below(metadata(), small_pipeline(), estimator({0, 0, 0, 0}, -1e-9),
                         Calibration{}, decision(0.5));
  const Prediction q = below.predict(customer(0.2, "стандарт", 3));
  EXPECT_LT(q.probability, 0.5);
  EXPECT_FALSE(q.label);
  EXPECT_EQ(q.risk_band->name, "medium");
  // Far below: the first band.
  const ChurnModel low(metadata(), small_pipeline(), estimator({0, 0, 0, 0}, -3.0),
                       Calibration{}, decision(0.5));
  EXPECT_EQ(low.predict(customer(0.2, "стандарт", 3)).risk_band->name, "low");
}

TEST(ChurnModelTest, ReasonsArePerFieldOnTheCalibratedScaleSortedByMagnitude) {
  Calibration platt{"platt", 2.0, 0.5};
  const ChurnModel model(metadata(), small_pipeline(), estimator({1.0, -0.3, 0.6, 0.5}, -0.2),
                         platt, decision());
  const RawCustomer c = customer(0.4, "премиум", 2);
  const Prediction all = model.predict(c, 10);
  ASSERT_EQ(all.reasons.size(), 3u);  // one per input field, not per column
  // promo 2*1.0*0.4 = 0.8; service 2*0.6 = 1.2 (one-hot columns summed); minutes 2*0.5*-1.6 = -1.6
  EXPECT_EQ(all.reasons[0].field, FieldId::kMinutesThisMonth);
  EXPECT_NEAR(all.reasons[0].contribution, -1.6, 1e-12);
  EXPECT_EQ(all.reasons[1].field, FieldId::kServiceType);
  EXPECT_NEAR(all.reasons[1].contribution, 1.2, 1e-12);
  EXPECT_EQ(all.reasons[2].field, FieldId::kPromoShare);
  EXPECT_NEAR(all.reasons[2].contribution, 0.8, 1e-12);
  // Contributions + calibrated baseline add up to the calibrated log-odds.
  double sum = 2.0 * -0.2 + 0.5;
  for (const auto& r : all.reasons) sum += r.contribution;
  EXPECT_NEAR(sum, logit(all.probability), 1e-9);

  const Prediction top = model.predict(c, 2);
  ASSERT_EQ(top.reasons.size(), 2u);
  EXPECT_EQ(top.reasons[0].field, FieldId::kMinutesThisMonth);
  EXPECT_EQ(top.reasons[1].field, FieldId::kServiceType);
  EXPECT_EQ(top.probability, all.probability);
  EXPECT_TRUE(model.predict(c, 0).reasons.empty());
}

TEST(ChurnModelTest, MissingRequiredFieldIsAValidationError) {
  const ChurnModel model(metadata(), small_pipeline(), estimator({1, 0, 0, 1}, 0.0), Calibration{},
                         decision());
  RawCustomer c = customer(0.4, "премиум", 2);
  c.clear(FieldId::kPromoShare);
  try {
    model.predict(c);
    ADD_FAILURE() << "no error";
  } catch (const features::ValidationError& error) {
    EXPECT_EQ(error.code(), "missing_field");
    EXPECT_EQ(error.field(), "promo_share");
  }
}

TEST(ChurnModelTest, ConstructorValidatesThePartsAgainstEachOther) {
  auto make = [](ModelMetadata m, std::unique_ptr<const Estimator> e, Calibration c, Decision d) {
    return ChurnModel(std::move(m), small_pipeline(), std::move(e), std::move(c), std::move(d));
  };
  EXPECT_NO_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, decision()));
  EXPECT_THROW(make(metadata(), nullptr, Calibration{}, decision()), std::invalid_argument);
  EXPECT_THROW(make(metadata(),
                    std::make_unique<LogisticRegression>(std::vector<std::string>{"x"},
                                                         std::vector<double>{1.0}, 0.0),
                    Calibration{}, decision()),
               std::invalid_argument);
  ModelMetadata unnamed = metadata();
  unnamed.name.clear();
  EXPECT_THROW(make(unnamed, estimator({0, 0, 0, 0}, 0), Calibration{}, decision()),
               std::invalid_argument);
  ModelMetadata unversioned = metadata();
  unversioned.version.clear();
  EXPECT_THROW(make(unversioned, estimator({0, 0, 0, 0}, 0), Calibration{}, decision()),
               std::invalid_argument);
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{"isotonic", 1, 0},
                    decision()),
               std::invalid_argument);
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{"platt", 0.0, 0},
                    decision()),
               std::invalid_argument);
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0),
                    Calibration{"platt", 1.0, std::numeric_limits<double>::infinity()},
                    decision()),
               std::invalid_argument);
  for (const double threshold : {0.0, 1.0, -0.1, 1.1, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, decision(threshold)),
                 std::invalid_argument)
        << threshold;
  }
  Decision empty = decision();
  empty.bands.clear();
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, empty),
               std::invalid_argument);
  Decision unnamed_band = decision();
  unnamed_band.bands[1].name.clear();
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, unnamed_band),
               std::invalid_argument);
  Decision zero_band = decision();
  zero_band.bands[0].upper = 0.0;
  EXPECT_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, zero_band),
               std::invalid_argument);
  Decision single = decision();
  single.bands = {{"all", 1.0}};
  EXPECT_NO_THROW(make(metadata(), estimator({0, 0, 0, 0}, 0), Calibration{}, single));
}

TEST(ChurnModelTest, JsonRoundTripKeepsEveryPrediction) {
  Calibration platt{"platt", 0.7, 0.2};
  ModelMetadata m = metadata();
  m.metrics = {{"cv_roc_auc_mean", 0.9}};
  m.extra = {{"seed", 42}};
  const ChurnModel model(m, small_pipeline(), estimator({1.0 / 3.0, -0.3, 0.6, 0.1 + 0.2}, -0.2),
                         platt, decision(0.37));
  const std::string text = model.to_json().dump(2);
  const ChurnModel copy = ChurnModel::from_json(json::parse(text));
  EXPECT_EQ(copy.to_json().dump(2), text);
  EXPECT_EQ(copy.metadata().metrics, m.metrics);
  EXPECT_EQ(copy.metadata().extra, m.extra);
  for (const double promo : {0.0, 0.13, 0.5, 0.97}) {
    for (const char* service : {"стандарт", "премиум"}) {
      for (const double minutes : {0.0, 7.0, 31.0}) {
        const RawCustomer c = customer(promo, service, minutes);
        EXPECT_EQ(copy.predict(c).probability, model.predict(c).probability);
      }
    }
  }
}

TEST(ChurnModelTest, NoneCalibrationMeansIdentityEvenAfterSaving) {
  // The "none" calibration is the identity (slope 1, offset 0). A model built with type "none"
  // must either be rejected when its slope/offset say otherwise, or keep predicting the same
  // after a save/load round trip.
  const Calibration inconsistent{"none", 2.0, 0.5};
  try {
    const ChurnModel model(metadata(), small_pipeline(), estimator({1.0, 0, 0.5, 0}, 0.1),
                           inconsistent, decision());
    const ChurnModel copy = ChurnModel::from_json(model.to_json());
    const RawCustomer c = customer(0.6, "премиум", 12);
    EXPECT_NEAR(copy.predict(c).probability, model.predict(c).probability, 1e-12)
        << "type \"none\" with slope 2 / offset 0.5 changes predictions when saved";
  } catch (const std::invalid_argument&) {
    SUCCEED();  // rejecting the inconsistent calibration is fine too
  }
}

}  // namespace
}  // namespace nbo::models
