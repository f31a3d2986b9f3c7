// The kernel passes, compiled three times (AVX-512, AVX2, baseline x86-64) from one body and
// picked per call by simd_level(). The bodies work on eight lanes of doubles or sixteen of floats
// at every level, so the lanes, and how their partial sums are added, are the same everywhere.
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

// A vector of doubles as wide as the level's registers: 8 lanes for AVX-512, 4 for AVX2, 2 for
// the baseline's SSE2. The passes keep eight lanes of sums at every level (kKernelLanes), as
// kParts<V> such vectors (Eight<V>), so the lanes and the order they are added in are the same
// everywhere, while each operation works in native registers: a 64-byte vector under AVX2 or SSE2
// would live in memory between operations.
using Doubles = double __attribute__((vector_size(64)));
using Doubles4 = double __attribute__((vector_size(32)));
using Doubles2 = double __attribute__((vector_size(16)));

// A vector of doubles' lanes as 64-bit integers (their bits, for the exp's and log's scaling) and
// as floats.
template <class V>
struct LanesOf;
template <>
struct LanesOf<Doubles> {
  using Integers = std::int64_t __attribute__((vector_size(64)));
  using Floats = float __attribute__((vector_size(32)));
};
template <>
struct LanesOf<Doubles4> {
  using Integers = std::int64_t __attribute__((vector_size(32)));
  using Floats = float __attribute__((vector_size(16)));
};
template <>
struct LanesOf<Doubles2> {
  using Integers = std::int64_t __attribute__((vector_size(16)));
  using Floats = float __attribute__((vector_size(8)));
};

template <class V>
constexpr std::size_t kWidth = sizeof(V) / sizeof(double);
template <class V>
constexpr std::size_t kParts = kKernelLanes / kWidth<V>;

// N lanes as native vectors V: lane l is element l % width of part l / width.
template <class V, std::size_t N>
struct LaneVectors {
  static constexpr std::size_t kWidth = sizeof(V) / sizeof(V{}[0]);
  V part[N / kWidth];
};

template <class V>
using Eight = LaneVectors<V, kKernelLanes>;

// The same for the single-precision passes' sixteen lanes: one AVX-512 register (__m512), two
// AVX2 or four SSE2 ones (Floats8, Floats4).
using Floats8 = float __attribute__((vector_size(32)));
using Floats4 = float __attribute__((vector_size(16)));

template <class F>
constexpr std::size_t kFloatWidth = sizeof(F) / sizeof(float);

template <class F>
using Sixteen = LaneVectors<F, kFloatLanes>;

// The sixteen lanes of a single-precision pass's sums, kept in double, added pairwise in the same
// order at every level.
inline double add_sixteen(const double* v) {
  return (((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))) +
         (((v[8] + v[9]) + (v[10] + v[11])) + ((v[12] + v[13]) + (v[14] + v[15])));
}

constexpr double kLog2e = 1.4426950408889634;
// 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer, which then sits in
// the sum's low mantissa bits.
constexpr double kShifter = 0x1.8p52;
// ln 2 split so that n * kLn2High is exact for |n| < 2^11.
constexpr double kLn2High = 0x1.62e42fee00000p-1;
constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
constexpr double kLowest = -708.0;
constexpr double kHighest = 709.0;

