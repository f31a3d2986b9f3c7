// The kernel pass, compiled three times (AVX-512, AVX2, baseline x86-64) from one body and
// picked per call by simd_level(). The body works on GCC vectors of eight doubles at every
// level, so the lanes, and how their partial sums are added, are the same everywhere.
#include "kernel_sums.hpp"

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <limits>

#include "nbo/models/simd.hpp"

// The helpers below are always inlined into the kernels, so no vector crosses a call.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace nbo::models::detail {
namespace {

using Doubles = double __attribute__((vector_size(64)));
using Integers = std::int64_t __attribute__((vector_size(64)));

constexpr double kLog2e = 1.4426950408889634;
// 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer, which then sits in
// the sum's low mantissa bits.
constexpr double kShifter = 0x1.8p52;
// ln 2 split so that n * kLn2High is exact for |n| < 2^11.
constexpr double kLn2High = 0x1.62e42fee00000p-1;
constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
constexpr double kLowest = -708.0;
constexpr double kHighest = 709.0;

template <class Vector>
[[gnu::always_inline]] inline Vector load(const double* values) {
  Vector lanes;
  std::memcpy(&lanes, values, sizeof lanes);
  return lanes;
}

// One body for a lane vector and for a single double: the same operations in the same order.
// The polynomial is evaluated by Estrin's scheme, whose chain of dependent operations is half
// Horner's.
//
// `NonPositive`: the caller's z is never above 0 (or NaN), so the upper clamp and the +infinity
// select, which never change such a z's result, are left out.
template <class Value, class Bits, bool NonPositive = false>
[[gnu::always_inline]] inline Value exp_body(Value z) {
  Value clamped;
  if constexpr (NonPositive) {
    clamped = z < kLowest ? Value{} + kLowest : z;
  } else {
    clamped = z < kLowest ? Value{} + kLowest : (z > kHighest ? Value{} + kHighest : z);
  }
  const Value shifted = clamped * kLog2e + kShifter;
  const Value n = shifted - kShifter;
  const Value r = (clamped - n * kLn2High) - n * kLn2Low;
  const Value r2 = r * r;
  const Value r4 = r2 * r2;
  const Value low = (r + 1.0) + r2 * (r * (1.0 / 6.0) + 0.5);
  const Value high = (r * (1.0 / 120.0) + (1.0 / 24.0)) + r2 * (r * (1.0 / 5040.0) + (1.0 / 720.0));
  const Value p = low + r4 * high;
  Bits shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  Bits shifter_bits;
  const Value shifter = Value{} + kShifter;
  std::memcpy(&shifter_bits, &shifter, sizeof shifter_bits);
  const Bits scale_bits = (shifted_bits - shifter_bits + 1023) << 52;
  Value scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const Value value = p * scale;
  if constexpr (NonPositive) {
    return z < kLowest ? Value{} : value;
  } else {
    const Value infinity = Value{} + std::numeric_limits<double>::infinity();
    return z < kLowest ? Value{} : (z > kHighest ? infinity : value);
  }
}

// The weight of one vector of rows at `i`.
[[gnu::always_inline]] inline Doubles vector_weight(const double* base,
                                                    const double* const* columns,
                                                    const double* slopes, std::size_t moved,
                                                    double constant, std::size_t i, double offset,
                                                    double gamma) {
  Doubles distance = load<Doubles>(base + i);
  if (moved == 0) {
    // offset is at most every distance: the exponent is never above 0.
    return exp_body<Doubles, Integers, true>(-(gamma * (distance - offset)));
  }
  for (std::size_t m = 0; m < moved; ++m) distance += slopes[m] * load<Doubles>(columns[m] + i);
  distance += constant;
  return exp_body<Doubles, Integers>(-(gamma * (distance - offset)));
}

[[gnu::always_inline]] inline double add_lanes(Doubles v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// Sums `value(i)` over the vectors of rows [begin, end), both multiples of kKernelBlock, four
// vectors to a block, each with its own sums.
template <class Value>
[[gnu::always_inline]] inline double block_sums(std::size_t begin, std::size_t end,
                                                const Value& value) {
  Doubles sum0{};
  Doubles sum1{};
  Doubles sum2{};
  Doubles sum3{};
  for (std::size_t i = begin; i < end; i += kKernelBlock) {
    sum0 += value(i);
    sum1 += value(i + kKernelLanes);
    sum2 += value(i + 2 * kKernelLanes);
    sum3 += value(i + 3 * kKernelLanes);
  }
  return add_lanes(((sum0 + sum1) + sum2) + sum3);
}

template <class Value>
[[gnu::always_inline]] inline KernelSums both_sums(std::size_t positives, std::size_t count,
                                                   const Value& value) {
  return {block_sums(0, positives, value), block_sums(positives, count, value)};
}

[[gnu::always_inline]] inline KernelSums weights_body(const double* distances,
                                                      std::size_t positives, std::size_t count,
                                                      double offset, double gamma,
                                                      double* weights) {
  return both_sums(
      positives, count, [&](std::size_t i) __attribute__((always_inline)) {
        const Doubles weight = vector_weight(distances, nullptr, nullptr, 0, 0.0, i, offset, gamma);
        std::memcpy(weights + i, &weight, sizeof weight);
        return weight;
      });
}

[[gnu::always_inline]] inline KernelSums sums_body(const double* base, const double* const* columns,
                                                   const double* slopes, std::size_t moved,
                                                   double constant, std::size_t positives,
                                                   std::size_t count, double offset, double gamma) {
  return both_sums(
      positives, count, [&](std::size_t i) __attribute__((always_inline)) {
        return vector_weight(base, columns, slopes, moved, constant, i, offset, gamma);
      });
}

// The byte of row `row`'s code in an interleaved column (interleave_codes()).
[[gnu::always_inline]] inline std::size_t interleaved(std::size_t row) {
  const std::size_t group = row / kCodeGroup * kCodeGroup;
  const std::size_t vector = row % kCodeGroup / kKernelLanes;
  return group + kKernelLanes * (row % kKernelLanes) + vector;
}

// The table's values at the codes of rows i + lane (interleaved codes), one lane at a time.
[[gnu::always_inline]] inline Doubles lookup_lanes(const std::uint8_t* codes, const double* table,
                                                   std::size_t i) {
  Doubles values;
  for (std::size_t lane = 0; lane < kKernelLanes; ++lane) {
    values[lane] = table[codes[interleaved(i + lane)]];
  }
  return values;
}

template <class Lookup>
[[gnu::always_inline]] inline KernelSums table_body(const double* weights,
                                                    const std::uint8_t* const* codes,
                                                    const double* const* tables, std::size_t moved,
                                                    std::size_t positives, std::size_t count,
                                                    const Lookup& lookup) {
  return both_sums(
      positives, count, [&](std::size_t i) __attribute__((always_inline)) {
        Doubles factor = lookup(codes[0], tables[0], i);
        for (std::size_t m = 1; m < moved; ++m) factor *= lookup(codes[m], tables[m], i);
        return load<Doubles>(weights + i) * factor;
      });
}

[[gnu::target("avx512f")]] KernelSums weights_avx512(const double* distances, std::size_t positives,
                                                     std::size_t count, double offset, double gamma,
                                                     double* weights) {
  return weights_body(distances, positives, count, offset, gamma, weights);
}

[[gnu::target("avx2")]] KernelSums weights_avx2(const double* distances, std::size_t positives,
                                                std::size_t count, double offset, double gamma,
                                                double* weights) {
  return weights_body(distances, positives, count, offset, gamma, weights);
}

KernelSums weights_baseline(const double* distances, std::size_t positives, std::size_t count,
                            double offset, double gamma, double* weights) {
  return weights_body(distances, positives, count, offset, gamma, weights);
}

[[gnu::target("avx512f")]] KernelSums sums_avx512(const double* base, const double* const* columns,
                                                  const double* slopes, std::size_t moved,
                                                  double constant, std::size_t positives,
                                                  std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

[[gnu::target("avx2")]] KernelSums sums_avx2(const double* base, const double* const* columns,
                                             const double* slopes, std::size_t moved,
                                             double constant, std::size_t positives,
                                             std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

KernelSums sums_baseline(const double* base, const double* const* columns, const double* slopes,
                         std::size_t moved, double constant, std::size_t positives,
                         std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

[[gnu::always_inline]] inline void exps_body(double* z, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; i += kKernelLanes) {
    const Doubles values = exp_body<Doubles, Integers>(load<Doubles>(z + i));
    std::memcpy(out + i, &values, sizeof values);
  }
}

[[gnu::always_inline]] inline double smallest_body(const double* values, std::size_t count) {
  Doubles least = Doubles{} + std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < count; i += kKernelLanes) {
    const Doubles next = load<Doubles>(values + i);
    least = next < least ? next : least;
  }
  double result = least[0];
  for (std::size_t lane = 1; lane < kKernelLanes; ++lane) {
    result = least[lane] < result ? least[lane] : result;
  }
  return result;
}

[[gnu::target("avx512f")]] void exps_avx512(double* z, std::size_t count, double* out) {
  exps_body(z, count, out);
}
[[gnu::target("avx2")]] void exps_avx2(double* z, std::size_t count, double* out) {
  exps_body(z, count, out);
}
void exps_baseline(double* z, std::size_t count, double* out) {
  exps_body(z, count, out);
}

[[gnu::target("avx512f")]] double smallest_avx512(const double* values, std::size_t count) {
  return smallest_body(values, count);
}
[[gnu::target("avx2")]] double smallest_avx2(const double* values, std::size_t count) {
  return smallest_body(values, count);
}
double smallest_baseline(const double* values, std::size_t count) {
  return smallest_body(values, count);
}

// The index of vector v (0 to 7) of the group of interleaved codes at `codes`: the group's 64
// bytes shifted right by 8 v, whose low bits a permute reads.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512i codes_of_vector(
    const std::uint8_t* codes, unsigned v) {
  // A vector shift rather than _mm512_srli_epi64, whose unmasked form at -O1 (the shift count
  // not yet a constant) reads an undefined register, which GCC 12 warns of.
  const __m512i packed = _mm512_loadu_si512(codes);
  return v == 0 ? packed : reinterpret_cast<__m512i>(reinterpret_cast<__v8du>(packed) >> (8 * v));
}

// A lookup of eight codes below `Levels` in a table held in registers (`table[0]` for at most 8
// values, two for 16, four for 32): one permute, a two-register one, or two and a blend on the
// code's bit 4. The table's values as the lane-by-lane lookup gives them.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512d lookup_registers(__m512i index,
                                                                               const __m512d* table,
                                                                               __m512i bit4) {
  static_assert(Levels == 8 || Levels == 16 || Levels == 32);
  if constexpr (Levels == 8) {
    return _mm512_maskz_permutexvar_pd(0xFF, index, table[0]);
  } else if constexpr (Levels == 16) {
    return _mm512_permutex2var_pd(table[0], index, table[1]);
  } else {
    const __m512d low = _mm512_permutex2var_pd(table[0], index, table[1]);
    const __m512d high = _mm512_permutex2var_pd(table[2], index, table[3]);
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(index, bit4), low, high);
  }
}

