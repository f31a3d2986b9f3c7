// Every SimdLevel the processor supports scores with the same bits as the baseline: k-NN, RBF
// SVC and kernel-neighbours margins and explanations (tests/train/churn_trainer_test.cpp: a trained
// model file). A kernel that reassociated a sum, or a build that contracted a multiply and an add
// into an FMA, fails here on one machine.
#include "nbo/models/simd.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "nbo/models/kernel_neighbors.hpp"
#include "nbo/models/neighbors.hpp"
#include "nbo/models/support_vector.hpp"

namespace nbo::models {
namespace {

// Restores the level the process started with.
class SimdLevelGuard {
 public:
  SimdLevelGuard() : saved_(simd_level()) {}
  ~SimdLevelGuard() { set_simd_level(saved_); }
  SimdLevelGuard(const SimdLevelGuard&) = delete;
  SimdLevelGuard& operator=(const SimdLevelGuard&) = delete;

 private:
  SimdLevel saved_;
};

std::vector<SimdLevel> supported_levels() {
  std::vector<SimdLevel> levels;
  for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level <= supported_simd_level()) levels.push_back(level);
  }
  return levels;
}

// Standardized-looking numeric columns and a one-hot group; a row count that is no multiple of
// any kernel's block, so every kernel's tail runs too.
struct Reference {
  std::vector<std::string> names;
  std::vector<double> rows;
  std::vector<std::uint8_t> labels;
  std::vector<std::vector<double>> queries;
};

Reference make_reference(std::size_t rows, std::size_t numeric, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> level(0, 3);
  Reference reference;
  for (std::size_t j = 0; j < numeric; ++j) reference.names.push_back(fmt::format("x{}", j));
  for (int l = 0; l < 4; ++l) reference.names.push_back(fmt::format("category={}", l));
  auto draw = [&](std::vector<double>& out) {
    for (std::size_t j = 0; j < numeric; ++j) out.push_back(normal(random));
    const int chosen = level(random);
    for (int l = 0; l < 4; ++l) out.push_back(l == chosen ? 1.0 : 0.0);
  };
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t start = reference.rows.size();
    draw(reference.rows);
    reference.labels.push_back(reference.rows[start] + 0.5 * normal(random) > 0 ? 1 : 0);
  }
  for (int q = 0; q < 60; ++q) {
    std::vector<double> query;
    draw(query);
    reference.queries.push_back(std::move(query));
  }
  // Queries on reference rows: a distance of exactly 0 among the neighbours.
  for (std::size_t i = 0; i < 5; ++i) {
    const auto first = reference.rows.begin() + static_cast<std::ptrdiff_t>(i * 37 * (numeric + 4));
    reference.queries.emplace_back(first, first + static_cast<std::ptrdiff_t>(numeric + 4));
  }
  return reference;
}

struct Scores {
  std::vector<double> margins;
  std::vector<double> contributions;
  std::vector<double> group_contributions;
};

Scores score_all(const Estimator& model, const Reference& reference) {
  Scores scores;
  const std::size_t columns = reference.names.size();
  std::vector<std::size_t> group_of(columns);
  for (std::size_t c = 0; c < columns; ++c) group_of[c] = c < columns - 4 ? c : columns - 4;
  std::vector<double> out(columns);
  std::vector<double> grouped(columns - 3);
  for (const auto& query : reference.queries) {
    scores.margins.push_back(model.margin(query));
    const auto explained = model.explain(query, out);
    scores.margins.push_back(explained.margin);
    scores.contributions.insert(scores.contributions.end(), out.begin(), out.end());
    scores.contributions.push_back(explained.baseline);
    const auto by_group = model.explain_groups(query, group_of, grouped);
    scores.group_contributions.insert(scores.group_contributions.end(), grouped.begin(),
                                      grouped.end());
    scores.group_contributions.push_back(by_group.baseline);
  }
  return scores;
}

void expect_same_bits(const Scores& expected, const Scores& actual, const std::string& context) {
  // EXPECT_EQ on doubles compares values, which is bits for the finite values these are.
  EXPECT_EQ(actual.margins, expected.margins) << context;
  EXPECT_EQ(actual.contributions, expected.contributions) << context;
  EXPECT_EQ(actual.group_contributions, expected.group_contributions) << context;
}

// Scores `reference`'s queries at the baseline level, then at every supported level, and
// expects the same bits. Leaves the level changed (callers hold a SimdLevelGuard).
void expect_every_level_scores_as_the_baseline(const Estimator& model, const Reference& reference) {
  set_simd_level(SimdLevel::kBaseline);
  const Scores baseline = score_all(model, reference);
  for (const SimdLevel level : supported_levels()) {
    set_simd_level(level);
    expect_same_bits(baseline, score_all(model, reference), std::string(simd_level_name(level)));
  }
}

