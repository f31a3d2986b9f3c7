// KernelNeighbors: the margin against a plain loop of the definition (std::exp, on a few rows and
// on many), nbo's own exp against libm's, the fast explanations against the occlusion
// definition, the model-file layout and its validation.
#include "nbo/models/kernel_neighbors.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_tolerances.hpp"
#include "nbo/models/estimator.hpp"
#include "occlusion_checks.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const std::vector<std::string> kColumns = {"a", "b"};

// Reference rows (a, b) -> label: (0, 0) -> 1, (1, 0) -> 0, (0, 2) -> 1, (3, 0) -> 0; the prior's
// pseudo-votes weigh as rows at squared distance 1.
KernelNeighbors four_rows(double gamma, double prior, std::vector<double> weights = {}) {
  return KernelNeighbors(kColumns, {0, 0, 1, 0, 0, 2, 3, 0}, {1, 0, 1, 0}, gamma, prior, 1.0,
                         std::move(weights));
}

// The model's definition, written plainly: weighted distances, weights exp(-gamma d) and the
// pseudo-votes' exp(-gamma prior_distance), libm's exp, every exponent relative to the smallest.
double plain_margin(const std::vector<double>& rows, const std::vector<std::uint8_t>& labels,
                    const std::vector<double>& weights, double gamma, double prior,
                    double prior_distance, const std::vector<double>& row) {
  const std::size_t columns = row.size();
  std::vector<double> distances;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    double sum = 0.0;
    for (std::size_t j = 0; j < columns; ++j) {
      const double difference = weights[j] * (rows[i * columns + j] - row[j]);
      sum += difference * difference;
    }
    distances.push_back(sum);
  }
  const double offset =
      std::min(*std::min_element(distances.begin(), distances.end()), prior_distance);
  double positive = 0.0;
  double negative = 0.0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double weight = std::exp(-gamma * (distances[i] - offset));
    (labels[i] == 1 ? positive : negative) += weight;
  }
  const double pseudo_votes = prior * std::exp(-gamma * (prior_distance - offset));
  return std::log((positive + pseudo_votes) / (negative + pseudo_votes));
}

// explain() of a two-column `query` against the occlusion definition with the reference rows'
// `means`: the baseline and both contributions within `tolerance`, the margin margin()'s. Returns
// the contributions.
std::vector<double> expect_explained_as_defined(const KernelNeighbors& model,
                                                const std::vector<double>& query,
                                                const std::vector<double>& means,
                                                double tolerance) {
  std::vector<double> fast(2);
  std::vector<double> defined(2);
  const auto explanation = model.explain(query, fast);
  EXPECT_EQ(explanation.margin, model.margin(query));
  EXPECT_NEAR(explanation.baseline, occlusion_contributions(model, query, means, defined),
              tolerance);
  EXPECT_NEAR(fast[0], defined[0], tolerance);
  EXPECT_NEAR(fast[1], defined[1], tolerance);
  return fast;
}