// Vector v of the group at `codes` looked up in a 32-value table in memory.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512d lookup_avx512(
    const std::uint8_t* codes, const double* table, unsigned v) {
  const __m512d registers[4] = {_mm512_loadu_pd(table), _mm512_loadu_pd(table + 8),
                                _mm512_loadu_pd(table + 16), _mm512_loadu_pd(table + 24)};
  return lookup_registers<32>(codes_of_vector(codes, v), registers, _mm512_set1_epi64(16));
}

// block_sums() for AVX-512 terms, in its order, a group of interleaved codes (two blocks) at a
// time: `term(i, v)` is vector v (0 to 7) of the group at row i, an __m512d; it must be always
// inlined into an AVX-512 function, which the generic block_sums() is not. begin and end are
// multiples of kCodeGroup.
template <class Term>
[[gnu::target("avx512f"), gnu::always_inline]] inline double group_sums_avx512(std::size_t begin,
                                                                               std::size_t end,
                                                                               const Term& term) {
  static_assert(kCodeGroup == 2 * kKernelBlock);
  __m512d sums[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                     _mm512_setzero_pd()};
  for (std::size_t i = begin; i < end; i += kCodeGroup) {
#pragma GCC unroll 8
    for (unsigned v = 0; v < 8; ++v) sums[v % 4] = _mm512_add_pd(sums[v % 4], term(i, v));
  }
  const __m512d total =
      _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(sums[0], sums[1]), sums[2]), sums[3]);
  Doubles lanes;
  std::memcpy(&lanes, &total, sizeof lanes);
  return add_lanes(lanes);
}

