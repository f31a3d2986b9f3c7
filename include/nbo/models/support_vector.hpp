// Support vector classifier with an RBF kernel, scored natively from the model file (no libsvm
// at serve time): margin = bias + sum_i coefficient_i * exp(-gamma * ||row - sv_i||^2), positive
// towards "activity declined". The model's calibration (Platt, fitted by the trainer inside
// cross-validation) maps the margin to a probability.
//
// Explanations: no exact additive attribution exists for an RBF kernel; contributions() return
// per column margin(row) - margin(row with that column set to its training mean) (occlusion)
// and the baseline that makes them sum to margin(); see docs/model-format.md. They are the values
// of occlusion_contributions() up to rounding (a few ulps of each kernel's exponent), computed
// from one pass of distances: occluding column j only moves each squared distance by
// (mean_j - sv_j)^2 - (row_j - sv_j)^2, so each kernel is its base value times a factor that
// takes one value per distinct sv_j, and a column costs one exp per distinct value of it among
// the support vectors.
//
// Thread safety: immutable after construction; all methods const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nbo/models/estimator.hpp"

namespace nbo::models {

class SupportVectorClassifier final : public Estimator {
 public:
  // `support_vectors` is row-major, coefficients.size() rows of column_names.size() values.
  // `column_means` (size column_names.size()) is the training mean of each column, the
  // occlusion reference. Throws std::invalid_argument on size mismatches, gamma <= 0,
  // non-finite values.
  SupportVectorClassifier(std::vector<std::string> column_names,
                          std::vector<double> support_vectors, std::vector<double> coefficients,
                          double bias, double gamma, std::vector<double> column_means);

  std::string_view type() const override { return "support_vector_classifier"; }
  std::size_t column_count() const override { return column_names_.size(); }
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override {
    return explain(row, out).baseline;
  }
  // The margin falls out of the explanation's first pass (bit for bit margin()'s).
  Explanation explain(std::span<const double> row, std::span<double> out) const override;
  nlohmann::json to_json() const override;

  std::size_t support_vector_count() const noexcept { return coefficients_.size(); }
  double gamma() const noexcept { return gamma_; }

  // Reads a "support_vector_classifier" estimator object at the reader's path; throws
  // JsonError naming the path of the problem. from_json reads `estimator` as the model file's
  // "estimator".
  static std::unique_ptr<const SupportVectorClassifier> read(
      const JsonReader& estimator, const std::vector<std::string>& columns);
  static std::unique_ptr<const SupportVectorClassifier> from_json(
      const nlohmann::json& estimator, const std::vector<std::string>& columns);

 private:
  std::vector<std::string> column_names_;
  std::vector<double> support_vectors_;
  std::vector<double> column_major_;  // support_vectors_ transposed, for margin()
  std::vector<double> coefficients_;
  double bias_;
  double gamma_;
  std::vector<double> column_means_;
  // Per column its distinct values among the support vectors, ascending, and (column-major, as
  // column_major_) each support vector's index into them, for contributions().
  std::vector<std::vector<double>> column_levels_;
  std::vector<std::uint32_t> level_codes_;
};

}  // namespace nbo::models