template <class Vector, class Element>
[[gnu::always_inline]] inline Vector load(const Element* values) {
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
//
// `Precise`: e^r by its Taylor polynomial of degree 12 instead of 7 (truncation below 2e-16 of
// the value), for factors of which a product of tens must keep its digits.
template <class Value, class Bits, bool NonPositive = false, bool Precise = false>
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
  Value p;
  if constexpr (Precise) {
    // Degrees 8 to 12, 1/k! each, added to the degree-7 part last (the smallest terms first).
    const Value r8 = r4 * r4;
    const Value top =
        (r * (1.0 / 362880.0) + (1.0 / 40320.0)) +
        r2 * ((r * (1.0 / 39916800.0) + (1.0 / 3628800.0)) + r2 * (1.0 / 479001600.0));
    p = low + (r4 * high + r8 * top);
  } else {
    p = low + r4 * high;
  }
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

// ln x as kernel_log() computes it: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s)
// with s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^21 (truncation below 1e-18 of the
// value); subnormal x scaled by 2^52 first; 0 gives -infinity, +infinity itself, a negative x or a
// NaN a NaN. One body for a lane vector and a single double, as exp_body().
template <class Value, class Bits>
[[gnu::always_inline]] inline Value log_body(Value x) {
  constexpr double kSmallestNormal = 0x1p-1022;
  const Value scaled = x < kSmallestNormal ? x * 0x1p52 : x;
  Bits bits;
  std::memcpy(&bits, &scaled, sizeof bits);
  const Bits mantissa_bits = (bits & static_cast<std::int64_t>(0x000FFFFFFFFFFFFF)) |
                             static_cast<std::int64_t>(0x3FF0000000000000);
  Value m;
  std::memcpy(&m, &mantissa_bits, sizeof m);
  // The exponent as a double: its integer in the low bits of 1.5 * 2^52, less that.
  const Value shifter = Value{} + kShifter;
  Bits shifter_bits;
  std::memcpy(&shifter_bits, &shifter, sizeof shifter_bits);
  const Bits exponent_bits = ((bits >> 52) & 0x7FF) - 1023 + shifter_bits;
  Value exponent;
  std::memcpy(&exponent, &exponent_bits, sizeof exponent);
  exponent = exponent - kShifter;
  exponent = x < kSmallestNormal ? exponent - 52.0 : exponent;
  const Value big = Value{} + 1.4142135623730951;
  exponent = m > big ? exponent + 1.0 : exponent;
  m = m > big ? m * 0.5 : m;
  const Value s = (m - 1.0) / (m + 1.0);
  const Value s2 = s * s;
  Value series = s2 * (1.0 / 21.0) + (1.0 / 19.0);
  series = s2 * series + (1.0 / 17.0);
  series = s2 * series + (1.0 / 15.0);
  series = s2 * series + (1.0 / 13.0);
  series = s2 * series + (1.0 / 11.0);
  series = s2 * series + (1.0 / 9.0);
  series = s2 * series + (1.0 / 7.0);
  series = s2 * series + (1.0 / 5.0);
  series = s2 * series + (1.0 / 3.0);
  const Value twice = s + s;
  const Value log_m = twice + twice * (s2 * series);
  const Value value = exponent * kLn2High + (exponent * kLn2Low + log_m);
  const Value infinity = Value{} + std::numeric_limits<double>::infinity();
  const Value nan = Value{} + std::numeric_limits<double>::quiet_NaN();
  // x - x is NaN for infinity and NaN; x < 0 also gives NaN.
  const Value special = x == 0.0 ? -infinity : (x == infinity ? infinity : nan);
  return (x > 0.0 && x - x == 0.0) ? value : special;
}

// The weights of the kWidth<V> rows at `i`.
template <class V>
[[gnu::always_inline]] inline V vector_weight(const double* base, const double* const* columns,
                                              const double* slopes, std::size_t moved,
                                              double constant, std::size_t i, double offset,
                                              double gamma) {
  using Bits = typename LanesOf<V>::Integers;
  V distance = load<V>(base + i);
  if (moved == 0) {
    // offset is at most every distance: the exponent is never above 0.
    return exp_body<V, Bits, true>(-(gamma * (distance - offset)));
  }
  for (std::size_t m = 0; m < moved; ++m) distance += slopes[m] * load<V>(columns[m] + i);
  distance += constant;
  return exp_body<V, Bits>(-(gamma * (distance - offset)));
}

// The eight lanes added pairwise, in the same order at every level.
template <class V>
[[gnu::always_inline]] inline double add_lanes(const Eight<V>& eight) {
  double v[kKernelLanes];
  std::memcpy(v, eight.part, sizeof v);
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// Sums `value(i)` (the kWidth<V> rows at i) over the rows [begin, end), both multiples of
// kKernelBlock: four vectors of eight lanes to a block, each with its own sums, added in order at
// the end, then their lanes pairwise.
template <class V, class Value>
[[gnu::always_inline]] inline double block_sums(std::size_t begin, std::size_t end,
                                                const Value& value) {
  static_assert(kKernelBlock == 4 * kKernelLanes);
  Eight<V> sums[4] = {};
  for (std::size_t i = begin; i < end; i += kKernelBlock) {
#pragma GCC unroll 4
    for (std::size_t k = 0; k < 4; ++k) {
#pragma GCC unroll 4
      for (std::size_t p = 0; p < kParts<V>; ++p) {
        sums[k].part[p] += value(i + k * kKernelLanes + p * kWidth<V>);
      }
    }
  }
  Eight<V> total;
#pragma GCC unroll 4
  for (std::size_t p = 0; p < kParts<V>; ++p) {
    total.part[p] = ((sums[0].part[p] + sums[1].part[p]) + sums[2].part[p]) + sums[3].part[p];
  }
  return add_lanes(total);
}

template <class V, class Value>
[[gnu::always_inline]] inline KernelSums both_sums(std::size_t positives, std::size_t count,
                                                   const Value& value) {
  return {block_sums<V>(0, positives, value), block_sums<V>(positives, count, value)};
}

template <class V>
[[gnu::always_inline]] inline KernelSums weights_body(const double* distances,
                                                      std::size_t positives, std::size_t count,
                                                      double offset, double gamma, float* weights) {
  return both_sums<V>(
      positives, count, [&](std::size_t i) __attribute__((always_inline)) {
        const V weight = vector_weight<V>(distances, nullptr, nullptr, 0, 0.0, i, offset, gamma);
        const auto rounded = __builtin_convertvector(weight, typename LanesOf<V>::Floats);
        std::memcpy(weights + i, &rounded, sizeof rounded);
        return weight;
      });
}

template <class V>
[[gnu::always_inline]] inline KernelSums sums_body(const double* base, const double* const* columns,
                                                   const double* slopes, std::size_t moved,
                                                   double constant, std::size_t positives,
                                                   std::size_t count, double offset, double gamma) {
  return both_sums<V>(
      positives, count, [&](std::size_t i) __attribute__((always_inline)) {
        return vector_weight<V>(base, columns, slopes, moved, constant, i, offset, gamma);
      });
}

// The byte of row `row`'s code in an interleaved column (interleave_codes()).
[[gnu::always_inline]] inline std::size_t interleaved(std::size_t row) {
  const std::size_t group = row / kCodeGroup * kCodeGroup;
  const std::size_t vector = row % kCodeGroup / kFloatLanes;
  return group + 4 * (row % kFloatLanes) + vector;
}

// The table's values at the codes of the rows at i that fill a vector V of doubles or floats (i a
// multiple of its width, so the rows are lanes of one vector of sixteen, whose codes are 4 bytes
// apart), one lane at a time.
template <class V, class Element>
[[gnu::always_inline]] inline V lookup_lanes(const std::uint8_t* codes, const Element* table,
                                             std::size_t i) {
  const std::uint8_t* first = codes + interleaved(i);
  V values;
#pragma GCC unroll 8
  for (std::size_t lane = 0; lane < sizeof(V) / sizeof(Element); ++lane) {
    values[lane] = table[first[4 * lane]];
  }
  return values;
}

[[gnu::target("avx512f")]] KernelSums weights_avx512(const double* distances, std::size_t positives,
                                                     std::size_t count, double offset, double gamma,
                                                     float* weights) {
  return weights_body<Doubles>(distances, positives, count, offset, gamma, weights);
}

[[gnu::target("avx2")]] KernelSums weights_avx2(const double* distances, std::size_t positives,
                                                std::size_t count, double offset, double gamma,
                                                float* weights) {
  return weights_body<Doubles4>(distances, positives, count, offset, gamma, weights);
}

KernelSums weights_baseline(const double* distances, std::size_t positives, std::size_t count,
                            double offset, double gamma, float* weights) {
  return weights_body<Doubles2>(distances, positives, count, offset, gamma, weights);
}

[[gnu::target("avx512f")]] KernelSums sums_avx512(const double* base, const double* const* columns,
                                                  const double* slopes, std::size_t moved,
                                                  double constant, std::size_t positives,
                                                  std::size_t count, double offset, double gamma) {
  return sums_body<Doubles>(base, columns, slopes, moved, constant, positives, count, offset,
                            gamma);
}

[[gnu::target("avx2")]] KernelSums sums_avx2(const double* base, const double* const* columns,
                                             const double* slopes, std::size_t moved,
                                             double constant, std::size_t positives,
                                             std::size_t count, double offset, double gamma) {
  return sums_body<Doubles4>(base, columns, slopes, moved, constant, positives, count, offset,
                             gamma);
}

KernelSums sums_baseline(const double* base, const double* const* columns, const double* slopes,
                         std::size_t moved, double constant, std::size_t positives,
                         std::size_t count, double offset, double gamma) {
  return sums_body<Doubles2>(base, columns, slopes, moved, constant, positives, count, offset,
                             gamma);
}

template <class V>
[[gnu::always_inline]] inline void exps_body(double* z, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; i += kWidth<V>) {
    const V values = exp_body<V, typename LanesOf<V>::Integers>(load<V>(z + i));
    std::memcpy(out + i, &values, sizeof values);
  }
}

template <class V>
[[gnu::always_inline]] inline void logs_body(const double* x, std::size_t count, double* out) {
  for (std::size_t i = 0; i < count; i += kWidth<V>) {
    const V values = log_body<V, typename LanesOf<V>::Integers>(load<V>(x + i));
    std::memcpy(out + i, &values, sizeof values);
  }
}

[[gnu::target("avx512f")]] void logs_avx512(const double* x, std::size_t count, double* out) {
  logs_body<Doubles>(x, count, out);
}
[[gnu::target("avx2")]] void logs_avx2(const double* x, std::size_t count, double* out) {
  logs_body<Doubles4>(x, count, out);
}
void logs_baseline(const double* x, std::size_t count, double* out) {
  logs_body<Doubles2>(x, count, out);
}

// The smallest of each lane over the vectors of eight, then of the lanes in order.
template <class V>
[[gnu::always_inline]] inline double smallest_body(const double* values, std::size_t count) {
  Eight<V> least;
  for (V& part : least.part) part = V{} + std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < count; i += kKernelLanes) {
#pragma GCC unroll 4
    for (std::size_t p = 0; p < kParts<V>; ++p) {
      const V next = load<V>(values + i + p * kWidth<V>);
      least.part[p] = next < least.part[p] ? next : least.part[p];
    }
  }
  double lanes[kKernelLanes];
  std::memcpy(lanes, least.part, sizeof lanes);
  double result = lanes[0];
  for (std::size_t lane = 1; lane < kKernelLanes; ++lane) {
    result = lanes[lane] < result ? lanes[lane] : result;
  }
  return result;
}

