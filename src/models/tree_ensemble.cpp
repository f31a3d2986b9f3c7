#include "nbo/models/tree_ensemble.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "estimator_json.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::models {
namespace {

using json = nlohmann::json;

// Checks one tree's structure; returns its depth (edges on the longest root-to-leaf path).
// Messages name fields of the compact layout under `path` ("trees[3]").
std::size_t validate_tree(const Tree& tree, std::size_t column_count, const std::string& path) {
  const auto& nodes = tree.nodes;
  if (nodes.empty()) throw std::invalid_argument(path + ": has no nodes");
  if (nodes.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::invalid_argument(fmt::format("{}: has {} nodes, too many", path, nodes.size()));
  }
  const auto count = static_cast<std::int32_t>(nodes.size());
  std::vector<std::uint8_t> referenced(nodes.size(), 0);
  std::vector<std::size_t> depth(nodes.size(), 0);
  std::size_t deepest = 0;
  for (std::int32_t i = 0; i < count; ++i) {
    const TreeNode& node = nodes[i];
    if (!std::isfinite(node.value)) {
      throw std::invalid_argument(fmt::format("{}.value[{}]: must be finite", path, i));
    }
    if (!(node.cover > 0) || !std::isfinite(node.cover)) {
      throw std::invalid_argument(
          fmt::format("{}.cover[{}]: must be finite and > 0, got {}", path, i, node.cover));
    }
    if (node.left == -1 && node.right == -1) {
      if (node.feature != -1) {
        throw std::invalid_argument(
            fmt::format("{}.feature[{}]: is {}, a leaf has feature -1", path, i, node.feature));
      }
      continue;
    }
    for (const auto& [name, child] :
         {std::pair{"left", node.left}, std::pair{"right", node.right}}) {
      if (child <= i || child >= count) {
        throw std::invalid_argument(fmt::format(
            "{}.{}[{}]: child index {} out of range (a child follows its parent, {} nodes)", path,
            name, i, child, count));
      }
      if (referenced[child] != 0) {
        throw std::invalid_argument(
            fmt::format("{}.{}[{}]: node {} already has a parent (every node is reached once)",
                        path, name, i, child));
      }
      referenced[child] = 1;
      depth[child] = depth[i] + 1;
      deepest = std::max(deepest, depth[child]);
    }
    if (node.feature < 0 || static_cast<std::size_t>(node.feature) >= column_count) {
      throw std::invalid_argument(
          fmt::format("{}.feature[{}]: column index {} out of range ({} columns)", path, i,
                      node.feature, column_count));
    }
    if (!std::isfinite(node.threshold)) {
      throw std::invalid_argument(fmt::format("{}.threshold[{}]: must be finite", path, i));
    }
  }
  for (std::int32_t i = 1; i < count; ++i) {
    if (referenced[i] == 0) {
      throw std::invalid_argument(
          fmt::format("{}: node {} is not reachable from the root", path, i));
    }
  }
  if (deepest > TreeEnsemble::kMaxDepth) {
    throw std::invalid_argument(fmt::format("{}: depth {} exceeds the limit of {}", path, deepest,
                                            TreeEnsemble::kMaxDepth));
  }
  return deepest;
}

// One element of TreeSHAP's unique path (Lundberg et al. 2018, algorithm 2): the feature split
// on, the fraction of cover flowing down the path when the feature is absent (zero_fraction)
// or present (one_fraction: 1 if the row follows the path, 0 otherwise), and the permutation
// weight of subsets of the path's size `index`. one_fraction being 0 or 1 (path-dependent
// TreeSHAP multiplies only such indicators), the algorithm's divisions by it are dropped.
struct PathElement {
  std::int32_t feature = -1;
  double zero_fraction = 0.0;
  double one_fraction = 0.0;
  double weight = 0.0;
};

// kInverse[k] = 1 / k for the path lengths and positions that occur: the path functions run
// for every leaf and path element, and multiplying is much cheaper than dividing.
constexpr auto kInverse = [] {
  std::array<double, TreeEnsemble::kMaxDepth + 4> inverse{};
  for (std::size_t k = 1; k < inverse.size(); ++k) inverse[k] = 1.0 / static_cast<double>(k);
  return inverse;
}();

// EXTEND: appends a feature to a path of `depth` elements (now depth + 1).
void extend_path(PathElement* path, std::size_t depth, double zero_fraction, double one_fraction,
                 std::int32_t feature) {
  path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
  const double inverse_length = kInverse[depth + 1];
  for (std::size_t i = depth; i-- > 0;) {
    path[i + 1].weight +=
        one_fraction * path[i].weight * static_cast<double>(i + 1) * inverse_length;
    path[i].weight =
        zero_fraction * path[i].weight * static_cast<double>(depth - i) * inverse_length;
  }
}

// UNWIND: removes element `index` from a path whose last element is `depth` (now depth - 1).
void unwind_path(PathElement* path, std::size_t depth, std::size_t index) {
  const double zero_fraction = path[index].zero_fraction;
  const auto length = static_cast<double>(depth + 1);
  const double inverse_length = kInverse[depth + 1];
  if (path[index].one_fraction != 0.0) {
    double next_one_portion = path[depth].weight;
    for (std::size_t i = depth; i-- > 0;) {
      const double previous = path[i].weight;
      path[i].weight = next_one_portion * length * kInverse[i + 1];
      next_one_portion = previous - path[i].weight * zero_fraction *
                                        static_cast<double>(depth - i) * inverse_length;
    }
  } else {
    const double scale = length / zero_fraction;
    for (std::size_t i = depth; i-- > 0;) path[i].weight *= scale * kInverse[depth - i];
  }
  for (std::size_t i = index; i < depth; ++i) {
    path[i].feature = path[i + 1].feature;
    path[i].zero_fraction = path[i + 1].zero_fraction;
    path[i].one_fraction = path[i + 1].one_fraction;
  }
}

// The total permutation weight the path would have with element `index` unwound, without
// modifying the path.
double unwound_path_sum(const PathElement* path, std::size_t depth, std::size_t index) {
  const double zero_fraction = path[index].zero_fraction;
  const auto length = static_cast<double>(depth + 1);
  double total = 0.0;
  if (path[index].one_fraction != 0.0) {
    const double inverse_length = kInverse[depth + 1];
    double next_one_portion = path[depth].weight;
    for (std::size_t i = depth; i-- > 0;) {
      const double weight = next_one_portion * length * kInverse[i + 1];
      total += weight;
      next_one_portion =
          path[i].weight - weight * zero_fraction * static_cast<double>(depth - i) * inverse_length;
    }
  } else {
    for (std::size_t i = depth; i-- > 0;) total += path[i].weight * kInverse[depth - i];
    total *= length / zero_fraction;
  }
  return total;
}

struct ShapContext {
  const TreeNode* nodes;
  std::span<const double> row;
  std::span<double> out;
};

// RECURSE of algorithm 2. `parent_path` holds `depth` elements (element 0 is the root's
// placeholder, feature -1); this call's path is written right after it.
void tree_shap(const ShapContext& context, std::int32_t node_index, std::size_t depth,
               PathElement* parent_path, double zero_fraction, double one_fraction,
               std::int32_t feature) {
  PathElement* path = parent_path + depth;
  std::copy(parent_path, parent_path + depth, path);
  extend_path(path, depth, zero_fraction, one_fraction, feature);

  const TreeNode& node = context.nodes[node_index];
  if (node.left < 0) {
    for (std::size_t i = 1; i <= depth; ++i) {
      const double weight = unwound_path_sum(path, depth, i);
      const PathElement& element = path[i];
      context.out[element.feature] +=
          weight * (element.one_fraction - element.zero_fraction) * node.value;
    }
    return;
  }

  const bool goes_left = static_cast<float>(context.row[node.feature]) < node.threshold;
  const std::int32_t hot = goes_left ? node.left : node.right;
  const std::int32_t cold = goes_left ? node.right : node.left;
  const double hot_zero_fraction = context.nodes[hot].cover / node.cover;
  const double cold_zero_fraction = context.nodes[cold].cover / node.cover;
  double incoming_zero_fraction = 1.0;
  double incoming_one_fraction = 1.0;

  // A feature already split on higher up: undo its element so that it is counted once, with
  // the product of the fractions of both splits.
  std::size_t unique_depth = depth;
  for (std::size_t i = 1; i <= depth; ++i) {
    if (path[i].feature == node.feature) {
      incoming_zero_fraction = path[i].zero_fraction;
      incoming_one_fraction = path[i].one_fraction;
      unwind_path(path, depth, i);
      --unique_depth;
      break;
    }
  }
  tree_shap(context, hot, unique_depth + 1, path, hot_zero_fraction * incoming_zero_fraction,
            incoming_one_fraction, node.feature);
  tree_shap(context, cold, unique_depth + 1, path, cold_zero_fraction * incoming_zero_fraction, 0.0,
            node.feature);
}

// Per-thread scratch for contributions(): the TreeSHAP paths and the row in single precision.
// Grows to the largest ensemble scored on the thread and is then reused, so scoring does not
// allocate.
struct ShapScratch {
  std::vector<PathElement> paths;
  std::vector<float> row;
};

ShapScratch& shap_scratch(std::size_t path_elements, std::size_t columns) {
  thread_local ShapScratch scratch;
  if (scratch.paths.size() < path_elements) scratch.paths.resize(path_elements);
  if (scratch.row.size() < columns) scratch.row.resize(columns);
  return scratch;
}

// Leaf tables. With path-dependent TreeSHAP, a leaf's share of a row's SHAP values depends on
// the row only through which of the leaf's unique path features the row "follows" (satisfies
// every split on that feature between the root and the leaf): one_fraction 1 or 0. For a leaf
// with u unique path features there are 2^u such patterns; running algorithm 2's leaf step
// (EXTEND the path, UNWOUND sums) for each pattern ahead of time leaves, per row, one comparison
// per split of the tree (a bit mask of the splits the row goes left at) and per leaf u mask
// tests and u additions. Trees of at most kMaxTableSplits splits whose leaves have at most
// kMaxTableElements unique path features get tables, within kMaxTableEntries values for the
// ensemble; the others are explained by the recursion at scoring time.
constexpr std::size_t kMaxTableElements = 5;
constexpr std::size_t kMaxTableSplits = 64;
constexpr std::size_t kMaxTableEntries = std::size_t{1} << 20;  // 8 MiB of doubles

struct TableSplit {
  std::int32_t feature;
  float threshold;
};

struct LeafTable {
  std::uint32_t first_entry;  // into entries: 2^element_count rows of element_count values
  std::uint32_t element_count;
  std::array<std::int32_t, kMaxTableElements> features;  // column of each unique path feature
  // The row follows element k when (goes_left ^ wanted[k]) & splits[k] == 0, goes_left being
  // the tree's split bits: splits[k] marks the splits on the path on that feature, wanted[k]
  // those among them where the path goes left.
  std::array<std::uint64_t, kMaxTableElements> splits;
  std::array<std::uint64_t, kMaxTableElements> wanted;
};

struct TreeTables {
  std::uint32_t first_split;  // into splits, bit i of goes_left is split first_split + i
  std::uint32_t split_count;
  std::uint32_t first_leaf;  // into leaves
  std::uint32_t leaf_count;  // 0: the tree is explained by the recursion
};

}  // namespace

