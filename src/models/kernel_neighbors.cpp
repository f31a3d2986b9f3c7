#include "nbo/models/kernel_neighbors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "estimator_json.hpp"
#include "kernel_sums.hpp"
#include "nbo/models/json_reader.hpp"
#include "reference_set.hpp"
#include "row_distances.hpp"

namespace nbo::models {

// Per-thread buffers, so no allocation once they have grown.
struct KernelNeighbors::Scratch {
  std::vector<double> weighted;   // the row times the column weights
  std::vector<double> distances;  // to every padded reference row
  double offset = 0.0;            // every exponent is relative to it
  // Of every padded reference row, relative to offset, in single precision (kernel_sums.hpp):
  // what the explanations' passes multiply.
  std::vector<float> weights;
  // The groups being occluded (`occlusions`, one per group): their columns away from their means
  // (`moved`, each group's in a run), each with the slope of its part of the moved distance and
  // that part's smallest value over the reference rows; for the exp pass their stored columns and
  // slopes, for lookups their codes and tables (the exponents of every group's tables, each
  // table with the room its lookup reads, table_room(), in `table_values`; their exps in
  // `table_exps`).
  struct MovedColumn {
    std::size_t column;
    double slope;
    double smallest;
  };
  std::vector<Occlusion> occlusions;
  std::vector<MovedColumn> moved;
  std::vector<const double*> columns;
  std::vector<double> slopes;
  std::vector<const std::uint8_t*> codes;
  std::vector<const float*> tables;
  std::vector<float> float_tables;   // one occlusion's tables rounded, kMaxLevels each
  std::vector<std::uint8_t> levels;  // per table: how many values it has (table_sums())
  std::vector<double> table_values;
  std::vector<double> table_exps;
  std::vector<std::size_t> identity;  // group_of for explain(): column j is group j
  // distances_of() from level codes: per column, its squared differences to the row's value
  // (kMaxLevels each, in `term_values`), and the columns' codes and tables.
  std::vector<double> term_values;
  // The product pass: per column, the factors exp(-gamma (term - the column's smallest term)), and
  // those smallest terms.
  std::vector<double> factor_values;
  std::vector<double> minima;
  std::vector<const std::uint8_t*> distance_codes;
  std::vector<const double*> distance_terms;
  std::vector<std::uint8_t> distance_levels;
  // The product pass's tables, one per step, kMaxLevels floats each: a column's factors, or a
  // group's products of them, rounded to float.
  std::vector<float> step_values;
  std::vector<const float*> step_tables;
  // The explanations' per group: the occluded sums, the pseudo-votes' exponents and their exps,
  // the ratios whose logs are the occluded margins, and those logs (room for a vector pass each).
  std::vector<Votes> occluded;
  std::vector<double> prior_exponents;
  std::vector<double> pseudo_exps;
  std::vector<double> ratios;
  std::vector<double> logs;
  std::vector<std::uint8_t> from_log;  // the group's contribution is margin less its log
};

namespace {

// Above this exponent the pseudo-votes dwarf any sum of weights (at most 1 each).
constexpr double kLargestExponent = 700.0;
// Sums below this have lost their digits to underflow: in double precision, and in single
// precision, where each of a weight's products (one per lookup step) is off by at most 2^-150
// once subnormal, and the weights below 2^-149 that became 0 lose less than 1e-40 over any
// model's rows of the store's size (and 1e-35 over a hundred thousand rows of 100 steps).
constexpr double kVanishing = 1e-250;
constexpr double kFloatVanishing = 1e-30;

}  // namespace

double KernelNeighbors::kernel_exp(double z) noexcept {
  return detail::kernel_exp(z);
}

KernelNeighbors::Scratch& KernelNeighbors::scratch_of_thread() {
  thread_local Scratch scratch;
  return scratch;
}

KernelNeighbors::Scratch& KernelNeighbors::definition_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

KernelNeighbors::KernelNeighbors(std::vector<std::string> column_names,
                                 std::vector<double> reference_rows,
                                 std::vector<std::uint8_t> labels, double gamma, double prior,
                                 double prior_distance, std::vector<double> column_weights)
    : column_names_(std::move(column_names)),
      reference_rows_(std::move(reference_rows)),
      labels_(std::move(labels)),
      gamma_(gamma),
      prior_(prior),
      prior_distance_(prior_distance),
      column_weights_(std::move(column_weights)) {
  detail::check_reference_set("kernel neighbours", column_names_, reference_rows_, labels_,
                              column_weights_);
  const std::size_t columns = column_names_.size();
  const std::size_t rows = labels_.size();
  if (rows == 0) throw std::invalid_argument("kernel neighbours need at least one reference row");
  if (!(gamma_ > 0.0) || !std::isfinite(gamma_)) {
    throw std::invalid_argument(fmt::format("gamma must be finite and > 0, is {}", gamma_));
  }
  if (!(prior_ > 0.0) || !std::isfinite(prior_)) {
    throw std::invalid_argument(fmt::format("prior must be finite and > 0, is {}", prior_));
  }
  if (!(prior_distance_ >= 0.0) || !std::isfinite(prior_distance_)) {
    throw std::invalid_argument(
        fmt::format("prior_distance must be finite and >= 0, is {}", prior_distance_));
  }
  column_means_ = detail::column_means(reference_rows_, columns);
  weighted_means_.resize(columns);
  for (std::size_t j = 0; j < columns; ++j) {
    weighted_means_[j] = column_means_[j] * column_weights_[j];
  }
  const auto padded = [](std::size_t count) {
    return (count + detail::kCodeGroup - 1) / detail::kCodeGroup * detail::kCodeGroup;
  };
  positive_rows_ = static_cast<std::size_t>(std::count(labels_.begin(), labels_.end(), 1));
  positive_part_ = padded(positive_rows_);
  padded_rows_ = positive_part_ + padded(rows - positive_rows_);
  column_major_.assign(padded_rows_ * columns, 0.0);
  std::vector<std::size_t> position(rows);
  std::size_t next_positive = 0;
  std::size_t next_negative = positive_part_;
  for (std::size_t i = 0; i < rows; ++i) {
    position[i] = labels_[i] == 1 ? next_positive++ : next_negative++;
    for (std::size_t j = 0; j < columns; ++j) {
      column_major_[j * padded_rows_ + position[i]] =
          reference_rows_[i * columns + j] * column_weights_[j];
    }
  }
  weighted_minima_.assign(columns, std::numeric_limits<double>::infinity());
  weighted_maxima_.assign(columns, -std::numeric_limits<double>::infinity());
  // Past a column's levels, +infinity: the row's terms there are +infinity and its factors 0.
  level_table_.assign(columns * detail::kMaxLevels, std::numeric_limits<double>::infinity());
  level_counts_.assign(columns, 0);
  level_codes_.assign(padded_rows_ * columns, 0);
  for (std::size_t j = 0; j < columns; ++j) {
    std::vector<double> values;
    for (std::size_t i = 0; i < rows; ++i)
      values.push_back(column_major_[j * padded_rows_ + position[i]]);
    std::sort(values.begin(), values.end());
    weighted_minima_[j] = values.front();
    weighted_maxima_[j] = values.back();
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.size() > detail::kMaxLevels) continue;
    for (std::size_t i = 0; i < rows; ++i) {
      const double value = column_major_[j * padded_rows_ + position[i]];
      level_codes_[j * padded_rows_ + position[i]] = static_cast<std::uint8_t>(
          std::lower_bound(values.begin(), values.end(), value) - values.begin());
    }
    std::copy(values.begin(), values.end(),
              level_table_.begin() + static_cast<std::ptrdiff_t>(j * detail::kMaxLevels));
    level_counts_[j] = static_cast<std::uint8_t>(values.size());
  }
  coded_distances_ = std::none_of(level_counts_.begin(), level_counts_.end(),
                                  [](std::uint8_t count) { return count == 0; });
  find_categories(position);
  // The padding rows' weights: 0 from the product pass itself and their distances +infinity from
  // the distance pass, by a code past the last level of a column of fewer than 8 levels, whose
  // factor is 0 and term +infinity (row_factors()). That code stays within the column's lookup of
  // 8 values and its table of occlusion factors, where the padding rows' weight, 0, multiplies it.
  // A column outside the one-hot categories is preferred, so that none of them loses its single
  // lookup in the product pass (member_level_codes()).
  if (coded_distances_) {
    for (std::size_t j = 0; j < columns; ++j) {
      if (level_counts_[j] >= detail::kKernelLanes) continue;
      const bool free = category_of_[j] == kNoCategory;
      if (padding_column_ == kNoColumn) {
        padding_column_ = j;
        continue;
      }
      const bool chosen_free = category_of_[padding_column_] == kNoCategory;
      if ((free && !chosen_free) ||
          (free == chosen_free && level_counts_[j] < level_counts_[padding_column_])) {
        padding_column_ = j;
      }
    }
    if (padding_column_ != kNoColumn) {
      const std::uint8_t code = level_counts_[padding_column_];
      std::uint8_t* codes = level_codes_.data() + padding_column_ * padded_rows_;
      std::fill(codes + positive_rows_, codes + positive_part_, code);
      std::fill(codes + positive_part_ + (rows - positive_rows_), codes + padded_rows_, code);
    }
  }
  // The passes over codes read them interleaved (kernel_sums.hpp).
  std::vector<std::uint8_t> linear(padded_rows_);
  for (std::size_t j = 0; j < columns; ++j) {
    std::uint8_t* column = level_codes_.data() + j * padded_rows_;
    std::copy_n(column, padded_rows_, linear.begin());
    detail::interleave_codes(linear.data(), padded_rows_, column);
  }
  if (coded_distances_ && padding_column_ != kNoColumn) plan_product_steps();
  // Every pass reads codes then (the exp path of an occlusion serves columns without levels only).
  if (coded_distances_) std::vector<double>().swap(column_major_);
}

