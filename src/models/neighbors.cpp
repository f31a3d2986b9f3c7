#include "nbo/models/neighbors.hpp"

#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "estimator_json.hpp"
#include "reference_set.hpp"
#include "row_distances.hpp"

namespace nbo::models {
namespace detail {

// A candidate neighbour; ordered by distance, then by row index (the lower index wins ties).
struct Neighbor {
  double squared_distance;
  std::size_t index;
};

// How contributions() treats one column.
struct ColumnPlan {
  bool occluded = false;   // false: the row holds the column's mean
  double slope = 0.0;      // estimate of reference row i: d_i - slope * t_i (plus a constant)
  double slack = 0.0;      // bound on the rounding of an estimate
  double threshold = 0.0;  // rows estimated above it cannot be among the k nearest
  double reach = 0.0;      // rows of a larger base distance are estimated above threshold
};

// Buckets of base distances that order the rows contributions() scans.
constexpr std::size_t kReachBuckets = 64;

// Per-thread buffers of contributions(), so no allocation once they have grown.
struct ContributionScratch {
  std::vector<ColumnPlan> plans;
  std::vector<std::uint8_t> buckets;     // per row, its bucket (kReachBuckets: out of reach)
  std::vector<std::uint32_t> reachable;  // rows that some column may keep, by bucket
  std::vector<double> distances;         // squared distance of the row to every reference row
  std::vector<Neighbor> nearest;         // the row's k nearest
  // Rows that may be among the k nearest of an occluded row: their estimates and indices.
  std::vector<double> kept_estimates;
  std::vector<std::size_t> kept_rows;
  std::vector<Neighbor> candidates;  // those that can be, with their exact distances
  std::vector<double> weighted;      // the row times the column weights
  std::vector<double> occluded;      // that, with one column set to its weighted mean
  // Set by explain(): whether `weighted`, `distances` and `nearest` hold the last row's finite
  // values (its fast path), which explain_groups() then reuses; and the largest distance.
  bool distances_usable = false;
  double farthest = 0.0;
  std::vector<std::size_t> group_columns;  // explain_groups(): the columns of one group
  std::vector<double> by_column;           // explain_groups(): explain()'s column contributions
  // Columns explain_columns() leaves at 0 (explain_groups() occludes them with their group);
  // empty: none.
  std::vector<std::uint8_t> skip;
  std::vector<std::size_t> group_sizes;
  std::vector<const double*> moved_columns;  // group_occluded_margin(): the group's columns
  std::vector<double> moved_slopes;          // and their slopes
  std::vector<double> selection_first;       // margin_of_kept(): kth_smallest()'s buffers
  std::vector<double> selection_second;
};

// Rows within reach bucketed by base distance: bucket b holds the rows whose squared distance
// falls in the b-th of kReachBuckets equal slices of [closest, reach].
struct ReachOrder {
  double closest = 0.0;
  double buckets_per_distance = 0.0;
  // After order_by_distance(): the start of each bucket in ContributionScratch::reachable; the
  // last is the start of the rows out of reach, the end of the last bucket within reach.
  std::array<std::uint32_t, kReachBuckets + 1> starts{};

