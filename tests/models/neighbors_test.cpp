// NearestNeighbors: margins computed by hand on a five-row reference set (uniform and distance
// weighting, ties between equally distant rows), column weights, occlusion contributions (by
// hand, and the fast contributions() against occlusion_contributions() on random data full of
// ties, with and without column weights), the model-file layout and its validation.
#include "nbo/models/neighbors.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nbo/models/estimator.hpp"
#include "occlusion_checks.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using Weighting = NearestNeighbors::Weighting;

const std::vector<std::string> kColumns = {"a", "b"};

// Reference rows (a, b) -> label:
//   0: (0, 0) -> 1    1: (1, 0) -> 0    2: (0, 2) -> 1    3: (3, 0) -> 0    4: (0, -3) -> 1
// Column means: a = 0.8, b = -0.2.
NearestNeighbors five_rows(int k, Weighting weighting) {
  return NearestNeighbors(kColumns, {0, 0, 1, 0, 0, 2, 3, 0, 0, -3}, {1, 0, 1, 0, 1}, k, weighting);
}

// logit of the shrunk vote share: log((k s + 0.5) / (k (1 - s) + 0.5)).
double shrunk_logit(double k, double positive_weight, double negative_weight) {
  const double s = positive_weight / (positive_weight + negative_weight);
  return std::log((k * s + 0.5) / (k * (1.0 - s) + 0.5));
}

