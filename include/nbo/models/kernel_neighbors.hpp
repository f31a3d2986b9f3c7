// Kernel-neighbours classifier: every reference customer votes, weighted by a Gaussian kernel of
// its distance to the row (a Nadaraya-Watson estimate of the decline rate). Distances are those
// of the k-NN estimator (neighbors.hpp): Euclidean on the model row after each column j is
// multiplied by its weight w_j >= 0, d_i = sum_j (w_j (t_ij - x_j))^2.
//
// margin(): weight_i = exp(-gamma d_i), P = sum of the weights of the rows labelled 1 and N of
// those labelled 0, margin = log((P + A) / (N + A)) with A = prior exp(-gamma prior_distance):
// `prior` pseudo-votes on each side, as heavy as that many rows at `prior_distance` (the trainer
// takes the median distance from a training customer to its nearest other), keep the margin
// finite and pull it towards 0 for a row far from every reference row. Computed with every
// exponent relative to the smaller of d_min and prior_distance (or, for the trainer's models, to
// the offset under Cost below), so none overflows. The model's
// calibration maps the margin to a probability. exp is nbo's own (kernel_exp(): relative error
// below 1e-8, 0 below e^-708), and so is log (kernel_log(): a few units in the last place, where
// libm's may round differently with and without FMA), so the same row gives the same bits on every
// processor. An explanation takes the logs of all its groups' ratios in one vector pass.
//
// Explanations: per field (a group of columns: a category's one-hot columns), margin(row) minus
// the margin with the field's columns at the reference rows' means (occlusion, not additive;
// baseline = margin - sum of the contributions). Occluding columns J moves each squared distance
// by sum_{j in J} 2 (X_j - M_j) T_ij + M_j^2 - X_j^2 in the weighted space (X the row, M the
// means, T the reference rows), so each occluded weight is the row's weight times a factor per
// column, exp(-gamma 2 (X_j - M_j) T_ij), up to a constant that moves to the pseudo-votes. A
// column whose reference rows take at most 32 values has a table of them, and its factor is a
// lookup; so has a one-hot category as a whole (its columns' factors depend only on which of them
// is 1); others take an exp per row. So a field costs one pass over the reference rows with no
// search, in single precision (the row's weights and the factors rounded to float, sixteen to a
// vector), and a contribution is within about 1e-6 of the occlusion computed through margin(), not
// bit for bit. A row with a non-finite value is explained by that definition itself.
//
// Cost: where every column has at most kMaxLevels values (the trainer's models), each reference
// row is stored as level codes, a byte per value, and a weight needs no exp of its own: with m_j
// the smallest of column j's squared differences from the row to its levels, exp(-gamma d_i) is
// exp(-gamma sum_j m_j) times the product over j of exp(-gamma ((T_ij - X_j)^2 - m_j)), a factor
// at most 1 looked up in a per-row table of the column's levels (an exp each, to within a few
// units in the last place: precise_exp(), then rounded to float). The products are taken in single
// precision, sixteen rows to a vector, where a table of 32 floats is one permute of two registers
// (kernel_sums.hpp): each weight is within about 2e-6 of the double product, the margin within
// about 1e-6 of the definition's (a probability within a few 1e-7). Every exponent is then
// relative to sum_j m_j (at most d_min) instead of min(d_min, prior_distance); columns and
// categories whose rows' code combinations number at most 16 share a lookup (product_steps_).
// Where a label's products plus the pseudo-votes fall below 1e-30 (a row near each column's levels
// but near none of that label's rows at once; a model of one label whose pseudo-votes underflow
// from that offset), or where the pseudo-votes dwarf every row from it (a row far from every
// reference row, whose explanations would lose their digits), the weights are computed as above
// instead, in double precision, from the distances summed from lookups of the same codes (the
// margin then within about 1e-8 of the definition's, the kernel exp's error). Either way the
// result is the same bits on every processor.
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

class KernelNeighbors final : public Estimator {
 public:
  // `reference_rows` is row-major, labels.size() rows of column_names.size() values; labels are
  // 0/1. gamma > 0 and prior > 0, prior_distance >= 0, all finite. `column_weights`: one finite
  // weight >= 0 per column, not all 0; empty means all 1. Throws std::invalid_argument on size
  // mismatches, no rows, non-finite values, bad parameters or weights.
  KernelNeighbors(std::vector<std::string> column_names, std::vector<double> reference_rows,
                  std::vector<std::uint8_t> labels, double gamma, double prior,
                  double prior_distance, std::vector<double> column_weights = {});