  // The bucket of one distance, by the kernel that buckets every row (order_by_distance()), so
  // a column's reach falls in the bucket its rows were counted in.
  std::size_t bucket(double squared_distance) const {
    std::uint8_t bucket = 0;
    reach_buckets(&squared_distance, 1, closest, buckets_per_distance, squared_distance,
                  static_cast<std::uint8_t>(kReachBuckets - 1), &bucket);
    return bucket;
  }
  // How many rows of ContributionScratch::reachable a column of this reach scans.
  std::size_t reachable_count(double reach) const { return starts[bucket(reach) + 1]; }
};

}  // namespace detail

namespace {

using detail::ColumnPlan;
using detail::ContributionScratch;
using detail::Neighbor;
using detail::ReachOrder;

// A function object rather than a function, so the standard algorithms inline it.
constexpr auto closer = [](const Neighbor& a, const Neighbor& b) {
  if (a.squared_distance != b.squared_distance) return a.squared_distance < b.squared_distance;
  return a.index < b.index;
};

// Offers `candidate` to `heap`, a max-heap (by closer()) of the at most k closest rows offered so
// far. `worst` becomes the squared distance of the k-th closest once there are k: a row farther
// than it cannot enter.
void offer(std::vector<Neighbor>& heap, std::size_t k, const Neighbor& candidate, double& worst) {
  if (heap.size() < k) {
    heap.push_back(candidate);
    std::push_heap(heap.begin(), heap.end(), closer);
    if (heap.size() == k) worst = heap.front().squared_distance;
  } else if (closer(candidate, heap.front())) {
    std::pop_heap(heap.begin(), heap.end(), closer);
    heap.back() = candidate;
    std::push_heap(heap.begin(), heap.end(), closer);
    worst = heap.front().squared_distance;
  }
}

// The k-th smallest of `values` (1 <= k <= values.size()); NaN if any value is NaN. Quickselect
// with branchless partitions that write each side to the front and back of a second buffer (the
// two vectors are scratch): the branches of std::nth_element's partitions are mispredicted about
// half the time on these short arrays, and an in-place branchless partition waits on its own
// stores, which dominated the selection.
double kth_smallest(std::span<const double> values, std::size_t k, std::vector<double>& first,
                    std::vector<double>& second) {
  bool any_nan = false;
  for (const double value : values) any_nan |= std::isnan(value);
  if (any_nan) return std::numeric_limits<double>::quiet_NaN();
  first.assign(values.begin(), values.end());
  second.resize(values.size());
  // The values still in play are `count` values at `current`, inside one of the two buffers;
  // each split writes them to the other.
  double* buffers[2] = {first.data(), second.data()};
  int in = 0;
  double* current = buffers[0];
  std::size_t count = values.size();
  std::size_t target = k - 1;
  // Writes `size` values from `source` to `out`: those for which `before` holds to the front,
  // the others to the back; returns how many went to the front.
  const auto split = [](const double* source, std::size_t size, double* out, auto before) {
    std::size_t front = 0;
    std::size_t back = size;
    for (std::size_t i = 0; i < size; ++i) {
      const double value = source[i];
      const bool goes_front = before(value);
      out[front] = value;
      out[back - 1] = value;
      front += goes_front ? 1 : 0;
      back -= goes_front ? 0 : 1;
    }
    return front;
  };
  while (count > 16) {
    const double low = current[0];
    const double middle = current[count / 2];
    const double high = current[count - 1];
    const double pivot = std::max(std::min(low, middle), std::min(std::max(low, middle), high));
    double* const other = buffers[1 - in];
    const std::size_t below =
        split(current, count, other, [pivot](double value) { return value < pivot; });
    if (target < below) {
      in = 1 - in;
      current = other;
      count = below;
      continue;
    }
    // The pivot is one of the values, so at least one is at it: every round shrinks the range.
    double* const back = buffers[in];
    const std::size_t at =
        split(other + below, count - below, back, [pivot](double value) { return value <= pivot; });
    if (target - below < at) return pivot;
    target -= below + at;
    count -= below + at;
    current = back + at;
  }
  std::sort(current, current + count);
  return current[target];
}

double square(double value) {
  return value * value;
}

// The explanation buffers of this thread, shared by explain() and explain_groups().
ContributionScratch& contribution_scratch() {
  thread_local ContributionScratch scratch;
  return scratch;
}

// Rounding slack of the distance estimates: a generous multiple of the terms' magnitudes.
double estimate_tolerance(std::size_t columns) {
  return 8.0 * static_cast<double>(columns + 8) * std::numeric_limits<double>::epsilon();
}

// A neighbour whose estimated squared distance is below this many slacks gets its exact distance:
// its vote weight 1 / distance would magnify the estimate's rounding. Above it, the weight's
// relative error stays below 1 / (2 kExactDistanceBelow).
constexpr double kExactDistanceBelow = 1e8;

std::string_view weighting_name(NearestNeighbors::Weighting weighting) {
  return weighting == NearestNeighbors::Weighting::kUniform ? "uniform" : "distance";
}

}  // namespace

NearestNeighbors::NearestNeighbors(std::vector<std::string> column_names,
                                   std::vector<double> reference_rows,
                                   std::vector<std::uint8_t> labels, int k, Weighting weighting,
                                   std::vector<double> column_weights)
    : column_names_(std::move(column_names)),
      reference_rows_(std::move(reference_rows)),
      labels_(std::move(labels)),
      column_weights_(std::move(column_weights)),
      k_(k),
      weighting_(weighting) {
  detail::check_reference_set("k-nearest-neighbours", column_names_, reference_rows_, labels_,
                              column_weights_);
  const std::size_t columns = column_names_.size();
  const std::size_t rows = labels_.size();
  if (k_ < 1) throw std::invalid_argument(fmt::format("k must be >= 1, is {}", k_));
  if (static_cast<std::size_t>(k_) > rows) {
    throw std::invalid_argument(
        fmt::format("k is {} but there are only {} reference rows", k_, rows));
  }
  if (weighting_ != Weighting::kUniform && weighting_ != Weighting::kDistance) {
    throw std::invalid_argument("unknown k-nearest-neighbours weighting");
  }
  column_means_ = detail::column_means(reference_rows_, columns);
  // Distances, and the bounds of contributions(), live in the weighted space: row-major for the
  // exact distance of one row, column-major for the blocked pass over all rows.
  weighted_rows_ = reference_rows_;
  weighted_means_ = column_means_;
  for (std::size_t j = 0; j < columns; ++j) weighted_means_[j] *= column_weights_[j];
  column_minima_.assign(columns, std::numeric_limits<double>::infinity());
  column_maxima_.assign(columns, -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < columns; ++j) {
      double& value = weighted_rows_[i * columns + j];
      value *= column_weights_[j];
      column_minima_[j] = std::min(column_minima_[j], value);
      column_maxima_[j] = std::max(column_maxima_[j], value);
    }
  }
  column_major_ = detail::to_column_major(weighted_rows_, rows, columns);
}