struct detail::TreeShapTables {
  std::vector<TreeTables> trees;
  std::vector<TableSplit> splits;
  std::vector<LeafTable> leaves;
  std::vector<double> entries;
};

namespace {

// A leaf's unique path features with their merged zero fractions and split masks.
struct LeafPath {
  std::int32_t leaf = -1;
  std::vector<std::int32_t> features;
  std::vector<double> zero_fractions;
  std::vector<std::uint64_t> splits;
  std::vector<std::uint64_t> wanted;
};

// The leaves of `nodes` (one tree, local indices, at most kMaxTableSplits splits) with their
// paths, depth first; `split_bit[node]` numbers the splits.
std::vector<LeafPath> leaf_paths(const std::vector<TreeNode>& nodes,
                                 const std::vector<std::uint32_t>& split_bit) {
  std::vector<LeafPath> leaves;
  LeafPath current;
  const auto visit = [&](const auto& self, std::int32_t index) -> void {
    const TreeNode& node = nodes[index];
    if (node.left < 0) {
      current.leaf = index;
      leaves.push_back(current);
      return;
    }
    const std::uint64_t bit = std::uint64_t{1} << split_bit[index];
    for (const bool left : {true, false}) {
      const std::int32_t child = left ? node.left : node.right;
      const LeafPath saved = current;
      const auto found = std::find(current.features.begin(), current.features.end(), node.feature);
      const auto element = static_cast<std::size_t>(found - current.features.begin());
      if (found == current.features.end()) {
        current.features.push_back(node.feature);
        current.zero_fractions.push_back(1.0);
        current.splits.push_back(0);
        current.wanted.push_back(0);
      }
      current.zero_fractions[element] *= nodes[child].cover / node.cover;
      current.splits[element] |= bit;
      if (left) current.wanted[element] |= bit;
      self(self, child);
      current = saved;
    }
  };
  visit(visit, 0);
  return leaves;
}

// Tables for the trees that fit, within the entry budget.
detail::TreeShapTables build_shap_tables(const std::vector<Tree>& trees) {
  detail::TreeShapTables tables;
  std::array<PathElement, kMaxTableElements + 1> path{};
  for (const Tree& tree : trees) {
    TreeTables& tree_tables = tables.trees.emplace_back(TreeTables{0, 0, 0, 0});
    std::vector<std::uint32_t> split_bit(tree.nodes.size(), 0);
    std::vector<TableSplit> splits;
    for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
      if (tree.nodes[i].left < 0) continue;
      split_bit[i] = static_cast<std::uint32_t>(splits.size());
      splits.push_back({tree.nodes[i].feature, tree.nodes[i].threshold});
    }
    if (splits.size() > kMaxTableSplits) continue;
    const std::vector<LeafPath> leaves = leaf_paths(tree.nodes, split_bit);
    std::size_t entries = 0;
    bool fits = true;
    for (const LeafPath& leaf : leaves) {
      fits = fits && leaf.features.size() <= kMaxTableElements;
      entries += (std::size_t{1} << std::min(leaf.features.size(), std::size_t{31})) *
                 leaf.features.size();
    }
    if (!fits || tables.entries.size() + entries > kMaxTableEntries) continue;
    tree_tables.first_split = static_cast<std::uint32_t>(tables.splits.size());
    tree_tables.split_count = static_cast<std::uint32_t>(splits.size());
    tables.splits.insert(tables.splits.end(), splits.begin(), splits.end());
    tree_tables.first_leaf = static_cast<std::uint32_t>(tables.leaves.size());
    tree_tables.leaf_count = static_cast<std::uint32_t>(leaves.size());
    for (const LeafPath& leaf : leaves) {
      const std::size_t count = leaf.features.size();
      LeafTable& table = tables.leaves.emplace_back();
      table.first_entry = static_cast<std::uint32_t>(tables.entries.size());
      table.element_count = static_cast<std::uint32_t>(count);
      table.features.fill(0);
      table.splits.fill(0);
      table.wanted.fill(0);
      std::copy(leaf.features.begin(), leaf.features.end(), table.features.begin());
      std::copy(leaf.splits.begin(), leaf.splits.end(), table.splits.begin());
      std::copy(leaf.wanted.begin(), leaf.wanted.end(), table.wanted.begin());
      const double value = tree.nodes[leaf.leaf].value;
      for (std::uint32_t followed = 0; followed < (1u << count); ++followed) {
        extend_path(path.data(), 0, 1.0, 1.0, -1);
        for (std::size_t k = 0; k < count; ++k) {
          extend_path(path.data(), k + 1, leaf.zero_fractions[k], (followed >> k) & 1u,
                      leaf.features[k]);
        }
        for (std::size_t k = 1; k <= count; ++k) {
          const double weight = unwound_path_sum(path.data(), count, k);
          tables.entries.push_back(weight * (path[k].one_fraction - path[k].zero_fraction) * value);
        }
      }
    }
  }
  return tables;
}