void KernelNeighbors::plan_product_steps() {
  // A unit is a column, or a category whose members each have a level in all of its columns; its
  // values are its codes (the padding code included), each standing for a level code per column.
  struct Group {
    std::vector<std::size_t> columns;       // ascending
    std::vector<std::uint8_t> level_codes;  // values x columns
    std::vector<std::uint8_t> row_codes;    // per padded row (interleaved)
    std::size_t values = 0;
    ProductStep::Codes source = ProductStep::Codes::kLevel;
    std::size_t index = 0;  // kLevel: the column, kCategory: the category
    bool merged = false;
  };
  const std::size_t columns = column_names_.size();
  std::vector<Group> groups;
  std::vector<std::uint8_t> members;
  for (std::size_t j = 0; j < columns;) {
    Group group;
    const std::size_t category = category_of_[j];
    if (category != kNoCategory && categories_[category].first == j &&
        member_level_codes(category, members)) {
      const Category& run = categories_[category];
      for (std::size_t k = 0; k < run.count; ++k) group.columns.push_back(j + k);
      group.level_codes = members;
      group.values = run.count;
      group.source = ProductStep::Codes::kCategory;
      group.index = category;
      const std::uint8_t* codes = category_codes_.data() + category * padded_rows_;
      group.row_codes.assign(codes, codes + padded_rows_);
      j += run.count;
    } else {
      group.columns.push_back(j);
      group.values = level_counts_[j] + (j == padding_column_ ? 1 : 0);
      for (std::size_t v = 0; v < group.values; ++v) {
        group.level_codes.push_back(static_cast<std::uint8_t>(v));
      }
      group.index = j;
      const std::uint8_t* codes = level_codes_.data() + j * padded_rows_;
      group.row_codes.assign(codes, codes + padded_rows_);
      ++j;
    }
    groups.push_back(std::move(group));
  }
  // The rows' combinations of two groups' codes: their count, and each row's combination.
  constexpr std::size_t kMostValues = 16;
  const auto combine = [&](const Group& a, const Group& b, std::vector<std::uint8_t>& combined,
                           std::vector<std::pair<std::uint8_t, std::uint8_t>>& pairs) {
    std::array<std::uint8_t, (detail::kMaxLevels + 1) * (detail::kMaxLevels + 1)> found;
    found.fill(0xFF);
    pairs.clear();
    combined.resize(padded_rows_);
    for (std::size_t i = 0; i < padded_rows_; ++i) {
      std::uint8_t& index = found[a.row_codes[i] * (detail::kMaxLevels + 1) + b.row_codes[i]];
      if (index == 0xFF) {
        if (pairs.size() == kMostValues) return false;
        index = static_cast<std::uint8_t>(pairs.size());
        pairs.emplace_back(a.row_codes[i], b.row_codes[i]);
      }
      combined[i] = index;
    }
    return true;
  };
  // Greedily, the two groups of at most 16 values whose union has the fewest combinations (ties:
  // the first pair in column order), while one has at most 16.
  std::vector<std::uint8_t> combined;
  std::vector<std::uint8_t> best_combined;
  std::vector<std::pair<std::uint8_t, std::uint8_t>> pairs;
  std::vector<std::pair<std::uint8_t, std::uint8_t>> best_pairs;
  for (;;) {
    std::size_t best_a = groups.size();
    std::size_t best_b = groups.size();
    for (std::size_t a = 0; a < groups.size(); ++a) {
      if (groups[a].values > kMostValues) continue;
      for (std::size_t b = a + 1; b < groups.size(); ++b) {
        if (groups[b].values > kMostValues) continue;
        if (!combine(groups[a], groups[b], combined, pairs)) continue;
        if (best_a == groups.size() || pairs.size() < best_pairs.size()) {
          best_a = a;
          best_b = b;
          best_combined.swap(combined);
          best_pairs.swap(pairs);
        }
      }
    }
    if (best_a == groups.size()) break;
    Group& a = groups[best_a];
    const Group& b = groups[best_b];
    // The union's columns ascending, each combination's level codes in that order.
    std::vector<std::size_t> union_columns = a.columns;
    union_columns.insert(union_columns.end(), b.columns.begin(), b.columns.end());
    std::sort(union_columns.begin(), union_columns.end());
    std::vector<std::uint8_t> level_codes;
    for (const auto& [value_a, value_b] : best_pairs) {
      for (const std::size_t column : union_columns) {
        const auto in_a = std::find(a.columns.begin(), a.columns.end(), column);
        if (in_a != a.columns.end()) {
          level_codes.push_back(
              a.level_codes[value_a * a.columns.size() + (in_a - a.columns.begin())]);
        } else {
          const auto in_b = std::find(b.columns.begin(), b.columns.end(), column);
          level_codes.push_back(
              b.level_codes[value_b * b.columns.size() + (in_b - b.columns.begin())]);
        }
      }
    }
    a.columns = std::move(union_columns);
    a.level_codes = std::move(level_codes);
    a.row_codes = best_combined;
    a.values = best_pairs.size();
    a.merged = true;
    groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(best_b));
  }
  std::sort(groups.begin(), groups.end(),
            [](const Group& a, const Group& b) { return a.columns.front() < b.columns.front(); });
  for (const Group& group : groups) {
    ProductStep step;
    step.values = group.values;
    step.first_column = product_columns_.size();
    step.columns = group.columns.size();
    step.first_code = product_codes_.size();
    product_columns_.insert(product_columns_.end(), group.columns.begin(), group.columns.end());
    product_codes_.insert(product_codes_.end(), group.level_codes.begin(), group.level_codes.end());
    if (group.merged) {
      step.codes = ProductStep::Codes::kGroup;
      step.index = group_codes_.size();
      group_codes_.insert(group_codes_.end(), group.row_codes.begin(), group.row_codes.end());
    } else {
      step.codes = group.source;
      step.index = group.index;
    }
    product_steps_.push_back(step);
  }
}

