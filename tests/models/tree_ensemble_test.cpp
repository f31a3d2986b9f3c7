// TreeEnsemble: scoring, exact TreeSHAP against hand computations and brute-force Shapley
// values, the compact JSON layout and the XGBoost JSON conversion (on hand-written documents;
// models trained by XGBoost are checked in tests/train/xgboost_fit_test.cpp).
#include "nbo/models/tree_ensemble.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TreeNode split(std::int32_t left, std::int32_t right, std::int32_t feature, float threshold,
               double cover) {
  TreeNode node;
  node.left = left;
  node.right = right;
  node.feature = feature;
  node.threshold = threshold;
  node.cover = cover;
  return node;
}

TreeNode leaf(double value, double cover) {
  TreeNode node;
  node.value = value;
  node.cover = cover;
  return node;
}

// x0 < 0.5 ? (x1 < 0.5 ? 1 : 3) : 4 with covers 10 -> (6 -> 2, 4), 4.
Tree two_feature_tree() {
  return Tree{{split(1, 4, 0, 0.5f, 10), split(2, 3, 1, 0.5f, 6), leaf(1.0, 2), leaf(3.0, 4),
               leaf(4.0, 4)}};
}

// Path-dependent conditional expectation of one tree given the features in `known` (a bit
// mask): known features follow the row, unknown ones average the children by cover.
double conditional_expectation(const Tree& tree, std::int32_t index, std::span<const double> row,
                               std::uint32_t known) {
  const TreeNode& node = tree.nodes[index];
  if (node.left < 0) return node.value;
  if ((known >> node.feature) & 1u) {
    const bool left = static_cast<float>(row[node.feature]) < node.threshold;
    return conditional_expectation(tree, left ? node.left : node.right, row, known);
  }
  const TreeNode& left = tree.nodes[node.left];
  const TreeNode& right = tree.nodes[node.right];
  return (left.cover * conditional_expectation(tree, node.left, row, known) +
          right.cover * conditional_expectation(tree, node.right, row, known)) /
         node.cover;
}

// Shapley values of v(S) = sum over trees of the conditional expectation, by enumerating all
// subsets S of the other features with weight |S|! (M - |S| - 1)! / M!.
std::vector<double> brute_force_shapley(const std::vector<Tree>& trees,
                                        std::span<const double> row) {
  const auto columns = static_cast<std::uint32_t>(row.size());
  std::vector<double> value(std::size_t{1} << columns, 0.0);
  for (std::uint32_t known = 0; known < (1u << columns); ++known) {
    for (const Tree& tree : trees) value[known] += conditional_expectation(tree, 0, row, known);
  }
  std::vector<double> factorial(columns + 1, 1.0);
  for (std::uint32_t i = 1; i <= columns; ++i) factorial[i] = factorial[i - 1] * i;
  std::vector<double> phi(columns, 0.0);
  for (std::uint32_t feature = 0; feature < columns; ++feature) {
    for (std::uint32_t subset = 0; subset < (1u << columns); ++subset) {
      if ((subset >> feature) & 1u) continue;
      const auto size = static_cast<std::uint32_t>(std::popcount(subset));
      const double weight = factorial[size] * factorial[columns - size - 1] / factorial[columns];
      phi[feature] += weight * (value[subset | (1u << feature)] - value[subset]);
    }
  }
  return phi;
}