std::string from_json_error(const json& estimator) {
  try {
    NearestNeighbors::from_json(estimator, kColumns);
    ADD_FAILURE() << "accepted " << estimator.dump();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

TEST(NearestNeighborsTest, UniformMarginIsTheShrunkLogitOfTheVote) {
  // From (0, 0) the distances are 0, 1, 2, 3, 3.
  const std::vector<double> origin = {0.0, 0.0};
  // k = 1: row 0 (label 1): p = 1.5 / 2.
  EXPECT_DOUBLE_EQ(five_rows(1, Weighting::kUniform).margin(origin), std::log(1.5 / 0.5));
  // k = 3: rows 0, 1, 2: two positives, one negative.
  EXPECT_DOUBLE_EQ(five_rows(3, Weighting::kUniform).margin(origin), std::log(2.5 / 1.5));
  // k = 5: all rows, three positives.
  EXPECT_DOUBLE_EQ(five_rows(5, Weighting::kUniform).margin(origin), std::log(3.5 / 2.5));
  // From (2.6, 0): row 3 (label 0) at 0.4 is nearest, then row 1 at 1.6.
  EXPECT_DOUBLE_EQ(five_rows(2, Weighting::kUniform).margin(std::vector<double>{2.6, 0.0}),
                   std::log(0.5 / 2.5));
}

TEST(NearestNeighborsTest, EquallyDistantRowsGoToTheLowerIndex) {
  // k = 4 from (0, 0): rows 3 (label 0) and 4 (label 1) are both at distance 3; row 3 is taken,
  // giving two positives and two negatives (row 4 would give three positives).
  EXPECT_DOUBLE_EQ(five_rows(4, Weighting::kUniform).margin(std::vector<double>{0.0, 0.0}), 0.0);

  // Across blocks of rows: 600 identical rows, the first 300 labelled 0; the 5 lowest indices
  // win, so the vote is 0 of 5 whatever the scan order.
  std::vector<double> rows(600 * 2, 1.0);
  std::vector<std::uint8_t> labels(600, 0);
  for (std::size_t i = 300; i < 600; ++i) labels[i] = 1;
  const NearestNeighbors model(kColumns, rows, labels, 5, Weighting::kUniform);
  EXPECT_DOUBLE_EQ(model.margin(std::vector<double>{0.0, 0.0}), std::log(0.5 / 5.5));
  // Reversed labels: the 5 lowest indices are now positive.
  for (auto& label : labels) label = label == 0 ? 1 : 0;
  const NearestNeighbors reversed(kColumns, rows, labels, 5, Weighting::kUniform);
  EXPECT_DOUBLE_EQ(reversed.margin(std::vector<double>{0.0, 0.0}), std::log(5.5 / 0.5));
}

TEST(NearestNeighborsTest, DistanceWeightingUsesInverseDistances) {
  // From (0.25, 0) with k = 3: row 0 at 0.25 (label 1), row 1 at 0.75 (label 0), row 2 at
  // sqrt(4.0625) (label 1).
  const double positive = 1.0 / 0.25 + 1.0 / std::sqrt(4.0625);
  const double negative = 1.0 / 0.75;
  EXPECT_NEAR(five_rows(3, Weighting::kDistance).margin(std::vector<double>{0.25, 0.0}),
              shrunk_logit(3, positive, negative), 1e-12);
  // A query on a reference row: that row's weight is 1 / 1e-9, not infinite.
  const double margin = five_rows(3, Weighting::kDistance).margin(std::vector<double>{0.0, 0.0});
  EXPECT_TRUE(std::isfinite(margin));
  EXPECT_NEAR(margin, shrunk_logit(3, 1e9 + 0.5, 1.0), 1e-12);
  // Uniform weighting of the same neighbours differs.
  EXPECT_DOUBLE_EQ(five_rows(3, Weighting::kUniform).margin(std::vector<double>{0.25, 0.0}),
                   std::log(2.5 / 1.5));
}

TEST(NearestNeighborsTest, BlockedDistancesMatchAPlainScan) {
  // 700 pseudo-random rows (three blocks of distances); the margin equals a direct
  // implementation of the documented rule, bit for bit.
  const std::size_t rows = 700;
  const std::size_t cols = 5;
  std::vector<double> reference(rows * cols);
  std::vector<std::uint8_t> labels(rows);
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (auto& value : reference) value = 4.0 * next() - 2.0;
  for (auto& label : labels) label = next() < 0.4 ? 1 : 0;
  const std::vector<std::string> names = {"c0", "c1", "c2", "c3", "c4"};
  const NearestNeighbors model(names, reference, labels, 9, Weighting::kDistance);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> query(cols);
    for (auto& value : query) value = 4.0 * next() - 2.0;
    std::vector<std::pair<double, std::size_t>> all;
    for (std::size_t i = 0; i < rows; ++i) {
      double d2 = 0.0;
      for (std::size_t j = 0; j < cols; ++j) {
        const double diff = query[j] - reference[i * cols + j];
        d2 += diff * diff;
      }
      all.emplace_back(d2, i);
    }
    std::sort(all.begin(), all.end());
    double positive = 0.0;
    double negative = 0.0;
    for (std::size_t n = 0; n < 9; ++n) {
      const double weight = 1.0 / std::max(std::sqrt(all[n].first), 1e-9);
      (labels[all[n].second] != 0 ? positive : negative) += weight;
    }
    const double total = positive + negative;
    EXPECT_EQ(model.margin(query),
              std::log((9.0 * (positive / total) + 0.5) / (9.0 * (negative / total) + 0.5)));
  }
}

TEST(NearestNeighborsTest, ColumnWeightsScaleTheDistance) {
  // Weights (2, 0.5) give the same neighbours, distances and margins as the rows and the query
  // multiplied by them, and a column of weight 0 is ignored.
  const std::vector<double> rows = {0, 0, 1, 0, 0, 2, 3, 0, 0, -3};
  const std::vector<std::uint8_t> labels = {1, 0, 1, 0, 1};
  const NearestNeighbors weighted(kColumns, rows, labels, 3, Weighting::kDistance, {2.0, 0.5});
  std::vector<double> scaled_rows = rows;
  for (std::size_t i = 0; i < scaled_rows.size(); ++i) scaled_rows[i] *= i % 2 == 0 ? 2.0 : 0.5;
  const NearestNeighbors scaled(kColumns, scaled_rows, labels, 3, Weighting::kDistance);
  const NearestNeighbors plain(kColumns, rows, labels, 3, Weighting::kDistance);
  bool any_differs_from_plain = false;
  for (const auto& query : std::vector<std::vector<double>>{
           {0.3, -1.0}, {2.0, 1.5}, {-1, 0}, {0.6, 1.1}, {1.4, -2.0}}) {
    const double margin = weighted.margin(query);
    EXPECT_DOUBLE_EQ(margin, scaled.margin(std::vector<double>{2.0 * query[0], 0.5 * query[1]}));
    any_differs_from_plain = any_differs_from_plain || margin != plain.margin(query);
  }
  EXPECT_TRUE(any_differs_from_plain);

  const NearestNeighbors only_a(kColumns, rows, labels, 1, Weighting::kUniform, {1.0, 0.0});
  // (0.9, 2): by a alone the nearest is row 1 (a = 1, label 0); by both it would be row 2.
  EXPECT_DOUBLE_EQ(only_a.margin(std::vector<double>{0.9, 2.0}), std::log(0.5 / 1.5));
  EXPECT_DOUBLE_EQ(only_a.margin(std::vector<double>{0.9, -100.0}), std::log(0.5 / 1.5));
  std::vector<double> out(2);
  only_a.contributions(std::vector<double>{0.9, 2.0}, out);
  EXPECT_EQ(out[1], 0.0);
}

TEST(NearestNeighborsTest, ContributionsAreOcclusionAgainstTheReferenceMeans) {
  const NearestNeighbors model = five_rows(1, Weighting::kUniform);
  // (0.4, 0): nearest row 0 (label 1), margin log 3. With a at its mean 0.8 the nearest is row 1
  // (label 0), margin -log 3; with b at its mean -0.2 the nearest is still row 0.
  const std::vector<double> row = {0.4, 0.0};
  std::vector<double> out(2, -99.0);
  const double baseline = model.contributions(row, out);
  EXPECT_DOUBLE_EQ(out[0], 2.0 * std::log(3.0));
  EXPECT_DOUBLE_EQ(out[1], 0.0);
  EXPECT_DOUBLE_EQ(baseline, -std::log(3.0));
  EXPECT_DOUBLE_EQ(baseline + out[0] + out[1], model.margin(row));

  const NearestNeighbors weighted = five_rows(3, Weighting::kDistance);
  for (const auto& query : std::vector<std::vector<double>>{{0.3, -1.0}, {2.0, 1.5}, {-1, 0}}) {
    const double full = weighted.margin(query);
    const double base = weighted.contributions(query, out);
    EXPECT_NEAR(base + out[0] + out[1], full, 1e-12);
    // The occluded row's neighbours are margin()'s; their distances, and so the vote weights,
    // come from the one pass's estimates, a few ulps from margin()'s own.
    EXPECT_NEAR(out[0], full - weighted.margin(std::vector<double>{0.8, query[1]}), 1e-12);
    EXPECT_NEAR(out[1], full - weighted.margin(std::vector<double>{query[0], -0.2}), 1e-12);
  }
}

// Pseudo-random reference sets for comparing contributions() with the definition.
class RandomReference {
 public:
  explicit RandomReference(std::uint64_t seed) : state_(seed) {}

  double uniform() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state_ >> 11) * 0x1.0p-53;
  }
  // A value on a coarse grid (-2, -1.5, ..., 2), so that distances tie exactly, or a continuous
  // one, whose incremental and from-scratch distances differ in the last bits.
  double value(bool on_grid) {
    return on_grid ? 0.5 * std::floor(9.0 * uniform()) - 2.0 : 4.0 * uniform() - 2.0;
  }
  std::size_t below(std::size_t bound) {
    return static_cast<std::size_t>(uniform() * static_cast<double>(bound));
  }

 private:
  std::uint64_t state_;
};

