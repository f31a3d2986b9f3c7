// Estimator::margins(): per family, the batch gives bit for bit what margin() gives per row, on
// 67 rows (a full block of 64 and a remainder), on a block boundary and on no rows; a batch of
// the wrong shape is refused. Tree ensembles are checked in both batch layouts (complete trees
// up to TreeEnsemble::kCompleteMaxDepth, the node walk beyond it) and on NaN and infinite values.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "nbo/models/ensemble.hpp"
#include "nbo/models/estimator.hpp"
#include "nbo/models/neighbors.hpp"
#include "nbo/models/support_vector.hpp"
#include "nbo/models/tree_ensemble.hpp"

namespace nbo::models {
namespace {

constexpr std::size_t kColumns = 9;

// Uniform in [0, 1) from the raw generator output (std distributions are implementation-defined).
double uniform(std::mt19937_64& generator) {
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

std::vector<std::string> column_names() {
  std::vector<std::string> names;
  for (std::size_t j = 0; j < kColumns; ++j) names.push_back(fmt::format("c{}", j));
  return names;
}

// Row-major rows shaped like a pipeline's: standardized numbers in the first six columns (some
// exactly on the trees' thresholds), a 3-level one-hot group in the last three.
std::vector<double> model_rows(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<double> rows;
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < 6; ++j) {
      const double value = 4.0 * uniform(generator) - 2.0;
      rows.push_back(i % 7 == 3 ? std::round(value * 2.0) / 2.0 : value);
    }
    const std::size_t level = generator() % 3;
    for (std::size_t l = 0; l < 3; ++l) rows.push_back(l == level ? 1.0 : 0.0);
  }
  return rows;
}

std::vector<std::uint8_t> random_labels(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::vector<std::uint8_t> labels(count);
  for (auto& label : labels) label = generator() % 3 == 0 ? 1 : 0;
  return labels;
}

std::unique_ptr<const Estimator> linear() {
  std::mt19937_64 generator(3);
  std::vector<double> weights(kColumns);
  for (double& weight : weights) weight = 2.0 * uniform(generator) - 1.0;
  return std::make_unique<LogisticRegression>(column_names(), std::move(weights), -0.3);
}

// A random tree of the given depth over every column, thresholds on a half-unit grid (so some
// rows fall exactly on them and go right).
Tree random_tree(std::mt19937_64& generator, int depth) {
  Tree tree;
  std::vector<std::pair<std::size_t, int>> open{{0, 0}};
  tree.nodes.emplace_back();
  for (std::size_t next = 0; next < open.size(); ++next) {
    const auto [index, level] = open[next];
    if (level == depth || (level > 1 && generator() % 4 == 0)) {
      tree.nodes[index].value = uniform(generator) - 0.5;
      tree.nodes[index].cover = 1.0 + uniform(generator);
      continue;
    }
    const auto left = static_cast<std::int32_t>(tree.nodes.size());
    tree.nodes[index].left = left;
    tree.nodes[index].right = left + 1;
    tree.nodes[index].feature = static_cast<std::int32_t>(generator() % kColumns);
    tree.nodes[index].threshold = static_cast<float>(generator() % 9) * 0.5f - 2.0f;
    tree.nodes[index].cover = 4.0;
    tree.nodes.emplace_back();
    tree.nodes.emplace_back();
    open.push_back({static_cast<std::size_t>(left), level + 1});
    open.push_back({static_cast<std::size_t>(left) + 1, level + 1});
  }
  return tree;
}

// Trees of depths 1..max_depth, some leaves above the bottom level.
std::unique_ptr<const Estimator> trees(int max_depth = 6) {
  std::mt19937_64 generator(5);
  std::vector<Tree> forest;
  for (int t = 0; t < 40; ++t) forest.push_back(random_tree(generator, 1 + t % max_depth));
  return std::make_unique<TreeEnsemble>(column_names(), std::move(forest), -0.7,
                                        "gradient_boosting");
}

std::unique_ptr<const Estimator> neighbours(NearestNeighbors::Weighting weighting) {
  std::vector<double> weights(kColumns, 1.0);
  weights[2] = 0.5;
  weights[7] = 0.0;
  return std::make_unique<NearestNeighbors>(column_names(), model_rows(150, 7),
                                            random_labels(150, 8), 11, weighting, weights);
}

std::unique_ptr<const Estimator> kernel() {
  std::mt19937_64 generator(9);
  std::vector<double> coefficients(40);
  for (double& coefficient : coefficients) coefficient = 2.0 * uniform(generator) - 1.0;
  return std::make_unique<SupportVectorClassifier>(column_names(), model_rows(40, 10),
                                                   std::move(coefficients), 0.2, 0.15,
                                                   std::vector<double>(kColumns, 0.1));
}

std::unique_ptr<const Estimator> ensemble() {
  std::vector<EnsembleMember> members;
  members.push_back({"logistic", 0.3, 1.2, -0.1, linear()});
  members.push_back({"trees", 0.5, 0.8, 0.2, trees()});
  members.push_back({"knn", 0.2, 1.1, 0.05, neighbours(NearestNeighbors::Weighting::kDistance)});
  return std::make_unique<Ensemble>(column_names(), std::move(members));
}

// Bit for bit: equal doubles of another sign of zero or NaN payload would still differ.
void expect_batch_equals_per_row(const Estimator& estimator, std::size_t count) {
  SCOPED_TRACE(fmt::format("{}, {} rows", estimator.type(), count));
  const std::vector<double> rows = model_rows(count, 100 + count);
  std::vector<double> batch(count, -1.0);
  estimator.margins(rows, batch);
  for (std::size_t i = 0; i < count; ++i) {
    const double single =
        estimator.margin(std::span<const double>(rows.data() + i * kColumns, kColumns));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(batch[i]), std::bit_cast<std::uint64_t>(single))
        << "row " << i << ": batch " << batch[i] << ", per row " << single;
  }
}