bool KernelNeighbors::member_level_codes(std::size_t category,
                                         std::vector<std::uint8_t>& codes) const {
  const Category& members = categories_[category];
  if (members.count > detail::kKernelLanes) return false;
  if (padding_column_ >= members.first && padding_column_ < members.first + members.count) {
    return false;
  }
  codes.resize(members.count * members.count);
  for (std::size_t v = 0; v < members.count; ++v) {
    for (std::size_t k = 0; k < members.count; ++k) {
      const std::size_t column = members.first + k;
      const double stored = (k == v ? 1.0 : 0.0) * column_weights_[column];
      const std::span<const double> values = levels_of(column);
      const auto level = std::lower_bound(values.begin(), values.end(), stored);
      // A member no reference row has: its column's levels lack the weight.
      if (level == values.end() || *level != stored) return false;
      codes[v * members.count + k] = static_cast<std::uint8_t>(level - values.begin());
    }
  }
  return true;
}

void KernelNeighbors::find_categories(const std::vector<std::size_t>& position) {
  const std::size_t columns = column_names_.size();
  const std::size_t rows = labels_.size();
  const auto is_flag = [&](std::size_t j) {
    for (std::size_t i = 0; i < rows; ++i) {
      const double value = reference_rows_[i * columns + j];
      if (value != 0.0 && value != 1.0) return false;
    }
    return true;
  };
  category_of_.assign(columns, kNoCategory);
  std::vector<int> ones(rows);
  for (std::size_t first = 0; first < columns;) {
    std::fill(ones.begin(), ones.end(), 0);
    std::size_t end = first;
    bool complete = false;
    while (end < columns && end - first < detail::kMaxLevels && is_flag(end)) {
      bool overlaps = false;
      for (std::size_t i = 0; i < rows && !overlaps; ++i) {
        overlaps = ones[i] + static_cast<int>(reference_rows_[i * columns + end]) > 1;
      }
      if (overlaps) break;
      for (std::size_t i = 0; i < rows; ++i) {
        ones[i] += static_cast<int>(reference_rows_[i * columns + end]);
      }
      ++end;
      complete = std::all_of(ones.begin(), ones.end(), [](int count) { return count == 1; });
      if (complete) break;
    }
    if (!complete || end - first < 2) {
      ++first;
      continue;
    }
    const std::size_t index = categories_.size();
    categories_.push_back({first, end - first});
    category_codes_.resize((index + 1) * padded_rows_, 0);
    for (std::size_t j = first; j < end; ++j) category_of_[j] = index;
    std::vector<std::uint8_t> linear(padded_rows_, 0);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = first; j < end; ++j) {
        if (reference_rows_[i * columns + j] == 1.0) {
          linear[position[i]] = static_cast<std::uint8_t>(j - first);
        }
      }
    }
    detail::interleave_codes(linear.data(), padded_rows_,
                             category_codes_.data() + index * padded_rows_);
    first = end;
  }
}