// Column means computed as the constructor does, so a query can hold a column at its mean.
std::vector<double> column_means(const std::vector<double>& rows, std::size_t columns) {
  std::vector<double> means(columns, 0.0);
  const std::size_t count = rows.size() / columns;
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < columns; ++j) means[j] += rows[i * columns + j];
  }
  for (double& mean : means) mean /= static_cast<double>(count);
  return means;
}

// contributions() and occlusion_contributions() agree on every column and on the baseline.
TEST(NearestNeighborsTest, ContributionsEqualTheOcclusionDefinition) {
  const std::size_t columns = 6;
  const std::vector<std::string> names = {"c0", "c1", "c2", "c3", "c4", "c5"};
  for (const std::uint64_t seed : {1u, 2u, 3u, 4u}) {
    for (const bool on_grid : {true, false}) {
      RandomReference random(seed);
      // 300 rows (two blocks of distances), the last 60 copies of earlier ones; column 5 is 0/1
      // like a one-hot column.
      const std::size_t rows = 300;
      std::vector<double> reference;
      for (std::size_t i = 0; i < rows - 60; ++i) {
        for (std::size_t j = 0; j + 1 < columns; ++j) reference.push_back(random.value(on_grid));
        reference.push_back(random.uniform() < 0.3 ? 1.0 : 0.0);
      }
      for (std::size_t i = rows - 60; i < rows; ++i) {
        const std::size_t copied = random.below(rows - 60);
        for (std::size_t j = 0; j < columns; ++j) {
          reference.push_back(reference[copied * columns + j]);
        }
      }
      std::vector<std::uint8_t> labels(rows);
      for (auto& label : labels) label = random.uniform() < 0.4 ? 1 : 0;
      const std::vector<double> means = column_means(reference, columns);

      std::vector<std::vector<double>> queries;
      for (int q = 0; q < 12; ++q) {
        std::vector<double> query;
        for (std::size_t j = 0; j + 1 < columns; ++j) query.push_back(random.value(on_grid));
        query.push_back(random.uniform() < 0.5 ? 1.0 : 0.0);
        queries.push_back(query);
      }
      // On a reference row (distance 0, and to its copies), and with columns at their means.
      const std::size_t on_row = rows - 1;
      queries.emplace_back(
          reference.begin() + static_cast<std::ptrdiff_t>(on_row * columns),
          reference.begin() + static_cast<std::ptrdiff_t>(on_row * columns + columns));
      std::vector<double> at_means = queries.front();
      at_means[1] = means[1];
      at_means[4] = means[4];
      queries.push_back(at_means);

      // Column weights as the trainer sets them: unequal, one of them 0.
      const std::vector<std::vector<double>> column_weightings = {
          {}, {0.35, 1.0, 0.0, 0.8, 0.125, 0.6}};
      for (const auto& column_weights : column_weightings) {
        for (const Weighting weighting : {Weighting::kUniform, Weighting::kDistance}) {
          for (const int k : {1, 4, 25, static_cast<int>(rows)}) {
            const NearestNeighbors model(names, reference, labels, k, weighting, column_weights);
            for (std::size_t q = 0; q < queries.size(); ++q) {
              const std::string context = fmt::format(
                  "seed {}, {}, k {}, {}, {}, query {}", seed, on_grid ? "grid" : "continuous", k,
                  weighting == Weighting::kUniform ? "uniform" : "distance",
                  column_weights.empty() ? "unweighted" : "weighted", q);
              test::expect_occlusion_values(model, means, queries[q], context);
              // Groups of one, two and three columns, as a pipeline's fields make them.
              test::expect_group_occlusion_values(model, means, queries[q], {0, 1, 1, 2, 2, 2}, 3,
                                                  context + ", groups");
            }
          }
        }
      }
    }
  }
}