std::string from_json_error(const json& estimator) {
  try {
    estimator_from_json(estimator, kColumns);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(KernelNeighborsTest, MarginIsTheLogRatioOfKernelVotes) {
  const auto model = four_rows(0.5, 0.25);
  // At (0, 0): distances 0, 1, 4, 9; weights 1, e^-0.5, e^-2, e^-4.5; pseudo-votes 0.25 e^-0.5.
  const double pseudo_votes = 0.25 * std::exp(-0.5);
  const double positive = 1.0 + std::exp(-2.0);
  const double negative = std::exp(-0.5) + std::exp(-4.5);
  EXPECT_NEAR(model.margin(std::vector<double>{0, 0}),
              std::log((positive + pseudo_votes) / (negative + pseudo_votes)),
              test::kKernelMarginTolerance);
  // Far from every row the pseudo-votes outweigh the rows by e^-4000: the prior's margin, 0.
  EXPECT_EQ(model.margin(std::vector<double>{100, 0}), 0.0);
  // Column weights scale the distance: with b weighted 0, (0, 2) sits on (0, 0).
  const auto unweighted_b = four_rows(0.5, 0.25, {1.0, 0.0});
  EXPECT_NEAR(unweighted_b.margin(std::vector<double>{0, 5}),
              std::log((2.0 + pseudo_votes) / (std::exp(-0.5) + std::exp(-4.5) + pseudo_votes)),
              test::kKernelMarginTolerance);
}

TEST(KernelNeighborsTest, ManyRowsMatchThePlainDefinition) {
  std::mt19937_64 random(7);
  std::normal_distribution<double> normal;
  const std::size_t rows = 301;  // no multiple of the kernel's block: padding in both parts
  std::vector<std::string> names{"x0", "x1", "x2"};
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  for (std::size_t i = 0; i < rows; ++i) {
    for (int j = 0; j < 3; ++j) reference.push_back(normal(random));
    labels.push_back(reference[i * 3] + 0.5 * normal(random) > 0.3 ? 1 : 0);
  }
  const std::vector<double> weights{1.0, 0.5, 0.25};
  for (const double gamma : {0.1, 1.0, 20.0}) {
    for (const double prior_distance : {0.0, 0.05, 3.0}) {
      const KernelNeighbors model(names, reference, labels, gamma, 0.5, prior_distance, weights);
      for (int q = 0; q < 50; ++q) {
        const std::vector<double> row{normal(random), normal(random), normal(random)};
        EXPECT_NEAR(model.margin(row),
                    plain_margin(reference, labels, weights, gamma, 0.5, prior_distance, row),
                    test::kKernelMarginTolerance)
            << "gamma " << gamma << " prior_distance " << prior_distance;
      }
    }
  }
}

// Columns of few values: distances are summed from lookups of each row's level codes.
TEST(KernelNeighborsTest, ColumnsOfFewValuesMatchThePlainDefinition) {
  std::mt19937_64 random(8);
  std::normal_distribution<double> normal;
  std::bernoulli_distribution coin(0.3);
  const auto rounded = [](double value, double step) {
    return step * std::round(std::clamp(value, -2.0, 2.0) / step);
  };
  const std::size_t rows = 301;
  std::vector<std::string> names{"steps_of_a_quarter", "steps_of_a_half", "flag"};
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  for (std::size_t i = 0; i < rows; ++i) {
    reference.push_back(rounded(normal(random), 0.25));
    reference.push_back(rounded(normal(random), 0.5));
    reference.push_back(coin(random) ? 1.0 : 0.0);
    labels.push_back(reference[i * 3] + 0.5 * normal(random) > 0.3 ? 1 : 0);
  }
  const std::vector<double> weights{1.0, 0.5, 0.7};
  // Without the flag no column has fewer than 8 values, and the padding rows are not marked by a
  // code of their own.
  std::vector<double> numeric_reference;
  for (std::size_t i = 0; i < rows; ++i) {
    numeric_reference.push_back(reference[i * 3]);
    numeric_reference.push_back(reference[i * 3 + 1]);
  }
  const std::vector<double> numeric_weights{1.0, 0.5};
  for (const double gamma : {0.1, 1.0, 20.0}) {
    const KernelNeighbors model(names, reference, labels, gamma, 0.5, 0.05, weights);
    const KernelNeighbors numeric({names[0], names[1]}, numeric_reference, labels, gamma, 0.5, 0.05,
                                  numeric_weights);
    for (int q = 0; q < 50; ++q) {
      // Queries off the levels too: a table holds the row's distance to each level.
      const std::vector<double> row{normal(random), rounded(normal(random), 0.5),
                                    coin(random) ? 1.0 : 0.0};
      EXPECT_NEAR(model.margin(row),
                  plain_margin(reference, labels, weights, gamma, 0.5, 0.05, row),
                  test::kKernelMarginTolerance)
          << "gamma " << gamma;
      const std::vector<double> numeric_row{row[0], row[1]};
      EXPECT_NEAR(
          numeric.margin(numeric_row),
          plain_margin(numeric_reference, labels, numeric_weights, gamma, 0.5, 0.05, numeric_row),
          test::kKernelMarginTolerance)
          << "gamma " << gamma;
    }
  }
}

// The product pass looks up columns whose rows' codes take few combinations as one (here the two
// flags), and a one-hot category as one lookup by the row's member: customers with one member,
// with none (an unseen level) and with two.
TEST(KernelNeighborsTest, FirstColumnsAndCategoriesLookedUpTogetherMatchThePlainDefinition) {
  std::mt19937_64 random(12);
  std::uniform_int_distribution<int> twenty(0, 19);
  std::uniform_int_distribution<int> four(0, 3);
  std::uniform_int_distribution<int> three(0, 2);
  std::bernoulli_distribution coin(0.5);
  const std::vector<std::string> names{"flag_a", "flag_b", "twenty", "c=0", "c=1",
                                       "c=2",    "c=3",    "d=0",    "d=1", "d=2"};
  const auto draw = [&](std::vector<double>& out) {
    out.push_back(coin(random) ? 1.0 : 0.0);
    out.push_back(coin(random) ? 1.0 : 0.0);
    out.push_back(0.1 * twenty(random));
    const int c = four(random);
    for (int k = 0; k < 4; ++k) out.push_back(k == c ? 1.0 : 0.0);
    const int d = three(random);
    for (int k = 0; k < 3; ++k) out.push_back(k == d ? 1.0 : 0.0);
  };
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < 150; ++i) {
    draw(reference);
    const double* row = reference.data() + reference.size() - names.size();
    labels.push_back(row[2] + 0.5 * row[0] - 0.4 * row[4] + 0.3 * row[8] > 1.0 ? 1 : 0);
  }
  const std::vector<double> weights{0.6, 0.9, 1.0, 0.5, 0.7, 0.4, 0.8, 0.3, 0.6, 0.9};
  const KernelNeighbors model(names, reference, labels, 1.5, 0.5, 0.2, weights);
  std::vector<std::vector<double>> queries;
  for (int q = 0; q < 30; ++q) {
    std::vector<double> query;
    draw(query);
    queries.push_back(query);
  }
  queries.push_back({1.0, 0.0, 0.35, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0});  // no member
  queries.push_back({0.0, 1.0, 1.2, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0});   // two members
  for (const auto& query : queries) {
    EXPECT_NEAR(model.margin(query), plain_margin(reference, labels, weights, 1.5, 0.5, 0.2, query),
                test::kKernelMarginTolerance);
  }
}

// A category member that no reference row has is no level of its column: the category is then
// looked up column by column, and nothing left in this thread's buffers by another model (here a
// NaN from a row with a NaN value) reaches its distances.
TEST(KernelNeighborsTest, ACategoryMemberNoRowHasLeavesNothingFromEarlierCalls) {
  std::mt19937_64 random(15);
  std::uniform_int_distribution<int> twenty(0, 19);
  std::uniform_int_distribution<int> member(1, 2);  // member 0 is in no reference row
  const std::vector<std::string> names{"twenty", "constant", "c=0", "c=1", "c=2"};
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < 100; ++i) {
    reference.push_back(0.1 * twenty(random));
    reference.push_back(1.0);
    const int chosen = member(random);
    for (int k = 0; k < 3; ++k) reference.push_back(k == chosen ? 1.0 : 0.0);
    labels.push_back(reference[reference.size() - 5] + 0.5 * (chosen == 1) > 1.2 ? 1 : 0);
  }
  const std::vector<double> weights{1.0, 1.0, 0.8, 0.6, 0.7};
  const KernelNeighbors model(names, reference, labels, 1.0, 0.5, 0.1, weights);
  // Another model whose third column has two levels, given a NaN there.
  const KernelNeighbors other(names, {0, 0, 0, 0, 1, 1, 1, 1, 0, 0}, {0, 1}, 1.0, 0.5, 0.1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(other.margin(std::vector<double>{0.0, 0.0, nan, 0.0, 0.0})));
  for (const std::vector<double>& query :
       {std::vector<double>{0.7, 1.0, 0.0, 1.0, 0.0}, {1.5, 1.0, 1.0, 0.0, 0.0}}) {
    EXPECT_NEAR(model.margin(query), plain_margin(reference, labels, weights, 1.0, 0.5, 0.1, query),
                test::kKernelMarginTolerance);
  }
}

