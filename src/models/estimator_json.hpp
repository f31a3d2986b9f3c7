// Readers for the fields of a model file's "estimator" object shared by the k-NN and SVC
// estimators. Every failure throws std::invalid_argument whose message starts with the JSON path
// of the offending value ("estimator.rows[3][1]: must be a number").
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace nbo::models::detail {

// The member `key` of `estimator`; throws naming "estimator.<key>" when it is missing.
inline const nlohmann::json& estimator_field(const nlohmann::json& estimator,
                                             const std::string& key) {
  const auto found = estimator.find(key);
  if (found == estimator.end()) throw std::invalid_argument("estimator." + key + ": is required");
  return *found;
}

inline double estimator_number(const nlohmann::json& estimator, const std::string& key) {
  const auto& value = estimator_field(estimator, key);
  if (!value.is_number()) throw std::invalid_argument("estimator." + key + ": must be a number");
  return value.get<double>();
}

// "estimator.columns": must equal the pipeline's column names, in order.
inline std::vector<std::string> estimator_columns(const nlohmann::json& estimator,
                                                  const std::vector<std::string>& expected) {
  const auto& columns = estimator_field(estimator, "columns");
  if (!columns.is_array()) throw std::invalid_argument("estimator.columns: must be an array");
  if (columns.size() != expected.size()) {
    throw std::invalid_argument(
        fmt::format("estimator.columns: has {} entries, the pipeline makes {} columns",
                    columns.size(), expected.size()));
  }
  std::vector<std::string> names;
  names.reserve(columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (!columns[i].is_string()) {
      throw std::invalid_argument(fmt::format("estimator.columns[{}]: must be a string", i));
    }
    const auto& name = columns[i].get_ref<const std::string&>();
    if (name != expected[i]) {
      throw std::invalid_argument(
          fmt::format("estimator.columns[{}]: is '{}', the pipeline's column {} is '{}'", i, name,
                      i, expected[i]));
    }
    names.push_back(name);
  }
  return names;
}

// "estimator.<key>": an array of numbers of length `size`.
inline std::vector<double> estimator_vector(const nlohmann::json& estimator, const std::string& key,
                                            std::size_t size) {
  const auto& values = estimator_field(estimator, key);
  if (!values.is_array()) throw std::invalid_argument("estimator." + key + ": must be an array");
  if (values.size() != size) {
    throw std::invalid_argument(
        fmt::format("estimator.{}: has {} entries, expected {}", key, values.size(), size));
  }
  std::vector<double> out;
  out.reserve(size);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!values[i].is_number()) {
      throw std::invalid_argument(fmt::format("estimator.{}[{}]: must be a number", key, i));
    }
    out.push_back(values[i].get<double>());
  }
  return out;
}

// "estimator.<key>": an array of rows, each an array of `column_count` numbers; returned
// row-major. `row_count` receives the number of rows.
inline std::vector<double> estimator_rows(const nlohmann::json& estimator, const std::string& key,
                                          std::size_t column_count, std::size_t& row_count) {
  const auto& rows = estimator_field(estimator, key);
  if (!rows.is_array()) throw std::invalid_argument("estimator." + key + ": must be an array");
  std::vector<double> out;
  out.reserve(rows.size() * column_count);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (!row.is_array() || row.size() != column_count) {
      throw std::invalid_argument(
          fmt::format("estimator.{}[{}]: must be an array of {} numbers", key, i, column_count));
    }
    for (std::size_t j = 0; j < column_count; ++j) {
      if (!row[j].is_number()) {
        throw std::invalid_argument(
            fmt::format("estimator.{}[{}][{}]: must be a number", key, i, j));
      }
      out.push_back(row[j].get<double>());
    }
  }
  row_count = rows.size();
  return out;
}

// `row_count` rows (row-major, `column_count` values each) as a JSON array of arrays.
inline nlohmann::json rows_to_json(const std::vector<double>& rows, std::size_t row_count,
                                   std::size_t column_count) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < row_count; ++i) {
    const auto first = rows.begin() + static_cast<std::ptrdiff_t>(i * column_count);
    out.push_back(std::vector<double>(first, first + static_cast<std::ptrdiff_t>(column_count)));
  }
  return out;
}

}  // namespace nbo::models::detail
