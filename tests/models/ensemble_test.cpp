// Ensemble: the pooled margin of calibrated members, contributions as the same weighted sum of
// the members' (exact where theirs are), explain() equal to margin() and contributions(), the
// model-file round trip and the constructor's checks.
#include "nbo/models/ensemble.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nbo/models/neighbors.hpp"
#include "nbo/models/support_vector.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;

const std::vector<std::string> kColumns = {"a", "b"};

std::unique_ptr<const Estimator> linear() {
  return std::make_unique<LogisticRegression>(kColumns, std::vector<double>{0.8, -1.5}, 0.3);
}
std::unique_ptr<const Estimator> neighbours() {
  return std::make_unique<NearestNeighbors>(
      kColumns, std::vector<double>{0, 0, 1, 0, 0, 2, 3, 0, 0, -3, 2, 2},
      std::vector<std::uint8_t>{1, 0, 1, 0, 1, 0}, 3, NearestNeighbors::Weighting::kDistance,
      std::vector<double>{1.0, 0.5});
}
std::unique_ptr<const Estimator> kernel() {
  return std::make_unique<SupportVectorClassifier>(
      kColumns, std::vector<double>{0, 0, 1, 1, -1, 2}, std::vector<double>{1.0, -0.5, 0.7}, 0.2,
      0.5, std::vector<double>{0.5, 0.25});
}

Ensemble three_members() {
  std::vector<EnsembleMember> members;
  members.push_back({"logistic_l2", 0.5, 1.2, -0.1, linear()});
  members.push_back({"k_nearest_neighbors", 0.3, 0.9, 0.2, neighbours()});
  members.push_back({"support_vector", 0.2, 2.0, 0.05, kernel()});
  return Ensemble(kColumns, std::move(members));
}

const std::vector<std::vector<double>> kRows = {{0, 0}, {0.4, -1}, {2, 1.5}, {-1, 3}, {1, 1}};

TEST(EnsembleTest, MarginPoolsTheMembersCalibratedLogOdds) {
  const Ensemble ensemble = three_members();
  const auto lr = linear();
  const auto knn = neighbours();
  const auto svc = kernel();
  for (const auto& row : kRows) {
    const double expected = 0.5 * (1.2 * lr->margin(row) - 0.1) +
                            0.3 * (0.9 * knn->margin(row) + 0.2) +
                            0.2 * (2.0 * svc->margin(row) + 0.05);
    EXPECT_DOUBLE_EQ(ensemble.margin(row), expected);
  }
}

TEST(EnsembleTest, ContributionsAreTheWeightedSumOfTheMembers) {
  const Ensemble ensemble = three_members();
  const auto lr = linear();
  const auto knn = neighbours();
  const auto svc = kernel();
  for (const auto& row : kRows) {
    std::vector<double> out(2), a(2), b(2), c(2);
    const double baseline = ensemble.contributions(row, out);
    const double base_a = lr->contributions(row, a);
    const double base_b = knn->contributions(row, b);
    const double base_c = svc->contributions(row, c);
    for (std::size_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(out[j], 0.5 * 1.2 * a[j] + 0.3 * 0.9 * b[j] + 0.2 * 2.0 * c[j], 1e-12);
    }
    EXPECT_NEAR(baseline,
                0.5 * (1.2 * base_a - 0.1) + 0.3 * (0.9 * base_b + 0.2) +
                    0.2 * (2.0 * base_c + 0.05),
                1e-12);
    // Additive like the members: baseline + contributions == margin.
    EXPECT_NEAR(baseline + out[0] + out[1], ensemble.margin(row), 1e-12);

    std::vector<double> explained(2);
    const auto explanation = ensemble.explain(row, explained);
    EXPECT_EQ(explanation.margin, ensemble.margin(row));
    EXPECT_EQ(explanation.baseline, baseline);
    EXPECT_EQ(explained, out);
  }
}