// Weights are products of per-column factors relative to the columns' smallest terms; where
// every product underflows (the row is near each column's levels, but near no reference row in all
// of them at once), they are taken from the distances relative to the nearest row instead. With a
// prior as far as the rows, the margin is then still the definition's, not the prior's 0.
TEST(KernelNeighborsTest, ARowWhoseProductsAllUnderflowIsScoredFromTheNearestRow) {
  const std::vector<double> reference{0, 0, 30, 29};
  const std::vector<std::uint8_t> labels{1, 0};
  const std::vector<double> weights{1.0, 1.0};
  const KernelNeighbors model(kColumns, reference, labels, 1.0, 0.5, 890.0, weights);
  // Distances 900 and 901, the columns' smallest terms 0 and 1: every product is e^-899 or less.
  const std::vector<double> far{0, 30};
  const double margin = model.margin(far);
  EXPECT_NE(margin, 0.0);
  EXPECT_NEAR(margin, plain_margin(reference, labels, weights, 1.0, 0.5, 890.0, far), 1e-9);
  for (const std::vector<double>& near : {std::vector<double>{15, 15}, {10, 12}}) {
    EXPECT_NEAR(model.margin(near), plain_margin(reference, labels, weights, 1.0, 0.5, 890.0, near),
                test::kKernelMarginTolerance);
  }
  expect_explained_as_defined(model, far, {15, 14.5}, test::kKernelContributionTolerance);
}

