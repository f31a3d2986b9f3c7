#include "nbo/models/support_vector.hpp"

#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "estimator_json.hpp"
#include "row_distances.hpp"

namespace nbo::models {
namespace {

// Largest |exponent| of a kernel factor in contributions(): exp of it stays a normal double
// (e^600 is about 4e260), so products of two factors neither overflow nor lose precision.
constexpr double kFactorExponentLimit = 600.0;

// Per-thread buffers of contributions(), so no allocation once they have grown.
struct ContributionScratch {
  std::vector<double> distances;  // squared distance of the row to every support vector
  std::vector<double> terms;      // coefficient * kernel of every support vector
  std::vector<double> factors;    // per distinct value of a column, its kernel factor
};

}  // namespace

SupportVectorClassifier::SupportVectorClassifier(std::vector<std::string> column_names,
                                                 std::vector<double> support_vectors,
                                                 std::vector<double> coefficients, double bias,
                                                 double gamma, std::vector<double> column_means)
    : column_names_(std::move(column_names)),
      support_vectors_(std::move(support_vectors)),
      coefficients_(std::move(coefficients)),
      bias_(bias),
      gamma_(gamma),
      column_means_(std::move(column_means)) {
  const std::size_t columns = column_names_.size();
  const std::size_t count = coefficients_.size();
  if (support_vectors_.size() != count * columns) {
    throw std::invalid_argument(fmt::format(
        "support vector classifier has {} support vector values for {} vectors of {} columns",
        support_vectors_.size(), count, columns));
  }
  if (column_means_.size() != columns) {
    throw std::invalid_argument(
        fmt::format("support vector classifier has {} column means for {} columns",
                    column_means_.size(), columns));
  }
  if (!std::isfinite(gamma_) || !(gamma_ > 0)) {
    throw std::invalid_argument("gamma must be finite and > 0");
  }
  if (!std::isfinite(bias_)) throw std::invalid_argument("bias must be finite");
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(coefficients_[i])) {
      throw std::invalid_argument(
          fmt::format("coefficient of support vector {} must be finite", i));
    }
    for (std::size_t j = 0; j < columns; ++j) {
      if (!std::isfinite(support_vectors_[i * columns + j])) {
        throw std::invalid_argument(fmt::format(
            "value of column '{}' in support vector {} must be finite", column_names_[j], i));
      }
    }
  }
  for (std::size_t j = 0; j < columns; ++j) {
    if (!std::isfinite(column_means_[j])) {
      throw std::invalid_argument(
          fmt::format("mean of column '{}' must be finite", column_names_[j]));
    }
  }
  column_major_ = detail::to_column_major(support_vectors_, count, columns);
  column_levels_.resize(columns);
  level_codes_.resize(count * columns);
  for (std::size_t j = 0; j < columns; ++j) {
    const auto column = column_major_.begin() + static_cast<std::ptrdiff_t>(j * count);
    std::vector<double>& levels = column_levels_[j];
    levels.assign(column, column + static_cast<std::ptrdiff_t>(count));
    std::sort(levels.begin(), levels.end());
    levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
    for (std::size_t i = 0; i < count; ++i) {
      const auto level = std::lower_bound(levels.begin(), levels.end(), column[i]);
      level_codes_[j * count + i] = static_cast<std::uint32_t>(level - levels.begin());
    }
  }
}

double SupportVectorClassifier::margin(std::span<const double> row) const {
  const std::size_t count = coefficients_.size();
  double distances[detail::kDistanceBlock];
  double sum = 0.0;
  for (std::size_t begin = 0; begin < count; begin += detail::kDistanceBlock) {
    const std::size_t block = std::min(detail::kDistanceBlock, count - begin);
    detail::squared_distances(row, column_major_, count, begin, block, distances);
    for (std::size_t i = 0; i < block; ++i) {
      sum += coefficients_[begin + i] * std::exp(-gamma_ * distances[i]);
    }
  }
  return bias_ + sum;
}