[[gnu::target("avx512f")]] void exps_avx512(double* z, std::size_t count, double* out) {
  exps_body<Doubles>(z, count, out);
}
[[gnu::target("avx2")]] void exps_avx2(double* z, std::size_t count, double* out) {
  exps_body<Doubles4>(z, count, out);
}
void exps_baseline(double* z, std::size_t count, double* out) {
  exps_body<Doubles2>(z, count, out);
}

[[gnu::target("avx512f")]] double smallest_avx512(const double* values, std::size_t count) {
  return smallest_body<Doubles>(values, count);
}
[[gnu::target("avx2")]] double smallest_avx2(const double* values, std::size_t count) {
  return smallest_body<Doubles4>(values, count);
}
double smallest_baseline(const double* values, std::size_t count) {
  return smallest_body<Doubles2>(values, count);
}

template <class V>
[[gnu::always_inline]] inline void row_factors_body(const double* level_table,
                                                    const std::uint8_t* levels,
                                                    const double* values, std::size_t columns,
                                                    double gamma, double* terms, double* factors,
                                                    double* minima) {
  using Bits = typename LanesOf<V>::Integers;
  // The terms and their minima of every column first, then the exps: the columns' chains of
  // operations are independent, and so overlap.
  for (std::size_t j = 0; j < columns; ++j) {
    const double value = values[j];
    const std::size_t width = lookup_width(levels[j]);
    double* column_terms = terms + j * kMaxLevels;
    for (std::size_t v = 0; v < width; v += kWidth<V>) {
      const V difference = load<V>(level_table + j * kMaxLevels + v) - value;
      const V square = difference * difference;
      std::memcpy(column_terms + v, &square, sizeof square);
    }
    minima[j] = smallest_body<V>(column_terms, width);
  }
  for (std::size_t j = 0; j < columns; ++j) {
    const std::size_t width = lookup_width(levels[j]);
    for (std::size_t v = 0; v < width; v += kWidth<V>) {
      // At most 0: minima[j] is the smallest term (or NaN).
      const V factor = exp_body<V, Bits, true, true>(
          -(gamma * (load<V>(terms + j * kMaxLevels + v) - minima[j])));
      std::memcpy(factors + j * kMaxLevels + v, &factor, sizeof factor);
    }
  }
}