TEST(NearestNeighborsTest, ContributionsOfEquidistantRowsFollowTheLowerIndex) {
  // Rows at the same distance from (0, 0) and from every occluded query: (1, 0) labelled 0 and
  // (0, 1), (-1, 0), (0, -1) labelled 1, each twice, in two orders of the labels. Occluding a
  // column moves the query onto the mean and changes which of them tie.
  const std::vector<double> rows = {1, 0, 0, 1, -1, 0, 0, -1, 1, 0, 0, 1, -1, 0, 0, -1};
  const std::vector<double> means = column_means(rows, 2);
  for (const std::vector<std::uint8_t>& labels :
       {std::vector<std::uint8_t>{0, 1, 1, 1, 0, 1, 1, 1},
        std::vector<std::uint8_t>{1, 1, 1, 0, 1, 1, 1, 0}}) {
    for (const int k : {1, 2, 3, 5}) {
      for (const Weighting weighting : {Weighting::kUniform, Weighting::kDistance}) {
        const NearestNeighbors model(kColumns, rows, labels, k, weighting);
        for (const auto& query : std::vector<std::vector<double>>{
                 {0, 0}, {0.5, 0}, {0, 0.5}, {1, 1}, {-1, 0.5}, {0.25, -0.25}}) {
          test::expect_occlusion_values(model, means, query, fmt::format("k {}", k));
          test::expect_group_occlusion_values(model, means, query, {0, 0}, 1,
                                              fmt::format("k {}, one group", k));
        }
      }
    }
  }
}