// table_body()'s sums, in its order, with the lookups in registers.
[[gnu::target("avx512f")]] double table_part_avx512(const double* weights,
                                                    const std::uint8_t* const* codes,
                                                    const double* const* tables, std::size_t moved,
                                                    std::size_t begin, std::size_t end) {
  static_assert(kMaxLevels == 32);
  return group_sums_avx512(
      begin, end, [&](std::size_t i, unsigned v) __attribute__((target("avx512f"), always_inline)) {
        __m512d factor = lookup_avx512(codes[0] + i, tables[0], v);
        for (std::size_t m = 1; m < moved; ++m) {
          factor = _mm512_mul_pd(factor, lookup_avx512(codes[m] + i, tables[m], v));
        }
        return _mm512_mul_pd(_mm512_loadu_pd(weights + i + v * kKernelLanes), factor);
      });
}

// One column (most fields): its table stays in registers for the whole pass.
template <std::size_t Levels>
[[gnu::target("avx512f")]] double column_part_avx512(const double* weights,
                                                     const std::uint8_t* codes, const double* table,
                                                     std::size_t begin, std::size_t end) {
  __m512d registers[Levels / 8];
  for (std::size_t r = 0; r < Levels / 8; ++r) registers[r] = _mm512_loadu_pd(table + 8 * r);
  const __m512i bit4 = _mm512_set1_epi64(16);
  return group_sums_avx512(
      begin, end, [&](std::size_t i, unsigned v) __attribute__((target("avx512f"), always_inline)) {
        const __m512d factor =
            lookup_registers<Levels>(codes_of_vector(codes + i, v), registers, bit4);
        return _mm512_mul_pd(_mm512_loadu_pd(weights + i + v * kKernelLanes), factor);
      });
}