void NearestNeighbors::weigh(std::span<const double> row, std::vector<double>& out) const {
  out.resize(column_weights_.size());
  for (std::size_t j = 0; j < out.size(); ++j) out[j] = row[j] * column_weights_[j];
}

double NearestNeighbors::margin(std::span<const double> row) const {
  // Reused by the thread, so no allocation once they have grown.
  thread_local std::vector<double> weighted_scratch;
  thread_local std::vector<double> distances_scratch;
  thread_local std::vector<Neighbor> nearest_scratch;
  std::vector<double>& weighted_row = weighted_scratch;
  weigh(row, weighted_row);
  std::vector<double>& distances = distances_scratch;
  const std::size_t rows = labels_.size();
  distances.resize(rows);
  detail::squared_distances(weighted_row, column_major_, rows, 0, rows, distances.data());
  select_nearest(distances, nearest_scratch);
  return vote_margin(nearest_scratch);
}

void NearestNeighbors::select_nearest(std::span<const double> distances,
                                      std::vector<Neighbor>& nearest) const {
  const std::size_t rows = distances.size();
  const auto k = static_cast<std::size_t>(k_);
  thread_local std::vector<double> sample_scratch;
  thread_local std::vector<double> first_scratch;
  thread_local std::vector<double> second_scratch;
  thread_local std::vector<double> kept_distances_scratch;
  thread_local std::vector<std::size_t> kept_rows_scratch;
  // Any k rows bound the k-th smallest distance by their largest: the k-th smallest of every
  // stride-th row (a sample spread over the file's order) bounds it, and one vectorized pass keeps
  // the few rows within that bound (ties at the bound included), among which the k nearest are
  // chosen by (distance, row index).
  std::vector<double>& sample = sample_scratch;
  sample.clear();
  const std::size_t stride = std::max<std::size_t>(1, rows / (8 * k));
  for (std::size_t i = 0; i < rows; i += stride) sample.push_back(distances[i]);
  const double bound = kth_smallest(sample, k, first_scratch, second_scratch);
  std::vector<double>& kept_distances = kept_distances_scratch;
  std::vector<std::size_t>& kept_rows = kept_rows_scratch;
  kept_distances.resize(rows + detail::kEstimatePadding);
  kept_rows.resize(rows + detail::kEstimatePadding);
  const std::size_t kept_count = detail::estimates_at_most(distances.data(), {}, {}, rows, bound,
                                                           kept_distances.data(), kept_rows.data());
  nearest.clear();
  if (kept_count < k) {
    // Only when distances are NaN (a non-finite row): offer every row in turn.
    double worst = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < rows; ++i) {
      if (distances[i] > worst) continue;
      offer(nearest, k, Neighbor{distances[i], i}, worst);
    }
    return;
  }
  // The k-th smallest distance among the kept rows, then the rows closer than it and, of those
  // at it, the lowest indices (kept is in row order): the k nearest by (distance, row index).
  const double kth_distance = kth_smallest(
      std::span<const double>(kept_distances.data(), kept_count), k, first_scratch, second_scratch);
  for (std::size_t i = 0; i < kept_count; ++i) {
    if (kept_distances[i] < kth_distance) {
      nearest.push_back(Neighbor{kept_distances[i], kept_rows[i]});
    }
  }
  for (std::size_t i = 0; i < kept_count && nearest.size() < k; ++i) {
    if (kept_distances[i] == kth_distance) {
      nearest.push_back(Neighbor{kept_distances[i], kept_rows[i]});
    }
  }
}