// Adds one tabled tree's SHAP values for `row` (converted to single precision) to `out`.
void add_tabled_tree(const detail::TreeShapTables& tables, const TreeTables& tree, const float* row,
                     std::span<double> out) {
  std::uint64_t goes_left = 0;
  const TableSplit* split = tables.splits.data() + tree.first_split;
  for (std::uint32_t i = 0; i < tree.split_count; ++i) {
    goes_left |= static_cast<std::uint64_t>(row[split[i].feature] < split[i].threshold) << i;
  }
  const LeafTable* leaf = tables.leaves.data() + tree.first_leaf;
  const LeafTable* const end = leaf + tree.leaf_count;
  for (; leaf != end; ++leaf) {
    std::uint32_t followed = 0;
    for (std::uint32_t k = 0; k < leaf->element_count; ++k) {
      followed |= static_cast<std::uint32_t>(((goes_left ^ leaf->wanted[k]) & leaf->splits[k]) == 0)
                  << k;
    }
    const double* entry =
        tables.entries.data() + leaf->first_entry + followed * leaf->element_count;
    for (std::uint32_t k = 0; k < leaf->element_count; ++k) out[leaf->features[k]] += entry[k];
  }
}

// Writes a float threshold as the shortest decimal that reads back (through double) as the same
// float, so files stay readable; falls back to the exact double value.
json threshold_json(float threshold) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, threshold);
  double shortest = 0.0;
  if (result.ec == std::errc{} && std::from_chars(buffer, result.ptr, shortest).ec == std::errc{} &&
      static_cast<float>(shortest) == threshold) {
    return shortest;
  }
  return static_cast<double>(threshold);
}

