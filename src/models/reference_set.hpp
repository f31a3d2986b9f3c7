// The checks and the model-file fields shared by the estimators that keep labelled reference rows
// with column weights (k-NN, kernel neighbours): one place decides what a valid reference set is.
//
// Thread safety: pure functions.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "estimator_json.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::models::detail {

// Throws std::invalid_argument, the message prefixed by `model`, unless `rows` holds
// labels.size() rows of names.size() finite values, labels are 0/1 and `weights` holds one finite
// weight >= 0 per column, not all 0; empty `weights` become all 1.
inline void check_reference_set(std::string_view model, const std::vector<std::string>& names,
                                const std::vector<double>& rows,
                                const std::vector<std::uint8_t>& labels,
                                std::vector<double>& weights) {
  const std::size_t columns = names.size();
  if (rows.size() != labels.size() * columns) {
    throw std::invalid_argument(fmt::format("{}: {} reference values for {} rows of {} columns",
                                            model, rows.size(), labels.size(), columns));
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] > 1) {
      throw std::invalid_argument(
          fmt::format("{}: label of reference row {} must be 0 or 1", model, i));
    }
    for (std::size_t j = 0; j < columns; ++j) {
      if (!std::isfinite(rows[i * columns + j])) {
        throw std::invalid_argument(fmt::format(
            "{}: value of column '{}' in reference row {} must be finite", model, names[j], i));
      }
    }
  }
  if (weights.empty()) weights.assign(columns, 1.0);
  if (weights.size() != columns) {
    throw std::invalid_argument(
        fmt::format("{}: {} column weights for {} columns", model, weights.size(), columns));
  }
  for (std::size_t j = 0; j < columns; ++j) {
    if (!std::isfinite(weights[j]) || weights[j] < 0.0) {
      throw std::invalid_argument(fmt::format(
          "{}: weight of column '{}' must be finite and >= 0, is {}", model, names[j], weights[j]));
    }
  }
  if (std::all_of(weights.begin(), weights.end(), [](double weight) { return weight == 0.0; })) {
    throw std::invalid_argument(fmt::format("{}: the column weights are all 0", model));
  }
}

// The mean of each of `columns` columns over the row-major `rows`, summed row by row in order:
// the reference the neighbour estimators occlude a column with.
inline std::vector<double> column_means(const std::vector<double>& rows, std::size_t columns) {
  const std::size_t count = rows.size() / columns;
  std::vector<double> means(columns, 0.0);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < columns; ++j) means[j] += rows[i * columns + j];
  }
  for (double& mean : means) mean /= static_cast<double>(count);
  return means;
}

// "labels": one 0 or 1 per reference row.
inline std::vector<std::uint8_t> read_labels(const JsonReader& labels, std::size_t row_count) {
  if (labels.array_size() != row_count) {
    labels.fail(fmt::format("has {} entries for {} rows", labels.array_size(), row_count));
  }
  std::vector<std::uint8_t> out;
  out.reserve(row_count);
  for (std::size_t i = 0; i < row_count; ++i) {
    const auto& label = labels.json()[i];
    if (!label.is_number_integer() || (label != 0 && label != 1)) {
      labels[i].fail(fmt::format("must be 0 or 1, got {}", JsonReader::quote(label)));
    }
    out.push_back(label == 1 ? 1 : 0);
  }
  return out;
}

// The optional "column_weights" of `estimator`: one number >= 0 per column, not all 0; empty
// when absent.
inline std::vector<double> read_column_weights(const JsonReader& estimator, std::size_t columns) {
  std::vector<double> out;
  const auto found = estimator.find("column_weights");
  if (!found) return out;
  const JsonReader& weights = *found;
  if (!weights.json().is_array() || weights.json().size() != columns) {
    weights.fail(fmt::format("must be an array of {} numbers, one per column", columns));
  }
  for (std::size_t j = 0; j < columns; ++j) {
    const JsonReader weight = weights[j];
    const double value = weight.finite_number();
    if (value < 0) weight.fail(fmt::format("must be >= 0, got {}", value));
    out.push_back(value);
  }
  if (std::all_of(out.begin(), out.end(), [](double w) { return w == 0.0; })) {
    weights.fail("must not be all 0");
  }
  return out;
}

// Adds "columns", "labels", "rows" and, where some weight is not 1, "column_weights" to
// `estimator`: unweighted models keep the layout they had before column weights existed.
inline void write_reference_set(nlohmann::json& estimator, const std::vector<std::string>& names,
                                const std::vector<double>& rows,
                                const std::vector<std::uint8_t>& labels,
                                const std::vector<double>& weights) {
  estimator["columns"] = names;
  estimator["labels"] = labels;
  estimator["rows"] = rows_to_json(rows, labels.size(), names.size());
  if (std::any_of(weights.begin(), weights.end(), [](double weight) { return weight != 1.0; })) {
    estimator["column_weights"] = weights;
  }
}

}  // namespace nbo::models::detail