// A random full binary tree of the given depth over `columns` features; features repeat on
// paths, covers split the parent's cover unevenly, thresholds spread over [0, 1).
Tree random_tree(std::mt19937_64& generator, int depth, std::int32_t columns) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Tree tree;
  const std::function<std::int32_t(int, double)> grow = [&](int remaining, double cover) {
    const auto index = static_cast<std::int32_t>(tree.nodes.size());
    if (remaining == 0 || (remaining < depth && unit(generator) < 0.2)) {
      tree.nodes.push_back(leaf(4.0 * unit(generator) - 2.0, cover));
      return index;
    }
    const auto feature = static_cast<std::int32_t>(generator() % columns);
    tree.nodes.push_back(split(-1, -1, feature, static_cast<float>(unit(generator)), cover));
    const double share = 0.1 + 0.8 * unit(generator);
    const std::int32_t left = grow(remaining - 1, cover * share);
    const std::int32_t right = grow(remaining - 1, cover * (1.0 - share));
    tree.nodes[index].left = left;
    tree.nodes[index].right = right;
    return index;
  };
  grow(depth, 100.0);
  return tree;
}

std::vector<std::string> names(std::size_t count) {
  std::vector<std::string> result;
  for (std::size_t i = 0; i < count; ++i) result.push_back("c" + std::to_string(i));
  return result;
}