template <std::size_t Levels>
[[gnu::target("avx512f")]] KernelSums column_avx512(const double* weights,
                                                    const std::uint8_t* codes, const double* table,
                                                    std::size_t positives, std::size_t count) {
  return {column_part_avx512<Levels>(weights, codes, table, 0, positives),
          column_part_avx512<Levels>(weights, codes, table, positives, count)};
}

[[gnu::target("avx512f")]] KernelSums table_avx512(const double* weights,
                                                   const std::uint8_t* const* codes,
                                                   const double* const* tables,
                                                   const std::uint8_t* levels, std::size_t moved,
                                                   std::size_t positives, std::size_t count) {
  if (moved == 1) {
    if (levels[0] <= 8) return column_avx512<8>(weights, codes[0], tables[0], positives, count);
    if (levels[0] <= 16) return column_avx512<16>(weights, codes[0], tables[0], positives, count);
    return column_avx512<32>(weights, codes[0], tables[0], positives, count);
  }
  return {table_part_avx512(weights, codes, tables, moved, 0, positives),
          table_part_avx512(weights, codes, tables, moved, positives, count)};
}

[[gnu::target("avx2")]] KernelSums table_avx2(const double* weights,
                                              const std::uint8_t* const* codes,
                                              const double* const* tables, std::size_t moved,
                                              std::size_t positives, std::size_t count) {
  return table_body(
      weights, codes, tables, moved, positives, count,
      [](const std::uint8_t* c, const double* t, std::size_t i) { return lookup_lanes(c, t, i); });
}