[[gnu::target("avx512f")]] void row_factors_avx512(const double* level_table,
                                                   const std::uint8_t* levels, const double* values,
                                                   std::size_t columns, double gamma, double* terms,
                                                   double* factors, double* minima) {
  row_factors_body<Doubles>(level_table, levels, values, columns, gamma, terms, factors, minima);
}
[[gnu::target("avx2")]] void row_factors_avx2(const double* level_table, const std::uint8_t* levels,
                                              const double* values, std::size_t columns,
                                              double gamma, double* terms, double* factors,
                                              double* minima) {
  row_factors_body<Doubles4>(level_table, levels, values, columns, gamma, terms, factors, minima);
}
void row_factors_baseline(const double* level_table, const std::uint8_t* levels,
                          const double* values, std::size_t columns, double gamma, double* terms,
                          double* factors, double* minima) {
  row_factors_body<Doubles2>(level_table, levels, values, columns, gamma, terms, factors, minima);
}

// The single-precision passes at every level but AVX-512: sixteen lanes as Sixteen<F>.

// Sums `term(i)` (the kFloatWidth<F> rows at i) over the rows [begin, end), both multiples of
// kCodeGroup: per group and lane, its four vectors' terms added in order in single precision, then
// that sum added to the lane's total in double, and the lanes' totals pairwise (add_sixteen()). A
// lane's running total in single precision would drop each weight below half its ulp: with many
// reference rows, a far row's weight against a near one's.
template <class F, class Term>
[[gnu::always_inline]] inline double float_sums(std::size_t begin, std::size_t end,
                                                const Term& term) {
  static_assert(kCodeGroup == 4 * kFloatLanes);
  constexpr std::size_t width = kFloatWidth<F>;
  double totals[kFloatLanes] = {};
  // A group's four vectors added in order, per lane.
  const auto group_sum = [&](std::size_t i) __attribute__((always_inline)) {
    Sixteen<F> group;
#pragma GCC unroll 4
    for (std::size_t p = 0; p < kFloatLanes / width; ++p) {
      const F first = term(i + p * width);
      const F second = term(i + kFloatLanes + p * width);
      const F third = term(i + 2 * kFloatLanes + p * width);
      const F fourth = term(i + 3 * kFloatLanes + p * width);
      group.part[p] = ((first + second) + third) + fourth;
    }
    return group;
  };
  for (std::size_t i = begin; i < end; i += 2 * kCodeGroup) {
    Sixteen<F> pair = group_sum(i);
    if (i + kCodeGroup < end) {
      const Sixteen<F> next = group_sum(i + kCodeGroup);
      for (std::size_t p = 0; p < kFloatLanes / width; ++p) pair.part[p] += next.part[p];
    }
    float lanes[kFloatLanes];
    std::memcpy(lanes, pair.part, sizeof lanes);
    for (std::size_t k = 0; k < kFloatLanes; ++k) totals[k] += lanes[k];
  }
  return add_sixteen(totals);
}

