// The distance kernels, compiled three times (AVX-512, AVX2, baseline x86-64) from one body and
// picked per call by simd_level(). The body uses GCC's vector extensions: an 8-lane vector of
// doubles is one register under AVX-512, two under AVX2 and four under the baseline's SSE2, and
// each lane does exactly the scalar operations, so every level gives the same bits.
#include "row_distances.hpp"

#include <immintrin.h>

#include <cstdint>
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

// The rows from `begin` to `count` one at a time, after a kernel's whole vectors; `kept` rows
// are kept already. Returns the new count.
[[gnu::always_inline]] inline std::size_t estimates_tail(const double* base,
                                                         const double* const* columns,
                                                         const double* slopes, std::size_t moved,
                                                         std::size_t begin, std::size_t count,
                                                         double threshold, double* values,
                                                         std::size_t* rows, std::size_t kept) {
  for (std::size_t i = begin; i < count; ++i) {
    double estimate = base[i];
    for (std::size_t m = 0; m < moved; ++m) estimate -= slopes[m] * columns[m][i];
    values[kept] = estimate;
    rows[kept] = i;
    kept += estimate <= threshold ? 1 : 0;
  }
  return kept;
}

template <class Lanes>
[[gnu::always_inline]] inline std::size_t estimates_body(const double* base,
                                                         const double* const* columns,
                                                         const double* slopes, std::size_t moved,
                                                         std::size_t count, double threshold,
                                                         double* values, std::size_t* rows) {
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
      values[kept] = estimate[lane];
      rows[kept] = i + lane;
      kept += estimate[lane] <= threshold ? 1 : 0;
    }
  }
  return estimates_tail(base, columns, slopes, moved, i, count, threshold, values, rows, kept);
}

[[gnu::always_inline]] inline void buckets_body(const double* distances, std::size_t count,
                                                double closest, double per_distance, double reach,
                                                std::uint8_t last, std::uint8_t* out) {
  // A plain loop: the compiler vectorizes it for each level (compare, clamp, truncate, narrow).
  const double highest = static_cast<double>(last);
  for (std::size_t i = 0; i < count; ++i) {
    double position = (distances[i] - closest) * per_distance;
    position = position < 0.0 ? 0.0 : position;
    position = position > highest ? highest : position;
    const auto bucket = static_cast<std::uint8_t>(static_cast<int>(position));
    out[i] = distances[i] <= reach ? bucket : static_cast<std::uint8_t>(last + 1);
  }
}

[[gnu::target("avx512f")]] void buckets_avx512(const double* distances, std::size_t count,
                                               double closest, double per_distance, double reach,
                                               std::uint8_t last, std::uint8_t* out) {
  buckets_body(distances, count, closest, per_distance, reach, last, out);
}

[[gnu::target("avx2")]] void buckets_avx2(const double* distances, std::size_t count,
                                          double closest, double per_distance, double reach,
                                          std::uint8_t last, std::uint8_t* out) {
  buckets_body(distances, count, closest, per_distance, reach, last, out);
}

void buckets_baseline(const double* distances, std::size_t count, double closest,
                      double per_distance, double reach, std::uint8_t last, std::uint8_t* out) {
  buckets_body(distances, count, closest, per_distance, reach, last, out);
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

// AVX-512 compresses the kept lanes of a block in registers, one instruction each for the
// values and the row indices, and stores both vectors whole, so it needs no branch per block.
// The arithmetic is the generic body's.
[[gnu::target("avx512f")]] std::size_t estimates_avx512(const double* base,
                                                        const double* const* columns,
                                                        const double* slopes, std::size_t moved,
                                                        std::size_t count, double threshold,
                                                        double* values, std::size_t* rows) {
  static_assert(sizeof(std::size_t) == sizeof(long long));
  const __m512d limit = _mm512_set1_pd(threshold);
  const __m512i step = _mm512_set1_epi64(8);
  __m512i indices = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  std::size_t kept = 0;
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8, indices = _mm512_add_epi64(indices, step)) {
    __m512d estimate = _mm512_loadu_pd(base + i);
    for (std::size_t m = 0; m < moved; ++m) {
      estimate = _mm512_sub_pd(
          estimate, _mm512_mul_pd(_mm512_set1_pd(slopes[m]), _mm512_loadu_pd(columns[m] + i)));
    }
    const __mmask8 keep = _mm512_cmp_pd_mask(estimate, limit, _CMP_LE_OQ);
    // Compressed in registers: a compressing store to memory is slow on some processors.
    _mm512_storeu_pd(values + kept, _mm512_maskz_compress_pd(keep, estimate));
    _mm512_storeu_si512(rows + kept, _mm512_maskz_compress_epi64(keep, indices));
    kept += static_cast<std::size_t>(__builtin_popcount(keep));
  }
  return estimates_tail(base, columns, slopes, moved, i, count, threshold, values, rows, kept);
}

[[gnu::target("avx2")]] std::size_t estimates_avx2(const double* base, const double* const* columns,
                                                   const double* slopes, std::size_t moved,
                                                   std::size_t count, double threshold,
                                                   double* values, std::size_t* rows) {
  return estimates_body<Lanes4>(base, columns, slopes, moved, count, threshold, values, rows);
}

std::size_t estimates_baseline(const double* base, const double* const* columns,
                               const double* slopes, std::size_t moved, std::size_t count,
                               double threshold, double* values, std::size_t* rows) {
  return estimates_body<Lanes2>(base, columns, slopes, moved, count, threshold, values, rows);
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
                              double* values, std::size_t* rows) {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return estimates_avx512(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                              values, rows);
    case SimdLevel::kAvx2:
      return estimates_avx2(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                            values, rows);
    case SimdLevel::kBaseline:
      break;
  }
  return estimates_baseline(base, columns.data(), slopes.data(), columns.size(), count, threshold,
                            values, rows);
}

void reach_buckets(const double* distances, std::size_t count, double closest, double per_distance,
                   double reach, std::uint8_t last, std::uint8_t* out) {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return buckets_avx512(distances, count, closest, per_distance, reach, last, out);
    case SimdLevel::kAvx2:
      return buckets_avx2(distances, count, closest, per_distance, reach, last, out);
    case SimdLevel::kBaseline:
      break;
  }
  buckets_baseline(distances, count, closest, per_distance, reach, last, out);
}

}  // namespace nbo::models::detail