void KernelNeighbors::plan_distance_lookups(Scratch& scratch) const {
  // Each column's terms in one lookup, added in column order.
  scratch.distance_codes.clear();
  scratch.distance_terms.clear();
  scratch.distance_levels.clear();
  for (std::size_t j = 0; j < column_names_.size(); ++j) {
    scratch.distance_codes.push_back(level_codes_.data() + j * padded_rows_);
    scratch.distance_terms.push_back(scratch.term_values.data() + j * detail::kMaxLevels);
    scratch.distance_levels.push_back(level_counts_[j]);
  }
}

void KernelNeighbors::plan_product_lookups(Scratch& scratch) const {
  scratch.distance_codes.clear();
  scratch.step_tables.clear();
  scratch.distance_levels.clear();
  scratch.step_values.resize(product_steps_.size() * detail::kMaxLevels);
  for (std::size_t s = 0; s < product_steps_.size(); ++s) {
    const ProductStep& step = product_steps_[s];
    float* table = scratch.step_values.data() + s * detail::kMaxLevels;
    const std::uint8_t* codes = nullptr;
    if (step.codes == ProductStep::Codes::kLevel) {
      codes = level_codes_.data() + step.index * padded_rows_;
      const double* factors = scratch.factor_values.data() + step.index * detail::kMaxLevels;
      const std::size_t width = detail::lookup_width(step.values);
      for (std::size_t v = 0; v < width; ++v) table[v] = static_cast<float>(factors[v]);
    } else {
      codes = step.codes == ProductStep::Codes::kCategory
                  ? category_codes_.data() + step.index * padded_rows_
                  : group_codes_.data() + step.index;
      // Each value's factors, one per column of the step, multiplied in column order from 1.
      const std::size_t* columns = product_columns_.data() + step.first_column;
      const std::uint8_t* level_codes = product_codes_.data() + step.first_code;
      for (std::size_t v = 0; v < step.values; ++v) {
        double product = 1.0;
        for (std::size_t k = 0; k < step.columns; ++k) {
          product *= scratch.factor_values[columns[k] * detail::kMaxLevels +
                                           level_codes[v * step.columns + k]];
        }
        table[v] = static_cast<float>(product);
      }
    }
    scratch.distance_codes.push_back(codes);
    scratch.step_tables.push_back(table);
    scratch.distance_levels.push_back(static_cast<std::uint8_t>(step.values));
  }
}