TEST(NearestNeighborsTest, ContributionsOfANonFiniteRowAreTheDefinitions) {
  test::expect_non_finite_rows_take_the_definition(five_rows(3, Weighting::kDistance), {0.8, -0.2});
  // A group holding the non-finite column is occluded by the definition too.
  const auto model = five_rows(3, Weighting::kDistance);
  for (const auto& query : std::vector<std::vector<double>>{
           {std::numeric_limits<double>::infinity(), 0.0}, {0.5, 1.0}}) {
    std::vector<double> fast(1);
    std::vector<double> reference(1);
    const std::vector<std::size_t> one_group{0, 0};
    model.explain_groups(query, one_group, fast);
    group_occlusion_contributions(model, query, std::vector<double>{0.8, -0.2}, one_group,
                                  reference);
    if (std::isfinite(query[0])) {
      EXPECT_NEAR(fast[0], reference[0], 1e-12) << query[0];
    } else {
      EXPECT_EQ(std::memcmp(fast.data(), reference.data(), sizeof(double)), 0) << query[0];
    }
  }
}

TEST(NearestNeighborsTest, AGroupIsOccludedAsAWholeNotAsTheSumOfItsColumns) {
  // Reference rows (a, b): occluding a and b together lands on the mean (0.8, -0.2), whose
  // nearest row is (1, 0) labelled 0; occluding each alone lands elsewhere.
  const auto model = five_rows(1, Weighting::kUniform);
  const std::vector<double> query{0.0, 2.0};  // on row 2, labelled 1
  std::vector<double> columns(2);
  model.explain(query, columns);
  std::vector<double> grouped(1);
  const auto explanation = model.explain_groups(query, std::vector<std::size_t>{0, 0}, grouped);
  const double occluded = model.margin(std::vector<double>{0.8, -0.2});
  EXPECT_EQ(grouped[0], explanation.margin - occluded);
  EXPECT_NE(grouped[0], columns[0] + columns[1]);
  EXPECT_DOUBLE_EQ(explanation.baseline, occluded);
}

TEST(NearestNeighborsTest, JsonLayoutAndRoundTrip) {
  const NearestNeighbors model = five_rows(3, Weighting::kDistance);
  const json written = model.to_json();
  EXPECT_EQ(written, json::parse(R"({"type": "k_nearest_neighbors", "k": 3,
      "weighting": "distance", "columns": ["a", "b"], "labels": [1, 0, 1, 0, 1],
      "rows": [[0, 0], [1, 0], [0, 2], [3, 0], [0, -3]]})"));
  const auto loaded = estimator_from_json(written, kColumns);
  ASSERT_EQ(loaded->type(), "k_nearest_neighbors");
  EXPECT_EQ(loaded->to_json(), written);
  for (const auto& query : std::vector<std::vector<double>>{{0.25, 0}, {2, 2}, {-1, -4}}) {
    EXPECT_EQ(loaded->margin(query), model.margin(query));
  }
  const auto uniform =
      NearestNeighbors::from_json(five_rows(2, Weighting::kUniform).to_json(), kColumns);
  EXPECT_EQ(uniform->k(), 2);
  EXPECT_EQ(uniform->weighting(), Weighting::kUniform);
  EXPECT_EQ(uniform->to_json()["weighting"], "uniform");

  // Weights other than all 1 are written and read back; a file without them means all 1.
  const NearestNeighbors weighted(kColumns, {0, 0, 1, 0, 0, 2, 3, 0, 0, -3}, {1, 0, 1, 0, 1}, 3,
                                  Weighting::kDistance, {0.25, 1.0});
  const json weighted_json = weighted.to_json();
  EXPECT_EQ(weighted_json.at("column_weights"), json::parse("[0.25, 1.0]"));
  const auto weighted_loaded = NearestNeighbors::from_json(weighted_json, kColumns);
  EXPECT_EQ(weighted_loaded->column_weights(), (std::vector<double>{0.25, 1.0}));
  EXPECT_EQ(weighted_loaded->margin(std::vector<double>{2, 1}),
            weighted.margin(std::vector<double>{2, 1}));
  EXPECT_FALSE(written.contains("column_weights"));
  EXPECT_EQ(loaded->to_json(), written);
  EXPECT_EQ(NearestNeighbors::from_json(written, kColumns)->column_weights(),
            (std::vector<double>{1.0, 1.0}));
}