// XGBoost writes its parameters as strings ("5E-1", "22").
double xgboost_number(const JsonReader& parameter) {
  const std::string& text = parameter.string();
  double value = 0.0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc{} || result.ptr != text.data() + text.size() ||
      !std::isfinite(value)) {
    parameter.fail(fmt::format("\"{}\" is not a finite number", text));
  }
  return value;
}

// Converts one XGBoost tree; nodes are renumbered in depth-first order (children after parents)
// and nodes the root does not reach (pruned, "deleted" in XGBoost) are dropped.
Tree convert_xgboost_tree(const JsonReader& tree, std::size_t column_count) {
  tree.expect_object();
  const JsonReader left = tree["left_children"];
  const std::size_t size = left.array_size(1, std::numeric_limits<std::size_t>::max());
  // The other arrays have one entry per node too.
  const auto per_node = [&](std::string_view key) {
    JsonReader array = tree[key];
    array.array_size(size, size);
    return array;
  };
  const JsonReader right = per_node("right_children");
  const JsonReader split_indices = per_node("split_indices");
  const JsonReader split_conditions = per_node("split_conditions");
  per_node("default_left");
  per_node("base_weights");
  const JsonReader sum_hessian = per_node("sum_hessian");
  if (const auto split_type = tree.find("split_type")) {
    split_type->array_size(size, size);
    for (std::size_t i = 0; i < size; ++i) {
      if (split_type->json()[i] != 0) {
        (*split_type)[i].fail("categorical splits are not supported");
      }
    }
  }

  Tree converted;
  std::vector<std::uint8_t> visited(size, 0);
  // (XGBoost node, new index of its parent's slot to patch, whether it is the left child)
  struct Pending {
    std::size_t node;
    std::int32_t parent;
    bool is_left;
  };
  std::vector<Pending> stack{{0, -1, false}};
  while (!stack.empty()) {
    const Pending pending = stack.back();
    stack.pop_back();
    const std::size_t i = pending.node;
    if (visited[i] != 0) tree.fail(fmt::format("node {} is reached twice (not a tree)", i));
    visited[i] = 1;
    const auto index = static_cast<std::int32_t>(converted.nodes.size());
    if (pending.parent >= 0) {
      auto& parent = converted.nodes[pending.parent];
      (pending.is_left ? parent.left : parent.right) = index;
    }
    TreeNode node;
    node.cover = sum_hessian[i].number();
    if (!(node.cover > 0)) sum_hessian[i].fail(fmt::format("must be > 0, got {}", node.cover));
    const auto left_child = left[i].integer<std::int32_t>(-1);
    const auto right_child = right[i].integer<std::int32_t>(-1);
    // XGBoost stores and sums leaf values and compares thresholds in single precision.
    const auto condition = static_cast<float>(split_conditions[i].number());
    if (left_child == -1 || right_child == -1) {
      if (left_child != right_child) {
        tree.fail(fmt::format("node {} has one child, a node has none or two", i));
      }
      node.value = condition;
      converted.nodes.push_back(node);
      continue;
    }
    for (const JsonReader* children : {&left, &right}) {
      const JsonReader child = (*children)[i];
      const auto child_index = static_cast<std::size_t>(child.integer<std::int32_t>(-1));
      if (child_index >= size) {
        child.fail(fmt::format("child index {} out of range ({} nodes)", child_index, size));
      }
    }
    const JsonReader split_index = split_indices[i];
    const auto feature = split_index.integer<std::int32_t>(-1);
    if (feature < 0 || static_cast<std::size_t>(feature) >= column_count) {
      split_index.fail(fmt::format("feature {} out of range ({} columns)", feature, column_count));
    }
    node.feature = feature;
    node.threshold = condition;
    converted.nodes.push_back(node);
    // Right pushed first so the left subtree is numbered first.
    stack.push_back({static_cast<std::size_t>(right_child), index, false});
    stack.push_back({static_cast<std::size_t>(left_child), index, true});
  }
  return converted;
}

}  // namespace