KernelNeighbors::Votes KernelNeighbors::weights_of(std::span<const double> row,
                                                   Scratch& scratch) const {
  const std::size_t columns = column_weights_.size();
  scratch.weighted.resize(columns);
  for (std::size_t j = 0; j < columns; ++j) scratch.weighted[j] = row[j] * column_weights_[j];
  scratch.distances.resize(padded_rows_);
  scratch.weights.resize(padded_rows_);
  if (coded_distances_) {
    scratch.term_values.resize(columns * detail::kMaxLevels);
    scratch.factor_values.resize(columns * detail::kMaxLevels);
    scratch.minima.resize(columns);
    detail::row_factors(level_table_.data(), level_counts_, scratch.weighted.data(), gamma_,
                        scratch.term_values.data(), scratch.factor_values.data(),
                        scratch.minima.data());
    // Each weight a product of the columns' factors, relative to the sum of the columns' smallest
    // terms (at most the nearest row's distance), unless the pseudo-votes dwarf every row from
    // there: a row far from every reference row keeps the offset below, which its explanations
    // need (their exponents would otherwise lose their digits to the cancellation of two large
    // terms).
    double offset = 0.0;
    for (const double least : scratch.minima) offset += least;
    if (padding_column_ != kNoColumn &&
        -(gamma_ * (prior_distance_ - offset)) <= kLargestExponent) {
      plan_product_lookups(scratch);
      const detail::KernelSums products = detail::coded_products(
          scratch.distance_codes, scratch.step_tables, scratch.distance_levels, positive_part_,
          padded_rows_, scratch.weights.data());
      // Each label's sum plus the pseudo-votes at least kFloatVanishing: what the single-precision
      // weights lost to underflow is below 1e-10 of what it would have been added to, and so are
      // the pseudo-votes if they underflowed (a model of one label has only them on one side).
      const double pseudo_votes =
          prior_ * detail::kernel_exp(-(gamma_ * (prior_distance_ - offset)));
      const bool positives_kept = products.positive + pseudo_votes >= kFloatVanishing;
      const bool negatives_kept = products.negative + pseudo_votes >= kFloatVanishing;
      if (positives_kept && negatives_kept) {
        scratch.offset = offset;
        return {products.positive, products.negative};
      }
      // A label's weights vanishingly small against that offset (a row near each column's levels
      // but near none of that label's rows at once, or not finite): relative to the nearest row
      // instead, by the distances and an exp each.
    }
    plan_distance_lookups(scratch);
    const double smallest =
        detail::coded_distances(scratch.distance_codes, scratch.distance_terms,
                                scratch.distance_levels, padded_rows_, scratch.distances.data());
    if (padding_column_ != kNoColumn) {
      scratch.offset = std::min(smallest, prior_distance_);
      const auto sums =
          detail::kernel_weights(scratch.distances.data(), positive_part_, padded_rows_,
                                 scratch.offset, gamma_, scratch.weights.data());
      return {sums.positive, sums.negative};
    }
  } else {
    detail::squared_distances(scratch.weighted, column_major_, padded_rows_, 0, padded_rows_,
                              scratch.distances.data());
  }
  // The padding rows weigh nothing.
  const auto infinity = std::numeric_limits<double>::infinity();
  const auto negatives_end =
      static_cast<std::ptrdiff_t>(positive_part_ + labels_.size() - positive_rows_);
  std::fill(scratch.distances.begin() + static_cast<std::ptrdiff_t>(positive_rows_),
            scratch.distances.begin() + static_cast<std::ptrdiff_t>(positive_part_), infinity);
  std::fill(scratch.distances.begin() + negatives_end, scratch.distances.end(), infinity);
  scratch.offset =
      std::min(detail::smallest(scratch.distances.data(), padded_rows_), prior_distance_);
  const auto sums = detail::kernel_weights(scratch.distances.data(), positive_part_, padded_rows_,
                                           scratch.offset, gamma_, scratch.weights.data());
  return {sums.positive, sums.negative};
}