TEST(SimdTest, LevelsAreNamedAndCappedAtTheProcessors) {
  const SimdLevelGuard guard;
  EXPECT_EQ(simd_level_name(SimdLevel::kBaseline), "baseline");
  EXPECT_EQ(simd_level_name(SimdLevel::kAvx2), "avx2");
  EXPECT_EQ(simd_level_name(SimdLevel::kAvx512), "avx512");
  EXPECT_EQ(set_simd_level(SimdLevel::kAvx512), supported_simd_level());
  EXPECT_EQ(simd_level(), supported_simd_level());
  EXPECT_EQ(set_simd_level(SimdLevel::kBaseline), SimdLevel::kBaseline);
  EXPECT_EQ(simd_level(), SimdLevel::kBaseline);
  std::cout << "this processor: " << simd_level_name(supported_simd_level()) << "\n";
}

TEST(SimdTest, NearestNeighborsScoreTheSameBitsAtEveryLevel) {
  const SimdLevelGuard guard;
  const Reference reference = make_reference(1037, 13, 11);
  for (const auto weighting :
       {NearestNeighbors::Weighting::kDistance, NearestNeighbors::Weighting::kUniform}) {
    std::vector<double> weights(reference.names.size());
    for (std::size_t j = 0; j < weights.size(); ++j)
      weights[j] = 0.2 + 0.05 * static_cast<double>(j);
    const NearestNeighbors model(reference.names, reference.rows, reference.labels, 20, weighting,
                                 weights);
    expect_every_level_scores_as_the_baseline(model, reference);
  }
}

TEST(SimdTest, SupportVectorsScoreTheSameBitsAtEveryLevel) {
  const SimdLevelGuard guard;
  const Reference reference = make_reference(301, 13, 12);
  std::vector<double> coefficients;
  for (std::size_t i = 0; i < reference.labels.size(); ++i) {
    coefficients.push_back(reference.labels[i] != 0 ? 0.7 : -0.5);
  }
  std::vector<double> means(reference.names.size(), 0.0);
  means.back() = 0.25;
  const SupportVectorClassifier model(reference.names, reference.rows, coefficients, -0.1, 0.05,
                                      means);
  expect_every_level_scores_as_the_baseline(model, reference);
}

TEST(SimdTest, KernelNeighborsScoreTheSameBitsAtEveryLevel) {
  const SimdLevelGuard guard;
  const Reference reference = make_reference(1037, 13, 13);
  std::vector<double> weights(reference.names.size());
  for (std::size_t j = 0; j < weights.size(); ++j) weights[j] = 0.2 + 0.05 * static_cast<double>(j);
  for (const double gamma : {0.5, 4.0}) {
    const KernelNeighbors model(reference.names, reference.rows, reference.labels, gamma, 0.5, 1.0,
                                weights);
    expect_every_level_scores_as_the_baseline(model, reference);
  }
}

// Every numeric column of few values (2 to 32, so each of the lookups by level code runs): the
// distances come from a byte per value, and must still score the same bits everywhere.
TEST(SimdTest, KernelNeighborsOnColumnsOfFewValuesScoreTheSameBitsAtEveryLevel) {
  const SimdLevelGuard guard;
  Reference reference = make_reference(1037, 13, 14);
  const std::size_t columns = reference.names.size();
  const std::size_t values_per_column[] = {2, 5, 8, 9, 16, 17, 32, 3, 12, 20, 31, 7, 4};
  const auto coarsen = [&](std::vector<double>& row, std::size_t offset) {
    for (std::size_t j = 0; j < 13; ++j) {
      const double count = static_cast<double>(values_per_column[j]);
      const double clamped = std::clamp(row[offset + j], -2.5, 2.4999);
      row[offset + j] = 0.37 * std::floor((clamped + 2.5) / 5.0 * count);
    }
  };
  for (std::size_t i = 0; i < reference.labels.size(); ++i) coarsen(reference.rows, i * columns);
  for (auto& query : reference.queries) coarsen(query, 0);
  std::vector<double> weights(columns);
  for (std::size_t j = 0; j < columns; ++j) weights[j] = 0.3 + 0.04 * static_cast<double>(j);
  const KernelNeighbors model(reference.names, reference.rows, reference.labels, 1.5, 0.5, 1.0,
                              weights);
  expect_every_level_scores_as_the_baseline(model, reference);
}

}  // namespace
}  // namespace nbo::models