KernelSums table_baseline(const double* weights, const std::uint8_t* const* codes,
                          const double* const* tables, std::size_t moved, std::size_t positives,
                          std::size_t count) {
  return table_body(
      weights, codes, tables, moved, positives, count,
      [](const std::uint8_t* c, const double* t, std::size_t i) { return lookup_lanes(c, t, i); });
}

// coded_distances() at every level but AVX-512: each lane looked up one at a time, the columns
// added in order; the smallest as smallest_body() takes it.
[[gnu::always_inline]] inline double coded_distances_body(const std::uint8_t* const* codes,
                                                          const double* const* terms,
                                                          std::size_t columns, std::size_t count,
                                                          double* out) {
  for (std::size_t i = 0; i < count; i += kKernelLanes) {
    Doubles distance{};
    for (std::size_t m = 0; m < columns; ++m) distance += lookup_lanes(codes[m], terms[m], i);
    std::memcpy(out + i, &distance, sizeof distance);
  }
  return smallest_body(out, count);
}

[[gnu::target("avx2")]] double coded_distances_avx2(const std::uint8_t* const* codes,
                                                    const double* const* terms,
                                                    const std::uint8_t* /*levels*/,
                                                    std::size_t columns, std::size_t count,
                                                    double* out) {
  return coded_distances_body(codes, terms, columns, count, out);
}

double coded_distances_baseline(const std::uint8_t* const* codes, const double* const* terms,
                                const std::uint8_t* /*levels*/, std::size_t columns,
                                std::size_t count, double* out) {
  return coded_distances_body(codes, terms, columns, count, out);
}

// Adds an interleaved column's terms to the eight vectors of a group.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline void add_terms(const std::uint8_t* codes,
                                                                     const double* terms,
                                                                     __m512d* sums, __m512i bit4) {
  __m512d registers[Levels / 8];
  for (std::size_t r = 0; r < Levels / 8; ++r) registers[r] = _mm512_loadu_pd(terms + 8 * r);
#pragma GCC unroll 8
  for (unsigned v = 0; v < 8; ++v) {
    sums[v] = _mm512_add_pd(sums[v],
                            lookup_registers<Levels>(codes_of_vector(codes, v), registers, bit4));
  }
}

// A group of eight vectors at a time, each column's table loaded into registers once per group.
[[gnu::target("avx512f")]] double coded_distances_avx512(const std::uint8_t* const* codes,
                                                         const double* const* terms,
                                                         const std::uint8_t* levels,
                                                         std::size_t columns, std::size_t count,
                                                         double* out) {
  static_assert(kMaxLevels == 32 && kCodeGroup == 8 * kKernelLanes);
  const __m512i bit4 = _mm512_set1_epi64(16);
  __m512d least = _mm512_set1_pd(std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < count; i += kCodeGroup) {
    __m512d sums[8];
    for (auto& sum : sums) sum = _mm512_setzero_pd();
    for (std::size_t m = 0; m < columns; ++m) {
      if (levels[m] <= 8) {
        add_terms<8>(codes[m] + i, terms[m], sums, bit4);
      } else if (levels[m] <= 16) {
        add_terms<16>(codes[m] + i, terms[m], sums, bit4);
      } else {
        add_terms<32>(codes[m] + i, terms[m], sums, bit4);
      }
    }
    for (std::size_t v = 0; v < 8; ++v) {
      _mm512_storeu_pd(out + i + v * kKernelLanes, sums[v]);
      // smallest_body()'s select (as a vector expression: _mm512_min_pd reads an undefined
      // register at -O1, which GCC 12 warns of).
      least = sums[v] < least ? sums[v] : least;
    }
  }
  Doubles lanes;
  std::memcpy(&lanes, &least, sizeof lanes);
  double result = lanes[0];
  for (std::size_t lane = 1; lane < kKernelLanes; ++lane) {
    result = lanes[lane] < result ? lanes[lane] : result;
  }
  return result;
}

}  // namespace

