// SupportVectorClassifier: margins of hand-built support vectors, occlusion contributions (by
// hand, and the fast contributions() against occlusion_contributions() on random models), the
// model-file layout and its validation.
#include "nbo/models/support_vector.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nbo/models/estimator.hpp"
#include "occlusion_checks.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const std::vector<std::string> kColumns = {"a", "b"};

// Support vectors (0, 0) with coefficient 1 and (1, 1) with -0.5; bias 0.2, gamma 0.5; column
// means (0.5, 0.25).
SupportVectorClassifier two_vectors() {
  return SupportVectorClassifier(kColumns, {0, 0, 1, 1}, {1.0, -0.5}, 0.2, 0.5, {0.5, 0.25});
}

std::string from_json_error(const json& estimator) {
  try {
    SupportVectorClassifier::from_json(estimator, kColumns);
    ADD_FAILURE() << "accepted " << estimator.dump();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

TEST(SupportVectorTest, MarginIsBiasPlusWeightedRbfKernels) {
  const auto model = two_vectors();
  EXPECT_EQ(model.support_vector_count(), 2u);
  EXPECT_EQ(model.gamma(), 0.5);
  // (0, 0): squared distances 0 and 2.
  EXPECT_DOUBLE_EQ(model.margin(std::vector<double>{0, 0}), 0.2 + 1.0 - 0.5 * std::exp(-1.0));
  // (1, 0): squared distances 1 and 1.
  EXPECT_DOUBLE_EQ(model.margin(std::vector<double>{1, 0}), 0.2 + 0.5 * std::exp(-0.5));
  // (1, 1): squared distances 2 and 0.
  EXPECT_DOUBLE_EQ(model.margin(std::vector<double>{1, 1}), 0.2 + std::exp(-1.0) - 0.5);
  // Far away only the bias remains.
  EXPECT_DOUBLE_EQ(model.margin(std::vector<double>{100, -100}), 0.2);
}

TEST(SupportVectorTest, ManySupportVectorsMatchAPlainSum) {
  // 600 support vectors (three blocks of distances), compared bit for bit with a direct sum.
  const std::size_t count = 600;
  const std::size_t cols = 4;
  std::uint64_t state = 99;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  std::vector<double> vectors(count * cols);
  std::vector<double> coefficients(count);
  for (auto& value : vectors) value = 2.0 * next() - 1.0;
  for (auto& value : coefficients) value = 2.0 * next() - 1.0;
  const SupportVectorClassifier model({"w", "x", "y", "z"}, vectors, coefficients, -0.3, 0.7,
                                      {0, 0, 0, 0});
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<double> query(cols);
    for (auto& value : query) value = 2.0 * next() - 1.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
      double d2 = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const double diff = query[j] - vectors[i * cols + j];
        d2 += diff * diff;
      }
      sum += coefficients[i] * std::exp(-0.7 * d2);
    }
    EXPECT_EQ(model.margin(query), -0.3 + sum);
  }
}

TEST(SupportVectorTest, ContributionsAreOcclusionAgainstTheColumnMeans) {
  const auto model = two_vectors();
  const std::vector<double> row = {1, 0};
  std::vector<double> out(2, -99.0);
  const double baseline = model.contributions(row, out);
  const double full = 0.2 + 0.5 * std::exp(-0.5);
  // a -> 0.5: squared distances 0.25 and 1.25; b -> 0.25: 1.0625 and 0.5625.
  const double without_a = 0.2 + std::exp(-0.125) - 0.5 * std::exp(-0.625);
  const double without_b = 0.2 + std::exp(-0.53125) - 0.5 * std::exp(-0.28125);
  EXPECT_NEAR(out[0], full - without_a, 1e-15);
  EXPECT_NEAR(out[1], full - without_b, 1e-15);
  EXPECT_NEAR(baseline, full - out[0] - out[1], 1e-15);
  EXPECT_NEAR(baseline + out[0] + out[1], model.margin(row), 1e-15);
}