TEST(NearestNeighborsTest, InvalidFilesAreRejectedNamingThePath) {
  const json valid = five_rows(3, Weighting::kUniform).to_json();
  auto broken = [&valid](const std::function<void(json&)>& mutate) {
    json copy = valid;
    mutate(copy);
    return from_json_error(copy);
  };
  EXPECT_THAT(broken([](json& e) { e["k"] = 0; }), HasSubstr("estimator.k:"));
  EXPECT_THAT(broken([](json& e) { e["k"] = 1.5; }), HasSubstr("estimator.k:"));
  EXPECT_THAT(broken([](json& e) { e["k"] = 6; }), HasSubstr("estimator.k:"));
  EXPECT_THAT(broken([](json& e) { e.erase("k"); }), HasSubstr("estimator.k: is required"));
  EXPECT_THAT(broken([](json& e) { e["weighting"] = "cosine"; }),
              HasSubstr("estimator.weighting:"));
  EXPECT_THAT(broken([](json& e) { e["columns"][1] = "z"; }), HasSubstr("estimator.columns[1]:"));
  EXPECT_THAT(broken([](json& e) { e["columns"].erase(1); }), HasSubstr("estimator.columns:"));
  EXPECT_THAT(broken([](json& e) { e["labels"][2] = 2; }), HasSubstr("estimator.labels[2]:"));
  EXPECT_THAT(broken([](json& e) { e["labels"].erase(0); }), HasSubstr("estimator.labels:"));
  EXPECT_THAT(broken([](json& e) { e["rows"][1][0] = "x"; }), HasSubstr("estimator.rows[1][0]:"));
  EXPECT_THAT(broken([](json& e) { e["rows"][4] = {1.0}; }), HasSubstr("estimator.rows[4]:"));
  EXPECT_THAT(broken([](json& e) { e["rows"] = 3; }), HasSubstr("estimator.rows:"));
  EXPECT_THAT(broken([](json& e) { e["column_weights"] = {1.0}; }),
              HasSubstr("estimator.column_weights:"));
  EXPECT_THAT(broken([](json& e) {
                e["column_weights"] = {1.0, -0.5};
              }),
              HasSubstr("estimator.column_weights[1]:"));
  EXPECT_THAT(broken([](json& e) {
                e["column_weights"] = {"1", 1.0};
              }),
              HasSubstr("estimator.column_weights[0]:"));
  EXPECT_THAT(broken([](json& e) { e["column_weights"] = {0.0, 0.0}; }), HasSubstr("all 0"));
  // A misspelt optional key is refused, not read as "all weights 1".
  EXPECT_THAT(broken([](json& e) {
                e["column_weight"] = {1.0, 0.5};
              }),
              HasSubstr("estimator.column_weight: unknown key (allowed: \"type\", \"k\","));
  // Through the model-file dispatch, and other columns than the pipeline's.
  EXPECT_THROW(estimator_from_json(valid, {"a", "c"}), std::invalid_argument);
}

TEST(NearestNeighborsTest, ConstructorRejectsInconsistentData) {
  const std::vector<double> rows = {0, 0, 1, 1};
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 0, Weighting::kUniform),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 3, Weighting::kUniform),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1, 1}, 1, Weighting::kUniform),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 2}, 1, Weighting::kUniform),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, {0, 0, 1, NAN}, {0, 1}, 1, Weighting::kUniform),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 1, Weighting::kUniform, {1.0}),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 1, Weighting::kUniform, {1.0, NAN}),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 1, Weighting::kUniform, {-1.0, 1.0}),
               std::invalid_argument);
  EXPECT_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 1, Weighting::kUniform, {0.0, 0.0}),
               std::invalid_argument);
  EXPECT_NO_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 2, Weighting::kDistance));
  EXPECT_NO_THROW(NearestNeighbors(kColumns, rows, {0, 1}, 2, Weighting::kDistance, {0.0, 3.0}));
}

}  // namespace
}  // namespace nbo::models