// The error message of constructing an ensemble of `trees` over `columns` columns.
std::string construction_error(std::vector<Tree> trees, std::size_t columns = 2) {
  try {
    TreeEnsemble ensemble(names(columns), std::move(trees), 0.0, "test");
    ADD_FAILURE() << "the ensemble was accepted";
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

TEST(TreeEnsembleTest, MarginSumsTheReachedLeavesAndTheBaseMargin) {
  const TreeEnsemble ensemble(names(2), {two_feature_tree(), two_feature_tree()}, 0.5, "test");
  EXPECT_EQ(ensemble.margin(std::vector<double>{0.0, 0.0}), 0.5 + 2 * 1.0);
  EXPECT_EQ(ensemble.margin(std::vector<double>{0.0, 0.7}), 0.5 + 2 * 3.0);
  EXPECT_EQ(ensemble.margin(std::vector<double>{0.5, 0.0}), 0.5 + 2 * 4.0);  // not < 0.5: right
  EXPECT_EQ(ensemble.column_count(), 2u);
  EXPECT_EQ(ensemble.type(), "tree_ensemble");
}

TEST(TreeEnsembleTest, ComparesInSinglePrecision) {
  // 0.1f is slightly above 0.1, so the double 0.1 is below it, but float(0.1) equals it.
  const TreeEnsemble ensemble(names(1), {Tree{{split(1, 2, 0, 0.1f, 2), leaf(-1, 1), leaf(1, 1)}}},
                              0.0, "test");
  EXPECT_LT(0.1, static_cast<double>(0.1f));
  EXPECT_EQ(ensemble.margin(std::vector<double>{0.1}), 1.0);
  EXPECT_EQ(ensemble.margin(std::vector<double>{0.0999999}), -1.0);
}

TEST(TreeEnsembleTest, ShapValuesOfTheTwoFeatureTreeMatchTheHandComputation) {
  // v({}) = (2*1 + 4*3 + 4*4) / 10 = 3, v({x0}) = 14/6, v({x1}) = 0.6*1 + 0.4*4 = 2.2 for
  // x = (0, 0), v({x0, x1}) = 1; phi0 = ((7/3 - 3) + (1 - 2.2)) / 2 = -14/15,
  // phi1 = ((2.2 - 3) + (1 - 7/3)) / 2 = -16/15.
  const TreeEnsemble ensemble(names(2), {two_feature_tree()}, 0.5, "test");
  std::vector<double> out(2, 99.0);
  const double baseline = ensemble.contributions(std::vector<double>{0.0, 0.0}, out);
  EXPECT_NEAR(baseline, 0.5 + 3.0, 1e-12);
  EXPECT_NEAR(out[0], -14.0 / 15.0, 1e-12);
  EXPECT_NEAR(out[1], -16.0 / 15.0, 1e-12);

  // x = (1, 0) reaches the leaf 4, which x1 does not decide, yet knowing x1 = 0 alone lowers
  // the expectation: v({x1}) = 2.2 again, v({x0}) = v({x0, x1}) = 4;
  // phi0 = ((4 - 3) + (4 - 2.2)) / 2 = 1.4, phi1 = ((2.2 - 3) + (4 - 4)) / 2 = -0.4.
  EXPECT_EQ(ensemble.contributions(std::vector<double>{1.0, 0.0}, out), baseline);
  EXPECT_NEAR(out[0], 1.4, 1e-12);
  EXPECT_NEAR(out[1], -0.4, 1e-12);
}

TEST(TreeEnsembleTest, FeatureRepeatedOnAPathMatchesBruteForceShapley) {
  // x0 < 0.5 ? (x1 < 0.3 ? (x0 < 0.2 ? 2 : -1) : 5) : (x2 < 0.6 ? 0 : (x0 < 0.8 ? 3 : -4))
  const Tree tree{{split(1, 6, 0, 0.5f, 20), split(2, 5, 1, 0.3f, 12), split(3, 4, 0, 0.2f, 7),
                   leaf(2.0, 3), leaf(-1.0, 4), leaf(5.0, 5), split(7, 8, 2, 0.6f, 8), leaf(0.0, 2),
                   split(9, 10, 0, 0.8f, 6), leaf(3.0, 5), leaf(-4.0, 1)}};
  const TreeEnsemble ensemble(names(3), {tree}, -0.25, "test");
  const std::vector<std::vector<double>> rows{{0.1, 0.1, 0.1}, {0.3, 0.1, 0.9}, {0.7, 0.5, 0.9},
                                              {0.9, 0.9, 0.9}, {0.6, 0.2, 0.1}, {0.4, 0.8, 0.7}};
  for (const auto& row : rows) {
    SCOPED_TRACE(::testing::PrintToString(row));
    std::vector<double> out(3);
    const double baseline = ensemble.contributions(row, out);
    const std::vector<double> expected = brute_force_shapley({tree}, row);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(out[i], expected[i], 1e-12) << "column " << i;
    EXPECT_NEAR(baseline + out[0] + out[1] + out[2], ensemble.margin(row), 1e-12);
  }
}

// Random ensembles of `depth`-deep trees over `columns` features: every row's contributions
// equal the brute-force Shapley values and add up to the margin.
void expect_brute_force_shapley(int depth, std::int32_t columns, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto width = static_cast<std::size_t>(columns);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<Tree> trees;
    for (int t = 0; t < 4; ++t) trees.push_back(random_tree(generator, depth, columns));
    const TreeEnsemble ensemble(names(width), trees, 0.125, "test");
    for (int r = 0; r < 15; ++r) {
      std::vector<double> row(width);
      for (double& value : row) value = unit(generator);
      std::vector<double> out(width);
      const double baseline = ensemble.contributions(row, out);
      const std::vector<double> expected = brute_force_shapley(trees, row);
      double sum = baseline;
      for (std::size_t i = 0; i < width; ++i) {
        EXPECT_NEAR(out[i], expected[i], 1e-9) << "trial " << trial << " row " << r;
        sum += out[i];
      }
      EXPECT_NEAR(sum, ensemble.margin(row), 1e-9);
    }
  }
}

// Shallow trees (at most 64 splits, at most 5 distinct features on a path) are explained from
// precomputed leaf tables, the others by the recursion; both are checked.
TEST(TreeEnsembleTest, ShallowRandomEnsemblesMatchBruteForceShapley) {
  expect_brute_force_shapley(6, 5, 7);
}

TEST(TreeEnsembleTest, DeepRandomEnsemblesMatchBruteForceShapley) {
  expect_brute_force_shapley(8, 9, 8);
}

TEST(TreeEnsembleTest, ContributionsAreThreadSafe) {
  std::mt19937_64 generator(11);
  std::vector<Tree> trees;
  for (int t = 0; t < 30; ++t) trees.push_back(random_tree(generator, 5, 4));
  const TreeEnsemble ensemble(names(4), trees, 0.0, "test");
  const std::vector<double> row{0.2, 0.4, 0.6, 0.8};
  std::vector<double> expected(4);
  ensemble.contributions(row, expected);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> out(4);
      for (int i = 0; i < 2000; ++i) {
        ensemble.contributions(row, out);
        if (out != expected) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

TEST(TreeEnsembleTest, RejectsRowsOfTheWrongSize) {
  const TreeEnsemble ensemble(names(2), {two_feature_tree()}, 0.0, "test");
  std::vector<double> out(2);
  EXPECT_THROW(ensemble.margin(std::vector<double>{1.0}), std::invalid_argument);
  EXPECT_THROW(ensemble.contributions(std::vector<double>{1.0, 2.0, 3.0}, out),
               std::invalid_argument);
}

TEST(TreeEnsembleTest, ConstructorRejectsInvalidStructures) {
  EXPECT_THAT(construction_error({}), HasSubstr("trees: must not be empty"));
  EXPECT_THAT(construction_error({Tree{}}), HasSubstr("trees[0]: has no nodes"));
  EXPECT_THAT(construction_error(
                  {two_feature_tree(), Tree{{split(1, 5, 0, 0.5f, 3), leaf(1, 1), leaf(1, 1)}}}),
              HasSubstr("trees[1].right[0]: child index 5 out of range"));
  // A child before its parent (would allow cycles).
  EXPECT_THAT(
      construction_error({Tree{{split(1, 2, 0, 0.5f, 3), split(0, 2, 0, 0.5f, 2), leaf(1, 1)}}}),
      HasSubstr("trees[0].left[1]: child index 0 out of range"));
  // Two parents for one node, and so an unreachable one.
  EXPECT_THAT(construction_error({Tree{{split(1, 1, 0, 0.5f, 3), leaf(1, 1), leaf(1, 1)}}}),
              HasSubstr("trees[0].right[0]: node 1 already has a parent"));
  EXPECT_THAT(
      construction_error({Tree{{split(1, 2, 0, 0.5f, 3), leaf(1, 1), leaf(1, 1), leaf(1, 1)}}}),
      HasSubstr("trees[0]: node 3 is not reachable"));
  EXPECT_THAT(construction_error({Tree{{split(1, 2, 2, 0.5f, 3), leaf(1, 1), leaf(1, 1)}}}),
              HasSubstr("trees[0].feature[0]: column index 2 out of range"));
  EXPECT_THAT(construction_error({Tree{{split(1, -1, 0, 0.5f, 3), leaf(1, 1)}}}),
              HasSubstr("trees[0].right[0]: child index -1 out of range"));
  EXPECT_THAT(construction_error({Tree{{split(1, 2, 0, 0.5f, 3), leaf(1, 0), leaf(1, 1)}}}),
              HasSubstr("trees[0].cover[1]: must be finite and > 0"));
  EXPECT_THAT(construction_error({Tree{{leaf(std::nan(""), 1)}}}),
              HasSubstr("trees[0].value[0]: must be finite"));
  EXPECT_THAT(construction_error({Tree{{split(1, 2, 0, INFINITY, 3), leaf(1, 1), leaf(1, 1)}}}),
              HasSubstr("trees[0].threshold[0]: must be finite"));

  Tree deep;
  const auto depth = static_cast<std::int32_t>(TreeEnsemble::kMaxDepth + 1);
  for (std::int32_t i = 0; i < depth; ++i) {
    deep.nodes.push_back(split(2 * i + 1, 2 * i + 2, 0, 0.5f, 1));
    deep.nodes.push_back(leaf(0, 1));
  }
  deep.nodes.push_back(leaf(0, 1));
  // Node 2i is internal with a leaf at 2i + 1 and the next internal node (or the last leaf) at
  // 2i + 2: kMaxDepth + 1 edges from the root to the last leaf.
  EXPECT_THAT(construction_error({deep}), HasSubstr("exceeds the limit of 64"));
}

TEST(TreeEnsembleTest, JsonRoundTripScoresIdentically) {
  std::mt19937_64 generator(3);
  std::vector<Tree> trees;
  for (int t = 0; t < 10; ++t) trees.push_back(random_tree(generator, 4, 3));
  trees.push_back(Tree{{split(1, 2, 1, 0.1f, 3), leaf(1e-300, 1), leaf(-0.3, 2)}});
  const TreeEnsemble original(names(3), trees, -1.75, "gradient_boosting");
  const json dumped = original.to_json();
  EXPECT_EQ(dumped.at("type"), "tree_ensemble");
  EXPECT_EQ(dumped.at("kind"), "gradient_boosting");
  EXPECT_EQ(dumped.at("columns"), json({"c0", "c1", "c2"}));
  EXPECT_EQ(dumped.at("trees").back().at("threshold"), json({0.1, 0.0, 0.0}));
  EXPECT_EQ(dumped.at("trees").back().at("left"), json({1, -1, -1}));
  // Through text, as a model file would be.
  const auto loaded = estimator_from_json(json::parse(dumped.dump()), names(3));
  ASSERT_EQ(loaded->type(), "tree_ensemble");
  EXPECT_EQ(loaded->to_json(), dumped);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int r = 0; r < 50; ++r) {
    const std::vector<double> row{unit(generator), unit(generator), unit(generator)};
    EXPECT_EQ(loaded->margin(row), original.margin(row));
    std::vector<double> a(3);
    std::vector<double> b(3);
    EXPECT_EQ(loaded->contributions(row, a), original.contributions(row, b));
    EXPECT_EQ(a, b);
  }
}

// The message of estimator_from_json on `estimator` over columns c0, c1.
std::string load_error(const json& estimator) {
  try {
    estimator_from_json(estimator, names(2));
    ADD_FAILURE() << "loaded " << estimator.dump();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

TEST(TreeEnsembleTest, FromJsonNamesThePathOfTheProblem) {
  const json valid =
      TreeEnsemble(names(2), {two_feature_tree(), two_feature_tree()}, 0.0, "test").to_json();
  ASSERT_NO_THROW(estimator_from_json(valid, names(2)));

  json broken = valid;
  broken["trees"][1]["left"][1] = 99;
  EXPECT_THAT(load_error(broken),
              HasSubstr("estimator.trees[1].left[1]: child index 99 out of range"));
  broken = valid;
  broken["trees"][0]["feature"][0] = 7;
  EXPECT_THAT(load_error(broken),
              HasSubstr("estimator.trees[0].feature[0]: column index 7 out of range"));
  broken = valid;
  broken["trees"][0]["cover"].erase(2);
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[0].cover: has 4 entries, expected 5"));
  broken = valid;
  broken["trees"][0]["value"][3] = "3";
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[0].value[3]: must be a number"));
  broken = valid;
  broken["trees"][0]["right"][0] = 1.5;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[0].right[0]: must be an integer"));
  broken = valid;
  broken["trees"][0]["threshold"][0] = 1e300;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[0].threshold[0]"));
  broken = valid;
  broken["trees"][1].erase("threshold");
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[1].threshold: is required"));
  broken = valid;
  broken["columns"] = {"c0", "other"};
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.columns[1]"));
  broken = valid;
  broken["base_margin"] = "0";
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.base_margin: must be a number"));
  broken = valid;
  broken["trees"] = json::array();
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees: must not be empty"));
  broken = valid;
  broken["trees"][1]["default_left"] = json::array({1, 0, 0, 0, 0});
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.trees[1].default_left: unknown key"));
  broken = valid;
  broken["learning_rate"] = 0.1;
  EXPECT_THAT(load_error(broken), HasSubstr("estimator.learning_rate: unknown key"));
  broken = valid;
  broken["type"] = "forest";
  EXPECT_THAT(load_error(broken), HasSubstr("\"tree_ensemble\", \"xgboost\""));
}

// A two-tree XGBoost 1.7 document over features f0, f1 as Booster.save_model writes it (values
// as XGBoost stores them). Tree 1 holds a node pruned away (node 3, unreachable).
json xgboost_document() {
  return json::parse(R"({
    "learner": {
      "attributes": {},
      "feature_names": ["c0", "c1"],
      "feature_types": ["float", "float"],
      "gradient_booster": {
        "model": {
          "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "2"},
          "tree_info": [0, 0],
          "trees": [
            {"base_weights": [0.1, -0.2, 0.3], "categories": [], "categories_nodes": [],
             "categories_segments": [], "categories_sizes": [], "default_left": [1, 0, 0], "id": 0,
             "left_children": [1, -1, -1], "loss_changes": [2.5, 0, 0], "parents": [2147483647, 0, 0],
             "right_children": [2, -1, -1], "split_conditions": [0.25, -0.125, 0.375],
             "split_indices": [1, 0, 0], "split_type": [0, 0, 0], "sum_hessian": [30, 10, 20],
             "tree_param": {"num_deleted": "0", "num_feature": "2", "num_nodes": "3",
                            "size_leaf_vector": "0"}},
            {"base_weights": [0.1, -0.2, 0.3, 0.0], "categories": [], "categories_nodes": [],
             "categories_segments": [], "categories_sizes": [], "default_left": [0, 0, 0, 0], "id": 1,
             "left_children": [1, -1, -1, -1], "loss_changes": [1.5, 0, 0, 0],
             "parents": [2147483647, 0, 0, 2147483647],
             "right_children": [2, -1, -1, -1], "split_conditions": [0.5, 0.0625, -0.5, 7.0],
             "split_indices": [0, 0, 0, 0], "split_type": [0, 0, 0, 0],
             "sum_hessian": [30, 24, 6, 1],
             "tree_param": {"num_deleted": "1", "num_feature": "2", "num_nodes": "4",
                            "size_leaf_vector": "0"}}
          ]
        },
        "name": "gbtree"
      },
      "learner_model_param": {"base_score": "2.5E-1", "boost_from_average": "1", "num_class": "0",
                              "num_feature": "2", "num_target": "1"},
      "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}}
    },
    "version": [1, 7, 4]
  })");
}

TEST(TreeEnsembleTest, ConvertsAnXgboostDocument) {
  const auto ensemble = TreeEnsemble::from_xgboost_json(xgboost_document(), names(2));
  EXPECT_EQ(ensemble->kind(), "gradient_boosting");
  EXPECT_NEAR(ensemble->base_margin(), std::log(0.25 / 0.75), 1e-15);
  ASSERT_EQ(ensemble->trees().size(), 2u);
  EXPECT_EQ(ensemble->trees()[1].nodes.size(), 3u);  // the pruned node is dropped
  const double base = std::log(1.0 / 3.0);
  EXPECT_NEAR(ensemble->margin(std::vector<double>{0.0, 0.0}), base - 0.125 + 0.0625, 1e-15);
  EXPECT_NEAR(ensemble->margin(std::vector<double>{0.5, 0.25}), base + 0.375 - 0.5, 1e-15);
  // Expected margin: base + (10 * -0.125 + 20 * 0.375) / 30 + (24 * 0.0625 + 6 * -0.5) / 30.
  std::vector<double> out(2);
  EXPECT_NEAR(ensemble->contributions(std::vector<double>{0.0, 0.0}, out),
              base + 6.25 / 30 - 1.5 / 30, 1e-15);

  json file{{"type", "xgboost"}, {"kind", "random_forest"}, {"model", xgboost_document()}};
  const auto loaded = estimator_from_json(file, names(2));
  EXPECT_EQ(dynamic_cast<const TreeEnsemble&>(*loaded).kind(), "random_forest");
  EXPECT_EQ(loaded->margin(std::vector<double>{0.0, 0.0}),
            ensemble->margin(std::vector<double>{0.0, 0.0}));
  // The compact layout it saves as scores identically.
  const auto compact = estimator_from_json(json::parse(loaded->to_json().dump()), names(2));
  EXPECT_EQ(compact->margin(std::vector<double>{0.5, 0.25}),
            ensemble->margin(std::vector<double>{0.5, 0.25}));
}

TEST(TreeEnsembleTest, XgboostConversionNamesThePathOfTheProblem) {
  const auto error = [](const std::function<void(json&)>& mutate) {
    json file{{"type", "xgboost"}, {"model", xgboost_document()}};
    mutate(file["model"]);
    return load_error(file);
  };
  EXPECT_THAT(error([](json& m) { m["learner"]["gradient_booster"]["name"] = "dart"; }),
              HasSubstr("estimator.model.learner.gradient_booster.name: is \"dart\""));
  EXPECT_THAT(error([](json& m) { m["learner"]["objective"]["name"] = "multi:softprob"; }),
              HasSubstr("estimator.model.learner.objective.name: unsupported objective"));
  EXPECT_THAT(error([](json& m) { m["learner"]["feature_names"][1] = "x"; }),
              HasSubstr("estimator.model.learner.feature_names[1]"));
  EXPECT_THAT(error([](json& m) { m["learner"]["learner_model_param"]["num_feature"] = "3"; }),
              HasSubstr("estimator.model.learner.learner_model_param.num_feature: is 3"));
  EXPECT_THAT(error([](json& m) { m["learner"]["learner_model_param"]["base_score"] = "1E0"; }),
              HasSubstr("base_score: must be in (0, 1)"));
  EXPECT_THAT(
      error([](json& m) {
        m["learner"]["gradient_booster"]["model"]["trees"][1]["left_children"][0] = 9;
      }),
      HasSubstr("estimator.model.learner.gradient_booster.model.trees[1].left_children[0]: child "
                "index 9 out of range"));
  EXPECT_THAT(error([](json& m) {
                m["learner"]["gradient_booster"]["model"]["trees"][0]["split_indices"][0] = 2;
              }),
              HasSubstr("trees[0].split_indices[0]: feature 2 out of range"));
  EXPECT_THAT(error([](json& m) {
                m["learner"]["gradient_booster"]["model"]["trees"][0]["split_type"][0] = 1;
              }),
              HasSubstr("trees[0].split_type[0]: categorical splits are not supported"));
  EXPECT_THAT(error([](json& m) {
                m["learner"]["gradient_booster"]["model"]["trees"][0]["right_children"][0] = 1;
              }),
              HasSubstr("trees[0]: node 1 is reached twice"));
  EXPECT_THAT(error([](json& m) { m["learner"]["gradient_booster"]["model"]["tree_info"][1] = 1; }),
              HasSubstr("model.tree_info[1]: is 1"));
  EXPECT_THAT(error([](json& m) {
                m["learner"]["gradient_booster"]["model"]["trees"][0].erase("sum_hessian");
              }),
              HasSubstr("trees[0].sum_hessian: is required"));
  // The XGBoost document is XGBoost's own format: keys nbo does not read are left alone.
  json extra_keys{{"type", "xgboost"}, {"model", xgboost_document()}};
  extra_keys["model"]["learner"]["attributes"]["best_iteration"] = "3";
  extra_keys["model"]["learner"]["gradient_booster"]["model"]["trees"][0]["new_field"] = 1;
  EXPECT_NO_THROW(estimator_from_json(extra_keys, names(2)));
  EXPECT_THAT(error([](json& m) { m.erase("learner"); }),
              HasSubstr("estimator.model.learner: is required"));
  EXPECT_THAT(error([](json& m) { m["learner"] = json::array(); }),
              HasSubstr("estimator.model.learner: must be an object, got []"));
}

}  // namespace
}  // namespace nbo::models