// One label's products all underflow while the other's do not: the sums cannot stand for that
// label, and the margin is taken from the nearest row instead (was -infinity); so are its
// explanations.
TEST(KernelNeighborsTest, ALabelWhoseProductsAllUnderflowIsScoredFromTheNearestRow) {
  const std::vector<double> reference{0, 22, 27, 0};
  const std::vector<std::uint8_t> labels{0, 1};
  const std::vector<double> weights{1.0, 1.0};
  const KernelNeighbors model(kColumns, reference, labels, 1.0, 0.5, 800.0, weights);
  // Distances 484 (label 0) and 729 (label 1); the columns' smallest terms are 0.
  const std::vector<double> query{0, 0};
  const double defined = plain_margin(reference, labels, weights, 1.0, 0.5, 800.0, query);
  ASSERT_NEAR(defined, -245.0, 1e-6);
  // Within the kernel exp's relative error, 1e-8 of e^-245.
  EXPECT_NEAR(model.margin(query), defined, 1e-8);
  // Occluding a column brings one label's rows near and leaves the other's weights and the
  // pseudo-votes vanishingly small against them: that occlusion is the occluded row's own margin
  // (was +-infinity).
  const std::vector<double> fast = expect_explained_as_defined(model, query, {13.5, 11}, 1e-6);
  EXPECT_TRUE(std::isfinite(fast[0]) && std::isfinite(fast[1]));
}

// A model of one label has only the pseudo-votes on the other side of its ratio: where they
// underflow from the products' offset, the margin is taken from the nearest row (was -infinity).
TEST(KernelNeighborsTest, AModelOfOneLabelWhosePseudoVotesUnderflowIsScoredFromTheNearestRow) {
  const std::vector<double> reference{0, 0, 1, 1};
  const std::vector<std::uint8_t> labels{0, 0};
  const KernelNeighbors model(kColumns, reference, labels, 1.0, 1.0, 708.5);
  const std::vector<double> query{0, 1};
  const double defined = plain_margin(reference, labels, {1.0, 1.0}, 1.0, 1.0, 708.5, query);
  ASSERT_NEAR(defined, -708.19, 0.01);
  EXPECT_NEAR(model.margin(query), defined, 1e-8 * std::abs(defined));
}

// A row far from every reference row, where the pseudo-votes dwarf every row: explained as
// before, by the occluded rows themselves, not by factors whose exponents cancel two terms of
// about 1e16 (was -0.018 against the definition's -0.693).
TEST(KernelNeighborsTest, ARowFarFromEveryReferenceRowIsExplainedAsDefined) {
  const KernelNeighbors model(kColumns, {0.3, 0}, {1}, 1.0, 1.0, 0.0, {1.7, 1.0});
  const std::vector<double> query{1e8 + 0.123456789, 0};
  const std::vector<double> fast =
      expect_explained_as_defined(model, query, {0.3, 0}, test::kKernelContributionTolerance);
  EXPECT_NEAR(fast[0], -std::log(2.0), test::kKernelContributionTolerance);
}

