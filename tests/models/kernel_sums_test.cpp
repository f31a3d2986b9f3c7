// The kernel neighbours' passes below the estimator (src/models/kernel_sums.hpp): distances summed
// from interleaved level codes are bit for bit those summed from the stored doubles, at every SIMD
// level; the precise exp against libm's; the product pass's factors and weights against their
// definitions, with the same bits at every level.
#include "../../src/models/kernel_sums.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/models/row_distances.hpp"
#include "nbo/models/simd.hpp"

namespace nbo::models::detail {
namespace {

// Every SIMD level computes the same bits: the first level's values are kept in `first`, and each
// later level's `values` are expected to have their bits.
template <class T>
void expect_bits_of_the_first_level(std::vector<T>& first, const std::vector<T>& values,
                                    std::string_view level) {
  if (first.empty()) {
    first = values;
    return;
  }
  EXPECT_EQ(std::memcmp(values.data(), first.data(), values.size() * sizeof(T)), 0) << level;
}

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

TEST(KernelSumsTest, ThePreciseExpIsLibmsToAFewUnitsInTheLastPlace) {
  for (double z = -707.5; z < 709.0; z += 0.37) {
    EXPECT_NEAR(precise_exp(z) / std::exp(z), 1.0, 1e-15) << z;
  }
  for (double z = -1.0; z <= 1.0; z += 1.0 / 1024) {
    EXPECT_NEAR(precise_exp(z) / std::exp(z), 1.0, 1e-15) << z;
  }
  EXPECT_EQ(precise_exp(0.0), 1.0);
  EXPECT_EQ(precise_exp(-708.5), 0.0);
  EXPECT_EQ(precise_exp(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(precise_exp(710.0), std::numeric_limits<double>::infinity());
}

TEST(KernelSumsTest, TheKernelLogIsLibmsToAFewUnitsInTheLastPlaceWithTheSameBitsAtEveryLevel) {
  const SimdLevel saved = simd_level();
  std::mt19937_64 random(24);
  std::uniform_real_distribution<double> power(-1074.0, 1023.0);
  std::uniform_real_distribution<double> near_one(0.5, 2.0);
  std::vector<double> x;
  for (int i = 0; i < 2000; ++i) x.push_back(std::exp2(power(random)));
  for (int i = 0; i < 2000; ++i) x.push_back(near_one(random));
  for (const double special :
       {1.0, 2.0, 0.5, std::sqrt(2.0), 1e-310, 4.9e-324, 0.0, -0.0, -1.0,
        std::numeric_limits<double>::infinity(), std::numeric_limits<double>::max(),
        std::numeric_limits<double>::min(), std::numeric_limits<double>::quiet_NaN()}) {
    x.push_back(special);
  }
  for (const double value : x) {
    const double ours = kernel_log(value);
    const double libm = std::log(value);
    if (std::isnan(libm)) {
      EXPECT_TRUE(std::isnan(ours)) << value;
    } else if (std::isinf(libm) || libm == 0.0) {
      EXPECT_EQ(ours, libm) << value;
    } else {
      EXPECT_NEAR(ours, libm, 4.5e-16 * std::abs(libm)) << value;
    }
  }
  std::vector<double> first;
  for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > supported_simd_level()) continue;
    set_simd_level(level);
    std::vector<double> input = x;
    input.resize(x.size() + kKernelLanes);
    std::vector<double> out(input.size());
    kernel_logs(input.data(), x.size(), out.data());
    out.resize(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double scalar = kernel_log(x[i]);
      EXPECT_TRUE(std::memcmp(&out[i], &scalar, sizeof scalar) == 0 ||
                  (std::isnan(out[i]) && std::isnan(scalar)))
          << x[i] << " at " << simd_level_name(level);
    }
    expect_bits_of_the_first_level(first, out, simd_level_name(level));
  }
  set_simd_level(saved);
}

// Level codes and their levels for the product pass's tests: one column per kind of lookup.
struct CodedColumns {
  std::vector<std::uint8_t> counts;
  std::vector<double> level_table;  // kMaxLevels per column, +infinity past the levels
  std::vector<std::uint8_t> codes;  // column-major, rows per column, not interleaved
  std::vector<std::uint8_t> interleaved;
};

CodedColumns coded_columns(std::mt19937_64& random, std::size_t rows) {
  std::normal_distribution<double> normal;
  CodedColumns columns;
  columns.counts = {1, 2, 8, 9, 16, 17, 32, 5};
  const std::size_t count = columns.counts.size();
  columns.level_table.assign(count * kMaxLevels, std::numeric_limits<double>::infinity());
  columns.codes.resize(count * rows);
  columns.interleaved.resize(count * rows);
  for (std::size_t j = 0; j < count; ++j) {
    for (std::size_t v = 0; v < columns.counts[j]; ++v) {
      columns.level_table[j * kMaxLevels + v] = normal(random);
    }
    std::uniform_int_distribution<std::size_t> pick(0, columns.counts[j] - 1);
    for (std::size_t i = 0; i < rows; ++i) {
      columns.codes[j * rows + i] = static_cast<std::uint8_t>(pick(random));
    }
    interleave_codes(columns.codes.data() + j * rows, rows, columns.interleaved.data() + j * rows);
  }
  return columns;
}

TEST(KernelSumsTest, RowFactorsAreTheirDefinitionWithTheSameBitsAtEveryLevel) {
  const SimdLevel saved = simd_level();
  std::mt19937_64 random(22);
  std::normal_distribution<double> normal;
  const CodedColumns columns = coded_columns(random, kCodeGroup);
  const std::size_t count = columns.counts.size();
  for (int query = 0; query < 20; ++query) {
    std::vector<double> row(count);
    for (double& value : row) value = 3.0 * normal(random);
    const double gamma = query % 2 == 0 ? 1.0 : 0.3;
    std::vector<double> first_terms;
    std::vector<double> first_factors;
    std::vector<double> first_minima;
    for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > supported_simd_level()) continue;
      set_simd_level(level);
      std::vector<double> terms(count * kMaxLevels, -1.0);
      std::vector<double> factors(count * kMaxLevels, -1.0);
      std::vector<double> minima(count, -1.0);
      row_factors(columns.level_table.data(), columns.counts, row.data(), gamma, terms.data(),
                  factors.data(), minima.data());
      for (std::size_t j = 0; j < count; ++j) {
        double least = std::numeric_limits<double>::infinity();
        for (std::size_t v = 0; v < columns.counts[j]; ++v) {
          const double difference = columns.level_table[j * kMaxLevels + v] - row[j];
          EXPECT_EQ(terms[j * kMaxLevels + v], difference * difference);
          least = std::min(least, difference * difference);
        }
        EXPECT_EQ(minima[j], least) << "column " << j;
        for (std::size_t v = 0; v < lookup_width(columns.counts[j]); ++v) {
          const double factor = factors[j * kMaxLevels + v];
          if (v >= columns.counts[j]) {
            EXPECT_EQ(factor, 0.0) << "past the levels, column " << j;
            continue;
          }
          const double defined = std::exp(-gamma * (terms[j * kMaxLevels + v] - least));
          EXPECT_NEAR(factor, defined, 1e-15 * defined + 1e-300) << "column " << j;
          EXPECT_LE(factor, 1.0);
        }
      }
      expect_bits_of_the_first_level(first_terms, terms, simd_level_name(level));
      expect_bits_of_the_first_level(first_factors, factors, simd_level_name(level));
      expect_bits_of_the_first_level(first_minima, minima, simd_level_name(level));
    }
  }
  set_simd_level(saved);
}

