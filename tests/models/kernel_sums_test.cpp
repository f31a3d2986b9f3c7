// The kernel neighbours' passes below the estimator (src/models/kernel_sums.hpp): distances summed
// from interleaved level codes are bit for bit those summed from the stored doubles, at every SIMD
// level.
#include "../../src/models/kernel_sums.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "../../src/models/row_distances.hpp"
#include "nbo/models/simd.hpp"

namespace nbo::models::detail {
namespace {

TEST(KernelSumsTest, DistancesFromLevelCodesAreTheStoredRowsBits) {
  const SimdLevel saved = simd_level();
  std::mt19937_64 random(21);
  std::normal_distribution<double> normal;
  // One column per kind of lookup and its edges: at most 8, 16 and 32 values.
  const std::vector<std::size_t> values_per_column = {1, 2, 8, 9, 16, 17, 32, 5};
  const std::size_t columns = values_per_column.size();
  const std::size_t rows = 3 * kCodeGroup;
  std::vector<std::vector<double>> levels(columns);
  std::vector<double> column_major(columns * rows);
  std::vector<std::uint8_t> codes(columns * rows);
  for (std::size_t j = 0; j < columns; ++j) {
    for (std::size_t v = 0; v < values_per_column[j]; ++v) levels[j].push_back(normal(random));
    std::uniform_int_distribution<std::size_t> pick(0, values_per_column[j] - 1);
    for (std::size_t i = 0; i < rows; ++i) {
      const std::size_t code = pick(random);
      codes[j * rows + i] = static_cast<std::uint8_t>(code);
      column_major[j * rows + i] = levels[j][code];
    }
  }
  std::vector<std::uint8_t> interleaved(codes.size());
  for (std::size_t j = 0; j < columns; ++j) {
    interleave_codes(codes.data() + j * rows, rows, interleaved.data() + j * rows);
  }
  for (int query = 0; query < 20; ++query) {
    std::vector<double> row(columns);
    for (double& value : row) value = 3.0 * normal(random);
    std::vector<double> terms(columns * kMaxLevels, 0.0);
    std::vector<const std::uint8_t*> code_columns;
    std::vector<const double*> term_tables;
    std::vector<std::uint8_t> counts;
    for (std::size_t j = 0; j < columns; ++j) {
      for (std::size_t v = 0; v < levels[j].size(); ++v) {
        const double difference = levels[j][v] - row[j];
        terms[j * kMaxLevels + v] = difference * difference;
      }
      code_columns.push_back(interleaved.data() + j * rows);
      term_tables.push_back(terms.data() + j * kMaxLevels);
      counts.push_back(static_cast<std::uint8_t>(levels[j].size()));
    }
    std::vector<double> stored(rows);
    squared_distances(row, column_major, rows, 0, rows, stored.data());
    for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > supported_simd_level()) continue;
      set_simd_level(level);
      std::vector<double> coded(rows, -1.0);
      coded_distances(code_columns, term_tables, counts, rows, coded.data());
      // The bits, so that -0 and +0 differ.
      EXPECT_EQ(std::memcmp(coded.data(), stored.data(), rows * sizeof(double)), 0)
          << simd_level_name(level);
    }
  }
  set_simd_level(saved);
}

}  // namespace
}  // namespace nbo::models::detail
