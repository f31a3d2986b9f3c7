// The distance kernels, compiled three times (AVX-512, AVX2, baseline x86-64) from one body and
// picked per call by simd_level(). The body uses GCC's vector extensions: an 8-lane vector of
// doubles is one register under AVX-512, two under AVX2 and four under the baseline's SSE2, and
// each lane does exactly the scalar operations, so every level gives the same bits.
#include "row_distances.hpp"

#include <cstring>

#include "nbo/models/simd.hpp"

// The 8-lane helpers below are always inlined into the kernels, so no vector crosses a call:
// GCC's note that passing one would change the ABI without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace nbo::models::detail {
namespace {

// A vector of doubles as wide as the level's registers: 8 lanes for AVX-512, 4 for AVX2, 2 for
// the baseline's SSE2, so each kernel works in native registers.
using Lanes8 = double __attribute__((vector_size(64)));
using Lanes4 = double __attribute__((vector_size(32)));
using Lanes2 = double __attribute__((vector_size(16)));

template <class Lanes>
constexpr std::size_t kLanes = sizeof(Lanes) / sizeof(double);

template <class Lanes>
[[gnu::always_inline]] inline Lanes load(const double* values) {
  Lanes lanes;
  std::memcpy(&lanes, values, sizeof lanes);
  return lanes;
}

template <class Lanes>
[[gnu::always_inline]] inline void store(double* values, Lanes lanes) {
  std::memcpy(values, &lanes, sizeof lanes);
}

// Rows whose sums are kept in registers at once: four vectors, enough independent additions to
// hide their latency without spilling.
template <class Lanes>
[[gnu::always_inline]] inline void distances_body(const double* row, std::size_t columns,
                                                  const double* column_major, std::size_t stride,
                                                  std::size_t count, double* out) {
  constexpr std::size_t lanes = kLanes<Lanes>;
  std::size_t i = 0;
  for (; i + 4 * lanes <= count; i += 4 * lanes) {
    Lanes sum0{};
    Lanes sum1{};
    Lanes sum2{};
    Lanes sum3{};
    for (std::size_t j = 0; j < columns; ++j) {
      const double* column = column_major + j * stride + i;
      const double value = row[j];
      const Lanes difference0 = load<Lanes>(column) - value;
      const Lanes difference1 = load<Lanes>(column + lanes) - value;
      const Lanes difference2 = load<Lanes>(column + 2 * lanes) - value;
      const Lanes difference3 = load<Lanes>(column + 3 * lanes) - value;
      sum0 += difference0 * difference0;
      sum1 += difference1 * difference1;
      sum2 += difference2 * difference2;
      sum3 += difference3 * difference3;
    }
    store(out + i, sum0);
    store(out + i + lanes, sum1);
    store(out + i + 2 * lanes, sum2);
    store(out + i + 3 * lanes, sum3);
  }
  for (; i < count; ++i) {
    double sum = 0.0;
    for (std::size_t j = 0; j < columns; ++j) {
      const double difference = column_major[j * stride + i] - row[j];
      sum += difference * difference;
    }
    out[i] = sum;
  }
}

template <class Lanes>
[[gnu::always_inline]] inline std::size_t estimates_body(const double* base,
                                                         const double* const* columns,
                                                         const double* slopes, std::size_t moved,
                                                         std::size_t count, double threshold,
                                                         Estimate* out) {
  constexpr std::size_t lanes = kLanes<Lanes>;
  std::size_t kept = 0;
  std::size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    Lanes estimate = load<Lanes>(base + i);
    for (std::size_t m = 0; m < moved; ++m) estimate -= slopes[m] * load<Lanes>(columns[m] + i);
    // Most blocks keep no row: one test on the smallest lane skips them.
    double smallest = estimate[0];
    for (std::size_t lane = 1; lane < lanes; ++lane) {
      smallest = estimate[lane] < smallest ? estimate[lane] : smallest;
    }
    if (!(smallest <= threshold)) continue;
    for (std::size_t lane = 0; lane < lanes; ++lane) {
      out[kept] = Estimate{estimate[lane], i + lane};
      kept += estimate[lane] <= threshold ? 1 : 0;
    }
  }
  for (; i < count; ++i) {
    double estimate = base[i];
    for (std::size_t m = 0; m < moved; ++m) estimate -= slopes[m] * columns[m][i];
    out[kept] = Estimate{estimate, i};
    kept += estimate <= threshold ? 1 : 0;
  }
  return kept;
}

[[gnu::target("avx512f")]] void distances_avx512(const double* row, std::size_t columns,
                                                 const double* column_major, std::size_t stride,
                                                 std::size_t count, double* out) {
  distances_body<Lanes8>(row, columns, column_major, stride, count, out);
}

[[gnu::target("avx2")]] void distances_avx2(const double* row, std::size_t columns,
                                            const double* column_major, std::size_t stride,
                                            std::size_t count, double* out) {
  distances_body<Lanes4>(row, columns, column_major, stride, count, out);
}

void distances_baseline(const double* row, std::size_t columns, const double* column_major,
                        std::size_t stride, std::size_t count, double* out) {
  distances_body<Lanes2>(row, columns, column_major, stride, count, out);
}

[[gnu::target("avx512f")]] std::size_t estimates_avx512(const double* base,
                                                        const double* const* columns,
                                                        const double* slopes, std::size_t moved,
                                                        std::size_t count, double threshold,
                                                        Estimate* out) {
  return estimates_body<Lanes8>(base, columns, slopes, moved, count, threshold, out);
}

[[gnu::target("avx2")]] std::size_t estimates_avx2(const double* base, const double* const* columns,
                                                   const double* slopes, std::size_t moved,
                                                   std::size_t count, double threshold,
                                                   Estimate* out) {
  return estimates_body<Lanes4>(base, columns, slopes, moved, count, threshold, out);
}

std::size_t estimates_baseline(const double* base, const double* const* columns,
                               const double* slopes, std::size_t moved, std::size_t count,
                               double threshold, Estimate* out) {
  return estimates_body<Lanes2>(base, columns, slopes, moved, count, threshold, out);
}

}  // namespace

void squared_distances(std::span<const double> row, const std::vector<double>& column_major,
                       std::size_t row_count, std::size_t begin, std::size_t count, double* out) {
  const double* first = column_major.data() + begin;
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return distances_avx512(row.data(), row.size(), first, row_count, count, out);
    case SimdLevel::kAvx2:
      return distances_avx2(row.data(), row.size(), first, row_count, count, out);
    case SimdLevel::kBaseline:
      break;
  }
  distances_baseline(row.data(), row.size(), first, row_count, count, out);
}

std::size_t estimates_at_most(const double* base, std::span<const double* const> columns,
                              std::span<const double> slopes, std::size_t count, double threshold,
                              Estimate* out) {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return estimates_avx512(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                              out);
    case SimdLevel::kAvx2:
      return estimates_avx2(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                            out);
    case SimdLevel::kBaseline:
      break;
  }
  return estimates_baseline(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                            out);
}

}  // namespace nbo::models::detail