TEST(KernelSumsTest, ProductWeightsAreTheFactorsMultipliedWithTheSameBitsAtEveryLevel) {
  const SimdLevel saved = simd_level();
  std::mt19937_64 random(23);
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  const std::size_t rows = 3 * kCodeGroup;
  const std::size_t positives = kCodeGroup;
  const CodedColumns columns = coded_columns(random, rows);
  const std::size_t count = columns.counts.size();
  // Factors in [0, 1], as row_factors() makes them, 0 past the levels.
  std::vector<float> factors(count * kMaxLevels, 0.0F);
  std::vector<const std::uint8_t*> code_columns;
  std::vector<const float*> tables;
  for (std::size_t j = 0; j < count; ++j) {
    for (std::size_t v = 0; v < columns.counts[j]; ++v) factors[j * kMaxLevels + v] = unit(random);
    code_columns.push_back(columns.interleaved.data() + j * rows);
    tables.push_back(factors.data() + j * kMaxLevels);
  }
  std::vector<float> defined(rows);
  double positive = 0.0;
  double negative = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    float product = 1.0F;
    for (std::size_t j = 0; j < count; ++j) {
      product *= factors[j * kMaxLevels + columns.codes[j * rows + i]];
    }
    defined[i] = product;
    (i < positives ? positive : negative) += product;
  }
  std::vector<double> first;
  for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > supported_simd_level()) continue;
    set_simd_level(level);
    std::vector<float> weights(rows, -1.0F);
    const KernelSums sums =
        coded_products(code_columns, tables, columns.counts, positives, rows, weights.data());
    // Multiplied in column order from 1: the plain single-precision product's bits.
    EXPECT_EQ(std::memcmp(weights.data(), defined.data(), rows * sizeof(float)), 0)
        << simd_level_name(level);
    // Summed per lane in single precision over a few rows each: within 1e-6 of the exact sum.
    EXPECT_NEAR(sums.positive, positive, 1e-6 * positive) << simd_level_name(level);
    EXPECT_NEAR(sums.negative, negative, 1e-6 * negative) << simd_level_name(level);
    expect_bits_of_the_first_level(first, {sums.positive, sums.negative}, simd_level_name(level));
  }
  set_simd_level(saved);
}

