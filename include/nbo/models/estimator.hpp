// Estimators: the scoring part of a model, from a model row (see features/pipeline.hpp) to a
// margin on the log-odds scale. Probability = calibration(margin); see churn_model.hpp.
//
// Thread safety: estimators are immutable after construction; all methods are const and safe
// to call concurrently.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::models {

class JsonReader;  // json_reader.hpp

class Estimator {
 public:
  virtual ~Estimator() = default;

  // Value of "estimator.type" in the model file.
  virtual std::string_view type() const = 0;
  // Number of model-row columns the estimator expects.
  virtual std::size_t column_count() const = 0;
  // Log-odds of the positive class (activity declined) before calibration.
  virtual double margin(std::span<const double> row) const = 0;
  // margin() of many rows at once, for callers that score batches (cross-validation, `nbo
  // score`, a request for many candidates). `rows` is row-major: row i is rows[i * c, (i + 1) *
  // c) with c = column_count(); out[i] receives its margin, bit for bit what margin() returns
  // for it (the same operations in the same order, only interleaved across rows). Throws
  // std::invalid_argument unless rows.size() == out.size() * column_count(). Estimators that
  // gain from a blocked pass (trees, linear) override batch_margins().
  void margins(std::span<const double> rows, std::span<double> out) const;
  // Per-column additive contributions to margin(): sum(contributions) + baseline == margin.
  // Exact for linear models. Writes into `out` (size column_count()), returns the baseline
  // (the margin of the average training customer for standardized linear models: the
  // intercept).
  virtual double contributions(std::span<const double> row, std::span<double> out) const = 0;
  // margin(row) and contributions(row, out) at once, each exactly as those would return it.
  // Estimators that compute the margin on the way to their contributions override it to save
  // the second pass; this one calls both.
  struct Explanation {
    double margin;
    double baseline;
  };
  virtual Explanation explain(std::span<const double> row, std::span<double> out) const {
    const double baseline = contributions(row, out);
    return {margin(row), baseline};
  }
  // Contributions per group of columns, where a group is what a reader names as one input (the
  // one-hot columns of a category field): group_of[c] < out.size() is column c's group, and out
  // gets one contribution per group; baseline + sum(out) == margin. This default sums explain()'s
  // column contributions over each group: exact for additive estimators (linear, trees).
  // Estimators whose contributions are occlusions override it to occlude each group as a whole,
  // out[g] = margin(row) - margin(row with every column of g at its reference), which the sum of
  // its columns' occlusions is not when they interact (k-NN).
  virtual Explanation explain_groups(std::span<const double> row,
                                     std::span<const std::size_t> group_of,
                                     std::span<double> out) const;
  // The "estimator" object of the model file.
  virtual nlohmann::json to_json() const = 0;

 protected:
  // margins() after its size check; this default calls margin() per row.
  virtual void batch_margins(std::span<const double> rows, std::span<double> out) const;
};

// Logistic regression: margin = intercept + sum(weight[i] * row[i]).
class LogisticRegression final : public Estimator {
 public:
  // `column_names` documents and checks the column order; weights.size() must match.
  // Throws std::invalid_argument on a size mismatch or a non-finite value.
  LogisticRegression(std::vector<std::string> column_names, std::vector<double> weights,
                     double intercept);

  std::string_view type() const override { return "logistic_regression"; }
  std::size_t column_count() const override { return weights_.size(); }
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override;
  nlohmann::json to_json() const override;

  const std::vector<double>& weights() const noexcept { return weights_; }
  double intercept() const noexcept { return intercept_; }
  const std::vector<std::string>& column_names() const noexcept { return column_names_; }

 protected:
  // Four rows at a time, their sums interleaved, each still intercept first, then column 0,
  // 1, ... as in margin() (Eigen's GEMV would reassociate the sums; see estimator.cpp).
  void batch_margins(std::span<const double> rows, std::span<double> out) const override;

 private:
  std::vector<std::string> column_names_;
  std::vector<double> weights_;
  double intercept_;
};

// Occlusion attribution, for estimators without an exact additive one (k-NN, SVC): out[j] =
// margin(row) - margin(row with column j replaced by reference[j]). Returns the baseline that
// makes baseline + sum(out) == margin(row). Costs column_count() + 1 margin() calls; uses a
// thread-local scratch row, so it is safe to call concurrently.
double occlusion_contributions(const Estimator& estimator, std::span<const double> row,
                               std::span<const double> reference, std::span<double> out);

// The same per group of columns (see Estimator::explain_groups): out[g] = margin(row) -
// margin(row with every column c of group g, group_of[c] == g, replaced by reference[c]); 0 for a
// group without columns. Costs out.size() + 1 margin() calls. The definition the fast
// NearestNeighbors::explain_groups() is tested against.
double group_occlusion_contributions(const Estimator& estimator, std::span<const double> row,
                                     std::span<const double> reference,
                                     std::span<const std::size_t> group_of, std::span<double> out);

// Builds an estimator from the model file's "estimator" object. `expected_columns` are the
// pipeline's column names; an estimator over other columns is rejected. Throws JsonError (a
// std::invalid_argument) naming the JSON path of the problem. read_estimator reads at the
// reader's path ("estimator.members[0].estimator.k: ..."); estimator_from_json reads `estimator`
// as the model file's "estimator".
std::unique_ptr<const Estimator> read_estimator(const JsonReader& estimator,
                                                const std::vector<std::string>& expected_columns);
std::unique_ptr<const Estimator> estimator_from_json(
    const nlohmann::json& estimator, const std::vector<std::string>& expected_columns);

}  // namespace nbo::models
