// Readers for the fields of a model file's "estimator" object shared by the tree ensemble, k-NN
// and SVC estimators, on top of JsonReader: every failure throws JsonError naming the JSON path
// of the offending value ("estimator.rows[3][1]: must be a number, got \"x\"").
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nbo/models/json_reader.hpp"

namespace nbo::models::detail {

// "columns": must equal the pipeline's column names, in order.
inline std::vector<std::string> read_columns(const JsonReader& columns,
                                             const std::vector<std::string>& expected) {
  const std::size_t count = columns.array_size();
  if (count != expected.size()) {
    columns.fail(
        fmt::format("has {} entries, the pipeline makes {} columns", count, expected.size()));
  }
  std::vector<std::string> names = columns.strings();
  for (std::size_t i = 0; i < count; ++i) {
    if (names[i] != expected[i]) {
      columns[i].fail(
          fmt::format("is '{}', the pipeline's column {} is '{}'", names[i], i, expected[i]));
    }
  }
  return names;
}

// An array of rows, each an array of `column_count` numbers; returned row-major. `row_count`
// receives the number of rows.
inline std::vector<double> read_rows(const JsonReader& rows, std::size_t column_count,
                                     std::size_t& row_count) {
  const std::size_t count = rows.array_size();
  std::vector<double> out;
  out.reserve(count * column_count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::vector<double> row = rows[i].numbers(column_count);
    out.insert(out.end(), row.begin(), row.end());
  }
  row_count = count;
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