TreeEnsemble::TreeEnsemble(std::vector<std::string> column_names, std::vector<Tree> trees,
                           double base_margin, std::string kind)
    : column_names_(std::move(column_names)),
      trees_(std::move(trees)),
      base_margin_(base_margin),
      kind_(std::move(kind)) {
  if (!std::isfinite(base_margin_)) throw std::invalid_argument("base_margin: must be finite");
  if (kind_.empty()) throw std::invalid_argument("kind: must not be empty");
  if (trees_.empty()) throw std::invalid_argument("trees: must not be empty");
  expected_margin_ = base_margin_;
  std::vector<double> mean_value;
  for (std::size_t t = 0; t < trees_.size(); ++t) {
    const auto& nodes = trees_[t].nodes;
    max_depth_ = std::max(
        max_depth_, validate_tree(trees_[t], column_names_.size(), fmt::format("trees[{}]", t)));
    if (flat_nodes_.size() + nodes.size() >
        static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      throw std::invalid_argument("trees: too many nodes in all");
    }
    const auto offset = static_cast<std::int32_t>(flat_nodes_.size());
    roots_.push_back(offset);
    for (TreeNode node : nodes) {
      if (node.left >= 0) {
        node.left += offset;
        node.right += offset;
      }
      flat_nodes_.push_back(node);
    }
    // Cover-weighted mean leaf value, bottom-up (children follow their parents).
    mean_value.assign(nodes.size(), 0.0);
    for (std::size_t i = nodes.size(); i-- > 0;) {
      const TreeNode& node = nodes[i];
      mean_value[i] = node.left < 0 ? node.value
                                    : (mean_value[node.left] * nodes[node.left].cover +
                                       mean_value[node.right] * nodes[node.right].cover) /
                                          node.cover;
    }
    expected_margin_ += mean_value[0];
  }
  shap_tables_ = std::make_shared<const detail::TreeShapTables>(build_shap_tables(trees_));
  if (max_depth_ <= kCompleteMaxDepth) build_complete_layout();
}