double NearestNeighbors::vote_margin(std::span<Neighbor> nearest) const {
  // Nearest first, so the sums run in an order that depends on the neighbours only.
  std::sort(nearest.begin(), nearest.end(), closer);
  return vote_margin_in_order(nearest);
}

double NearestNeighbors::vote_margin_in_order(std::span<const Neighbor> nearest) const {
  double positive = 0.0;
  double negative = 0.0;
  for (const Neighbor& neighbor : nearest) {
    const double weight = weighting_ == Weighting::kUniform
                              ? 1.0
                              : 1.0 / std::max(std::sqrt(neighbor.squared_distance), 1e-9);
    (labels_[neighbor.index] != 0 ? positive : negative) += weight;
  }
  // s = positive / total; p = (k s + 0.5) / (k + 1); logit(p) = log((k s + 0.5) / (k (1 - s) +
  // 0.5)), with 1 - s taken as negative / total so it is exact for small s.
  const double total = positive + negative;
  const double kd = static_cast<double>(k_);
  return std::log((kd * (positive / total) + 0.5) / (kd * (negative / total) + 0.5));
}

Estimator::Explanation NearestNeighbors::explain(std::span<const double> row,
                                                 std::span<double> out) const {
  contribution_scratch().skip.clear();
  return explain_columns(row, out);
}

Estimator::Explanation NearestNeighbors::explain_columns(std::span<const double> row,
                                                         std::span<double> out) const {
  const std::size_t rows = labels_.size();
  const std::size_t columns = column_names_.size();
  ContributionScratch& scratch = contribution_scratch();
  scratch.distances_usable = false;
  // The rounding slack of the bounds assumes finite values; anything else takes the definition.
  if (!std::all_of(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(columns),
                   [](double value) { return std::isfinite(value); })) {
    return {margin(row), occlusion_contributions(*this, row, column_means_, out)};
  }
  // Everything below is in the weighted space, where the row and the means are multiplied by the
  // column weights exactly as margin() multiplies the row, so the distances are margin()'s.
  weigh(row, scratch.weighted);
  const double full = nearest_of_all(scratch);
  const double farthest =
      Eigen::Map<const Eigen::ArrayXd>(scratch.distances.data(), static_cast<Eigen::Index>(rows))
          .maxCoeff();
  // Distances that overflowed leave no room for the bounds.
  if (!std::isfinite(farthest)) {
    return {full, occlusion_contributions(*this, row, column_means_, out)};
  }
  scratch.distances_usable = true;
  scratch.farthest = farthest;
  const double reach = plan_occlusions(farthest, scratch);
  const ReachOrder order = order_by_distance(reach, scratch);
  scratch.occluded.assign(scratch.weighted.begin(), scratch.weighted.end());
  scratch.kept_estimates.resize(rows + detail::kEstimatePadding);
  scratch.kept_rows.resize(rows + detail::kEstimatePadding);
  double sum = 0.0;
  for (std::size_t j = 0; j < columns; ++j) {
    if (!scratch.plans[j].occluded) {
      out[j] = 0.0;
      continue;
    }
    out[j] = full - occluded_margin(j, order, scratch);
    sum += out[j];
  }
  return {full, full - sum};
}