void expect_all_batch_sizes(const Estimator& estimator) {
  for (const std::size_t count : {67u, 64u, 1u, 0u, 300u}) {
    expect_batch_equals_per_row(estimator, count);
  }
}

TEST(BatchMarginsTest, LogisticRegressionMatchesMarginBitForBit) {
  expect_all_batch_sizes(*linear());
}

TEST(BatchMarginsTest, TreeEnsembleMatchesMarginBitForBit) {
  expect_all_batch_sizes(*trees());
}

// The node walk written out from trees(): the reference both layouts must reproduce.
double walk_nodes(const TreeEnsemble& ensemble, std::span<const double> row) {
  double sum = ensemble.base_margin();
  for (const Tree& tree : ensemble.trees()) {
    std::size_t index = 0;
    while (tree.nodes[index].left >= 0) {
      const TreeNode& node = tree.nodes[index];
      index = static_cast<std::size_t>(
          static_cast<float>(row[static_cast<std::size_t>(node.feature)]) < node.threshold
              ? node.left
              : node.right);
    }
    sum += tree.nodes[index].value;
  }
  return sum;
}

TEST(BatchMarginsTest, TreeEnsembleLayoutsGiveTheNodeWalksMarginBitForBit) {
  for (const int depth : {1, 3, 6, static_cast<int>(TreeEnsemble::kCompleteMaxDepth),
                          static_cast<int>(TreeEnsemble::kCompleteMaxDepth) + 2}) {
    const auto estimator = trees(depth);
    const auto& ensemble = dynamic_cast<const TreeEnsemble&>(*estimator);
    std::vector<double> rows = model_rows(130, 21);
    rows[3] = std::numeric_limits<double>::quiet_NaN();
    rows[kColumns + 4] = std::numeric_limits<double>::infinity();
    std::vector<double> batch(130);
    estimator->margins(rows, batch);
    for (std::size_t i = 0; i < 130; ++i) {
      const std::span<const double> row(rows.data() + i * kColumns, kColumns);
      const double expected = walk_nodes(ensemble, row);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(estimator->margin(row)),
                std::bit_cast<std::uint64_t>(expected))
          << "depth " << depth << ", row " << i << " (margin)";
      EXPECT_EQ(std::bit_cast<std::uint64_t>(batch[i]), std::bit_cast<std::uint64_t>(expected))
          << "depth " << depth << ", row " << i << " (margins)";
    }
  }
}

TEST(BatchMarginsTest, TreeEnsembleDeeperThanTheCompleteLayoutMatchesMarginBitForBit) {
  expect_all_batch_sizes(*trees(static_cast<int>(TreeEnsemble::kCompleteMaxDepth) + 2));
}

TEST(BatchMarginsTest, TreeEnsembleSendsNanAndInfinityTheSameWayInTheBatch) {
  for (const int depth : {6, static_cast<int>(TreeEnsemble::kCompleteMaxDepth) + 2}) {
    const auto estimator = trees(depth);
    std::vector<double> rows = model_rows(70, 11);
    for (std::size_t i = 0; i < rows.size(); i += 5) {
      rows[i] = i % 3 == 0   ? std::numeric_limits<double>::quiet_NaN()
                : i % 3 == 1 ? std::numeric_limits<double>::infinity()
                             : -std::numeric_limits<double>::infinity();
    }
    std::vector<double> batch(70);
    estimator->margins(rows, batch);
    for (std::size_t i = 0; i < 70; ++i) {
      const double single =
          estimator->margin(std::span<const double>(rows.data() + i * kColumns, kColumns));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(batch[i]), std::bit_cast<std::uint64_t>(single))
          << "depth " << depth << ", row " << i;
    }
  }
}

TEST(BatchMarginsTest, NearestNeighborsMatchesMarginBitForBit) {
  expect_all_batch_sizes(*neighbours(NearestNeighbors::Weighting::kUniform));
  expect_all_batch_sizes(*neighbours(NearestNeighbors::Weighting::kDistance));
}

TEST(BatchMarginsTest, SupportVectorClassifierMatchesMarginBitForBit) {
  expect_all_batch_sizes(*kernel());
}

TEST(BatchMarginsTest, EnsembleMatchesMarginBitForBit) {
  expect_all_batch_sizes(*ensemble());
}

TEST(BatchMarginsTest, RefusesABatchOfTheWrongShape) {
  const auto estimator = trees();
  const std::vector<double> rows = model_rows(3, 1);
  std::vector<double> out(4);
  EXPECT_THROW(estimator->margins(rows, out), std::invalid_argument);
  std::vector<double> short_rows(rows.begin(), rows.end() - 1);
  out.resize(3);
  EXPECT_THROW(estimator->margins(short_rows, out), std::invalid_argument);
  EXPECT_THROW(linear()->margins(short_rows, out), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::models