void TreeEnsemble::build_complete_layout() {
  const std::size_t leaves = std::size_t{1} << max_depth_;
  const std::size_t internal = leaves - 1;
  complete_nodes_.assign(trees_.size() * internal, CompleteNode{});
  complete_leaves_.assign(trees_.size() * leaves, 0.0);
  struct Slot {
    std::int32_t node;  // index into the tree's nodes
    std::size_t place;  // position in the complete tree
    std::size_t depth;  // edges from the root
  };
  std::vector<Slot> stack;
  for (std::size_t t = 0; t < trees_.size(); ++t) {
    const auto& nodes = trees_[t].nodes;
    CompleteNode* out_nodes = complete_nodes_.data() + t * internal;
    double* out_leaves = complete_leaves_.data() + t * leaves;
    stack.assign(1, Slot{0, 0, 0});
    while (!stack.empty()) {
      const Slot slot = stack.back();
      stack.pop_back();
      const TreeNode& node = nodes[static_cast<std::size_t>(slot.node)];
      if (slot.depth == max_depth_) {
        out_leaves[slot.place - internal] = node.value;  // validate_tree: a leaf at this depth
        continue;
      }
      std::int32_t left = slot.node;  // a leaf above the bottom: the same leaf on both sides
      std::int32_t right = slot.node;
      if (node.left >= 0) {
        out_nodes[slot.place] = CompleteNode{node.feature, node.threshold};
        left = node.left;
        right = node.right;
      }
      stack.push_back(Slot{left, 2 * slot.place + 1, slot.depth + 1});
      stack.push_back(Slot{right, 2 * slot.place + 2, slot.depth + 1});
    }
  }
}

template <std::size_t Depth>
void TreeEnsemble::add_complete_trees(const float* block, std::size_t count, double* sums) const {
  constexpr std::size_t kLeaves = std::size_t{1} << Depth;
  constexpr std::size_t kInternal = kLeaves - 1;
  const std::size_t columns = column_names_.size();
  for (std::size_t t = 0; t < roots_.size(); ++t) {
    const CompleteNode* nodes = complete_nodes_.data() + t * kInternal;
    const double* leaves = complete_leaves_.data() + t * kLeaves;
    for (std::size_t r = 0; r < count; ++r) {
      const float* row = block + r * columns;
      std::size_t place = 0;
      for (std::size_t level = 0; level < Depth; ++level) {
        // row < threshold goes left (2i + 1), anything else, NaN included, right (2i + 2).
        const CompleteNode& node = nodes[place];
        place =
            2 * place + 2 -
            static_cast<std::size_t>(row[static_cast<std::size_t>(node.feature)] < node.threshold);
      }
      sums[r] += leaves[place - kInternal];
    }
  }
}

void TreeEnsemble::add_complete(const float* block, std::size_t count, double* sums) const {
  // One instantiation per depth, so each walk is unrolled to its fixed number of steps.
  static_assert(kCompleteMaxDepth == 8, "one walk per depth 0..kCompleteMaxDepth below");
  using Walk = void (TreeEnsemble::*)(const float*, std::size_t, double*) const;
  static constexpr std::array<Walk, kCompleteMaxDepth + 1> kWalks = {
      &TreeEnsemble::add_complete_trees<0>, &TreeEnsemble::add_complete_trees<1>,
      &TreeEnsemble::add_complete_trees<2>, &TreeEnsemble::add_complete_trees<3>,
      &TreeEnsemble::add_complete_trees<4>, &TreeEnsemble::add_complete_trees<5>,
      &TreeEnsemble::add_complete_trees<6>, &TreeEnsemble::add_complete_trees<7>,
      &TreeEnsemble::add_complete_trees<8>};
  (this->*kWalks[max_depth_])(block, count, sums);
}

double TreeEnsemble::margin(std::span<const double> row) const {
  if (row.size() != column_names_.size()) {
    throw std::invalid_argument(fmt::format("tree ensemble: row has {} values, expected {}",
                                            row.size(), column_names_.size()));
  }
  if (!complete_leaves_.empty() && row.size() <= kSingleRowFloats) {
    // The batch path on a block of one row: the same comparisons and leaves, in tree order.
    std::array<float, kSingleRowFloats> block{};
    for (std::size_t j = 0; j < row.size(); ++j) block[j] = static_cast<float>(row[j]);
    double sum = base_margin_;
    add_complete(block.data(), 1, &sum);
    return sum;
  }
  const TreeNode* nodes = flat_nodes_.data();
  double sum = base_margin_;
  for (const std::int32_t root : roots_) {
    std::int32_t index = root;
    while (nodes[index].left >= 0) {
      const TreeNode& node = nodes[index];
      index = static_cast<float>(row[node.feature]) < node.threshold ? node.left : node.right;
    }
    sum += nodes[index].value;
  }
  return sum;
}