double NearestNeighbors::nearest_of_all(ContributionScratch& scratch) const {
  const std::size_t rows = labels_.size();
  std::vector<double>& distances = scratch.distances;
  distances.resize(rows);
  detail::squared_distances(scratch.weighted, column_major_, rows, 0, rows, distances.data());
  select_nearest(distances, scratch.nearest);
  return vote_margin(scratch.nearest);
}

double NearestNeighbors::plan_occlusions(double farthest, ContributionScratch& scratch) const {
  const std::size_t rows = labels_.size();
  const std::size_t columns = column_names_.size();
  // Occluding column j (value x, mean m) moves the squared distance d_i to reference row i, of
  // value t_i there, to d_i + (m - x) (m + x - 2 t_i): an estimate d_i - 2 (m - x) t_i plus a
  // constant, computed in another order than margin() would and so off by a few ulps of the
  // terms' magnitudes. `tolerance` times their largest possible size bounds that generously.
  const double tolerance = estimate_tolerance(columns);
  // Per column: the estimate a row must not exceed to be kept (see below), and the base
  // distance none of the kept rows can exceed, as estimate = d_i - slope t_i with t_i inside
  // the column's range.
  std::vector<ColumnPlan>& plans = scratch.plans;
  plans.assign(columns, ColumnPlan{});
  double reach = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < columns; ++j) {
    const double value = scratch.weighted[j];
    const double mean = weighted_means_[j];
    // Equal: the occluded row is the row itself, its contribution 0.
    if (value == mean || (!scratch.skip.empty() && scratch.skip[j] != 0)) continue;
    ColumnPlan& plan = plans[j];
    plan.occluded = true;
    const double shift = mean - value;
    plan.slope = 2.0 * shift;
    const double magnitude = std::max(std::abs(column_minima_[j]), std::abs(column_maxima_[j]));
    plan.slack = tolerance * (farthest + square(std::abs(mean) + magnitude) +
                              square(std::abs(value) + magnitude) +
                              std::abs(shift) * (std::abs(mean + value) + 2.0 * magnitude));
    // Any k rows bound the occluded k-th distance by their largest; the row's own k nearest are
    // at hand. A row whose estimate exceeds that bound by more than twice the slack is farther.
    const double* column = column_major_.data() + j * rows;
    double nearest_bound = -std::numeric_limits<double>::infinity();
    for (const Neighbor& neighbor : scratch.nearest) {
      nearest_bound = std::max(
          nearest_bound, scratch.distances[neighbor.index] - plan.slope * column[neighbor.index]);
    }
    plan.threshold = nearest_bound + 2.0 * plan.slack;
    const double largest_slope_term =
        plan.slope > 0 ? plan.slope * column_maxima_[j] : plan.slope * column_minima_[j];
    plan.reach = plan.threshold + largest_slope_term + plan.slack;
    reach = std::max(reach, plan.reach);
  }
  return reach;
}