double KernelNeighbors::margin_from(double positive, double negative, double prior_exponent) const {
  if (prior_exponent > kLargestExponent) return 0.0;
  const double pseudo_votes = prior_ * detail::kernel_exp(prior_exponent);
  return detail::kernel_log((positive + pseudo_votes) / (negative + pseudo_votes));
}

double KernelNeighbors::margin(std::span<const double> row) const {
  return margin_of(row, scratch_of_thread());
}

double KernelNeighbors::margin_of(std::span<const double> row, Scratch& scratch) const {
  const auto sums = weights_of(row, scratch);
  return margin_from(sums.positive, sums.negative, -(gamma_ * (prior_distance_ - scratch.offset)));
}

Estimator::Explanation KernelNeighbors::explain(std::span<const double> row,
                                                std::span<double> out) const {
  Scratch& scratch = scratch_of_thread();
  if (scratch.identity.size() != column_weights_.size()) {
    scratch.identity.resize(column_weights_.size());
    for (std::size_t j = 0; j < scratch.identity.size(); ++j) scratch.identity[j] = j;
  }
  // explain_groups() uses the same scratch but leaves identity as it is.
  return explain_groups(row, scratch.identity, out);
}

namespace {

// A lookup table's room in Scratch::table_values: what table_sums() reads of it.
std::size_t table_room(std::size_t values, std::size_t tables_of_the_group) {
  return tables_of_the_group == 1 ? detail::lookup_width(values) : detail::kMaxLevels;
}

}  // namespace

void KernelNeighbors::plan_occlusions(std::span<const std::size_t> group_of, std::size_t groups,
                                      Scratch& scratch) const {
  // Occluding column j adds 2 (X_j - M_j) T_ij + M_j^2 - X_j^2 to each squared distance. Each
  // column's part is shifted by its smallest value over the rows, so every factor is at most 1;
  // the shifts and the constants, `lowest` in all, move to the pseudo-votes' exponent.
  // One pass over the columns: each group's moved columns, in column order, in its run of `moved`.
  const auto is_moved = [&](std::size_t j) {
    return group_of[j] < groups && scratch.weighted[j] != weighted_means_[j];
  };
  scratch.occlusions.assign(groups, Occlusion{});
  for (std::size_t j = 0; j < group_of.size(); ++j) {
    if (is_moved(j)) ++scratch.occlusions[group_of[j]].moved_count;
  }
  std::size_t moved_columns = 0;
  for (Occlusion& occlusion : scratch.occlusions) {
    occlusion.first_moved = moved_columns;
    moved_columns += occlusion.moved_count;
    occlusion.moved_count = 0;  // counted again as the columns are placed
  }
  scratch.moved.resize(moved_columns);
  for (std::size_t j = 0; j < group_of.size(); ++j) {
    if (!is_moved(j)) continue;
    Occlusion& occlusion = scratch.occlusions[group_of[j]];
    const double value = scratch.weighted[j];
    const double mean = weighted_means_[j];
    const double slope = 2.0 * (value - mean);
    const double smallest = std::min(slope * weighted_minima_[j], slope * weighted_maxima_[j]);
    occlusion.constant += mean * mean - value * value;
    occlusion.lowest += (mean * mean - value * value) + smallest;
    scratch.moved[occlusion.first_moved + occlusion.moved_count++] = {j, slope, smallest};
    occlusion.every_column_has_levels = occlusion.every_column_has_levels && level_counts_[j] != 0;
    occlusion.one_category =
        occlusion.one_category && category_of_[j] != kNoCategory &&
        (occlusion.category == kNoCategory || occlusion.category == category_of_[j]);
    occlusion.category = category_of_[j];
  }
  // Each group's path, and where its tables go.
  std::size_t tables = 0;
  for (std::size_t g = 0; g < groups; ++g) {
    Occlusion& occlusion = scratch.occlusions[g];
    occlusion.first_table = tables;
    if (occlusion.moved_count == 0) {
      // The row itself: no column of the group is away from its mean.
      occlusion.path = Occlusion::Path::kUnmoved;
    } else if (occlusion.one_category) {
      occlusion.path = Occlusion::Path::kCategory;
      tables += table_room(categories_[occlusion.category].count, 1);
    } else if (occlusion.every_column_has_levels) {
      occlusion.path = Occlusion::Path::kTables;
      for (std::size_t m = 0; m < occlusion.moved_count; ++m) {
        const std::size_t j = scratch.moved[occlusion.first_moved + m].column;
        tables += table_room(level_counts_[j], occlusion.moved_count);
      }
    } else {
      occlusion.path = Occlusion::Path::kExps;
    }
  }
  // The exponents of the factors in every table.
  scratch.table_values.assign(tables, 0.0);
  for (const Occlusion& occlusion : scratch.occlusions) {
    const std::span<const Scratch::MovedColumn> moved(scratch.moved.data() + occlusion.first_moved,
                                                      occlusion.moved_count);
    double* exponents = scratch.table_values.data() + occlusion.first_table;
    if (occlusion.path == Occlusion::Path::kCategory) {
      // Moved columns all of one category: one factor per member of the category. A row of
      // member v has column j at its weight when v is j's place, at 0 otherwise.
      const Category& members = categories_[occlusion.category];
      for (const auto& [j, slope, smallest] : moved) {
        for (std::size_t v = 0; v < members.count; ++v) {
          const double stored = v == j - members.first ? column_weights_[j] : 0.0;
          exponents[v] += -(gamma_ * (slope * stored - smallest));
        }
      }
    } else if (occlusion.path == Occlusion::Path::kTables) {
      // A table per column.
      for (const auto& [j, slope, smallest] : moved) {
        const std::span<const double> levels = levels_of(j);
        for (std::size_t v = 0; v < levels.size(); ++v) {
          exponents[v] = -(gamma_ * (slope * levels[v] - smallest));
        }
        exponents += table_room(level_counts_[j], moved.size());
      }
    }
  }
}