TEST(SupportVectorTest, ContributionsEqualTheOcclusionDefinition) {
  const std::size_t cols = 5;
  const std::vector<std::string> names = {"v", "w", "x", "y", "z"};
  for (const std::uint64_t seed : {3u, 5u, 8u, 13u}) {
    std::uint64_t state = seed;
    auto next = [&state] {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<double>(state >> 11) * 0x1.0p-53;
    };
    // 300 support vectors (two blocks of distances), the last 50 copies of earlier ones; column
    // 4 is 0/1 like a one-hot column.
    const std::size_t count = 300;
    std::vector<double> vectors;
    for (std::size_t i = 0; i < count - 50; ++i) {
      for (std::size_t j = 0; j + 1 < cols; ++j) vectors.push_back(4.0 * next() - 2.0);
      vectors.push_back(next() < 0.3 ? 1.0 : 0.0);
    }
    for (std::size_t i = count - 50; i < count; ++i) {
      const auto copied = static_cast<std::size_t>(next() * static_cast<double>(count - 50));
      for (std::size_t j = 0; j < cols; ++j) vectors.push_back(vectors[copied * cols + j]);
    }
    std::vector<double> coefficients(count);
    for (auto& value : coefficients) value = 2.0 * next() - 1.0;
    std::vector<double> means(cols);
    for (auto& value : means) value = next() - 0.5;

    std::vector<std::vector<double>> queries;
    for (int q = 0; q < 10; ++q) {
      std::vector<double> query(cols);
      for (auto& value : query) value = 4.0 * next() - 2.0;
      queries.push_back(query);
    }
    queries.emplace_back(vectors.begin(), vectors.begin() + static_cast<std::ptrdiff_t>(cols));
    std::vector<double> at_means = queries.front();
    at_means[0] = means[0];
    at_means[3] = means[3];
    queries.push_back(at_means);

    // gamma 50 puts kernel factors out of range, so contributions() takes one exp per vector.
    for (const double gamma : {0.03, 0.5, 4.0, 50.0}) {
      const SupportVectorClassifier model(names, vectors, coefficients, 0.1, gamma, means);
      for (std::size_t q = 0; q < queries.size(); ++q) {
        test::expect_occlusion_values(
            model, means, queries[q], fmt::format("seed {}, gamma {}, query {}", seed, gamma, q));
      }
    }
  }
}

TEST(SupportVectorTest, ContributionsOfANonFiniteRowAreTheDefinitions) {
  test::expect_non_finite_rows_take_the_definition(two_vectors(), {0.5, 0.25});
}

TEST(SupportVectorTest, JsonLayoutAndRoundTrip) {
  const auto model = two_vectors();
  const json written = model.to_json();
  EXPECT_EQ(written, json::parse(R"({"type": "support_vector_classifier", "gamma": 0.5,
      "bias": 0.2, "columns": ["a", "b"], "column_means": [0.5, 0.25],
      "coefficients": [1.0, -0.5], "support_vectors": [[0, 0], [1, 1]]})"));
  const auto loaded = estimator_from_json(written, kColumns);
  ASSERT_EQ(loaded->type(), "support_vector_classifier");
  EXPECT_EQ(loaded->to_json(), written);
  test::expect_same_scores(*loaded, model, {{0.3, 0.1}, {2, -1}, {1, 1}});
}

TEST(SupportVectorTest, InvalidFilesAreRejectedNamingThePath) {
  const json valid = two_vectors().to_json();
  auto broken = [&valid](const std::function<void(json&)>& mutate) {
    json copy = valid;
    mutate(copy);
    return from_json_error(copy);
  };
  EXPECT_THAT(broken([](json& e) { e["gamma"] = 0; }), HasSubstr("estimator.gamma:"));
  EXPECT_THAT(broken([](json& e) { e["gamma"] = "wide"; }), HasSubstr("estimator.gamma:"));
  EXPECT_THAT(broken([](json& e) { e.erase("bias"); }), HasSubstr("estimator.bias: is required"));
  EXPECT_THAT(broken([](json& e) { e["columns"][0] = "b"; }), HasSubstr("estimator.columns[0]:"));
  EXPECT_THAT(broken([](json& e) { e["column_means"].erase(1); }),
              HasSubstr("estimator.column_means:"));
  EXPECT_THAT(broken([](json& e) { e["column_means"][1] = nullptr; }),
              HasSubstr("estimator.column_means[1]:"));
  EXPECT_THAT(broken([](json& e) { e["coefficients"].push_back(1.0); }),
              HasSubstr("estimator.coefficients:"));
  EXPECT_THAT(broken([](json& e) { e["coefficients"][1] = true; }),
              HasSubstr("estimator.coefficients[1]:"));
  EXPECT_THAT(broken([](json& e) { e["support_vectors"][1][1] = "1"; }),
              HasSubstr("estimator.support_vectors[1][1]:"));
  EXPECT_THAT(broken([](json& e) {
                e["support_vectors"][0] = {0, 0, 0};
              }),
              HasSubstr("estimator.support_vectors[0]:"));
  EXPECT_THAT(broken([](json& e) { e["kernel"] = "rbf"; }),
              HasSubstr("estimator.kernel: unknown key"));
  EXPECT_THROW(estimator_from_json(valid, {"a"}), std::invalid_argument);
}

TEST(SupportVectorTest, ConstructorRejectsInconsistentData) {
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, 0, 1}, {1.0, -0.5}, 0.0, 0.5, {0, 0}),
               std::invalid_argument);
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, 0}, {1.0}, 0.0, 0.5, {0}),
               std::invalid_argument);
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, 0}, {1.0}, 0.0, 0.0, {0, 0}),
               std::invalid_argument);
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, 0}, {1.0}, NAN, 0.5, {0, 0}),
               std::invalid_argument);
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, INFINITY}, {1.0}, 0.0, 0.5, {0, 0}),
               std::invalid_argument);
  EXPECT_THROW(SupportVectorClassifier(kColumns, {0, 0}, {NAN}, 0.0, 0.5, {0, 0}),
               std::invalid_argument);
}

}  // namespace
}  // namespace nbo::models