ReachOrder NearestNeighbors::order_by_distance(double reach, ContributionScratch& scratch) const {
  // The rows any column can keep, ordered by base distance in buckets, so that each column
  // scans only the buckets up to its own reach: typically a small share of the rows.
  const std::size_t rows = labels_.size();
  ReachOrder order;
  order.closest = scratch.nearest.front().squared_distance;
  order.buckets_per_distance =
      reach > order.closest ? static_cast<double>(detail::kReachBuckets) / (reach - order.closest)
                            : 0.0;
  std::vector<std::uint8_t>& buckets = scratch.buckets;
  buckets.resize(rows);
  detail::reach_buckets(scratch.distances.data(), rows, order.closest, order.buckets_per_distance,
                        reach, static_cast<std::uint8_t>(detail::kReachBuckets - 1),
                        buckets.data());
  // A counting sort by bucket. Consecutive rows count into, and are placed from, separate
  // counters (row index modulo kInterleave), so a run of rows in one bucket does not wait on
  // each store of the same counter; within a bucket the rows end up grouped by that residue.
  constexpr std::size_t kInterleave = 4;
  std::array<std::array<std::uint32_t, detail::kReachBuckets + 1>, kInterleave> next{};
  for (std::size_t i = 0; i < rows; ++i) ++next[i % kInterleave][buckets[i]];
  std::uint32_t running = 0;
  for (std::size_t bucket = 0; bucket <= detail::kReachBuckets; ++bucket) {
    order.starts[bucket] = running;
    for (auto& counters : next) {
      const std::uint32_t count = counters[bucket];
      counters[bucket] = running;
      running += count;
    }
  }
  std::vector<std::uint32_t>& reachable = scratch.reachable;
  reachable.resize(rows);
  // The rows out of reach are placed too, unconditionally, as a branch on them would be
  // mispredicted; no column scans them.
  for (std::size_t i = 0; i < rows; ++i) {
    reachable[next[i % kInterleave][buckets[i]]++] = static_cast<std::uint32_t>(i);
  }
  return order;
}

double NearestNeighbors::occluded_margin(std::size_t j, const ReachOrder& order,
                                         ContributionScratch& scratch) const {
  const std::size_t rows = labels_.size();
  const ColumnPlan& plan = scratch.plans[j];
  const double* column = column_major_.data() + j * rows;
  double* const values = scratch.kept_estimates.data();
  std::size_t* const kept_rows = scratch.kept_rows.data();
  std::size_t kept = 0;
  const std::size_t reachable_count = order.reachable_count(plan.reach);
  for (std::size_t r = 0; r < reachable_count; ++r) {
    const std::size_t i = scratch.reachable[r];
    const double estimate = scratch.distances[i] - plan.slope * column[i];
    values[kept] = estimate;
    kept_rows[kept] = i;
    kept += estimate <= plan.threshold ? 1 : 0;
  }
  std::vector<double>& occluded = scratch.occluded;
  const double value = occluded[j];
  occluded[j] = weighted_means_[j];
  const double shift = weighted_means_[j] - value;
  const double margin = margin_of_kept(std::span<const double>(values, kept),
                                       std::span<const std::size_t>(kept_rows, kept),
                                       shift * (weighted_means_[j] + value), plan.slack, scratch);
  occluded[j] = value;
  return margin;
}