KernelNeighbors::Votes KernelNeighbors::occluded_sums(const Occlusion& occlusion,
                                                      Scratch& scratch) const {
  const std::span<const Scratch::MovedColumn> moved(scratch.moved.data() + occlusion.first_moved,
                                                    occlusion.moved_count);
  const double* tables = scratch.table_exps.data() + occlusion.first_table;
  // The tables rounded to float for table_sums(), kMaxLevels values each.
  const auto round_tables = [&](std::size_t count) {
    scratch.float_tables.assign(count * detail::kMaxLevels, 0.0F);
    scratch.tables.clear();
    for (std::size_t t = 0; t < count; ++t) {
      scratch.tables.push_back(scratch.float_tables.data() + t * detail::kMaxLevels);
    }
  };
  detail::KernelSums sums;
  if (occlusion.path == Occlusion::Path::kCategory) {
    const std::size_t members = categories_[occlusion.category].count;
    round_tables(1);
    for (std::size_t v = 0; v < table_room(members, 1); ++v) {
      scratch.float_tables[v] = static_cast<float>(tables[v]);
    }
    const std::uint8_t* codes[] = {category_codes_.data() + occlusion.category * padded_rows_};
    const std::uint8_t levels[] = {static_cast<std::uint8_t>(members)};
    sums = detail::table_sums(scratch.weights.data(), codes, scratch.tables, levels, positive_part_,
                              padded_rows_);
  } else if (occlusion.path == Occlusion::Path::kTables) {
    round_tables(moved.size());
    scratch.codes.clear();
    scratch.levels.clear();
    float* rounded = scratch.float_tables.data();
    for (const auto& [j, slope, smallest] : moved) {
      scratch.codes.push_back(level_codes_.data() + j * padded_rows_);
      scratch.levels.push_back(level_counts_[j]);
      const std::size_t room = table_room(level_counts_[j], moved.size());
      for (std::size_t v = 0; v < room; ++v) rounded[v] = static_cast<float>(tables[v]);
      tables += room;
      rounded += detail::kMaxLevels;
    }
    sums = detail::table_sums(scratch.weights.data(), scratch.codes, scratch.tables, scratch.levels,
                              positive_part_, padded_rows_);
  } else {
    // Each moved distance less `lowest`: d_i + sum_j slope_j T_ij - sum_j smallest_j.
    scratch.columns.clear();
    scratch.slopes.clear();
    for (const auto& [j, slope, smallest] : moved) {
      scratch.columns.push_back(column_major_.data() + j * padded_rows_);
      scratch.slopes.push_back(slope);
    }
    sums = detail::kernel_sums(scratch.distances.data(), scratch.columns, scratch.slopes,
                               occlusion.constant - occlusion.lowest, positive_part_, padded_rows_,
                               scratch.offset, gamma_);
  }
  return {sums.positive, sums.negative};
}