TEST(EnsembleTest, JsonRoundTrip) {
  const Ensemble ensemble = three_members();
  const nlohmann::json written = ensemble.to_json();
  EXPECT_EQ(written.at("type"), "ensemble");
  ASSERT_EQ(written.at("members").size(), 3U);
  EXPECT_EQ(written.at("members")[1].at("name"), "k_nearest_neighbors");
  EXPECT_EQ(written.at("members")[1].at("estimator").at("column_weights"),
            nlohmann::json::parse("[1.0, 0.5]"));
  const auto loaded = estimator_from_json(written, kColumns);
  EXPECT_EQ(loaded->to_json(), written);
  for (const auto& row : kRows) EXPECT_EQ(loaded->margin(row), ensemble.margin(row));
}

// The message of estimator_from_json on `estimator`.
std::string load_error(const nlohmann::json& estimator) {
  try {
    estimator_from_json(estimator, kColumns);
    ADD_FAILURE() << "loaded " << estimator.dump();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

TEST(EnsembleTest, FromJsonNamesThePathInsideAMember) {
  const nlohmann::json valid = three_members().to_json();
  ASSERT_NO_THROW(estimator_from_json(valid, kColumns));
  nlohmann::json broken = valid;
  broken["members"][1]["estimator"]["k"] = 2.5;
  EXPECT_THAT(load_error(broken),
              HasSubstr("estimator.members[1].estimator.k: must be an integer in [1, 1000000000], "
                        "got 2.5"));
  broken = valid;
  broken["members"][2]["estimator"]["support_vectors"][1][0] = "x";
  EXPECT_THAT(load_error(broken),
              HasSubstr("estimator.members[2].estimator.support_vectors[1][0]: must be a number"));
  broken = valid;
  broken["members"][0]["calibration"]["slope"] = "1";
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.members[0].calibration.slope: must be a "
                                            "number, got \"1\""));
  broken = valid;
  broken["members"][0]["calibration"]["ofset"] = 0.0;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.members[0].calibration.ofset: unknown key"));
  broken = valid;
  broken["members"][0]["wieght"] = 0.5;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.members[0].wieght: unknown key"));
  broken = valid;
  broken["members"][1]["estimator"] = valid;
  EXPECT_THAT(load_error(broken),
              HasSubstr("estimator.members[1].estimator: an ensemble cannot contain an ensemble"));
  broken = valid;
  broken["members"][1]["weight"] = 0.0;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.members: ensemble weights sum to"));
  broken = valid;
  broken["members"] = nlohmann::json::array();
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.members: must not be empty"));
}

TEST(EnsembleTest, ConstructorRejectsInconsistentMembers) {
  auto make = [](double first_weight, double second_weight) {
    std::vector<EnsembleMember> members;
    members.push_back({"logistic_l2", first_weight, 1.0, 0.0, linear()});
    members.push_back({"support_vector", second_weight, 1.0, 0.0, kernel()});
    return Ensemble(kColumns, std::move(members));
  };
  EXPECT_NO_THROW(make(0.25, 0.75));
  EXPECT_THROW(make(0.5, 0.6), std::invalid_argument);   // weights do not sum to 1
  EXPECT_THROW(make(-0.5, 1.5), std::invalid_argument);  // negative weight
  EXPECT_THROW(Ensemble(kColumns, {}), std::invalid_argument);
  std::vector<EnsembleMember> no_estimator;
  no_estimator.push_back({"logistic_l2", 1.0, 1.0, 0.0, nullptr});
  EXPECT_THROW(Ensemble(kColumns, std::move(no_estimator)), std::invalid_argument);
  std::vector<EnsembleMember> other_columns;
  other_columns.push_back({"logistic_l2", 1.0, 1.0, 0.0,
                           std::make_unique<LogisticRegression>(
                               std::vector<std::string>{"a"}, std::vector<double>{1.0}, 0.0)});
  EXPECT_THROW(Ensemble(kColumns, std::move(other_columns)), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::models