// A table of 17 to 32 values is looked up as 32 and must have that room, also when it is the
// last one an explanation plans (the sanitizer build reads past a shorter one).
TEST(KernelNeighborsTest, AColumnOfTwentyValuesLastIsExplainedAsDefined) {
  std::mt19937_64 random(9);
  std::uniform_int_distribution<int> twenty(0, 19);
  std::bernoulli_distribution coin(0.4);
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < 200; ++i) {
    reference.push_back(coin(random) ? 1.0 : 0.0);
    reference.push_back(0.1 * twenty(random));
    labels.push_back(reference.back() + 0.3 * reference[reference.size() - 2] > 1.0 ? 1 : 0);
  }
  std::vector<double> means(2, 0.0);
  for (std::size_t i = 0; i < reference.size(); ++i) means[i % 2] += reference[i];
  for (double& mean : means) mean /= static_cast<double>(labels.size());
  const KernelNeighbors model({"flag", "twenty"}, reference, labels, 1.0, 0.5, 0.1, {0.8, 1.0});
  for (const std::vector<double>& query :
       {std::vector<double>{1.0, 0.35}, {0.0, 1.9}, {1.0, 0.0}, {0.0, 0.8}}) {
    EXPECT_NE(
        expect_explained_as_defined(model, query, means, test::kKernelContributionTolerance)[1],
        0.0);
  }
}

