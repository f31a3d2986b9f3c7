// k-nearest-neighbours classifier over model rows (standardized numeric columns, 0/1 one-hot
// columns). The reference rows are stored in the model file. Distance is Euclidean after each
// column j is multiplied by its weight w_j >= 0 (all 1 unless the model says otherwise):
// d(x, t)^2 = sum_j (w_j (x_j - t_j))^2. The trainer sets the weights from how well each column
// alone separates the classes, so uninformative columns do not crowd out the informative ones.
//
// margin(): with the k nearest reference rows (ties broken by lower row index) and vote weights
// v_i (1 for "uniform", 1 / max(distance, 1e-9) for "distance"), the vote share
// s = sum(v_i * y_i) / sum(v_i) is shrunk towards one half, p = (k * s + 0.5) / (k + 1), so the
// margin logit(p) stays finite; the model's calibration maps it to a probability.
//
// Explanations: k-NN has no exact additive attribution. contributions() return, per column,
// margin(row) - margin(row with that column set to its reference mean) (occlusion), and the
// baseline that makes them sum to margin(); see docs/model-format.md. They are the values of
// occlusion_contributions() computed from one pass of distances: occluding column j only moves
// each squared distance by w_j^2 ((mean_j - t_j)^2 - (row_j - t_j)^2), so per column a cheap
// estimate keeps the few rows that can be among the k nearest. The occluded row's k nearest are
// exactly the definition's (where estimates come within their rounding bound of each other, the
// exact distances, bit for bit those margin() computes, decide them and their ties); their vote
// weights come from the estimates, so a contribution is within about 1e-15 of the definition's
// value, not bit for bit it.
//
// Cost: the distance pass runs in vector registers (simd.hpp), with the same bits at every level.
//
// Thread safety: immutable after construction; all methods const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/models/estimator.hpp"

namespace nbo::models {

namespace detail {
struct Neighbor;
struct ContributionScratch;
struct ReachOrder;
}  // namespace detail

class NearestNeighbors final : public Estimator {
 public:
  enum class Weighting { kUniform, kDistance };

  // `reference_rows` is row-major, labels.size() rows of column_names.size() values; labels are
  // 0/1. `column_weights`: one finite weight >= 0 per column, not all 0; empty means all 1.
  // Throws std::invalid_argument on size mismatches, k < 1, k > rows, non-finite values, bad
  // weights.
  NearestNeighbors(std::vector<std::string> column_names, std::vector<double> reference_rows,
                   std::vector<std::uint8_t> labels, int k, Weighting weighting,
                   std::vector<double> column_weights = {});

  std::string_view type() const override { return "k_nearest_neighbors"; }
  std::size_t column_count() const override { return column_names_.size(); }
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override {
    return explain(row, out).baseline;
  }
  // The margin falls out of the explanation's first pass (bit for bit margin()'s).
  Explanation explain(std::span<const double> row, std::span<double> out) const override;
  // A group of several columns (a category's one-hot columns) is occluded as a whole: all its
  // columns at their reference means at once, group_occlusion_contributions() as above; a
  // group of one column gets explain()'s value. Costs explain() plus one pass over the reference
  // rows per group of several columns.
  Explanation explain_groups(std::span<const double> row, std::span<const std::size_t> group_of,
                             std::span<double> out) const override;
  nlohmann::json to_json() const override;

  int k() const noexcept { return k_; }
  Weighting weighting() const noexcept { return weighting_; }
  const std::vector<double>& column_weights() const noexcept { return column_weights_; }

  // Reads a "k_nearest_neighbors" estimator object at the reader's path; throws JsonError
  // naming the path of the problem. from_json reads `estimator` as the model file's
  // "estimator".
  static std::unique_ptr<const NearestNeighbors> read(const JsonReader& estimator,
                                                      const std::vector<std::string>& columns);
  static std::unique_ptr<const NearestNeighbors> from_json(const nlohmann::json& estimator,
                                                           const std::vector<std::string>& columns);

 private:
  // out = row times the column weights, as margin() and explain() both compute it.
  void weigh(std::span<const double> row, std::vector<double>& out) const;
  // The k nearest of the reference rows, given their squared distances, in any order.
  void select_nearest(std::span<const double> distances,
                      std::vector<detail::Neighbor>& nearest) const;
  // The margin of the vote of `nearest`, the k selected rows in any order; sorts them nearest
  // first so the sums run in a fixed order. margin() and contributions() share it.
  double vote_margin(std::span<detail::Neighbor> nearest) const;
  // The margin of the vote of the k `nearest`, summed in the order given.
  double vote_margin_in_order(std::span<const detail::Neighbor> nearest) const;
  // The margin of an occluded row (in scratch.occluded) from the rows that may be among its k
  // nearest: their estimated squared distances `estimates` (each `constant` short of the
  // distance and within `slack` of the exact one) and their indices `kept_rows`.
  double margin_of_kept(std::span<const double> estimates, std::span<const std::size_t> kept_rows,
                        double constant, double slack, detail::ContributionScratch& scratch) const;
  // explain() leaving out the columns marked in the thread's scratch (explain_groups()).
  Explanation explain_columns(std::span<const double> row, std::span<double> out) const;
  // The steps of explain(), in order, on the row weighed into scratch.weighted:
  // its squared distance to every reference row and its k nearest, returning its margin;
  double nearest_of_all(detail::ContributionScratch& scratch) const;
  // per column, the bounds that rule reference rows out of the occluded row's k nearest
  // (scratch.plans), returning the largest base distance a kept row can have (the reach);
  double plan_occlusions(double farthest, detail::ContributionScratch& scratch) const;
  // the rows within reach ordered by base distance in buckets (scratch.reachable);
  detail::ReachOrder order_by_distance(double reach, detail::ContributionScratch& scratch) const;
  // the margin with column j at its mean, from the few rows its bounds keep.
  double occluded_margin(std::size_t j, const detail::ReachOrder& order,
                         detail::ContributionScratch& scratch) const;
  // After explain(row): the margin with every column of `group` at its mean.
  double group_occluded_margin(std::span<const double> row, std::size_t group,
                               std::span<const std::size_t> group_of,
                               detail::ContributionScratch& scratch) const;

  std::vector<std::string> column_names_;
  std::vector<double> reference_rows_;
  std::vector<std::uint8_t> labels_;
  std::vector<double> column_weights_;
  std::vector<double> column_means_;    // of reference_rows_: the occlusion reference
  std::vector<double> weighted_rows_;   // reference_rows_ times the column weights
  std::vector<double> weighted_means_;  // column_means_ times the column weights
  std::vector<double> column_major_;    // weighted_rows_ transposed
  std::vector<double> column_minima_;   // of weighted_rows_, for the bounds of contributions()
  std::vector<double> column_maxima_;
  int k_;
  Weighting weighting_;
};

}  // namespace nbo::models