Estimator::Explanation SupportVectorClassifier::explain(std::span<const double> row,
                                                        std::span<double> out) const {
  const std::size_t count = coefficients_.size();
  const std::size_t columns = column_names_.size();
  // The incremental distances below assume finite values; anything else takes the definition.
  if (!std::all_of(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(columns),
                   [](double value) { return std::isfinite(value); })) {
    return {margin(row), occlusion_contributions(*this, row, column_means_, out)};
  }
  thread_local ContributionScratch scratch;
  // Squared distances to the support vectors, computed once; per column only the occluded
  // column's term changes.
  std::vector<double>& distances = scratch.distances;
  distances.resize(count);
  detail::squared_distances(row, column_major_, count, 0, count, distances.data());
  // The kernel terms and their sum as margin() computes them, so `full` is margin(row).
  std::vector<double>& terms = scratch.terms;
  terms.resize(count);
  double kernel_sum = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    terms[i] = coefficients_[i] * std::exp(-gamma_ * distances[i]);
    kernel_sum += terms[i];
  }
  const double full = bias_ + kernel_sum;

  const auto size = static_cast<Eigen::Index>(count);
  const Eigen::Map<const Eigen::ArrayXd> base(distances.data(), size);
  const Eigen::Map<const Eigen::ArrayXd> coefficients(coefficients_.data(), size);
  const double farthest = count == 0 ? 0.0 : base.maxCoeff();
  double sum = 0.0;
  for (std::size_t j = 0; j < columns; ++j) {
    const double value = row[j];
    const double mean = column_means_[j];
    if (value == mean) {
      // The occluded row is the row itself.
      out[j] = 0.0;
      continue;
    }
    // exp(-gamma (d + (m - t)^2 - (x - t)^2)) = exp(-gamma d) exp(-gamma (m - x) (m + x - 2 t)):
    // the second factor takes one value per distinct t of the column, so one exp each.
    const double shift = mean - value;
    const double shifted_sum = mean + value;
    const std::vector<double>& levels = column_levels_[j];
    const double widest_exponent = levels.empty()
                                       ? 0.0
                                       : gamma_ * std::abs(shift) *
                                             std::max(std::abs(shifted_sum - 2.0 * levels.front()),
                                                      std::abs(shifted_sum - 2.0 * levels.back()));
    double occluded_sum = 0.0;
    if (gamma_ * farthest <= kFactorExponentLimit && widest_exponent <= kFactorExponentLimit) {
      const Eigen::Map<const Eigen::ArrayXd> level_values(levels.data(),
                                                          static_cast<Eigen::Index>(levels.size()));
      std::vector<double>& factors = scratch.factors;
      factors.resize(levels.size());
      Eigen::Map<Eigen::ArrayXd>(factors.data(), static_cast<Eigen::Index>(factors.size())) =
          (-gamma_ * shift * (shifted_sum - 2.0 * level_values)).exp();
      const std::uint32_t* codes = level_codes_.data() + j * count;
      for (std::size_t i = 0; i < count; ++i) occluded_sum += terms[i] * factors[codes[i]];
    } else {
      // A factor could leave the range of doubles: one exp per support vector instead.
      const Eigen::Map<const Eigen::ArrayXd> column(column_major_.data() + j * count, size);
      occluded_sum =
          (coefficients *
           (-gamma_ * (base + (mean - column).square() - (value - column).square())).exp())
              .sum();
    }
    out[j] = full - (bias_ + occluded_sum);
    sum += out[j];
  }
  return {full, full - sum};
}

nlohmann::json SupportVectorClassifier::to_json() const {
  return {{"type", type()},
          {"gamma", gamma_},
          {"bias", bias_},
          {"columns", column_names_},
          {"column_means", column_means_},
          {"coefficients", coefficients_},
          {"support_vectors",
           detail::rows_to_json(support_vectors_, coefficients_.size(), column_names_.size())}};
}

std::unique_ptr<const SupportVectorClassifier> SupportVectorClassifier::read(
    const JsonReader& estimator, const std::vector<std::string>& columns) {
  estimator.only_keys(
      {"type", "gamma", "bias", "columns", "column_means", "coefficients", "support_vectors"});
  const JsonReader gamma_json = estimator["gamma"];
  const double gamma = gamma_json.number();
  if (!(gamma > 0)) gamma_json.fail(fmt::format("must be > 0, got {}", gamma));
  const double bias = estimator["bias"].number();
  auto names = detail::read_columns(estimator["columns"], columns);
  auto means = estimator["column_means"].numbers(names.size());
  std::size_t count = 0;
  auto support_vectors = detail::read_rows(estimator["support_vectors"], names.size(), count);
  auto coefficients = estimator["coefficients"].numbers(count);
  return std::make_unique<SupportVectorClassifier>(std::move(names), std::move(support_vectors),
                                                   std::move(coefficients), bias, gamma,
                                                   std::move(means));
}

std::unique_ptr<const SupportVectorClassifier> SupportVectorClassifier::from_json(
    const nlohmann::json& estimator, const std::vector<std::string>& columns) {
  return read(JsonReader(estimator, "estimator"), columns);
}

}  // namespace nbo::models