  // A column of at most this many distinct values (and a one-hot category of at most this many
  // columns) is explained by table lookups; others by an exp per reference row. The trainer
  // coarsens columns to this many values (train/knn_fit.hpp).
  static constexpr std::size_t kMaxLevels = 32;

  std::string_view type() const override { return "kernel_neighbors"; }
  std::size_t column_count() const override { return column_names_.size(); }
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override {
    return explain(row, out).baseline;
  }
  // Per column (each column a field of its own).
  Explanation explain(std::span<const double> row, std::span<double> out) const override;
  // Per group of columns, each occluded as a whole; one pass over the reference rows per group.
  Explanation explain_groups(std::span<const double> row, std::span<const std::size_t> group_of,
                             std::span<double> out) const override;
  nlohmann::json to_json() const override;

  // The exp every weight is computed with: relative error below 1e-8 against the exact value, 0
  // below -708, +infinity above 709, the same bits on every processor.
  static double kernel_exp(double z) noexcept;

  double gamma() const noexcept { return gamma_; }
  double prior() const noexcept { return prior_; }
  double prior_distance() const noexcept { return prior_distance_; }
  std::size_t reference_row_count() const noexcept { return labels_.size(); }

  // Reads a "kernel_neighbors" estimator object at the reader's path; throws JsonError naming
  // the path of the problem.
  static std::unique_ptr<const KernelNeighbors> read(const JsonReader& estimator,
                                                     const std::vector<std::string>& columns);

 private:
  struct Scratch;
  // This thread's buffers, shared by margin() and the explanations; and a second set for the
  // margins an explanation computes by the definition.
  static Scratch& scratch_of_thread();
  static Scratch& definition_scratch();
  double margin_of(std::span<const double> row, Scratch& scratch) const;
  // The row times the column weights, the weight of every reference row relative to an offset
  // (padding rows 0) and that offset into `scratch`; returns the weights' sums per label. Where
  // the model's columns all have levels and a padding code, each weight is a product of per-column
  // factors, exp(-gamma (d_i - offset)) with offset the sum of the columns' smallest terms (no exp
  // per row); otherwise, or where every such weight is vanishingly small, from the distances
  // (padding +infinity), offset = min(smallest distance, prior_distance).
  struct Votes {
    double positive = 0.0;  // the weights of the rows labelled 1, summed
    double negative = 0.0;  // ... labelled 0
  };
  Votes weights_of(std::span<const double> row, Scratch& scratch) const;
  // log((positive + A) / (negative + A)) with A = prior exp(prior_exponent); the prior's margin,
  // 0, where A dwarfs any sum (prior_exponent above 700).
  double margin_from(double positive, double negative, double prior_exponent) const;
  // One group's occlusion, planned before any of its tables is exponentiated: which path it
  // takes, its moved columns and tables in the scratch, and the constants of its exponents.
  struct Occlusion {
    enum class Path : std::uint8_t { kUnmoved, kCategory, kTables, kExps };
    Path path = Path::kUnmoved;
    std::size_t first_moved = 0;  // its run in Scratch::moved
    std::size_t moved_count = 0;
    std::size_t first_table = 0;         // where its tables start in Scratch::table_values
    std::size_t category = kNoCategory;  // kCategory: its index in categories_
    // While planning: the moved columns so far all of `category`, and all with levels.
    bool one_category = true;
    bool every_column_has_levels = true;
    double constant = 0.0;  // sum of M_j^2 - X_j^2 over the moved columns
    double lowest = 0.0;    // constant plus each moved column's smallest part
  };
  // The occlusions of groups 0 to `groups` - 1 (columns of other groups are left as they are),
  // from the row's weighted values in `scratch`, into its occlusions, moved columns and the
  // exponents of their lookup tables.
  void plan_occlusions(std::span<const std::size_t> group_of, std::size_t groups,
                       Scratch& scratch) const;
  // The sums of the weights of either label with the planned occlusion's columns at their means
  // (relative to the offset and the occlusion's `lowest`), from the row's weights and the
  // occlusion's exponentiated tables in `scratch`; not for kUnmoved.
  Votes occluded_sums(const Occlusion& occlusion, Scratch& scratch) const;