// The table's values (kMaxLevels floats) at the codes of the eight rows at i, by permutes of the
// table's four quarters and blends on the codes' bits 3 and 4: the table's own values, as
// lookup_lanes() gives them. Rows 16 s + 8 p to 16 s + 8 p + 7 of a group are at bytes 32 p + 4 k
// + s (interleaved()), so dword k of the group's 32 bytes from 32 p holds the code in its byte s.
[[gnu::target("avx2")]] inline Floats8 lookup_avx2(const std::uint8_t* codes, const float* table,
                                                   std::size_t i) {
  static_assert(kMaxLevels == 32 && kCodeGroup == 4 * kFloatLanes);
  const std::size_t group = i / kCodeGroup * kCodeGroup;
  const std::size_t vector = i % kCodeGroup / kFloatLanes;
  const std::size_t half = i % kFloatLanes / 8;
  using Indices = std::uint32_t __attribute__((vector_size(32)));
  Indices packed;
  std::memcpy(&packed, codes + group + 32 * half, sizeof packed);
  const auto index = reinterpret_cast<__m256i>(packed >> static_cast<unsigned>(8 * vector));
  const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(index, 28));
  const __m256 bit4 = _mm256_castsi256_ps(_mm256_slli_epi32(index, 27));
  const __m256 low =
      _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table), index),
                       _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), index), bit3);
  const __m256 high =
      _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 16), index),
                       _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 24), index), bit3);
  return reinterpret_cast<Floats8>(_mm256_blendv_ps(low, high, bit4));
}

// lookup_avx2() for eight lanes, lookup_lanes() for the baseline's four.
template <class F>
[[gnu::always_inline]] inline F lookup_floats(const std::uint8_t* codes, const float* table,
                                              std::size_t i) {
  if constexpr (kFloatWidth<F> == 8) {
    return lookup_avx2(codes, table, i);
  } else {
    return lookup_lanes<F>(codes, table, i);
  }
}

template <class F>
[[gnu::always_inline]] inline KernelSums float_table_body(const float* weights,
                                                          const std::uint8_t* const* codes,
                                                          const float* const* tables,
                                                          std::size_t moved, std::size_t positives,
                                                          std::size_t count) {
  const auto term = [&](std::size_t i) __attribute__((always_inline)) {
    F factor = lookup_floats<F>(codes[0], tables[0], i);
    for (std::size_t m = 1; m < moved; ++m) factor *= lookup_floats<F>(codes[m], tables[m], i);
    return load<F>(weights + i) * factor;
  };
  return {float_sums<F>(0, positives, term), float_sums<F>(positives, count, term)};
}

// Flattened: lookup_avx2(), which only an AVX2 function can inline, is inlined here with the body.
[[gnu::target("avx2"), gnu::flatten]] KernelSums table_avx2(
    const float* weights, const std::uint8_t* const* codes, const float* const* tables,
    std::size_t moved, std::size_t positives, std::size_t count) {
  return float_table_body<Floats8>(weights, codes, tables, moved, positives, count);
}

KernelSums table_baseline(const float* weights, const std::uint8_t* const* codes,
                          const float* const* tables, std::size_t moved, std::size_t positives,
                          std::size_t count) {
  return float_table_body<Floats4>(weights, codes, tables, moved, positives, count);
}

// coded_products() at every level but AVX-512: the factors multiplied in order from 1, then the
// weights summed as float_sums() sums them.
template <class F>
[[gnu::always_inline]] inline KernelSums coded_products_body(const std::uint8_t* const* codes,
                                                             const float* const* factors,
                                                             std::size_t columns,
                                                             std::size_t positives,
                                                             std::size_t count, float* weights) {
  for (std::size_t i = 0; i < count; i += kFloatWidth<F>) {
    F product = F{} + 1.0F;
    for (std::size_t m = 0; m < columns; ++m) product *= lookup_floats<F>(codes[m], factors[m], i);
    std::memcpy(weights + i, &product, sizeof product);
  }
  const auto term = [&](std::size_t i) __attribute__((always_inline)) {
    return load<F>(weights + i);
  };
  return {float_sums<F>(0, positives, term), float_sums<F>(positives, count, term)};
}