Estimator::Explanation KernelNeighbors::explain_groups(std::span<const double> row,
                                                       std::span<const std::size_t> group_of,
                                                       std::span<double> out) const {
  if (!std::all_of(row.begin(), row.end(), [](double value) { return std::isfinite(value); })) {
    const double baseline = group_occlusion_contributions(*this, row, column_means_, group_of, out);
    return {margin(row), baseline};
  }
  Scratch& scratch = scratch_of_thread();
  const Votes votes = weights_of(row, scratch);
  const double margin =
      margin_from(votes.positive, votes.negative, -(gamma_ * (prior_distance_ - scratch.offset)));
  // Every group's occlusion planned first, so the exps of all their lookup tables are one pass.
  plan_occlusions(group_of, out.size(), scratch);
  scratch.table_exps.resize(scratch.table_values.size());
  detail::kernel_exps(scratch.table_values.data(), scratch.table_values.size(),
                      scratch.table_exps.data());
  // Each group's sums, then the pseudo-votes' exps of all groups in one vector pass, and the logs
  // of all their ratios in another: margin_from()'s values, group by group.
  const std::size_t groups = out.size();
  const std::size_t room = groups + detail::kKernelLanes;
  scratch.occluded.resize(room);
  scratch.prior_exponents.assign(room, 0.0);
  scratch.pseudo_exps.resize(room);
  scratch.ratios.assign(room, 1.0);
  scratch.from_log.assign(groups, 0);
  for (std::size_t group = 0; group < groups; ++group) {
    const Occlusion& occlusion = scratch.occlusions[group];
    if (occlusion.path == Occlusion::Path::kUnmoved) continue;
    scratch.occluded[group] = occluded_sums(occlusion, scratch);
    scratch.prior_exponents[group] =
        -(gamma_ * (prior_distance_ - scratch.offset - occlusion.lowest));
  }
  detail::kernel_exps(scratch.prior_exponents.data(), groups, scratch.pseudo_exps.data());
  for (std::size_t group = 0; group < groups; ++group) {
    const Occlusion& occlusion = scratch.occlusions[group];
    out[group] = 0.0;
    if (occlusion.path == Occlusion::Path::kUnmoved) continue;
    const Votes& sums = scratch.occluded[group];
    const double prior_exponent = scratch.prior_exponents[group];
    const double pseudo_votes =
        prior_exponent > kLargestExponent ? 1.0 : prior_ * scratch.pseudo_exps[group];
    // Where one label's weights and the pseudo-votes came out vanishingly small (a row far from
    // every reference row, brought near by the occlusion, or near no row of that label), the
    // factors lost what underflowed, and the ratio would be 0 or infinite: the margin of the
    // occluded row itself, then.
    if (!(sums.positive + pseudo_votes > kFloatVanishing) ||
        !(sums.negative + pseudo_votes > kFloatVanishing)) {
      thread_local std::vector<double> occluded;
      occluded.assign(row.begin(), row.end());
      for (std::size_t j = 0; j < group_of.size(); ++j) {
        if (group_of[j] == group) occluded[j] = column_means_[j];
      }
      const double defined = margin_of(occluded, definition_scratch());
      out[group] = std::isnan(defined) ? 0.0 : margin - defined;
      continue;
    }
    // The pseudo-votes dwarf any sum: the prior's margin, 0.
    if (prior_exponent > kLargestExponent) {
      out[group] = margin;
      continue;
    }
    scratch.ratios[group] = (sums.positive + pseudo_votes) / (sums.negative + pseudo_votes);
    scratch.from_log[group] = 1;
  }
  scratch.logs.resize(room);
  detail::kernel_logs(scratch.ratios.data(), groups, scratch.logs.data());
  double total = 0.0;
  for (std::size_t group = 0; group < groups; ++group) {
    if (scratch.from_log[group] != 0) {
      const double occluded = scratch.logs[group];
      out[group] = std::isnan(occluded) ? 0.0 : margin - occluded;
    }
    total += out[group];
  }
  return {margin, margin - total};
}

nlohmann::json KernelNeighbors::to_json() const {
  nlohmann::json estimator{
      {"type", type()}, {"gamma", gamma_}, {"prior", prior_}, {"prior_distance", prior_distance_}};
  detail::write_reference_set(estimator, column_names_, reference_rows_, labels_, column_weights_);
  return estimator;
}

std::unique_ptr<const KernelNeighbors> KernelNeighbors::read(
    const JsonReader& estimator, const std::vector<std::string>& columns) {
  estimator.only_keys(
      {"type", "gamma", "prior", "prior_distance", "columns", "labels", "rows", "column_weights"});
  const JsonReader gamma_json = estimator["gamma"];
  const double gamma = gamma_json.finite_number();
  if (!(gamma > 0.0)) gamma_json.fail(fmt::format("must be > 0, got {}", gamma));
  const JsonReader prior_json = estimator["prior"];
  const double prior = prior_json.finite_number();
  if (!(prior > 0.0)) prior_json.fail(fmt::format("must be > 0, got {}", prior));
  const JsonReader prior_distance_json = estimator["prior_distance"];
  const double prior_distance = prior_distance_json.finite_number();
  if (!(prior_distance >= 0.0)) {
    prior_distance_json.fail(fmt::format("must be >= 0, got {}", prior_distance));
  }
  auto names = detail::read_columns(estimator["columns"], columns);
  std::size_t row_count = 0;
  auto rows = detail::read_rows(estimator["rows"], names.size(), row_count);
  if (row_count == 0) estimator["rows"].fail("must hold at least one row");
  auto labels = detail::read_labels(estimator["labels"], row_count);
  auto column_weights = detail::read_column_weights(estimator, names.size());
  return std::make_unique<KernelNeighbors>(std::move(names), std::move(rows), std::move(labels),
                                           gamma, prior, prior_distance, std::move(column_weights));
}

}  // namespace nbo::models
