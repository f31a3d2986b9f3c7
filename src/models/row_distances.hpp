// Squared Euclidean distances from one model row to many stored rows, for the k-NN and RBF SVC
// estimators. The stored rows are kept column-major (value of column j of row i at
// [j * row_count + i]) so the inner loop runs over contiguous rows and vectorizes without
// reassociating: each distance is still summed in column order, bit for bit the value of the
// plain row-major loop.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nbo::models::detail {

// Rows per block of distances a caller computes at once into a stack buffer of this size.
inline constexpr std::size_t kDistanceBlock = 256;

// Transposes `rows` (row-major, row_count rows of column_count values) to column-major.
inline std::vector<double> to_column_major(const std::vector<double>& rows, std::size_t row_count,
                                           std::size_t column_count) {
  std::vector<double> out(rows.size());
  for (std::size_t i = 0; i < row_count; ++i) {
    for (std::size_t j = 0; j < column_count; ++j) {
      out[j * row_count + i] = rows[i * column_count + j];
    }
  }
  return out;
}

// out[i] = ||row - stored row (begin + i)||^2 for i < count. Each distance is summed in column
// order from 0, bit for bit squared_distance()'s value, at every SimdLevel (simd.hpp): the
// kernel runs blocks of rows side by side in vector lanes, never reassociating a row's sum.
void squared_distances(std::span<const double> row, const std::vector<double>& column_major,
                       std::size_t row_count, std::size_t begin, std::size_t count, double* out);

// Extra room estimates_at_most() needs past `count` in its outputs: it stores whole vectors.
inline constexpr std::size_t kEstimatePadding = 8;

// For i < count, estimate_i = base[i] - slopes[0] * columns[0][i] - slopes[1] * columns[1][i] ...
// (subtracted in that order, the same bits at every SimdLevel). Writes the estimates of the rows
// whose estimate is <= threshold to `values` and their row indices to `rows`, in row order, and
// returns how many; both need room for count + kEstimatePadding (what lies past the returned
// count is scratch).
std::size_t estimates_at_most(const double* base, std::span<const double* const> columns,
                              std::span<const double> slopes, std::size_t count, double threshold,
                              double* values, std::size_t* rows);

// For i < count: out[i] = the bucket of distances[i], trunc(clamp((distances[i] - closest) *
// per_distance, 0, last)), or last + 1 when distances[i] > reach (out of reach). The clamp is
// done on doubles, so the bucket of a distance is the same wherever it is computed.
void reach_buckets(const double* distances, std::size_t count, double closest, double per_distance,
                   double reach, std::uint8_t last, std::uint8_t* out);

// ||row - stored row `index`||^2 from the row-major `rows` of `row.size()` columns: the same
// operations in the same order as squared_distances(), so bit for bit its value (no FMA
// contraction: the library is built with -ffp-contract=off). For the few rows whose exact distance
// an explanation needs after a cheaper estimate.
inline double squared_distance(std::span<const double> row, const std::vector<double>& rows,
                               std::size_t index) {
  const double* stored = rows.data() + index * row.size();
  double sum = 0.0;
  for (std::size_t j = 0; j < row.size(); ++j) {
    const double difference = stored[j] - row[j];
    sum += difference * difference;
  }
  return sum;
}

}  // namespace nbo::models::detail