[[gnu::target("avx2"), gnu::flatten]] KernelSums coded_products_avx2(
    const std::uint8_t* const* codes, const float* const* factors, const std::uint8_t* /*levels*/,
    std::size_t columns, std::size_t positives, std::size_t count, float* weights) {
  return coded_products_body<Floats8>(codes, factors, columns, positives, count, weights);
}

KernelSums coded_products_baseline(const std::uint8_t* const* codes, const float* const* factors,
                                   const std::uint8_t* /*levels*/, std::size_t columns,
                                   std::size_t positives, std::size_t count, float* weights) {
  return coded_products_body<Floats4>(codes, factors, columns, positives, count, weights);
}

// The indices of float vector s (0 to 3) of the group of interleaved codes at `codes`: the
// group's 64 bytes shifted right by 8 s as sixteen 32-bit integers, whose low bits a permute
// reads.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512i codes_of_vector(
    const std::uint8_t* codes, unsigned s) {
  // A vector shift rather than _mm512_srli_epi32, whose unmasked form at -O1 (the shift count
  // not yet a constant) reads an undefined register, which GCC 12 warns of.
  const __m512i packed = _mm512_loadu_si512(codes);
  return s == 0 ? packed : reinterpret_cast<__m512i>(reinterpret_cast<__v16su>(packed) >> (8 * s));
}

// A lookup of eight codes below `Levels` in a table of doubles held in registers (`table[0]` for
// at most 8 values, two for 16, four for 32): one permute, a two-register one, or two and a blend
// on the code's bit 4. The table's values as the lane-by-lane lookup gives them.
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

// A lookup of sixteen codes below `Levels` (16 or 32) in a table of floats held in registers
// (one, or two): one permute either way.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 lookup_floats_registers(
    __m512i index, const __m512* table) {
  static_assert(Levels == 16 || Levels == 32);
  if constexpr (Levels == 16) {
    return _mm512_maskz_permutexvar_ps(0xFFFF, index, table[0]);
  } else {
    return _mm512_permutex2var_ps(table[0], index, table[1]);
  }
}

// float_sums() for AVX-512 terms, in its order: `term(i, s)` is float vector s (0 to 3) of the
// group at row i, an __m512; it must be always inlined into an AVX-512 function, which the generic
// float_sums() is not. begin and end are multiples of kCodeGroup.
template <class Term>
[[gnu::target("avx512f"), gnu::always_inline]] inline double float_group_sums_avx512(
    std::size_t begin, std::size_t end, const Term& term) {
  __m512d totals[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
  // In this order: a term may compute the group's four vectors when its first is asked for.
  const auto group_sum = [&](std::size_t i) __attribute__((target("avx512f"), always_inline)) {
    const __m512 first = term(i, 0);
    const __m512 second = term(i, 1);
    const __m512 third = term(i, 2);
    const __m512 fourth = term(i, 3);
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(first, second), third), fourth);
  };
  for (std::size_t i = begin; i < end; i += 2 * kCodeGroup) {
    __m512 pair = group_sum(i);
    if (i + kCodeGroup < end) pair = _mm512_add_ps(pair, group_sum(i + kCodeGroup));
    // Widened as vector expressions (the unmasked intrinsics read undefined registers at -O1).
    Floats8 halves[2];
    std::memcpy(halves, &pair, sizeof halves);
    totals[0] = _mm512_add_pd(
        totals[0], reinterpret_cast<__m512d>(__builtin_convertvector(halves[0], Doubles)));
    totals[1] = _mm512_add_pd(
        totals[1], reinterpret_cast<__m512d>(__builtin_convertvector(halves[1], Doubles)));
  }
  double lanes[kFloatLanes];
  _mm512_storeu_pd(lanes, totals[0]);
  _mm512_storeu_pd(lanes + 8, totals[1]);
  return add_sixteen(lanes);
}

// A table of floats of `Levels` values (16 or 32) into registers.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline void load_floats_registers(
    const float* table, __m512* registers) {
  for (std::size_t r = 0; r < Levels / kFloatLanes; ++r) {
    registers[r] = _mm512_loadu_ps(table + kFloatLanes * r);
  }
}

// float_table_body()'s sums, in its order, with the lookups in registers.
[[gnu::target("avx512f")]] double table_part_avx512(const float* weights,
                                                    const std::uint8_t* const* codes,
                                                    const float* const* tables, std::size_t moved,
                                                    std::size_t begin, std::size_t end) {
  static_assert(kMaxLevels == 32);
  return float_group_sums_avx512(
      begin, end, [&](std::size_t i, unsigned s) __attribute__((target("avx512f"), always_inline)) {
        __m512 registers[2];
        load_floats_registers<32>(tables[0], registers);
        __m512 factor = lookup_floats_registers<32>(codes_of_vector(codes[0] + i, s), registers);
        for (std::size_t m = 1; m < moved; ++m) {
          load_floats_registers<32>(tables[m], registers);
          factor = _mm512_mul_ps(
              factor, lookup_floats_registers<32>(codes_of_vector(codes[m] + i, s), registers));
        }
        return _mm512_mul_ps(_mm512_loadu_ps(weights + i + s * kFloatLanes), factor);
      });
}