void interleave_codes(const std::uint8_t* codes, std::size_t count, std::uint8_t* out) noexcept {
  for (std::size_t row = 0; row < count; ++row) out[interleaved(row)] = codes[row];
}

double kernel_exp(double z) noexcept {
  return exp_body<double, std::int64_t>(z);
}

KernelSums kernel_weights(const double* distances, std::size_t positives, std::size_t count,
                          double offset, double gamma, double* weights) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return weights_avx512(distances, positives, count, offset, gamma, weights);
    case SimdLevel::kAvx2:
      return weights_avx2(distances, positives, count, offset, gamma, weights);
    case SimdLevel::kBaseline:
      break;
  }
  return weights_baseline(distances, positives, count, offset, gamma, weights);
}

KernelSums kernel_sums(const double* base, std::span<const double* const> columns,
                       std::span<const double> slopes, double constant, std::size_t positives,
                       std::size_t count, double offset, double gamma) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return sums_avx512(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                         count, offset, gamma);
    case SimdLevel::kAvx2:
      return sums_avx2(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                       count, offset, gamma);
    case SimdLevel::kBaseline:
      break;
  }
  return sums_baseline(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                       count, offset, gamma);
}

void kernel_exps(double* z, std::size_t count, double* out) noexcept {
  const std::size_t padded = (count + kKernelLanes - 1) / kKernelLanes * kKernelLanes;
  for (std::size_t i = count; i < padded; ++i) z[i] = 0.0;
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return exps_avx512(z, padded, out);
    case SimdLevel::kAvx2:
      return exps_avx2(z, padded, out);
    case SimdLevel::kBaseline:
      break;
  }
  exps_baseline(z, padded, out);
}

double smallest(const double* values, std::size_t count) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return smallest_avx512(values, count);
    case SimdLevel::kAvx2:
      return smallest_avx2(values, count);
    case SimdLevel::kBaseline:
      break;
  }
  return smallest_baseline(values, count);
}

KernelSums table_sums(const double* weights, std::span<const std::uint8_t* const> codes,
                      std::span<const double* const> tables, std::span<const std::uint8_t> levels,
                      std::size_t positives, std::size_t count) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return table_avx512(weights, codes.data(), tables.data(), levels.data(), codes.size(),
                          positives, count);
    case SimdLevel::kAvx2:
      return table_avx2(weights, codes.data(), tables.data(), codes.size(), positives, count);
    case SimdLevel::kBaseline:
      break;
  }
  return table_baseline(weights, codes.data(), tables.data(), codes.size(), positives, count);
}

double coded_distances(std::span<const std::uint8_t* const> codes,
                       std::span<const double* const> terms, std::span<const std::uint8_t> levels,
                       std::size_t count, double* out) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return coded_distances_avx512(codes.data(), terms.data(), levels.data(), codes.size(), count,
                                    out);
    case SimdLevel::kAvx2:
      return coded_distances_avx2(codes.data(), terms.data(), levels.data(), codes.size(), count,
                                  out);
    case SimdLevel::kBaseline:
      break;
  }
  return coded_distances_baseline(codes.data(), terms.data(), levels.data(), codes.size(), count,
                                  out);
}

}  // namespace nbo::models::detail