double NearestNeighbors::margin_of_kept(std::span<const double> estimates,
                                        std::span<const std::size_t> kept_rows, double constant,
                                        double slack, ContributionScratch& scratch) const {
  const auto k = static_cast<std::size_t>(k_);
  // The k smallest estimates give a tighter bound the same way; only rows within twice the
  // slack of it can be among the k nearest.
  const double exact_threshold =
      kth_smallest(estimates, k, scratch.selection_first, scratch.selection_second) + 2.0 * slack;
  std::vector<Neighbor>& candidates = scratch.candidates;
  candidates.clear();
  for (std::size_t i = 0; i < estimates.size(); ++i) {
    if (estimates[i] <= exact_threshold) candidates.push_back(Neighbor{estimates[i], kept_rows[i]});
  }
  const std::vector<double>& occluded = scratch.occluded;
  if (candidates.size() == k) {
    // No other row comes within the slack of the k-th: these are the k nearest, as the exact
    // distances would find them. Their distances are the estimates plus the constant, a few ulps
    // of the terms' magnitudes from the exact ones; a row very close to the occluded row (its vote
    // weight, one over its distance, would magnify those ulps) gets its exact distance.
    const double exact_below = kExactDistanceBelow * slack;
    for (Neighbor& neighbor : candidates) {
      neighbor.squared_distance += constant;
      if (neighbor.squared_distance <= exact_below) {
        neighbor.squared_distance =
            detail::squared_distance(occluded, weighted_rows_, neighbor.index);
      }
    }
    return vote_margin_in_order(candidates);
  }
  // Rows within the slack of each other: the exact distances, bit for bit margin()'s, decide the
  // neighbours and their ties.
  for (Neighbor& neighbor : candidates) {
    neighbor.squared_distance = detail::squared_distance(occluded, weighted_rows_, neighbor.index);
  }
  const auto kth = candidates.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(candidates.begin(), kth, candidates.end(), closer);
  return vote_margin(std::span<Neighbor>(candidates.data(), k));
}

Estimator::Explanation NearestNeighbors::explain_groups(std::span<const double> row,
                                                        std::span<const std::size_t> group_of,
                                                        std::span<double> out) const {
  const std::size_t columns = column_names_.size();
  ContributionScratch& scratch = contribution_scratch();
  std::vector<std::size_t>& sizes = scratch.group_sizes;
  sizes.assign(out.size(), 0);
  for (std::size_t c = 0; c < columns; ++c) ++sizes[group_of[c]];
  // The columns of larger groups are occluded with their group below, not one by one.
  scratch.skip.assign(columns, 0);
  for (std::size_t c = 0; c < columns; ++c) scratch.skip[c] = sizes[group_of[c]] > 1 ? 1 : 0;
  std::vector<double>& by_column = scratch.by_column;
  by_column.assign(columns, 0.0);
  const Explanation explained = explain_columns(row, by_column);
  // A group of one column gets that column's occlusion; the larger groups are set below.
  std::fill(out.begin(), out.end(), 0.0);
  for (std::size_t c = 0; c < columns; ++c) out[group_of[c]] += by_column[c];
  double sum = 0.0;
  for (std::size_t group = 0; group < out.size(); ++group) {
    if (sizes[group] > 1) {
      out[group] = explained.margin - group_occluded_margin(row, group, group_of, scratch);
    }
    sum += out[group];
  }
  return {explained.margin, explained.margin - sum};
}