// One column (most fields): its table stays in registers for the whole pass.
template <std::size_t Levels>
[[gnu::target("avx512f")]] double column_part_avx512(const float* weights,
                                                     const std::uint8_t* codes, const float* table,
                                                     std::size_t begin, std::size_t end) {
  __m512 registers[Levels / kFloatLanes];
  load_floats_registers<Levels>(table, registers);
  return float_group_sums_avx512(
      begin, end, [&](std::size_t i, unsigned s) __attribute__((target("avx512f"), always_inline)) {
        const __m512 factor =
            lookup_floats_registers<Levels>(codes_of_vector(codes + i, s), registers);
        return _mm512_mul_ps(_mm512_loadu_ps(weights + i + s * kFloatLanes), factor);
      });
}

template <std::size_t Levels>
[[gnu::target("avx512f")]] KernelSums column_avx512(const float* weights, const std::uint8_t* codes,
                                                    const float* table, std::size_t positives,
                                                    std::size_t count) {
  return {column_part_avx512<Levels>(weights, codes, table, 0, positives),
          column_part_avx512<Levels>(weights, codes, table, positives, count)};
}

[[gnu::target("avx512f")]] KernelSums table_avx512(const float* weights,
                                                   const std::uint8_t* const* codes,
                                                   const float* const* tables,
                                                   const std::uint8_t* levels, std::size_t moved,
                                                   std::size_t positives, std::size_t count) {
  if (moved == 1) {
    if (levels[0] <= 16) return column_avx512<16>(weights, codes[0], tables[0], positives, count);
    return column_avx512<32>(weights, codes[0], tables[0], positives, count);
  }
  return {table_part_avx512(weights, codes, tables, moved, 0, positives),
          table_part_avx512(weights, codes, tables, moved, positives, count)};
}

// coded_distances() at every level but AVX-512: each lane looked up one at a time, the columns
// added in order; the smallest as smallest_body() takes it.
template <class V>
[[gnu::always_inline]] inline double coded_distances_body(const std::uint8_t* const* codes,
                                                          const double* const* terms,
                                                          std::size_t columns, std::size_t count,
                                                          double* out) {
  for (std::size_t i = 0; i < count; i += kWidth<V>) {
    V distance{};
    for (std::size_t m = 0; m < columns; ++m) distance += lookup_lanes<V>(codes[m], terms[m], i);
    std::memcpy(out + i, &distance, sizeof distance);
  }
  return smallest_body<V>(out, count);
}

[[gnu::target("avx2")]] double coded_distances_avx2(const std::uint8_t* const* codes,
                                                    const double* const* terms,
                                                    const std::uint8_t* /*levels*/,
                                                    std::size_t columns, std::size_t count,
                                                    double* out) {
  return coded_distances_body<Doubles4>(codes, terms, columns, count, out);
}

double coded_distances_baseline(const std::uint8_t* const* codes, const double* const* terms,
                                const std::uint8_t* /*levels*/, std::size_t columns,
                                std::size_t count, double* out) {
  return coded_distances_body<Doubles2>(codes, terms, columns, count, out);
}

// Adds an interleaved column's table entries to the eight double vectors of a group: float
// vector s's indices, each half widened to 64 bits, are vectors 2 s and 2 s + 1.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline void add_column(const std::uint8_t* codes,
                                                                      const double* table,
                                                                      __m512d* values,
                                                                      __m512i bit4) {
  __m512d registers[Levels / 8];
  for (std::size_t r = 0; r < Levels / 8; ++r) registers[r] = _mm512_loadu_pd(table + 8 * r);
#pragma GCC unroll 4
  for (unsigned s = 0; s < 4; ++s) {
    // Widened as vector expressions: the unmasked intrinsics read undefined registers at -O1,
    // which GCC 12 warns of.
    using Halves = std::uint32_t __attribute__((vector_size(32)));
    using Wide = std::uint64_t __attribute__((vector_size(64)));
    const __m512i index = codes_of_vector(codes, s);
    Halves halves[2];
    std::memcpy(halves, &index, sizeof halves);
    const auto low = reinterpret_cast<__m512i>(__builtin_convertvector(halves[0], Wide));
    const auto high = reinterpret_cast<__m512i>(__builtin_convertvector(halves[1], Wide));
    values[2 * s] = _mm512_add_pd(values[2 * s], lookup_registers<Levels>(low, registers, bit4));
    values[2 * s + 1] =
        _mm512_add_pd(values[2 * s + 1], lookup_registers<Levels>(high, registers, bit4));
  }
}