// 64 rows at the query (weight 1, one per lane of a pass's sums), then 32 000 of the same label at
// weight 3e-8, below half an ulp of 1.0f: added to a lane's running total in single precision
// each was lost (the margin off by about 1e-5); each group's sum goes into a total in double.
TEST(KernelNeighborsTest, ManyFarRowsAfterNearOnesKeepTheirWeight) {
  const double far = std::sqrt(-std::log(3e-8));  // gamma 1: weight 3e-8
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  const auto add = [&](double value, std::uint8_t label, int count) {
    for (int i = 0; i < count; ++i) {
      reference.push_back(value);
      labels.push_back(label);
    }
  };
  add(0.0, 1, 64);
  add(far, 1, 32'000);
  add(0.0, 0, 64);
  const std::vector<double> weights{1.0};
  const std::vector<std::string> names{"x"};
  const KernelNeighbors model(names, reference, labels, 1.0, 0.5, 1.0, weights);
  const std::vector<double> query{0.0};
  const double defined = plain_margin(reference, labels, weights, 1.0, 0.5, 1.0, query);
  ASSERT_GT(defined, 1e-5);
  EXPECT_NEAR(model.margin(query), defined, test::kKernelMarginTolerance);
  std::vector<double> out(1);
  model.contributions(query, out);
  EXPECT_TRUE(std::isfinite(out[0]));
}

TEST(KernelNeighborsTest, TheKernelsExpIsLibmsToAHundredMillionth) {
  for (double z = -708.0; z <= 50.0; z += 0.0137) {
    EXPECT_NEAR(KernelNeighbors::kernel_exp(z) / std::exp(z), 1.0, 1e-8) << z;
  }
  EXPECT_EQ(KernelNeighbors::kernel_exp(0.0), 1.0);
  EXPECT_EQ(KernelNeighbors::kernel_exp(-708.5), 0.0);
  EXPECT_EQ(KernelNeighbors::kernel_exp(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(KernelNeighbors::kernel_exp(710.0), std::numeric_limits<double>::infinity());
}

// Columns of many values take an exp per row, columns of few a lookup per row (one-hot groups,
// a small count, a constant): both against the definition.
// `few_values`: x0 and x1 rounded to a quarter within [-3, 3] (25 values), so that every column
// has levels and distances are summed from their codes.
void expect_contributions_equal_the_occlusion_definition(bool few_values) {
  std::mt19937_64 random(3);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> category(0, 2);
  std::uniform_int_distribution<int> count(0, 9);
  std::vector<std::string> names{"x0", "x1", "n", "c=0", "c=1", "c=2", "constant"};
  std::vector<double> reference;
  std::vector<std::uint8_t> labels;
  const auto value = [&](double drawn) {
    return few_values ? 0.25 * std::round(4.0 * std::clamp(drawn, -3.0, 3.0)) : drawn;
  };
  auto draw = [&](std::vector<double>& out) {
    out.push_back(value(normal(random)));
    out.push_back(value(2.0 * normal(random)));
    out.push_back(0.3 * count(random));
    const int chosen = category(random);
    for (int c = 0; c < 3; ++c) out.push_back(c == chosen ? 1.0 : 0.0);
    out.push_back(1.0);
  };
  for (int i = 0; i < 157; ++i) {
    draw(reference);
    const double* row = reference.data() + reference.size() - names.size();
    labels.push_back(row[0] - row[3] + 0.3 * row[2] > 0.2 ? 1 : 0);
  }
  std::vector<double> means(names.size(), 0.0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (std::size_t j = 0; j < names.size(); ++j) means[j] += reference[i * names.size() + j];
  }
  for (double& mean : means) mean /= static_cast<double>(labels.size());
  const std::vector<std::size_t> group_of{0, 1, 2, 3, 3, 3, 4};
  for (const double gamma : {0.3, 3.0}) {
    const KernelNeighbors model(names, reference, labels, gamma, 0.5, 0.2,
                                {1.0, 0.7, 0.8, 0.5, 0.5, 0.5, 1.0});
    for (int q = 0; q < 40; ++q) {
      std::vector<double> query;
      draw(query);
      const std::string context = fmt::format("gamma {} query {}", gamma, q);
      // The fast path factors each weight in single precision, the definition exponentiates each
      // distance: the same up to kernel_tolerances.hpp's, not bit for bit.
      std::vector<double> fast(names.size());
      std::vector<double> defined(names.size());
      const auto explanation = model.explain(query, fast);
      EXPECT_EQ(explanation.margin, model.margin(query)) << context;
      EXPECT_NEAR(explanation.baseline, occlusion_contributions(model, query, means, defined),
                  test::kKernelBaselineTolerance)
          << context;
      for (std::size_t j = 0; j < names.size(); ++j) {
        EXPECT_NEAR(fast[j], defined[j], test::kKernelContributionTolerance)
            << context << ", column " << j;
      }
      EXPECT_EQ(fast[6], 0.0) << "a constant column is at its mean: " << context;
      std::vector<double> fast_groups(5);
      std::vector<double> defined_groups(5);
      const auto by_group = model.explain_groups(query, group_of, fast_groups);
      EXPECT_EQ(by_group.margin, explanation.margin) << context;
      EXPECT_NEAR(by_group.baseline,
                  group_occlusion_contributions(model, query, means, group_of, defined_groups),
                  test::kKernelBaselineTolerance)
          << context;
      for (std::size_t g = 0; g < 5; ++g) {
        EXPECT_NEAR(fast_groups[g], defined_groups[g], test::kKernelContributionTolerance)
            << context << ", group " << g;
      }
      // The one-hot group occluded as a whole is not the sum of its columns' occlusions.
      EXPECT_NE(fast_groups[3], fast[3] + fast[4] + fast[5]) << context;
    }
  }
}

TEST(KernelNeighborsTest, ContributionsEqualTheOcclusionDefinition) {
  expect_contributions_equal_the_occlusion_definition(false);
}

TEST(KernelNeighborsTest, ContributionsOnColumnsOfFewValuesEqualTheOcclusionDefinition) {
  expect_contributions_equal_the_occlusion_definition(true);
}

// A row far from every reference row (its weights e^-1e6 below the pseudo-votes) occluded back
// among them: no exponent overflows.
TEST(KernelNeighborsTest, AnOcclusionThatBringsEveryRowMuchCloserStaysFinite) {
  const auto model = four_rows(1.0, 0.5);
  const std::vector<double> means{1.0, 0.5};
  const std::vector<double> far{1000.0, 0.5};
  std::vector<double> out(2);
  const double baseline = model.contributions(far, out);
  EXPECT_TRUE(std::isfinite(out[0])) << out[0];
  std::vector<double> reference(2);
  const double reference_baseline = occlusion_contributions(model, far, means, reference);
  EXPECT_NEAR(out[0], reference[0], test::kKernelContributionTolerance);
  EXPECT_NEAR(baseline, reference_baseline, test::kKernelContributionTolerance);
}

TEST(KernelNeighborsTest, ContributionsOfANonFiniteRowAreTheDefinitions) {
  test::expect_non_finite_rows_take_the_definition(four_rows(0.5, 0.5), {1.0, 0.5});
}

TEST(KernelNeighborsTest, JsonLayoutAndRoundTrip) {
  const auto model = four_rows(0.5, 0.25, {1.0, 0.5});
  const json written = model.to_json();
  EXPECT_EQ(written, json::parse(R"({"type": "kernel_neighbors", "gamma": 0.5, "prior": 0.25,
      "prior_distance": 1.0, "columns": ["a", "b"], "labels": [1, 0, 1, 0], "rows": [[0, 0], [1, 0], [0, 2], [3, 0]],
      "column_weights": [1.0, 0.5]})"));
  EXPECT_FALSE(four_rows(0.5, 0.25).to_json().contains("column_weights"));
  const auto loaded = estimator_from_json(written, kColumns);
  ASSERT_EQ(loaded->type(), "kernel_neighbors");
  EXPECT_EQ(loaded->to_json(), written);
  test::expect_same_scores(*loaded, model, {{0.3, 0.1}, {2, -1}, {1, 1}});
}

TEST(KernelNeighborsTest, InvalidFilesAreRejectedNamingThePath) {
  const json valid = four_rows(0.5, 0.25, {1.0, 0.5}).to_json();
  auto broken = [&valid](const std::function<void(json&)>& mutate) {
    json copy = valid;
    mutate(copy);
    return from_json_error(copy);
  };
  EXPECT_THAT(broken([](json& e) { e["gamma"] = 0; }), HasSubstr("estimator.gamma:"));
  EXPECT_THAT(broken([](json& e) { e["prior"] = -1; }), HasSubstr("estimator.prior:"));
  EXPECT_THAT(broken([](json& e) { e.erase("prior"); }), HasSubstr("estimator.prior: is required"));
  EXPECT_THAT(broken([](json& e) { e["prior_distance"] = -0.5; }),
              HasSubstr("estimator.prior_distance:"));
  EXPECT_THAT(broken([](json& e) { e.erase("prior_distance"); }),
              HasSubstr("estimator.prior_distance: is required"));
  EXPECT_THAT(broken([](json& e) { e["columns"][0] = "b"; }), HasSubstr("estimator.columns[0]:"));
  EXPECT_THAT(broken([](json& e) { e["labels"].push_back(1); }), HasSubstr("estimator.labels:"));
  EXPECT_THAT(broken([](json& e) { e["labels"][2] = 2; }), HasSubstr("estimator.labels[2]:"));
  EXPECT_THAT(broken([](json& e) { e["rows"][1][1] = "0"; }), HasSubstr("estimator.rows[1][1]:"));
  EXPECT_THAT(broken([](json& e) {
                e["rows"] = json::array();
                e["labels"] = json::array();
              }),
              HasSubstr("estimator.rows:"));
  EXPECT_THAT(broken([](json& e) {
                e["column_weights"] = {0.0, 0.0};
              }),
              HasSubstr("estimator.column_weights:"));
  EXPECT_THAT(broken([](json& e) { e["column_weights"][1] = -1; }),
              HasSubstr("estimator.column_weights[1]:"));
  EXPECT_THAT(broken([](json& e) { e["k"] = 5; }), HasSubstr("estimator.k: unknown key"));
}

TEST(KernelNeighborsTest, ConstructorRejectsInconsistentData) {
  const auto make = [](std::vector<double> rows, std::vector<std::uint8_t> labels, double gamma,
                       double prior, double prior_distance, std::vector<double> weights) {
    return KernelNeighbors(kColumns, std::move(rows), std::move(labels), gamma, prior,
                           prior_distance, std::move(weights));
  };
  EXPECT_THROW(make({0, 0, 1}, {1, 0}, 0.5, 0.5, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({}, {}, 0.5, 0.5, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {2}, 0.5, 0.5, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.0, 0.5, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.0, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.5, -1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.5, NAN, {}), std::invalid_argument);
  EXPECT_THROW(make({0, NAN}, {1}, 0.5, 0.5, 1.0, {}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.5, 1.0, {1.0}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.5, 1.0, {0.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(make({0, 0}, {1}, 0.5, 0.5, 1.0, {1.0, -1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::models