double NearestNeighbors::group_occluded_margin(std::span<const double> row, std::size_t group,
                                               std::span<const std::size_t> group_of,
                                               ContributionScratch& scratch) const {
  const std::size_t rows = labels_.size();
  const std::size_t columns = column_names_.size();
  if (!scratch.distances_usable) {
    // Non-finite values leave no room for the bounds: the definition, one margin() pass.
    std::vector<double>& occluded = scratch.occluded;
    occluded.assign(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(columns));
    for (std::size_t c = 0; c < columns; ++c) {
      if (group_of[c] == group) occluded[c] = column_means_[c];
    }
    return margin(occluded);
  }
  // Occluding the group's columns J moves the squared distance d_i to reference row i by
  // sum over j in J of (m_j - x_j) (m_j + x_j - 2 t_ij): an estimate d_i - sum(slope_j t_ij) up
  // to a constant, off by at most `slack` from the exact distance margin() would compute. The
  // k smallest estimates bound the k-th exact distance, so only rows within twice the slack of
  // the k-th estimate need their exact distance, which then decides the neighbours and ties.
  std::vector<std::size_t>& moved = scratch.group_columns;
  moved.clear();
  double magnitudes = scratch.farthest;
  for (std::size_t j = 0; j < columns; ++j) {
    const double value = scratch.weighted[j];
    const double mean = weighted_means_[j];
    if (group_of[j] != group || value == mean) continue;
    moved.push_back(j);
    const double magnitude = std::max(std::abs(column_minima_[j]), std::abs(column_maxima_[j]));
    magnitudes += square(std::abs(mean) + magnitude) + square(std::abs(value) + magnitude) +
                  std::abs(mean - value) * (std::abs(mean + value) + 2.0 * magnitude);
  }
  if (moved.empty()) return margin(row);  // the occluded row is the row itself
  const double slack = estimate_tolerance(columns) * magnitudes;
  std::vector<const double*>& moved_columns = scratch.moved_columns;
  std::vector<double>& slopes = scratch.moved_slopes;
  moved_columns.clear();
  slopes.clear();
  double constant = 0.0;
  for (const std::size_t j : moved) {
    const double shift = weighted_means_[j] - scratch.weighted[j];
    moved_columns.push_back(column_major_.data() + j * rows);
    slopes.push_back(2.0 * shift);
    constant += shift * (weighted_means_[j] + scratch.weighted[j]);
  }
  // Any k rows bound the occluded k-th distance by their largest; the row's own k nearest are at
  // hand. Rows estimated above that bound by more than twice the slack are farther: one pass
  // keeps the few others, and margin_of_kept() decides among them.
  double bound = -std::numeric_limits<double>::infinity();
  for (const Neighbor& neighbor : scratch.nearest) {
    double estimate = scratch.distances[neighbor.index];
    for (std::size_t m = 0; m < moved.size(); ++m) {
      estimate -= slopes[m] * moved_columns[m][neighbor.index];
    }
    bound = std::max(bound, estimate);
  }
  scratch.kept_estimates.resize(rows + detail::kEstimatePadding);
  scratch.kept_rows.resize(rows + detail::kEstimatePadding);
  const std::size_t kept = detail::estimates_at_most(
      scratch.distances.data(), moved_columns, slopes, rows, bound + 2.0 * slack,
      scratch.kept_estimates.data(), scratch.kept_rows.data());
  std::vector<double>& occluded = scratch.occluded;
  occluded.assign(scratch.weighted.begin(), scratch.weighted.end());
  for (const std::size_t j : moved) occluded[j] = weighted_means_[j];
  return margin_of_kept(std::span<const double>(scratch.kept_estimates.data(), kept),
                        std::span<const std::size_t>(scratch.kept_rows.data(), kept), constant,
                        slack, scratch);
}

nlohmann::json NearestNeighbors::to_json() const {
  nlohmann::json estimator{{"type", type()}, {"k", k_}, {"weighting", weighting_name(weighting_)}};
  detail::write_reference_set(estimator, column_names_, reference_rows_, labels_, column_weights_);
  return estimator;
}

std::unique_ptr<const NearestNeighbors> NearestNeighbors::read(
    const JsonReader& estimator, const std::vector<std::string>& columns) {
  estimator.only_keys({"type", "k", "weighting", "columns", "labels", "rows", "column_weights"});
  const JsonReader k_json = estimator["k"];
  const int k = k_json.integer<int>(1, 1'000'000'000);
  const Weighting weighting =
      estimator["weighting"].one_of(std::array<std::pair<std::string_view, Weighting>, 2>{
          {{"uniform", Weighting::kUniform}, {"distance", Weighting::kDistance}}});
  auto names = detail::read_columns(estimator["columns"], columns);
  std::size_t row_count = 0;
  auto rows = detail::read_rows(estimator["rows"], names.size(), row_count);
  auto labels = detail::read_labels(estimator["labels"], row_count);
  if (static_cast<std::size_t>(k) > row_count) {
    k_json.fail(fmt::format("is {}, more than the {} rows", k, row_count));
  }
  auto column_weights = detail::read_column_weights(estimator, names.size());
  return std::make_unique<NearestNeighbors>(std::move(names), std::move(rows), std::move(labels), k,
                                            weighting, std::move(column_weights));
}

std::unique_ptr<const NearestNeighbors> NearestNeighbors::from_json(
    const nlohmann::json& estimator, const std::vector<std::string>& columns) {
  return read(JsonReader(estimator, "estimator"), columns);
}

}  // namespace nbo::models