// A group of eight vectors at a time, each column's table loaded into registers once per group
// and added in column order, each by the lookup its count of levels takes.
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
        add_column<8>(codes[m] + i, terms[m], sums, bit4);
      } else if (levels[m] <= 16) {
        add_column<16>(codes[m] + i, terms[m], sums, bit4);
      } else {
        add_column<32>(codes[m] + i, terms[m], sums, bit4);
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

// Multiplies the four float vectors of a group by an interleaved column's table entries.
template <std::size_t Levels>
[[gnu::target("avx512f"), gnu::always_inline]] inline void multiply_column(
    const std::uint8_t* codes, const float* table, __m512* products) {
  __m512 registers[Levels / kFloatLanes];
  load_floats_registers<Levels>(table, registers);
#pragma GCC unroll 4
  for (unsigned s = 0; s < 4; ++s) {
    products[s] = _mm512_mul_ps(
        products[s], lookup_floats_registers<Levels>(codes_of_vector(codes, s), registers));
  }
}

// The weights of the groups in [begin, end) into `weights`, and their sum in float_sums()' order:
// each group's four vectors of products are made when its first one is asked for, each column's
// table loaded into registers once per group.
[[gnu::target("avx512f")]] double products_part_avx512(const std::uint8_t* const* codes,
                                                       const float* const* factors,
                                                       const std::uint8_t* levels,
                                                       std::size_t columns, std::size_t begin,
                                                       std::size_t end, float* weights) {
  __m512 products[4];
  return float_group_sums_avx512(
      begin, end, [&](std::size_t i, unsigned s) __attribute__((target("avx512f"), always_inline)) {
        if (s == 0) {
          for (auto& product : products) product = _mm512_set1_ps(1.0F);
          for (std::size_t m = 0; m < columns; ++m) {
            if (levels[m] <= 16) {
              multiply_column<16>(codes[m] + i, factors[m], products);
            } else {
              multiply_column<32>(codes[m] + i, factors[m], products);
            }
          }
        }
        _mm512_storeu_ps(weights + i + s * kFloatLanes, products[s]);
        return products[s];
      });
}

[[gnu::target("avx512f")]] KernelSums coded_products_avx512(
    const std::uint8_t* const* codes, const float* const* factors, const std::uint8_t* levels,
    std::size_t columns, std::size_t positives, std::size_t count, float* weights) {
  return {products_part_avx512(codes, factors, levels, columns, 0, positives, weights),
          products_part_avx512(codes, factors, levels, columns, positives, count, weights)};
}

}  // namespace

void interleave_codes(const std::uint8_t* codes, std::size_t count, std::uint8_t* out) noexcept {
  for (std::size_t row = 0; row < count; ++row) out[interleaved(row)] = codes[row];
}

double kernel_exp(double z) noexcept {
  return exp_body<double, std::int64_t>(z);
}

KernelSums kernel_weights(const double* distances, std::size_t positives, std::size_t count,
                          double offset, double gamma, float* weights) noexcept {
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

double kernel_log(double x) noexcept {
  return log_body<double, std::int64_t>(x);
}

void kernel_logs(double* x, std::size_t count, double* out) noexcept {
  const std::size_t padded = (count + kKernelLanes - 1) / kKernelLanes * kKernelLanes;
  for (std::size_t i = count; i < padded; ++i) x[i] = 1.0;
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return logs_avx512(x, padded, out);
    case SimdLevel::kAvx2:
      return logs_avx2(x, padded, out);
    case SimdLevel::kBaseline:
      break;
  }
  logs_baseline(x, padded, out);
}

double precise_exp(double z) noexcept {
  return exp_body<double, std::int64_t, false, true>(z);
}

void row_factors(const double* level_table, std::span<const std::uint8_t> levels,
                 const double* values, double gamma, double* terms, double* factors,
                 double* minima) noexcept {
  const std::size_t columns = levels.size();
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return row_factors_avx512(level_table, levels.data(), values, columns, gamma, terms, factors,
                                minima);
    case SimdLevel::kAvx2:
      return row_factors_avx2(level_table, levels.data(), values, columns, gamma, terms, factors,
                              minima);
    case SimdLevel::kBaseline:
      break;
  }
  row_factors_baseline(level_table, levels.data(), values, columns, gamma, terms, factors, minima);
}

KernelSums coded_products(std::span<const std::uint8_t* const> codes,
                          std::span<const float* const> factors,
                          std::span<const std::uint8_t> levels, std::size_t positives,
                          std::size_t count, float* weights) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return coded_products_avx512(codes.data(), factors.data(), levels.data(), codes.size(),
                                   positives, count, weights);
    case SimdLevel::kAvx2:
      return coded_products_avx2(codes.data(), factors.data(), levels.data(), codes.size(),
                                 positives, count, weights);
    case SimdLevel::kBaseline:
      break;
  }
  return coded_products_baseline(codes.data(), factors.data(), levels.data(), codes.size(),
                                 positives, count, weights);
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

KernelSums table_sums(const float* weights, std::span<const std::uint8_t* const> codes,
                      std::span<const float* const> tables, std::span<const std::uint8_t> levels,
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