void TreeEnsemble::batch_margins(std::span<const double> rows, std::span<double> out) const {
  constexpr std::size_t kBlock = 64;
  const std::size_t columns = column_names_.size();
  std::vector<float> block(kBlock * columns);  // the block's rows, row-major, as margin() compares
  const TreeNode* nodes = flat_nodes_.data();
  for (std::size_t begin = 0; begin < out.size(); begin += kBlock) {
    const std::size_t count = std::min(kBlock, out.size() - begin);
    const double* first = rows.data() + begin * columns;
    for (std::size_t v = 0; v < count * columns; ++v) block[v] = static_cast<float>(first[v]);
    double* sums = out.data() + begin;
    std::fill(sums, sums + count, base_margin_);
    if (!complete_leaves_.empty()) {
      add_complete(block.data(), count, sums);
      continue;
    }
    for (const std::int32_t root : roots_) {
      for (std::size_t r = 0; r < count; ++r) {
        const float* row = block.data() + r * columns;
        std::int32_t index = root;
        while (nodes[index].left >= 0) {
          const TreeNode& node = nodes[index];
          index = row[node.feature] < node.threshold ? node.left : node.right;
        }
        sums[r] += nodes[index].value;
      }
    }
  }
}

double TreeEnsemble::contributions(std::span<const double> row, std::span<double> out) const {
  if (row.size() != column_names_.size() || out.size() != column_names_.size()) {
    throw std::invalid_argument(
        fmt::format("tree ensemble: row has {} values and out {}, expected {}", row.size(),
                    out.size(), column_names_.size()));
  }
  std::fill(out.begin(), out.end(), 0.0);
  // Recursion level l (0..max depth + 1) holds a path of l + 1 elements.
  const std::size_t levels = max_depth_ + 2;
  ShapScratch& scratch = shap_scratch(levels * (levels + 1) / 2, row.size());
  for (std::size_t i = 0; i < row.size(); ++i) scratch.row[i] = static_cast<float>(row[i]);
  const ShapContext context{flat_nodes_.data(), row, out};
  for (std::size_t t = 0; t < roots_.size(); ++t) {
    const TreeTables& tables = shap_tables_->trees[t];
    if (tables.leaf_count > 0) {
      add_tabled_tree(*shap_tables_, tables, scratch.row.data(), out);
    } else {
      tree_shap(context, roots_[t], 0, scratch.paths.data(), 1.0, 1.0, -1);
    }
  }
  return expected_margin_;
}

nlohmann::json TreeEnsemble::to_json() const {
  json trees = json::array();
  for (const Tree& tree : trees_) {
    json left = json::array();
    json right = json::array();
    json feature = json::array();
    json threshold = json::array();
    json value = json::array();
    json cover = json::array();
    for (const TreeNode& node : tree.nodes) {
      left.push_back(node.left);
      right.push_back(node.right);
      feature.push_back(node.feature);
      threshold.push_back(threshold_json(node.threshold));
      value.push_back(node.value);
      cover.push_back(node.cover);
    }
    trees.push_back({{"left", std::move(left)},
                     {"right", std::move(right)},
                     {"feature", std::move(feature)},
                     {"threshold", std::move(threshold)},
                     {"value", std::move(value)},
                     {"cover", std::move(cover)}});
  }
  return {{"type", type()},
          {"kind", kind_},
          {"base_margin", base_margin_},
          {"columns", column_names_},
          {"trees", std::move(trees)}};
}

std::unique_ptr<const TreeEnsemble> TreeEnsemble::read(const JsonReader& estimator,
                                                       const std::vector<std::string>& columns) {
  estimator.only_keys({"type", "kind", "base_margin", "columns", "trees"});
  std::string kind = estimator["kind"].string();
  const double base_margin = estimator["base_margin"].number();
  detail::read_columns(estimator["columns"], columns);
  const JsonReader trees_json = estimator["trees"];
  const std::size_t tree_count = trees_json.array_size();
  std::vector<Tree> trees;
  trees.reserve(tree_count);
  for (std::size_t t = 0; t < tree_count; ++t) {
    const JsonReader tree = trees_json[t];
    tree.only_keys({"left", "right", "feature", "threshold", "value", "cover"});
    const JsonReader left = tree["left"];
    const std::size_t size = left.array_size();
    // The other five arrays have one entry per node too.
    const auto per_node = [&](std::string_view key) {
      JsonReader array = tree[key];
      array.array_size(size, size);
      return array;
    };
    const JsonReader right = per_node("right");
    const JsonReader feature = per_node("feature");
    const JsonReader threshold = per_node("threshold");
    const JsonReader value = per_node("value");
    const JsonReader cover = per_node("cover");
    Tree& parsed = trees.emplace_back();
    parsed.nodes.resize(size);
    for (std::size_t i = 0; i < size; ++i) {
      TreeNode& node = parsed.nodes[i];
      node.left = left[i].integer<std::int32_t>(-1);
      node.right = right[i].integer<std::int32_t>(-1);
      node.feature = feature[i].integer<std::int32_t>(-1);
      const double threshold_value = threshold[i].number();
      node.threshold = static_cast<float>(threshold_value);
      if (std::isfinite(threshold_value) && !std::isfinite(node.threshold)) {
        threshold[i].fail(fmt::format("{} is out of single-precision range", threshold_value));
      }
      node.value = value[i].number();
      node.cover = cover[i].number();
    }
  }
  try {
    return std::make_unique<const TreeEnsemble>(columns, std::move(trees), base_margin,
                                                std::move(kind));
  } catch (const std::invalid_argument& error) {
    // The constructor names fields relative to the estimator ("trees[3].left[7]: ...").
    estimator.fail_relative(error.what());
  }
}