TEST(KernelSumsTest, OccludedSumsAreTheWeightsTimesTheFactorsWithTheSameBitsAtEveryLevel) {
  const SimdLevel saved = simd_level();
  std::mt19937_64 random(24);
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  const std::size_t rows = 3 * kCodeGroup;
  const std::size_t positives = 2 * kCodeGroup;
  const CodedColumns columns = coded_columns(random, rows);
  std::vector<float> weights(rows);
  for (float& weight : weights) weight = unit(random);
  std::vector<float> factors(columns.counts.size() * kMaxLevels, 0.0F);
  for (float& factor : factors) factor = unit(random);
  // One column at a time (each lookup width), then three together.
  std::vector<std::vector<std::size_t>> cases;
  for (std::size_t j = 0; j < columns.counts.size(); ++j) cases.push_back({j});
  cases.push_back({0, 1, 2});
  for (const auto& moved : cases) {
    std::vector<const std::uint8_t*> codes;
    std::vector<const float*> tables;
    std::vector<std::uint8_t> levels;
    for (const std::size_t j : moved) {
      codes.push_back(columns.interleaved.data() + j * rows);
      tables.push_back(factors.data() + j * kMaxLevels);
      levels.push_back(columns.counts[j]);
    }
    double positive = 0.0;
    double negative = 0.0;
    for (std::size_t i = 0; i < rows; ++i) {
      float factor = 1.0F;
      for (const std::size_t j : moved)
        factor *= factors[j * kMaxLevels + columns.codes[j * rows + i]];
      (i < positives ? positive : negative) += static_cast<double>(weights[i] * factor);
    }
    std::vector<double> first;
    for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
      if (level > supported_simd_level()) continue;
      set_simd_level(level);
      const KernelSums sums = table_sums(weights.data(), codes, tables, levels, positives, rows);
      const std::string context =
          std::string(simd_level_name(level)) + ", columns from " + std::to_string(moved[0]);
      EXPECT_NEAR(sums.positive, positive, 1e-6 * positive) << context;
      EXPECT_NEAR(sums.negative, negative, 1e-6 * negative) << context;
      expect_bits_of_the_first_level(first, {sums.positive, sums.negative}, context);
    }
  }
  set_simd_level(saved);
}

}  // namespace
}  // namespace nbo::models::detail