  std::vector<std::string> column_names_;
  std::vector<double> reference_rows_;
  std::vector<std::uint8_t> labels_;
  double gamma_;
  double prior_;
  double prior_distance_;
  std::vector<double> column_weights_;
  std::vector<double> column_means_;    // of the reference rows: the occlusion reference
  std::vector<double> weighted_means_;  // column_means_ times the column weights
  // The weighted rows column-major, padded_rows_ per column: the rows labelled 1 (in file order)
  // padded to positive_part_ rows, then those labelled 0 padded to a group (kernel_sums.hpp).
  // Empty after construction where coded_distances_: nothing reads it then.
  std::size_t positive_rows_ = 0;
  std::size_t positive_part_ = 0;
  std::size_t padded_rows_ = 0;
  std::vector<double> column_major_;
  std::vector<double> weighted_minima_;  // per column, of the weighted reference rows
  std::vector<double> weighted_maxima_;
  // Per column with at most kMaxLevels distinct weighted values: those values ascending, kMaxLevels
  // per column (+infinity past a column's levels, so that each row's terms and factors are one
  // vector pass), and their count (0 for the other columns); and each padded row's index into them
  // (column-major as column_major_, each column's codes interleaved as kernel_sums.hpp says).
  std::vector<double> level_table_;
  std::vector<std::uint8_t> level_counts_;
  std::vector<std::uint8_t> level_codes_;
  std::span<const double> levels_of(std::size_t column) const {
    return {level_table_.data() + column * kMaxLevels, level_counts_[column]};
  }
  // Every column has levels: distances are summed from per-row table lookups of the level codes
  // (29 KB for the store's 1 296 rows, in L1) instead of the weighted rows (230 KB), bit for bit
  // the same values.
  bool coded_distances_ = false;
  // The column whose code marks the padding rows (see the constructor), or kNoColumn.
  static constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);
  std::size_t padding_column_ = kNoColumn;
  // Each member's level code in each of `category`'s columns, into `codes` (members x members);
  // false where one lookup by the row's member cannot stand for the category: more than 8
  // members, the padding column among its columns, or a member that no reference row has.
  bool member_level_codes(std::size_t category, std::vector<std::uint8_t>& codes) const;
  // The distance pass's codes, tables (each column's terms in `scratch`) and level counts, for
  // the row whose terms `scratch` holds. The product pass (below) serves every row where it can,
  // so this one looks each column up on its own.
  void plan_distance_lookups(Scratch& scratch) const;
  // The same of the product pass (product_steps_), from the row's factors in `scratch`.
  void plan_product_lookups(Scratch& scratch) const;
  // The product pass's lookups (where there is a padding code): columns and categories grouped
  // while the rows' combinations of their codes number at most 16 (a lookup of 16 values costs as
  // much as one of 8), each group one lookup of a per-row table whose entries are the group's
  // factors multiplied in column order from 1; a group of one column looks up that column's
  // factors. Groups are multiplied in the order of their first columns.
  struct ProductStep {
    enum class Codes : std::uint8_t { kLevel, kCategory, kGroup };
    Codes codes = Codes::kLevel;   // whose codes: level_codes_, category_codes_ or group_codes_
    std::size_t index = 0;         // the column, the category, or the group's run in group_codes_
    std::size_t values = 0;        // how many codes the rows use (the table's size)
    std::size_t first_column = 0;  // kGroup, kCategory: its columns in product_columns_
    std::size_t columns = 0;
    std::size_t first_code = 0;  // ... and per value, each column's level code in product_codes_
  };
  std::vector<ProductStep> product_steps_;
  std::vector<std::size_t> product_columns_;
  std::vector<std::uint8_t> product_codes_;
  std::vector<std::uint8_t> group_codes_;  // the groups' rows' combinations, interleaved
  // Fills product_steps_ and what they refer to (after find_categories() and the padding code).
  void plan_product_steps();
  // One-hot categories found in the reference rows: runs of adjacent 0/1 columns with exactly one
  // 1 per row (at most kMaxLevels columns). An occlusion of a category's columns costs one
  // lookup per row, by the index of the row's 1 within the run (category_codes_, column-major per
  // category as level_codes_).
  struct Category {
    std::size_t first = 0;
    std::size_t count = 0;
  };
  std::vector<Category> categories_;
  std::vector<std::size_t> category_of_;  // per column: its index in categories_, or none
  std::vector<std::uint8_t> category_codes_;
  static constexpr std::size_t kNoCategory = static_cast<std::size_t>(-1);
  // Fills categories_, category_of_ and category_codes_ (`position`: each row's padded place).
  void find_categories(const std::vector<std::size_t>& position);
};

}  // namespace nbo::models