std::unique_ptr<const TreeEnsemble> TreeEnsemble::from_json(
    const nlohmann::json& estimator, const std::vector<std::string>& columns) {
  return read(JsonReader(estimator, "estimator"), columns);
}

std::unique_ptr<const TreeEnsemble> TreeEnsemble::read_xgboost(
    const JsonReader& xgboost_model, const std::vector<std::string>& columns, std::string kind) {
  const JsonReader learner = xgboost_model["learner"];
  learner.expect_object();

  const JsonReader objective_name = learner["objective"]["name"];
  const std::string& objective = objective_name.string();
  if (objective != "binary:logistic" && objective != "reg:logistic" &&
      objective != "binary:logitraw") {
    objective_name.fail(fmt::format(
        "unsupported objective \"{}\" (supported: \"binary:logistic\", \"reg:logistic\", "
        "\"binary:logitraw\")",
        objective));
  }

  const JsonReader model_param = learner["learner_model_param"];
  if (const auto num_class = model_param.find("num_class")) {
    const double classes = xgboost_number(*num_class);
    if (classes != 0 && classes != 1) {
      num_class->fail(fmt::format("is {}, only binary models are supported", classes));
    }
  }
  const JsonReader num_feature = model_param["num_feature"];
  const double feature_count = xgboost_number(num_feature);
  if (feature_count != static_cast<double>(columns.size())) {
    num_feature.fail(
        fmt::format("is {}, the pipeline makes {} columns", feature_count, columns.size()));
  }
  // base_score is a probability for the logistic objectives; XGBoost reads it in single
  // precision and starts every margin at its logit.
  const JsonReader base_score_json = model_param["base_score"];
  const auto base_score = static_cast<double>(static_cast<float>(xgboost_number(base_score_json)));
  double base_margin = base_score;
  if (objective != "binary:logitraw") {
    if (!(base_score > 0 && base_score < 1)) {
      base_score_json.fail(fmt::format("must be in (0, 1) for {}, got {}", objective, base_score));
    }
    base_margin = std::log(base_score / (1.0 - base_score));
  }

  if (const auto names = learner.find("feature_names")) {
    const std::size_t count = names->array_size();
    if (count != 0) {
      if (count != columns.size()) {
        names->fail(
            fmt::format("has {} entries, the pipeline makes {} columns", count, columns.size()));
      }
      for (std::size_t i = 0; i < count; ++i) {
        const json& name = names->json()[i];
        if (!name.is_string() || name.get_ref<const std::string&>() != columns[i]) {
          (*names)[i].fail(fmt::format("is {}, the pipeline's column {} is '{}'",
                                       JsonReader::quote(name), i, columns[i]));
        }
      }
    }
  }

  const JsonReader booster = learner["gradient_booster"];
  const JsonReader booster_name = booster["name"];
  if (booster_name.string() != "gbtree") {
    booster_name.fail(
        fmt::format("is \"{}\", only \"gbtree\" is supported", booster_name.string()));
  }
  const JsonReader model = booster["model"];
  const JsonReader trees_json = model["trees"];
  const std::size_t tree_count = trees_json.array_size();
  const JsonReader tree_info = model["tree_info"];
  tree_info.array_size(tree_count, tree_count);
  std::vector<Tree> trees;
  trees.reserve(tree_count);
  for (std::size_t t = 0; t < tree_count; ++t) {
    if (tree_info.json()[t] != 0) {
      tree_info[t].fail(fmt::format("is {}, a binary model's trees all belong to group 0",
                                    JsonReader::quote(tree_info.json()[t])));
    }
    trees.push_back(convert_xgboost_tree(trees_json[t], columns.size()));
  }
  try {
    return std::make_unique<const TreeEnsemble>(columns, std::move(trees), base_margin,
                                                std::move(kind));
  } catch (const std::invalid_argument& error) {
    // Named in the converted trees, whose nodes are numbered differently from the document's.
    xgboost_model.fail(fmt::format("converted XGBoost model: {}", error.what()));
  }
}

std::unique_ptr<const TreeEnsemble> TreeEnsemble::from_xgboost_json(
    const nlohmann::json& xgboost_model, const std::vector<std::string>& columns,
    std::string kind) {
  return read_xgboost(JsonReader(xgboost_model), columns, std::move(kind));
}

}  // namespace nbo::models
